-- Population stability index of every feature in the latest scoring run of each model's
-- current champion that judged drift (read enough rows: scoring.drift_min_rows; a later run
-- of a few new rows does not hide its verdict), else its latest run; is_drifted above the
-- configured threshold flags retraining.  A challenger's runs (ml.score --alias challenger)
-- and a former champion's are left out: they describe a model that is not serving.

with

drift as (

    select * from {{ source('ml', 'drift') }}

),

champions as (

    select
        model_name,
        version
    from {{ source('ml', 'model_aliases') }}
    where alias = 'champion'

),

champion_drift as (

    select drift.*
    from drift
    inner join champions
        on drift.model_name = champions.model_name and drift.model_version = champions.version

),

latest_run as (

    select
        model_name,
        coalesce(
            max(case when is_drifted is not null then measured_at end),
            max(measured_at)
        ) as measured_at
    from champion_drift
    group by model_name

),

latest as (

    select champion_drift.*
    from champion_drift
    inner join latest_run
        on
            champion_drift.model_name = latest_run.model_name
            and champion_drift.measured_at = latest_run.measured_at

)

select * from latest
