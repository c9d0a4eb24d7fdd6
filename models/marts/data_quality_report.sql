{#-
    Data quality per source and load (raw file): rows by outcome, and the source's reject
    rate against var max_reject_rate.  dbt build fails when a source is over it, and
    python -m ml.train refuses to train on such a warehouse.
-#}

with

outcomes as (

    select * from {{ ref('raw_row_outcomes') }}

),

source_rates as (

    select
        source_name,
        sum(n_rows) as source_raw_rows,
        sum(case when outcome not in ('clean', 'duplicate') then n_rows else 0 end) as source_rejected_rows
    from outcomes
    group by source_name

),

final as (

    select
        outcomes.source_name,
        outcomes.source_file,
        outcomes.outcome,
        outcomes.n_rows,
        source_rates.source_raw_rows,
        source_rates.source_rejected_rows,
        cast(source_rates.source_rejected_rows as double)
        / nullif(source_rates.source_raw_rows, 0) as source_reject_rate,
        cast({{ var('max_reject_rate') }} as double) as max_reject_rate,
        coalesce(
            cast(source_rates.source_rejected_rows as double) / nullif(source_rates.source_raw_rows, 0)
            > {{ var('max_reject_rate') }},
            false
        ) as is_source_over_threshold

    from outcomes
    inner join source_rates on outcomes.source_name = source_rates.source_name

)

select * from final
