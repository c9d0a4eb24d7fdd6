"""Unit tests on small in-memory inputs: config, validation, features, label, artifacts."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import sys
import unicodedata
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from ml.artifacts import FOLDER_FILES, folder_problems, load_artifact, save_artifact, sha256_file
from ml.config import default_config_path, load_config, parse_config
from ml.cv import FoldScores, cross_validate, time_predictions, within_latency
from ml.errors import ArtifactError, ConfigError, DataValidationError, WarehouseError
from ml.features.pipeline import build_feature_pipeline
from ml.features.text import SentimentTransformer, TextLengthTransformer
from ml.models import get_candidate
from ml.synth.label import percent_rank
from ml.validation import validate_training_data
from ml.warehouse import TrainingSnapshot, quote_identifier

CONFIG = default_config_path("ad_score")


def raw_config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    """A small frame with every column the default configuration reads."""
    rng = np.random.default_rng(seed)
    config = load_config(CONFIG)
    data = {c: rng.normal(size=n) for c in config.input_columns()}
    text = ["Love this amazing deal!", "Terrible fees, stop wasting money.", "Free shipping.", ""]
    data.update(
        {
            "ad_id": [f"meta:{i}" for i in range(n)],
            "ad_text": [text[i % 4] for i in range(n)],
            "platform": [("facebook", "google", "tiktok", "pinterest", "instagram")[i % 5] for i in range(n)],
            "objective": [("awareness", "consideration", "conversion")[i % 3] for i in range(n)],
            "ad_format": ["image"] * n,
            "call_to_action": ["shop_now"] * n,
            "audience_type": ["broad"] * n,
            "vertical": ["food"] * n,
            "gender": ["all"] * n,
            "geo": ["US"] * n,
            "account_size_band": ["small"] * n,
            "image_has_people": [True, False] * (n // 2),
            "audience_age_band": ["18-24", "25-34"] * (n // 2),
            "ad_score": rng.uniform(0, 100, n),
            config.data.date_column: pd.Timestamp("2026-08-01") + pd.to_timedelta(np.arange(n), unit="D"),
        }
    )
    return pd.DataFrame(data)


def folds_for(f: pd.DataFrame) -> pd.DataFrame:
    """One row per ad: the last 10 are the test split, the rest dealt into 5 folds."""
    n = len(f)
    return pd.DataFrame(
        {
            "ad_id": f.ad_id,
            "split": ["train"] * (n - 10) + ["test"] * 10,
            "fold": [i % 5 for i in range(n - 10)] + [None] * 10,
        }
    )


def snapshot_of(f: pd.DataFrame, folds: pd.DataFrame | None = None) -> TrainingSnapshot:
    return TrainingSnapshot("marts.t", f, list(f.columns), folds_for(f) if folds is None else folds)


# --- configuration ---------------------------------------------------------------------


def test_default_config_loads_and_hash_is_stable() -> None:
    a, b = load_config(CONFIG), load_config(CONFIG)
    assert a.task == "ad_score" and a.data.target == "ad_score"
    assert a.config_hash() == b.config_hash() and len(a.config_hash()) == 64
    assert "ad_text" in a.input_columns()


def test_unknown_transformer_names_file_and_key() -> None:
    raw = raw_config()
    raw["features"]["text_features"][1]["transformer"] = "EvalTransformer"
    config = parse_config(raw, "conf.yml")
    with pytest.raises(
        ConfigError,
        match=r"conf.yml: features.text_features\[1\].transformer: "
        r"unknown transformer 'EvalTransformer'",
    ):
        build_feature_pipeline(config)


def test_wrong_parameter_type_names_the_key() -> None:
    raw = raw_config()
    raw["training"]["n_trials"] = "many"
    with pytest.raises(ConfigError, match=r"conf.yml: training.n_trials: expected an integer, got str"):
        parse_config(raw, "conf.yml")
    for key, value, message in (
        ("seed", -1, "expected an integer from 0 to 2147483647, got -1"),
        ("seed", 2**31, "expected an integer from 0 to 2147483647, got 2147483648"),
        ("n_jobs", 0, "expected -1 (every core) or an integer >= 1, got 0"),
        ("timeout", True, "expected an integer or a number or NoneType, got bool"),
        ("timeout", 0, "expected seconds > 0 (or null for none), got 0"),
    ):
        raw = raw_config()
        raw["training"][key] = value
        with pytest.raises(ConfigError, match=re.escape(f"conf.yml: training.{key}: {message}")):
            parse_config(raw, "conf.yml")
    raw = raw_config()
    assert parse_config(raw, "conf.yml").scoring.drift_min_rows == 200
    for task in ("../../etc", "ad score", "x' or '1'='1", "Ad"):
        raw = raw_config()
        raw["task"] = task
        with pytest.raises(ConfigError, match=re.escape("conf.yml: task: expected lower-case letters")):
            parse_config(raw, "conf.yml")
    for key, value, message in (
        ("drift_min_rows", 0, "expected an integer >= 1, got 0"),
        ("explain_top_k", -1, "expected an integer >= 1, got -1"),
        ("drift_threshold", 0, "expected a number > 0, got 0"),
    ):
        raw = raw_config()
        raw["scoring"][key] = value
        with pytest.raises(ConfigError, match=re.escape(f"conf.yml: scoring.{key}: {message}")):
            parse_config(raw, "conf.yml")


def test_configurations_the_second_config_review_found_accepted_are_refused(tmp_path: Path) -> None:
    """Each trained with exit 0 before: the label read as a feature (R2 0.999), a candidate
    cross-validated twice, an emotion counted twice, and task-specific keys set on the other
    kind of task (ignored without a word). YAML merge keys, which safe_load reads, were refused."""
    from ml.config import load_config

    raw = raw_config()
    raw["features"]["numeric_features"].append(
        {"name": "leak", "column": "ad_score", "transformer": "passthrough"}
    )
    index = len(raw["features"]["numeric_features"]) - 1
    with pytest.raises(
        ConfigError, match=re.escape(f"features.numeric_features[{index}]: reads 'ad_score', the label")
    ):
        parse_config(raw, "conf.yml")
    raw = raw_config()
    raw["training"]["candidates"] = ["xgboost", "lightgbm", "xgboost"]
    with pytest.raises(ConfigError, match=re.escape("training.candidates: a candidate is listed twice")):
        parse_config(raw, "conf.yml")
    raw = raw_config()
    emotions = next(f for f in raw["features"]["text_features"] if f["name"] == "emotions")
    emotions["params"]["emotions"] = ["joy", "joy"]
    with pytest.raises(ConfigError, match=re.escape("emotion(s) listed twice: joy")):
        build_feature_pipeline(parse_config(raw, "conf.yml"))
    for section, key, value in (
        ("promotion", "max_ece", 0.05),
        ("fairness", "max_opportunity_difference", 0.2),
    ):
        raw = raw_config()
        raw[section][key] = value
        with pytest.raises(ConfigError, match=re.escape(f"{section}.{key}: applies to classification only")):
            parse_config(raw, "conf.yml")
    raw = raw_config()
    raw["problem_type"] = "classification"
    with pytest.raises(ConfigError, match=re.escape("training.prediction_range: applies to regression only")):
        parse_config(raw, "conf.yml")
    merged = tmp_path / "merged.yml"
    text = CONFIG.read_text()
    assert "\ntraining:\n" in text and "timeout" not in text
    merged.write_text(text.replace("\ntraining:\n", "\ntraining:\n  <<: {timeout: 600, n_trials: 3}\n", 1))
    training = load_config(merged).training
    assert training.timeout == 600 and training.n_trials == 12  # the file's own key wins, as in YAML
    # An anchored mapping that merges another, merged again later, is not a duplicate key
    # (SafeLoader flattens it in place); a key written twice in one mapping still is.
    from ml.config import _UniqueKeyLoader

    doc = "base: &base {a: 1}\nx:\n  y: &m {<<: *base, a: 2}\nz: {<<: *m, b: 3}\n"
    assert yaml.load(doc, Loader=_UniqueKeyLoader) == yaml.safe_load(doc)
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'a'"):
        yaml.load("m: {a: 1, a: 2}\n", Loader=_UniqueKeyLoader)


def test_bad_values_found_by_the_config_review_are_config_errors(tmp_path: Path) -> None:
    """Each was a traceback (exit 1) or silently accepted: NaN thresholds (a NaN margin never
    promotes), an inverted prediction range (every score clipped), an empty quality report
    (the gate skipped), duplicate YAML keys (the last one won), and the rest below."""
    nan = float("nan")
    cases = [
        (("promotion", "margin"), nan, "promotion.margin: expected a finite number, got nan"),
        (("fairness", "max_parity_difference"), -1, "fairness.max_parity_difference: expected a number >= 0"),
        (("fairness", "min_group_size"), -5, "fairness.min_group_size: expected an integer >= 1"),
        (
            ("promotion", "max_coverage_shortfall"),
            -1,
            "promotion.max_coverage_shortfall: expected a number from 0",
        ),
        (("scoring", "drift_threshold"), nan, "scoring.drift_threshold: expected a finite number"),
        (
            ("training", "prediction_range"),
            [100, 0],
            "training.prediction_range: expected finite [low, high]",
        ),
        (
            ("training", "prediction_range"),
            [nan, 100],
            "training.prediction_range: expected finite [low, high]",
        ),
        (("data", "quality_report"), "", "data.quality_report: expected a table name"),
        (("data", "table"), "marts.t; drop table x", "data.table: expected a table name"),
        (("scoring", "table"), "a.b.c", "scoring.table: expected a table name"),
        (("data", "id_columns"), [], "data.id_columns: expected one or more distinct columns"),
        (("data", "id_columns"), ["ad_id", "ad_id"], "data.id_columns: expected one or more distinct"),
    ]
    for (section, key), value, message in cases:
        raw = raw_config()
        raw[section][key] = value
        with pytest.raises(ConfigError, match=re.escape(f"conf.yml: {message}")):
            parse_config(raw, "conf.yml")
    for field, value, message in (
        ("name", "age__min", "name: expected letters, digits and single _"),
        ("name", "", "name: expected letters"),
        ("type", "garbage", "type: expected one of categorical, nlp, statistical"),
    ):
        raw = raw_config()
        raw["features"]["campaign_features"][0][field] = value
        with pytest.raises(ConfigError, match=re.escape(f"features.campaign_features[0].{message}")):
            parse_config(raw, "conf.yml")
    raw = raw_config()
    raw["features"][1] = []
    with pytest.raises(ConfigError, match=r"features\.1: unknown feature group"):
        parse_config(raw, "conf.yml")
    # Transformer parameters: bad categories and emotion lists are the config's fault.
    for params, message in (
        ({"categories": []}, "params.categories: expected a non-empty list of distinct"),
        ({"categories": ["facebook", "facebook"]}, "params.categories: expected a non-empty list"),
        ({"categories": "facebook"}, "params.categories: expected a non-empty list"),
    ):
        raw = raw_config()
        raw["features"]["campaign_features"][0]["params"] = params
        with pytest.raises(ConfigError, match=re.escape(f"features.campaign_features[0].{message}")):
            build_feature_pipeline(parse_config(raw, "conf.yml"))
    emotions = next(
        i
        for i, f in enumerate(raw_config()["features"]["text_features"])
        if f["transformer"] == "EmotionTransformer"
    )
    for value in (5, [["joy"]]):
        raw = raw_config()
        raw["features"]["text_features"][emotions]["params"] = {"emotions": value}
        with pytest.raises(ConfigError, match=re.escape(f"features.text_features[{emotions}].params: ")):
            build_feature_pipeline(parse_config(raw, "conf.yml"))
    # The file itself: duplicate keys, a folder, bytes that are not UTF-8, deep nesting.
    text = CONFIG.read_text()
    duplicated = tmp_path / "dup.yml"
    duplicated.write_text(text.replace("training:\n", "training:\n  n_trials: 12\n  n_trials: 3\n", 1))
    with pytest.raises(ConfigError, match=r"dup.yml: not valid YAML: .*duplicate key 'n_trials'"):
        load_config(duplicated)
    with pytest.raises(ConfigError, match="cannot read the configuration file"):
        load_config(tmp_path)
    (tmp_path / "bytes.yml").write_bytes(b"task: \xff\xfe\n")
    with pytest.raises(ConfigError, match=r"bytes\.yml: not UTF-8 text"):
        load_config(tmp_path / "bytes.yml")
    (tmp_path / "deep.yml").write_text("task: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"deep\.yml: not valid YAML"):
        load_config(tmp_path / "deep.yml")


def test_unknown_transformer_param_names_the_key() -> None:
    raw = raw_config()
    raw["features"]["text_features"][1]["params"] = {"units": "bytes"}
    with pytest.raises(ConfigError, match=r"features.text_features\[1\].params: invalid parameters"):
        build_feature_pipeline(parse_config(raw, "conf.yml"))


def test_hub_sentiment_model_offline_error_lists_choices() -> None:
    raw = raw_config()
    raw["features"]["text_features"][0]["params"]["model_name"] = (
        "distilbert-base-uncased-finetuned-sst-2-english"
    )
    with pytest.raises(
        ConfigError,
        match=r"cannot be loaded offline \(no model hub is reachable\); "
        r"available offline: vader, minilm-logreg",
    ):
        build_feature_pipeline(parse_config(raw, "conf.yml"))


def test_missing_config_file_and_unknown_model() -> None:
    with pytest.raises(ConfigError, match=r"nope\.yml: configuration file not found"):
        load_config(Path("nope.yml"))
    with pytest.raises(ConfigError, match="unknown model 'prophet'"):
        get_candidate("prophet")


# --- validation ------------------------------------------------------------------------


def test_a_date_column_that_is_missing_or_not_a_date_is_a_validation_problem() -> None:
    """data.date_column was ignored when missing, and failed after the whole training when it
    named a text column."""
    from dataclasses import replace

    config = load_config(CONFIG)
    f = frame()
    for column, problem in (
        ("nope", "data.date_column nope: no such column in"),
        ("platform", "data.date_column platform: not a date or timestamp column"),
    ):
        bad = replace(config, data=replace(config.data, date_column=column))
        with pytest.raises(DataValidationError) as err:
            validate_training_data(snapshot_of(f, folds_for(f)), bad)
        assert any(p.startswith(problem) for p in err.value.problems), err.value.problems
    f["launch_day"] = pd.to_datetime("2026-09-01") + pd.to_timedelta(np.arange(len(f)) % 30, unit="D")
    good = replace(config, data=replace(config.data, date_column="launch_day"))
    validate_training_data(snapshot_of(f, folds_for(f)), good)


def test_validation_lists_every_problem() -> None:
    config = load_config(CONFIG)
    f = frame().drop(columns=["geo"])
    f.loc[[0, 1], "objective"] = None
    f.loc[3, "ad_id"] = f.loc[4, "ad_id"]
    with pytest.raises(DataValidationError) as err:
        validate_training_data(snapshot_of(f, folds_for(frame())), config)
    assert err.value.problems[:3] == [
        f"missing required column(s): geo (features.campaign_features[7]) in {config.source}",
        "column objective contains 2 null value(s)",
        "ad_id is not unique (e.g. {'ad_id': 'meta:4'})",
    ]


def test_a_label_with_nulls_or_text_is_a_validation_problem_even_when_not_critical() -> None:
    """A null label reached XGBoost ("Label contains NaN": exit 1, a traceback) when the
    target was not among data.critical_columns; text labels were dropped as NaN."""
    import dataclasses

    config = load_config(CONFIG)
    data = dataclasses.replace(config.data, critical_columns=("ad_id",))
    config = dataclasses.replace(config, data=data)
    f = frame()
    f["ad_score"] = f["ad_score"].astype(object)
    f.loc[[0, 1, 2], "ad_score"] = None
    f.loc[5, "ad_score"] = "n/a"
    with pytest.raises(DataValidationError) as err:
        validate_training_data(snapshot_of(f, folds_for(f)), config)
    assert "column ad_score (data.target, the label) contains 3 null value(s)" in err.value.problems
    assert (
        "column ad_score (data.target) holds 1 value(s) that are not numbers, e.g. 'n/a'"
        in err.value.problems
    )


def test_features_that_would_read_every_value_as_missing_are_refused() -> None:
    """A passthrough feature on a text column became all-NaN, and a misspelt category made
    every row of the real one unknown; both trained with exit 0."""
    raw = raw_config()
    raw["features"]["numeric_features"].append(
        {"name": "copy_raw", "column": "ad_text", "transformer": "passthrough"}
    )
    index = len(raw["features"]["numeric_features"]) - 1
    platform = next(f for f in raw["features"]["campaign_features"] if f["name"] == "platform")
    position = raw["features"]["campaign_features"].index(platform)
    platform["params"]["categories"] = ["facebok", "instagram", "google", "tiktok", "pinterest"]
    config = parse_config(raw, "conf.yml")
    f = frame()
    with pytest.raises(DataValidationError) as err:
        validate_training_data(snapshot_of(f, folds_for(f)), config)
    problems = " | ".join(err.value.problems)
    assert f"features.numeric_features[{index}] (copy_raw, passthrough): column ad_text holds" in problems
    n_facebook = int((f.platform == "facebook").sum())
    assert n_facebook > 0
    assert (
        f"features.campaign_features[{position}].params.categories: 'facebok' never occurs in column "
        f"platform, while {n_facebook} row(s) hold 'facebook': a misspelt category?"
    ) in problems
    # A listed category absent from this snapshot beside an unrelated new value is no typo:
    # the new value is an unknown category (logged), training goes on.
    raw = raw_config()
    config = parse_config(raw, "conf.yml")
    g = f[f.platform != "pinterest"].copy()
    g.loc[g.index[0], "platform"] = "snapchat"
    validate_training_data(snapshot_of(g, folds_for(g)), config)


def test_a_missing_column_names_every_configuration_key_that_reads_it() -> None:
    config = load_config(CONFIG)
    f = frame().drop(columns=["objective"])
    with pytest.raises(DataValidationError) as err:
        validate_training_data(snapshot_of(f, folds_for(frame())), config)
    assert err.value.problems[0] == (
        "missing required column(s): objective (data.critical_columns, "
        f"features.campaign_features[1], fairness.features) in {config.source}"
    )


def test_validation_requires_folds_for_every_row_and_a_test_split() -> None:
    config = load_config(CONFIG)
    f = frame()
    folds = folds_for(f).assign(split="train", fold=[i % 5 for i in range(len(f))]).iloc[1:]
    with pytest.raises(DataValidationError) as err:
        validate_training_data(snapshot_of(f, folds), config)
    assert (
        "marts.ad_score_folds: 1 row(s) have no entry in the folds table (e.g. {'ad_id': 'meta:0'})"
        in err.value.problems
    )
    assert "marts.ad_score_folds: the folds table assigns no row to split 'test'" in err.value.problems


def test_validation_passes_a_good_frame_and_builds_group_folds() -> None:
    f = frame()
    out, splits = validate_training_data(snapshot_of(f), load_config(CONFIG))
    assert len(out) == len(f) and len(splits.train_rows) == len(f) - 10 and len(splits.test_rows) == 10
    assert splits.n_folds == 5
    for train, valid in splits.cv:
        assert not set(train) & set(valid) and len(train) + len(valid) == len(f) - 10


def test_time_folds_with_roles_keep_their_gap() -> None:
    """Long-format folds (fold, role) select exactly the rows the warehouse named."""
    from ml.splits import build_splits

    weeks = pd.date_range("2026-08-03", periods=8, freq="7D")
    f = pd.DataFrame([(a, w) for w in weeks for a in ("a", "b")], columns=["account_id", "week_start"])
    rows = []
    for i, w in enumerate(weeks):
        split = "test" if i >= 6 else "gap" if i >= 4 else "train"
        if split != "train":
            rows += [(a, w, split, None, None) for a in ("a", "b")]
        for fold, valid in enumerate((2, 3)):
            if split == "train" and (i == valid or i <= valid - 2):
                rows += [(a, w, "train", fold, "valid" if i == valid else "train") for a in ("a", "b")]
    folds = pd.DataFrame(rows, columns=["account_id", "week_start", "split", "fold", "role"])
    splits, problems = build_splits(f, folds, ["account_id", "week_start"])
    assert problems == []
    assert len(splits.train_rows) == 8 and len(splits.test_rows) == 4  # gap weeks excluded
    train_weeks = f.week_start.to_numpy()[splits.train_rows]
    (t0, v0), (t1, v1) = splits.cv
    assert set(train_weeks[t0]) == {weeks[0]} and set(train_weeks[v0]) == {weeks[2]}
    assert set(train_weeks[t1]) == {weeks[0], weeks[1]} and set(train_weeks[v1]) == {weeks[3]}
    # A repeated (example, fold) row or an example in two splits is named, not merged in.
    repeated = pd.concat([folds, folds.iloc[[-1]]], ignore_index=True)
    _, problems = build_splits(f, repeated, ["account_id", "week_start"])
    assert len(problems) == 1 and problems[0].startswith("2 row(s) repeat account_id, week_start, fold")
    both = folds.copy()
    both.loc[both.index[both.split == "train"][0], "split"] = "gap"  # one of a's week-0 rows
    _, problems = build_splits(f, both, ["account_id", "week_start"])
    assert len(problems) == 1 and problems[0].startswith(
        "1 example(s) are in more than one split (e.g. {'account_id': 'a'"
    )


def test_a_repeated_example_in_the_folds_table_is_named() -> None:
    """One row per ad: a second row for one ad would shift every later ad's fold."""
    from ml.splits import build_splits

    f = frame()
    folds = folds_for(f)
    folds = pd.concat([folds.iloc[:3], folds.iloc[[2]], folds.iloc[3:]], ignore_index=True)
    _, problems = build_splits(f, folds, ["ad_id"])
    assert problems == ["2 row(s) repeat ad_id (e.g. {'ad_id': 'meta:2'})"]


