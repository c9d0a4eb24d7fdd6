{% macro ad_score_label(ctr, cvr, roas, ctr_weight, cvr_weight, roas_weight, cohort) -%}
    {#-
        The ad_score label, 0-100: 100 x the objective-weighted percentile rank of an ad's
        CTR, CVR and ROAS within its cohort (platform x normalised objective), among the ads
        whose impressions reach their objective's threshold (the caller filters to those).
        percent_rank() is (rank - 1) / (n - 1) with ties sharing the lowest rank, so a cohort
        of one scores 0.  Weights and thresholds live in seeds/ad_score_objective_weights.csv;
        ml/synth/label.py implements the same definition for the generator's ground truth.
    -#}
    {%- set over = "over (partition by " ~ cohort | join(", ") ~ " order by " -%}
    100.0 * (
        {{ ctr_weight }} * percent_rank() {{ over }}{{ ctr }})
        + {{ cvr_weight }} * percent_rank() {{ over }}{{ cvr }})
        + {{ roas_weight }} * percent_rank() {{ over }}{{ roas }})
    )
{%- endmacro %}
