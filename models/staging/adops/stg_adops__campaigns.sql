{{ config(post_hook="{{ adscore.persist_csv_rejects('adops', 'campaigns') }}") }}

with

source as (

    select * from {{ source('adops', 'campaigns') }}

),

renamed as (

    select
        filename as source_file,
        lower(trim(source_platform)) || ':' || trim(campaign_id) as campaign_id,
        lower(trim(source_platform)) || ':' || trim(account_id) as account_id,
        nullif(trim(advertiser_id), '') as advertiser_id,
        lower(trim(source_platform)) as source_platform,
        account_name,
        lower(trim(vertical)) as vertical,
        lower(trim(account_size_band)) as account_size_band,
        campaign_name,
        upper(trim(objective)) as platform_objective,
        upper(trim(budget_currency)) as budget_currency,
        {{ adscore.parse_number('daily_budget', 'decimal(18, 2)') }} as campaign_daily_budget,
        {{ adscore.parse_date('start_date') }} as campaign_start_date,
        {{ adscore.parse_date('end_date') }} as campaign_end_date,
        {{ adscore.parse_timestamp('updated_at') }} as updated_at

    from source

)

select * from renamed
