{% test column_order(model, smaller, larger) %}
    {#- Rows where `smaller` exceeds `larger` (e.g. clicks > impressions, end before start). -#}
    select {{ smaller }}, {{ larger }}
    from {{ model }}
    where {{ smaller }} > {{ larger }}
{% endtest %}
