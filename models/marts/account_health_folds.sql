{#-
    Time-based folds for marts.account_health_training, one row per advertiser-week and fold
    it takes part in.  split = 'test': the last `account_health_test_weeks` weeks, frozen;
    split = 'gap': the `horizon_weeks` - 1 weeks before them, whose label windows would
    overlap the first test week's and so are never trained on; split = 'train': the rest,
    each at least `horizon_weeks` before the first test week.  Fold f validates on one of the
    last `account_health_n_folds` training weeks (role = 'valid') and trains on the training
    weeks at least `horizon_weeks` earlier (role = 'train'): an expanding window with the same
    gap.  Rows outside every fold appear once with a null fold.
-#}
{%- set horizon = var('account_health')['horizon_weeks'] -%}
{%- set test_weeks = var('account_health_test_weeks') -%}
{%- set n_folds = var('account_health_n_folds') -%}

with

training as (

    select * from {{ ref('account_health_training') }}

),

weeks as (

    select
        week_start,
        dense_rank() over (order by week_start) as week_number
    from (select distinct week_start from training) as distinct_weeks

),

week_splits as (

    select
        week_start,
        week_number,
        case
            when week_number > max(week_number) over () - {{ test_weeks }} then 'test'
            when week_number > max(week_number) over () - {{ test_weeks }} - {{ horizon }} + 1 then 'gap'
            else 'train'
        end as split

    from weeks

),

-- The last n_folds training weeks, numbered 0 (earliest) to n_folds - 1: the fold number is
-- taken after they are picked (numbered over every training week, the 20k demo's folds were
-- 6, 7 and 8).  Ranked in one step and filtered in the next (no `qualify`: it does not port).
ranked_train_weeks as (

    select
        week_number,
        row_number() over (order by week_number desc) as recency_rank
    from week_splits
    where split = 'train'

),

validation_weeks as (

    select
        week_number as valid_week_number,
        row_number() over (order by week_number) - 1 as fold
    from ranked_train_weeks
    where recency_rank <= {{ n_folds }}

),

fold_roles as (

    select
        week_splits.week_start,
        validation_weeks.fold,
        case
            when week_splits.week_number = validation_weeks.valid_week_number then 'valid'
            else 'train'
        end as fold_role
    from week_splits
    inner join validation_weeks
        on
            week_splits.week_number = validation_weeks.valid_week_number
            or week_splits.week_number <= validation_weeks.valid_week_number - {{ horizon }}
    where week_splits.split = 'train'

),

week_rows as (

    select
        week_splits.week_start,
        week_splits.split,
        fold_roles.fold,
        fold_roles.fold_role as role
    from week_splits
    left join fold_roles on week_splits.week_start = fold_roles.week_start

),

final as (

    select
        training.account_id,
        week_rows.split,
        week_rows.fold,
        week_rows.role,
        training.week_start

    from training
    inner join week_rows on training.week_start = week_rows.week_start

)

select * from final
