{%- set n_folds = var('ad_score_n_folds') -%}
{%- set holdout_start = var('ad_score_holdout_start_date') -%}
{%- set salt = var('ad_score_fold_salt') -%}

with

training as (

    select * from {{ ref('ad_score_training') }}

),

campaigns as (

    select
        campaign_id,
        min(launch_date) as campaign_first_launch_date
    from training
    group by campaign_id

),

-- Frozen time-based holdout: the latest-launched campaigns, never used for selection or tuning.
split_assigned as (

    select
        campaign_id,
        campaign_first_launch_date,
        case
            {% if holdout_start %}
            when campaign_first_launch_date >= cast('{{ holdout_start }}' as date) then 'test'
            {% else %}
                when percent_rank() over (order by campaign_first_launch_date)
                    >= 1 - {{ var('ad_score_test_fraction') }} then 'test'
            {% endif %}
            else 'train'
        end as split

    from campaigns

),

-- Grouped k-fold: whole campaigns per fold, balanced by count, in a salted-hash order.
fold_assigned as (

    select
        campaign_id,
        split,
        case
            when split = 'train'
                then mod(
                        row_number() over (
                            partition by split
                            order by {{ dbt.hash(dbt.concat(['campaign_id', "'" ~ salt ~ "'"])) }}
                        ) - 1,
                        {{ n_folds }}
                    )
        end as fold

    from split_assigned

),

final as (

    select
        training.ad_id,
        training.campaign_id,
        fold_assigned.split,
        fold_assigned.fold

    from training
    inner join fold_assigned on training.campaign_id = fold_assigned.campaign_id

)

select * from final
