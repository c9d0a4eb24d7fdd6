{% test source_reject_rate_within(model, threshold=none) %}
    {#-
        Sources whose reject rate exceeds `threshold` (default: var max_reject_rate), one row
        each.  Used twice on marts.data_quality_report: as an error at the threshold, and as
        a warning for any rejects at all.
    -#}
    {%- set limit = var('max_reject_rate') if threshold is none else threshold -%}
    select distinct
        source_name,
        source_rejected_rows,
        source_raw_rows,
        source_reject_rate
    from {{ model }}
    where source_reject_rate > {{ limit }}
{% endtest %}
