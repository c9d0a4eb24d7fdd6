{% test raw_files_match_declared_columns(model) %}
    {#-
        For a CSV source read with declared columns (positional), every file matched by its
        glob must have exactly those columns, in that order, in its header line.  Fails the
        build naming the file and the missing, unexpected or reordered columns.  Empty files
        are left to the quarantine (audit.rejected_rows, reason empty_file).
    -#}
    {%- if execute -%}
        {%- set declared = adscore.relation_column_names(model) | reject('equalto', 'filename') | list -%}
        {%- set pattern = adscore.relation_file_path(model) -%}
        {%- set files = run_query("select file from glob('" ~ pattern ~ "') order by file").columns[0].values() -%}
        {%- if not files -%}
            {{ exceptions.raise_compiler_error("No file matches " ~ pattern) }}
        {%- endif -%}
        {%- set problems = [] -%}
        {#- The first row of a scan is the file's first line only when order is preserved. -#}
        {%- do run_query("set session preserve_insertion_order = true") -%}
        {%- for file in files -%}
            {%- set first = run_query(adscore.first_line_query(file)).columns[0].values() -%}
            {%- if first -%}
                {%- set header = first[0].split(',') | map('trim') | map('replace', '"', '') | map('lower') | list -%}
                {%- set missing = declared | reject('in', header) | list -%}
                {%- set unexpected = header | reject('in', declared) | list -%}
                {%- if missing -%}
                    {%- do problems.append("Missing required column(s) " ~ missing | join(", ") ~ " in " ~ file) -%}
                {%- endif -%}
                {%- if unexpected -%}
                    {%- do problems.append("Unexpected column(s) " ~ unexpected | join(", ") ~ " in " ~ file) -%}
                {%- endif -%}
                {%- if not missing and not unexpected and header != declared -%}
                    {%- do problems.append("Columns out of the declared order in " ~ file ~ ": " ~ header | join(", ")) -%}
                {%- endif -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do run_query("reset session preserve_insertion_order") -%}
        {%- if problems -%}
            {{ exceptions.raise_compiler_error(problems | join("; ") ~ ". Declared: " ~ declared | join(", ")) }}
        {%- endif -%}
    {%- endif %}

    select 1 as mismatch
    where 1 = 0
{% endtest %}

{% test json_keys_present(model, keys, column_name='json_line') %}
    {#-
        For a JSON-lines source, every key path (e.g. '$.metrics.spend') must occur in the
        valid lines; fails naming the file pattern and every absent key.  One probe per key,
        each stopping at the first valid line that has it, so a healthy export is not read
        whole (only a missing key scans every line).
    -#}
    {%- if execute -%}
        {%- set probes -%}
            {%- for key in keys %}
            select '{{ key }}' as key_path from (
                select 1 from {{ model }}
                where json_valid({{ column_name }}) and json_extract({{ column_name }}, '{{ key }}') is not null
                limit 1
            ) as probe_{{ loop.index }}
            {{ "union all" if not loop.last }}
            {%- endfor %}
        {%- endset -%}
        {%- set found = run_query(probes).columns[0].values() -%}
        {%- set missing = keys | reject('in', found) | list -%}
        {%- if missing -%}
            {{ exceptions.raise_compiler_error("Missing required key(s) " ~ missing | join(", ") ~ " in " ~ adscore.relation_file_path(model)) }}
        {%- endif -%}
    {%- endif %}

    select 1 as missing_key
    where 1 = 0
{% endtest %}

{% macro first_line_query(file) -%}
    {#-
        The first line of a file as text, whatever it contains.  Not strict: a file whose rows
        end in CRLF and whose quoted cells hold a bare LF (Excel on Windows) is valid CSV, but
        the strict reader stops on the mixed line endings.
    -#}
    select line from read_csv('{{ file }}', header = false, auto_detect = false, delim = chr(30),
        quote = '', escape = '', columns = {'line': 'varchar'}, ignore_errors = true,
        strict_mode = false)
    limit 1
{%- endmacro %}

{% macro relation_column_names(relation) %}
    {#- Lower-cased column names of a relation. -#}
    {%- set result = run_query("describe select * from " ~ relation ~ " limit 0") -%}
    {{- return(result.columns[0].values() | map('lower') | list) -}}
{% endmacro %}

{% macro relation_file_path(relation) %}
    {#- The file (or glob) an external source reads: "read_csv('path', ...)" -> path. -#}
    {%- set text = relation | string -%}
    {{- return(text.split("'")[1] if "'" in text else text) -}}
{% endmacro %}
