{#-
    Every delivery row with the first rule it breaks (null when it is usable):

    malformed_line         a JSON-lines record that is not valid JSON
    missing_key            no ad id or no parseable date
    unparseable_value      a value present but not a number/date (parse_errors names it)
    missing_metric         spend, impressions or clicks empty
    negative_value         negative spend, impressions, clicks, conversions or value
    clicks_gt_impressions  more clicks than impressions
    conversions_gt_clicks  more platform conversions than clicks
    outlier_cpm            spend without impressions, or a CPM whose robust z-score within
                           its platform exceeds var outlier_max_robust_z (median / MAD of
                           ln CPM over the rows that pass every other rule)
-#}

with

performance as (

    select * from {{ ref('int_ad_daily_performance_unioned') }}

),

rule_checked as (

    select
        *,
        case
            when parse_errors = 'json' then 'malformed_line'
            when ad_id is null or performance_date is null then 'missing_key'
            when parse_errors is not null then 'unparseable_value'
            when spend is null or impressions is null or clicks is null then 'missing_metric'
            when spend < 0 or impressions < 0 or clicks < 0 or conversions < 0 or conversion_value < 0
                then 'negative_value'
            when clicks > impressions then 'clicks_gt_impressions'
            when conversions > clicks then 'conversions_gt_clicks'
            when spend > 0 and impressions = 0 then 'outlier_cpm'
        end as rule_violation,
        case when spend > 0 and impressions > 0
                then ln(cast(spend as double) * 1000 / impressions)
        end as log_cpm

    from performance

),

cpm_baseline as (

    select
        platform,
        {{ adscore.median('log_cpm') }} as median_log_cpm
    from rule_checked
    where rule_violation is null and log_cpm is not null
    group by platform

),

cpm_spread as (

    select
        rule_checked.platform,
        cpm_baseline.median_log_cpm,
        1.4826 * {{ adscore.median('abs(rule_checked.log_cpm - cpm_baseline.median_log_cpm)') }}
            as robust_sd_log_cpm
    from rule_checked
    inner join cpm_baseline on rule_checked.platform = cpm_baseline.platform
    where rule_checked.rule_violation is null and rule_checked.log_cpm is not null
    group by rule_checked.platform, cpm_baseline.median_log_cpm

),

validated as (

    select
        rule_checked.source_name,
        rule_checked.source_file,
        rule_checked.ad_id,
        rule_checked.account_id,
        rule_checked.campaign_id,
        rule_checked.ad_set_id,
        rule_checked.source_platform,
        rule_checked.platform,
        rule_checked.currency_code,
        rule_checked.raw_record,
        rule_checked.parse_errors,
        rule_checked.impressions,
        rule_checked.clicks,
        rule_checked.spend,
        rule_checked.conversions,
        rule_checked.conversion_value,
        rule_checked.performance_date,
        rule_checked.extracted_at,
        (rule_checked.log_cpm - cpm_spread.median_log_cpm)
        / nullif(cpm_spread.robust_sd_log_cpm, 0) as cpm_robust_z,
        coalesce(
            rule_checked.rule_violation,
            case
                when abs(rule_checked.log_cpm - cpm_spread.median_log_cpm)
                    > {{ var('outlier_max_robust_z') }} * cpm_spread.robust_sd_log_cpm
                    then 'outlier_cpm'
            end
        ) as rejection_reason

    from rule_checked
    left join cpm_spread on rule_checked.platform = cpm_spread.platform

)

select * from validated
