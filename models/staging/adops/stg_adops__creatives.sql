with

source as (

    select * from {{ source('adops', 'creatives') }}

),

renamed as (

    select
        source_platform || ':' || creative_id as creative_id,
        headline,
        body,
        lower(call_to_action) as call_to_action,
        lower(image.dominant_color) as image_dominant_color,
        cast(image.width as integer) as image_width,
        cast(image.height as integer) as image_height,
        cast(image.text_overlay_pct as double) as image_text_overlay_pct,
        cast(image.has_people as boolean) as image_has_people,
        cast(updated_at as timestamp) as updated_at

    from source

)

select * from renamed
