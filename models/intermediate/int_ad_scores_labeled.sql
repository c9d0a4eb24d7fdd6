with

ads as (

    select * from {{ ref('int_ads_joined') }}

),

performance as (

    select * from {{ ref('int_ad_performance_aggregated') }}

),

objective_weights as (

    select * from {{ ref('ad_score_objective_weights') }}

),

rates as (

    select
        ads.ad_id,
        ads.platform,
        ads.objective,
        performance.impressions,
        performance.clicks,
        performance.conversions,
        performance.spend,
        performance.conversion_value,
        objective_weights.ctr_weight,
        objective_weights.cvr_weight,
        objective_weights.roas_weight,
        case
            when performance.impressions > 0
                then cast(performance.clicks as double) / performance.impressions
            else 0
        end as ctr,
        case
            when performance.clicks > 0
                then cast(performance.conversions as double) / performance.clicks
            else 0
        end as cvr,
        case
            when performance.spend > 0
                then cast(performance.conversion_value as double) / cast(performance.spend as double)
            else 0
        end as roas,
        coalesce(performance.impressions, 0) >= objective_weights.min_impressions as is_label_reliable

    from ads
    inner join objective_weights on ads.objective = objective_weights.objective
    left join performance on ads.ad_id = performance.ad_id

),

labeled as (

    select
        ad_id,
        {{ ad_score_label('ctr', 'cvr', 'roas', 'ctr_weight', 'cvr_weight', 'roas_weight',
                          ['platform', 'objective']) }} as ad_score
    from rates
    where is_label_reliable

),

final as (

    select
        rates.ad_id,
        rates.impressions,
        rates.clicks,
        rates.conversions,
        rates.spend,
        rates.conversion_value,
        rates.ctr,
        rates.cvr,
        rates.roas,
        labeled.ad_score,
        rates.is_label_reliable

    from rates
    left join labeled on rates.ad_id = labeled.ad_id

)

select * from final
