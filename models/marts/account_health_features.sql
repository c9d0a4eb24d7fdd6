-- Every advertiser-week with enough history, labelled or not yet (the latest weeks are
-- the ones to act on).  Built only when the data quality gate passes (tests on data_quality_report).
-- depends_on: {{ ref('data_quality_report') }}

with

features as (

    select * from {{ ref('int_account_weeks_featurized') }}

),

scoring as (

    select
        features.advertiser_id as account_id,
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
        features.week_start

    from features
    where features.trailing_weeks >= {{ var('account_health')['min_history_weeks'] }}

)

select * from scoring
