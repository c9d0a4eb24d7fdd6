{#-
    Whether the last dbt invocation that writes the curated tables ran to its end.

    A `dbt build` killed half-way (SIGKILL, out of memory, a lost node) leaves the warehouse
    with some tables from the new build and the rest from the one before: the training marts
    could be new while the data quality report that should have stopped them is old.  Each
    build, run, seed or snapshot that selects a model or seed outside the monitoring marts
    records its start (on-run-start, committed before any node runs) and its end (on-run-end,
    which dbt runs after every node, failed ones included, but not when the process dies).
    python -m ml.train and ml.score refuse to read a warehouse where such an invocation has no
    end and the invocations that ended after it did not rebuild everything it selected
    (`selected_nodes`, the ids as JSON; ml/warehouse.py: require_finished_build): a small
    `dbt seed` after a killed `dbt build` does not lift the block, a completed build does.

    `dbt retry` re-runs the failed and skipped nodes of the previous invocation with that
    invocation's command (flags.WHICH is e.g. 'build'), but its hooks see no selection; as it
    writes tables, it is recorded too, as command 'retry' with n_selected null.  (`dbt clone`
    runs no hooks and is not recorded.)
-#}

{% macro command_writes_tables() %}
    {#- Whether this invocation's command writes tables (a retry carries the retried command). -#}
    {{- return(execute and flags.WHICH in ('build', 'run', 'seed', 'snapshot')) -}}
{% endmacro %}

{% macro curated_selection() %}
    {#- The selected models, seeds and snapshots outside marts.monitoring (sorted ids), for a command that writes tables. -#}
    {%- set writes = [] -%}
    {%- if adscore.command_writes_tables() -%}
        {%- for unique_id in selected_resources -%}
            {%- set node = graph.nodes.get(unique_id) -%}
            {%- if node and node.resource_type in ('model', 'seed', 'snapshot') and 'monitoring' not in node.fqn -%}
                {%- do writes.append(unique_id) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{- return(writes | sort) -}}
{% endmacro %}

{% macro build_writes_curated_tables() %}
    {#- The number of selected models, seeds and snapshots outside marts.monitoring, for a command that writes tables. -#}
    {{- return(adscore.curated_selection() | length) -}}
{% endmacro %}

{% macro is_retry() %}
    {#-
        Whether this is a `dbt retry` of a command that writes tables: its hooks run with
        the retried command's flags and an empty selection (an invocation that selects
        nothing runs no hooks at all).
    -#}
    {{- return(adscore.command_writes_tables() and selected_resources | length == 0) -}}
{% endmacro %}

{% macro record_build_start() %}
    {%- set selection = adscore.curated_selection() -%}
    {%- set n_selected = selection | length -%}
    {%- set retry = adscore.is_retry() -%}
    {%- if n_selected > 0 or retry %}
        create schema if not exists audit;
        create table if not exists audit.dbt_builds (
            invocation_id varchar primary key,
            command varchar not null,
            n_selected integer,
            started_at timestamp not null,
            finished_at timestamp,
            status varchar
        );
        {#- tables made before retries were recorded have n_selected not null #}
        alter table audit.dbt_builds alter column n_selected drop not null;
        alter table audit.dbt_builds add column if not exists selected_nodes varchar;
        insert into audit.dbt_builds (invocation_id, command, n_selected, selected_nodes, started_at)
        values (
            '{{ invocation_id }}',
            '{{ "retry" if retry else flags.WHICH }}',
            {{ "null" if retry else n_selected }},
            {{ "null" if retry else "'" ~ (tojson(selection) | replace("'", "''")) ~ "'" }},
            cast('{{ run_started_at }}' as timestamp)
        );
    {%- endif -%}
{% endmacro %}

{% macro record_build_end(results) %}
    {%- if adscore.build_writes_curated_tables() > 0 or adscore.is_retry() -%}
        {%- set failed = results | selectattr('status', 'in', ['error', 'fail', 'runtime error']) | list -%}
        {%- set finished = modules.datetime.datetime.now(modules.pytz.utc).replace(tzinfo=none) %}
        update audit.dbt_builds
        set
            finished_at = cast('{{ finished.isoformat() }}' as timestamp),
            status = '{{ "error" if failed else "success" }}'
        where invocation_id = '{{ invocation_id }}';
    {%- endif -%}
{% endmacro %}
