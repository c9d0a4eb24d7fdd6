{% macro micros_to_currency(column) -%}
    {#- Money reported in micros (1e-6 of the currency unit) as an exact decimal(18, 6) amount. -#}
    cast(cast({{ column }} as decimal(18, 0)) * 0.000001 as decimal(18, 6))
{%- endmacro %}
