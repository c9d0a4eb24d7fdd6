with

source as (

    select * from {{ source('tiktok_ads', 'ad_report') }}

),

renamed as (

    select
        'tiktok:' || dimensions.ad_id as ad_id,
        'tiktok:' || metrics.adgroup_id as ad_set_id,
        'tiktok:' || metrics.campaign_id as campaign_id,
        'tiktok:' || metrics.advertiser_id as account_id,
        'tiktok' as source_platform,
        'tiktok' as platform,
        upper(metrics.currency) as currency_code,
        cast(metrics.impressions as bigint) as impressions,
        cast(metrics.clicks as bigint) as clicks,
        cast(metrics.spend as decimal(18, 6)) as spend,
        cast(metrics.conversion as double) as conversions,
        cast(metrics.total_purchase_value as decimal(18, 6)) as conversion_value,
        cast(cast(dimensions.stat_time_day as timestamp) as date) as performance_date,
        cast(extracted_at as timestamp) as extracted_at

    from source

)

select * from renamed
