"""Scheduled jobs: the pipeline, the writer lock, crashes (SIGKILL), bad config and data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import yaml

from ml.config import default_config_path
from ml.failpoints import POINTS
from tests.python.conftest import REPO, Warehouse, ml_row_counts

pytestmark = pytest.mark.integration

ML_TABLES = (
    "runs",
    "model_versions",
    "model_aliases",
    "promotions",
    "metrics",
    "cv_results",
    "hpo_trials",
    "feature_importance",
    "ad_scores",
    "account_health_scores",
    "scoring_runs",
)


def query(wh: Warehouse, sql: str) -> list[tuple]:
    with duckdb.connect(str(wh.duckdb), read_only=True) as con:
        return con.execute(sql).fetchall()


def fresh_copy(wh: Warehouse, root: Path) -> Warehouse:
    copy = wh.with_raw(root, wh.raw)
    with duckdb.connect(str(copy.duckdb)) as con:
        con.execute("drop schema if exists ml cascade")
    return copy


def registry_problems(wh: Warehouse) -> list[str]:
    # Without the MLflow mirror: copies of the trained warehouse start with an empty MLflow
    # store (every tracked version would read as not mirrored) and train with --no-mlflow.
    result = wh.ml("registry", "check", "--no-mlflow")
    return [line for line in result.stdout.splitlines() if "problem(s)" not in line]


def artifact_folders(wh: Warehouse) -> set[str]:
    return (
        {p.name for p in (wh.artifacts / "ad_score").iterdir()}
        if (wh.artifacts / "ad_score").exists()
        else set()
    )


# --- crashes ----------------------------------------------------------------------------


# train:mlflow_end is reached only with MLflow (these run without), and right after
# train:after_commit's state: test_an_error_fails_the_run_and_its_mlflow_run_alike uses it.
@pytest.mark.parametrize("point", [p for p in POINTS if p.startswith("train:") and p != "train:mlflow_end"])
def test_sigkill_during_training_leaves_a_consistent_registry(trained, tmp_path: Path, point: str) -> None:
    wh, _ = trained
    copy = wh.with_raw(tmp_path / "wh", wh.raw)
    before = ml_row_counts(copy, ML_TABLES)
    killed = copy.with_env(ADSCORE_FAILPOINT=point).ml(
        "train", "--task", "ad_score", "--n-trials", "2", "--no-mlflow"
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    # The warehouse opens; the registry never points at a missing or mismatched artifact
    # (a version committed just before the kill lacks only its card, until the next training).
    committed = point == "train:after_commit"
    problems = registry_problems(copy)
    expected = "no model_card.md" if committed else "is running"
    assert problems and all(expected in p for p in problems), problems
    after_kill = ml_row_counts(copy, ML_TABLES)
    assert after_kill["model_versions"] == before["model_versions"] + (1 if committed else 0)
    if not committed:
        assert {t: n for t, n in after_kill.items() if t != "runs"} == {
            t: n for t, n in before.items() if t != "runs"
        }

    again = copy.ml("train", "--task", "ad_score", "--n-trials", "2", "--no-mlflow")
    assert again.returncode == 0, again.stderr[-3000:]
    assert registry_problems(copy) == []
    statuses = [
        r[0] for r in query(copy, "select status from ml.runs where task = 'ad_score' order by started_at")
    ]
    assert statuses == (["succeeded"] * 3 if committed else ["succeeded", "interrupted", "succeeded"])
    if not committed:
        assert "marked interrupted" in again.stderr
    # No temporary folder is left and every version folder is registered (orphans moved aside).
    folders = artifact_folders(copy)
    assert not any(f.startswith(".") for f in folders)
    registered = {
        r[0] for r in query(copy, "select run_id from ml.model_versions where model_name = 'ad_score'")
    }
    assert folders == registered


def test_registry_check_tells_a_training_in_progress_from_a_dead_one(trained, tmp_path: Path) -> None:
    """A training in progress (here paused just after writing its `running` row) is not an
    inconsistency; once its process is gone, its `running` row is."""
    wh, _ = trained
    copy = wh.with_raw(tmp_path / "wh", wh.raw)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ml.train", "--task", "account_health", "--n-trials", "1", "--no-mlflow"],
        cwd=REPO,
        env={**copy.env, "ADSCORE_FAILPOINT": "train:after_running_row:stop"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 600
        while Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()[0] != "T":
            assert proc.poll() is None and time.monotonic() < deadline, "the training never paused"
            time.sleep(0.5)
        assert registry_problems(copy) == []
    finally:
        proc.kill()
        proc.wait()
    problems = registry_problems(copy)
    assert len(problems) == 1, problems
    assert f"is running but its process (pid {proc.pid}) is gone" in problems[0]


def test_mlflow_is_repaired_after_trainings_killed_before_and_after_their_commit(
    trained, tmp_path: Path
) -> None:
    """With MLflow: a training killed before its commit leaves its MLflow run RUNNING (its id
    already on the `running` row); one killed after it leaves no model card and the MLflow
    aliases behind; a SIGTERM marks the run interrupted.  The next training (even one that
    skips an unchanged task) ends the MLflow run KILLED, writes the card and syncs the aliases."""
    import mlflow
    from mlflow.exceptions import MlflowException

    wh, _ = trained
    copy = fresh_copy(wh, tmp_path / "wh")
    train = ("train", "--task", "account_health", "--n-trials", "1")
    first = copy.ml(*train)
    assert first.returncode == 0, first.stderr[-3000:]
    client = mlflow.MlflowClient(tracking_uri=copy.env["MLFLOW_TRACKING_URI"])

    killed = copy.with_env(ADSCORE_FAILPOINT="train:before_commit").ml(*train)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    run_id, mlflow_run_id, status = query(
        copy, "select run_id, mlflow_run_id, status from ml.runs order by started_at desc limit 1"
    )[0]
    assert status == "running" and mlflow_run_id
    assert client.get_run(mlflow_run_id).info.status == "RUNNING"

    # SIGTERM once selection has started: the run is `running` and holds no connection
    # (polling the warehouse instead would race the training for the file's lock).
    proc = subprocess.Popen(
        [sys.executable, "-m", "ml.train", *train[1:], "--no-mlflow"],
        cwd=REPO,
        env=copy.env,
        text=True,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if ": selection: " in line:
            break
    else:
        raise AssertionError(f"the training ended before selection (exit {proc.wait()})")
    proc.send_signal(signal.SIGTERM)
    proc.stderr.read()
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert query(copy, f"select status from ml.runs where pid = {proc.pid}") == [("interrupted",)]
    # That training ran without MLflow: the killed run is interrupted, its MLflow run still open.
    check = copy.ml("registry", "check")
    assert check.returncode == 6, check.stdout + check.stderr[-2000:]
    assert f"MLflow run {mlflow_run_id} is RUNNING but run {run_id} is interrupted" in check.stdout

    committed = copy.with_env(ADSCORE_FAILPOINT="train:after_commit").ml(*train)
    assert committed.returncode == -signal.SIGKILL, committed.stderr[-2000:]
    version, path = query(
        copy, "select version, artifact_path from ml.model_versions order by version desc limit 1"
    )[0]
    aliases = dict(query(copy, "select alias, version from ml.model_aliases"))
    assert version == 2 and version in aliases.values()
    alias = next(a for a, v in aliases.items() if v == version)
    card = (copy.artifacts / path).parent / "model_card.md"
    assert not card.exists()
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias("account_health", alias)
    check = copy.ml("registry", "check")
    assert check.returncode == 6, check.stdout + check.stderr[-2000:]
    for problem in (
        f"account_health v{version}: no model_card.md",
        f"account_health v{version}: not in MLflow's model registry",
        f"account_health@{alias}: MLflow has version",
    ):
        assert problem in check.stdout, check.stdout
    assert "is RUNNING" not in check.stdout  # ended KILLED by that training's repair

    again = copy.ml(*train, "--skip-unchanged")
    assert again.returncode == 0 and "skipped" in again.stdout, again.stderr[-3000:]
    assert client.get_run(mlflow_run_id).info.status == "KILLED"
    assert query(copy, f"select status from ml.runs where run_id = '{run_id}'") == [("interrupted",)]
    assert card.is_file() and "had no model card" in again.stderr
    mirrored = client.get_model_version_by_alias("account_health", alias)
    assert mirrored.tags["adscore.version"] == str(version)
    check = copy.ml("registry", "check")
    assert check.returncode == 0 and "consistent (0 problem(s))" in check.stdout, check.stdout


def test_an_error_fails_the_run_and_its_mlflow_run_alike(trained, tmp_path: Path) -> None:
    """A full disk while the results are written: exit 1 with one error line (no traceback), the
    run `failed`, its MLflow run FAILED (MLflow's exit hook used to be free to close it
    FINISHED).  The same error while ending the MLflow run after the commit is a warning: the
    version is registered and the command succeeds.  An MLflow run whose status disagrees with
    its ended run is reported by `ml.registry check` and set right by the next training."""
    import mlflow

    wh, _ = trained
    copy = fresh_copy(wh, tmp_path / "wh")
    train = ("train", "--task", "account_health", "--n-trials", "1")
    client = mlflow.MlflowClient(tracking_uri=copy.env["MLFLOW_TRACKING_URI"])

    full = copy.with_env(ADSCORE_FAILPOINT="train:before_commit:raise").ml(*train)
    assert full.returncode == 1, full.stderr[-3000:]
    assert "ml.train: error: OSError: [Errno 28] No space left on device" in full.stderr
    assert "Traceback" not in full.stderr
    run_id, mlflow_run_id, status, error = query(
        copy, "select run_id, mlflow_run_id, status, error from ml.runs order by started_at desc limit 1"
    )[0]
    assert status == "failed" and "No space left on device" in error
    assert client.get_run(mlflow_run_id).info.status == "FAILED"

    versions = query(copy, "select count(*) from ml.model_versions")[0][0]
    late = copy.with_env(ADSCORE_FAILPOINT="train:mlflow_end:raise").ml(*train)
    assert late.returncode == 0, late.stderr[-3000:]
    assert "not ended" in late.stderr
    assert query(copy, "select count(*) from ml.model_versions")[0][0] == versions + 1
    late_run = query(copy, "select mlflow_run_id, status from ml.runs order by started_at desc limit 1")[0]
    assert late_run[1] == "succeeded"
    assert client.get_run(late_run[0]).info.status == "FINISHED"

    client.set_terminated(mlflow_run_id, "FINISHED")  # as the exit hook used to leave it
    check = copy.ml("registry", "check")
    assert check.returncode == 6, check.stdout + check.stderr[-2000:]
    assert f"MLflow run {mlflow_run_id} is FINISHED but run {run_id} is failed" in check.stdout
    again = copy.ml(*train, "--skip-unchanged")
    assert again.returncode == 0 and "skipped" in again.stdout, again.stderr[-3000:]
    assert client.get_run(mlflow_run_id).info.status == "FAILED"
    assert copy.ml("registry", "check").returncode == 0


def test_skip_unchanged_compares_the_options_run_with_the_latest_run(trained, tmp_path: Path) -> None:
    """--skip-unchanged skips only when the latest run trained on the same data with the same
    effective settings: the configuration file and the command line's options."""
    wh, _ = trained
    copy = wh.with_raw(tmp_path / "wh", wh.raw)
    train = ("train", "--task", "account_health", "--n-trials", "2", "--no-mlflow", "--skip-unchanged")
    same = copy.ml(*train)  # as the fixture's training ran
    assert same.returncode == 0 and "skipped" in same.stdout, same.stdout + same.stderr[-2000:]
    versions = query(copy, "select count(*) from ml.model_versions where model_name = 'account_health'")[0][0]
    reseeded = copy.ml(*train, "--seed", "8")
    assert reseeded.returncode == 0 and "skipped" not in reseeded.stdout, reseeded.stderr[-2000:]
    # The fixture's run matches again, but it is not the latest: the version since is seed 8's.
    back = copy.ml(*train)
    assert back.returncode == 0 and "skipped" not in back.stdout, back.stderr[-2000:]
    hashes = query(
        copy,
        "select r.seed, r.config_hash from ml.runs r join ml.model_versions v using (run_id) "
        "where v.model_name = 'account_health' order by v.version",
    )
    assert len(hashes) == versions + 2
    assert hashes[-1][0] != hashes[-2][0] and hashes[-1][1] != hashes[-2][1]
    assert hashes[-1] == hashes[-3]  # the same settings give the same configuration hash


