{%- set parsed_fields = {
    'offline_conversions': ['offline_conversions_text', 'offline_conversions'],
    'offline_conversion_value': ['offline_conversion_value_text', 'offline_conversion_value'],
    'likes': ['likes_text', 'likes'],
    'comments': ['comments_text', 'comments'],
    'shares': ['shares_text', 'shares'],
    'event_date': ['performance_date_text', 'performance_date'],
    'received_at': ['received_at_text', 'received_at'],
} -%}

{{ config(materialized='view') }}

with

source as (

    select * from {{ source('conversions', 'offline_conversions') }}

),

renamed as (

    select
        filename as source_file,
        lower({{ adscore.trim_blank('source_platform') }}) as source_platform,
        nullif({{ adscore.trim_blank('ad_id') }}, '') as native_ad_id,
        offline_conversions as offline_conversions_text,
        offline_conversion_value as offline_conversion_value_text,
        likes as likes_text,
        comments as comments_text,
        shares as shares_text,
        event_date as performance_date_text,
        received_at as received_at_text

    from source

),

parsed as (

    select
        *,
        -- Empty counts mean nothing was recorded: default 0 (documented in the model yml).
        {{ adscore.or_zero_when_empty(
            'offline_conversions_text', adscore.parse_number('offline_conversions_text', 'double')
        ) }} as offline_conversions,
        {{ adscore.or_zero_when_empty(
            'offline_conversion_value_text', adscore.parse_number('offline_conversion_value_text')
        ) }} as offline_conversion_value,
        {{ adscore.or_zero_when_empty(
            'likes_text', adscore.parse_integer('likes_text')
        ) }} as likes,
        {{ adscore.or_zero_when_empty(
            'comments_text', adscore.parse_integer('comments_text')
        ) }} as comments,
        {{ adscore.or_zero_when_empty(
            'shares_text', adscore.parse_integer('shares_text')
        ) }} as shares,
        {{ adscore.parse_date('performance_date_text') }} as performance_date,
        {{ adscore.parse_timestamp('received_at_text') }} as received_at

    from renamed

),

checked as (

    select
        *,
        {{ adscore.parse_errors(parsed_fields) }} as parse_error_fields
    from parsed

),

final as (

    select
        'conversions.offline_conversions' as source_name,
        source_file,
        source_platform || ':' || native_ad_id as ad_id,
        source_platform,
        parse_error_fields as parse_errors,
        case
            when parse_error_fields is not null then {{ adscore.text_record(parsed_fields) }}
        end as unparsed_values,
        offline_conversions,
        cast(offline_conversion_value as decimal(18, 6)) as offline_conversion_value,
        likes,
        comments,
        shares,
        performance_date,
        received_at

    from checked

)

select * from final
