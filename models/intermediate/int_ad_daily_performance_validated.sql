{#-
    Every delivery row of every platform export, good or bad, with:

    rejection_reason, the first rule it breaks (null when usable):
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
    is_superseded, for usable rows: a later (or identical) extraction of the same ad, day and
        publisher platform exists; re-exports supersede earlier extractions.  Of identical
        re-deliveries one is kept, which one being immaterial.

    The staging views are read here, in one pass per file, so this model's post-hook keeps
    the lines DuckDB's reader rejected (audit.csv_rejects__*).
-#}
{%- set platform_models = [
    'stg_meta_ads__insights',
    'stg_google_ads__ad_performance',
    'stg_tiktok_ads__ad_report',
    'stg_pinterest_ads__ad_analytics',
] -%}
{{ config(post_hook=[
    "{{ adscore.persist_csv_rejects('meta_ads', 'ads_insights') }}",
    "{{ adscore.persist_csv_rejects('google_ads', 'ad_group_ad_performance') }}",
    "{{ adscore.persist_csv_rejects('tiktok_ads', 'ad_report') }}",
    "{{ adscore.persist_csv_rejects('pinterest_ads', 'ad_analytics') }}",
]) }}

with

unioned as (

    {% for platform_model in platform_models %}
        select
            source_name,
            source_file,
            ad_id,
            account_id,
            campaign_id,
            ad_set_id,
            source_platform,
            platform,
            currency_code,
            parse_errors,
            unparsed_values,
            impressions,
            clicks,
            spend,
            conversions,
            conversion_value,
            performance_date,
            extracted_at
        from {{ ref(platform_model) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

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
        case
            when spend > 0 and impressions > 0
                then ln(cast(spend as double) * 1000 / impressions)
        end as log_cpm

    from unioned

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
        rule_checked.*,
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

),

flagged as (

    select
        *,
        rejection_reason is null as is_usable
    from validated

),

-- Of the usable rows of each key, the latest extraction is kept (ties between identical
-- re-deliveries broken arbitrarily: their content is the same; an unknown time counts as
-- the earliest).  One partitioned window:
-- measured faster here than numbering every row and joining an arg_max back.
ranked as (

    select
        *,
        is_usable and row_number() over (
            partition by is_usable, source_name, ad_id, performance_date, platform
            order by extracted_at desc nulls last, source_file desc
        ) = 1 as is_latest
    from flagged

),

final as (

    select
        source_name,
        source_file,
        ad_id,
        account_id,
        campaign_id,
        ad_set_id,
        source_platform,
        platform,
        currency_code,
        parse_errors,
        unparsed_values,
        rejection_reason,
        impressions,
        clicks,
        spend,
        conversions,
        conversion_value,
        cpm_robust_z,
        rejection_reason is null and not is_latest as is_superseded,
        performance_date,
        extracted_at

    from ranked

)

select * from final
