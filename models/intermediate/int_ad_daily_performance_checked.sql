{#-
    Every delivery row of every platform export, good or bad, parsed, with:

    row_key         a random UUID naming this row (the exports have no line id, and identical
                    re-deliveries exist); int_ad_daily_performance_superseded refers to it.
    rule_violation  the first row-level rule the row breaks (null when it passes them all):
        malformed_line         a JSON-lines record that is not valid JSON
        missing_key            no ad id, no parseable date (Meta: date_start or date_stop) or
                               no publisher platform (Meta rows are per platform)
        unparseable_value      a value present but not a number/date (parse_errors names it)
        multi_day_row          a Meta row whose date_stop is not its date_start: not one day's
                               delivery
        date_after_extraction  a day more than one day after the (UTC) date it was extracted
                               (macro is_after_extraction)
        missing_metric         spend, impressions or clicks empty
        negative_value         negative spend, impressions, clicks, conversions or value
        clicks_gt_impressions  more clicks than impressions
        conversions_gt_clicks  more platform conversions than clicks
        outlier_cpm            spend without impressions
    log_cpm         ln(spend x 1000 / impressions) where both are positive; the robust CPM
                    outlier rule (int_ad_daily_performance_cpm_baselines) needs every row's
                    value first, so it is applied in int_ad_daily_performance_validated.

    load_signature, load_invocation_id, loaded_at
                    the file's load signature (size, modification time, parser version)
                    and the dbt invocation that parsed it.

    The staging views are read here, in one pass per file, so this model's post-hook keeps
    the lines DuckDB's reader rejected (audit.csv_rejects__*).  Materialised once, so the
    baselines and the dedup read narrow columns of a stored table instead of the whole union
    being held (and at 100M rows spilled) in one query.  Incremental, file by file (macros in
    raw_file_loads.sql): a build parses only new and changed files (and every file after a
    change to the parsing code), and drops the rows of files that changed or are gone.
-#}
{%- set raw_loads = adscore.raw_sources('delivery') -%}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ adscore.forget_changed_raw_files() }}",
    post_hook=[
        "{{ adscore.persist_csv_rejects('meta_ads', 'ads_insights') }}",
        "{{ adscore.persist_csv_rejects('google_ads', 'ad_group_ad_performance') }}",
        "{{ adscore.persist_csv_rejects('tiktok_ads', 'ad_report') }}",
        "{{ adscore.persist_csv_rejects('pinterest_ads', 'ad_analytics') }}",
    ],
) }}
{%- set plan = adscore.raw_load_plan(raw_loads) %}
{{ adscore.raw_load_plan_record(plan) }}

with

unioned as (

    {% for load in raw_loads %}
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
            performance_end_date,
            extracted_at
        from {{ ref(load.staging) }}
        {% if is_incremental() %}where {{ adscore.raw_files_to_parse(plan) }}{% endif %}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

-- Each row with its file's load signature (raw_file_loads.sql) and this load's invocation.
loaded as (

    {{ adscore.with_load_columns('unioned', plan) }}

),

checked as (

    select
        {{ adscore.row_key() }} as row_key,
        *,
        case
            when parse_errors = 'json' then 'malformed_line'
            when
                ad_id is null or performance_date is null or performance_end_date is null
                or platform is null
                then 'missing_key'
            when parse_errors is not null then 'unparseable_value'
            when performance_end_date <> performance_date then 'multi_day_row'
            when {{ adscore.is_after_extraction('performance_date', 'extracted_at') }}
                then 'date_after_extraction'
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

    from loaded

)

select * from checked
