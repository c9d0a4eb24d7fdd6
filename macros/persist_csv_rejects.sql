{% macro persist_csv_rejects(source_name, table_name) %}
    {#-
        Post-hook of a model that reads a raw file with store_rejects: DuckDB keeps the lines
        it could not parse in temporary tables of the connection, so copy them to
        audit.csv_rejects__<source>__<table> (one row per rejected line, with its text).

        In an incremental model (raw_file_loads.sql) the files this build did not parse again
        keep the lines persisted when they were parsed: those files are the ones whose rows
        in the model come from an earlier dbt invocation.  Lines of files that are gone are
        dropped.  No scan this build (every file already loaded): no temporary tables.
    -#}
    {%- set suffix = source_name ~ '__' ~ table_name -%}
    {%- set temporary = [] -%}
    {%- if execute -%}
        {%- for row in run_query("select table_name from duckdb_tables() where temporary") -%}
            {%- do temporary.append(row[0]) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set scanned = ('csv_rejects__' ~ suffix) in temporary and ('csv_scans__' ~ suffix) in temporary -%}
    {%- set persisted = adapter.get_relation(database=this.database, schema='audit', identifier='csv_rejects__' ~ suffix) -%}
    {%- set keep_earlier = config.get('materialized') == 'incremental' and persisted is not none -%}
    create schema if not exists audit;
    create or replace table audit.csv_rejects__{{ suffix }} as
    {% if keep_earlier -%}
        with

        earlier_loads as (

            select distinct source_file
            from {{ this }}
            where
                source_name = '{{ source_name }}.{{ table_name }}'
                and load_invocation_id != '{{ invocation_id }}'

        )

        select *
        from {{ persisted }}
        where source_file in (select earlier_loads.source_file from earlier_loads)

        union all
    {% endif -%}
    {%- if scanned %}
        select
            '{{ source_name }}.{{ table_name }}' as source_name,
            scans.file_path as source_file,
            errors.line as line_number,
            string_agg(distinct errors.error_type, ', ' order by errors.error_type) as error_types,
            max(errors.csv_line) as raw_content
        from csv_rejects__{{ suffix }} as errors
        inner join csv_scans__{{ suffix }} as scans
            on errors.scan_id = scans.scan_id and errors.file_id = scans.file_id
        {% if keep_earlier -%}
            where scans.file_path not in (select earlier_loads.source_file from earlier_loads)
        {%- endif %}
        group by scans.file_path, errors.line
    {%- else %}
        select
            cast(null as varchar) as source_name,
            cast(null as varchar) as source_file,
            cast(null as ubigint) as line_number,
            cast(null as varchar) as error_types,
            cast(null as varchar) as raw_content
        where false
    {%- endif %}
{% endmacro %}
