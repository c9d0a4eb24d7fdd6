-- Which version was champion when, and why: every alias-moving decision in ml.promotions
-- as a period (valid_from, valid_to; valid_to is null for the current champion).

with

promotions as (

    select * from {{ source('ml', 'promotions') }}

),

moves as (

    select
        model_name,
        champion_after as champion_version,
        champion_before as previous_champion_version,
        decision,
        reason,
        metric,
        improvement,
        ci_low,
        ci_high,
        decided_by,
        decided_at as valid_from
    from promotions
    where decision in ('first_version', 'promoted', 'forced', 'rollback')

),

history as (

    select
        *,
        lead(valid_from) over (partition by model_name order by valid_from) as valid_to
    from moves

)

select
    *,
    valid_to is null as is_current
from history
