{#-
    Incremental loading of the raw exports by the two *_checked models.

    Each parsed row keeps the load signature of its file: md5 of the file's size, its
    modification time and the parser version (the staging views' SQL, read options and
    macros expanded, and the loading model's own code).  A build parses only the files whose
    (path, signature) is not in the table yet, i.e. new files, changed files and every file
    after a change to the parsing code, and first deletes the rows of files that changed or
    disappeared (pre-hook).  The files are listed once, when the model compiles; the model
    records that listing in its compiled code (raw_load_plan_record) and the pre-hook deletes
    by it, so a file that changes while the build runs is seen by both or by neither (its
    loaded rows stay, and the next build parses it).  The CSV reader's rejected lines follow
    the same files (persist_csv_rejects).  `dbt build --full-refresh` parses everything again.

    `loads` is a list of raw_sources() entries: {'source', 'table', 'staging'}.
-#}

{% macro raw_load_version(loads) %}
    {#- The parser version: md5 of the staging views' definitions, the calling model's code and the project macros it calls. -#}
    {{- return(adapter.dispatch('raw_load_version', 'adscore')(loads)) -}}
{% endmacro %}

{% macro default__raw_load_version(loads) %}
    {{ exceptions.raise_compiler_error("raw_load_version has no implementation for " ~ target.type) }}
{% endmacro %}

{% macro duckdb__raw_load_version(loads) %}
    {%- set parts = [model.raw_code] -%}
    {#-
        The project's macros the model calls (and their DuckDB implementations): the model's
        raw code names them (is_after_extraction, row_key), their bodies decide its rows.
    -#}
    {%- for macro_id in (model.get('depends_on', {}).get('macros') or []) | sort -%}
        {%- set macro_path = macro_id.split('.') -%}
        {%- if macro_path | length == 3 and macro_path[1] == project_name -%}
            {%- for name in [macro_path[2], 'duckdb__' ~ macro_path[2]] -%}
                {%- set found = context[project_name].get(name) -%}
                {%- if found is not none -%}
                    {%- do parts.append(name ~ ':' ~ found.macro.macro_sql) -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if execute -%}
        {%- set views = {} -%}
        {%- for row in run_query("select database_name, schema_name, view_name, sql from duckdb_views() where not internal") -%}
            {%- do views.update({(row[0] ~ '.' ~ row[1] ~ '.' ~ row[2]): row[3]}) -%}
        {%- endfor -%}
        {%- for load in loads -%}
            {%- set node = graph.get('nodes', {}).get('model.' ~ project_name ~ '.' ~ load.staging) -%}
            {%- if node -%}
                {%- do parts.append(views.get(node.database ~ '.' ~ node.schema ~ '.' ~ node.alias, '')) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(local_md5(parts | join('\n--\n'))) -}}
{% endmacro %}

{% macro raw_source_location(load) %}
    {#- What a raw source reads, e.g. "read_csv('<glob>', ...)" (from the graph: no ref, no dependency). -#}
    {{- return(graph.sources['source.' ~ project_name ~ '.' ~ load.source ~ '.' ~ load.table].relation_name) -}}
{% endmacro %}

{% macro raw_file_signatures(loads, version) %}
    {#- SQL: (source_name, source_file, load_signature) of every file the sources' globs match now. -#}
    {{- return(adapter.dispatch('raw_file_signatures', 'adscore')(loads, version)) -}}
{% endmacro %}

{% macro default__raw_file_signatures(loads, version) %}
    {{ exceptions.raise_compiler_error("raw_file_signatures has no implementation for " ~ target.type) }}
{% endmacro %}

{% macro duckdb__raw_file_signatures(loads, version) -%}
    {%- for load in loads %}
        select
            '{{ load.source }}.{{ load.table }}' as source_name,
            filename as source_file,
            md5(concat_ws('|', size, epoch_us(last_modified), '{{ version }}')) as load_signature
        from {{ adscore.raw_file_listing(adscore.raw_source_location(load)) }}
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}

{% macro raw_load_plan(loads) %}
    {#-
        At execution: {'signatures': [(file, signature), ...] of the files there now,
        'to_parse': the files among them whose rows are not in this model with that signature}.
        Not incremental (first build, --full-refresh): every file.
    -#}
    {%- set plan = {'signatures': [], 'to_parse': []} -%}
    {#- A unit test's graph has no sources: it reads fixtures, not files. -#}
    {%- if execute and graph.get('sources') -%}
        {%- set version = adscore.raw_load_version(loads) -%}
        {%- set stored = {} -%}
        {%- if is_incremental() -%}
            {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
            {%- if 'load_signature' not in columns -%}
                {{ exceptions.raise_compiler_error(
                    this ~ " was built before the raw files loaded incrementally (it has no load_signature"
                    ~ " column): rebuild it once with `dbt build --full-refresh --select " ~ model.name
                    ~ "+` (or `python -m ml.pipeline --full-refresh`)."
                ) }}
            {%- endif -%}
            {%- for row in run_query("select distinct source_file, load_signature from " ~ this) -%}
                {%- do stored.update({row[0]: row[1]}) -%}
            {%- endfor -%}
        {%- endif -%}
        {%- set listed = [] -%}
        {%- for row in run_query(adscore.raw_file_signatures(loads, version)) -%}
            {%- set signature = row[2] -%}
            {#-
                Fault injection for the tests (ADSCORE_FAILPOINT, see ml/failpoints.py; unset,
                nothing happens): the listing took place just before each loaded file changed.
            -#}
            {%- if env_var('ADSCORE_FAILPOINT', '') == 'dbt:listed_before_change' and row[1] in stored -%}
                {%- set signature = stored[row[1]] -%}
            {%- endif -%}
            {%- do listed.append(row[0]) -%}
            {%- do plan.signatures.append((row[1], signature)) -%}
            {%- if stored.get(row[1]) != signature -%}
                {%- do plan.to_parse.append(row[1]) -%}
            {%- endif -%}
        {%- endfor -%}
        {#-
            No file at all is a missing folder or mount, not a source that ended: keep the rows.
            (A first build fails on the empty glob anyway, in the staging view.)
        -#}
        {%- for load in loads if is_incremental() and (load.source ~ '.' ~ load.table) not in listed -%}
            {{ exceptions.raise_compiler_error(
                "No file matches the source " ~ load.source ~ "." ~ load.table ~ " ("
                ~ adscore.relation_file_path(adscore.raw_source_location(load))
                ~ "): nothing loaded, the rows of earlier loads are kept."
            ) }}
        {%- endfor -%}
    {%- endif -%}
    {{- return(plan) -}}
{% endmacro %}

{% macro raw_files_to_parse(plan, column='source_file') -%}
    {#- Filter of the files to parse in an incremental build (constants: the reader skips the others). -#}
    {%- if plan.to_parse -%}
        {{ column }} in ({% for file in plan.to_parse %}'{{ dbt.escape_single_quotes(file) }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- else -%}
        false
    {%- endif -%}
{%- endmacro %}

{% macro raw_load_signatures(plan) -%}
    {#- (source_file, load_signature) of the files there now, as a VALUES relation. -#}
    {%- if plan.signatures -%}
        (
            values
            {%- for file, signature in plan.signatures %}
                ('{{ dbt.escape_single_quotes(file) }}', '{{ signature }}'){% if not loop.last %},{% endif %}
            {%- endfor %}
        )
    {%- else -%}
        (select cast(null as varchar), cast(null as varchar) where false)
    {%- endif -%}
{%- endmacro %}

{% macro raw_load_plan_record(plan) -%}
    {#-
        The plan's (file, signature) listing as a comment of the model's SQL, which its
        pre-hook reads back from the compiled code (compiled_raw_load_plan): one listing per
        build, used both to choose the files to parse and to delete the rows of the others.
    -#}
    /* adscore.raw_load_plan {{ tojson(plan.signatures) | replace('*/', '*\\/') }} */
{%- endmacro %}

{% macro compiled_raw_load_plan() %}
    {#- The plan recorded by raw_load_plan_record in the running model's compiled code. -#}
    {%- set found = modules.re.search('/\\* adscore\\.raw_load_plan (.*?) \\*/', model.compiled_code or '') -%}
    {%- if not found -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ": no raw load plan in its compiled code (the model must call"
            ~ " adscore.raw_load_plan_record(plan))"
        ) }}
    {%- endif -%}
    {{- return({'signatures': fromjson(found.group(1))}) -}}
{% endmacro %}

{% macro forget_changed_raw_files() %}
    {#-
        Pre-hook of an incrementally loaded model: delete the rows of files that changed (size,
        modification time or parser version) or are gone, so that they are parsed again or
        dropped.  It deletes by the listing the model compiled with (compiled_raw_load_plan),
        not by a listing of its own: a file that changes between the two keeps its rows until
        the next build instead of losing them for this one.  Runs in the model's transaction:
        a failed build keeps the previous rows.
    -#}
    {%- if execute and is_incremental() -%}
        delete from {{ this }} as loaded
        where not exists (
            select 1
            from {{ adscore.raw_load_signatures(adscore.compiled_raw_load_plan()) }}
                as current_files (source_file, load_signature)
            where
                current_files.source_file = loaded.source_file
                and current_files.load_signature = loaded.load_signature
        )
    {%- endif -%}
{% endmacro %}

{% macro with_load_columns(relation, plan) -%}
    {#- The rows of `relation` (a CTE of parsed rows) with load_signature, load_invocation_id, loaded_at. -#}
    select
        {{ relation }}.*,
        loads.load_signature,
        '{{ invocation_id }}' as load_invocation_id,
        cast('{{ run_started_at }}' as timestamp) as loaded_at
    from {{ relation }}
    left join {{ adscore.raw_load_signatures(plan) }} as loads (source_file, load_signature)
        on {{ relation }}.source_file = loads.source_file
{%- endmacro %}