def test_sigkill_or_full_disk_during_scoring_writes_nothing_and_the_rerun_scores_everything(
    trained, tmp_path: Path
) -> None:
    wh, _ = trained
    copy = wh.with_raw(tmp_path / "wh", wh.raw)
    before = ml_row_counts(copy, ML_TABLES)
    # An OS error (a full disk) before the commit: one error line naming it, exit 1, no rows.
    full = copy.with_env(ADSCORE_FAILPOINT="score:before_commit:raise").ml("score", "--task", "ad_score")
    assert full.returncode == 1, full.stderr[-2000:]
    assert "Traceback" not in full.stderr
    assert full.stderr.strip().splitlines()[-1].startswith("ml.score: error: OSError: [Errno 28]")
    assert ml_row_counts(copy, ML_TABLES) == before
    killed = copy.with_env(ADSCORE_FAILPOINT="score:before_commit").ml("score", "--task", "ad_score")
    assert killed.returncode == -signal.SIGKILL
    assert ml_row_counts(copy, ML_TABLES) == before
    again = copy.ml("score", "--task", "ad_score")
    assert again.returncode == 0, again.stderr[-2000:]
    n_ads = query(copy, "select count(*) from marts.ad_score_features")[0][0]
    assert query(copy, "select count(*), count(distinct ad_id) from ml.ad_scores") == [(n_ads, n_ads)]


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a process started in its own session, and wait until its whole group is gone
    (dbt, a grandchild, may still be exiting when its parent has been reaped)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def test_sigkill_during_dbt_build_then_the_rebuild_succeeds(trained, tmp_path: Path) -> None:
    wh, _ = trained
    copy = wh.with_raw(tmp_path / "wh", wh.raw)
    before = ml_row_counts(copy, ML_TABLES)
    for delay in (3.0, 9.0):
        proc = subprocess.Popen(
            [sys.executable, "-m", "ml.lock", "--", str(Path(sys.executable).parent / "dbt"), "build"],
            cwd=REPO,
            env=copy.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(delay)
        kill_group(proc)
        with duckdb.connect(str(copy.duckdb), read_only=True) as con:  # opens: the WAL replays
            con.execute("select count(*) from ml.model_versions").fetchall()
    rebuilt = copy.run(
        sys.executable,
        "-m",
        "ml.lock",
        "--timeout",
        "5",
        "--",
        str(Path(sys.executable).parent / "dbt"),
        "build",
    )
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:]
    assert ml_row_counts(copy, ML_TABLES) == before
    assert registry_problems(copy) == []


