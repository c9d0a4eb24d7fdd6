{{ config(post_hook="{{ adscore.persist_csv_rejects('conversions', 'offline_conversions') }}") }}

{#-
    First-party feed rows, each with a random `row_key` (macro row_key) and the first rule it
    breaks (null when usable).  Empty counts default to 0 (staging).  Dedup:
    int_offline_conversions_superseded; both joined in int_offline_conversions_validated.
-#}

with

feed as (

    select * from {{ ref('stg_conversions__offline_conversions') }}

),

checked as (

    select
        {{ adscore.row_key() }} as row_key,
        *,
        case
            when ad_id is null or performance_date is null then 'missing_key'
            when parse_errors is not null then 'unparseable_value'
            when offline_conversions < 0 or offline_conversion_value < 0 or likes < 0
                or comments < 0 or shares < 0 then 'negative_value'
        end as rejection_reason

    from feed

)

select * from checked
