{%- set parsed_fields = {
    'IMPRESSION_1': ['impressions_text', 'impressions'],
    'CLICKTHROUGH_1': ['clicks_text', 'clicks'],
    'SPEND_IN_MICRO_DOLLAR': ['spend_micros_text', 'spend'],
    'TOTAL_CHECKOUT': ['conversions_text', 'conversions'],
    'TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR': ['conversion_value_micros_text', 'conversion_value'],
    'DATE': ['performance_date_text', 'performance_date'],
    'EXTRACTED_AT': ['extracted_at_text', 'extracted_at'],
} -%}

{{ config(materialized='view') }}

with

source as (

    select * from {{ source('pinterest_ads', 'ad_analytics') }}

),

renamed as (

    select
        filename as source_file,
        nullif({{ adscore.trim_blank('ad_id') }}, '') as native_ad_id,
        nullif({{ adscore.trim_blank('ad_group_id') }}, '') as native_ad_set_id,
        nullif({{ adscore.trim_blank('campaign_id') }}, '') as native_campaign_id,
        nullif({{ adscore.trim_blank('advertiser_id') }}, '') as native_account_id,
        impression_1 as impressions_text,
        clickthrough_1 as clicks_text,
        spend_in_micro_dollar as spend_micros_text,
        total_checkout as conversions_text,
        total_checkout_value_in_micro_dollar as conversion_value_micros_text,
        date as performance_date_text,
        extracted_at as extracted_at_text

    from source

),

parsed as (

    select
        *,
        {{ adscore.parse_integer('impressions_text') }} as impressions,
        {{ adscore.parse_integer('clicks_text') }} as clicks,
        {{ adscore.micros_to_currency(adscore.parse_integer('spend_micros_text')) }} as spend,
        {{ adscore.or_zero_when_empty(
            'conversions_text', adscore.parse_number('conversions_text', 'double')
        ) }} as conversions,
        {{ adscore.or_zero_when_empty(
            'conversion_value_micros_text', adscore.micros_to_currency(adscore.parse_integer('conversion_value_micros_text'))
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
        'pinterest_ads.ad_analytics' as source_name,
        source_file,
        'pinterest:' || native_ad_id as ad_id,
        'pinterest:' || native_ad_set_id as ad_set_id,
        'pinterest:' || native_campaign_id as campaign_id,
        'pinterest:' || native_account_id as account_id,
        'pinterest' as source_platform,
        'pinterest' as platform,
        'USD' as currency_code,
        parse_error_fields as parse_errors,
        case
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