def test_a_build_killed_half_way_blocks_training_and_scoring_until_a_build_completes(
    trained, tmp_path: Path
) -> None:
    """Killed after its first node started, a build leaves some tables new and the rest old:
    ml.train and ml.score refuse that warehouse (exit 5) until a build runs to its end."""
    wh, _ = trained
    copy = wh.with_raw(tmp_path / "wh", wh.raw)
    before = ml_row_counts(copy, ML_TABLES)
    kill_after_the_first_node(copy, "build")

    for command in (
        ("train", "--task", "account_health", "--no-mlflow"),
        ("score", "--task", "account_health"),
    ):
        refused = copy.ml(*command)
        assert refused.returncode == 5, refused.stderr[-3000:]
        assert "a `dbt build`" in refused.stderr and "did not finish" in refused.stderr
    assert ml_row_counts(copy, ML_TABLES) == before
    # A small run that completes (two seeds) rebuilds little of what the killed build selected:
    # still refused, naming what was not rebuilt.
    seeded = copy.dbt("seed")
    assert seeded.returncode == 0, seeded.stdout[-3000:]
    refused = copy.ml("score", "--task", "account_health")
    assert refused.returncode == 5 and "nodes not rebuilt since" in refused.stderr, refused.stderr[-3000:]

    rebuilt = copy.dbt("build")
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:]
    trained_again = copy.ml("train", "--task", "account_health", "--n-trials", "1", "--no-mlflow")
    assert trained_again.returncode == 0, trained_again.stderr[-3000:]
    builds = query(copy, "select status, finished_at is null from audit.dbt_builds order by started_at")
    assert builds[-3:] == [(None, True), ("success", False), ("success", False)]

    # `dbt retry` of a failed build rebuilds its failed and skipped nodes: killed half-way, it
    # blocks training too, and a retry that completes unblocks it.
    failed = copy.dbt("build", "--vars", "{max_reject_rate: 0.0001}")
    assert failed.returncode == 1, failed.stdout[-3000:]
    kill_after_the_first_node(copy, "retry")
    refused = copy.ml("train", "--task", "account_health", "--no-mlflow")
    assert refused.returncode == 5, refused.stderr[-3000:]
    assert "a `dbt retry`" in refused.stderr and "did not finish" in refused.stderr
    retried = copy.dbt("retry", "--vars", "{max_reject_rate: 0.05}")
    assert retried.returncode == 0, retried.stdout[-3000:]
    builds = query(copy, "select command, n_selected, status from audit.dbt_builds order by started_at")
    failed_build, killed_retry, retry = builds[-3:]
    assert failed_build[0] == "build" and failed_build[1] > 0 and failed_build[2] == "error"
    assert killed_retry == ("retry", None, None) and retry == ("retry", None, "success")
    # No longer blocked as half-built; the quality gate now reads the report the failed build
    # made with its threshold (the retry re-ran only the failed test and the skipped nodes).
    gated = copy.ml("train", "--task", "account_health", "--no-mlflow")
    assert gated.returncode == 4, gated.stderr[-3000:]
    assert "data quality gate" in gated.stderr and "did not finish" not in gated.stderr


