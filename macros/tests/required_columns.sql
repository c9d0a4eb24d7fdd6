{% test required_columns(model, column_names) %}
    {#-
        Fails the build when the relation (typically a raw export file) lacks any of
        `column_names`, naming the file and every missing column.  A dotted name that is not
        a literal column ("metrics.spend") is looked up as a field of a struct column, as in
        nested JSON exports.
    -#}
    {%- set missing = [] -%}
    {%- if execute -%}
        {%- set found = adscore.relation_column_names(model) -%}
        {%- for column_name in column_names -%}
            {%- if column_name | lower not in found -%}
                {%- set parent, child = (column_name ~ '.').split('.')[:2] -%}
                {%- if child and parent | lower in found -%}
                    {%- set nested = adscore.relation_column_names(model, parent) -%}
                    {%- if child | lower not in nested -%}{%- do missing.append(column_name) -%}{%- endif -%}
                {%- else -%}
                    {%- do missing.append(column_name) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if missing -%}
            {{ exceptions.raise_compiler_error(
                "Missing required column(s) " ~ missing | join(", ") ~ " in " ~ adscore.relation_file_path(model)
                ~ ". Columns found: " ~ found | join(", ")
            ) }}
        {%- endif -%}
    {%- endif %}

    select 1 as missing_column
    where 1 = 0
{% endtest %}

{% macro relation_column_names(relation, struct_column=none) %}
    {#- Lower-cased column names of a relation, or the field names of one struct column. -#}
    {%- set selected = '*' if struct_column is none else adapter.quote(struct_column) ~ '.*' -%}
    {%- set result = run_query("describe select " ~ selected ~ " from " ~ relation ~ " limit 0") -%}
    {{- return(result.columns[0].values() | map('lower') | list) -}}
{% endmacro %}

{% macro relation_file_path(relation) %}
    {#- The file an external source reads ("read_csv('path', ...)" -> path), else the relation. -#}
    {%- set text = relation | string -%}
    {{- return(text.split("'")[1] if "'" in text else text) -}}
{% endmacro %}
