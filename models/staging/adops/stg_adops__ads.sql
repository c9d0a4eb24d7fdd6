with

source as (

    select * from {{ source('adops', 'ads') }}

),

renamed as (

    select
        source_platform || ':' || ad_id as ad_id,
        source_platform || ':' || ad_set_id as ad_set_id,
        source_platform || ':' || creative_id as creative_id,
        lower(format) as ad_format,
        cast(daily_budget as decimal(18, 2)) as ad_daily_budget,
        cast(launch_date as date) as launch_date,
        cast(planned_end_date as date) as planned_end_date,
        cast(updated_at as timestamp) as updated_at

    from source

)

select * from renamed
