{#-
    What each advertiser's running ads are set to deliver over the label's horizon, as of the
    week's end.  An ad counts when it launched by the week's Sunday and its planned end date
    (set when the ad was created) lies after it.  Its forecast spend is its daily spend rate
    that week (spend over its days live in the week) times its planned days left within the
    horizon; that spend is valued at the ad's own ROAS over the trailing weeks.  Reads only
    delivery up to the week's end and the ads' planned dates: ads launched later do not count.
-#}
{%- set ah = var('account_health') -%}
{%- set horizon_days = ah['horizon_weeks'] * 7 -%}
{%- set trailing_days = ah['trailing_weeks'] * 7 -%}

with

account_weeks as (

    select
        advertiser_id,
        week_start,
        {{ dbt.dateadd('day', 6, 'week_start') }} as week_end
    from {{ ref('int_account_weeks_aggregated') }}

),

ads as (

    select
        ad_id,
        advertiser_id,
        launch_date,
        planned_end_date
    from {{ ref('int_ads_joined') }}

),

ad_weeks as (

    select
        ad_id,
        week_start,
        spend,
        conversion_value
    from {{ ref('int_ad_weeks_aggregated') }}

),

-- The join's predicates keep launch_date and planned_end_date non-null, so greatest/least never
-- see a NULL (DuckDB ignores one, Snowflake and BigQuery return NULL).
running as (

    select
        account_weeks.advertiser_id,
        account_weeks.week_start,
        ads.ad_id,
        {{ dbt.datediff(
            'greatest(ads.launch_date, account_weeks.week_start)', 'account_weeks.week_end', 'day'
        ) }} + 1 as days_live,
        least(
            {{ horizon_days }},
            {{ dbt.datediff('account_weeks.week_end', 'ads.planned_end_date', 'day') }}
        ) as days_left
    from account_weeks
    inner join ads
        on
            account_weeks.advertiser_id = ads.advertiser_id
            and account_weeks.week_end >= ads.launch_date
            and account_weeks.week_end < ads.planned_end_date

),

history as (

    select
        running.advertiser_id,
        running.week_start,
        running.ad_id,
        running.days_live,
        running.days_left,
        cast(sum(case when ad_weeks.week_start = running.week_start then ad_weeks.spend else 0 end) as double)
            as week_spend,
        cast(sum(ad_weeks.spend) as double) as trailing_spend,
        cast(sum(ad_weeks.conversion_value) as double) as trailing_value
    from running
    left join ad_weeks
        on
            running.ad_id = ad_weeks.ad_id
            and running.week_start >= ad_weeks.week_start
            and {{ dbt.dateadd('day', -trailing_days, 'running.week_start') }} < ad_weeks.week_start
    group by running.advertiser_id, running.week_start, running.ad_id, running.days_live, running.days_left

),

-- Each ad's share is computed in double, rounded to 1e-6 and summed as an exact decimal, so
-- that the sums (and the training snapshot's hash) do not depend on the summation order.
per_ad as (

    select
        advertiser_id,
        week_start,
        week_spend / days_live * days_left as ad_forecast_spend,
        case when trailing_spend > 0 then week_spend / days_live * days_left end as ad_valued_spend,
        case
            when trailing_spend > 0
                then week_spend / days_live * days_left * trailing_value / trailing_spend
        end as ad_forecast_value
    from history

),

forecast as (

    select
        advertiser_id,
        week_start,
        count(*) as running_ads,
        cast(sum({{ dbt.cast('round(ad_forecast_spend, 6)', 'decimal(38, 6)') }}) as double)
            as forecast_spend,
        cast(sum({{ dbt.cast('round(ad_valued_spend, 6)', 'decimal(38, 6)') }}) as double)
            as forecast_valued_spend,
        cast(sum({{ dbt.cast('round(ad_forecast_value, 6)', 'decimal(38, 6)') }}) as double)
            as forecast_value
    from per_ad
    group by advertiser_id, week_start

),

final as (

    select
        account_weeks.advertiser_id,
        coalesce(forecast.running_ads, 0) as running_ads,
        coalesce(forecast.forecast_spend, 0) as forecast_spend,
        forecast.forecast_valued_spend,
        forecast.forecast_value,
        account_weeks.week_start
    from account_weeks
    left join forecast
        on
            account_weeks.advertiser_id = forecast.advertiser_id
            and account_weeks.week_start = forecast.week_start

)

select * from final
