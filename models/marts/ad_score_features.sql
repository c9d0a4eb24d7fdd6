-- Built only when the data quality gate passes (tests on data_quality_report).
-- depends_on: {{ ref('data_quality_report') }}

with

ads as (

    select * from {{ ref('int_ads_joined') }}

),

features as (

    select
        ads.ad_id,
        ads.account_id,
        ads.campaign_id,
        ads.ad_set_id,
        ads.source_platform,
        ads.platform,
        ads.objective,
        ads.platform_objective,
        ads.vertical,
        ads.account_size_band,
        ads.ad_format,
        ads.call_to_action,
        ads.audience_type,
        ads.gender,
        ads.geo,
        ads.interests,
        cast(ads.age_min as varchar) || '-' || cast(ads.age_max as varchar) as audience_age_band,
        ads.image_dominant_color,
        ads.headline,
        ads.body,
        ads.ad_text,
        ads.age_min,
        ads.age_max,
        ads.interest_count,
        ads.estimated_audience_size,
        cast(ads.ad_daily_budget as double) as ad_daily_budget,
        cast(ads.campaign_daily_budget as double) as campaign_daily_budget,
        ads.image_width,
        ads.image_height,
        ads.image_text_overlay_pct,
        {{ dbt.datediff('ads.launch_date', 'ads.planned_end_date', 'day') }} + 1 as planned_flight_days,  -- noqa: LT05
        extract(month from ads.launch_date) as launch_month,
        ads.image_has_people,
        ads.launch_date

    from ads

)

select * from features
