with

source as (

    select * from {{ source('adops', 'campaigns') }}

),

renamed as (

    select
        source_platform || ':' || campaign_id as campaign_id,
        source_platform || ':' || account_id as account_id,
        lower(source_platform) as source_platform,
        account_name,
        lower(vertical) as vertical,
        lower(account_size_band) as account_size_band,
        campaign_name,
        upper(objective) as platform_objective,
        upper(budget_currency) as budget_currency,
        cast(daily_budget as decimal(18, 2)) as campaign_daily_budget,
        cast(start_date as date) as campaign_start_date,
        cast(end_date as date) as campaign_end_date,
        cast(updated_at as timestamp) as updated_at

    from source

)

select * from renamed
