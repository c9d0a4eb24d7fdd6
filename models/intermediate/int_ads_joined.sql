with

ads as (

    select * from {{ ref('stg_adops__ads') }}

),

ad_sets as (

    select * from {{ ref('stg_adops__ad_sets') }}

),

campaigns as (

    select * from {{ ref('int_campaigns_cleaned') }}

),

creatives as (

    select * from {{ ref('int_creatives_normalized') }}

),

platform_objective_map as (

    select * from {{ ref('platform_objective_map') }}

),

joined as (

    select
        ads.ad_id,
        campaigns.account_id,
        campaigns.advertiser_id,
        campaigns.campaign_id,
        ads.ad_set_id,
        ads.creative_id,
        campaigns.source_platform,
        ad_sets.platform,
        platform_objective_map.objective,
        campaigns.platform_objective,
        campaigns.account_name,
        campaigns.vertical,
        campaigns.account_size_band,
        ads.ad_format,
        creatives.call_to_action,
        ad_sets.audience_type,
        ad_sets.gender,
        ad_sets.geo,
        ad_sets.interests,
        creatives.headline,
        creatives.body,
        creatives.ad_text,
        creatives.image_dominant_color,
        ad_sets.age_min,
        ad_sets.age_max,
        ad_sets.estimated_audience_size,
        case
            when ad_sets.interests = '' then 0
            else {{ dbt.length('ad_sets.interests') }}
                - {{ dbt.length(dbt.replace('ad_sets.interests', "'|'", "''")) }} + 1
        end as interest_count,
        ads.ad_daily_budget,
        campaigns.campaign_daily_budget,
        creatives.image_width,
        creatives.image_height,
        creatives.image_text_overlay_pct,
        creatives.image_has_people,
        ads.launch_date,
        ads.planned_end_date,
        campaigns.campaign_start_date,
        campaigns.campaign_end_date

    from ads
    inner join ad_sets on ads.ad_set_id = ad_sets.ad_set_id
    inner join campaigns on ad_sets.campaign_id = campaigns.campaign_id
    inner join creatives on ads.creative_id = creatives.creative_id
    inner join platform_objective_map
        on
            campaigns.source_platform = platform_objective_map.source_platform
            and campaigns.platform_objective = platform_objective_map.platform_objective

)

select * from joined
