-- Every file in the raw folder is read by a source.  A re-delivery named outside its
-- source's glob (`ad_analytics.CSV`: globs are case-sensitive; `meta/ads_insights.csv.gz`;
-- a misplaced folder) would otherwise be skipped without a word.  A warning, naming each file:
-- the build goes on with the files it reads.
{{ config(severity='warn') }}

{%- set read_by_a_source = [] -%}
{%- for s in adscore.raw_sources() -%}
    {%- set pattern = adscore.relation_file_path(source(s.source, s.table)) | replace("*", "%") -%}
    {%- do read_by_a_source.append("file like '" ~ pattern ~ "'") -%}
{%- endfor %}

with

raw_files as (

    select file
    from glob('{{ env_var("ADSCORE_RAW_DIR", "data/raw") }}/**')

)

select file as unread_file
from raw_files
where not ({{ read_by_a_source | join(" or ") }})
