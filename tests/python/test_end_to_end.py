"""The whole path on a small generated warehouse: real dbt build, real ml.train."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from ml.artifacts import load_artifact, sha256_file
from ml.learning_curves import VERDICTS
from tests.python.conftest import REPO, Warehouse, ml_row_counts

pytestmark = pytest.mark.integration

ML_TABLES = ("runs", "model_versions", "model_aliases", "metrics", "cv_results", "hpo_trials")
PLATFORMS = {"facebook", "instagram", "google", "tiktok", "pinterest"}


def query(wh: Warehouse, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(str(wh.duckdb), read_only=True) as con:
        return con.execute(sql, params or []).df()


def ml_counts(wh: Warehouse, tables: tuple[str, ...] = ML_TABLES) -> dict[str, int]:
    return ml_row_counts(wh, tables)


def test_marts_hold_every_labelled_ad_with_folds(built: Warehouse) -> None:
    training = query(built, "select * from marts.ad_score_training")
    folds = query(built, "select * from marts.ad_score_folds")
    assert len(training) > 0.9 * 1500
    assert set(training.platform) == PLATFORMS
    assert training.ad_score.between(0, 100).all()
    assert set(folds.ad_id) == set(training.ad_id)
    # The holdout is the latest launches: every test campaign starts after every train one.
    first = training.groupby("campaign_id").launch_date.min()
    split = folds.drop_duplicates("campaign_id").set_index("campaign_id").split
    assert first[split[split == "test"].index].min() >= first[split[split == "train"].index].max()
    assert folds.loc[folds.split == "train", "fold"].nunique() == 5


def test_dbt_label_matches_the_generators_definition(built: Warehouse) -> None:
    """dbt's ad_score and the ground truth's Python label are one definition."""
    scores = query(built, "select ad_id, ad_score from marts.ad_performance")
    truth = pd.read_csv(built.truth / "ad_score_oracle.csv")
    merged = truth.merge(scores, on="ad_id", how="outer", indicator=True)
    assert (merged._merge == "both").all()
    assert (merged.ad_score.isna() == merged.ad_score_python.isna()).all()
    np.testing.assert_allclose(merged.ad_score.dropna(), merged.ad_score_python.dropna(), atol=1e-9)


def test_train_registers_a_champion_with_verified_artifact(trained) -> None:
    wh, result = trained
    assert "test rmse" in result.stdout and "test roc_auc" in result.stdout
    versions = query(wh, "select * from ml.model_versions order by model_name")
    assert versions.model_name.tolist() == ["account_health", "ad_score"]
    row = versions.set_index("model_name").loc["ad_score"]
    assert row.version == 1 and row.estimator == "xgboost"
    for path, digest in versions[["artifact_path", "artifact_sha256"]].values:
        assert not Path(path).is_absolute()  # relative to the artifacts root: movable
        assert sha256_file(wh.artifacts / path) == digest
    aliases = query(wh, "select model_name, alias, version from ml.model_aliases order by model_name")
    assert aliases.values.tolist() == [["account_health", "champion", 1], ["ad_score", "champion", 1]]

    runs = query(wh, "select * from ml.runs where task = 'ad_score'")
    assert runs.status.tolist() == ["succeeded"] and runs.run_id[0] == row.run_id
    assert len(runs.data_hash[0]) == 64 and runs.mlflow_run_id[0]
    assert json.loads(runs.library_versions[0])["xgboost-cpu"]

    metrics = query(
        wh, "select * from ml.metrics where run_id = ? and split = 'test' and metric = 'rmse'", [row.run_id]
    )
    segments = set(metrics.segment)
    assert "overall" in segments and {f"platform={p}" for p in PLATFORMS} <= segments
    assert (metrics.value > 0).all() and (metrics.value < 50).all()

    cv = query(wh, "select * from ml.cv_results where run_id = ?", [row.run_id])
    assert set(cv.stage) == {"selection", "tuning"} and set(cv.fold) == set(range(5))
    # Every fold's fit and prediction is timed, and so is the shipped model's prediction.
    assert (cv.fit_seconds > 0).all() and (cv.predict_seconds > 0).all()
    assert runs.predict_ms_per_1000_rows[0] > 0
    trials = query(wh, "select * from ml.hpo_trials where run_id = ?", [row.run_id])
    assert len(trials) == 2 and set(trials.state) <= {"COMPLETE", "PRUNED"}
    # For each task, the shipped model's mean CV score is never worse than the winner's defaults
    # scored in selection on the same folds (tuning could end below them; then they are refit).
    shipped = query(
        wh,
        "select r.task, m.metric, m.value as shipped, m.n_rows, r.estimator, r.run_id from ml.metrics m "
        "join ml.runs r using (run_id) where m.split = 'cv' and m.metric in ('rmse_mean', 'roc_auc_mean')",
    )
    assert set(shipped.task) == {"ad_score", "account_health"}
    for task, metric, value, n_rows, estimator, run_id in shipped.itertuples(index=False):
        defaults = query(
            wh,
            "select avg(value) as v, sum(n_valid_rows) as n from ml.cv_results "
            "where run_id = ? and stage = 'selection' and candidate = ?",
            [run_id, estimator],
        )
        v = defaults.v[0]
        assert (value <= v + 1e-9) if metric == "rmse_mean" else (value >= v - 1e-9), task
        # The CV rows count the rows the folds validated (time folds validate a part of the
        # training rows), not every training row.
        assert n_rows == defaults.n[0], task

    # The registered artifact loads (checksums verified) and predicts within the label range.
    model = load_artifact(wh.artifacts / row.artifact_path, row.artifact_sha256)
    sample = query(wh, "select * from marts.ad_score_training limit 50")
    pred = model.predict(sample)
    assert pred.shape == (50,) and np.isfinite(pred).all() and pred.min() >= 0 and pred.max() <= 100


def test_account_health_is_trained_as_a_classifier_on_time_folds(trained) -> None:
    wh, _ = trained
    run = query(
        wh,
        "select r.run_id, v.artifact_path, v.artifact_sha256 from ml.runs r "
        "join ml.model_versions v using (run_id) where r.task = 'account_health'",
    )
    run_id = run.run_id[0]
    metrics = query(
        wh, "select segment, metric, value from ml.metrics where run_id = ? and split = 'test'", [run_id]
    )
    overall = metrics[metrics.segment == "overall"].set_index("metric").value
    assert {"roc_auc", "pr_auc", "brier", "log_loss", "ece", "threshold", "precision", "recall"} <= set(
        overall.index
    )
    assert 0.5 < overall.roc_auc <= 1 and 0 < overall.threshold < 1
    assert any(s.startswith("vertical=") for s in metrics.segment)
    cv = query(
        wh,
        "select fold, n_train_rows, n_valid_rows from ml.cv_results where run_id = ? "
        "and stage = 'selection' order by fold",
        [run_id],
    )
    assert len(cv) == 3 and cv.n_train_rows.is_monotonic_increasing  # expanding windows
    model = load_artifact(wh.artifacts / run.artifact_path[0], run.artifact_sha256[0])
    sample = query(wh, "select * from marts.account_health_training limit 20")
    p = model.predict(sample)
    assert ((p >= 0) & (p <= 1)).all()


def test_account_health_with_stratified_folds(trained, tmp_path: Path) -> None:
    """--folds stratified: the warehouse's training rows re-dealt, stratified on the label,
    each account in one validation fold; the frozen test split is the same."""
    wh, _ = trained
    copy = wh.with_raw(tmp_path / "stratified", wh.raw)
    result = copy.train("--task", "account_health", "--folds", "stratified", "--no-mlflow")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "3 stratified folds" in result.stderr
    runs = query(
        copy,
        "select run_id, n_train_rows, n_test_rows from ml.runs where task = 'account_health' "
        "order by started_at",
    )
    assert (
        len(runs) == 2
        and runs.n_test_rows[0] == runs.n_test_rows[1]
        and runs.n_train_rows[0] == runs.n_train_rows[1]
    )
    cv = query(
        copy,
        "select fold, n_train_rows, n_valid_rows from ml.cv_results where run_id = ? and stage = 'selection'",
        [runs.run_id[1]],
    )
    # Every training row is validated exactly once (time folds validate only later weeks).
    assert len(cv) == 3 and cv.n_valid_rows.sum() == runs.n_train_rows[1]
    assert (cv.n_train_rows + cv.n_valid_rows == runs.n_train_rows[1]).all()
    regression = copy.train("--task", "ad_score", "--folds", "stratified", "--no-mlflow")
    assert (
        regression.returncode != 0
        and "--folds stratified: ad_score is not a classification task" in regression.stderr
    )


def test_a_latency_limit_selects_and_gates_on_prediction_time(trained, tmp_path: Path) -> None:
    """training.max_predict_ms_per_1000_rows: no candidate within it stops the run before
    anything is registered; a model within it passes the gate's latency check."""
    wh, _ = trained
    copy = wh.with_raw(tmp_path / "latency", wh.raw)
    raw = yaml.safe_load((REPO / "ml" / "conf" / "account_health.yml").read_text())
    config = tmp_path / "account_health_latency.yml"
    raw["training"]["max_predict_ms_per_1000_rows"] = 1e-6
    config.write_text(yaml.safe_dump(raw))
    before = ml_counts(copy)
    result = copy.train("--config", str(config), "--candidates", "xgboost,mlp", "--no-mlflow")
    assert result.returncode == 3, result.stderr[-3000:]
    assert "training.max_predict_ms_per_1000_rows: no candidate predicts within 1e-06 ms" in result.stderr
    assert re.search(r"\(xgboost \d+\.\d\d ms, mlp \d+\.\d\d ms\)", result.stderr)
    after = ml_counts(copy)
    assert after["runs"] == before["runs"] + 1  # the failed run, with its error
    assert {k: v for k, v in after.items() if k != "runs"} == {k: v for k, v in before.items() if k != "runs"}
    failed = query(copy, "select status, error from ml.runs order by started_at desc limit 1").iloc[0]
    assert failed.status == "failed" and "max_predict_ms_per_1000_rows" in failed.error

    raw["training"]["max_predict_ms_per_1000_rows"] = 1e6
    config.write_text(yaml.safe_dump(raw))
    result = copy.train("--config", str(config), "--no-mlflow")
    assert result.returncode == 0, result.stderr[-3000:]
    checks = query(copy, "select checks from ml.promotions order by decided_at desc limit 1").checks[0]
    latency = json.loads(checks)["latency"]
    assert latency["passes"] and "ms per 1,000 rows (max 1000000.0)" in latency["detail"]


