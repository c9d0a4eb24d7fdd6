{#-
    Meta's `actions` / `action_values` cells: JSON lists of {"action_type", "value", ...}
    entries.  Two steps, so that each cell is parsed once: meta_action_values reads the values
    of the entries of one action type into a list (a staging CTE column), meta_action_total
    adds them up.
-#}

{% macro meta_action_values(column, action_type) %}
    {#-
        The values of the entries of a Meta actions JSON list whose action_type matches, as a
        list of decimals (an element is NULL when its value is missing or not a number):
        empty when the cell is empty or blank (Meta omits actions that did not happen), JSON
        null, or a list without such an entry; NULL when the cell is not valid JSON or is JSON
        but not a list.
    -#}
    {{- return(adapter.dispatch('meta_action_values', 'adscore')(column, action_type)) -}}
{% endmacro %}

{% macro default__meta_action_values(column, action_type) %}
    {{ exceptions.raise_compiler_error("meta_action_values has no implementation for " ~ target.type) }}
{% endmacro %}

{% macro duckdb__meta_action_values(column, action_type) -%}
    {#-
        Branch order is for speed: most cells are valid JSON lists that name no such action
        (json_valid, a prefix and a substring test); only cells that are not valid JSON are
        trimmed, and json_type parses only the valid cells that do not start with '['.
    -#}
    {%- set entries -%}
        case
            {#- no entry can match: skip the parse (most rows carry no such action) #}
            when not contains({{ column }}, '{{ action_type }}') then []
            else list_transform(
                list_filter(
                    try(from_json({{ column }}, '[{"action_type": "VARCHAR", "value": "VARCHAR"}]')),
                    lambda a: a.action_type = '{{ action_type }}'
                ),
                lambda a: try_cast(a.value as decimal(18, 6))
            )
        end
    {%- endset %}
    case
        when {{ column }} is null or {{ column }} = '' then []
        when not json_valid({{ column }}) then case when {{ adscore.blanks_removed(column) }} = '' then [] end
        {#- a CASE, not an `or`: DuckDB evaluated both sides of an `or` for every row #}
        when case when {{ column }} like '[%' then true else json_type({{ column }}) = 'ARRAY' end
            then {{ entries }}
        when json_type({{ column }}) = 'NULL' then []
    end
{%- endmacro %}

{% macro meta_action_total(values) %}
    {#-
        The sum of a meta_action_values list: 0 when it is empty; NULL, so that parse_errors
        flags the row, when the list is NULL or one of its values is (nothing is read as 0
        that said otherwise).
    -#}
    {{- return(adapter.dispatch('meta_action_total', 'adscore')(values)) -}}
{% endmacro %}

{% macro default__meta_action_total(values) %}
    {{ exceptions.raise_compiler_error("meta_action_total has no implementation for " ~ target.type) }}
{% endmacro %}

{% macro duckdb__meta_action_total(values) -%}
    case
        when {{ values }} is null then null
        when len({{ values }}) = 0 then 0
        when list_bool_or(list_transform({{ values }}, lambda value: value is null)) then null
        else list_sum({{ values }})
    end
{%- endmacro %}
