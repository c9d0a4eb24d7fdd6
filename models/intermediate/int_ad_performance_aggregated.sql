with

daily_performance as (

    select * from {{ ref('int_ad_daily_performance_joined') }}

),

aggregated as (

    select
        ad_id,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(spend) as spend,
        sum(conversions) as conversions,
        sum(conversion_value) as conversion_value,
        sum(likes) as likes,
        sum(comments) as comments,
        sum(shares) as shares,
        count(*) as active_days,
        min(performance_date) as first_performance_date,
        max(performance_date) as last_performance_date

    from daily_performance
    group by ad_id

)

select * from aggregated