def test_a_fold_with_a_single_class_is_a_validation_problem() -> None:
    from ml.splits import Splits
    from ml.validation import single_class_folds

    y = pd.Series([0, 1, 0, 1, 1, 1, 0, 1], dtype="boolean")
    splits = Splits(
        np.arange(8),
        np.array([], dtype=int),
        [(np.arange(0, 4), np.arange(4, 6)), (np.arange(2, 8), np.arange(0, 2))],
    )
    assert single_class_folds(y, splits, "marts.f", "is_at_risk") == [
        "marts.f: fold 0's validation rows hold a single class (is_at_risk = 1): its score is undefined"
    ]


# --- features --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "x" * 100_000,
        "😍🔥😮",
        "限时优惠，立即购买",
        None,
        "caf\u00e9 \ufffd broken",
        "!!!???%%% 50% off",
    ],
)
def test_text_features_are_finite_on_bad_text(text: str | None) -> None:
    X = pd.DataFrame({"ad_text": [text, "fine text"]})
    for transformer in (SentimentTransformer(), TextLengthTransformer()):
        out = transformer.fit(X).transform(X)
        assert out.shape[0] == 2 and np.isfinite(out).all()


def test_sentiment_orders_positive_above_negative() -> None:
    X = pd.DataFrame({"t": ["We love this wonderful, amazing product!", "Terrible, awful waste."]})
    pos, neg = SentimentTransformer().fit(X).transform(X)[:, 0]
    assert pos > 0.5 and neg < -0.5


