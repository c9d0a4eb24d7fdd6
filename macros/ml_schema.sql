{#- Generated from ML_TABLES in ml/warehouse.py by `python -m ml.warehouse schema`:
    do not edit (tests/python/test_units.py checks it is up to date). -#}
{% macro create_ml_tables() -%}
create schema if not exists ml;
create table if not exists ml.runs (
    run_id varchar primary key,
    task varchar not null,
    status varchar not null,
    started_at timestamp not null,
    finished_at timestamp,
    data_hash varchar,
    config_hash varchar,
    seed integer,
    estimator varchar,
    n_train_rows bigint,
    n_test_rows bigint,
    library_versions varchar,
    git_sha varchar,
    mlflow_run_id varchar,
    config_path varchar,
    pid integer,
    hostname varchar,
    error varchar,
    text_cache_hits bigint,
    text_cache_computed bigint,
    predict_ms_per_1000_rows double,
    learning_curve_verdict varchar,
    learning_curve_valid_gain double,
    process_start varchar
);
create table if not exists ml.model_versions (
    model_name varchar not null,
    version integer not null,
    run_id varchar not null,
    estimator varchar not null,
    artifact_path varchar not null,
    artifact_sha256 varchar not null,
    created_at timestamp not null,
    folder_sha256 varchar,
    primary key (model_name, version)
);
create table if not exists ml.model_aliases (
    model_name varchar not null,
    alias varchar not null,
    version integer not null,
    updated_at timestamp not null,
    primary key (model_name, alias)
);
create table if not exists ml.metrics (
    run_id varchar not null,
    split varchar not null,
    segment varchar not null,
    metric varchar not null,
    value double,
    n_rows bigint
);
create table if not exists ml.cv_results (
    run_id varchar not null,
    stage varchar not null,
    candidate varchar not null,
    trial_number integer,
    fold integer not null,
    metric varchar not null,
    value double,
    n_train_rows bigint,
    n_valid_rows bigint,
    fit_seconds double,
    predict_seconds double
);
create table if not exists ml.learning_curves (
    run_id varchar not null,
    candidate varchar not null,
    train_fraction double not null,
    n_train_rows bigint,
    split varchar not null,
    metric varchar not null,
    value double,
    value_std double
);
create table if not exists ml.calibration (
    run_id varchar not null,
    method varchar not null,
    split varchar not null,
    metric varchar not null,
    value double,
    is_chosen boolean
);
create table if not exists ml.fairness (
    run_id varchar not null,
    feature varchar not null,
    "group" varchar not null,
    metric varchar not null,
    value double,
    n_rows bigint,
    "limit" double,
    passes boolean
);
create table if not exists ml.feature_importance (
    run_id varchar not null,
    feature varchar not null,
    importance_type varchar not null,
    value double,
    value_std double
);
create table if not exists ml.promotions (
    promotion_id varchar primary key,
    model_name varchar not null,
    version integer not null,
    decision varchar not null,
    champion_before integer,
    champion_after integer,
    reason varchar not null,
    metric varchar,
    champion_value double,
    challenger_value double,
    improvement double,
    ci_low double,
    ci_high double,
    confidence double,
    n_holdout bigint,
    data_hash varchar,
    checks varchar,
    decided_by varchar not null,
    decided_at timestamp not null
);
create table if not exists ml.scoring_runs (
    scoring_id varchar primary key,
    task varchar not null,
    model_name varchar not null,
    model_version integer not null,
    source_table varchar not null,
    started_at timestamp not null,
    finished_at timestamp not null,
    n_rows_read bigint not null,
    n_rows_scored bigint not null,
    n_features_drifted integer,
    mode varchar not null
);
create table if not exists ml.ad_scores (
    ad_id varchar not null,
    model_name varchar not null,
    model_version integer not null,
    score double not null,
    score_lower double,
    score_upper double,
    interval_level double,
    scoring_id varchar not null,
    scored_at timestamp not null,
    input_hash varchar,
    primary key (ad_id, model_name, model_version)
);
create table if not exists ml.account_health_scores (
    account_id varchar not null,
    week_start date not null,
    model_name varchar not null,
    model_version integer not null,
    probability double not null,
    is_at_risk boolean not null,
    threshold double not null,
    scoring_id varchar not null,
    scored_at timestamp not null,
    input_hash varchar,
    primary key (account_id, week_start, model_name, model_version)
);
create table if not exists ml.ad_score_explanations (
    ad_id varchar not null,
    model_name varchar not null,
    model_version integer not null,
    rank integer not null,
    feature varchar not null,
    contribution double not null,
    scoring_id varchar not null,
    primary key (ad_id, model_name, model_version, rank)
);
create table if not exists ml.account_health_explanations (
    account_id varchar not null,
    week_start date not null,
    model_name varchar not null,
    model_version integer not null,
    rank integer not null,
    feature varchar not null,
    contribution double not null,
    scoring_id varchar not null,
    primary key (account_id, week_start, model_name, model_version, rank)
);
create table if not exists ml.drift (
    scoring_id varchar not null,
    model_name varchar not null,
    model_version integer not null,
    feature varchar not null,
    psi double not null,
    threshold double not null,
    is_drifted boolean,
    n_rows bigint not null,
    measured_at timestamp not null
);
create table if not exists ml.text_feature_cache (
    feature_key varchar not null,
    text_hash varchar not null,
    "values" double[] not null,
    computed_at timestamp not null,
    primary key (feature_key, text_hash)
);
create table if not exists ml.hpo_trials (
    run_id varchar not null,
    study_name varchar not null,
    candidate varchar not null,
    trial_number integer not null,
    state varchar not null,
    value double,
    params varchar,
    duration_seconds double
);
alter table ml.runs add column if not exists pid integer;
alter table ml.runs add column if not exists hostname varchar;
alter table ml.runs add column if not exists error varchar;
alter table ml.runs add column if not exists text_cache_hits bigint;
alter table ml.runs add column if not exists text_cache_computed bigint;
alter table ml.runs add column if not exists predict_ms_per_1000_rows double;
alter table ml.runs add column if not exists learning_curve_verdict varchar;
alter table ml.runs add column if not exists learning_curve_valid_gain double;
alter table ml.runs add column if not exists process_start varchar;
alter table ml.cv_results add column if not exists fit_seconds double;
alter table ml.cv_results add column if not exists predict_seconds double;
alter table ml.model_versions add column if not exists folder_sha256 varchar;
alter table ml.ad_scores add column if not exists input_hash varchar;
alter table ml.account_health_scores add column if not exists input_hash varchar;
alter table ml.drift alter column is_drifted drop not null;
{%- endmacro %}
