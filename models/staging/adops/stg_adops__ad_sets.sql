with

source as (

    select * from {{ source('adops', 'ad_sets') }}

),

renamed as (

    select
        source_platform || ':' || ad_set_id as ad_set_id,
        source_platform || ':' || campaign_id as campaign_id,
        lower(publisher_platform) as platform,
        lower(audience_type) as audience_type,
        lower(gender) as gender,
        upper(geo) as geo,
        coalesce(interests, '') as interests,
        cast(age_min as integer) as age_min,
        cast(age_max as integer) as age_max,
        cast(estimated_audience_size as bigint) as estimated_audience_size,
        cast(updated_at as timestamp) as updated_at

    from source

)

select * from renamed
