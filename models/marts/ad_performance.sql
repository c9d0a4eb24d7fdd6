with

ads as (

    select * from {{ ref('int_ads_joined') }}

),

performance as (

    select * from {{ ref('int_ad_performance_aggregated') }}

),

labels as (

    select * from {{ ref('int_ad_scores_labeled') }}

),

final as (

    select
        ads.ad_id,
        ads.account_id,
        ads.campaign_id,
        ads.ad_set_id,
        ads.platform,
        ads.objective,
        ads.platform_objective,
        ads.account_name,
        ads.vertical,
        ads.ad_format,
        ads.call_to_action,
        ads.audience_type,
        ads.headline,
        coalesce(performance.impressions, 0) as impressions,
        coalesce(performance.clicks, 0) as clicks,
        coalesce(performance.conversions, 0) as conversions,
        cast(coalesce(performance.spend, 0) as double) as spend,
        cast(coalesce(performance.conversion_value, 0) as double) as conversion_value,
        coalesce(performance.likes, 0) as likes,
        coalesce(performance.comments, 0) as comments,
        coalesce(performance.shares, 0) as shares,
        coalesce(performance.active_days, 0) as active_days,
        labels.ctr,
        labels.cvr,
        labels.roas,
        labels.ad_score,
        labels.is_label_reliable,
        ads.launch_date,
        performance.first_performance_date,
        performance.last_performance_date

    from ads
    left join performance on ads.ad_id = performance.ad_id
    left join labels on ads.ad_id = labels.ad_id

)

select * from final
