-- Built only when the data quality gate passes (tests on data_quality_report).
-- depends_on: {{ ref('data_quality_report') }}

with

features as (

    select * from {{ ref('account_health_features') }}

),

labels as (

    select * from {{ ref('int_account_weeks_labeled') }}

),

training as (

    select
        features.account_id,
        features.vertical,
        features.account_size_band,
        features.trailing_weeks,
        features.trailing_spend,
        features.trailing_value,
        features.trailing_weekly_spend,
        features.trailing_roas,
        features.trailing_ctr,
        features.trailing_cvr,
        features.spend_trend_last_week,
        features.roas_trend_last_week,
        features.ctr_trend_last_week,
        features.cvr_trend_last_week,
        features.roas_trend_two_weeks,
        features.spend_trend_two_weeks,
        features.roas_volatility,
        features.spend_volatility,
        features.budget_pacing,
        features.active_ads,
        features.new_ads,
        features.share_low_ctr_ads,
        features.spend_share_facebook,
        features.spend_share_instagram,
        features.spend_share_google,
        features.spend_share_tiktok,
        features.spend_share_pinterest,
        features.weeks_observed,
        features.running_ads,
        features.forecast_spend_ratio,
        features.forecast_roas_ratio,
        labels.is_at_risk,
        features.week_start

    from features
    inner join labels
        on features.account_id = labels.advertiser_id and features.week_start = labels.week_start

)

select * from training
