{%- set parsed_fields = {
    'advertiser_id': ['advertiser_id_text', 'advertiser_id'],
    'vertical': ['vertical_text', 'vertical'],
    'account_size_band': ['account_size_band_text', 'account_size_band'],
    'objective': ['objective_text', 'platform_objective'],
    'budget_currency': ['budget_currency_text', 'budget_currency'],
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
        advertiser_id as advertiser_id_text,
        {{ adscore.value_or_null_marker('advertiser_id') }} as advertiser_id,
        lower({{ adscore.trim_blank('source_platform') }}) as source_platform,
        account_name,
        vertical as vertical_text,
        lower({{ adscore.value_or_null_marker('vertical') }}) as vertical,
        account_size_band as account_size_band_text,
        lower({{ adscore.value_or_null_marker('account_size_band') }}) as account_size_band,
        campaign_name,
        objective as objective_text,
        upper({{ adscore.value_or_null_marker('objective') }}) as platform_objective,
        budget_currency as budget_currency_text,
        upper({{ adscore.value_or_null_marker('budget_currency') }}) as budget_currency,
        daily_budget as daily_budget_text,
        start_date as start_date_text,
        end_date as end_date_text,
        updated_at as updated_at_text,
        {{ adscore.has_day_first_dates(['start_date', 'end_date'], 'filename') }} as day_first_file

    from source

),

parsed as (

    select
        *,
        {{ adscore.parse_number('daily_budget_text', 'decimal(18, 2)') }} as campaign_daily_budget,
        {{ adscore.parse_date_in_file('start_date_text', 'day_first_file') }} as campaign_start_date,
        {{ adscore.parse_date_in_file('end_date_text', 'day_first_file') }} as campaign_end_date,
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
