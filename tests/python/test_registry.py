"""Registry, promotion gate, batch scoring and the monitoring marts on a real warehouse."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from ml.config import default_config_path
from ml.learning_curves import VERDICTS
from tests.python.conftest import REPO, Warehouse, ml_row_counts

pytestmark = pytest.mark.integration

SCORE_TABLES = ("ad_scores", "account_health_scores", "ad_score_explanations", "drift", "scoring_runs")


def query(wh: Warehouse, sql: str, params: list | None = None) -> pd.DataFrame:
    with duckdb.connect(str(wh.duckdb), read_only=True) as con:
        return con.execute(sql, params or []).df()


def counts(wh: Warehouse, tables: tuple[str, ...] = SCORE_TABLES) -> dict[str, int]:
    return ml_row_counts(wh, tables)


def ad_score_config(tmp_path: Path, name: str, numeric_only: list[str] | None = None) -> Path:
    """The default ad_score configuration with loose calibration/fairness checks (the small
    test world has 300 holdout rows), optionally reduced to a few numeric features."""
    raw = yaml.safe_load(default_config_path("ad_score").read_text())
    raw["promotion"].update(require_fairness=False, max_coverage_shortfall=0.5)
    if numeric_only is not None:
        raw["features"] = {
            "numeric_features": [{"name": n, "transformer": "passthrough"} for n in numeric_only]
        }
    path = tmp_path / f"{name}.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


def fresh_copy(wh: Warehouse, root: Path) -> Warehouse:
    """A copy of the built warehouse without any ml.* state."""
    copy = wh.with_raw(root, wh.raw)
    with duckdb.connect(str(copy.duckdb)) as con:
        con.execute("drop schema if exists ml cascade")
    return copy


def test_worse_second_version_stays_challenger_and_the_reason_is_recorded(trained, tmp_path: Path) -> None:
    wh, _ = trained
    again = wh.with_raw(tmp_path / "worse", wh.raw)
    weak = ad_score_config(tmp_path, "weak", numeric_only=["launch_month"])
    result = again.train("--config", str(weak), "--no-mlflow")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "kept_challenger" in result.stdout
    aliases = query(
        again, "select alias, version from ml.model_aliases where model_name = 'ad_score' order by alias"
    )
    assert aliases.values.tolist() == [["challenger", 2], ["champion", 1]]
    row = query(again, "select * from ml.promotions where model_name = 'ad_score' and version = 2").iloc[0]
    assert row.decision == "kept_challenger" and row.champion_before == 1 and row.champion_after == 1
    assert row.metric == "rmse" and row.challenger_value > row.champion_value and row.improvement < 0
    assert row.ci_low <= row.improvement <= row.ci_high and row.n_holdout > 100
    assert "below the margin" in row.reason and "over champion v1" in row.reason
    assert json.loads(row.checks)["calibration"]["passes"]


def test_better_version_is_promoted_and_registry_cli_forces_and_rolls_back(
    built: Warehouse, tmp_path: Path
) -> None:
    wh = fresh_copy(built, tmp_path / "better")
    weak = ad_score_config(tmp_path, "weak", numeric_only=["launch_month"])
    strong = ad_score_config(tmp_path, "strong")
    first = wh.train("--config", str(weak))
    assert first.returncode == 0, first.stderr[-3000:]
    second = wh.train("--config", str(strong))
    assert second.returncode == 0, second.stderr[-3000:]
    assert "v2 (xgboost)" in second.stdout and "promoted" in second.stdout

    aliases = query(wh, "select alias, version from ml.model_aliases where model_name = 'ad_score'")
    assert aliases.values.tolist() == [["champion", 2]]
    promoted = query(wh, "select * from ml.promotions where version = 2").iloc[0]
    assert promoted.decision == "promoted" and promoted.champion_before == 1 and promoted.champion_after == 2
    assert promoted.improvement > 0 and promoted.ci_low > 0

    # MLflow's registry mirrors the warehouse: same alias on the same (tagged) version.
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=wh.env["MLFLOW_TRACKING_URI"])
    champion = client.get_model_version_by_alias("ad_score", "champion")
    assert champion.tags["adscore.version"] == "2"
    # ... and the alias serves: MLflow loads the champion as a pyfunc model (v2's artifact).
    mlflow.set_tracking_uri(wh.env["MLFLOW_TRACKING_URI"])
    served = mlflow.pyfunc.load_model("models:/ad_score@champion")
    assert (
        served.metadata.metadata["adscore_run_id"]
        == query(
            wh, "select run_id from ml.model_versions where model_name = 'ad_score' and version = 2"
        ).run_id[0]
    )
    rows = query(wh, "select * from marts.ad_score_features order by ad_id limit 50")
    scores = served.predict(rows)
    assert len(scores) == len(rows) and scores.score.between(0, 100).all()

    # A version from before artifacts carried an MLmodel (removed here, locally and from its
    # MLflow run): `ml.registry sync` adds it back in both places, checksummed files untouched.
    from urllib.parse import urlparse

    v1 = query(
        wh,
        "select v.artifact_path, v.artifact_sha256, r.mlflow_run_id from ml.model_versions v "
        "join ml.runs r using (run_id) where v.model_name = 'ad_score' and v.version = 1",
    ).iloc[0]
    local = (wh.artifacts / v1.artifact_path).parent
    logged = Path(urlparse(client.get_run(v1.mlflow_run_id).info.artifact_uri).path) / "model"
    for folder in (local, logged):
        for name in ("MLmodel", "requirements.txt"):
            (folder / name).unlink()
    (local / "folder.sha256.json").unlink()  # nor a listing of its files: registered before both
    with duckdb.connect(str(wh.duckdb)) as con:
        con.execute(
            "update ml.model_versions set folder_sha256 = null where model_name = 'ad_score' and version = 1"
        )
    mv1 = next(
        mv.version
        for mv in client.search_model_versions("name = 'ad_score'")
        if mv.tags["adscore.version"] == "1"
    )
    with pytest.raises(Exception, match="MLmodel"):
        mlflow.pyfunc.load_model(f"models:/ad_score/{mv1}")
    synced = wh.ml("registry", "sync", "--task", "ad_score")
    assert synced.returncode == 0, synced.stderr[-3000:]
    assert "ad_score v1: added MLmodel" in synced.stdout and "ad_score v2" not in synced.stdout
    assert (local / "MLmodel").is_file() and (logged / "requirements.txt").is_file()
    assert len(mlflow.pyfunc.load_model(f"models:/ad_score/{mv1}").predict(rows)) == len(rows)
    assert wh.ml("registry", "check").returncode == 0
    assert "added" not in wh.ml("registry", "sync").stdout  # nothing left to add
    # A version whose artifact cannot be verified gets none: named, exit 6, the mirror still synced.
    (local / "MLmodel").unlink()
    (local / "model.ubj").rename(local / "model.ubj.moved")
    broken = wh.ml("registry", "sync", "--task", "ad_score")
    assert broken.returncode == 6 and "ad_score v1: cannot add MLmodel: artifact file" in broken.stdout
    assert "mirrored ad_score into MLflow" in broken.stdout and not (local / "MLmodel").exists()
    (local / "model.ubj.moved").rename(local / "model.ubj")
    repaired = wh.ml("registry", "sync", "--task", "ad_score")
    assert repaired.returncode == 0 and "ad_score v1: added MLmodel" in repaired.stdout

    # The gate refuses the worse version; --force moves the alias and records who and why.
    refused = wh.ml("registry", "promote", "--task", "ad_score", "--version", "1")
    assert refused.returncode == 2 and "rejected" in refused.stdout
    forced = wh.ml(
        "registry",
        "promote",
        "--task",
        "ad_score",
        "--version",
        "1",
        "--force",
        "--reason",
        "incident 42: v2 misbehaves on new creatives",
    )
    assert forced.returncode == 0, forced.stderr
    assert query(wh, "select version from ml.model_aliases where alias = 'champion'").version.tolist() == [1]
    assert client.get_model_version_by_alias("ad_score", "champion").tags["adscore.version"] == "1"
    rolled = wh.ml("registry", "rollback", "--task", "ad_score", "--reason", "incident closed")
    assert rolled.returncode == 0, rolled.stderr
    assert query(wh, "select version from ml.model_aliases where alias = 'champion'").version.tolist() == [2]
    history = query(wh, "select version, decision, reason from ml.promotions order by decided_at")
    assert history.decision.tolist() == ["first_version", "promoted", "rejected", "forced", "rollback"]
    assert "incident 42" in history.reason[3] and "incident closed" in history.reason[4]
    listing = wh.ml("registry", "list", "--task", "ad_score")
    assert listing.returncode == 0 and "champion" in listing.stdout and "rmse" in listing.stdout

    # The champion (v2) scores, then v1 by version, later: the drift mart shows the champion's.
    for args in ((), ("--version", "1")):
        scored = wh.ml("score", "--task", "ad_score", *args)
        assert scored.returncode == 0, scored.stderr[-3000:]

    # History of both versions in the monitoring marts.
    build = wh.dbt("build", "--select", "marts.monitoring")
    assert build.returncode == 0, build.stdout[-3000:]
    drift = query(
        wh, "select model_name, model_version, count(*) as n from marts.feature_drift_latest group by all"
    )
    assert drift[["model_name", "model_version"]].values.tolist() == [["ad_score", 2]] and drift.n[0] > 0
    champions = query(
        wh, "select champion_version, decision, is_current from marts.champion_history order by valid_from"
    )
    assert champions.champion_version.tolist() == [1, 2, 1, 2] and champions.is_current.tolist() == [
        False,
        False,
        False,
        True,
    ]
    board = query(
        wh,
        "select version, is_champion, registration_decision, learning_curve_verdict "
        "from marts.model_leaderboard order by version",
    )
    assert board[["version", "is_champion", "registration_decision"]].values.tolist() == [
        [1, False, "first_version"],
        [2, True, "promoted"],
    ]
    assert board.learning_curve_verdict.isin(list(VERDICTS)).all()


def test_tampered_champion_artifact_stops_scoring_and_writes_nothing(trained, tmp_path: Path) -> None:
    wh, _ = trained
    copy = wh.with_raw(tmp_path / "tampered", wh.raw)
    path = query(
        copy,
        "select v.artifact_path from ml.model_aliases a join ml.model_versions v using (model_name, version) "
        "where a.model_name = 'ad_score' and a.alias = 'champion'",
    ).artifact_path[0]
    booster = copy.artifacts / Path(path).parent / "model.ubj"
    data = bytearray(booster.read_bytes())
    data[len(data) // 3] ^= 0x01
    booster.write_bytes(bytes(data))
    before = counts(copy)
    result = copy.ml("score")
    assert result.returncode == 6
    assert str(booster) in result.stderr and "does not match its manifest checksum" in result.stderr
    assert counts(copy) == before
    # MLflow reads MLmodel (the module it imports) before any checksum of ours: `check` must
    # catch an edit of it, or any other file of the folder, though scoring never reads them.
    health = query(
        copy,
        "select v.artifact_path from ml.model_aliases a join ml.model_versions v using (model_name, version) "
        "where a.model_name = 'account_health' and a.alias = 'champion'",
    ).artifact_path[0]
    folder = copy.artifacts / Path(health).parent
    mlmodel = folder / "MLmodel"
    mlmodel.write_text(mlmodel.read_text().replace("loader_module: ml.mlflow_model", "loader_module: evil"))
    (folder / "extra.py").write_text("print('hello')\n")
    check = copy.ml("registry", "check", "--no-mlflow")
    assert check.returncode == 6, check.stdout + check.stderr[-2000:]
    assert f"{mlmodel} changed since registration" in check.stdout, check.stdout
    assert f"{folder / 'extra.py'} was added after registration" in check.stdout, check.stdout
    # ... and scoring verifies the folder as well as the model file: nothing is written.
    health_scoring = copy.ml("score", "--task", "account_health")
    assert health_scoring.returncode == 6, health_scoring.stderr[-2000:]
    assert "the artifact folder differs from its registration" in health_scoring.stderr
    assert f"{mlmodel} changed since registration" in health_scoring.stderr
    assert counts(copy) == before


def test_options_and_model_kinds_are_checked_for_every_task_before_the_first_trains(
    trained, tmp_path: Path
) -> None:
    """`--folds stratified` with every task registered account_health, then stopped at
    ad_score (a regression); a regression configuration named account_health registered a
    regressor among the classifiers. Both now stop before anything is written."""
    wh, _ = trained
    copy = wh.with_raw(tmp_path / "options", wh.raw)
    tables = ("runs", "model_versions", "promotions")
    before = ml_row_counts(copy, tables)
    stratified = copy.train("--folds", "stratified", "--no-mlflow")
    assert stratified.returncode == 3, stratified.stderr[-2000:]
    assert "--folds stratified: ad_score is not a classification task" in stratified.stderr
    raw = yaml.safe_load(default_config_path("ad_score").read_text())
    raw["task"] = "account_health"
    other = tmp_path / "regressor_named_account_health.yml"
    other.write_text(yaml.safe_dump(raw))
    mixed = copy.train("--config", str(other), "--no-mlflow")
    assert mixed.returncode == 3, mixed.stderr[-2000:]
    assert "model account_health has classification versions registered" in mixed.stderr
    assert ml_row_counts(copy, tables) == before


def test_scores_from_before_input_hash_are_rescored_once(trained, tmp_path: Path) -> None:
    """A warehouse scored by an earlier release has ml.ad_scores without input_hash: scoring
    read it in a read-only query before any write added the column, and failed (exit 1)."""
    wh, _ = trained
    copy = wh.with_raw(tmp_path / "upgrade", wh.raw)
    first = copy.ml("score", "--task", "ad_score")
    assert first.returncode == 0, first.stderr[-2000:]
    with duckdb.connect(str(copy.duckdb)) as con:
        con.execute("alter table ml.ad_scores drop column input_hash")
        n_ads = con.execute("select count(*) from ml.ad_scores").fetchall()[0][0]
    upgraded = copy.ml("score", "--task", "ad_score")
    assert upgraded.returncode == 0, upgraded.stderr[-2000:]
    assert f"scored {n_ads} new or changed of {n_ads} rows read" in upgraded.stdout
    assert query(copy, "select count(input_hash) as n from ml.ad_scores").n[0] == n_ads
    again = copy.ml("score", "--task", "ad_score")
    assert again.returncode == 0 and "no new or changed rows to score" in again.stdout


def test_a_task_failing_after_another_was_scored_writes_nothing(trained, tmp_path: Path) -> None:
    """`ml.score` (all tasks) computes every task before it writes: account_health (scored
    first) used to be committed before ad_score failed on its table."""
    wh, _ = trained
    copy = wh.with_raw(tmp_path / "half", wh.raw)
    with duckdb.connect(str(copy.duckdb)) as con:
        con.execute("alter table marts.ad_score_features drop column image_width")
    before = counts(copy)
    result = copy.ml("score")
    assert result.returncode == 5 and "image_width" in result.stderr, result.stderr[-3000:]
    assert counts(copy) == before


def test_scoring_writes_one_row_per_row_and_version_and_is_idempotent(trained, tmp_path: Path) -> None:
    wh, _ = trained
    copy = wh.with_raw(tmp_path / "scored", wh.raw)
    first = copy.ml("score", "--explain")
    assert first.returncode == 0, first.stderr[-3000:]
    n_ads = query(copy, "select count(*) as n from marts.ad_score_features").n[0]
    n_weeks = query(copy, "select count(*) as n from marts.account_health_features").n[0]
    scores = query(copy, "select * from ml.ad_scores")
    assert len(scores) == n_ads and scores.ad_id.is_unique
    assert scores.score.between(0, 100).all() and (scores.score_lower <= scores.score).all()
    assert (scores.score <= scores.score_upper).all() and (scores.interval_level == 0.9).all()
    health = query(copy, "select * from ml.account_health_scores")
    assert len(health) == n_weeks and health.probability.between(0, 1).all()
    assert ((health.probability >= health.threshold) == health.is_at_risk).all()
    explanations = query(copy, "select ad_id, count(*) as n from ml.ad_score_explanations group by ad_id")
    assert len(explanations) == n_ads and (explanations.n == 5).all()
    drift = query(copy, "select * from ml.drift")
    assert set(drift.model_name) == {"ad_score", "account_health"} and (drift.psi >= 0).all()

    before = counts(copy)
    again = copy.ml("score", "--explain")
    assert again.returncode == 0 and "no new or changed rows to score" in again.stdout
    empty_runs = query(
        copy, "select n_rows_read, n_features_drifted from ml.scoring_runs order by started_at desc limit 2"
    )
    assert (empty_runs.n_rows_read == 0).all() and empty_runs.n_features_drifted.isna().all()
    after = counts(copy)
    assert {t: after[t] for t in ("ad_scores", "account_health_scores", "ad_score_explanations")} == {
        t: before[t] for t in ("ad_scores", "account_health_scores", "ad_score_explanations")
    }
    assert after["scoring_runs"] == before["scoring_runs"] + 2
    # --all-rows rescores the same version in place: still one row per ad.
    rescore = copy.ml("score", "--task", "ad_score", "--all-rows")
    assert rescore.returncode == 0 and counts(copy)["ad_scores"] == n_ads
    assert f"scored {n_ads} of {n_ads} rows read" in rescore.stdout
    # Without --explain the explanations stay: the inputs did not change, so they still
    # explain the (same) scores; with it they are replaced, from the same run as the scores.
    assert counts(copy)["ad_score_explanations"] == 5 * n_ads
    explained = copy.ml("score", "--task", "ad_score", "--all-rows", "--explain")
    assert explained.returncode == 0, explained.stderr[-2000:]
    runs = query(
        copy,
        "select count(distinct e.scoring_id) as runs, count(*) as n, "
        "min(e.scoring_id = s.scoring_id) as same from ml.ad_score_explanations e "
        "join ml.ad_scores s using (ad_id, model_name, model_version)",
    )
    assert runs.runs[0] == 1 and runs.n[0] == 5 * n_ads and runs.same[0]

    # A row whose inputs change (a restated or edited ad) is scored again: its old score and
    # explanations go; --explain later explains the rows scored without.
    ad = scores.ad_id.iloc[0]
    old = query(copy, "select score, input_hash from ml.ad_scores where ad_id = ?", [ad])
    with duckdb.connect(str(copy.duckdb)) as con:
        con.execute(
            "update marts.ad_score_features set ad_daily_budget = ad_daily_budget * 50 + 1 where ad_id = ?",
            [ad],
        )
    changed = copy.ml("score", "--task", "ad_score")
    assert changed.returncode == 0 and "scored 1 new or changed of 1 rows read" in changed.stdout
    new = query(copy, "select score, input_hash from ml.ad_scores where ad_id = ?", [ad])
    assert len(new) == 1 and new.input_hash[0] != old.input_hash[0]
    assert counts(copy)["ad_scores"] == n_ads
    assert query(copy, "select count(*) as n from ml.ad_score_explanations where ad_id = ?", [ad]).n[0] == 0
    assert counts(copy)["ad_score_explanations"] == 5 * (n_ads - 1)
    scored = query(copy, "select scoring_id from ml.ad_scores where ad_id = ?", [ad]).scoring_id[0]
    filled = copy.ml("score", "--task", "ad_score", "--explain")
    # The row is read to be explained only: its score stands (same inputs, same model), and it
    # is neither counted as scored nor measured for drift as a new row.
    assert filled.returncode == 0 and "scored 0 new or changed of 1 rows read" in filled.stdout, filled.stdout
    assert counts(copy)["ad_score_explanations"] == 5 * n_ads
    assert query(copy, "select scoring_id from ml.ad_scores where ad_id = ?", [ad]).scoring_id[0] == scored
    runs = query(copy, "select scoring_id from ml.scoring_runs order by started_at desc limit 1")
    last = runs.scoring_id[0]
    assert query(copy, "select count(*) as n from ml.drift where scoring_id = ?", [last]).n[0] == 0
    # Two rows of one key, or an infinite input, stop scoring naming them; nothing is written.
    before = counts(copy)
    with duckdb.connect(str(copy.duckdb)) as con:
        con.execute(
            "insert into marts.ad_score_features select * replace (ad_daily_budget + 1 as ad_daily_budget) "
            "from marts.ad_score_features where ad_id = ?",
            [ad],
        )
    duplicated = copy.ml("score", "--task", "ad_score")
    assert duplicated.returncode == 5, duplicated.stderr[-2000:]
    assert "1 key(s) (ad_id) have more than one row" in duplicated.stderr
    assert ad in duplicated.stderr and counts(copy) == before
    with duckdb.connect(str(copy.duckdb)) as con:
        con.execute("delete from marts.ad_score_features where ad_id = ?", [ad])
        con.execute("alter table marts.ad_score_features alter ad_daily_budget type double")
        con.execute(
            "update marts.ad_score_features set ad_daily_budget = 'inf'::double where ad_id = ?",
            [scores.ad_id.iloc[1]],
        )
    infinite = copy.ml("score", "--task", "ad_score", "--explain")
    assert infinite.returncode == 5 and "is infinite for" in infinite.stderr, infinite.stderr[-2000:]
    assert scores.ad_id.iloc[1] in infinite.stderr and counts(copy) == before

    # After training and scoring, the whole dbt build (monitoring marts included) passes, and
    # the docs list the models' exposures.
    build = copy.dbt_build()
    assert build.returncode == 0, build.stdout[-3000:]
    current = query(copy, "select platform, avg(score) as mean_score from marts.ad_scores_current group by 1")
    assert len(current) == 5
    # The latest drift verdict is the --all-rows run's: the one-row runs since judged nothing.
    latest = query(
        copy,
        "select count(*) as n, count(is_drifted) as judged, max(n_rows) as n_rows "
        "from marts.feature_drift_latest where model_name = 'ad_score'",
    )
    assert latest.n[0] > 0 and latest.judged[0] == latest.n[0] and latest.n_rows[0] > 1, latest
    assert query(copy, "select count(*) as n from marts.account_health_current").n[0] > 0
    docs = copy.dbt("docs", "generate")
    assert docs.returncode == 0, docs.stdout[-3000:]
    manifest = json.loads((copy.root / "dbt_target" / "manifest.json").read_text())
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert {"ad_score_model", "account_health_model"} <= set(exposures)
    assert exposures["ad_score_model"]["type"] == "ml"

    # Every SQL example in README runs against this warehouse (tables and columns as documented).
    examples = re.findall(r"```sql\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    statements = [q.strip() for block in examples for q in block.split(";") if q.strip()]
    assert len(statements) >= 6
    with duckdb.connect(str(copy.duckdb), read_only=True) as con:
        for sql in statements:
            try:
                con.execute(sql).fetchall()
            except duckdb.Error as error:
                raise AssertionError(f"README example fails: {error}\n{sql}") from error
        rmse = con.execute(statements[0]).fetchall()
    assert {row[2] for row in rmse} >= {"overall", "platform=google"}
