{%- set parsed_fields = {
    'call_to_action': ['fields[5]', 'call_to_action'],
    'image.dominant_color': ['fields[6]', 'image_dominant_color'],
    'image.width': ['fields[7]', 'image_width'],
    'image.height': ['fields[8]', 'image_height'],
    'image.text_overlay_pct': ['fields[9]', 'image_text_overlay_pct'],
    'image.has_people': ['fields[10]', 'image_has_people'],
    'updated_at': ['fields[11]', 'updated_at'],
} -%}

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
        fields,
        lower({{ adscore.value_or_null_marker('fields[5]') }}) as call_to_action,
        lower({{ adscore.value_or_null_marker('fields[6]') }}) as image_dominant_color,
        {{ adscore.parse_integer('fields[7]') }} as image_width,
        {{ adscore.parse_integer('fields[8]') }} as image_height,
        {{ adscore.parse_number('fields[9]', 'double') }} as image_text_overlay_pct,
        {{ adscore.try_cast('fields[10]', 'boolean') }} as image_has_people,
        {{ adscore.parse_timestamp('fields[11]') }} as updated_at

    from extracted

),

checked as (

    select
        *,
        {{ adscore.parse_errors(parsed_fields) }} as parse_error_fields
    from renamed

),

final as (

    select
        source_file,
        raw_record,
        is_valid_json,
        creative_id,
        headline,
        body,
        call_to_action,
        image_dominant_color,
        image_width,
        image_height,
        image_text_overlay_pct,
        image_has_people,
        updated_at,
        parse_error_fields as parse_errors,
        case
            when parse_error_fields is not null then {{ adscore.text_record(parsed_fields) }}
        end as unparsed_values

    from checked

)

select * from final
