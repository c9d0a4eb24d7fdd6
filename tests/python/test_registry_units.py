"""Unit tests of the registry's gate, explanations, drift and artifact safety."""

from __future__ import annotations

import ast
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.artifacts import load_artifact, save_artifact
from ml.config import PromotionConfig, load_config
from ml.explain import drift_rows, feature_bins, psi, top_contributions
from ml.features.pipeline import build_feature_pipeline
from ml.models import CANDIDATES, get_candidate
from ml.registry import bootstrap_improvement, decide, quality_checks
from ml.warehouse import SCHEMA_MACRO, schema_macro
from tests.python.test_units import CONFIG, frame

ML_PACKAGE = Path(__file__).resolve().parents[2] / "ml"


def test_bootstrap_improvement_is_signed_so_that_positive_is_better() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(50, 10, 400)
    good = y + rng.normal(0, 2, 400)
    bad = y + rng.normal(0, 8, 400)
    e = bootstrap_improvement("rmse", y, good, bad, 500, 0.9, 1)
    assert e.improvement > 0 and e.ci_low > 0 and e.ci_low <= e.improvement <= e.ci_high
    assert e.champion_value > e.challenger_value
    worse = bootstrap_improvement("rmse", y, bad, good, 500, 0.9, 1)
    assert worse.improvement < 0 and worse.ci_high < 0
    # Higher-is-better metrics are flipped the same way.
    labels = (y > 50).astype(float)
    auc = bootstrap_improvement(
        "roc_auc", labels, 1 / (1 + np.exp(-(good - 50))), rng.random(400), 300, 0.9, 1
    )
    assert auc.improvement > 0 and auc.ci_low > 0


def test_gate_needs_margin_significance_and_checks() -> None:
    rules = PromotionConfig(margin=0.5)
    y = np.linspace(0, 100, 200)
    better = bootstrap_improvement("rmse", y, y + 1, y + 5, 300, 0.9, 0)
    ok = {"fairness": {"passes": True, "detail": "ok"}}
    assert decide(rules, ok, better, 1).promote
    failing = {"fairness": {"passes": False, "detail": "platform error_gap 7.1 > 6.0"}}
    refused = decide(rules, failing, better, 1)
    assert not refused.promote and "fairness check failed (platform error_gap 7.1 > 6.0)" in refused.reason
    same = bootstrap_improvement("rmse", y, y + 2, y + 2, 300, 0.9, 0)
    refused = decide(PromotionConfig(margin=0.0), ok, same, 1)
    assert not refused.promote and "not significant" in refused.reason
    small = decide(PromotionConfig(margin=10.0), ok, better, 3)
    assert not small.promote and "below the margin 10.0" in small.reason and "champion v3" in small.reason
    broken = decide(rules, ok, None, 2, champion_error="artifact x is missing")
    assert not broken.promote and "champion v2 cannot be evaluated: artifact x is missing" in broken.reason
    # With no champion, the version is promoted and failed checks are only reported.
    first = decide(rules, failing, None, None)
    assert first.promote and "fairness check failed" in first.reason