def test_mlflow_run_has_params_metrics_and_model(trained) -> None:
    import mlflow

    wh, _ = trained
    recorded = query(
        wh, "select mlflow_run_id, data_hash, n_train_rows, n_test_rows from ml.runs where task = 'ad_score'"
    )
    mlflow_run_id = recorded.mlflow_run_id[0]
    client = mlflow.MlflowClient(tracking_uri=wh.env["MLFLOW_TRACKING_URI"])
    run = client.get_run(mlflow_run_id)
    # Dataset lineage: the warehouse file, one input per split, the snapshot hash as digest.
    inputs = {i.dataset.name: i for i in run.inputs.dataset_inputs}
    assert set(inputs) == {"marts.ad_score_training:train", "marts.ad_score_training:test"}
    for split, context, n in (
        ("train", "training", recorded.n_train_rows[0]),
        ("test", "evaluation", recorded.n_test_rows[0]),
    ):
        dataset = inputs[f"marts.ad_score_training:{split}"].dataset
        assert {t.key: t.value for t in inputs[dataset.name].tags}["mlflow.data.context"] == context
        assert dataset.digest == recorded.data_hash[0][:36] and json.loads(dataset.profile)["num_rows"] == n
        assert json.loads(dataset.source)["uri"] == wh.duckdb.resolve().as_uri()
    assert run.info.status == "FINISHED"
    assert run.data.params["estimator"] == "xgboost"
    assert run.data.metrics["test_rmse"] > 0
    assert "test_rmse_platform_google" in run.data.metrics
    assert {a.path for a in client.list_artifacts(mlflow_run_id, "model")} >= {
        "model/manifest.json",
        "model/MLmodel",
        "model/requirements.txt",
    }


