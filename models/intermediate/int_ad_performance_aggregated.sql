with

ad_weeks as (

    select * from {{ ref('int_ad_weeks_delivered') }}

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
        cast(sum(active_days) as {{ dbt.type_bigint() }}) as active_days,
        min(first_performance_date) as first_performance_date,
        max(last_performance_date) as last_performance_date

    from ad_weeks
    group by ad_id

)

select * from aggregated
