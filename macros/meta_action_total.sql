{% macro meta_action_total(column, action_type) %}
    {{- return(adapter.dispatch('meta_action_total', 'adscore')(column, action_type)) -}}
{% endmacro %}

{% macro default__meta_action_total(column, action_type) %}
    {{ exceptions.raise_compiler_error("meta_action_total has no implementation for " ~ target.type) }}
{% endmacro %}

{% macro duckdb__meta_action_total(column, action_type) -%}
    {#- Sum of `value` over entries of a Meta actions JSON list whose action_type matches. -#}
    coalesce(list_sum(list_transform(
        list_filter(
            from_json({{ column }}, '[{"action_type": "VARCHAR", "value": "VARCHAR"}]'),
            lambda a: a.action_type = '{{ action_type }}'
        ),
        lambda a: cast(a.value as decimal(18, 6))
    )), 0)
{%- endmacro %}