@pytest.mark.parametrize(
    ("task", "table"), [("ad_score", "ad_score_features"), ("account_health", "account_health_features")]
)
def test_logged_model_loads_with_mlflow_pyfunc(trained, task: str, table: str) -> None:
    """The run's model folder is an MLflow model: pyfunc loads it (through the adscore
    loader, checksums verified) and it predicts what the registered artifact predicts, on the
    scoring mart's rows as they come from the warehouse (ids and extra columns included)."""
    import mlflow

    wh, _ = trained
    version = query(
        wh,
        "select r.mlflow_run_id, v.artifact_path, v.artifact_sha256 from ml.model_versions v "
        "join ml.runs r using (run_id) where v.model_name = ? order by v.version limit 1",
        [task],
    ).iloc[0]
    rows = query(wh, f"select * from marts.{table} order by all limit 300")
    mlflow.set_tracking_uri(wh.env["MLFLOW_TRACKING_URI"])
    out = mlflow.pyfunc.load_model(f"runs:/{version.mlflow_run_id}/model").predict(rows)
    artifact = load_artifact(wh.artifacts / version.artifact_path, version.artifact_sha256)
    raw = artifact.predict(rows)
    assert len(out) == len(rows) > 0
    if task == "ad_score":
        np.testing.assert_allclose(out.score, raw)
        assert (out.score_lower <= out.score).all() and (out.score <= out.score_upper).all()
    else:
        np.testing.assert_allclose(out.probability, artifact.calibrated(raw))
        threshold = artifact.manifest["decision_threshold"]
        assert (out.is_at_risk == (out.probability >= threshold)).all()


