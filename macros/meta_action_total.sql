{% macro meta_action_total(column, action_type) %}
    {#-
        Sum of `value` over the entries of a Meta actions JSON list whose action_type
        matches: 0 when the cell is empty (Meta omits actions that did not happen), NULL when
        the cell is not valid JSON (so parse_errors flags the row).
    -#}
    {{- return(adapter.dispatch('meta_action_total', 'adscore')(column, action_type)) -}}
{% endmacro %}

{% macro default__meta_action_total(column, action_type) %}
    {{ exceptions.raise_compiler_error("meta_action_total has no implementation for " ~ target.type) }}
{% endmacro %}

{% macro duckdb__meta_action_total(column, action_type) -%}
    {#-
        Branch order is for speed, the result is the same as checking emptiness first: most
        cells are valid JSON that names no such action (0 after json_valid and a substring
        test), and only cells that are not valid JSON reach the trim (a blank cell is 0,
        anything else NULL).  Trimming every cell first copied each JSON text once more.
    -#}
    case
        when {{ column }} is null or {{ column }} = '' then 0
        when json_valid({{ column }}) then
            case
                {#- no entry can match: skip the parse (most rows carry no such action) #}
                when not contains({{ column }}, '{{ action_type }}') then 0
                else coalesce(list_sum(list_transform(
                    list_filter(
                        try(from_json({{ column }}, '[{"action_type": "VARCHAR", "value": "VARCHAR"}]')),
                        lambda a: a.action_type = '{{ action_type }}'
                    ),
                    lambda a: try_cast(a.value as decimal(18, 6))
                )), 0)
            end
        when trim({{ column }}) = '' then 0
    end
{%- endmacro %}
