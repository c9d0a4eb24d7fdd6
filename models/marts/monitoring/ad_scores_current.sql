-- The current champion's Ad Score for every ad it has scored, with the ad's attributes.
-- "Which platform's ads score lowest this week?"

with

scores as (

    select * from {{ source('ml', 'ad_scores') }}

),

champions as (

    select
        model_name,
        version
    from {{ source('ml', 'model_aliases') }}
    where alias = 'champion'

),

ads as (

    select * from {{ ref('ad_score_features') }}

),

current_scores as (

    select
        ads.ad_id,
        ads.account_id,
        ads.campaign_id,
        ads.platform,
        ads.objective,
        ads.vertical,
        ads.account_size_band,
        ads.ad_format,
        ads.launch_date,
        scores.score,
        scores.score_lower,
        scores.score_upper,
        scores.interval_level,
        scores.model_version,
        scores.scored_at
    from scores
    inner join champions
        on scores.model_name = champions.model_name and scores.model_version = champions.version
    inner join ads on scores.ad_id = ads.ad_id

)

select * from current_scores
