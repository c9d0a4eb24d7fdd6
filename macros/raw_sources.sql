{% macro raw_sources(kind=none) %}
    {#-
        The file-based sources and their staging models; audit models loop over this list.
        kind: 'delivery' (the platform exports), 'feed' (first-party conversions), 'adops'.
    -#}
    {%- set sources = [
        {'source': 'meta_ads', 'table': 'ads_insights', 'staging': 'stg_meta_ads__insights', 'kind': 'delivery'},
        {'source': 'google_ads', 'table': 'ad_group_ad_performance', 'staging': 'stg_google_ads__ad_performance', 'kind': 'delivery'},
        {'source': 'tiktok_ads', 'table': 'ad_report', 'staging': 'stg_tiktok_ads__ad_report', 'kind': 'delivery'},
        {'source': 'pinterest_ads', 'table': 'ad_analytics', 'staging': 'stg_pinterest_ads__ad_analytics', 'kind': 'delivery'},
        {'source': 'conversions', 'table': 'offline_conversions', 'staging': 'stg_conversions__offline_conversions', 'kind': 'feed'},
        {'source': 'adops', 'table': 'campaigns', 'staging': 'stg_adops__campaigns', 'kind': 'adops'},
        {'source': 'adops', 'table': 'ad_sets', 'staging': 'stg_adops__ad_sets', 'kind': 'adops'},
        {'source': 'adops', 'table': 'ads', 'staging': 'stg_adops__ads', 'kind': 'adops'},
        {'source': 'adops', 'table': 'creatives', 'staging': 'stg_adops__creatives', 'kind': 'adops'},
    ] -%}
    {{- return(sources if kind is none else sources | selectattr('kind', 'equalto', kind) | list) -}}
{% endmacro %}

{% macro raw_file_listing(source_relation) %}
    {#- (filename, size) of every file an external source's glob matches. -#}
    {{- return(adapter.dispatch('raw_file_listing', 'adscore')(source_relation)) -}}
{% endmacro %}

{% macro duckdb__raw_file_listing(source_relation) -%}
    read_blob('{{ adscore.relation_file_path(source_relation) }}')
{%- endmacro %}
