{{ config(post_hook="{{ adscore.persist_csv_rejects('adops', 'ad_sets') }}") }}

with

source as (

    select * from {{ source('adops', 'ad_sets') }}

),

renamed as (

    select
        filename as source_file,
        lower(trim(source_platform)) || ':' || trim(ad_set_id) as ad_set_id,
        lower(trim(source_platform)) || ':' || trim(campaign_id) as campaign_id,
        lower(trim(publisher_platform)) as platform,
        lower(trim(audience_type)) as audience_type,
        lower(trim(gender)) as gender,
        upper(trim(geo)) as geo,
        coalesce(interests, '') as interests,
        {{ adscore.parse_integer('age_min') }} as age_min,
        {{ adscore.parse_integer('age_max') }} as age_max,
        {{ adscore.parse_integer('estimated_audience_size') }} as estimated_audience_size,
        {{ adscore.parse_timestamp('updated_at') }} as updated_at

    from source

)

select * from renamed