def test_feature_pipeline_output_and_unknown_categories() -> None:
    config = load_config(CONFIG)
    f = frame()
    pipeline = build_feature_pipeline(config).fit(f)
    names = list(pipeline.get_feature_names_out())
    assert "platform__platform_tiktok" in names and "message_length__words" in names
    g = f.copy()
    g.loc[0, "platform"] = "snapchat"  # unseen category: all zeros, no error
    g.loc[1, "geo"] = None
    X = pipeline.transform(g)
    cols = [i for i, n in enumerate(names) if n.startswith("platform__")]
    assert X[0, cols].sum() == 0 and X[1, cols].sum() == 1


# --- label -----------------------------------------------------------------------------


def test_percent_rank_matches_sql_semantics() -> None:
    values = np.array([3.0, 1.0, 1.0, 2.0, 5.0, 7.0])
    groups = np.array(["a", "a", "a", "a", "b", "c"])
    # a: ranks 4,1,1,3 of 4 -> (r-1)/3 ; b and c are cohorts of one -> 0
    np.testing.assert_allclose(percent_rank(values, groups), [1.0, 0.0, 0.0, 2 / 3, 0.0, 0.0])


# --- warehouse and artifacts -------------------------------------------------------------


@pytest.mark.parametrize("name", ["marts.t; drop table x", "a.b.c", "1abc", 'x"y', ""])
def test_identifiers_are_validated(name: str) -> None:
    with pytest.raises(WarehouseError, match="invalid identifier"):
        quote_identifier(name)


def test_artifact_roundtrip_and_tamper_detection(tmp_path: Path) -> None:
    config = load_config(CONFIG)
    f = frame()
    pipeline = build_feature_pipeline(config).fit(f)
    model = get_candidate("xgboost").make("regression", {"n_estimators": 5}, 0, 1)
    model.fit(pipeline.transform(f), f.ad_score)
    saved = save_artifact(
        tmp_path,
        "ad_score",
        "run1",
        "xgboost",
        pipeline,
        model,
        {"problem_type": "regression", "prediction_range": [0, 100]},
    )
    loaded = load_artifact(saved.manifest_path, saved.sha256)
    np.testing.assert_allclose(loaded.predict(f), np.clip(model.predict(pipeline.transform(f)), 0, 100))
    assert not list(tmp_path.glob("ad_score/.run1-*")), "temporary folder left behind"

    with pytest.raises(ArtifactError, match="registry expects"):
        load_artifact(saved.manifest_path, "0" * 64)
    booster = saved.manifest_path.parent / "model.ubj"
    data = bytearray(booster.read_bytes())
    data[len(data) // 2] ^= 0xFF
    booster.write_bytes(bytes(data))
    assert sha256_file(saved.manifest_path) == saved.sha256
    with pytest.raises(ArtifactError, match=r"model.ubj does not match its manifest checksum"):
        load_artifact(saved.manifest_path, saved.sha256)
    booster.unlink()
    with pytest.raises(ArtifactError, match=r"model.ubj is missing"):
        load_artifact(saved.manifest_path, saved.sha256)


def test_the_folder_listing_covers_every_file_of_a_version(tmp_path: Path) -> None:
    """manifest.json covers what scoring loads; the folder listing (its checksum in the
    registry) covers the rest, MLmodel and figures included; the model card comes later."""
    config = load_config(CONFIG)
    f = frame()
    pipeline = build_feature_pipeline(config).fit(f)
    model = get_candidate("xgboost").make("regression", {"n_estimators": 5}, 0, 1)
    model.fit(pipeline.transform(f), f.ad_score)
    figure = tmp_path / "curve.png"
    figure.write_bytes(b"\x89PNG not really")
    saved = save_artifact(
        tmp_path / "root", "ad_score", "run1", "xgboost", pipeline, model, {}, figures=[figure]
    )
    folder = saved.manifest_path.parent
    assert json.loads((folder / FOLDER_FILES).read_text()).keys() == {
        "manifest.json",
        "model.ubj",
        "feature_pipeline.skops",
        "figures/curve.png",
    }
    assert folder_problems(folder, saved.folder_sha256) == []
    (folder / "model_card.md").write_text("# card\n")
    assert folder_problems(folder, saved.folder_sha256) == []
    (folder / "figures" / "curve.png").write_bytes(b"other")
    (folder / "figures" / "new.png").write_bytes(b"new")
    (folder / "model.ubj").unlink()
    assert folder_problems(folder, saved.folder_sha256) == [
        f"{folder / 'model.ubj'} is missing",
        f"{folder / 'figures/curve.png'} changed since registration",
        f"{folder / 'figures/new.png'} was added after registration",
    ]
    assert folder_problems(folder, "0" * 64) == [
        f"{folder / FOLDER_FILES} does not match the registry's checksum"
    ]


# --- tuning ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("search", "pruner"),
    [
        ("tpe", "hyperband"),
        ("random", "median"),
        ("grid", "none"),
        ("gp", "hyperband"),
    ],
)
def test_every_search_and_pruner_runs(search: str, pruner: str) -> None:
    from ml.tuning import tune

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = X[:, 0] * 3 + rng.normal(size=300)
    folds = [(np.arange(0, 200), np.arange(200, 300)), (np.arange(100, 300), np.arange(0, 100))]
    result = tune(
        get_candidate("xgboost"),
        X,
        y,
        folds,
        problem_type="regression",
        metric="rmse",
        search=search,
        pruner=pruner,
        n_trials=4,
        timeout=None,
        seed=0,
        n_jobs=1,
        clip=None,
        study_name=f"test-{search}",
        storage=None,
    )
    assert len(result.trials) == 4 and result.best_scores.mean < 2.0
    assert result.boosting_rounds > 0
    assert 1 <= result.best_params["n_estimators"] <= 800


def _pruning_problem() -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]], dict]:
    """A small regression with two folds, and tune()'s arguments for a random search."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 5))
    y = X[:, 0] + 0.5 * X[:, 1] ** 2 + rng.normal(size=400)
    folds = [(np.arange(0, 300), np.arange(300, 400)), (np.arange(100, 400), np.arange(0, 100))]
    kwargs = dict(
        problem_type="regression",
        metric="rmse",
        search="random",
        n_trials=12,
        timeout=None,
        seed=3,
        n_jobs=1,
        clip=None,
        storage=None,
    )
    return X, y, folds, kwargs


def test_pruning_stops_trials_inside_a_fold() -> None:
    """Hyperband acts on boosting rounds: pruned trials train fewer rounds than a full fold."""
    from ml.tuning import tune

    X, y, folds, kwargs = _pruning_problem()
    pruned = tune(get_candidate("lightgbm"), X, y, folds, pruner="hyperband", study_name="p", **kwargs)
    full = tune(get_candidate("lightgbm"), X, y, folds, pruner="none", study_name="n", **kwargs)
    assert (pruned.trials.state == "PRUNED").any()
    assert pruned.boosting_rounds < full.boosting_rounds
    # A pruned trial has no mean CV score: its value is null, not one fold's loss at a rung.
    assert pruned.trials[pruned.trials.state == "PRUNED"].value.isna().all()
    assert pruned.trials[pruned.trials.state == "COMPLETE"].value.notna().all()


@pytest.mark.parametrize("name", ["xgboost", "lightgbm", "catboost"])
def test_a_trial_the_pruner_stops_is_pruned_where_it_said_so(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each booster stops a trial at the step where Hyperband first answers "prune": nothing
    is reported after it and the trial ends PRUNED. (Hyperband records the trial at the rung
    when it answers, so asking again says "keep": XGBoost trials used to go on to the next fold.)"""
    import optuna

    import ml.tuning
    from ml.tuning import tune

    said_prune: dict[int, int] = {}
    last_step: dict[int, int] = {}
    real = ml.tuning.make_pruner

    class Recording(optuna.pruners.BasePruner):
        def __init__(self, inner: optuna.pruners.BasePruner) -> None:
            self.inner = inner

        def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
            answer = self.inner.prune(study, trial)
            last_step[trial.number] = trial.last_step
            if answer and trial.number not in said_prune:
                said_prune[trial.number] = trial.last_step
            return answer

    monkeypatch.setattr(ml.tuning, "make_pruner", lambda *a: Recording(real(*a)))
    X, y, folds, kwargs = _pruning_problem()
    result = tune(get_candidate(name), X, y, folds, pruner="hyperband", study_name=f"p-{name}", **kwargs)
    assert said_prune, "the pruner never answered prune: the test shows nothing"
    states = result.trials.set_index("trial_number").state
    for number, step in said_prune.items():
        assert states[number] == "PRUNED" and last_step[number] == step, (number, step, last_step[number])
    assert set(states[states == "PRUNED"].index) == set(said_prune)


@pytest.mark.parametrize(
    ("name", "problem_type", "metric"),
    [
        ("xgboost", "regression", "rmse"),
        ("lightgbm", "regression", "rmse"),
        ("catboost", "regression", "rmse"),
        ("xgboost", "classification", "roc_auc"),
    ],
)
def test_tuned_cv_scores_are_the_refit_configurations(name: str, problem_type: str, metric: str) -> None:
    """Early stopping picks one number of rounds for the trial (best mean loss over the
    folds), every fold is scored with that many, and the refit trains exactly that many: so
    a fresh fit of the tuned parameters on each fold's training rows (no early stopping, no
    validation rows) reproduces the recorded fold scores and out-of-fold predictions.  Each
    fold used to be scored at its own best round, chosen on the rows it was scored on."""
    from ml.cv import predict
    from ml.evaluation import score
    from ml.tuning import tune

    rng = np.random.default_rng(5)
    X = rng.normal(size=(600, 5))
    signal = X[:, 0] + 0.5 * X[:, 1] ** 2
    noise = rng.normal(scale=2.0, size=600)
    y = (signal + noise > 0.5).astype(float) if problem_type == "classification" else signal + noise
    order = rng.permutation(600)
    folds = [(np.setdiff1d(order, part), np.sort(part)) for part in np.array_split(order, 3)]
    candidate = get_candidate(name)
    result = tune(
        candidate,
        X,
        y,
        folds,
        problem_type=problem_type,
        metric=metric,
        search="random",
        pruner="none",
        n_trials=2,
        timeout=None,
        seed=4,
        n_jobs=1,
        clip=None,
        study_name=f"rounds-{name}",
        storage=None,
    )
    rounds = result.best_params[candidate.rounds_param]
    assert 1 <= rounds < candidate.max_rounds  # early stopping chose it
    for (train_idx, valid_idx), recorded in zip(folds, result.best_scores.values, strict=True):
        model = candidate.make(problem_type, result.best_params, 4, 1)
        model.fit(X[train_idx], y[train_idx])
        pred = predict(model, X[valid_idx], problem_type)
        np.testing.assert_allclose(pred, result.best_scores.oof[valid_idx], rtol=1e-6, atol=1e-9)
        assert score(metric, y[valid_idx], pred) == pytest.approx(recorded, rel=1e-9)


