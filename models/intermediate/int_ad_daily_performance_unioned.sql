{%- set platform_models = [
    'stg_meta_ads__insights',
    'stg_google_ads__ad_performance',
    'stg_tiktok_ads__ad_report',
    'stg_pinterest_ads__ad_analytics',
] -%}

with

{% for platform_model in platform_models %}
    {{ platform_model }} as (

        select * from {{ ref(platform_model) }}

    ),

{% endfor %}
unioned as (

    {% for platform_model in platform_models %}
        select
            ad_id,
            account_id,
            campaign_id,
            ad_set_id,
            source_platform,
            currency_code,
            performance_date,
            extracted_at,
            impressions,
            clicks,
            spend,
            conversions,
            conversion_value
        from {{ platform_model }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

-- Meta breaks delivery down by publisher platform; one row per ad and day from here on.
per_ad_day as (

    select
        ad_id,
        account_id,
        campaign_id,
        ad_set_id,
        source_platform,
        currency_code,
        performance_date,
        max(extracted_at) as extracted_at,
        sum(impressions) as impressions,
        sum(clicks) as clicks,
        sum(spend) as spend,
        sum(conversions) as online_conversions,
        sum(conversion_value) as online_conversion_value

    from unioned
    group by ad_id, account_id, campaign_id, ad_set_id, source_platform, currency_code, performance_date

)

select * from per_ad_day