def test_quality_checks_read_fairness_and_calibration_rows() -> None:
    fairness = pd.DataFrame(
        {
            "feature": ["platform", "platform", "objective"],
            "metric": ["error_gap", "group_rmse", "error_gap"],
            "value": [7.0, 20.0, 1.0],
            "limit": [6.0, None, 6.0],
            "passes": [False, None, True],
        }
    )
    coverage = pd.DataFrame(
        {
            "method": "conformal",
            "split": "test",
            "metric": ["interval_90_coverage"],
            "value": [0.80],
            "is_chosen": True,
        }
    )
    checks = quality_checks("regression", fairness, coverage, PromotionConfig())
    assert (
        not checks["fairness"]["passes"]
        and "platform error_gap 7.000 > 6.000" in checks["fairness"]["detail"]
    )
    assert not checks["calibration"]["passes"]
    assert quality_checks("regression", fairness, coverage, PromotionConfig(max_coverage_shortfall=0.15))[
        "calibration"
    ]["passes"]
    # A gap not evaluated (passes null) is named; with no gap evaluated at all the check fails
    # (it used to pass: "every group gap within its limit" when nothing was measured).
    vertical = {"feature": ["vertical"], "metric": ["error_gap"], "value": [float("nan")]}
    partly = pd.concat([fairness.iloc[1:], pd.DataFrame({**vertical, "limit": [6.0], "passes": [None]})])
    judged = quality_checks("regression", partly, coverage, PromotionConfig())["fairness"]
    assert judged["passes"], judged
    assert "not evaluated (too few rows or positives per group): vertical error_gap" in judged["detail"]
    unjudged = fairness.assign(value=float("nan"), passes=None)
    nothing = quality_checks("regression", unjudged, coverage, PromotionConfig())["fairness"]
    assert not nothing["passes"] and "no group gap could be measured" in nothing["detail"]
    ece = pd.DataFrame(
        {"method": ["isotonic"], "split": ["test"], "metric": ["ece"], "value": [0.04], "is_chosen": [True]}
    )
    assert quality_checks("classification", fairness.iloc[2:], ece, PromotionConfig(max_ece=0.05))[
        "calibration"
    ]["passes"]
    assert not quality_checks("classification", fairness.iloc[2:], ece, PromotionConfig(max_ece=0.03))[
        "calibration"
    ]["passes"]


def test_quality_checks_gate_on_the_prediction_time_only_when_a_limit_is_set() -> None:
    none = pd.DataFrame(columns=["feature", "metric", "value", "limit", "passes"])
    calibration = pd.DataFrame(columns=["method", "split", "metric", "value", "is_chosen"])
    rules = PromotionConfig()
    assert "latency" not in quality_checks("regression", none, calibration, rules, 5.0, None)
    fast = quality_checks("regression", none, calibration, rules, 5.0, 8.0)["latency"]
    assert fast["passes"] and fast["detail"] == "predicts in 5.00 ms per 1,000 rows (max 8.0)"
    slow = quality_checks("regression", none, calibration, rules, 9.5, 8.0)["latency"]
    assert not slow["passes"] and "9.50 ms" in slow["detail"]
    # A version trained before the timing was recorded cannot show that it meets the limit.
    assert not quality_checks("regression", none, calibration, rules, None, 8.0)["latency"]["passes"]
    assert decide(rules, {"latency": slow}, None, None).reason.startswith("latency check failed")


def test_psi_is_zero_on_the_training_distribution_and_flags_a_shift() -> None:
    rng = np.random.default_rng(3)
    train = np.column_stack([rng.normal(size=5000), rng.integers(0, 2, 5000)]).astype(float)
    bins = feature_bins(train, ["x", "flag"])
    same = drift_rows(bins, train, ["x", "flag"], 0.2)
    assert same.psi.max() < 1e-9 and not same.is_drifted.any()
    shifted = train.copy()
    shifted[:, 0] += 1.0
    shifted[::2, 1] = np.nan  # missing values are a bin of their own
    rows = drift_rows(bins, shifted, ["x", "flag"], 0.2).set_index("feature")
    assert rows.loc["x", "psi"] > 0.2 and rows.loc["x", "is_drifted"]
    assert rows.loc["flag", "is_drifted"]
    assert psi(np.array([0.5, 0.5]), np.array([0.5, 0.5])) == 0.0


