{#-
    The usable delivery rows (no rule broken, CPM not an outlier) that a later extraction of
    the same source, ad, day and publisher platform replaces: re-exports supersede earlier
    extractions; an unknown extraction time counts as the earliest; of identical
    re-deliveries one is kept, which one being immaterial.  Only the rows' keys: the window
    sorts these narrow columns, not whole rows, and int_ad_daily_performance_validated joins
    the result back on row_key.
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
        checked.source_file
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

ranked as (

    select
        *,
        row_number() over (
            partition by source_name, ad_id, performance_date, platform
            order by extracted_at desc nulls last, source_file desc
        ) as extraction_rank
    from usable

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
