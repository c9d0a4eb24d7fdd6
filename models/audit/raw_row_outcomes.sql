-- What became of every raw row, counted per source, file and outcome: 'clean' (used),
-- 'duplicate' (superseded by a later extraction) or the quarantine reason code.
with

performance as (

    select * from {{ ref('int_ad_daily_performance_validated') }}

),

offline_conversions as (

    select * from {{ ref('int_offline_conversions_validated') }}

),

campaigns as (

    select * from {{ ref('stg_adops__campaigns') }}

),

ad_sets as (

    select * from {{ ref('stg_adops__ad_sets') }}

),

ads as (

    select * from {{ ref('stg_adops__ads') }}

),

creatives as (

    select * from {{ ref('stg_adops__creatives') }}

),

removed_duplicates as (

    select * from {{ ref('removed_duplicates') }}

),

rejected_rows as (

    select * from {{ ref('rejected_rows') }}

),

clean as (

    select
        source_name,
        source_file,
        count(*) as n_rows
    from performance
    where rejection_reason is null and not is_superseded
    group by source_name, source_file

    union all

    -- Feed rows that passed their rules, less those with no delivery ad-day to join
    -- (quarantined as no_clean_delivery by rejected_rows).
    select
        source_name,
        source_file,
        sum(n_rows) as n_rows
    from (
        select
            source_name,
            source_file,
            count(*) as n_rows
        from offline_conversions
        where rejection_reason is null and not is_superseded
        group by source_name, source_file

        union all

        select
            source_name,
            source_file,
            -count(*) as n_rows
        from rejected_rows
        where reason_code = 'no_clean_delivery'
        group by source_name, source_file
    ) as feed_counts
    group by source_name, source_file
    having sum(n_rows) > 0

    union all

    select
        'adops.campaigns' as source_name,
        source_file,
        count(*) as n_rows
    from campaigns
    group by source_file

    union all

    select
        'adops.ad_sets' as source_name,
        source_file,
        count(*) as n_rows
    from ad_sets
    group by source_file

    union all

    select
        'adops.ads' as source_name,
        source_file,
        count(*) as n_rows
    from ads
    group by source_file

    union all

    select
        'adops.creatives' as source_name,
        source_file,
        count(*) as n_rows
    from creatives
    where is_valid_json
    group by source_file

),

outcomes as (

    select
        source_name,
        source_file,
        'clean' as outcome,
        n_rows
    from clean

    union all

    select
        source_name,
        source_file,
        'duplicate' as outcome,
        count(*) as n_rows
    from removed_duplicates
    group by source_name, source_file

    union all

    select
        source_name,
        source_file,
        reason_code as outcome,
        sum(case when reason_code = 'empty_file' then 0 else 1 end) as n_rows
    from rejected_rows
    group by source_name, source_file, reason_code

)

select * from outcomes
