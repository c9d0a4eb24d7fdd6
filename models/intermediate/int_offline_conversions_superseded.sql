{#-
    The usable first-party feed rows that a later delivery of the same ad-day replaces (an
    unknown time counts as the earliest; of identical re-deliveries one is kept, which one
    being immaterial).  Only the rows' keys; int_offline_conversions_validated joins them back.
-#}
with

usable as (

    select
        row_key,
        ad_id,
        performance_date,
        received_at,
        source_file
    from {{ ref('int_offline_conversions_checked') }}
    where rejection_reason is null

),

ranked as (

    select
        *,
        row_number() over (
            partition by ad_id, performance_date
            order by received_at desc nulls last, source_file desc
        ) as delivery_rank
    from usable

),

final as (

    select
        row_key,
        ad_id,
        performance_date,
        received_at,
        delivery_rank
    from ranked
    where delivery_rank > 1

)

select * from final
