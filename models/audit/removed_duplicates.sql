-- Rows superseded by a later (or identical) extraction of the same ad-day: kept for audit.
with

performance as (

    select * from {{ ref('int_ad_daily_performance_validated') }}

),

offline_conversions as (

    select * from {{ ref('int_offline_conversions_validated') }}

),

final as (

    select
        source_name,
        source_file,
        concat_ws('|', ad_id, cast(performance_date as varchar), platform) as duplicate_key,
        cast(extracted_at as varchar) as extracted_at,
        {{ adscore.record_as_json('performance') }} as raw_content
    from performance
    where is_superseded

    union all

    select
        source_name,
        source_file,
        concat_ws('|', ad_id, cast(performance_date as varchar)) as duplicate_key,
        cast(received_at as varchar) as extracted_at,
        {{ adscore.record_as_json('offline_conversions') }} as raw_content
    from offline_conversions
    where is_superseded

)

select * from final
