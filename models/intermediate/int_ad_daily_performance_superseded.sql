{#-
    The usable delivery rows (no rule broken, CPM not an outlier) that a later extraction of
    the same source, ad, day and publisher platform replaces: re-exports supersede earlier
    extractions; an unknown extraction time counts as the earliest.  Rows of the same key,
    extraction time and file are ordered by the metrics the marts read (the larger spend,
    impressions, clicks, conversions and value first), so the same exports always give the
    same marts and content hashes, whichever row the window met first (row_key is random).
    Of identical re-deliveries one is kept, which one being immaterial.  Only the rows' keys
    and sort columns: the window sorts these narrow columns of the repeated keys' rows, not
    whole rows, and int_ad_daily_performance_validated joins the result back on row_key.
-#}
with

checked as (

    select * from {{ ref('int_ad_daily_performance_checked') }}

),

baselines as (

    select * from {{ ref('int_ad_daily_performance_cpm_baselines') }}

),

usable as (

    select
        checked.row_key,
        checked.source_name,
        checked.ad_id,
        checked.performance_date,
        checked.platform,
        checked.extracted_at,
        checked.source_file,
        checked.spend,
        checked.impressions,
        checked.clicks,
        checked.conversions,
        checked.conversion_value
    from checked
    left join baselines on checked.platform = baselines.platform
    where
        checked.rule_violation is null
        and not coalesce(
            {{ adscore.is_cpm_outlier(
                'checked.log_cpm', 'baselines.median_log_cpm', 'baselines.robust_sd_log_cpm'
            ) }},
            false
        )

),

-- Most keys have a single usable row; only the repeated ones need ranking (a hash
-- aggregation finds them, so the window sorts a few rows instead of all of them).
repeated_keys as (

    select
        source_name,
        ad_id,
        performance_date,
        platform
    from usable
    group by source_name, ad_id, performance_date, platform
    having count(*) > 1

),

ranked as (

    select
        usable.*,
        row_number() over (
            partition by usable.source_name, usable.ad_id, usable.performance_date, usable.platform
            order by
                usable.extracted_at desc nulls last,
                usable.source_file desc,
                usable.spend desc nulls last,
                usable.impressions desc nulls last,
                usable.clicks desc nulls last,
                usable.conversions desc nulls last,
                usable.conversion_value desc nulls last
        ) as extraction_rank
    from usable
    where
        exists (
            select 1
            from repeated_keys
            where
                usable.source_name = repeated_keys.source_name
                and usable.ad_id = repeated_keys.ad_id
                and usable.performance_date = repeated_keys.performance_date
                and usable.platform is not distinct from repeated_keys.platform
        )

),

final as (

    select
        row_key,
        source_name,
        ad_id,
        performance_date,
        platform,
        extracted_at,
        extraction_rank
    from ranked
    where extraction_rank > 1

)

select * from final
