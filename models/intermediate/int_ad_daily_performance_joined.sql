with

daily_performance as (

    select * from {{ ref('int_ad_daily_performance_unioned') }}

),

offline_conversions as (

    select * from {{ ref('stg_conversions__offline_conversions') }}

),

joined as (

    select
        daily_performance.ad_id,
        daily_performance.account_id,
        daily_performance.campaign_id,
        daily_performance.ad_set_id,
        daily_performance.source_platform,
        daily_performance.currency_code,
        daily_performance.impressions,
        daily_performance.clicks,
        daily_performance.spend,
        daily_performance.online_conversions,
        daily_performance.online_conversion_value,
        coalesce(offline_conversions.offline_conversions, 0) as offline_conversions,
        coalesce(offline_conversions.offline_conversion_value, 0) as offline_conversion_value,
        daily_performance.online_conversions
        + coalesce(offline_conversions.offline_conversions, 0) as conversions,
        daily_performance.online_conversion_value
        + coalesce(offline_conversions.offline_conversion_value, 0) as conversion_value,
        coalesce(offline_conversions.likes, 0) as likes,
        coalesce(offline_conversions.comments, 0) as comments,
        coalesce(offline_conversions.shares, 0) as shares,
        daily_performance.performance_date,
        daily_performance.extracted_at

    from daily_performance
    left join offline_conversions
        on
            daily_performance.ad_id = offline_conversions.ad_id
            and daily_performance.performance_date = offline_conversions.performance_date

)

select * from joined
