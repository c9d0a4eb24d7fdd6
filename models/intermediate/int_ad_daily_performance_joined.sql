with

performance as (

    select * from {{ ref('int_ad_daily_performance_validated') }}
    where rejection_reason is null and not is_superseded

),

offline_conversions as (

    select * from {{ ref('int_offline_conversions_validated') }}
    where rejection_reason is null and not is_superseded

),

-- Meta breaks delivery down by publisher platform; one row per ad and day from here on.
-- (Ids other than the ad's come from int_ads_joined; all money is in account currency.)
-- The other exports have one platform per source and ad ids prefixed by it, so after the
-- dedup their rows already are ad-days and pass through; only Meta's rows are summed (a
-- second row per ad-day from another source would fail the unique ad-day test on this model).
per_ad_day as (

    select
        ad_id,
        performance_date,
        max(extracted_at) as extracted_at,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(spend) as spend,
        sum(conversions) as online_conversions,
        sum(conversion_value) as online_conversion_value

    from performance
    where source_platform = 'meta'
    group by ad_id, performance_date

    union all

    select
        ad_id,
        performance_date,
        extracted_at,
        impressions,
        clicks,
        spend,
        conversions as online_conversions,
        conversion_value as online_conversion_value

    from performance
    where source_platform != 'meta'

),

joined as (

    select
        per_ad_day.ad_id,
        per_ad_day.impressions,
        per_ad_day.clicks,
        per_ad_day.spend,
        per_ad_day.online_conversions,
        per_ad_day.online_conversion_value,
        coalesce(offline_conversions.offline_conversions, 0) as offline_conversions,
        coalesce(offline_conversions.offline_conversion_value, 0) as offline_conversion_value,
        per_ad_day.online_conversions
        + coalesce(offline_conversions.offline_conversions, 0) as conversions,
        per_ad_day.online_conversion_value
        + coalesce(offline_conversions.offline_conversion_value, 0) as conversion_value,
        coalesce(offline_conversions.likes, 0) as likes,
        coalesce(offline_conversions.comments, 0) as comments,
        coalesce(offline_conversions.shares, 0) as shares,
        per_ad_day.performance_date,
        per_ad_day.extracted_at

    from per_ad_day
    left join offline_conversions
        on
            per_ad_day.ad_id = offline_conversions.ad_id
            and per_ad_day.performance_date = offline_conversions.performance_date

)

select * from joined
