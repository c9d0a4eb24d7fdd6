{% test one_value_per_key(model, key, columns) %}
    {#-
        Every non-null `key` has one value of each of `columns` across its rows (an
        advertiser's vertical and size band across its campaigns); the failures list the key,
        the values and the files that disagree.
    -#}
    select
        {{ key }},
        {%- for column in columns %}
        list(distinct {{ column }} order by {{ column }}) as {{ column }}_values,
        {%- endfor %}
        list(distinct source_file order by source_file) as source_files,
        count(*) as n_rows
    from {{ model }}
    where {{ key }} is not null
    group by {{ key }}
    having
        {%- for column in columns %}
        count(distinct {{ column }}) > 1 {{ "or" if not loop.last }}
        {%- endfor %}
{% endtest %}
