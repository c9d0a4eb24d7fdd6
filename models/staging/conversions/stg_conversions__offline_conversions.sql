with

source as (

    select * from {{ source('conversions', 'offline_conversions') }}

),

renamed as (

    select
        source_platform || ':' || ad_id as ad_id,
        cast(offline_conversions as double) as offline_conversions,
        cast(offline_conversion_value as decimal(18, 6)) as offline_conversion_value,
        cast(likes as bigint) as likes,
        cast(comments as bigint) as comments,
        cast(shares as bigint) as shares,
        cast(event_date as date) as performance_date,
        cast(received_at as timestamp) as received_at

    from source

)

select * from renamed
