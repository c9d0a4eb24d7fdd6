{#-
    As-of features of each advertiser-week, computed only from that week and earlier ones
    (every window frame ends at the current row), and the label inputs for the weeks after it.
    Features: trailing spend / ROAS / CTR / CVR, their last-week and two-week trends, weekly
    ROAS and spend volatility, budget pacing, active and new ads, the share of ads with low
    trailing CTR, and the trailing platform mix of spend.
-#}
{%- set ah = var('account_health') -%}
{%- set platforms = ['facebook', 'instagram', 'google', 'tiktok', 'pinterest'] -%}
{%- set trailing = "rows between " ~ (ah['trailing_weeks'] - 1) ~ " preceding and current row" -%}
{%- set last_two = "rows between 1 preceding and current row" -%}
{%- set prior_two = "rows between 3 preceding and 2 preceding" -%}
{%- set future = "rows between 1 following and " ~ ah['horizon_weeks'] ~ " following" -%}

with

account_weeks as (

    select * from {{ ref('int_account_weeks_aggregated') }}

),

windowed as (

    select
        advertiser_id,
        vertical,
        account_size_band,
        week_start,
        spend,
        conversion_value,
        impressions,
        clicks,
        conversions,
        active_ads,
        new_ads,
        planned_budget,
        share_low_ctr_ads,
        case when spend > 0 then cast(conversion_value as double) / cast(spend as double) end as week_roas,
        count(*) over (partition by advertiser_id order by week_start {{ trailing }}) as trailing_weeks,
        sum(spend) over (partition by advertiser_id order by week_start {{ trailing }}) as trailing_spend,
        sum(conversion_value) over (partition by advertiser_id order by week_start {{ trailing }})
            as trailing_value,
        sum(impressions) over (partition by advertiser_id order by week_start {{ trailing }})
            as trailing_impressions,
        sum(clicks) over (partition by advertiser_id order by week_start {{ trailing }}) as trailing_clicks,
        sum(conversions) over (partition by advertiser_id order by week_start {{ trailing }})
            as trailing_conversions,
        sum(planned_budget) over (partition by advertiser_id order by week_start {{ trailing }})
            as trailing_planned_budget,
        {% for p in platforms %}
            sum(spend_{{ p }}) over (partition by advertiser_id order by week_start {{ trailing }})
                as trailing_spend_{{ p }},
        {% endfor %}
        sum(spend) over (partition by advertiser_id order by week_start {{ last_two }}) as last_two_spend,
        sum(conversion_value) over (partition by advertiser_id order by week_start {{ last_two }})
            as last_two_value,
        sum(spend) over (partition by advertiser_id order by week_start {{ prior_two }}) as prior_two_spend,
        sum(conversion_value) over (partition by advertiser_id order by week_start {{ prior_two }})
            as prior_two_value,
        -- The third week has one week before its last two: no "two before" to compare with.
        count(*) over (partition by advertiser_id order by week_start {{ prior_two }}) as prior_two_weeks,
        min(week_start) over (partition by advertiser_id) as first_week_start,
        -- Label inputs only: the weeks after this one.  Never features.
        count(*) over (partition by advertiser_id order by week_start {{ future }}) as future_weeks,
        sum(spend) over (partition by advertiser_id order by week_start {{ future }}) as future_spend,
        sum(conversion_value) over (partition by advertiser_id order by week_start {{ future }})
            as future_value

    from account_weeks

),

volatility as (

    select
        *,
        stddev_samp(week_roas) over (partition by advertiser_id order by week_start {{ trailing }})
            as trailing_roas_sd,
        avg(week_roas) over (partition by advertiser_id order by week_start {{ trailing }})
            as trailing_roas_mean,
        stddev_samp(cast(spend as double)) over (
            partition by advertiser_id order by week_start {{ trailing }}
        ) as trailing_spend_sd,
        avg(cast(spend as double)) over (partition by advertiser_id order by week_start {{ trailing }})
            as trailing_spend_mean
    from windowed

),

featurized as (

    select
        advertiser_id,
        vertical,
        account_size_band,
        trailing_weeks,
        cast(trailing_spend as double) as trailing_spend,
        cast(trailing_value as double) as trailing_value,
        cast(trailing_spend as double) / trailing_weeks as trailing_weekly_spend,
        case when trailing_spend > 0 then cast(trailing_value as double) / cast(trailing_spend as double) end
            as trailing_roas,
        case when trailing_impressions > 0 then cast(trailing_clicks as double) / trailing_impressions end
            as trailing_ctr,
        case when trailing_clicks > 0 then cast(trailing_conversions as double) / trailing_clicks end
            as trailing_cvr,
        case
            when
                trailing_spend > 0
                then cast(spend as double) * trailing_weeks / cast(trailing_spend as double)
        end
            as spend_trend_last_week,
        case
            when trailing_spend > 0 and trailing_value > 0 and spend > 0
                then week_roas / (cast(trailing_value as double) / cast(trailing_spend as double))
        end as roas_trend_last_week,
        case
            when impressions > 0 and trailing_clicks > 0
                then (cast(clicks as double) / impressions)
                    / (cast(trailing_clicks as double) / trailing_impressions)
        end as ctr_trend_last_week,
        case
            when clicks > 0 and trailing_conversions > 0
                then (cast(conversions as double) / clicks)
                    / (cast(trailing_conversions as double) / trailing_clicks)
        end as cvr_trend_last_week,
        case
            when prior_two_weeks = 2 and prior_two_spend > 0 and last_two_spend > 0 and prior_two_value > 0
                then (cast(last_two_value as double) / cast(last_two_spend as double))
                    / (cast(prior_two_value as double) / cast(prior_two_spend as double))
        end as roas_trend_two_weeks,
        case
            when prior_two_weeks = 2 and prior_two_spend > 0
                then cast(last_two_spend as double) / cast(prior_two_spend as double)
        end
            as spend_trend_two_weeks,
        case when trailing_roas_mean > 0 then trailing_roas_sd / trailing_roas_mean end as roas_volatility,
        case when trailing_spend_mean > 0 then trailing_spend_sd / trailing_spend_mean end
            as spend_volatility,
        case
            when trailing_planned_budget > 0 then cast(trailing_spend as double) / trailing_planned_budget
        end
            as budget_pacing,
        active_ads,
        new_ads,
        share_low_ctr_ads,
        {% for p in platforms %}
            case
                when
                    trailing_spend > 0
                    then cast(trailing_spend_{{ p }} as double) / cast(trailing_spend as double)
            end
                as spend_share_{{ p }},
        {% endfor %}
        {{ dbt.datediff('first_week_start', 'week_start', 'week') }} as weeks_observed,  -- noqa: LT05
        future_weeks,
        cast(future_spend as double) as future_spend,
        cast(future_value as double) as future_value,
        week_start

    from volatility

)

select * from featurized
