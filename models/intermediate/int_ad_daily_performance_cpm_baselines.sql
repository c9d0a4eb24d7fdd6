{#-
    Per platform, the robust CPM baseline of the delivery rows that pass every row-level rule:
    the median of ln CPM and 1.4826 x its median absolute deviation (a robust standard
    deviation).  When over half the rows share one CPM (fixed-price buys) that deviation is
    0 and every other row would be an outlier; the scale is then 1.2533 x the mean absolute
    deviation from the median (the modified z-score's fallback; 0 only when every row has
    the same CPM, so none is an outlier).  int_ad_daily_performance_validated quarantines
    rows further than var outlier_max_robust_z of these from the median (macro
    is_cpm_outlier).  Both medians are exact and computed in bounded memory (macro
    grouped_median_ctes).
-#}
{%- set checked = ref('int_ad_daily_performance_checked') -%}

with

{{ adscore.grouped_median_ctes(
    'cpm_median',
    'select platform as grp, log_cpm as v from ' ~ checked
    ~ ' where rule_violation is null and log_cpm is not null'
) }},

{{ adscore.grouped_median_ctes(
    'cpm_deviation_median',
    'select checked.platform as grp, abs(checked.log_cpm - cpm_median.median_value) as v from '
    ~ checked ~ ' as checked inner join cpm_median on checked.platform = cpm_median.grp'
    ~ ' where checked.rule_violation is null and checked.log_cpm is not null'
) }},

final as (

    select
        cpm_median.grp as platform,
        cpm_median.median_value as median_log_cpm,
        case
            when cpm_deviation_median.median_value > 0
                then 1.4826 * cpm_deviation_median.median_value
            else 1.2533 * cpm_deviation_median.mean_value
        end as robust_sd_log_cpm,
        cast(cpm_median.n_values as bigint) as n_rows
    from cpm_median
    inner join cpm_deviation_median on cpm_median.grp = cpm_deviation_median.grp

)

select * from final
