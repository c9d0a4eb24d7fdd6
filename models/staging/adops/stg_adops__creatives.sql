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

extracted as (

    select
        source_file,
        raw_record,
        is_valid_json,
        {{ adscore.json_texts('raw_record', [
            '$.source_platform', '$.creative_id', '$.headline', '$.body', '$.call_to_action',
            '$.image.dominant_color', '$.image.width', '$.image.height', '$.image.text_overlay_pct',
            '$.image.has_people', '$.updated_at',
        ]) }} as fields

    from validated

),

renamed as (

    select
        source_file,
        case when not is_valid_json then raw_record end as raw_record,
        is_valid_json,
        lower({{ adscore.trim_blank('fields[1]') }}) || ':'
        || {{ adscore.trim_blank('fields[2]') }} as creative_id,
        fields[3] as headline,
        fields[4] as body,
        lower({{ adscore.trim_blank('fields[5]') }}) as call_to_action,
        lower({{ adscore.trim_blank('fields[6]') }}) as image_dominant_color,
        {{ adscore.parse_integer('fields[7]') }} as image_width,
        {{ adscore.parse_integer('fields[8]') }} as image_height,
        {{ adscore.parse_number('fields[9]', 'double') }} as image_text_overlay_pct,
        {{ adscore.try_cast('fields[10]', 'boolean') }} as image_has_people,
        {{ adscore.parse_timestamp('fields[11]') }} as updated_at

    from extracted

)

select * from renamed
