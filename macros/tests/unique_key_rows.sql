{% test unique_key_rows(model, column_name) %}
    {#-
        `column_name` is unique; the failures are the rows sharing a value, whole (file
        included), so a key delivered twice names both files.
    -#}
    select *
    from {{ model }}
    where {{ column_name }} in (
        select {{ column_name }}
        from {{ model }}
        where {{ column_name }} is not null
        group by {{ column_name }}
        having count(*) > 1
    )
{% endtest %}
