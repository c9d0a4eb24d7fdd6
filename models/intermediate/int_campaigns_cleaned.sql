-- Campaign configuration with impossible date ranges repaired: an end date before the start
-- date is unknowable, so it becomes null and the row is flagged (never silently kept).
with

campaigns as (

    select * from {{ ref('stg_adops__campaigns') }}

),

cleaned as (

    select
        * exclude (campaign_end_date),
        case
            when campaign_end_date >= campaign_start_date or campaign_start_date is null
                then campaign_end_date
        end as campaign_end_date,
        coalesce(campaign_end_date < campaign_start_date, false) as has_invalid_end_date

    from campaigns

)

select * from cleaned
