{% macro grouped_median_ctes(name, values_sql, bins_per_unit=1024) %}
    {#-
        Exact median per group in bounded memory, as CTEs ending in `<name>` (grp,
        median_value, n_values, mean_value).  `values_sql` selects `grp` and a non-null
        numeric `v`.  The mean comes from the bins' sums, at no extra pass.

        A median aggregate keeps every value of a group in memory and cannot spill (at 100M
        delivery rows DuckDB ran out of memory under a 1.5 GB limit).  Here: count the values
        per fixed-width bin (floor(v x bins_per_unit)), find from the running counts the bin(s)
        holding the middle rank(s), and sort only the values in those bins.  Exact for any
        distribution (a bin holding most values is just a bigger, spillable sort); the even
        case interpolates as lo + (hi - lo) / 2, as DuckDB's median does.  Plain SQL (window
        functions, floor): portable.  `values_sql` is read twice; it should scan a table.
    -#}
    {{ name }}_bins as (

        select
            grp,
            floor(v * {{ bins_per_unit }}) as bin,
            count(*) as n_bin,
            sum(v) as sum_bin
        from ({{ values_sql }}) as values_
        group by grp, floor(v * {{ bins_per_unit }})

    ),

    {{ name }}_targets as (

        select
            grp,
            bin,
            n_bin,
            coalesce(sum(n_bin) over (
                partition by grp order by bin rows between unbounded preceding and 1 preceding
            ), 0) as n_below,
            sum(n_bin) over (partition by grp) as n_values
        from {{ name }}_bins

    ),

    {{ name }}_middle_bins as (

        select
            grp,
            bin,
            n_below,
            n_values,
            rank_low,
            rank_high
        from (
            select
                *,
                floor((n_values + 1) / 2.0) as rank_low,
                floor(n_values / 2.0) + 1 as rank_high
            from {{ name }}_targets
        ) as targets
        where
            (n_below < rank_low and rank_low <= n_below + n_bin)
            or (n_below < rank_high and rank_high <= n_below + n_bin)

    ),

    {{ name }}_ranked as (

        select
            values_.grp,
            values_.v,
            middle.rank_low,
            middle.rank_high,
            middle.n_values,
            middle.n_below + row_number() over (
                partition by values_.grp, middle.bin order by values_.v
            ) as value_rank
        from ({{ values_sql }}) as values_
        inner join {{ name }}_middle_bins as middle
            on
                values_.grp = middle.grp
                and floor(values_.v * {{ bins_per_unit }}) = middle.bin

    ),

    {{ name }}_means as (

        select
            grp,
            sum(sum_bin) / sum(n_bin) as mean_value
        from {{ name }}_bins
        group by grp

    ),

    {{ name }} as (

        select
            medians.grp,
            medians.median_value,
            medians.n_values,
            means.mean_value
        from (
            select
                grp,
                min(v) + (max(v) - min(v)) / 2 as median_value,
                max(n_values) as n_values
            from {{ name }}_ranked
            where value_rank in (rank_low, rank_high)
            group by grp
        ) as medians
        inner join {{ name }}_means as means on medians.grp = means.grp

    )
{% endmacro %}
