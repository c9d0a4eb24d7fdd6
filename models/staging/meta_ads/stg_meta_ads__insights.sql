{%- set parsed_fields = {
    'impressions': ['impressions_text', 'impressions'],
    'clicks': ['clicks_text', 'clicks'],
    'spend': ['spend_text', 'spend'],
    'actions': ['actions_json', 'conversions'],
    'action_values': ['action_values_json', 'conversion_value'],
    'date_start': ['performance_date_text', 'performance_date'],
    'date_stop': ['performance_end_date_text', 'performance_end_date'],
    'extracted_at': ['extracted_at_text', 'extracted_at'],
} -%}

{{ config(materialized='view') }}

with

source as (

    select * from {{ source('meta_ads', 'ads_insights') }}

),

renamed as (

    select
        filename as source_file,
        nullif({{ adscore.trim_blank('ad_id') }}, '') as native_ad_id,
        nullif({{ adscore.trim_blank('adset_id') }}, '') as native_ad_set_id,
        nullif({{ adscore.trim_blank('campaign_id') }}, '') as native_campaign_id,
        nullif({{ adscore.trim_blank('account_id') }}, '') as native_account_id,
        nullif(lower({{ adscore.trim_blank('publisher_platform') }}), '') as platform,
        upper({{ adscore.trim_blank('account_currency') }}) as currency_code,
        impressions as impressions_text,
        clicks as clicks_text,
        spend as spend_text,
        actions as actions_json,
        action_values as action_values_json,
        date_start as performance_date_text,
        date_stop as performance_end_date_text,
        extracted_at as extracted_at_text

    from source

),

purchases as (

    -- Each JSON cell is parsed once, here: the values of its pixel-purchase entries.
    select
        *,
        {{ adscore.meta_action_values('actions_json', 'offsite_conversion.fb_pixel_purchase') }}
            as purchase_counts,
        {{ adscore.meta_action_values('action_values_json', 'offsite_conversion.fb_pixel_purchase') }}
            as purchase_values

    from renamed

),

parsed as (

    select
        *,
        {{ adscore.parse_integer('impressions_text') }} as impressions,
        {{ adscore.parse_integer('clicks_text') }} as clicks,
        {{ adscore.parse_number('spend_text') }} as spend,
        {{ adscore.meta_action_total('purchase_counts') }} as conversions,
        -- NULL (a parse error) when the sum does not fit the money type: no failed build.
        {{ adscore.try_cast(
            adscore.meta_action_total('purchase_values'), 'decimal(18, 6)'
        ) }} as conversion_value,
        {{ adscore.parse_date('performance_date_text') }} as performance_date,
        {{ adscore.parse_date('performance_end_date_text') }} as performance_end_date,
        {{ adscore.parse_timestamp('extracted_at_text') }} as extracted_at

    from purchases

),

checked as (

    select
        *,
        {{ adscore.parse_errors(parsed_fields) }} as parse_error_fields
    from parsed

),

final as (

    select
        'meta_ads.ads_insights' as source_name,
        source_file,
        'meta:' || native_ad_id as ad_id,
        'meta:' || native_ad_set_id as ad_set_id,
        'meta:' || native_campaign_id as campaign_id,
        'meta:' || native_account_id as account_id,
        'meta' as source_platform,
        platform,
        currency_code,
        parse_error_fields as parse_errors,
        case
            when parse_error_fields is not null then {{ adscore.text_record(parsed_fields) }}
        end as unparsed_values,
        impressions,
        clicks,
        spend,
        cast(conversions as double) as conversions,
        cast(conversion_value as decimal(18, 6)) as conversion_value,
        performance_date,
        performance_end_date,
        extracted_at

    from checked

)

select * from final
