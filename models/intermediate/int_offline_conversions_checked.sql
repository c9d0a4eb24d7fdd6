{%- set raw_loads = adscore.raw_sources('feed') -%}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ adscore.forget_changed_raw_files() }}",
    post_hook="{{ adscore.persist_csv_rejects('conversions', 'offline_conversions') }}",
) }}
{%- set plan = adscore.raw_load_plan(raw_loads) %}
{{ adscore.raw_load_plan_record(plan) }}

{#-
    First-party feed rows, each with a random `row_key` (macro row_key) and the first rule it
    breaks (null when usable).  Empty counts default to 0 (staging).  Dedup:
    int_offline_conversions_superseded; both joined in int_offline_conversions_validated.
    Loaded incrementally, file by file, like int_ad_daily_performance_checked (macros in
    raw_file_loads.sql).
-#}

with

feed as (

    select * from {{ ref('stg_conversions__offline_conversions') }}
    {% if is_incremental() %}where {{ adscore.raw_files_to_parse(plan) }}{% endif %}

),

-- Each row with its file's load signature (raw_file_loads.sql) and this load's invocation.
loaded as (

    {{ adscore.with_load_columns('feed', plan) }}

),

checked as (

    select
        {{ adscore.row_key() }} as row_key,
        *,
        case
            when ad_id is null or performance_date is null then 'missing_key'
            when parse_errors is not null then 'unparseable_value'
            when {{ adscore.is_after_extraction('performance_date', 'received_at') }}
                then 'date_after_extraction'
            when offline_conversions < 0 or offline_conversion_value < 0 or likes < 0
                or comments < 0 or shares < 0 then 'negative_value'
        end as rejection_reason

    from loaded

)

select * from checked
