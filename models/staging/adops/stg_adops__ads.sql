{%- set parsed_fields = {
    'format': ['ad_format_text', 'ad_format'],
    'daily_budget': ['daily_budget_text', 'ad_daily_budget'],
    'launch_date': ['launch_date_text', 'launch_date'],
    'planned_end_date': ['planned_end_date_text', 'planned_end_date'],
    'updated_at': ['updated_at_text', 'updated_at'],
} -%}

{{ config(post_hook="{{ adscore.persist_csv_rejects('adops', 'ads') }}") }}

with

source as (

    select * from {{ source('adops', 'ads') }}

),

renamed as (

    select
        filename as source_file,
        lower({{ adscore.trim_blank('source_platform') }}) || ':'
        || {{ adscore.trim_blank('ad_id') }} as ad_id,
        lower({{ adscore.trim_blank('source_platform') }}) || ':'
        || {{ adscore.trim_blank('ad_set_id') }} as ad_set_id,
        lower({{ adscore.trim_blank('source_platform') }}) || ':'
        || {{ adscore.trim_blank('creative_id') }} as creative_id,
        format as ad_format_text,
        lower({{ adscore.value_or_null_marker('format') }}) as ad_format,
        daily_budget as daily_budget_text,
        launch_date as launch_date_text,
        planned_end_date as planned_end_date_text,
        updated_at as updated_at_text,
        {{ adscore.has_day_first_dates(['launch_date', 'planned_end_date'], 'filename') }} as day_first_file

    from source

),

parsed as (

    select
        *,
        {{ adscore.parse_number('daily_budget_text', 'decimal(18, 2)') }} as ad_daily_budget,
        {{ adscore.parse_date_in_file('launch_date_text', 'day_first_file') }} as launch_date,
        {{ adscore.parse_date_in_file('planned_end_date_text', 'day_first_file') }} as planned_end_date,
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
        ad_id,
        ad_set_id,
        creative_id,
        ad_format,
        ad_daily_budget,
        launch_date,
        planned_end_date,
        updated_at,
        parse_error_fields as parse_errors,
        case
            when parse_error_fields is not null then {{ adscore.text_record(parsed_fields) }}
        end as unparsed_values

    from checked

)

select * from final
