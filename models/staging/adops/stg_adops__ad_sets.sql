{%- set parsed_fields = {
    'publisher_platform': ['publisher_platform', 'platform'],
    'audience_type': ['audience_type_text', 'audience_type'],
    'gender': ['gender_text', 'gender'],
    'geo': ['geo_text', 'geo'],
    'interests': ['interests_text', 'interests_or_null'],
    'age_min': ['age_min_text', 'age_min'],
    'age_max': ['age_max_text', 'age_max'],
    'estimated_audience_size': ['estimated_audience_size_text', 'estimated_audience_size'],
    'updated_at': ['updated_at_text', 'updated_at'],
} -%}

{{ config(post_hook="{{ adscore.persist_csv_rejects('adops', 'ad_sets') }}") }}

with

source as (

    select * from {{ source('adops', 'ad_sets') }}

),

renamed as (

    select
        filename as source_file,
        lower({{ adscore.trim_blank('source_platform') }}) || ':'
        || {{ adscore.trim_blank('ad_set_id') }} as ad_set_id,
        lower({{ adscore.trim_blank('source_platform') }}) || ':'
        || {{ adscore.trim_blank('campaign_id') }} as campaign_id,
        publisher_platform,
        lower({{ adscore.value_or_null_marker('publisher_platform') }}) as platform,
        audience_type as audience_type_text,
        lower({{ adscore.value_or_null_marker('audience_type') }}) as audience_type,
        gender as gender_text,
        lower({{ adscore.value_or_null_marker('gender') }}) as gender,
        geo as geo_text,
        upper({{ adscore.value_or_null_marker('geo') }}) as geo,
        interests as interests_text,
        {{ adscore.value_or_null_marker('interests') }} as interests_or_null,
        -- blank (or a placeholder, reported) = no interest targeting
        coalesce({{ adscore.value_or_null_marker('interests') }}, '') as interests,
        age_min as age_min_text,
        age_max as age_max_text,
        estimated_audience_size as estimated_audience_size_text,
        updated_at as updated_at_text

    from source

),

parsed as (

    select
        *,
        {{ adscore.parse_integer('age_min_text') }} as age_min,
        {{ adscore.parse_integer('age_max_text') }} as age_max,
        {{ adscore.parse_integer('estimated_audience_size_text') }} as estimated_audience_size,
        {{ adscore.parse_timestamp('updated_at_text') }} as updated_at

    from renamed

),

checked as (

    select
        *,
        {{ adscore.parse_errors(parsed_fields) }} as parse_error_fields
    from parsed

),

final as (

    select
        source_file,
        ad_set_id,
        campaign_id,
        platform,
        audience_type,
        gender,
        geo,
        interests,
        age_min,
        age_max,
        estimated_audience_size,
        updated_at,
        parse_error_fields as parse_errors,
        case
            when parse_error_fields is not null then {{ adscore.text_record(parsed_fields) }}
        end as unparsed_values

    from checked

)

select * from final
