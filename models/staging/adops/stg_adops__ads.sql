{{ config(post_hook="{{ adscore.persist_csv_rejects('adops', 'ads') }}") }}

with

source as (

    select * from {{ source('adops', 'ads') }}

),

renamed as (

    select
        filename as source_file,
        lower(trim(source_platform)) || ':' || trim(ad_id) as ad_id,
        lower(trim(source_platform)) || ':' || trim(ad_set_id) as ad_set_id,
        lower(trim(source_platform)) || ':' || trim(creative_id) as creative_id,
        lower(trim(format)) as ad_format,
        {{ adscore.parse_number('daily_budget', 'decimal(18, 2)') }} as ad_daily_budget,
        {{ adscore.parse_date('launch_date') }} as launch_date,
        {{ adscore.parse_date('planned_end_date') }} as planned_end_date,
        {{ adscore.parse_timestamp('updated_at') }} as updated_at

    from source

)

select * from renamed
