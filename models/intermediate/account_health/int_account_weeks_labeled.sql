-- The is_at_risk label of each advertiser-week with enough history and a full horizon.
{%- set ah = var('account_health') %}

with

account_weeks as (

    select * from {{ ref('int_account_weeks_featurized') }}

),

labeled as (

    select
        advertiser_id,
        week_start,
        {{ adscore.account_health_label(
            'trailing_spend', 'trailing_value', 'trailing_weeks', 'future_spend', 'future_value') }}
            as is_at_risk
    from account_weeks
    where
        trailing_weeks >= {{ ah['min_history_weeks'] }}
        and future_weeks = {{ ah['horizon_weeks'] }}

)

select * from labeled
where is_at_risk is not null
