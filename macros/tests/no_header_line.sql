{% test no_header_line(model, file_column='filename') %}
    {#-
        No row of a CSV source (read as text) is a header line: two or more of its fields
        hold column names of the source (in any order), as when a second export was appended
        to a file with `cat`.  Its rows after that line would be read in the first header's
        column order, so the test fails naming the file and the line's fields; split the file.
    -#}
    {%- set names = [] -%}
    {%- if execute -%}
        {%- for name in adscore.relation_column_names(model) if name != file_column -%}
            {%- do names.append(name) -%}
        {%- endfor -%}
    {%- endif %}
    select *
    from {{ model }}
    where
        0
        {%- for name in names %}
        + case when lower(trim({{ adapter.quote(name) }})) in (
            {%- for other in names %}'{{ other }}'{{ ", " if not loop.last }}{% endfor -%}
        ) then 1 else 0 end
        {%- endfor %}
        >= 2
{% endtest %}