def test_the_study_storage_folder_is_made_and_a_bad_storage_fails_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A SQLite study storage in a folder that does not exist yet (a fresh volume) works: the
    folder is created (SQLite made the file only, and the copy of the study failed after the
    whole tuning).  A storage that cannot be opened is a ConfigError naming the variable."""
    from ml.errors import ConfigError
    from ml.tuning import STORAGE_ENV, check_study_storage, study_storage

    target = tmp_path / "fresh" / "optuna" / "studies.db"
    monkeypatch.setenv(STORAGE_ENV, f"sqlite:///{target}")
    assert study_storage() == f"sqlite:///{target}" and target.parent.is_dir()
    check_study_storage()
    assert target.is_file()
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv(STORAGE_ENV, f"sqlite:///{tmp_path / 'a_file' / 'studies.db'}")
    with pytest.raises(ConfigError, match=r"\$ADSCORE_OPTUNA_STORAGE \(sqlite:///.*a_file.*cannot open"):
        check_study_storage()
    monkeypatch.setenv(STORAGE_ENV, "nosuchdialect://host/db")
    with pytest.raises(ConfigError, match="cannot open the Optuna study storage"):
        check_study_storage()
    monkeypatch.setenv(STORAGE_ENV, "memory")
    assert study_storage() is None
    check_study_storage()


def test_a_resumed_study_fails_trials_a_killed_process_left_running(tmp_path: Path) -> None:
    """A process killed mid-trial leaves that trial RUNNING in the stored study; resuming
    (under the writer lock) marks it FAIL, and the run's trials are only its own."""
    import optuna

    from ml.errors import ConfigError
    from ml.tuning import tune

    X, y, folds, kwargs = _pruning_problem()
    kwargs = {**kwargs, "n_trials": 2, "storage": f"sqlite:///{tmp_path / 'studies.db'}"}
    first = tune(get_candidate("xgboost"), X, y, folds, pruner="none", study_name="s", **kwargs)
    stored = optuna.load_study(study_name="s", storage=kwargs["storage"])
    zombie = stored.ask()  # RUNNING, as a killed process leaves it
    resumed = tune(
        get_candidate("xgboost"), X, y, folds, pruner="none", study_name="s", resume=True, **kwargs
    )
    assert set(resumed.trials.state) <= {"COMPLETE", "PRUNED"}
    assert resumed.trials.trial_number.min() > zombie.number and len(resumed.trials) == 2
    # The resumed search proposes new parameters (the same seed used to repeat the first run's).
    assert not set(resumed.trials.params) & set(first.trials.params)
    # A study of another candidate or metric is not resumed: its trials would mislead this one.
    for other in ({"candidate": get_candidate("lightgbm")}, {"metric": "mae"}):
        args = {**kwargs, "candidate": get_candidate("xgboost"), **other}
        with pytest.raises(ConfigError, match="--study-name s: the stored study minimizes rmse of xgboost"):
            tune(X=X, y=y, folds=folds, pruner="none", study_name="s", resume=True, **args)
    states = {t.number: t.state for t in optuna.load_study(study_name="s", storage=kwargs["storage"]).trials}
    assert states[zombie.number] == optuna.trial.TrialState.FAIL


def test_an_empty_stored_study_of_the_other_direction_is_not_resumed(tmp_path: Path) -> None:
    """A study created without trials (`optuna create-study`, or a run stopped before its
    first) keeps its direction when loaded: resumed for a metric of the other direction, the
    search would have optimised the wrong way."""
    import optuna

    from ml.errors import ConfigError
    from ml.tuning import tune

    X, y, folds, kwargs = _pruning_problem()
    kwargs = {**kwargs, "n_trials": 2, "storage": f"sqlite:///{tmp_path / 'studies.db'}"}
    optuna.create_study(study_name="e", storage=kwargs["storage"], direction="maximize")
    with pytest.raises(ConfigError, match="--study-name e: the stored study maximizes"):
        tune(get_candidate("xgboost"), X, y, folds, pruner="none", study_name="e", resume=True, **kwargs)
    optuna.create_study(study_name="f", storage=kwargs["storage"], direction="minimize")
    resumed = tune(
        get_candidate("xgboost"), X, y, folds, pruner="none", study_name="f", resume=True, **kwargs
    )
    assert len(resumed.trials) == 2


def test_a_resumed_grid_search_continues_the_grid_without_repeats(tmp_path: Path) -> None:
    """--search grid resumed with --study-name evaluates the grid points the study has not,
    not points it already has (GridSampler's grid ids index a seed-dependent shuffle)."""
    import optuna

    from ml.tuning import tune

    X, y, folds, kwargs = _pruning_problem()
    X, y = X[:200], y[:200]
    folds = [(np.arange(0, 150), np.arange(150, 200)), (np.arange(50, 200), np.arange(0, 50))]
    kwargs = {**kwargs, "search": "grid", "n_trials": 4, "storage": f"sqlite:///{tmp_path / 'studies.db'}"}
    cand = get_candidate("xgboost")
    tune(cand, X, y, folds, pruner="none", study_name="g", **kwargs)
    tune(cand, X, y, folds, pruner="none", study_name="g", resume=True, **kwargs)
    stored = optuna.load_study(study_name="g", storage=kwargs["storage"]).trials
    points = {tuple(sorted(t.params.items())) for t in stored}
    assert len(stored) == 8 and len(points) == 8  # the whole 2x2x2 grid, each point once


def test_the_median_pruner_judges_a_later_fold_on_that_fold() -> None:
    """Steps run fold after fold: a trial far worse than the completed ones on fold 1 is
    pruned there, though its fold-0 loss (lower than anyone's fold-1 loss) was fine."""
    import optuna

    from ml.tuning import make_pruner

    study = optuna.create_study(direction="minimize", pruner=make_pruner("median", 1600, 800))
    for _ in range(3):
        done = study.ask()
        for r in range(60):
            done.report(0.2, r)
            done.report(0.5, 800 + r)
        study.tell(done, 0.35)
    trial = study.ask()
    for r in range(60):
        trial.report(0.2, r)
    assert not trial.should_prune()
    trial.report(5.0, 800)
    assert trial.should_prune()
    # and the first fold's warm-up still holds
    fresh = study.ask()
    fresh.report(9.0, 10)
    assert not fresh.should_prune()


def test_a_study_is_not_resumed_with_the_grid_after_a_sampled_search(tmp_path: Path) -> None:
    """The grid suggests categories where tpe/random/gp drew ranges: resuming one kind of
    study with the other is refused before any trial (it failed the first trial with a
    ValueError), while tpe and random share their space."""
    from ml.errors import ConfigError
    from ml.tuning import tune

    X, y, folds, kwargs = _pruning_problem()
    X, y = X[:200], y[:200]
    folds = [(np.arange(0, 150), np.arange(150, 200)), (np.arange(50, 200), np.arange(0, 50))]
    kwargs = {**kwargs, "n_trials": 1, "storage": f"sqlite:///{tmp_path / 'studies.db'}"}
    cand = get_candidate("xgboost")
    tune(cand, X, y, folds, pruner="none", study_name="s", **{**kwargs, "search": "tpe"})
    with pytest.raises(ConfigError, match=r"--study-name s: .*space differ"):
        tune(cand, X, y, folds, pruner="none", study_name="s", resume=True, **{**kwargs, "search": "grid"})
    tune(cand, X, y, folds, pruner="none", study_name="s", resume=True, **{**kwargs, "search": "random"})


def test_a_study_another_process_is_resuming_is_refused_not_failed(tmp_path: Path) -> None:
    """Two runs on two warehouses (two writer locks) can resume one stored study: the second
    must not fail the first one's RUNNING trial (the first then died on "Cannot tell a FAIL
    trial"); it is refused while the first holds the study."""
    import optuna

    from ml.errors import ConfigError
    from ml.tuning import study_lock, tune

    X, y, folds, kwargs = _pruning_problem()
    X, y = X[:200], y[:200]
    folds = [(np.arange(0, 150), np.arange(150, 200)), (np.arange(50, 200), np.arange(0, 50))]
    kwargs = {**kwargs, "n_trials": 1, "storage": f"sqlite:///{tmp_path / 'studies.db'}"}
    cand = get_candidate("xgboost")
    tune(cand, X, y, folds, pruner="none", study_name='a/b "c"', **kwargs)
    stored = optuna.load_study(study_name='a/b "c"', storage=kwargs["storage"])
    running = stored.ask()  # the other process's trial in progress
    with (
        study_lock(kwargs["storage"], 'a/b "c"'),  # held by the other process
        pytest.raises(ConfigError, match="another process is running this study"),
    ):
        tune(cand, X, y, folds, pruner="none", study_name='a/b "c"', resume=True, **kwargs)
    assert stored.trials[running.number].state == optuna.trial.TrialState.RUNNING
    resumed = tune(cand, X, y, folds, pruner="none", study_name='a/b "c"', resume=True, **kwargs)
    assert len(resumed.trials) == 1  # once free, the study resumes (the stale trial failed)


@pytest.mark.parametrize("name", ["xgboost", "catboost"])
def test_hpo_trials_record_the_rounds_a_booster_trial_trained(name: str) -> None:
    """A booster trial trains up to max_rounds with early stopping: a sampled n_estimators
    (iterations) was an inert dimension, recorded in ml.hpo_trials though never trained;
    the rounds recorded are the ones the trial chose (the best trial's are the refit's)."""
    from ml.tuning import tune

    X, y, folds, kwargs = _pruning_problem()
    X, y = X[:200], y[:200]
    folds = [(np.arange(0, 150), np.arange(150, 200)), (np.arange(50, 200), np.arange(0, 50))]
    cand = get_candidate(name)
    result = tune(cand, X, y, folds, pruner="none", study_name="r", **{**kwargs, "n_trials": 3})
    rows = result.trials.set_index("trial_number")
    best = json.loads(rows.params[result.best_trial])
    assert best[cand.rounds_param] == result.best_params[cand.rounds_param]
    assert cand.rounds_param not in cand.suggest(_Sampled())  # not searched


class _Sampled:
    """A stand-in trial recording nothing: the low end of every range, the first category."""

    def suggest_int(self, name: str, low: int, high: int, **_: object) -> int:
        return low

    def suggest_float(self, name: str, low: float, high: float, **_: object) -> float:
        return low

    def suggest_categorical(self, name: str, choices: list) -> object:
        return choices[0]


def test_publishing_the_snapshot_removes_copies_a_killed_publish_left(tmp_path: Path) -> None:
    import duckdb

    from ml.pipeline import publish_snapshot

    warehouse = tmp_path / "adscore.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table t as select 1 as x")
    stale = tmp_path / ".adscore.snapshot.duckdb.12345.tmp"
    stale.write_bytes(b"half a copy")
    target = publish_snapshot(warehouse)
    assert not stale.exists() and sorted(p.name for p in tmp_path.iterdir()) == [
        "adscore.duckdb",
        "adscore.snapshot.duckdb",
    ]
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("select x from t").fetchall() == [(1,)]