def test_mlflow_models_serve_scores_the_logged_model(trained, tmp_path: Path) -> None:
    """README's serving command: `mlflow models serve` on 127.0.0.1 answers /invocations with
    the same scores as the artifact (the REST protocol's dataframe_split input)."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    wh, _ = trained
    version = query(
        wh,
        "select r.mlflow_run_id, v.artifact_path, v.artifact_sha256 from ml.model_versions v "
        "join ml.runs r using (run_id) where v.model_name = 'ad_score' order by v.version limit 1",
    ).iloc[0]
    rows = query(wh, "select * exclude (launch_date) from marts.ad_score_features order by ad_id limit 20")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            *("models", "serve", "-m", f"runs:/{version.mlflow_run_id}/model", "--env-manager", "local"),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        # MLflow starts `uvicorn` by name: the environment's bin on PATH, as after `. .venv/bin/activate`.
        env={**wh.env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{wh.env.get('PATH', '')}"},
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "server.log").open("w"),
    )
    try:
        body = json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split", index=False))})
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", body.encode(), {"Content-Type": "application/json"}
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    answer = json.loads(response.read())
                break
            except OSError:
                log = (tmp_path / "server.log").read_text()[-3000:]
                assert server.poll() is None and time.monotonic() < deadline, (
                    f"the server did not start:\n{log}"
                )
                time.sleep(1)
    finally:
        server.terminate()
        server.wait(30)
    served = pd.DataFrame(answer["predictions"])
    expected = load_artifact(wh.artifacts / version.artifact_path, version.artifact_sha256).predict(rows)
    np.testing.assert_allclose(served.score, expected, rtol=1e-6)
    assert (served.score_lower <= served.score).all() and len(served) == 20


def test_same_data_and_seed_give_the_same_test_rmse(trained, tmp_path: Path) -> None:
    wh, _ = trained
    again = wh.with_raw(tmp_path / "again", wh.raw)
    result = again.train()
    assert result.returncode == 0, result.stderr[-3000:]
    sql = (
        "select r.task, m.metric, m.segment, m.value from ml.metrics m join ml.runs r using (run_id) "
        "where m.split = 'test' order by r.started_at"
    )
    rows = query(again, sql)
    for task, metric in (("ad_score", "rmse"), ("account_health", "roc_auc")):
        values = rows[(rows.task == task) & (rows.metric == metric) & (rows.segment == "overall")].value
        assert len(values) == 2 and values.iloc[0] == values.iloc[1]
    # And identical predictions from the two registered models.
    sample = query(again, "select * from marts.ad_score_training limit 200")
    versions = query(
        again,
        "select artifact_path, artifact_sha256 from ml.model_versions "
        "where model_name = 'ad_score' order by version",
    )
    first_model, second_model = (load_artifact(again.artifacts / p, d) for p, d in versions.values)
    np.testing.assert_array_equal(first_model.predict(sample), second_model.predict(sample))
    # The second training computed no text feature: every one came from ml.text_feature_cache.
    cache = query(
        again,
        "select text_cache_hits, text_cache_computed from ml.runs "
        "where task = 'ad_score' order by started_at",
    )
    assert cache.text_cache_computed.tolist()[0] > 0 and cache.text_cache_computed.tolist()[1] == 0
    hits, computed = cache.text_cache_hits.tolist(), cache.text_cache_computed.tolist()
    assert hits[1] == computed[0] + hits[0]  # every lookup of the first run, now all hits
    # The second version of each model becomes challenger; the champion stays.
    aliases = query(
        again, "select alias, version from ml.model_aliases where model_name = 'ad_score' order by alias"
    )
    assert aliases.values.tolist() == [["challenger", 2], ["champion", 1]]


def test_raw_file_missing_a_column_fails_dbt_and_writes_nothing(trained, tmp_path: Path) -> None:
    wh, _ = trained
    raw = tmp_path / "raw"
    import shutil

    shutil.copytree(wh.raw, raw)
    meta = raw / "meta" / "ads_insights.csv"
    with open(meta, newline="", encoding="utf-8", errors="surrogateescape") as f:
        rows = list(csv.reader(f))
    drop = rows[0].index("clicks")
    with open(meta, "w", newline="", encoding="utf-8", errors="surrogateescape") as f:
        csv.writer(f, lineterminator="\n").writerows([r[:drop] + r[drop + 1 :] for r in rows])
    # A JSON-lines export whose key was renamed in every record (the probe stops at the first
    # line having a key, so only an absent key is read to the end).
    tiktok = raw / "tiktok" / "ad_report.jsonl"
    lines = tiktok.read_bytes()
    assert lines.count(b'"spend":') > 100
    tiktok.write_bytes(lines.replace(b'"spend":', b'"cost":'))
    bad = wh.with_raw(tmp_path / "bad", raw)
    before = ml_counts(bad)
    result = bad.dbt_build()
    assert result.returncode != 0
    assert "Missing required column(s) clicks" in result.stdout
    assert str(meta) in result.stdout
    assert "Missing required key(s) $.metrics.spend in " in result.stdout
    assert "$.metrics.clicks" not in result.stdout.split("Missing required key(s)")[1].split("\n")[0]
    assert ml_counts(bad) == before


def test_training_table_missing_a_column_stops_ml_train(trained, tmp_path: Path) -> None:
    wh, _ = trained
    bad = wh.with_raw(tmp_path / "bad", wh.raw)
    with duckdb.connect(str(bad.duckdb)) as con:
        con.execute("alter table marts.ad_score_training drop column ad_text")
        con.execute(
            "update marts.ad_score_training set platform = null where ad_id in "
            "(select ad_id from marts.ad_score_training limit 3)"
        )
    before = ml_counts(bad)
    result = bad.train()
    assert result.returncode == 4, result.stderr[-2000:]
    assert "marts.ad_score_training failed validation" in result.stderr
    assert "missing required column(s): ad_text" in result.stderr
    assert "column platform contains 3 null value(s)" in result.stderr
    assert ml_counts(bad) == before


def test_selection_and_tuning_never_read_the_test_split(trained, tmp_path: Path) -> None:
    """Scramble every test label: CV scores, trials and the chosen model must not move."""
    wh, _ = trained
    scrambled = wh.with_raw(tmp_path / "scrambled", wh.raw)
    with duckdb.connect(str(scrambled.duckdb)) as con:
        con.execute(
            "update marts.ad_score_training set ad_score = 100 - ad_score where ad_id in "
            "(select ad_id from marts.ad_score_folds where split = 'test')"
        )
        con.execute(
            "update marts.account_health_training set is_at_risk = not is_at_risk "
            "where (account_id, week_start) in (select account_id, week_start "
            "from marts.account_health_folds where split = 'test')"
        )
    result = scrambled.train()
    assert result.returncode == 0, result.stderr[-3000:]
    runs = query(scrambled, "select run_id, task from ml.runs order by started_at")
    for task in ("ad_score", "account_health"):
        first, second = runs[runs.task == task].run_id.tolist()
        for table, columns in (
            ("cv_results", "stage, candidate, fold, metric, value"),
            ("hpo_trials", "trial_number, state, value, params"),
        ):
            sql = f"select {columns} from ml.{table} where run_id = ? order by all"
            pd.testing.assert_frame_equal(query(scrambled, sql, [first]), query(scrambled, sql, [second]))
        test_metric = "rmse" if task == "ad_score" else "roc_auc"
        sql = (
            "select value from ml.metrics where run_id = ? and split = 'test' and segment = 'overall' "
            "and metric = ?"
        )
        assert (
            query(scrambled, sql, [first, test_metric]).value[0]
            != query(scrambled, sql, [second, test_metric]).value[0]
        )


def test_learning_curves_calibration_and_fairness_for_both_tasks(trained) -> None:
    wh, _ = trained
    runs = query(wh, "select task, run_id from ml.runs").set_index("task").run_id
    features = {
        "ad_score": {"platform", "objective", "audience_age_band", "account_size_band"},
        "account_health": {"vertical", "account_size_band"},
    }
    for task in ("ad_score", "account_health"):
        curve = query(wh, "select * from ml.learning_curves where run_id = ?", [runs[task]])
        assert set(curve.split) == {"train", "valid"} and curve.train_fraction.nunique() == 5
        run = query(wh, "select * from ml.runs where run_id = ?", [runs[task]]).iloc[0]
        assert run.learning_curve_verdict in VERDICTS and np.isfinite(run.learning_curve_valid_gain)
        fairness = query(wh, "select * from ml.fairness where run_id = ?", [runs[task]])
        assert set(fairness.feature) == features[task]
    # Gaps are computed between groups large enough (min_group_size); ad score's platforms are.
    gaps = query(wh, "select * from ml.fairness where run_id = ? and \"group\" = 'all'", [runs["ad_score"]])
    assert {"demographic_parity_difference", "error_gap"} <= set(gaps.metric)
    assert gaps.passes.notna().all() and gaps["limit"].notna().all()
    cal = query(wh, "select * from ml.calibration where run_id = ?", [runs["account_health"]])
    assert {"isotonic", "sigmoid", "none"} <= set(cal.method) and cal.is_chosen.any()
    chosen = cal[cal.is_chosen & (cal.split == "test")].set_index("metric").value
    before = cal[(cal.method == "none") & (cal.split == "test")].set_index("metric").value
    assert set(chosen.index) == {"brier", "log_loss", "ece"} and chosen.brier <= before.brier + 0.01
    intervals = (
        query(
            wh,
            "select metric, value from ml.calibration where run_id = ? and method = 'conformal'",
            [runs["ad_score"]],
        )
        .set_index("metric")
        .value
    )
    assert 0.6 < intervals.interval_80_coverage < 0.97 and 0.75 < intervals.interval_90_coverage <= 1.0
    manifest = json.loads(
        (
            wh.artifacts
            / query(
                wh, "select artifact_path from ml.model_versions where model_name = 'ad_score'"
            ).artifact_path[0]
        ).read_text()
    )
    assert set(manifest["interval_half_widths"]) == {"0.80", "0.90"}
    folder = (
        wh.artifacts
        / query(
            wh, "select artifact_path from ml.model_versions where model_name = 'account_health'"
        ).artifact_path[0]
    ).parent
    assert {p.name for p in (folder / "figures").glob("*.png")} == {"learning_curve.png", "reliability.png"}
    # The model card is generated from the warehouse tables, beside the artifact.
    card = (folder / "model_card.md").read_text()
    assert card.startswith("# Model card: account_health v1")
    for section in (
        "## Metrics",
        "## Calibration and intervals",
        "## Fairness",
        "## Top features",
        "## Known limitations",
    ):
        assert section in card
    assert "vertical=" in card and "figures/reliability.png" in card
    verdict = query(
        wh,
        "select learning_curve_verdict from ml.runs join ml.model_versions using (run_id) "
        "where model_name = 'account_health' and version = 1",
    ).learning_curve_verdict[0]
    assert verdict in VERDICTS and f"Reading: **{verdict}**: {VERDICTS[verdict]}" in card


def test_text_and_hybrid_models_are_selected_on_cv_and_score(trained, tmp_path: Path) -> None:
    """The hybrid variant: tabular XGBoost, the text MLP and the hybrid on the same folds."""
    wh, _ = trained
    copy = wh.with_raw(tmp_path / "text", wh.raw)
    hybrid = str(REPO / "ml" / "conf" / "variants" / "ad_score_hybrid.yml")
    result = copy.train("--config", hybrid, "--no-mlflow")
    assert result.returncode == 0, result.stderr[-3000:]
    folds = query(
        copy,
        "select c.candidate, c.fold, c.n_train_rows, c.n_valid_rows, c.value from ml.cv_results c "
        "join ml.runs r using (run_id) where r.config_path like '%hybrid%' and c.stage = 'selection' "
        "order by c.candidate, c.fold",
    )
    assert set(folds.candidate) == {"xgboost", "text_mlp", "hybrid"}
    per_candidate = [
        g[["fold", "n_train_rows", "n_valid_rows"]].values.tolist() for _, g in folds.groupby("candidate")
    ]
    assert per_candidate[0] == per_candidate[1] == per_candidate[2] and len(per_candidate[0]) >= 3
    assert np.isfinite(folds.value).all()
    # The text model alone, from the cached text features; then scored by ml.score.
    result = copy.train("--config", hybrid, "--candidates", "text_mlp", "--no-mlflow")
    assert result.returncode == 0, result.stderr[-3000:]
    run = query(
        copy,
        "select r.estimator, r.text_cache_computed, v.version, v.artifact_path, v.artifact_sha256 "
        "from ml.runs r join ml.model_versions v using (run_id) order by r.started_at desc limit 1",
    ).iloc[0]
    assert run.estimator == "text_mlp" and run.text_cache_computed == 0
    model = load_artifact(copy.artifacts / run.artifact_path, run.artifact_sha256)
    assert [n.split("__")[0] for n in model.manifest["feature_names"]] == ["embedding"] * 16
    sample = query(copy, "select * from marts.ad_score_features limit 50")
    assert model.features(sample).shape == (50, 16)
    # Its saved pipeline computes the embedding only (every other entry dropped).
    assert [n for n, t, _ in model.pipeline.transformers_ if t != "drop"] == ["embedding"]
    assert np.isfinite(model.predict(sample)).all()
    scored = copy.ml("score", "--task", "ad_score", "--version", str(run.version), "--explain")
    assert scored.returncode == 0, scored.stderr[-3000:]
    counts = query(
        copy,
        "select (select count(*) from ml.ad_scores where model_version = ?) as scored, "
        "(select count(*) from marts.ad_score_features) as ads",
        [int(run.version)],
    ).iloc[0]
    assert counts.scored == counts.ads > 0
