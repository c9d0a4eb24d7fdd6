-- Usable delivery rows, each flagged when a later (or identical) extraction of the same
-- ad, day and publisher platform exists: re-exports supersede earlier extractions.
with

validated as (

    select * from {{ ref('int_ad_daily_performance_validated') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by source_name, ad_id, performance_date, platform
            order by extracted_at desc, source_file desc, raw_record asc
        ) as extraction_rank

    from validated
    where rejection_reason is null

),

final as (

    select
        source_name,
        source_file,
        ad_id,
        account_id,
        campaign_id,
        ad_set_id,
        source_platform,
        platform,
        currency_code,
        raw_record,
        parse_errors,
        impressions,
        clicks,
        spend,
        conversions,
        conversion_value,
        performance_date,
        extracted_at,
        cpm_robust_z,
        rejection_reason,
        extraction_rank > 1 as is_superseded

    from ranked

)

select * from final
