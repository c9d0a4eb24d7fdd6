-- One row per registered model version: its holdout metric, CV score, aliases and the
-- decision taken when it was registered.  "How did RMSE move across versions?"

with

versions as (

    select * from {{ source('ml', 'model_versions') }}

),

runs as (

    select * from {{ source('ml', 'runs') }}

),

metrics as (

    select * from {{ source('ml', 'metrics') }}

),

aliases as (

    select
        model_name,
        version,
        {{ dbt.listagg('alias', "','", 'order by alias') }} as aliases
    from {{ source('ml', 'model_aliases') }}
    group by model_name, version

),

cv_scores as (

    select
        run_id,
        replace(metric, '_mean', '') as metric,
        value as cv_mean
    from metrics
    where split = 'cv' and segment = 'overall' and metric like '%_mean'

),

headline as (

    select
        cv_scores.run_id,
        cv_scores.metric,
        cv_scores.cv_mean,
        test.value as test_value,
        test.n_rows as n_test_rows
    from cv_scores
    inner join metrics as test
        on
            cv_scores.run_id = test.run_id
            and cv_scores.metric = test.metric
            and test.split = 'test'
            and test.segment = 'overall'

),

registered as (

    select
        model_name,
        version,
        decision,
        reason
    from {{ source('ml', 'promotions') }}
    where decided_by = 'ml.train'

),

leaderboard as (

    select
        versions.model_name,
        versions.version,
        versions.estimator,
        versions.created_at,
        runs.data_hash,
        runs.config_hash,
        runs.n_train_rows,
        headline.metric,
        headline.cv_mean,
        headline.test_value,
        headline.n_test_rows,
        runs.predict_ms_per_1000_rows,
        runs.learning_curve_verdict,
        registered.decision as registration_decision,
        registered.reason as registration_reason,
        coalesce(aliases.aliases, '') as aliases,
        coalesce(aliases.aliases like '%champion%', false) as is_champion,
        versions.run_id
    from versions
    inner join runs on versions.run_id = runs.run_id
    left join headline on versions.run_id = headline.run_id
    left join registered
        on versions.model_name = registered.model_name and versions.version = registered.version
    left join aliases on versions.model_name = aliases.model_name and versions.version = aliases.version

)

select * from leaderboard
