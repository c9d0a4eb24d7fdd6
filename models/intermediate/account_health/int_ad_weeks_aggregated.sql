-- Clean delivery per ad and calendar week (weeks start on Monday), with the ad's advertiser,
-- platform and objective.
with

daily_performance as (

    select * from {{ ref('int_ad_daily_performance_joined') }}

),

ads as (

    select * from {{ ref('int_ads_joined') }}

),

weekly as (

    select
        ad_id,
        cast({{ dbt.date_trunc('week', 'performance_date') }} as date) as week_start,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(conversions) as conversions,
        sum(spend) as spend,
        sum(conversion_value) as conversion_value
    from daily_performance
    group by ad_id, cast({{ dbt.date_trunc('week', 'performance_date') }} as date)

),

final as (

    select
        weekly.ad_id,
        ads.advertiser_id,
        ads.platform,
        ads.objective,
        weekly.impressions,
        weekly.clicks,
        weekly.conversions,
        weekly.spend,
        weekly.conversion_value,
        weekly.week_start

    from weekly
    inner join ads on weekly.ad_id = ads.ad_id

)

select * from final
