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
            order by extracted_at desc, source_file desc, raw_record
        ) as extraction_rank

    from validated
    where rejection_reason is null

),

final as (

    select
        * exclude (extraction_rank),
        extraction_rank > 1 as is_superseded

    from ranked

)

select * from final
