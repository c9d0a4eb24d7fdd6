-- Population stability index of every feature in each model's latest scoring run that
-- measured drift; is_drifted above the configured threshold flags retraining.

with

drift as (

    select * from {{ source('ml', 'drift') }}

),

latest_run as (

    select
        model_name,
        max(measured_at) as measured_at
    from drift
    group by model_name

),

latest as (

    select drift.*
    from drift
    inner join latest_run
        on drift.model_name = latest_run.model_name and drift.measured_at = latest_run.measured_at

)

select * from latest
