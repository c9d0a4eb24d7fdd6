{#-
    Every delivery row of every platform export, good or bad, with:

    rejection_reason, the first rule it breaks (null when usable): the row-level rules of
        int_ad_daily_performance_checked, then
        outlier_cpm            a CPM whose robust z-score within its platform exceeds var
                               outlier_max_robust_z (int_ad_daily_performance_cpm_baselines)
    is_superseded, for usable rows: a later (or identical) extraction of the same ad, day and
        publisher platform exists (int_ad_daily_performance_superseded).

    A view: every reader scans the stored rows it needs and joins the per-platform baselines
    and the (few) superseded keys; nothing is stored twice.
-#}
{{ config(materialized='view') }}

with

checked as (

    select * from {{ ref('int_ad_daily_performance_checked') }}

),

baselines as (

    select * from {{ ref('int_ad_daily_performance_cpm_baselines') }}

),

superseded as (

    select row_key from {{ ref('int_ad_daily_performance_superseded') }}

),

final as (

    select
        checked.source_name,
        checked.source_file,
        checked.ad_id,
        checked.account_id,
        checked.campaign_id,
        checked.ad_set_id,
        checked.source_platform,
        checked.platform,
        checked.currency_code,
        checked.parse_errors,
        checked.unparsed_values,
        coalesce(
            checked.rule_violation,
            case
                when {{ adscore.is_cpm_outlier(
                    'checked.log_cpm', 'baselines.median_log_cpm', 'baselines.robust_sd_log_cpm'
                ) }}
                    then 'outlier_cpm'
            end
        ) as rejection_reason,
        checked.impressions,
        checked.clicks,
        checked.spend,
        checked.conversions,
        checked.conversion_value,
        (checked.log_cpm - baselines.median_log_cpm)
        / nullif(baselines.robust_sd_log_cpm, 0) as cpm_robust_z,
        superseded.row_key is not null as is_superseded,
        checked.performance_date,
        checked.performance_end_date,
        checked.extracted_at

    from checked
    left join baselines on checked.platform = baselines.platform
    left join superseded on checked.row_key = superseded.row_key

)

select * from final
