-- In every fold, training weeks end at least horizon_weeks before the validation week; the
-- training split ends at least horizon_weeks before the first test week; and no test or gap
-- week is ever trained or validated on.
with

folds as (

    select * from {{ ref('account_health_folds') }}

),

per_fold as (

    select
        fold,
        max(case when role = 'train' then week_start end) as last_train_week,
        min(case when role = 'valid' then week_start end) as valid_week
    from folds
    where fold is not null
    group by fold

)

select
    fold,
    last_train_week,
    valid_week
from per_fold
where
    last_train_week > {{ dbt.dateadd('day', -7 * var('account_health')['horizon_weeks'], 'valid_week') }}
    or valid_week is null

union all

select
    fold,
    week_start as last_train_week,
    null as valid_week
from folds
where split != 'train' and fold is not null

union all

select
    null as fold,
    last_train_week,
    first_test_week as valid_week
from (
    select
        max(case when split = 'train' then week_start end) as last_train_week,
        min(case when split = 'test' then week_start end) as first_test_week
    from folds
) as splits
where
    last_train_week
    > {{ dbt.dateadd('day', -7 * var('account_health')['horizon_weeks'], 'first_test_week') }}
