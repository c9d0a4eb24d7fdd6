{% test all_values_parse(model, column_name) %}
    {#-
        The rows of `model` holding a value that is present but did not parse: `column_name`
        names the fields (macro parse_errors); the row's file, key and raw text come along,
        so the stored failures point at the cell.  The value itself reads NULL downstream.
    -#}
    select *
    from {{ model }}
    where {{ column_name }} is not null
{% endtest %}