def test_a_killed_build_blocks_until_what_it_selected_is_rebuilt(tmp_path: Path) -> None:
    """audit.dbt_builds: an invocation with no end blocks training and scoring until the
    invocations that ended after it have rebuilt every node it selected (a `dbt seed` after a
    killed `dbt build` used to lift the block: only the latest invocation was looked at)."""
    import datetime as dt
    import json

    import duckdb

    from ml.errors import WarehouseError
    from ml.warehouse import require_finished_build

    con = duckdb.connect()
    con.execute(
        "create schema audit; create table audit.dbt_builds (invocation_id varchar, command varchar, "
        "n_selected integer, selected_nodes varchar, started_at timestamp, finished_at timestamp, "
        "status varchar)"
    )
    start = dt.datetime(2026, 11, 27, 8)

    def record(name: str, command: str, nodes: list[str] | None, finished: bool) -> None:
        at = start + dt.timedelta(minutes=len(con.execute("select * from audit.dbt_builds").fetchall()))
        con.execute(
            "insert into audit.dbt_builds values (?, ?, ?, ?, ?, ?, ?)",
            [
                name,
                command,
                None if nodes is None else len(nodes),
                None if nodes is None else json.dumps(nodes),
                at,
                at + dt.timedelta(seconds=30) if finished else None,
                "success" if finished else None,
            ],
        )

    everything = ["model.a", "model.b", "seed.s"]
    record("full", "build", everything, True)
    require_finished_build(con, tmp_path)
    record("killed", "build", everything, False)
    with pytest.raises(WarehouseError, match="did not finish"):
        require_finished_build(con, tmp_path)
    record("seed", "seed", ["seed.s"], True)
    with pytest.raises(WarehouseError, match=r"2 of its 3 nodes not rebuilt since \(e.g. model.a\)"):
        require_finished_build(con, tmp_path)
    record("part", "build", ["model.a", "model.b"], True)  # with the seed: all of it
    require_finished_build(con, tmp_path)
    record("killed retry", "retry", None, False)
    with pytest.raises(WarehouseError, match="no complete build since"):
        require_finished_build(con, tmp_path)
    record("seed again", "seed", ["seed.s"], True)
    with pytest.raises(WarehouseError, match="a `dbt retry`"):
        require_finished_build(con, tmp_path)
    record("retry", "retry", None, True)
    require_finished_build(con, tmp_path)

    # A table recorded before selections were (no selected_nodes column) still reads.
    legacy = duckdb.connect()
    legacy.execute(
        "create schema audit; create table audit.dbt_builds (invocation_id varchar, command varchar, "
        "n_selected integer, started_at timestamp, finished_at timestamp, status varchar)"
    )
    legacy.execute("insert into audit.dbt_builds values ('old', 'build', 3, ?, ?, 'success')", [start, start])
    require_finished_build(legacy, tmp_path)
    legacy.execute("insert into audit.dbt_builds values ('cut', 'build', 3, ?, null, null)", [start])
    with pytest.raises(WarehouseError, match="did not finish"):
        require_finished_build(legacy, tmp_path)


def test_a_reused_pid_does_not_keep_a_dead_run_running(tmp_path: Path) -> None:
    """A `running` row whose pid now belongs to another process (pid reuse) is interrupted:
    the row records the process's start, and a live pid only counts with the same start."""
    import datetime as dt
    import socket
    import subprocess

    from ml.warehouse import mark_interrupted_runs, process_start, transaction

    if process_start(os.getpid()) is None:
        pytest.skip("no /proc here: the start of a process cannot be read")
    path = tmp_path / "wh.duckdb"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = process_start(other.pid)
        assert started is not None and started != process_start(os.getpid())
        with transaction(path) as con:
            for run_id, start in (("live", started), ("reused", "other-boot:1"), ("legacy", None)):
                con.execute(
                    "insert into ml.runs (run_id, task, status, started_at, pid, hostname, process_start) "
                    "values (?, 'ad_score', 'running', ?, ?, ?, ?)",
                    [run_id, dt.datetime(2026, 11, 28), other.pid, socket.gethostname(), start],
                )
        assert mark_interrupted_runs(path) == ["reused"]
        other.kill()
        other.wait()
        assert sorted(mark_interrupted_runs(path)) == ["legacy", "live"]
    finally:
        other.kill()
        other.wait()


# --- calibration, intervals, fairness ---------------------------------------------------


def test_calibration_fixes_a_miscalibrated_classifier() -> None:
    from ml.calibration import Calibrator, calibrate, conformal_half_widths
    from ml.evaluation import expected_calibration_error

    rng = np.random.default_rng(0)
    true_p = rng.uniform(0.05, 0.95, 4000)
    y = (rng.random(4000) < true_p).astype(float)
    distorted = true_p**3  # systematically under-confident about positives
    folds = [
        (np.flatnonzero(np.arange(3000) % 3 != k), np.flatnonzero(np.arange(3000) % 3 == k)) for k in range(3)
    ]
    calibrator, rows = calibrate(distorted[:3000], y[:3000], folds, distorted[3000:], y[3000:])
    after = expected_calibration_error(y[3000:], calibrator.apply(distorted[3000:]))
    assert expected_calibration_error(y[3000:], distorted[3000:]) > 0.1 > after
    assert rows.query("split == 'test' and is_chosen").metric.tolist() == ["brier", "log_loss", "ece"]
    # Stored as plain numbers and rebuilt identically.
    again = Calibrator.from_dict(calibrator.as_dict())
    np.testing.assert_allclose(again.apply(distorted[:10]), calibrator.apply(distorted[:10]))
    # Split-conformal half-widths cover their level on fresh data.
    resid_oof = rng.normal(size=2000)
    widths = conformal_half_widths(resid_oof, np.zeros(2000))
    fresh = np.abs(rng.normal(size=20000))
    assert abs((fresh <= widths["0.90"]).mean() - 0.9) < 0.02 and widths["0.80"] < widths["0.90"]
    # The rank is ceil((n + 1) x level): 9 residuals give the largest at 90%, 8 give no finite width.
    nine = conformal_half_widths(np.arange(1.0, 10.0), np.zeros(9))
    assert nine["0.90"] == 9.0 and nine["0.80"] == 8.0
    assert conformal_half_widths(np.arange(1.0, 9.0), np.zeros(8))["0.90"] == float("inf")


def test_learning_curve_reading_follows_the_folds_paired_gains() -> None:
    from sklearn.linear_model import Ridge
    from sklearn.tree import DecisionTreeRegressor

    from ml.learning_curves import diagnose, learning_curve

    def folds_of(valid: dict[float, list[float]], train: dict[float, list[float]]) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {"fold": k, "train_fraction": f, "split": split, "value": v}
                for split, values in (("valid", valid), ("train", train))
                for f, per_fold in values.items()
                for k, v in enumerate(per_fold)
            ]
        )

    # RMSE: lower is better.  Every fold improves by ~1 from half to all rows: more data helps,
    # though the folds differ from each other by far more than that (the gain is paired).
    improving = folds_of({0.5: [20.0, 25.0, 30.0], 1.0: [19.0, 24.1, 28.9]}, {1.0: [15.0, 20.0, 25.0]})
    assert diagnose(improving, "rmse").verdict == "more_data_helps"
    # The same mean gain but from one fold only, the others worse: within the noise.
    noisy = folds_of({0.5: [20.0, 25.0, 30.0], 1.0: [16.0, 25.5, 30.5]}, {1.0: [15.0, 20.0, 25.0]})
    assert diagnose(noisy, "rmse").verdict == "overfitting"
    flat_close = folds_of({0.5: [20.0, 25.0, 30.0], 1.0: [20.0, 25.01, 29.99]}, {1.0: [19.8, 24.8, 29.8]})
    assert diagnose(flat_close, "rmse").verdict == "plateau"
    # AUC: higher is better; a gain is a rise.
    auc = folds_of({0.5: [0.80, 0.82, 0.84], 1.0: [0.83, 0.85, 0.86]}, {1.0: [0.95, 0.96, 0.97]})
    reading = diagnose(auc, "roc_auc")
    assert reading.verdict == "more_data_helps" and reading.valid_gain_last_doubling == pytest.approx(
        0.0267, 1e-2
    )
    flat_auc = folds_of({0.5: [0.80, 0.82, 0.84], 1.0: [0.80, 0.82, 0.84]}, {1.0: [0.99, 0.99, 0.99]})
    assert diagnose(flat_auc, "roc_auc").verdict == "overfitting"
    assert diagnose(improving[improving.fold == 0], "rmse").verdict == "too_few_folds"
    assert diagnose(improving[improving.train_fraction != 0.5], "rmse").verdict == "too_few_folds"
    assert diagnose(improving.iloc[:0], "rmse").verdict == "too_few_folds"

    # Real curves: a smooth signal a tree keeps learning, and a linear fit to pure noise.
    rng = np.random.default_rng(3)
    X = rng.uniform(-3, 3, size=(3000, 2))
    y = np.sin(X[:, 0]) * 10 + X[:, 1] ** 2 + rng.normal(scale=0.5, size=3000)
    folds = [
        (np.flatnonzero(np.arange(3000) % 3 != k), np.flatnonzero(np.arange(3000) % 3 == k)) for k in range(3)
    ]
    curve, per_fold = learning_curve(
        lambda: DecisionTreeRegressor(min_samples_leaf=5, random_state=0),
        X,
        y,
        folds,
        "rmse",
        "regression",
        None,
        0,
    )
    assert len(per_fold) == 2 * 3 * curve.train_fraction.nunique()
    assert diagnose(per_fold, "rmse").verdict == "more_data_helps"
    noise = rng.normal(size=3000)
    _, per_fold = learning_curve(Ridge, X, noise, folds, "rmse", "regression", None, 0)
    assert diagnose(per_fold, "rmse").verdict == "plateau"


def test_fairness_gaps_and_limits() -> None:
    from ml.fairness import FairnessSpec, fairness_rows

    y = np.array([1, 0, 1, 0] * 50 + [1, 1, 0, 0] * 50, dtype=float)
    group = np.array(["a"] * 200 + ["b"] * 200)
    pred = np.where(group == "a", 0.9, 0.2) * (0.5 + y / 2)
    spec = FairnessSpec(("g",), 0.3, 0.3, 5.0, 30)
    rows = fairness_rows("classification", y, pred, {"g": group}, spec, threshold=0.4)
    gaps = rows[rows.group == "all"].set_index("metric")
    assert gaps.loc["demographic_parity_difference", "value"] == pytest.approx(1.0)
    assert not gaps.loc["demographic_parity_difference", "passes"]
    assert gaps.loc["equal_opportunity_difference", "value"] == pytest.approx(1.0)
    small = fairness_rows("regression", y, pred, {"g": group}, FairnessSpec(("g",), 1, 1, 1, 1000))
    # Groups under min_group_size: each gap is written, not evaluated (NaN, passes null).
    unjudged = small[small.group == "all"]
    assert sorted(unjudged.metric) == ["demographic_parity_difference", "error_gap"]
    assert unjudged.value.isna().all() and unjudged.passes.isna().all()


def test_equal_opportunity_gap_needs_enough_positives_per_group() -> None:
    """A group with many rows but few positives has a TPR of a few possible values; it must
    not decide the equal-opportunity gap (it would fail the limit by chance), while the
    parity gap, a rate over all rows, still includes it."""
    from ml.fairness import FairnessSpec, fairness_rows

    rng = np.random.default_rng(3)
    y = np.concatenate([rng.integers(0, 2, size=400), np.r_[np.ones(3), np.zeros(197)]])
    group = np.array(["a"] * 200 + ["b"] * 200 + ["c"] * 200)
    pred = np.where(y == 1, 0.8, 0.3)
    pred[400:403] = 0.1  # group c's three positives are all missed: TPR 0 against 1
    spec = FairnessSpec(("g",), 0.9, 0.3, 5.0, 30)
    rows = fairness_rows("classification", y, pred, {"g": group}, spec, threshold=0.5)
    gaps = rows[rows.group == "all"].set_index("metric")
    assert gaps.loc["equal_opportunity_difference", "value"] == pytest.approx(0.0)
    assert gaps.loc["equal_opportunity_difference", "passes"]
    assert gaps.loc["equal_opportunity_difference", "n_rows"] == 400
    assert gaps.loc["demographic_parity_difference", "n_rows"] == 600
    per_group = rows[(rows.group == "c") & (rows.metric == "true_positive_rate")]
    assert per_group.value.iloc[0] == pytest.approx(0.0)  # still reported per group


