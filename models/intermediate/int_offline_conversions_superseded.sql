{#-
    The usable first-party feed rows that a later delivery of the same ad-day replaces (an
    unknown time counts as the earliest).  Rows of the same ad-day, time and file are ordered by
    their content (the larger counts and value first), so the same exports always keep the same
    row whatever order the window met them in (row_key is random); of identical re-deliveries
    one is kept, which one being immaterial.  Only the rows' keys and the sort columns;
    int_offline_conversions_validated joins them back.
-#}
with

usable as (

    select
        row_key,
        ad_id,
        performance_date,
        received_at,
        source_file,
        offline_conversions,
        offline_conversion_value,
        likes,
        comments,
        shares
    from {{ ref('int_offline_conversions_checked') }}
    where rejection_reason is null

),

-- Only ad-days delivered more than once need ranking (see int_ad_daily_performance_superseded).
repeated_keys as (

    select
        ad_id,
        performance_date
    from usable
    group by ad_id, performance_date
    having count(*) > 1

),

ranked as (

    select
        usable.*,
        row_number() over (
            partition by usable.ad_id, usable.performance_date
            order by
                usable.received_at desc nulls last,
                usable.source_file desc,
                usable.offline_conversions desc nulls last,
                usable.offline_conversion_value desc nulls last,
                usable.likes desc nulls last,
                usable.comments desc nulls last,
                usable.shares desc nulls last
        ) as delivery_rank
    from usable
    where
        exists (
            select 1
            from repeated_keys
            where
                usable.ad_id = repeated_keys.ad_id
                and usable.performance_date = repeated_keys.performance_date
        )

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
