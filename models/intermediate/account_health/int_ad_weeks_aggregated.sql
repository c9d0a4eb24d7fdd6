-- Clean delivery per ad and calendar week (weeks start on Monday), with the ad's advertiser,
-- platform and objective.
with

ad_weeks as (

    select * from {{ ref('int_ad_weeks_delivered') }}

),

ads as (

    select * from {{ ref('int_ads_joined') }}

),

final as (

    select
        ad_weeks.ad_id,
        ads.advertiser_id,
        ads.platform,
        ads.objective,
        ad_weeks.impressions,
        ad_weeks.clicks,
        ad_weeks.conversions,
        ad_weeks.spend,
        ad_weeks.conversion_value,
        ad_weeks.week_start

    from ad_weeks
    inner join ads on ad_weeks.ad_id = ads.ad_id

)

select * from final
