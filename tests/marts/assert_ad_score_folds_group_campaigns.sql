-- Every campaign sits in exactly one split and one fold, so no campaign straddles folds.
with

folds as (

    select * from {{ ref('ad_score_folds') }}

)

select
    campaign_id,
    count(distinct split) as n_splits,
    count(distinct coalesce(fold, -1)) as n_folds
from folds
group by campaign_id
having count(distinct split) > 1 or count(distinct coalesce(fold, -1)) > 1
