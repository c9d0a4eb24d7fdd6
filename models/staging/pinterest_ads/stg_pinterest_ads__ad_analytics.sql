with

source as (

    select * from {{ source('pinterest_ads', 'ad_analytics') }}

),

renamed as (

    select
        'pinterest:' || ad_id as ad_id,
        'pinterest:' || ad_group_id as ad_set_id,
        'pinterest:' || campaign_id as campaign_id,
        'pinterest:' || advertiser_id as account_id,
        'pinterest' as source_platform,
        'pinterest' as platform,
        'USD' as currency_code,
        cast(impression_1 as bigint) as impressions,
        cast(clickthrough_1 as bigint) as clicks,
        {{ micros_to_currency('spend_in_micro_dollar') }} as spend,
        cast(total_checkout as double) as conversions,
        {{ micros_to_currency('total_checkout_value_in_micro_dollar') }} as conversion_value,
        cast(date as date) as performance_date,
        cast(extracted_at as timestamp) as extracted_at

    from source

)

select * from renamed
