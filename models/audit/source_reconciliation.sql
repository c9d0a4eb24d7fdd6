{#-
    Per source: raw rows (parsed by the reader + lines it rejected) = clean rows + rejected
    rows + removed duplicates.  A test requires is_reconciled for every source.
-#}
{%- set raw_sources = adscore.raw_sources() -%}

with

outcomes as (

    select * from {{ ref('raw_row_outcomes') }}

),

performance as (

    select * from {{ ref('int_ad_daily_performance_validated') }}

),

offline_conversions as (

    select * from {{ ref('int_offline_conversions_validated') }}

),

-- Rows the reader parsed, per source (every parsed row is kept by the validated models).
parsed_counts as (

    select
        source_name,
        count(*) as n_rows
    from performance
    group by source_name

    union all

    select
        'conversions.offline_conversions' as source_name,
        count(*) as n_rows
    from offline_conversions

    {% for s in raw_sources if s.source == 'adops' %}
        union all

        select
            '{{ s.source }}.{{ s.table }}' as source_name,
            count(*) as n_rows
        from {{ ref(s.staging) }}
    {% endfor %}

),

-- Lines the reader rejected, per source.
rejected_line_counts as (

    {% for s in raw_sources %}
        select
            '{{ s.source }}.{{ s.table }}' as source_name,
            count(*) as n_rows
        from {{ source('csv_rejects', 'csv_rejects__' ~ s.source ~ '__' ~ s.table) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

raw_counts as (

    select
        source_name,
        sum(n_rows) as raw_rows
    from (
        select * from parsed_counts
        union all
        select * from rejected_line_counts
    ) as counted
    group by source_name

),

outcome_totals as (

    select
        source_name,
        sum(case when outcome = 'clean' then n_rows else 0 end) as clean_rows,
        sum(case when outcome = 'duplicate' then n_rows else 0 end) as removed_duplicates,
        sum(case when outcome not in ('clean', 'duplicate') then n_rows else 0 end) as rejected_rows
    from outcomes
    group by source_name

),

final as (

    select
        raw_counts.source_name,
        raw_counts.raw_rows,
        coalesce(outcome_totals.clean_rows, 0) as clean_rows,
        coalesce(outcome_totals.rejected_rows, 0) as rejected_rows,
        coalesce(outcome_totals.removed_duplicates, 0) as removed_duplicates,
        raw_counts.raw_rows = coalesce(outcome_totals.clean_rows, 0)
        + coalesce(outcome_totals.rejected_rows, 0)
        + coalesce(outcome_totals.removed_duplicates, 0) as is_reconciled

    from raw_counts
    left join outcome_totals on raw_counts.source_name = outcome_totals.source_name

)

select * from final
