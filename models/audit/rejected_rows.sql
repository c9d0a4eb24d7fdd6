{#-
    The quarantine: every raw row, line or file that could not be used, with where it came
    from, its raw content and why.  Nothing is dropped anywhere else in the project.
-#}
{%- set raw_sources = adscore.raw_sources() -%}
-- The csv_rejects tables are written by the post-hooks of the models that read the files:
-- depends_on: {{ ref('int_ad_daily_performance_checked') }}
-- depends_on: {{ ref('int_offline_conversions_checked') }}
{%- for s in raw_sources if s.source == 'adops' %}
-- depends_on: {{ ref(s.staging) }}
{%- endfor %}

with

performance as (

    select * from {{ ref('int_ad_daily_performance_validated') }}

),

offline_conversions as (

    select * from {{ ref('int_offline_conversions_validated') }}

),

creatives as (

    select * from {{ ref('stg_adops__creatives') }}

),

ad_days as (

    select * from {{ ref('int_ad_daily_performance_joined') }}

),

-- Clean feed rows whose ad and day have no clean delivery row: the join onto delivery
-- (int_ad_daily_performance_joined) cannot use them, so they are quarantined, not counted
-- clean.  Their delivery row was rejected (or never parsed), or the ad is unknown.
feed_without_delivery as (

    select offline_conversions.*
    from offline_conversions
    left join ad_days
        on
            offline_conversions.ad_id = ad_days.ad_id
            and offline_conversions.performance_date = ad_days.performance_date
    where
        offline_conversions.rejection_reason is null
        and not offline_conversions.is_superseded
        and ad_days.ad_id is null

),

rule_rejects as (

    select
        source_name,
        source_file,
        concat_ws('|', ad_id, cast(performance_date as varchar), platform, cast(extracted_at as varchar))
            as source_row_id,
        -- The parsed row, with the text of any field that did not parse.  The row goes by an
        -- alias no column has: DuckDB binds a name to a column before a table.
        {{ adscore.record_as_json('performance_row') }} as raw_content,
        rejection_reason as reason_code,
        parse_errors as reason_detail
    from performance as performance_row  -- noqa: AL05
    where rejection_reason is not null

    union all

    select
        source_name,
        source_file,
        concat_ws('|', ad_id, cast(performance_date as varchar), cast(received_at as varchar))
            as source_row_id,
        -- (offline_conversions is also a column here: to_json used to read that count.)
        {{ adscore.record_as_json('conversion_row') }} as raw_content,
        rejection_reason as reason_code,
        parse_errors as reason_detail
    from offline_conversions as conversion_row  -- noqa: AL05
    where rejection_reason is not null

    union all

    select
        source_name,
        source_file,
        concat_ws('|', ad_id, cast(performance_date as varchar), cast(received_at as varchar))
            as source_row_id,
        {{ adscore.record_as_json('feed_row') }} as raw_content,
        'no_clean_delivery' as reason_code,
        'no clean delivery row of this ad and day to attach it to' as reason_detail
    from feed_without_delivery as feed_row  -- noqa: AL05

    union all

    select
        'adops.creatives' as source_name,
        source_file,
        null as source_row_id,
        raw_record as raw_content,
        'malformed_line' as reason_code,
        'not valid JSON' as reason_detail
    from creatives
    where not is_valid_json

),

parse_rejects as (

    {% for s in raw_sources %}
        select
            source_name,
            source_file,
            cast(line_number as varchar) as source_row_id,
            raw_content,
            case
                when error_types like '%INVALID ENCODING%' then 'invalid_encoding'
                else 'malformed_line'
            end as reason_code,
            error_types as reason_detail
        from {{ source('csv_rejects', 'csv_rejects__' ~ s.source ~ '__' ~ s.table) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

empty_files as (

    {% for s in raw_sources %}
        select
            '{{ s.source }}.{{ s.table }}' as source_name,
            filename as source_file,
            null as source_row_id,
            '' as raw_content,
            'empty_file' as reason_code,
            'the file has no bytes' as reason_detail
        from {{ adscore.raw_file_listing(source(s.source, s.table)) }}
        where size = 0
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        *,
        cast('{{ run_started_at }}' as timestamp) as detected_at
    from (
        select * from rule_rejects
        union all
        select * from parse_rejects
        union all
        select * from empty_files
    ) as rejected

)

select * from final
