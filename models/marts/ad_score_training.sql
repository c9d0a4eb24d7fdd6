-- The scoring features of every ad with a reliable label, and the label.
-- Built only when the data quality gate passes (tests on data_quality_report).
-- depends_on: {{ ref('data_quality_report') }}

with

features as (

    select * from {{ ref('ad_score_features') }}

),

labels as (

    select * from {{ ref('int_ad_scores_labeled') }}

),

training as (

    select
        features.ad_id,
        features.account_id,
        features.campaign_id,
        features.ad_set_id,
        features.source_platform,
        features.platform,
        features.objective,
        features.platform_objective,
        features.vertical,
        features.account_size_band,
        features.ad_format,
        features.call_to_action,
        features.audience_type,
        features.gender,
        features.geo,
        features.interests,
        features.audience_age_band,
        features.image_dominant_color,
        features.headline,
        features.body,
        features.ad_text,
        features.age_min,
        features.age_max,
        features.interest_count,
        features.estimated_audience_size,
        features.ad_daily_budget,
        features.campaign_daily_budget,
        features.image_width,
        features.image_height,
        features.image_text_overlay_pct,
        features.planned_flight_days,
        features.launch_month,
        labels.ad_score,
        features.image_has_people,
        features.launch_date

    from features
    inner join labels on features.ad_id = labels.ad_id
    where labels.is_label_reliable

)

select * from training
