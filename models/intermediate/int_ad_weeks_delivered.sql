{#-
    Clean delivery per ad and calendar week (weeks start on Monday): the one pass over the
    daily rows that the lifetime totals (int_ad_performance_aggregated), the weekly panel
    (int_ad_weeks_aggregated) and the account-health calendar (int_account_weeks_aggregated)
    all roll up from.  Sums of exact decimals and integer counts, so rolling them up again
    gives the same totals as summing the days.
-#}

with

daily_performance as (

    select * from {{ ref('int_ad_daily_performance_joined') }}

),

weekly as (

    select
        ad_id,
        cast({{ dbt.date_trunc('week', 'performance_date') }} as date) as week_start,
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
    group by ad_id, cast({{ dbt.date_trunc('week', 'performance_date') }} as date)

)

select * from weekly
