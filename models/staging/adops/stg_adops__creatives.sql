{{ config(post_hook="{{ adscore.persist_csv_rejects('adops', 'creatives') }}") }}

with

source as (

    select * from {{ source('adops', 'creatives') }}

),

validated as (

    select
        filename as source_file,
        json_line as raw_record,
        {{ adscore.is_valid_json('json_line') }} as is_valid_json

    from source

),

renamed as (

    select
        source_file,
        case when not is_valid_json then raw_record end as raw_record,
        is_valid_json,
        lower(trim({{ adscore.json_text('raw_record', '$.source_platform') }})) || ':'
        || trim({{ adscore.json_text('raw_record', '$.creative_id') }}) as creative_id,
        {{ adscore.json_text('raw_record', '$.headline') }} as headline,
        {{ adscore.json_text('raw_record', '$.body') }} as body,
        lower(trim({{ adscore.json_text('raw_record', '$.call_to_action') }})) as call_to_action,
        lower(trim({{ adscore.json_text('raw_record', '$.image.dominant_color') }})) as image_dominant_color,
        {{ adscore.parse_integer(adscore.json_text('raw_record', '$.image.width')) }} as image_width,
        {{ adscore.parse_integer(adscore.json_text('raw_record', '$.image.height')) }} as image_height,
        {{ adscore.parse_number(adscore.json_text('raw_record', '$.image.text_overlay_pct'), 'double') }}
            as image_text_overlay_pct,
        {{ adscore.try_cast(adscore.json_text('raw_record', '$.image.has_people'), 'boolean') }}
            as image_has_people,
        {{ adscore.parse_timestamp(adscore.json_text('raw_record', '$.updated_at')) }} as updated_at

    from validated

)

select * from renamed