@pytest.mark.parametrize("dtype", ["object", "str", "category"])
def test_missing_segment_values_form_their_own_group(dtype: str) -> None:
    """pandas 3 keeps NaN through astype(str); those rows must still be a group, not crash
    the per-segment metrics (empty arrays into sklearn) or vanish from fairness."""
    from ml.evaluation import group_labels, segment_metrics
    from ml.fairness import FairnessSpec, fairness_rows

    rng = np.random.default_rng(0)
    column = pd.Series(["small", None, "large", np.nan] * 50, dtype=dtype)
    y = rng.integers(0, 2, size=len(column)).astype(float)
    pred = rng.uniform(size=len(column))
    labels = group_labels(column)
    assert sorted(set(labels)) == ["<missing>", "large", "small"]
    metrics = segment_metrics("classification", y, pred, {"band": labels}, split="test", threshold=0.5)
    counts = metrics[metrics.metric == "roc_auc"].set_index("segment").n_rows
    assert counts["band=<missing>"] == 100 and counts["band=small"] == 50
    assert counts.drop("overall").sum() == len(column)
    spec = FairnessSpec(("band",), 1, 1, 1, 30)
    fairness = fairness_rows("classification", y, pred, {"band": labels}, spec)
    per_group = fairness[fairness.metric == "positive_rate"].set_index("group")
    assert per_group.loc["<missing>", "n_rows"] == 100
    assert not per_group.value.isna().any()


# --- text and hybrid candidates ----------------------------------------------------------

HYBRID = CONFIG.parent / "variants" / "ad_score_hybrid.yml"
TEXT_ONLY = CONFIG.parent / "variants" / "ad_score_text_only.yml"


def test_each_candidate_reads_its_columns_of_the_hybrid_features() -> None:
    from ml.features.pipeline import embedding_columns
    from ml.models import model_columns

    config = load_config(HYBRID)
    pipeline = build_feature_pipeline(config)
    X = pipeline.fit_transform(frame(n=40))
    names = [str(n) for n in pipeline.get_feature_names_out()]
    embedding = embedding_columns(pipeline)
    assert [names[j] for j in embedding] == [f"embedding__c{i}" for i in range(16)]
    tabular = model_columns(get_candidate("xgboost"), X.shape[1], embedding)
    text = model_columns(get_candidate("text_mlp"), X.shape[1], embedding)
    assert tabular is not None and text is not None
    assert not any(names[j].startswith("embedding__") for j in tabular)
    assert "learned_sentiment__score" in [names[j] for j in tabular]
    assert sorted(tabular + text) == list(range(X.shape[1]))
    assert model_columns(get_candidate("hybrid"), X.shape[1], embedding) is None
    # Without embeddings a tabular model reads every column.
    assert model_columns(get_candidate("xgboost"), 7, []) is None
    # The saved pipeline computes only what the model reads: the embedding is dropped for the
    # tabular model, everything but the embedding for the text model.
    import copy

    from ml.features.pipeline import drop_unread

    f = frame(n=40)
    for keep in (tabular, text):
        pruned = copy.deepcopy(pipeline)
        reindexed = drop_unread(pruned, keep)
        out = pruned.transform(f)
        selected = out if reindexed is None else out[:, reindexed]
        np.testing.assert_allclose(selected, X[:, keep])
        active = {n for n, t, _ in pruned.transformers_ if t != "drop"}
        assert ("embedding" in active) == (keep is text) and ("platform" in active) == (keep is tabular)
    with pytest.raises(ConfigError, match="no TextEmbeddingTransformer column"):
        model_columns(get_candidate("text_mlp"), 7, [])


def test_candidates_that_cannot_read_the_configured_features_are_refused() -> None:
    from ml.train import _candidates

    with pytest.raises(
        ConfigError, match=r"--candidates: model text_mlp reads text embeddings but .*ad_score\.yml has no"
    ):
        _candidates(load_config(CONFIG), ("xgboost", "text_mlp"))
    hybrid = load_config(HYBRID)
    assert [c.name for c in _candidates(hybrid, None)] == ["xgboost", "text_mlp", "hybrid"]
    raw = yaml.safe_load(HYBRID.read_text())
    raw["training"]["candidates"] = ["xgboost", "lightgbm"]
    with pytest.raises(ConfigError, match="no candidate reads the TextEmbeddingTransformer feature"):
        _candidates(parse_config(raw, "hybrid.yml"), None)
    with pytest.raises(ConfigError, match="model xgboost reads tabular columns but every feature"):
        _candidates(load_config(TEXT_ONLY), ("xgboost",))


# --- stratified folds ----------------------------------------------------------------------


def test_stratified_folds_keep_the_label_rate_groups_and_holdout() -> None:
    from ml.splits import Splits, stratified_splits

    rng = np.random.default_rng(3)
    n = 3000
    groups = rng.integers(0, 300, n).astype(str)
    y = (rng.random(n) < 0.08).astype(float)  # imbalanced
    warehouse = Splits(np.arange(n), np.arange(n, n + 500), [(np.arange(0, 1000), np.arange(1000, 2000))] * 4)
    splits = stratified_splits(warehouse, y, groups, seed=5)
    assert splits.n_folds == 4
    assert np.array_equal(splits.train_rows, warehouse.train_rows)
    assert np.array_equal(splits.test_rows, warehouse.test_rows)
    validated = np.concatenate([valid for _, valid in splits.cv])
    assert np.array_equal(np.sort(validated), np.arange(n))  # every row validated exactly once
    for train, valid in splits.cv:
        assert abs(y[valid].mean() - y.mean()) < 0.02
        assert not set(groups[train]) & set(groups[valid])
    again = stratified_splits(warehouse, y, groups, seed=5)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits.cv, again.cv, strict=True))


def test_fold_strategy_is_validated() -> None:
    raw = yaml.safe_load(CONFIG.read_text())
    raw["training"]["folds"] = "stratified"
    with pytest.raises(
        ConfigError, match=r"conf\.yml: training\.folds: stratified folds need a classification"
    ):
        parse_config(raw, "conf.yml")
    raw["training"]["folds"] = "shuffled"
    with pytest.raises(ConfigError, match=r"training\.folds: unknown fold strategy 'shuffled'"):
        parse_config(raw, "conf.yml")


@pytest.mark.parametrize(
    ("section", "key", "message"),
    [
        ("training", "max_predict_ms_per_1000_row", "did you mean 'max_predict_ms_per_1000_rows'?"),
        ("promotion", "max_eces", "did you mean 'max_ece'?"),
        ("data", "folds", "did you mean 'folds_table'?"),
        ("scoring", "explain_top", "did you mean 'explain_top_k'?"),
        ("fairness", "zzz", "expected one of features, max_parity_difference"),
        (None, "trainig", "did you mean 'training'?"),
    ],
)
def test_unknown_keys_are_refused_with_their_file_and_key(
    section: str | None, key: str, message: str
) -> None:
    """A misspelt optional key would otherwise be ignored and its default used silently."""
    raw = yaml.safe_load(CONFIG.read_text())
    (raw if section is None else raw[section])[key] = 1
    full = key if section is None else f"{section}.{key}"
    with pytest.raises(ConfigError, match=re.escape(f"conf.yml: {full}: unknown key ({message}")):
        parse_config(raw, "conf.yml")
    raw = yaml.safe_load(CONFIG.read_text())
    raw["features"]["numeric_features"][0]["transfomer"] = "passthrough"
    with pytest.raises(ConfigError, match=r"features\.numeric_features\[0\]\.transfomer: unknown key"):
        parse_config(raw, "conf.yml")


def test_latency_limit_is_validated_and_applied_to_the_fold_timings() -> None:
    raw = yaml.safe_load(CONFIG.read_text())
    assert parse_config(raw, "conf.yml").training.max_predict_ms_per_1000_rows is None
    raw["training"]["max_predict_ms_per_1000_rows"] = 2
    assert parse_config(raw, "conf.yml").training.max_predict_ms_per_1000_rows == 2.0
    for bad in (0, -1.5, True, "fast"):
        raw["training"]["max_predict_ms_per_1000_rows"] = bad
        with pytest.raises(ConfigError, match=r"conf\.yml: training\.max_predict_ms_per_1000_rows"):
            parse_config(raw, "conf.yml")

    def timed(predict_seconds: list[float], n_valid: list[int]) -> FoldScores:
        n = len(n_valid)
        return FoldScores("rmse", [1.0] * n, [10] * n, n_valid, np.zeros(1), [0.1] * n, predict_seconds)

    # Median over folds of seconds per row: 1, 3 and 2 ms per 1,000 rows -> 2.
    two_ms = timed([0.001, 0.006, 0.004], [1000, 2000, 2000])
    assert two_ms.predict_ms_per_1000_rows == pytest.approx(2.0)
    selection = {"fast": two_ms, "slow": timed([0.005], [1000]), "untimed": timed([], [])}
    assert set(within_latency(selection, None)) == {"fast", "slow", "untimed"}
    assert set(within_latency(selection, 2.0)) == {"fast"}
    assert within_latency(selection, 1.0) == {}


def test_cross_validation_times_each_fold_and_the_timer_reads_the_model() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 4)), rng.normal(size=300)
    folds = [(np.arange(100, 300), np.arange(100)), (np.arange(200), np.arange(200, 300))]
    make = get_candidate("xgboost").make
    scores = cross_validate(
        lambda: make("regression", {"n_estimators": 20}, 0, 1), X, y, folds, "rmse", "regression"
    )
    assert len(scores.fit_seconds) == len(scores.predict_seconds) == 2
    assert all(s > 0 for s in scores.fit_seconds + scores.predict_seconds)
    assert scores.predict_ms_per_1000_rows is not None and scores.predict_ms_per_1000_rows > 0
    model = make("regression", {"n_estimators": 20}, 0, 1).fit(X, y)
    assert time_predictions(model, X, "regression") > 0
    with pytest.raises(ValueError, match="no rows"):
        time_predictions(model, X[:0], "regression")


# --- native categorical codes ------------------------------------------------------------


def codes_config() -> object:
    raw = yaml.safe_load(CONFIG.read_text())
    for spec in raw["features"]["campaign_features"]:
        spec["transformer"] = "CategoryCodes"
    return parse_config(raw, "codes.yml")


