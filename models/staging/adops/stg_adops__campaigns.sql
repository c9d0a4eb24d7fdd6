{%- set parsed_fields = {
    'daily_budget': ['daily_budget_text', 'campaign_daily_budget'],
    'start_date': ['start_date_text', 'campaign_start_date'],
    'end_date': ['end_date_text', 'campaign_end_date'],
    'updated_at': ['updated_at_text', 'updated_at'],
} -%}

{{ config(post_hook="{{ adscore.persist_csv_rejects('adops', 'campaigns') }}") }}

with

source as (

    select * from {{ source('adops', 'campaigns') }}

),

renamed as (

    select
        filename as source_file,
        lower({{ adscore.trim_blank('source_platform') }}) || ':'
        || {{ adscore.trim_blank('campaign_id') }} as campaign_id,
        lower({{ adscore.trim_blank('source_platform') }}) || ':'
        || {{ adscore.trim_blank('account_id') }} as account_id,
        nullif({{ adscore.trim_blank('advertiser_id') }}, '') as advertiser_id,
        lower({{ adscore.trim_blank('source_platform') }}) as source_platform,
        account_name,
        lower({{ adscore.trim_blank('vertical') }}) as vertical,
        lower({{ adscore.trim_blank('account_size_band') }}) as account_size_band,
        campaign_name,
        upper({{ adscore.trim_blank('objective') }}) as platform_objective,
        upper({{ adscore.trim_blank('budget_currency') }}) as budget_currency,
        daily_budget as daily_budget_text,
        start_date as start_date_text,
        end_date as end_date_text,
        updated_at as updated_at_text

    from source

),

parsed as (

    select
        *,
        {{ adscore.parse_number('daily_budget_text', 'decimal(18, 2)') }} as campaign_daily_budget,
        {{ adscore.parse_date('start_date_text') }} as campaign_start_date,
        {{ adscore.parse_date('end_date_text') }} as campaign_end_date,
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
        campaign_id,
        account_id,
        advertiser_id,
        source_platform,
        account_name,
        vertical,
        account_size_band,
        campaign_name,
        platform_objective,
        budget_currency,
        campaign_daily_budget,
        campaign_start_date,
        campaign_end_date,
        updated_at,
        parse_error_fields as parse_errors,
        case
            when parse_error_fields is not null then {{ adscore.text_record(parsed_fields) }}
        end as unparsed_values

    from checked

)

select * from final