def test_drift_is_not_judged_on_too_few_rows() -> None:
    """A handful of rows from the training distribution itself has a large PSI (sampling
    noise): below min_rows the PSI is recorded but is_drifted stays null, and no feature
    counts as drifted; from min_rows on the same rows are judged."""
    rng = np.random.default_rng(5)
    train = rng.normal(size=(20_000, 3))
    names = ["a", "b", "c"]
    bins = feature_bins(train, names)
    few = rng.normal(size=(20, 3))
    noisy = drift_rows(bins, few, names, 0.2)  # judged, as before: mostly false alarms
    assert noisy.is_drifted.sum() >= 2
    held = drift_rows(bins, few, names, 0.2, min_rows=200)
    assert held.is_drifted.isna().all() and (held.psi == noisy.psi).all()
    assert int(held.is_drifted.fillna(False).sum()) == 0
    enough = drift_rows(bins, rng.normal(size=(250, 3)), names, 0.2, min_rows=200)
    assert enough.is_drifted.notna().all() and not enough.is_drifted.any()
    # Bins built from few training rows are noisy too: 138 reference rows against 330 scored
    # rows is under 200 effective rows (1 / (1/138 + 1/330) = 97), so nothing is judged.
    small = feature_bins(rng.normal(size=(138, 3)), names)
    assert drift_rows(small, rng.normal(size=(330, 3)), names, 0.2, min_rows=200).is_drifted.isna().all()
    # A manifest written before the bins kept their row count is judged on the scored rows.
    legacy = {name: {k: v for k, v in spec.items() if k != "n_rows"} for name, spec in bins.items()}
    assert drift_rows(legacy, few, names, 0.2, min_rows=20).is_drifted.notna().all()


def test_psi_sees_shifts_between_categories_flags_and_constants() -> None:
    """Values holding a tenth of the training rows are bins of their own: with deciles alone a
    category code at 92%, a 5% flag or a constant shared one bin with their neighbours, and
    moving every row to another category, turning every flag on or the constant up read PSI 0."""
    rng = np.random.default_rng(7)
    n = 5000
    code = rng.choice([0.0, 1.0, 2.0, 3.0, 4.0], p=[0.92, 0.02, 0.02, 0.02, 0.02], size=n)
    flag = (rng.uniform(size=n) < 0.05).astype(float)
    constant = np.full(n, 3.0)
    counts = rng.poisson(0.3, size=n).astype(float)  # mostly zeros, a tail of small counts
    train = np.column_stack([code, flag, constant, counts, rng.normal(size=n)])
    names = ["code", "flag", "constant", "counts", "x"]
    bins = feature_bins(train, names)
    same = drift_rows(bins, train, names, 0.2, min_rows=200)
    assert same.psi.max() < 1e-9 and not same.is_drifted.any()
    moved = train.copy()
    moved[:, 0] = 3.0  # every ad in one rare category
    moved[:, 1] = 1.0  # every flag on
    moved[:, 2] = 7.0  # the constant moves up
    moved[:, 3] = np.where(moved[:, 3] == 0, 1.0, moved[:, 3])  # no zero counts any more
    rows = drift_rows(bins, moved, names, 0.2, min_rows=200).set_index("feature")
    assert rows.loc[["code", "flag", "constant", "counts"], "is_drifted"].all(), rows
    assert rows.loc["x", "psi"] < 1e-9
    # A category never seen in training lands in the interval bins, empty for an all-point feature.
    unseen = train.copy()
    unseen[:, 2] = 2.0
    assert drift_rows(bins, unseen, names, 0.2).set_index("feature").loc["constant", "is_drifted"]


def test_top_contributions_keep_each_rows_largest_by_magnitude() -> None:
    contributions = np.array([[0.1, -3.0, 2.0, 9.0], [5.0, 0.0, -1.0, 9.0]])  # last column: bias
    rows, names, values = top_contributions(contributions, ["a", "b", "c"], 2)
    assert rows.tolist() == [0, 0, 1, 1]
    assert names.tolist() == ["b", "c", "a", "c"]
    assert values.tolist() == [-3.0, 2.0, 5.0, -1.0]


@pytest.mark.parametrize("name", sorted(CANDIDATES))
def test_booster_contributions_add_up_to_the_prediction(name: str) -> None:
    candidate = get_candidate(name)
    if candidate.contributions is None:
        pytest.skip(f"{name} has no native contributions")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = X[:, 0] * 3 + rng.normal(size=200)
    model = candidate.make("regression", {**candidate.defaults, candidate.rounds_param or "": 30}, 0, 1)
    model.fit(X, y)
    contributions = candidate.contributions(model, X)
    assert contributions.shape == (200, 5)
    np.testing.assert_allclose(contributions.sum(axis=1), model.predict(X), rtol=1e-4, atol=1e-4)
    gain = candidate.gain(model, 4) if candidate.gain else None
    assert gain is not None and int(np.argmax(gain)) == 0


