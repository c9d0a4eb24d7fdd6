{% macro account_health_label(trailing_spend, trailing_value, trailing_weeks, future_spend, future_value) -%}
    {#-
        is_at_risk for an advertiser-week (var account_health): true when the next
        `horizon_weeks` weekly spend falls below `spend_collapse` x the trailing weekly spend,
        or their ROAS is at most (1 - `roas_drop`) x the trailing ROAS (a ROAS of 0 when there
        is no spend); null when the trailing weekly spend is under `min_weekly_spend`.
        ml/synth/account_health.py implements the same definition for the ground truth.
    -#}
    {%- set ah = var('account_health') -%}
    case
        when {{ trailing_spend }} / {{ trailing_weeks }} < {{ ah['min_weekly_spend'] }} then null
        when {{ future_spend }} / {{ ah['horizon_weeks'] }}
            < {{ ah['spend_collapse'] }} * ({{ trailing_spend }} / {{ trailing_weeks }}) then true
        when
            (case when {{ future_spend }} > 0 then {{ future_value }} / {{ future_spend }} else 0 end)
            <= (1.0 - {{ ah['roas_drop'] }})
            * (case when {{ trailing_spend }} > 0 then {{ trailing_value }} / {{ trailing_spend }} else 0 end)
            then true
        else false
    end
{%- endmacro %}
