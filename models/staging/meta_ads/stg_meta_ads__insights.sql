with

source as (

    select * from {{ source('meta_ads', 'ads_insights') }}

),

renamed as (

    select
        'meta:' || ad_id as ad_id,
        'meta:' || adset_id as ad_set_id,
        'meta:' || campaign_id as campaign_id,
        'meta:' || account_id as account_id,
        'meta' as source_platform,
        lower(publisher_platform) as platform,
        upper(account_currency) as currency_code,
        cast(impressions as bigint) as impressions,
        cast(clicks as bigint) as clicks,
        cast(spend as decimal(18, 6)) as spend,
        {{ meta_action_total('actions', 'offsite_conversion.fb_pixel_purchase') }} as conversions,
        {{ meta_action_total('action_values', 'offsite_conversion.fb_pixel_purchase') }}
            as conversion_value,
        {{ meta_action_total('actions', 'post_engagement') }} as engagements,
        cast(date_start as date) as performance_date,
        cast(extracted_at as timestamp) as extracted_at

    from source

)

select * from renamed
