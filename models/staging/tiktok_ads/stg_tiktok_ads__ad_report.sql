{%- set parsed_fields = {
    'metrics.impressions': ['impressions_text', 'impressions'],
    'metrics.clicks': ['clicks_text', 'clicks'],
    'metrics.spend': ['spend_text', 'spend'],
    'metrics.conversion': ['conversions_text', 'conversions'],
    'metrics.total_purchase_value': ['conversion_value_text', 'conversion_value'],
    'dimensions.stat_time_day': ['performance_date_text', 'performance_date'],
    'extracted_at': ['extracted_at_text', 'extracted_at'],
} -%}

{{ config(materialized='view') }}

with

source as (

    select * from {{ source('tiktok_ads', 'ad_report') }}

),

validated as (

    select
        filename as source_file,
        json_line as raw_record,
        {{ adscore.is_valid_json('json_line') }} as is_valid_json

    from source

),

extracted as (

    select
        source_file,
        raw_record,
        is_valid_json,
        {{ adscore.json_texts('raw_record', [
            '$.dimensions.ad_id', '$.metrics.adgroup_id', '$.metrics.campaign_id',
            '$.metrics.advertiser_id', '$.metrics.currency', '$.metrics.impressions',
            '$.metrics.clicks', '$.metrics.spend', '$.metrics.conversion',
            '$.metrics.total_purchase_value', '$.dimensions.stat_time_day', '$.extracted_at',
        ]) }} as fields

    from validated

),

renamed as (

    select
        source_file,
        raw_record,
        is_valid_json,
        nullif({{ adscore.trim_blank('fields[1]') }}, '') as native_ad_id,
        nullif({{ adscore.trim_blank('fields[2]') }}, '') as native_ad_set_id,
        nullif({{ adscore.trim_blank('fields[3]') }}, '') as native_campaign_id,
        nullif({{ adscore.trim_blank('fields[4]') }}, '') as native_account_id,
        upper({{ adscore.trim_blank('fields[5]') }}) as currency_code,
        fields[6] as impressions_text,
        fields[7] as clicks_text,
        fields[8] as spend_text,
        fields[9] as conversions_text,
        fields[10] as conversion_value_text,
        fields[11] as performance_date_text,
        fields[12] as extracted_at_text

    from extracted

),

parsed as (

    select
        *,
        {{ adscore.parse_integer('impressions_text') }} as impressions,
        {{ adscore.parse_integer('clicks_text') }} as clicks,
        {{ adscore.parse_number('spend_text') }} as spend,
        {{ adscore.or_zero_when_empty(
            'conversions_text', adscore.parse_number('conversions_text', 'double')
        ) }} as conversions,
        {{ adscore.or_zero_when_empty(
            'conversion_value_text', adscore.parse_number('conversion_value_text')
        ) }} as conversion_value,
        {{ adscore.parse_date('performance_date_text') }} as performance_date,
        {{ adscore.parse_timestamp('extracted_at_text') }} as extracted_at

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
        'tiktok_ads.ad_report' as source_name,
        source_file,
        'tiktok:' || native_ad_id as ad_id,
        'tiktok:' || native_ad_set_id as ad_set_id,
        'tiktok:' || native_campaign_id as campaign_id,
        'tiktok:' || native_account_id as account_id,
        'tiktok' as source_platform,
        'tiktok' as platform,
        currency_code,
        case when not is_valid_json then 'json' else parse_error_fields end as parse_errors,
        case
            when not is_valid_json then raw_record
            when parse_error_fields is not null then {{ adscore.text_record(parsed_fields) }}
        end as unparsed_values,
        impressions,
        clicks,
        spend,
        conversions,
        cast(conversion_value as decimal(18, 6)) as conversion_value,
        performance_date,
        -- One row, one day (Meta's rows carry a date range).
        performance_date as performance_end_date,
        extracted_at

    from checked

)

select * from final