@pytest.mark.parametrize("name", ["xgboost", "lightgbm", "catboost"])
def test_category_codes_become_native_categorical_splits(name: str, tmp_path: Path) -> None:
    from ml.features.pipeline import categorical_columns
    from ml.models import model_columns, with_categorical

    config = codes_config()
    f = frame(n=1200)
    f["platform"] = np.where(np.arange(1200) % 7 == 0, None, f["platform"])  # nulls: own category
    pipeline = build_feature_pipeline(config).fit(f)
    X_all = pipeline.transform(f)
    names = [str(n) for n in pipeline.get_feature_names_out()]
    codes, one_hot = categorical_columns(pipeline)
    coded = [s.name for s in config.features if s.transformer == "CategoryCodes"]  # type: ignore[attr-defined]
    assert [names[j] for j in codes] == [f"{c}_code__{c}" for c in coded]
    assert {names[j].split("__")[0] for j in one_hot} == set(coded)
    # The booster reads the codes and not the one-hot columns of the same features.
    keep = model_columns(get_candidate(name), X_all.shape[1], [], codes, one_hot)
    assert keep is not None and set(codes) <= set(keep) and not set(one_hot) & set(keep)
    X = X_all[:, keep]
    kept = [names[j] for j in keep]
    assert np.nanmax(X[:, kept.index("platform_code__platform")]) == 4  # five known platforms
    unseen = pipeline.transform(f.assign(ad_format="hologram"))
    assert np.isnan(unseen[:, names.index("ad_format_code__ad_format")]).all()  # unknown: missing
    positions = [keep.index(j) for j in codes]
    candidate = with_categorical(get_candidate(name), positions, X.shape[1])
    y = np.where(f.platform.isna(), 80.0, np.where(f.platform == "google", 60.0, 20.0))
    model = candidate.make("regression", {"n_estimators": 30, "learning_rate": 0.3}, 0, 1)
    model.fit(X, y)
    if name == "xgboost":
        assert [model.get_booster().feature_types[j] for j in positions] == ["c"] * len(positions)
    saved = save_artifact(
        tmp_path,
        "ad_score",
        "run1",
        name,
        pipeline,
        model,
        {"problem_type": "regression", "model_columns": keep},
    )
    loaded = load_artifact(saved.manifest_path, saved.sha256)
    np.testing.assert_allclose(loaded.predict(f), model.predict(X), rtol=1e-6)
    assert np.abs(loaded.predict(f) - y).max() < 10  # the category itself is learned
    contributions = get_candidate(name).contributions(loaded.model, X[:5])  # type: ignore[misc]
    assert contributions.shape == (5, X.shape[1] + 1)


def test_models_without_native_categorical_splits_read_the_one_hot_columns() -> None:
    from ml.features.pipeline import categorical_columns
    from ml.models import model_columns

    pipeline = build_feature_pipeline(codes_config()).fit(frame(n=40))  # type: ignore[arg-type]
    n = len(pipeline.get_feature_names_out())
    codes, one_hot = categorical_columns(pipeline)
    for name in ("mlp",):
        keep = model_columns(get_candidate(name), n, [], codes, one_hot)
        assert keep is not None and set(one_hot) <= set(keep) and not set(codes) & set(keep)
    # Without CategoryCodes features every tabular model reads every column.
    assert model_columns(get_candidate("mlp"), n, [], [], []) is None


def test_a_feature_named_like_category_codes_is_refused() -> None:
    raw = yaml.safe_load(CONFIG.read_text())
    raw["features"]["numeric_features"].append(
        {"name": "platform_code", "column": "age_min", "transformer": "passthrough"}
    )
    with pytest.raises(
        ConfigError, match=r"clash\.yml: features: name\(s\) platform_code clash with the codes"
    ):
        build_feature_pipeline(parse_config(raw, "clash.yml"))


