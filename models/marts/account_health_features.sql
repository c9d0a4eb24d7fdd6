-- Every advertiser-week with enough history, labelled or not yet (the latest weeks are
-- the ones to act on).  Built only when the data quality gate passes (tests on data_quality_report).
-- depends_on: {{ ref('data_quality_report') }}
{%- set horizon_days = var('account_health')['horizon_weeks'] * 7 %}

with

features as (

    select * from {{ ref('int_account_weeks_featurized') }}

),

forecast as (

    select * from {{ ref('int_account_weeks_forecast') }}

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
        forecast.running_ads,
        -- The running ads' planned daily spend over the horizon against the trailing daily spend.
        case
            when features.trailing_spend > 0
                then
                    (forecast.forecast_spend / {{ horizon_days }})
                    / (features.trailing_spend / (features.trailing_weeks * 7))
        end as forecast_spend_ratio,
        -- Their spend valued at each ad's trailing ROAS, against the account's trailing ROAS.
        case
            when forecast.forecast_valued_spend > 0 and features.trailing_value > 0
                then
                    (forecast.forecast_value / forecast.forecast_valued_spend)
                    / (features.trailing_value / features.trailing_spend)
        end as forecast_roas_ratio,
        features.week_start

    from features
    inner join forecast
        on
            features.advertiser_id = forecast.advertiser_id
            and features.week_start = forecast.week_start
    where features.trailing_weeks >= {{ var('account_health')['min_history_weeks'] }}

)

select * from scoring