def test_the_leaderboard_accepts_exactly_the_learning_curve_readings() -> None:
    import yaml

    from ml.learning_curves import VERDICTS

    spec = yaml.safe_load(
        (SCHEMA_MACRO.parents[1] / "models/marts/monitoring/_monitoring__models.yml").read_text()
    )
    board = next(m for m in spec["models"] if m["name"] == "model_leaderboard")
    column = next(c for c in board["columns"] if c["name"] == "learning_curve_verdict")
    accepted = column["data_tests"][0]["accepted_values"]["arguments"]["values"]
    assert sorted(accepted) == sorted(VERDICTS)


def test_schema_macro_is_generated_from_ml_tables() -> None:
    assert SCHEMA_MACRO.read_text() == schema_macro(), "run `python -m ml.warehouse schema`"


def test_schema_macro_adds_the_columns_of_later_versions_to_older_tables() -> None:
    """An ml.runs created before its newer columns gets them from dbt's on-run-start, so the
    monitoring marts that read them build before the next training run."""
    import duckdb

    from ml.warehouse import MIGRATIONS

    sql = "\n".join(line for line in schema_macro().splitlines() if "{" not in line and "-#}" not in line)
    with duckdb.connect() as con:
        con.execute("create schema ml")
        con.execute("create table ml.runs (run_id varchar primary key, task varchar not null)")
        con.execute("insert into ml.runs values ('r1', 'ad_score')")
        con.execute(sql)
        columns = {
            r[0]
            for r in con.execute(
                "select column_name from duckdb_columns() where table_name = 'runs'"
            ).fetchall()
        }
        assert {c for t, c, _ in MIGRATIONS if t == "runs"} <= columns
        assert con.execute("select count(*) from ml.runs").fetchall() == [(1,)]
        con.execute(sql)  # idempotent


# --- no plain pickle ----------------------------------------------------------------------

PICKLE_CALLS = {
    ("pickle", "load"),
    ("pickle", "loads"),
    ("pickle", "Unpickler"),
    ("joblib", "load"),
    ("cloudpickle", "load"),
    ("cloudpickle", "loads"),
    ("dill", "load"),
    ("dill", "loads"),
    ("pd", "read_pickle"),
    ("pandas", "read_pickle"),
}


