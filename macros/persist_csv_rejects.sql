{% macro persist_csv_rejects(source_name, table_name) %}
    {#-
        Post-hook of a staging model that reads a raw file with store_rejects: DuckDB keeps
        the lines it could not parse in temporary tables of the connection, so copy them to
        audit.csv_rejects__<source>__<table> (one row per rejected line, with its text).
    -#}
    {%- set suffix = source_name ~ '__' ~ table_name -%}
    create schema if not exists audit;
    create or replace table audit.csv_rejects__{{ suffix }} as
    select
        '{{ source_name }}.{{ table_name }}' as source_name,
        scans.file_path as source_file,
        errors.line as line_number,
        string_agg(distinct errors.error_type, ', ' order by errors.error_type) as error_types,
        max(errors.csv_line) as raw_content
    from csv_rejects__{{ suffix }} as errors
    inner join csv_scans__{{ suffix }} as scans
        on errors.scan_id = scans.scan_id and errors.file_id = scans.file_id
    group by scans.file_path, errors.line
{% endmacro %}
