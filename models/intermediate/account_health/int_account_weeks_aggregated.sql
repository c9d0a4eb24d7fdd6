{#-
    One row per advertiser and calendar week that lies wholly inside the delivery window
    (weeks without delivery included, as zeros): spend, value, delivery, active and new ads,
    planned budget, spend per platform, and the share of active ads whose trailing CTR is
    below their platform x objective cohort's median that week.
-#}
{%- set platforms = ['facebook', 'instagram', 'google', 'tiktok', 'pinterest'] -%}
{%- set trailing = var('account_health')['trailing_weeks'] -%}

with

ad_weeks as (

    select * from {{ ref('int_ad_weeks_aggregated') }}

),

ads as (

    select * from {{ ref('int_ads_joined') }}

),

ad_weeks_delivered as (

    select * from {{ ref('int_ad_weeks_delivered') }}

),

delivery_window as (

    select
        min(first_performance_date) as first_date,
        max(last_performance_date) as last_date
    from ad_weeks_delivered

),

full_weeks as (

    select distinct ad_weeks.week_start
    from ad_weeks
    cross join delivery_window
    where
        ad_weeks.week_start >= delivery_window.first_date
        and {{ dbt.dateadd('day', 6, 'ad_weeks.week_start') }} <= delivery_window.last_date

),

advertisers as (

    select distinct
        advertiser_id,
        vertical,
        account_size_band
    from ads

),

grid as (

    select
        advertisers.advertiser_id,
        advertisers.vertical,
        advertisers.account_size_band,
        full_weeks.week_start
    from advertisers
    cross join full_weeks

),

delivery as (

    select
        advertiser_id,
        week_start,
        sum(spend) as spend,
        sum(conversion_value) as conversion_value,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(conversions) as conversions,
        {% for p in platforms %}
            sum(case when platform = '{{ p }}' then spend else 0 end) as spend_{{ p }},
        {% endfor %}
        count(case when impressions > 0 then ad_id end) as active_ads
    from ad_weeks
    group by advertiser_id, week_start

),

launches as (

    select
        advertiser_id,
        cast({{ dbt.date_trunc('week', 'launch_date') }} as date) as week_start,
        count(*) as new_ads
    from ads
    group by advertiser_id, cast({{ dbt.date_trunc('week', 'launch_date') }} as date)

),

-- What the advertiser planned to spend: each ad's daily budget over its planned days in the week.
-- The join's predicates keep launch_date and planned_end_date non-null, so greatest/least never
-- see a NULL (DuckDB ignores one, Snowflake and BigQuery return NULL).
planned as (

    select
        ads.advertiser_id,
        full_weeks.week_start,
        sum(
            ads.ad_daily_budget * (
                {{ dbt.datediff(
                    'greatest(ads.launch_date, full_weeks.week_start)',
                    'least(ads.planned_end_date, ' ~ dbt.dateadd('day', 6, 'full_weeks.week_start') ~ ')',
                    'day') }} + 1
            )
        ) as planned_budget
    from ads
    inner join full_weeks
        on
            ads.launch_date <= {{ dbt.dateadd('day', 6, 'full_weeks.week_start') }}
            and ads.planned_end_date >= full_weeks.week_start
    group by ads.advertiser_id, full_weeks.week_start

),

-- Each ad's CTR over the trailing weeks up to this one, against its cohort's median.  The
-- frame is a range of day numbers (BigQuery accepts no interval frame over a date), written out
-- in each window rather than as a named WINDOW clause, which not every engine accepts.
ad_week_days as (

    select
        *,
        {{ dbt.datediff("cast('1970-01-01' as date)", 'week_start', 'day') }} as week_day_number  -- noqa: LT05
    from ad_weeks

),

ad_trailing_ctr as (

    select
        ad_id,
        advertiser_id,
        platform,
        objective,
        week_start,
        sum(clicks) over (
            partition by ad_id order by week_day_number
            range between {{ (trailing - 1) * 7 }} preceding and current row
        ) as trailing_clicks,
        sum(impressions) over (
            partition by ad_id order by week_day_number
            range between {{ (trailing - 1) * 7 }} preceding and current row
        ) as trailing_impressions

    from ad_week_days

),

ad_ctr as (

    select
        *,
        cast(trailing_clicks as double) / trailing_impressions as trailing_ctr
    from ad_trailing_ctr
    where trailing_impressions > 0

),

cohort_medians as (

    select
        platform,
        objective,
        week_start,
        {{ adscore.median('trailing_ctr') }} as median_trailing_ctr
    from ad_ctr
    group by platform, objective, week_start

),

low_ctr as (

    select
        ad_ctr.advertiser_id,
        ad_ctr.week_start,
        avg(case when ad_ctr.trailing_ctr < cohort_medians.median_trailing_ctr then 1.0 else 0.0 end)
            as share_low_ctr_ads
    from ad_ctr
    inner join cohort_medians
        on
            ad_ctr.platform = cohort_medians.platform
            and ad_ctr.objective = cohort_medians.objective
            and ad_ctr.week_start = cohort_medians.week_start
    group by ad_ctr.advertiser_id, ad_ctr.week_start

),

final as (

    select
        grid.advertiser_id,
        grid.vertical,
        grid.account_size_band,
        coalesce(delivery.spend, 0) as spend,
        coalesce(delivery.conversion_value, 0) as conversion_value,
        coalesce(delivery.impressions, 0) as impressions,
        coalesce(delivery.clicks, 0) as clicks,
        coalesce(delivery.conversions, 0) as conversions,
        coalesce(delivery.active_ads, 0) as active_ads,
        coalesce(launches.new_ads, 0) as new_ads,
        coalesce(planned.planned_budget, 0) as planned_budget,
        {% for p in platforms %}
            coalesce(delivery.spend_{{ p }}, 0) as spend_{{ p }},
        {% endfor %}
        low_ctr.share_low_ctr_ads,
        grid.week_start

    from grid
    left join delivery
        on grid.advertiser_id = delivery.advertiser_id and grid.week_start = delivery.week_start
    left join launches
        on grid.advertiser_id = launches.advertiser_id and grid.week_start = launches.week_start
    left join planned
        on grid.advertiser_id = planned.advertiser_id and grid.week_start = planned.week_start
    left join low_ctr
        on grid.advertiser_id = low_ctr.advertiser_id and grid.week_start = low_ctr.week_start

)

select * from final