def test_no_module_calls_a_pickle_loader() -> None:
    """Static: nothing in ml/ calls pickle/joblib/dill loaders, np.load(allow_pickle=True) or
    torch.load without weights_only=True."""
    offences = []
    for path in sorted(ML_PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + (
                    [node.module] if isinstance(node, ast.ImportFrom) else []
                )
                if any(n and n.split(".")[0] in {"pickle", "cloudpickle", "dill", "joblib"} for n in names):
                    offences.append(f"{path.name}:{node.lineno} imports a pickle library")
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            owner = node.func.value.id if isinstance(node.func.value, ast.Name) else ""
            call = (owner, node.func.attr)
            keywords = {k.arg: k.value for k in node.keywords}
            if call in PICKLE_CALLS:
                offences.append(f"{path.name}:{node.lineno} calls {owner}.{node.func.attr}")
            pickle_flag = keywords.get("allow_pickle")
            unsafe = pickle_flag is not None and not (
                isinstance(pickle_flag, ast.Constant) and pickle_flag.value is False
            )
            if call == ("np", "load") and unsafe:
                offences.append(f"{path.name}:{node.lineno} np.load(allow_pickle=...)")
            if call == ("torch", "load"):
                flag = keywords.get("weights_only")
                if not (isinstance(flag, ast.Constant) and flag.value is True):
                    offences.append(f"{path.name}:{node.lineno} torch.load without weights_only=True")
    assert offences == []


@pytest.mark.parametrize("name", sorted(CANDIDATES))
def test_loading_an_artifact_never_unpickles(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runtime: with every pickle entry point disabled, each candidate's artifact (booster
    file, skops pipeline, manifest) still loads and predicts."""
    config = load_config(CONFIG)
    f = frame(60)
    pipeline = build_feature_pipeline(config).fit(f)
    candidate = get_candidate(name)
    params = {**candidate.defaults, **({candidate.rounds_param: 5} if candidate.rounds_param else {})}
    model = candidate.make("regression", params, 0, 1)
    model.fit(pipeline.transform(f), f.ad_score)
    saved = save_artifact(tmp_path, "ad_score", "run1", name, pipeline, model, {"problem_type": "regression"})

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle was used to load an artifact")

    class Refused(pickle.Unpickler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            refuse()

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", Refused)
    loaded = load_artifact(saved.manifest_path, saved.sha256)
    assert np.isfinite(loaded.predict(f)).all()


def test_skops_model_naming_a_callable_outside_the_allowlist_is_refused(tmp_path: Path) -> None:
    """A model file is trusted by exact type names: a crafted file that asks skops to call
    numpy.load(allow_pickle=True) on a pickle is refused before anything is constructed, while
    fitted MLPs of both problem types load."""
    import json
    import os
    import zipfile

    import skops.io as sio

    from ml.errors import ArtifactError

    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    np.save(tmp_path / "evil.npy", np.array([Payload()], dtype=object), allow_pickle=True)

    def node(value: object, i: int) -> dict[str, object]:
        return {
            "__class__": type(value).__name__,
            "__module__": "builtins",
            "__loader__": "JsonNode",
            "content": json.dumps(value),
            "is_json": True,
            "__id__": i,
        }

    arguments = [node(str(tmp_path / "evil.npy"), 2), node(None, 3), node(True, 4)]
    schema = {
        "__class__": "load",
        "__module__": "numpy",
        "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple",
            "__module__": "builtins",
            "__loader__": "TupleNode",
            "content": arguments,
            "__id__": 5,
        },
        "__id__": 1,
        "protocol": 2,
        "_skops_version": sio.__version__ if hasattr(sio, "__version__") else "0.16.0",
    }
    crafted = tmp_path / "model.skops"
    with zipfile.ZipFile(crafted, "w") as z:
        z.writestr("schema.json", json.dumps(schema))
    assert "numpy.load" in sio.get_untrusted_types(file=crafted)
    with pytest.raises(ArtifactError, match=r"outside the allowlist: \['numpy.load'\]"):
        get_candidate("mlp").load(crafted, "regression")
    assert not marker.exists()

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    for problem, y in (("regression", rng.normal(size=80)), ("classification", rng.integers(0, 2, 80))):
        model = get_candidate("mlp").make(problem, {**get_candidate("mlp").defaults, "max_iter": 20}, 0, 1)
        model.fit(X, y)
        path = tmp_path / f"{problem}.skops"
        get_candidate("mlp").save(model, path)
        assert np.allclose(get_candidate("mlp").load(path, problem).predict(X), model.predict(X))


@pytest.mark.parametrize("problem", ["regression", "classification"])
def test_an_artifact_folder_is_an_mlflow_model(
    problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mlflow.pyfunc.load_model`` loads the folder through ml.mlflow_model (no pickle) and
    predicts what ml.score computes; a tampered file or checksum refuses to load."""
    import mlflow.pyfunc

    from ml.errors import ArtifactError
    from ml.mlflow_model import MLMODEL

    config = load_config(CONFIG)
    f = frame(60)
    pipeline = build_feature_pipeline(config).fit(f)
    y = f.ad_score if problem == "regression" else (f.ad_score > 50).astype(int)
    model = get_candidate("xgboost").make(problem, {"n_estimators": 5}, 0, 1)
    model.fit(pipeline.transform(f), y)
    meta = {
        "problem_type": problem,
        "model_name": "ad_score",
        "input_columns": config.input_columns(),
        "prediction_range": [0, 100] if problem == "regression" else None,
        "interval_half_widths": {"0.80": 10.0, "0.90": 15.0},
        "decision_threshold": 0.4,
        "calibrator": None,
    }
    saved = save_artifact(tmp_path, "ad_score", "run1", "xgboost", pipeline, model, meta, example=f.head(5))
    folder = saved.manifest_path.parent
    expected = load_artifact(saved.manifest_path, saved.sha256)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle was used to load an artifact")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    loaded = mlflow.pyfunc.load_model(str(folder))
    rows = frame(20, seed=1)
    out = loaded.predict(rows)
    raw = expected.predict(rows)
    if problem == "regression":
        assert list(out.columns) == ["score", "score_lower", "score_upper"]
        np.testing.assert_allclose(out.score, raw)
        np.testing.assert_allclose(out.score_upper, np.clip(raw + 15.0, 0, 100))
    else:
        assert list(out.columns) == ["probability", "is_at_risk"]
        np.testing.assert_allclose(out.probability, raw)
        assert (out.is_at_risk == (raw >= 0.4)).all()
    schema = {c.name: str(c.type) for c in loaded.metadata.get_input_schema().inputs}
    assert set(schema) == set(config.input_columns()) and "string" in schema["ad_text"]
    # Integers where training saw floats pass (the numbers are typed `any`), a missing column names itself.
    assert len(loaded.predict(rows.assign(age_min=rows.age_min.round().astype("int64")))) == 20
    with pytest.raises(Exception, match="age_max"):
        loaded.predict(rows.drop(columns=["age_max"]))

    mlmodel = folder / MLMODEL
    mlmodel.write_text(mlmodel.read_text().replace(saved.sha256, "f" * 64))
    with pytest.raises(ArtifactError, match=r"MLmodel expects f{64}: refusing to load"):
        mlflow.pyfunc.load_model(str(folder))
    mlmodel.write_text(mlmodel.read_text().replace("f" * 64, saved.sha256))
    assert len(mlflow.pyfunc.load_model(str(folder)).predict(rows)) == 20
    booster = folder / "model.ubj"
    booster.write_bytes(booster.read_bytes()[:-8])
    with pytest.raises(ArtifactError, match="does not match its manifest checksum"):
        mlflow.pyfunc.load_model(str(folder))


def test_every_ml_table_is_a_dbt_source() -> None:
    import yaml

    from ml.warehouse import ML_TABLES

    path = ML_PACKAGE.parent / "models" / "marts" / "monitoring" / "_monitoring__sources.yml"
    (source,) = yaml.safe_load(path.read_text())["sources"]
    assert source["schema"] == "ml"
    assert {t["name"] for t in source["tables"]} == set(ML_TABLES)


# --- rollback and forced promotion on a small registry ----------------------------------


def _register_version(db: Path, root: Path, promote: bool, compared: int | None) -> int:
    """A real (tiny) artifact registered through write_run_results, as ml.train does."""
    import datetime as dt
    import uuid

    from ml.artifacts import stored_path
    from ml.warehouse import write_run_results

    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    config = load_config(CONFIG)
    f = frame(40)
    pipeline = build_feature_pipeline(config).fit(f)
    model = get_candidate("xgboost").make("regression", {"n_estimators": 3}, 0, 1)
    model.fit(pipeline.transform(f), f.ad_score)
    run_id = uuid.uuid4().hex
    meta = {"problem_type": "regression", "model_name": "ad_score", "input_columns": config.input_columns()}
    saved = save_artifact(root, "ad_score", run_id, "xgboost", pipeline, model, meta)
    run = {"run_id": run_id, "task": "ad_score", "status": "succeeded", "started_at": now, "finished_at": now}
    model_row = {
        "run_id": run_id,
        "estimator": "xgboost",
        "artifact_path": stored_path(saved.manifest_path, root),
        "artifact_sha256": saved.sha256,
        "created_at": now,
    }
    promotion = {
        "promotion_id": uuid.uuid4().hex,
        "reason": "test",
        "compared_version": compared,
        "decided_by": "test",
        "decided_at": now,
    }
    version, _ = write_run_results(db, run, {}, "ad_score", model_row, promotion, promote)
    return version


def test_rollbacks_walk_back_through_promotions_and_force_checks_the_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ml.errors import ArtifactError, WarehouseError
    from ml.registry import promote, rollback
    from ml.warehouse import read_query

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    db, root = tmp_path / "wh.duckdb", tmp_path / "artifacts"
    assert _register_version(db, root, True, None) == 1
    assert _register_version(db, root, True, 1) == 2
    assert _register_version(db, root, True, 2) == 3

    def champion() -> int:
        rows = read_query(db, "select version from ml.model_aliases where alias = 'champion'")
        return int(rows.version.iloc[0])

    assert champion() == 3
    rollback(db, "ad_score", "v3 misbehaves", root)
    assert champion() == 2
    rollback(db, "ad_score", "v2 misbehaves too", root)  # back to v1, not forward to v3
    assert champion() == 1
    with pytest.raises(WarehouseError, match="no previous champion"):
        rollback(db, "ad_score", "nothing before v1", root)

    # A challenger whose booster file is gone cannot be made champion, not even with --force.
    assert _register_version(db, root, False, 1) == 4
    manifest = read_query(db, "select artifact_path from ml.model_versions where version = 4").artifact_path[
        0
    ]
    (root / manifest).parent.joinpath("model.ubj").unlink()
    config = load_config(CONFIG)
    with pytest.raises(ArtifactError, match=r"model\.ubj"):
        promote(db, config, 4, True, "incident 7", artifacts=root)
    assert champion() == 1
    history = read_query(db, "select decision from ml.promotions order by decided_at")
    assert history.decision.tolist() == [
        "first_version",
        "promoted",
        "promoted",
        "rollback",
        "rollback",
        "kept_challenger",
    ]


def test_the_bytes_verified_are_the_bytes_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A booster swapped into the folder after the checksums passed (between check and load)
    is never used; a manifest naming a file outside its folder, or a model file it does not
    checksum, is refused even when the manifest's own checksum matches."""
    import hashlib
    import json

    import ml.artifacts
    from ml.errors import ArtifactError

    config = load_config(CONFIG)
    f = frame(60)
    pipeline = build_feature_pipeline(config).fit(f)
    X = pipeline.transform(f)
    models = []
    for depth in (1, 6):
        model = get_candidate("xgboost").make("regression", {"n_estimators": 20, "max_depth": depth}, 0, 1)
        models.append(model.fit(X, f.ad_score))
    meta = {"problem_type": "regression"}
    saved = save_artifact(tmp_path / "a", "ad_score", "run1", "xgboost", pipeline, models[0], meta)
    other = save_artifact(tmp_path / "b", "ad_score", "run2", "xgboost", pipeline, models[1], meta)
    folder = saved.manifest_path.parent
    expected = models[0].predict(X)
    assert not np.allclose(expected, models[1].predict(X))

    real = ml.artifacts.sio.get_untrusted_types

    def swap_then_check(*args: object, **kwargs: object) -> list[str]:
        (folder / "model.ubj").write_bytes((other.manifest_path.parent / "model.ubj").read_bytes())
        return real(*args, **kwargs)

    monkeypatch.setattr(ml.artifacts.sio, "get_untrusted_types", swap_then_check)
    loaded = load_artifact(saved.manifest_path, saved.sha256)
    monkeypatch.undo()
    assert np.allclose(loaded.predict(f), expected)
    with pytest.raises(ArtifactError, match="does not match its manifest checksum"):
        load_artifact(saved.manifest_path, saved.sha256)  # the swapped file is caught next time

    manifest = json.loads(other.manifest_path.read_text())
    for change, message in (
        ({"files": {**manifest["files"], "../escape": "0" * 64}}, "not a file name in its folder"),
        ({"model_file": "unlisted.ubj"}, "model_file 'unlisted.ubj' is not among its checksummed files"),
    ):
        text = json.dumps({**manifest, **change})
        other.manifest_path.write_text(text)
        with pytest.raises(ArtifactError, match=re.escape(message)):
            load_artifact(other.manifest_path, hashlib.sha256(text.encode()).hexdigest(), "MLmodel")


@pytest.mark.parametrize("command", ["sync", "rollback", "show"])
def test_registry_commands_refuse_an_unknown_task(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A misspelt (or path-like) task exits 3 naming it, before anything is mirrored."""
    from ml.registry import main

    extra = ["--reason", "x"] if command == "rollback" else []
    for task in ("ad_scor", "../conf/ad_score"):
        code = main(["--duckdb", str(tmp_path / "wh.duckdb"), command, "--task", task, *extra])
        assert code == 3
        assert (
            f"--task: unknown task {task!r} (available: account_health, ad_score)" in capsys.readouterr().err
        )


def test_registry_check_judges_running_runs_by_their_process_or_the_lock(tmp_path: Path) -> None:
    """A `running` row is a problem once its process is gone: this host's by pid and start
    time, another host's (or an unknown one, as rows before hosts were recorded) when no
    writer holds the warehouse lock."""
    import datetime as dt
    import os
    import socket
    import subprocess
    import sys

    import duckdb

    from ml.lock import writer_lock
    from ml.registry import consistency_problems
    from ml.warehouse import ensure_ml_schema, process_start

    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(ended.stdout)
    here = socket.gethostname()
    rows = [
        ("alive", os.getpid(), here, process_start(os.getpid())),
        ("dead", dead_pid, here, None),
        ("elsewhere", 4242, "another-host", None),
        ("unknown", None, None, None),
    ]
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        ensure_ml_schema(con)
        for run_id, pid, host, started in rows:
            con.execute(
                "insert into ml.runs (run_id, task, status, started_at, pid, hostname, process_start) "
                "values (?, 'ad_score', 'running', ?, ?, ?, ?)",
                [run_id, dt.datetime(2026, 11, 28), pid, host, started],
            )

    def problems() -> set[str]:
        return {p.split()[1] for p in consistency_problems(path, tmp_path, mlflow=False)}

    assert problems() == {"dead", "elsewhere", "unknown"}
    with writer_lock(path, "test"):  # a writer holds the lock: the other hosts' runs may be live
        assert problems() == {"dead"}


SIGTERM_IN_A_QUERY = """
import atexit, signal, sys
from pathlib import Path
from ml import train
from ml.warehouse import connect, interrupt_queries_on_signals
signal.signal(signal.SIGTERM, train._exit_on_sigterm)
interrupt_queries_on_signals()
atexit.register(lambda: print("terminating", train._terminating, flush=True))
with connect(Path(sys.argv[1]), read_only=False) as con:
    print("ready", flush=True)
    con.execute("select sum(hash(range)) from range(1000000000000)").fetchall()
"""


def test_a_sigterm_that_lands_in_a_duckdb_query_stops_it_and_is_known_as_one(tmp_path: Path) -> None:
    """A SIGTERM in a long DuckDB query must stop it (DuckDB, left to poll for signals itself,
    missed about half of them on a loaded machine, and the query ran on), and the run must be
    classified interrupted (exit 143), not failed: the handler's SystemExit can reach the code
    as DuckDB's "RuntimeError: Query interrupted", so it records the signal where train_task
    and main look for it."""
    import signal
    import subprocess
    import sys
    import time

    for delay in (0.3, 1.0, 3.0, 0.3, 1.0, 3.0):  # early in the query, and once its progress bar is up
        proc = subprocess.Popen(
            [sys.executable, "-c", SIGTERM_IN_A_QUERY, str(tmp_path / f"wh{time.monotonic_ns()}.duckdb")],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)  # the query is running
        proc.send_signal(signal.SIGTERM)
        try:
            out = proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"a SIGTERM {delay} s into a DuckDB query did not stop it within 30 s")
        # 143: the handler's SystemExit; 1: it surfaced as DuckDB's RuntimeError, which main
        # turns into 143 because the signal is recorded.
        assert proc.returncode in (1, 128 + int(signal.SIGTERM)), (delay, proc.returncode, out[-200:])
        assert out.rstrip().endswith(f"terminating [{int(signal.SIGTERM)}]"), out[-200:]
