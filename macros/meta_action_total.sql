{% macro meta_action_total(column, action_type) %}
    {#-
        Sum of `value` over the entries of a Meta actions JSON list whose action_type
        matches: 0 when the cell is empty or blank (Meta omits actions that did not happen),
        or JSON null, or a list without such an entry; NULL, so that parse_errors flags the
        row, when the cell is not valid JSON, is JSON but not a list, or has a matching entry
        whose value is missing or not a number (nothing is read as 0 that said otherwise).
    -#}
    {{- return(adapter.dispatch('meta_action_total', 'adscore')(column, action_type)) -}}
{% endmacro %}

{% macro default__meta_action_total(column, action_type) %}
    {{ exceptions.raise_compiler_error("meta_action_total has no implementation for " ~ target.type) }}
{% endmacro %}

{% macro duckdb__meta_action_total(column, action_type) -%}
    {#-
        Branch order is for speed: most cells are valid JSON lists that name no such action
        (0 after json_valid, a prefix and a substring test); only cells that are not valid JSON
        are trimmed, and json_type parses only the valid cells that do not start with '['.
        list_reduce adds the matching values and is NULL as soon as one of them is.
    -#}
    {%- set list_total -%}
        case
            {#- no entry can match: skip the parse (most rows carry no such action) #}
            when not contains({{ column }}, '{{ action_type }}') then 0
            else list_reduce(
                list_transform(
                    list_filter(
                        try(from_json({{ column }}, '[{"action_type": "VARCHAR", "value": "VARCHAR"}]')),
                        lambda a: a.action_type = '{{ action_type }}'
                    ),
                    lambda a: try_cast(a.value as decimal(18, 6))
                ),
                lambda total, value: total + value,
                cast(0 as decimal(18, 6))
            )
        end
    {%- endset %}
    case
        when {{ column }} is null or {{ column }} = '' then 0
        when not json_valid({{ column }}) then case when trim({{ column }}) = '' then 0 end
        when {{ column }} like '[%' then {{ list_total }}
        when json_type({{ column }}) = 'ARRAY' then {{ list_total }}
        when json_type({{ column }}) = 'NULL' then 0
    end
{%- endmacro %}
