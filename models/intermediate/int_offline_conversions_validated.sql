{#-
    First-party feed rows with `rejection_reason` (int_offline_conversions_checked) and
    `is_superseded` (int_offline_conversions_superseded).  A view, as for the delivery rows.
-#}
{{ config(materialized='view') }}

with

checked as (

    select * from {{ ref('int_offline_conversions_checked') }}

),

superseded as (

    select row_key from {{ ref('int_offline_conversions_superseded') }}

),

final as (

    select
        checked.source_name,
        checked.source_file,
        checked.ad_id,
        checked.source_platform,
        checked.unparsed_values,
        checked.parse_errors,
        checked.rejection_reason,
        checked.offline_conversions,
        checked.offline_conversion_value,
        checked.likes,
        checked.comments,
        checked.shares,
        superseded.row_key is not null as is_superseded,
        checked.performance_date,
        checked.received_at

    from checked
    left join superseded on checked.row_key = superseded.row_key

)

select * from final
