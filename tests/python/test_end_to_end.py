"""The whole path on a small generated warehouse: real dbt build, real ml.train."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from ml.artifacts import load_artifact, sha256_file
from tests.python.conftest import Warehouse

pytestmark = pytest.mark.integration

ML_TABLES = ("runs", "model_versions", "model_aliases", "metrics", "cv_results", "hpo_trials")
PLATFORMS = {"facebook", "instagram", "google", "tiktok", "pinterest"}


def query(wh: Warehouse, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(str(wh.duckdb), read_only=True) as con:
        return con.execute(sql, params or []).df()


def ml_counts(wh: Warehouse) -> dict[str, int]:
    with duckdb.connect(str(wh.duckdb), read_only=True) as con:
        present = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'ml'"
            ).fetchall()
        }
        return {
            t: con.execute(f"select count(*) from ml.{t}").fetchall()[0][0] if t in present else 0
            for t in ML_TABLES
        }


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
    assert "test rmse" in result.stdout
    versions = query(wh, "select * from ml.model_versions")
    assert len(versions) == 1
    row = versions.iloc[0]
    assert row.model_name == "ad_score" and row.version == 1 and row.estimator == "xgboost"
    assert sha256_file(Path(row.artifact_path)) == row.artifact_sha256
    aliases = query(wh, "select * from ml.model_aliases")
    assert aliases[["model_name", "alias", "version"]].values.tolist() == [["ad_score", "champion", 1]]

    runs = query(wh, "select * from ml.runs")
    assert runs.status.tolist() == ["succeeded"] and runs.run_id[0] == row.run_id
    assert len(runs.data_hash[0]) == 64 and runs.mlflow_run_id[0]
    assert json.loads(runs.library_versions[0])["xgboost-cpu"]

    metrics = query(wh, "select * from ml.metrics where split = 'test' and metric = 'rmse'")
    segments = set(metrics.segment)
    assert "overall" in segments and {f"platform={p}" for p in PLATFORMS} <= segments
    assert (metrics.value > 0).all() and (metrics.value < 50).all()

    cv = query(wh, "select * from ml.cv_results")
    assert set(cv.stage) == {"selection", "tuning"} and set(cv.fold) == set(range(5))
    trials = query(wh, "select * from ml.hpo_trials")
    assert len(trials) == 2 and (trials.state == "COMPLETE").all()

    # The registered artifact loads (checksums verified) and predicts within the label range.
    model = load_artifact(row.artifact_path, row.artifact_sha256)
    sample = query(wh, "select * from marts.ad_score_training limit 50")
    pred = model.predict(sample)
    assert pred.shape == (50,) and np.isfinite(pred).all() and pred.min() >= 0 and pred.max() <= 100


def test_mlflow_run_has_params_metrics_and_model(trained) -> None:
    import mlflow

    wh, _ = trained
    mlflow_run_id = query(wh, "select mlflow_run_id from ml.runs").mlflow_run_id[0]
    client = mlflow.MlflowClient(tracking_uri=wh.env["MLFLOW_TRACKING_URI"])
    run = client.get_run(mlflow_run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["estimator"] == "xgboost"
    assert run.data.metrics["test_rmse"] > 0
    assert "test_rmse_platform_google" in run.data.metrics
    assert {a.path for a in client.list_artifacts(mlflow_run_id, "model")} >= {"model/manifest.json"}


def test_same_data_and_seed_give_the_same_test_rmse(trained, tmp_path: Path) -> None:
    wh, _ = trained
    again = wh.with_raw(tmp_path / "again", wh.raw)
    result = again.train()
    assert result.returncode == 0, result.stderr[-3000:]
    sql = (
        "select m.value from ml.metrics m join ml.runs r using (run_id) "
        "where m.split = 'test' and m.metric = 'rmse' and m.segment = 'overall' order by r.started_at"
    )
    first, second = query(again, sql).value.tolist()
    assert first == second
    # The second version of the model becomes challenger; the champion stays.
    aliases = query(again, "select alias, version from ml.model_aliases order by alias")
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
    bad = wh.with_raw(tmp_path / "bad", raw)
    before = ml_counts(bad)
    result = bad.dbt_build()
    assert result.returncode != 0
    assert "Missing required column(s) clicks" in result.stdout
    assert str(meta) in result.stdout
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