def test_creative_copy_normalised_in_duckdb_equals_the_python_normaliser() -> None:
    """int_creatives_normalized leaves copy without '&' to DuckDB: it must match Python's."""
    path = Path(__file__).resolve().parents[2] / "models/intermediate/int_creatives_normalized.py"
    spec = importlib.util.spec_from_file_location("int_creatives_normalized", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    spaces = [chr(i) for i in range(sys.maxunicode + 1) if chr(i).isspace()]
    assert len(spaces) == 29
    texts = [
        *(f"{s}a{s}{s}b c{s}" for s in spaces),
        "".join(spaces) + "x",
        "Cafe\u0301  au lait \u212b\u0041\u030a",  # decomposed accents, Angstrom sign
        " 🔥 Sale\u00a0now\u3000限时优惠 ",
        "\u1e9b\u0323\u0071\u0307\u0323",  # reordered combining marks
        "plain",
        "",
        None,
    ]
    con = duckdb.connect()
    sql = f"select {module.sql_normalized('t')} from unnest(?::varchar[]) with ordinality u(t, i) order by i"
    got = [row[0] for row in con.execute(sql, [texts]).fetchall()]
    con.close()
    want = [module.normalize_text(t) for t in texts]
    assert got == want
    assert want[-6] == "Café au lait " + unicodedata.normalize("NFC", "\u212b\u0041\u030a")
    assert module.normalize_text(" a &amp; b ") == "a & b"


def test_a_null_body_stays_null_when_the_copy_goes_through_python() -> None:
    """A creative without body (JSON null) whose headline has an '&' goes through
    html.unescape in pandas, where the null arrives as NaN: it must not become the text 'nan'."""
    path = Path(__file__).resolve().parents[2] / "models/intermediate/int_creatives_normalized.py"
    spec = importlib.util.spec_from_file_location("int_creatives_normalized", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    con = duckdb.connect()
    con.execute(
        "create table stg as select creative_id, headline, body, null::varchar as call_to_action, "
        "null::varchar as image_dominant_color, 1 as image_width, 1 as image_height, "
        "0.0 as image_text_overlay_pct, false as image_has_people, "
        "timestamp '2026-08-01' as updated_at, true as is_valid_json from (values "
        "('meta:1', 'Tom &amp; Jerry sale', null), ('meta:2', 'Fish &amp; chips', 'Order  today'), "
        "('meta:3', 'Plain copy', null)) t(creative_id, headline, body)"
    )

    class Dbt:
        def config(self, **kwargs: object) -> None:
            return None

        def ref(self, name: str) -> duckdb.DuckDBPyRelation:
            return con.sql("select * from stg")

    rows = module.model(Dbt(), con).order("creative_id").fetchall()
    columns = ["creative_id", "headline", "body", "was_text_normalized", "ad_text"]
    out = {r[0]: dict(zip(columns, r[:3] + r[-2:], strict=True)) for r in rows}
    con.close()
    assert out["meta:1"]["body"] == "" and out["meta:1"]["ad_text"] == "Tom & Jerry sale"
    assert out["meta:2"]["ad_text"] == "Fish & chips Order today"
    assert out["meta:3"]["ad_text"] == "Plain copy" and out["meta:3"]["was_text_normalized"] is False
    assert module.normalize_text(float("nan")) is None


def test_ascii_control_whitespace_in_copy_is_normalised_like_python() -> None:
    """str.isspace() counts \\x1c-\\x1f as whitespace, RE2's \\s does not: ASCII copy holding
    them must still be collapsed and trimmed, not left as it came."""
    path = Path(__file__).resolve().parents[2] / "models/intermediate/int_creatives_normalized.py"
    spec = importlib.util.spec_from_file_location("int_creatives_normalized", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    copies = ["Buy\x1cnow", "Buy\x1f\x1fnow", "\x1eSale", "Sale \x1d", "Plain copy", "a\x0bb"]
    con = duckdb.connect()
    con.execute(
        "create table stg as select 'meta:' || i as creative_id, t as headline, 'x' as body, "
        "null::varchar as call_to_action, null::varchar as image_dominant_color, 1 as image_width, "
        "1 as image_height, 0.0 as image_text_overlay_pct, false as image_has_people, "
        "timestamp '2026-08-01' as updated_at, true as is_valid_json "
        "from unnest(?::varchar[]) with ordinality u(t, i)",
        [copies],
    )

    class Dbt:
        def config(self, **kwargs: object) -> None:
            return None

        def ref(self, name: str) -> duckdb.DuckDBPyRelation:
            return con.sql("select * from stg")

    got = dict(module.model(Dbt(), con).project("creative_id, headline").fetchall())
    con.close()
    assert [got[f"meta:{i}"] for i in range(1, len(copies) + 1)] == [module.normalize_text(c) for c in copies]


# --- the writer lock ---------------------------------------------------------------------


def test_the_writer_lock_outlives_a_killed_parent_while_its_child_writes(tmp_path: Path) -> None:
    """`python -m ml.lock -- CMD` (and the pipeline's steps) pass the locked descriptor to the
    child: SIGKILL of the parent leaves the lock held until the child is gone too."""
    import os
    import signal
    import subprocess
    import time

    from ml.errors import LockError
    from ml.lock import holder, lock_path, writer_lock

    warehouse = tmp_path / "wh.duckdb"
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ml.lock", "--duckdb", str(warehouse), "--", *sleeper],
        cwd=Path(__file__).resolve().parents[2],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while holder(lock_path(warehouse)).get("pid") != proc.pid:
            assert time.monotonic() < deadline and proc.poll() is None, "ml.lock never took the lock"
            time.sleep(0.1)
        time.sleep(1.0)  # the child has started
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with (
            pytest.raises(LockError, match="locked by another writer") as held,
            writer_lock(warehouse, "test", 0.5),
        ):
            pass
        # The message names the dead holder as gone, and the child that still holds the lock.
        session = subprocess.check_output(["pgrep", "-s", str(proc.pid)], text=True)
        (child,) = [int(p) for p in session.split()]
        assert f"pid {proc.pid} has exited" in str(held.value)
        assert f"held by the process(es) it started: pid {child} (" in str(held.value)
        assert "time.sleep(120)" in str(held.value)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    with writer_lock(warehouse, "test", 10):  # the child is gone: the lock is free
        assert holder(lock_path(warehouse))["command"] == "test"


def test_the_pipeline_passes_sigterm_to_its_running_step_and_stops(tmp_path: Path) -> None:
    """ml.pipeline under Kubernetes is PID 1, which ignores a SIGTERM it has no handler for:
    the deadline's or a pod deletion's SIGTERM never reached the training.  Now the running
    step gets it, and the pipeline exits 143 without starting the next step."""
    import signal
    import subprocess
    import textwrap

    got = tmp_path / "step_got_sigterm"
    never = tmp_path / "next_step_ran"
    step = textwrap.dedent(
        f"""
        import signal, sys, time
        def stop(*_):
            open({str(got)!r}, "w").close()
            sys.exit(9)
        signal.signal(signal.SIGTERM, stop)
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    driver = textwrap.dedent(
        f"""
        import sys
        from ml.pipeline import Step, run_steps
        sys.exit(run_steps([
            Step("slow", [sys.executable, "-c", {step!r}], None),
            Step("next", [sys.executable, "-c", "open({str(never)!r}, 'w').close()"], None),
        ]))
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", driver], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert got.exists() and not never.exists()
    assert "step slow: stopped by SIGTERM (exit 9)" in err


def test_prediction_threads_follow_the_container_cpu_limit(tmp_path: Path) -> None:
    """ml.score's default thread count is the CPU quota of the process's cgroup, not the
    node's core count (64 threads on a 64-core node fought over a 2-CPU limit)."""
    from ml.models import available_cpus

    own = len(os.sched_getaffinity(0))
    quota = tmp_path / "cpu.max"
    quota.write_text("max 100000\n")
    assert available_cpus(quota) == own
    quota.write_text("150000 100000\n")  # 1.5 CPUs: 2 threads, unless fewer cores are ours
    assert available_cpus(quota) == min(own, 2)
    quota.write_text("50000 100000\n")
    assert available_cpus(quota) == 1
    assert available_cpus(tmp_path / "absent") == own


def test_bad_command_line_values_found_by_the_config_review_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each was silently accepted, a traceback, a wrong exit code or an endless wait."""
    from ml import lock, model_card, registry, score, train

    wh = str(tmp_path / "wh.duckdb")
    notes = tmp_path / "notes.txt"
    notes.write_text("")
    for argv in (
        ["--config", str(CONFIG), "--task", "account_health"],  # --task was ignored
        ["--task", "ad_score", "--candidates", ""],  # the config's candidates were used
        ["--task", "ad_score", "--candidates", "xgboost,xgboost"],
        ["--task", "ad_score", "--duckdb", wh, "--artifacts", str(notes)],  # failed after training
    ):
        assert train.main([*argv, "--no-mlflow"]) == 3, argv
    assert score.main(["--task", "ad_score", "--n-jobs", "0", "--duckdb", wh]) == 3
    assert lock.main(["--duckdb", wh, "--timeout", "nan", "--", "true"]) == 3  # waited for good
    monkeypatch.setenv("ADSCORE_LOCK_TIMEOUT", "abc")
    assert lock.main(["--duckdb", wh, "--", "true"]) == 3  # was 7, "another writer holds the lock"
    monkeypatch.delenv("ADSCORE_LOCK_TIMEOUT")
    assert registry.main(["--duckdb", wh, "list", "--task", "nope"]) == 3  # listed nothing, exit 0
    assert model_card.main(["--task", "../x", "--duckdb", wh]) == 3  # was 5, "no champion"
    with pytest.raises(SystemExit) as exited:  # --alias was ignored beside --version
        registry.main(["--duckdb", wh, "show", "--task", "ad_score", "--version", "2", "--alias", "champion"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    for message in (
        "--task 'account_health' and --config",
        "--candidates: expected distinct comma-separated names, got ''",
        "not a writable folder",
        "--n-jobs: expected -1 (every core) or an integer >= 1, got 0",
        "--lock-timeout: expected seconds >= 0",
        "$ADSCORE_LOCK_TIMEOUT: expected seconds, got 'abc'",
        "--task: unknown task 'nope'",
        "--task: unknown task '../x'",
    ):
        assert message in err, message


def test_mlflow_telemetry_is_off_whenever_ml_is_imported() -> None:
    """MLflow 3 reports usage unless MLFLOW_DISABLE_TELEMETRY or DO_NOT_TRACK=true; this
    project's DO_NOT_TRACK=1 (dbt's spelling) left it on.  Checked outside pytest's and CI's
    variables, which MLflow itself treats as "off"."""
    import subprocess

    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "DO_NOT_TRACK": "1"}
    check = "import mlflow.telemetry.utils as u; print(u.is_telemetry_disabled())"
    without = subprocess.run(
        [sys.executable, "-c", check], env=env, capture_output=True, text=True, check=True
    )
    with_ml = subprocess.run(
        [sys.executable, "-c", "import ml; " + check], env=env, capture_output=True, text=True, check=True
    )
    assert without.stdout.strip() == "False"  # MLflow's own default here: the reason for the fix
    assert with_ml.stdout.strip() == "True"
    opted_in = subprocess.run(
        [sys.executable, "-c", "import ml; " + check],
        env={**env, "MLFLOW_DISABLE_TELEMETRY": "false"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert opted_in.stdout.strip() == "False"  # a user may still opt in


# --- stratified folds and NaN CV means ---------------------------------------------------


def test_stratified_folds_with_a_single_class_fold_are_refused() -> None:
    """--folds stratified re-deals the training rows after validation checked the warehouse's
    folds: a re-dealt fold holding one class (here: one account holds every positive) must be
    refused like a warehouse fold, not cross-validated to a NaN ROC AUC."""
    from ml.splits import Splits
    from ml.train import _stratified

    config = load_config(default_config_path("account_health"))
    n = 24
    f = pd.DataFrame(
        {
            "account_id": [f"a{i // 4}" for i in range(n)],
            "week_start": pd.Timestamp("2026-08-03") + pd.to_timedelta(7 * (np.arange(n) % 4), unit="D"),
            "is_at_risk": [1.0 if i < 4 else 0.0 for i in range(n)],
        }
    )
    train_rows, test_rows = np.arange(20), np.arange(20, 24)
    cv = [(np.arange(20)[np.arange(20) % 3 != k], np.arange(20)[np.arange(20) % 3 == k]) for k in range(3)]
    splits = Splits(train_rows, test_rows, cv)
    with pytest.raises(DataValidationError, match="single class"):
        _stratified(splits, f, f.iloc[train_rows].reset_index(drop=True), config, seed=0)


def test_a_single_class_warehouse_fold_does_not_block_stratified_folds() -> None:
    """--folds stratified is the remedy for a warehouse fold of one class: validation checks
    the warehouse's folds' classes only when they are the folds training uses."""
    import dataclasses

    config = dataclasses.replace(load_config(CONFIG), problem_type="classification")
    f = frame()
    f["ad_score"] = [1.0 if i % 5 == 0 or i % 2 else 0.0 for i in range(len(f))]  # fold 0: all 1
    with pytest.raises(DataValidationError, match="fold 0's validation rows hold a single class"):
        validate_training_data(snapshot_of(f, folds_for(f)), config)
    validate_training_data(snapshot_of(f, folds_for(f)), config, warehouse_folds=False)
    # A test split of one class would give an undefined headline ROC AUC: refused.
    f.loc[f.index[-10:], "ad_score"] = 0.0
    with pytest.raises(DataValidationError, match="test split's 10 row"):
        validate_training_data(snapshot_of(f, folds_for(f)), config, warehouse_folds=False)


def test_selection_refuses_a_nan_mean_cv_score() -> None:
    """A NaN mean compares false with everything: max()/min() would keep whichever candidate
    came first. Selection must say so instead, and otherwise follow the metric's direction."""
    from ml.train import _best_mean

    def scores(*values: float) -> FoldScores:
        return FoldScores("m", list(values), [1] * len(values), [1] * len(values), np.zeros(1))

    with pytest.raises(Exception, match="undefined"):
        _best_mean({"mlp": scores(0.8, float("nan")), "xgboost": scores(0.9, 0.9)}, "roc_auc")
    assert _best_mean({"a": scores(0.7, 0.7), "b": scores(0.9, 0.8)}, "roc_auc") == "b"
    assert _best_mean({"a": scores(20.0, 21.0), "b": scores(19.0, 25.0)}, "rmse") == "a"


def test_isotonic_calibration_never_serves_certainty() -> None:
    """Out-of-fold steps of a single class (the lowest and highest scores here) must not map to
    probabilities of exactly 0 or 1: a holdout row of the other class would cost 16 in log loss."""
    from ml.calibration import fit_calibrator

    rng = np.random.default_rng(0)
    p = np.sort(rng.random(90))
    y = (p > 0.5).astype(float)
    y[40:50] = rng.random(10) < 0.5  # one mixed stretch; the rest is pure
    calibrated = fit_calibrator("isotonic", p, y).apply(np.r_[0.0, p, 1.0])
    assert calibrated.min() > 0.0 and calibrated.max() < 1.0
    assert calibrated.min() >= 1 / 92 - 1e-12 and calibrated.max() <= 1 - 1 / 92 + 1e-12


def test_undefined_segment_metrics_are_nan_not_zero() -> None:
    """A segment with no positives has no recall (ml.fairness says NaN for its TPR); a segment
    whose label is constant has no R2. Reporting 0.0 reads as 'misses every positive' or 'no
    better than the mean'."""
    from ml.evaluation import segment_metrics, threshold_metrics

    y = np.array([1, 0, 1, 0, 0, 0, 0, 0], dtype=float)
    p = np.array([0.9, 0.2, 0.8, 0.1, 0.7, 0.3, 0.2, 0.1])
    seg = {"vertical": np.array(["a"] * 4 + ["b"] * 4, dtype=object)}
    rows = segment_metrics("classification", y, p, seg, "test", threshold=0.5)
    b = rows[rows.segment == "vertical=b"].set_index("metric").value
    assert np.isnan(b["recall"]) and np.isnan(b["f1"]) and b["precision"] == 0.0
    a = rows[rows.segment == "vertical=a"].set_index("metric").value
    assert a["recall"] == 1.0 and a["precision"] == 1.0 and a["f1"] == 1.0
    nothing = threshold_metrics(y, p, 0.95)  # nothing flagged: precision undefined, F1 0
    assert np.isnan(nothing["precision"]) and nothing["recall"] == 0.0 and nothing["f1"] == 0.0
    yr = np.array([50, 50, 50, 10, 20, 30.0])
    pr = np.array([40, 60, 55, 12, 18, 33.0])
    reg = segment_metrics(
        "regression", yr, pr, {"platform": np.array(["x"] * 3 + ["y"] * 3, dtype=object)}, "test"
    )
    r2 = reg[reg.metric == "r2"].set_index("segment").value
    assert np.isnan(r2["platform=x"]) and np.isfinite(r2["platform=y"]) and np.isfinite(r2["overall"])


@pytest.mark.parametrize("name", ["xgboost", "lightgbm", "catboost"])
@pytest.mark.parametrize("problem_type", ["regression", "classification"])
def test_a_loaded_booster_takes_scoring_threads(name: str, problem_type: str, tmp_path: Path) -> None:
    """ml.score sets the prediction threads of the loaded model: a fitted CatBoost model
    refuses set_params, so every CatBoost version failed to score with a traceback."""
    from ml.models import set_inference_threads

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(float) if problem_type == "classification" else X[:, 0]
    candidate = get_candidate(name)
    model = candidate.make(problem_type, {candidate.rounds_param or "n_estimators": 10}, 0, 1)
    model.fit(X, y)
    path = tmp_path / f"model.{candidate.native_format}"
    candidate.save(model, path)
    loaded = candidate.load(path, problem_type)
    set_inference_threads(loaded, 2)
    expected = model.predict_proba(X)[:, 1] if problem_type == "classification" else model.predict(X)
    got = loaded.predict_proba(X)[:, 1] if problem_type == "classification" else loaded.predict(X)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert candidate.contributions(loaded, X).shape == (200, 4)  # type: ignore[misc]


def test_explanation_ranks_break_ties_in_feature_order() -> None:
    """Equal |contributions| (a feature the booster never split on is 0 for every row) rank
    in feature order, whatever the sort kernel: the default argsort put f3, f5, f30, f17, f2."""
    from ml.explain import top_contributions

    contributions = np.zeros((2, 41))
    contributions[0, [3, 17, 30]] = 0.5
    contributions[0, 5] = -0.5
    _, names, values = top_contributions(contributions, [f"f{i}" for i in range(40)], 5)
    assert list(names[:5]) == ["f3", "f5", "f17", "f30", "f0"]
    assert list(values[:5]) == [0.5, -0.5, 0.5, 0.5, 0.0]
    assert list(names[5:]) == ["f0", "f1", "f2", "f3", "f4"]


def test_lightgbm_contributions_use_the_scoring_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ml.score --n-jobs (default: the container's CPU limit) also bounds LightGBM's SHAP
    values: they ran on every core of the host."""
    import lightgbm as lgb

    from ml.models import set_inference_threads

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    candidate = get_candidate("lightgbm")
    model = candidate.make("regression", {"n_estimators": 5}, 0, 1)
    model.fit(X, X[:, 0])
    candidate.save(model, tmp_path / "model.txt")
    loaded = candidate.load(tmp_path / "model.txt", "regression")
    set_inference_threads(loaded, 3)
    seen: list[object] = []
    real = lgb.Booster.predict

    def spy(self: lgb.Booster, data: object, *args: object, **kwargs: object) -> object:
        seen.append(kwargs.get("num_threads"))
        return real(self, data, *args, **kwargs)

    monkeypatch.setattr(lgb.Booster, "predict", spy)
    assert candidate.contributions(loaded, X).shape == (100, 4)  # type: ignore[misc]
    assert seen == [3]
