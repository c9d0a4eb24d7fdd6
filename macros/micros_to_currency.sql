{% macro micros_to_currency(column) -%}
    {#-
        Money reported in micros (1e-6 of the currency unit) as an exact decimal(18, 6) amount;
        NULL beyond what that holds (10^12 currency units), so that parse_errors reports the
        cell instead of one absurd value failing the build on a cast.
    -#}
    cast({{ adscore.try_cast(column, 'decimal(18, 0)') }} * 0.000001 as decimal(18, 6))
{%- endmacro %}