def kill_after_the_first_node(wh: Warehouse, *dbt_args: str) -> None:
    """Start `dbt <dbt_args>` under the writer lock and SIGKILL it as soon as its first node
    starts (read from dbt's output: on-run-start has run by then, no timing guess)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ml.lock", "--", str(Path(sys.executable).parent / "dbt"), *dbt_args],
        cwd=REPO,
        env={**wh.env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if " START " in line and " hook: " not in line:
            break
    kill_group(proc)
    assert any(" START " in line and " hook: " not in line for line in seen), "".join(seen)[-3000:]


# --- the pipeline and the lock ------------------------------------------------------------


def test_two_pipelines_started_together_do_not_duplicate_anything(built: Warehouse, tmp_path: Path) -> None:
    wh = fresh_copy(built, tmp_path / "wh")
    secret = "s3cr3t-do-not-log-4711"
    env = wh.with_env(AWS_SECRET_ACCESS_KEY=secret, MLFLOW_TRACKING_TOKEN=secret)
    args = [sys.executable, "-m", "ml.pipeline", "--freshness", "warn", "--n-trials", "2"]
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = []
    for name, timeout in (("a", "600"), ("b", "600")):
        out = open(logs / f"{name}.out", "w")  # noqa: SIM115 - closed below
        err = open(logs / f"{name}.err", "w")  # noqa: SIM115
        procs.append(
            (
                subprocess.Popen(
                    [*args, "--lock-timeout", timeout], cwd=REPO, env=env.env, stdout=out, stderr=err
                ),
                out,
                err,
            )
        )
    # A third writer with a short timeout is refused, naming the holder.
    lock = Path(str(wh.duckdb) + ".lock")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (lock.exists() and lock.read_text()):
        time.sleep(0.2)
    refused = env.ml("score", "--lock-timeout", "1")
    assert refused.returncode == 7
    assert "locked by another writer: pid" in refused.stderr and "ml.pipeline" in refused.stderr
    codes = []
    for proc, out, err in procs:
        codes.append(proc.wait(timeout=900))
        out.close()
        err.close()
    outputs = {p.name: p.read_text() for p in logs.iterdir()}
    assert codes == [0, 0], outputs
    # One of them trained; the other waited, found nothing changed and skipped training.
    stdout = outputs["a.out"] + outputs["b.out"]
    assert stdout.count("skipped: training snapshot") == 2  # both tasks, in the second run
    assert query(wh, "select model_name, count(*) from ml.model_versions group by all order by 1") == [
        ("account_health", 1),
        ("ad_score", 1),
    ]
    assert query(wh, "select count(*) from ml.runs") == [(2,)]
    n_ads = query(wh, "select count(*) from marts.ad_score_features")[0][0]
    assert query(wh, "select count(*), count(distinct ad_id) from ml.ad_scores") == [(n_ads, n_ads)]
    assert query(wh, "select count(*) from marts.model_leaderboard") == [(2,)]
    assert "champion v1" in stdout and "model card" in stdout
    # Analysts read the published snapshot; holding it open does not block the next writer.
    snapshot = wh.duckdb.with_name("adscore.snapshot.duckdb")
    with duckdb.connect(str(snapshot), read_only=True) as reader:
        assert reader.execute("select count(*) from ml.model_versions").fetchall() == [(2,)]
        rebuilt = wh.run(
            sys.executable,
            "-m",
            "ml.lock",
            "--",
            str(Path(sys.executable).parent / "dbt"),
            "build",
            "--select",
            "marts.monitoring",
        )
        assert rebuilt.returncode == 0, rebuilt.stdout[-2000:]
        assert reader.execute("select count(*) from marts.ad_scores_current").fetchall() == [(n_ads,)]
    # No credential from the environment reaches logs, tables or artifacts.
    assert secret not in "".join(outputs.values())
    for path in wh.artifacts.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    runs = query(wh, "select library_versions, config_path, coalesce(error, '') from ml.runs")
    assert runs and secret not in repr(runs)


def test_pipeline_dry_run_prints_the_plan(built: Warehouse) -> None:
    result = built.ml("pipeline", "--dry-run")
    assert result.returncode == 0
    steps = [line.split(":")[0].strip() for line in result.stdout.splitlines()[1:]]
    assert steps == [
        "1. source_freshness",
        "2. dbt_build",
        "3. train",
        "4. score",
        "5. monitoring_marts",
        "6. publish_snapshot",
    ]
    assert "ml.train --skip-unchanged" in result.stdout
    # dbt's unit tests (fixed inputs) are for CI, not for every scheduled run.
    dbt_lines = [line for line in result.stdout.splitlines() if "dbt build" in line]
    assert len(dbt_lines) == 2
    assert all("--exclude-resource-type unit_test" in line for line in dbt_lines)
    # Raw files load incrementally unless a full refresh is asked for.
    assert "--full-refresh" not in result.stdout
    refresh = built.ml("pipeline", "--dry-run", "--full-refresh")
    assert refresh.returncode == 0
    assert [line for line in refresh.stdout.splitlines() if "--full-refresh" in line] == [
        line.replace("unit_test", "unit_test --full-refresh") for line in dbt_lines[:1]
    ]


# --- bad configuration and data ----------------------------------------------------------


def write_config(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    raw = yaml.safe_load(default_config_path("ad_score").read_text())
    change(raw)
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


BAD_CONFIGS = {
    "unknown_transformer": (
        lambda c: c["features"]["numeric_features"][0].update(transformer="Bogus"),
        3,
        "features.numeric_features[0].transformer: unknown transformer 'Bogus'",
    ),
    "unknown_model": (
        lambda c: c["training"].update(candidates=["xgboost", "randomforest"]),
        3,
        "training.candidates: unknown model 'randomforest'",
    ),
    "misspelt_key": (
        lambda c: c["training"].update(n_trial=40),
        3,
        "training.n_trial: unknown key (did you mean 'n_trials'?)",
    ),
    "wrong_parameter_type": (
        lambda c: c["training"].update(n_trials="many"),
        3,
        "training.n_trials: expected an integer, got str 'many'",
    ),
    "wrong_transformer_params": (
        lambda c: c["features"]["text_features"][0]["params"].update(
            model_name="distilbert-base-uncased-finetuned-sst-2-english"
        ),
        3,
        "cannot be loaded offline",
    ),
    "missing_table": (
        lambda c: c["data"].update(table="marts.no_such_table"),
        5,
        "table marts.no_such_table (data.table) not found",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_configuration_exits_naming_the_key_and_writes_nothing(
    trained, tmp_path: Path, case: str
) -> None:
    wh, _ = trained
    change, code, message = BAD_CONFIGS[case]
    path = write_config(tmp_path, change)
    before = ml_row_counts(wh, ML_TABLES)
    result = wh.ml("train", "--config", str(path), "--no-mlflow")
    assert result.returncode == code, result.stderr[-2000:]
    assert message in result.stderr and str(path) in result.stderr, result.stderr[-2000:]
    assert ml_row_counts(wh, ML_TABLES) == before


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["--config", "/nonexistent/ad_score.yml"],
            3,
            "/nonexistent/ad_score.yml: configuration file not found",
        ),
        (["--task", "churn"], 3, "--task: unknown task 'churn' (available: account_health, ad_score, all)"),
    ],
)
def test_bad_command_line_exits_naming_it(trained, args: list[str], code: int, message: str) -> None:
    wh, _ = trained
    before = ml_row_counts(wh, ML_TABLES)
    result = wh.ml("train", *args)
    assert result.returncode == code and message in result.stderr
    assert ml_row_counts(wh, ML_TABLES) == before


BAD_DATA = {
    "empty_training_table": ("ad_score", "delete from marts.ad_score_training", "the table has no rows"),
    "single_class_label": (
        "account_health",
        "update marts.account_health_training set is_at_risk = false",
        "column is_at_risk is a single class: nothing to learn",
    ),
    "infinite_feature": (
        "ad_score",
        "update marts.ad_score_training set ad_daily_budget = 'inf'::double where ad_id in "
        "(select ad_id from marts.ad_score_training limit 3)",
        "are infinite in: ad_daily_budget__ad_daily_budget",
    ),
    "null_in_critical_column": (
        "ad_score",
        "update marts.ad_score_training set ad_text = null where ad_id in "
        "(select ad_id from marts.ad_score_training limit 2)",
        "column ad_text contains 2 null value(s)",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_training_data_exits_4_naming_the_column_and_writes_nothing(
    trained, tmp_path: Path, case: str
) -> None:
    wh, _ = trained
    task, sql, message = BAD_DATA[case]
    copy = wh.with_raw(tmp_path / "wh", wh.raw)
    with duckdb.connect(str(copy.duckdb)) as con:
        con.execute(sql)
    before = ml_row_counts(copy, ML_TABLES)
    result = copy.ml("train", "--task", task, "--n-trials", "2", "--no-mlflow")
    assert result.returncode == 4, result.stderr[-2000:]
    assert message in result.stderr
    assert ml_row_counts(copy, ML_TABLES) == before
