-- The current champion's at-risk probability for each advertiser's latest scored week,
-- with the week's trailing figures.

with

scores as (

    select * from {{ source('ml', 'account_health_scores') }}

),

champions as (

    select
        model_name,
        version
    from {{ source('ml', 'model_aliases') }}
    where alias = 'champion'

),

weeks as (

    select * from {{ ref('account_health_features') }}

),

ranked_champion_scores as (

    select
        scores.*,
        row_number() over (partition by scores.account_id order by scores.week_start desc) as recency_rank
    from scores
    inner join champions
        on scores.model_name = champions.model_name and scores.model_version = champions.version

),

champion_scores as (

    select *
    from ranked_champion_scores
    where recency_rank = 1

),

current_health as (

    select
        champion_scores.account_id,
        champion_scores.week_start,
        weeks.vertical,
        weeks.account_size_band,
        weeks.trailing_weekly_spend,
        weeks.trailing_roas,
        weeks.active_ads,
        champion_scores.probability,
        champion_scores.is_at_risk,
        champion_scores.threshold,
        champion_scores.model_version,
        champion_scores.scored_at
    from champion_scores
    inner join weeks
        on champion_scores.account_id = weeks.account_id and champion_scores.week_start = weeks.week_start

)

select * from current_health
