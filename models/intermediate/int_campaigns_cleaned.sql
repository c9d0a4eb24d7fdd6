-- Campaign configuration with impossible date ranges repaired: an end date before the start
-- date is unknowable, so it becomes null and the row is flagged (never silently kept).
with

campaigns as (

    select * from {{ ref('stg_adops__campaigns') }}

),

cleaned as (

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
        case
            when campaign_end_date >= campaign_start_date or campaign_start_date is null
                then campaign_end_date
        end as campaign_end_date,
        coalesce(campaign_end_date < campaign_start_date, false) as has_invalid_end_date,
        updated_at

    from campaigns

)

select * from cleaned
