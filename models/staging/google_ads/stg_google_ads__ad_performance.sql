{%- set parsed_fields = {
    'metrics.impressions': ['impressions_text', 'impressions'],
    'metrics.clicks': ['clicks_text', 'clicks'],
    'metrics.cost_micros': ['cost_micros_text', 'spend'],
    'metrics.conversions': ['conversions_text', 'conversions'],
    'metrics.conversions_value': ['conversions_value_text', 'conversion_value'],
    'segments.date': ['performance_date_text', 'performance_date'],
    'extracted_at': ['extracted_at_text', 'extracted_at'],
} -%}

{{ config(materialized='view') }}

with

source as (

    select * from {{ source('google_ads', 'ad_group_ad_performance') }}

),

renamed as (

    select
        filename as source_file,
        nullif({{ adscore.trim_blank('"ad_group_ad.ad.id"') }}, '') as native_ad_id,
        nullif({{ adscore.trim_blank('"ad_group.id"') }}, '') as native_ad_set_id,
        nullif({{ adscore.trim_blank('"campaign.id"') }}, '') as native_campaign_id,
        nullif({{ adscore.trim_blank('"customer.id"') }}, '') as native_account_id,
        upper({{ adscore.trim_blank('"customer.currency_code"') }}) as currency_code,
        "metrics.impressions" as impressions_text,
        "metrics.clicks" as clicks_text,
        "metrics.cost_micros" as cost_micros_text,
        "metrics.conversions" as conversions_text,
        "metrics.conversions_value" as conversions_value_text,
        "segments.date" as performance_date_text,
        extracted_at as extracted_at_text

    from source

),

parsed as (

    select
        *,
        {{ adscore.parse_integer('impressions_text') }} as impressions,
        {{ adscore.parse_integer('clicks_text') }} as clicks,
        {{ adscore.micros_to_currency(adscore.parse_integer('cost_micros_text')) }} as spend,
        {{ adscore.or_zero_when_empty(
            'conversions_text', adscore.parse_number('conversions_text', 'double')
        ) }} as conversions,
        {{ adscore.or_zero_when_empty(
            'conversions_value_text', adscore.parse_number('conversions_value_text')
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
        'google_ads.ad_group_ad_performance' as source_name,
        source_file,
        'google_ads:' || native_ad_id as ad_id,
        'google_ads:' || native_ad_set_id as ad_set_id,
        'google_ads:' || native_campaign_id as campaign_id,
        'google_ads:' || native_account_id as account_id,
        'google_ads' as source_platform,
        'google' as platform,
        currency_code,
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
