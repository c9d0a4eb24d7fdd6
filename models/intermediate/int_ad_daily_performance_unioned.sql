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
            source_name,
            source_file,
            ad_id,
            account_id,
            campaign_id,
            ad_set_id,
            source_platform,
            platform,
            currency_code,
            raw_record,
            parse_errors,
            impressions,
            clicks,
            spend,
            conversions,
            conversion_value,
            performance_date,
            extracted_at
        from {{ platform_model }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
