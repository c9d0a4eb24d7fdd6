{% test unique_combination(model, columns) %}
    {#- No two rows share the same values of `columns` (a composite primary key). -#}
    select
        {{ columns | join(', ') }},
        count(*) as n_rows
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
