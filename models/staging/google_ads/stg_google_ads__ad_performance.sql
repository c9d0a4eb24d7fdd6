with

source as (

    select * from {{ source('google_ads', 'ad_group_ad_performance') }}

),

renamed as (

    select
        'google_ads:' || "ad_group_ad.ad.id" as ad_id,
        'google_ads:' || "ad_group.id" as ad_set_id,
        'google_ads:' || "campaign.id" as campaign_id,
        'google_ads:' || "customer.id" as account_id,
        'google_ads' as source_platform,
        'google' as platform,
        upper("customer.currency_code") as currency_code,
        cast("metrics.impressions" as bigint) as impressions,
        cast("metrics.clicks" as bigint) as clicks,
        {{ micros_to_currency('"metrics.cost_micros"') }} as spend,
        cast("metrics.conversions" as double) as conversions,
        cast("metrics.conversions_value" as decimal(18, 6)) as conversion_value,
        cast("segments.date" as date) as performance_date,
        cast(extracted_at as timestamp) as extracted_at

    from source

)

select * from renamed
