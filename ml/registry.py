"""The model registry in the warehouse: versions, aliases, the promotion gate, the CLI.

    python -m ml.registry list [--task T]
    python -m ml.registry show --task T [--version N | --alias champion]
    python -m ml.registry promote --task T [--version N] [--force --reason WHY]
    python -m ml.registry rollback --task T --reason WHY
    python -m ml.registry sync [--task T]        # mirror aliases into MLflow's registry

``ml.model_versions`` holds one row per version (numbers assigned inside the transaction
that inserts the row), ``ml.model_aliases`` the ``champion`` and ``challenger`` pointers and
``ml.promotions`` every decision with its evidence.  A new version is compared with the
champion on the same frozen holdout (the current test split): it must beat it by the
configured margin, with a paired-bootstrap interval of the improvement, and pass the
fairness and calibration checks.  ``--force`` skips the gate and records who and why.
MLflow's model registry mirrors the warehouse (same versions, same aliases); the warehouse
is the source of truth.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import getpass
import json
import logging
import math
import socket
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml.artifacts import MODEL_CARD, LoadedModel, folder_problems, load_artifact, resolve_artifact
from ml.config import PromotionConfig, TaskConfig, available_tasks, default_config_path, load_config
from ml.errors import AdscoreError, ArtifactError, ConfigError, WarehouseError
from ml.evaluation import lower_is_better, score
from ml.lock import writer_active, writer_lock
from ml.logs import setup_logging
from ml.validation import data_hash, validate_training_data
from ml.warehouse import (
    connect,
    db_path,
    move_champion,
    read_query,
    read_training_snapshot,
    record_promotion,
    recorded_predict_ms,
    run_process_alive,
    table_exists,
)

log = logging.getLogger("ml.registry")
ALIASES = ("champion", "challenger")


@dataclass(frozen=True)
class Evidence:
    """The challenger's improvement over the champion on one holdout (positive = better)."""

    metric: str
    champion_value: float
    challenger_value: float
    improvement: float
    ci_low: float
    ci_high: float
    confidence: float
    n_holdout: int


def bootstrap_improvement(
    metric: str,
    y: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray,
    n_bootstrap: int,
    confidence: float,
    seed: int,
) -> Evidence:
    """Paired bootstrap over holdout rows of metric(champion) - metric(challenger), signed so
    that a positive improvement means the challenger is better."""
    sign = 1.0 if lower_is_better(metric) else -1.0
    champion_value, challenger_value = score(metric, y, champion), score(metric, y, challenger)
    rng = np.random.default_rng(seed)
    n = len(y)
    diffs = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        idx = rng.integers(0, n, n)
        diffs[b] = sign * (score(metric, y[idx], champion[idx]) - score(metric, y[idx], challenger[idx]))
    diffs = diffs[np.isfinite(diffs)]
    alpha = (1 - confidence) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha]) if len(diffs) else (math.nan, math.nan)
    return Evidence(
        metric,
        champion_value,
        challenger_value,
        sign * (champion_value - challenger_value),
        float(low),
        float(high),
        confidence,
        n,
    )


def quality_checks(
    problem_type: str,
    fairness: pd.DataFrame,
    calibration: pd.DataFrame,
    rules: PromotionConfig,
    predict_ms: float | None = None,
    max_predict_ms: float | None = None,
) -> dict[str, Any]:
    """The challenger's own checks: fairness limits, calibration and, when the task sets
    training.max_predict_ms_per_1000_rows, inference speed (name -> pass, detail)."""
    checks: dict[str, Any] = {}
    if max_predict_ms is not None:
        checks["latency"] = {
            "passes": predict_ms is not None and predict_ms <= max_predict_ms,
            "detail": (
                f"predicts in {predict_ms:.2f} ms per 1,000 rows (max {max_predict_ms})"
                if predict_ms is not None
                else f"no prediction time recorded (max {max_predict_ms} ms per 1,000 rows)"
            ),
        }
    if rules.require_fairness and len(fairness):
        gaps = fairness[fairness.limit.notna()]
        judged = gaps.passes.astype("boolean")
        failed = gaps[judged.fillna(True) == False]  # noqa: E712
        unjudged = gaps[judged.isna()]
        detail = [f"{r.feature} {r.metric} {r.value:.3f} > {r.limit:.3f}" for r in failed.itertuples()]
        if unjudged.shape[0] == gaps.shape[0]:
            detail.append(
                "no group gap could be measured (no feature has two groups of fairness.min_group_size "
                "rows, or positives for a TPR gap)"
            )
        elif not detail:
            detail.append("every group gap measured is within its limit")
        if len(unjudged) and len(unjudged) < len(gaps):
            detail.append(
                "not evaluated (too few rows or positives per group): "
                + ", ".join(f"{r.feature} {r.metric}" for r in unjudged.itertuples())
            )
        checks["fairness"] = {
            "passes": failed.empty and len(unjudged) < len(gaps),
            "detail": "; ".join(detail),
        }
    if problem_type == "classification":
        chosen = calibration[
            (calibration.split == "test") & calibration.is_chosen & (calibration.metric == "ece")
        ]
        if len(chosen):
            ece = float(chosen.value.iloc[0])
            checks["calibration"] = {
                "passes": ece <= rules.max_ece,
                "detail": f"holdout ECE {ece:.4f} (max {rules.max_ece})",
            }
    else:
        coverage = calibration[calibration.metric.str.endswith("_coverage")]
        short = []
        for r in coverage.itertuples():
            nominal = int(r.metric.split("_")[1]) / 100
            if r.value < nominal - rules.max_coverage_shortfall:
                short.append(f"{r.metric} {r.value:.3f} < {nominal:.2f} - {rules.max_coverage_shortfall}")
        if len(coverage):
            checks["calibration"] = {
                "passes": not short,
                "detail": "; ".join(short) or "interval coverage within tolerance",
            }
    return checks


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    compared_version: int | None
    evidence: Evidence | None
    checks: dict[str, Any]

    def row(self, data_hash: str | None, decided_by: str, at: dt.datetime) -> dict[str, Any]:
        """The ml.promotions fields this decision fills (version and aliases come later)."""
        e = self.evidence
        return {
            "promotion_id": uuid.uuid4().hex,
            "reason": self.reason,
            "compared_version": self.compared_version,
            "metric": e.metric if e else None,
            "champion_value": e.champion_value if e else None,
            "challenger_value": e.challenger_value if e else None,
            "improvement": e.improvement if e else None,
            "ci_low": e.ci_low if e else None,
            "ci_high": e.ci_high if e else None,
            "confidence": e.confidence if e else None,
            "n_holdout": e.n_holdout if e else None,
            "data_hash": data_hash,
            "checks": json.dumps(self.checks, sort_keys=True),
            "decided_by": decided_by,
            "decided_at": at,
        }


def decide(
    rules: PromotionConfig,
    checks: dict[str, Any],
    evidence: Evidence | None,
    compared_version: int | None,
    champion_error: str | None = None,
) -> Decision:
    """The gate: every check passes, and the improvement clears the margin (and, when
    required, the bootstrap interval's lower end is above zero)."""
    failed = [f"{name} check failed ({c['detail']})" for name, c in checks.items() if not c["passes"]]
    if compared_version is None:
        detail = "; ".join(failed) if failed else "all checks passed"
        return Decision(True, detail, None, None, checks)
    if champion_error is not None:
        return Decision(
            False,
            f"champion v{compared_version} cannot be evaluated: {champion_error}",
            compared_version,
            None,
            checks,
        )
    assert evidence is not None
    reasons = list(failed)
    if not evidence.improvement >= rules.margin:
        reasons.append(
            f"{evidence.metric} improvement {evidence.improvement:+.4f} "
            f"over champion v{compared_version} "
            f"({evidence.champion_value:.4f} -> {evidence.challenger_value:.4f}) "
            f"is below the margin {rules.margin}"
        )
    elif rules.require_significance and not evidence.ci_low > 0:
        reasons.append(
            f"{evidence.metric} improvement {evidence.improvement:+.4f} is not significant: "
            f"{evidence.confidence:.0%} bootstrap interval [{evidence.ci_low:+.4f}, {evidence.ci_high:+.4f}] "
            "includes zero"
        )
    if reasons:
        return Decision(False, "; ".join(reasons), compared_version, evidence, checks)
    return Decision(
        True,
        f"{evidence.metric} {evidence.champion_value:.4f} -> {evidence.challenger_value:.4f} "
        f"(improvement {evidence.improvement:+.4f}, {evidence.confidence:.0%} interval "
        f"[{evidence.ci_low:+.4f}, {evidence.ci_high:+.4f}]); all checks passed",
        compared_version,
        evidence,
        checks,
    )


# --- Reading the registry -----------------------------------------------------------------


def _registry_ready(path: Path) -> bool:
    with connect(path, read_only=True) as con:
        return table_exists(con, "ml.model_versions") and table_exists(con, "ml.model_aliases")


def resolve_version(
    path: Path, model_name: str, version: int | None = None, alias: str | None = None
) -> pd.Series:
    """The ml.model_versions row of ``version``, or of ``alias`` (default champion)."""
    if not path.exists() or not _registry_ready(path):
        raise WarehouseError(f"no model registry in {path}: run `python -m ml.train` first")
    if version is None:
        alias = alias or "champion"
        rows = read_query(
            path,
            "select v.* from ml.model_aliases a join ml.model_versions v using (model_name, version) "
            "where a.model_name = ? and a.alias = ?",
            [model_name, alias],
        )
        if rows.empty:
            raise WarehouseError(f"model {model_name} has no {alias} (see `python -m ml.registry list`)")
    else:
        rows = read_query(
            path,
            "select * from ml.model_versions where model_name = ? and version = ?",
            [model_name, version],
        )
        if rows.empty:
            raise WarehouseError(f"model {model_name} has no version {version}")
    return rows.iloc[0]


def current_champion(path: Path, model_name: str) -> pd.Series | None:
    if not path.exists() or not _registry_ready(path):
        return None
    try:
        return resolve_version(path, model_name, alias="champion")
    except WarehouseError:
        return None


def load_version(row: pd.Series, artifacts: Path | None = None) -> LoadedModel:
    """Load a registered version after verifying its artifact against the registry row
    (relative artifact paths resolve under ``artifacts``, default the artifacts root), and
    its folder against the listing registered with it (every file: MLmodel, requirements,
    figures), where the version has one."""
    path = resolve_artifact(row.artifact_path, artifacts)
    model = load_artifact(path, row.artifact_sha256)
    listing = getattr(row, "folder_sha256", None)
    if isinstance(listing, str) and listing:  # null: registered before folders were listed
        problems = folder_problems(path.parent, listing)
        if problems:
            raise ArtifactError(
                f"{row.model_name} v{int(row.version)}: the artifact folder differs from its "
                f"registration: {'; '.join(problems[:5])}"
            )
    return model


def holdout_predictions(model: LoadedModel, test: pd.DataFrame) -> np.ndarray:
    """What the model serves for the holdout rows: calibrated for classifiers."""
    missing = [c for c in model.manifest["input_columns"] if c not in test.columns]
    if missing:
        raise ArtifactError(f"it needs column(s) the holdout lacks: {', '.join(missing)}")
    raw = model.predict(test)
    return model.calibrated(raw) if model.manifest["problem_type"] == "classification" else raw


def compare_with_champion(
    config: TaskConfig,
    champion: pd.Series | None,
    test: pd.DataFrame,
    y_test: np.ndarray,
    challenger_pred: np.ndarray,
    checks: dict[str, Any],
    seed: int,
    artifacts: Path | None = None,
) -> Decision:
    """Evaluate the champion on the same holdout and apply the gate."""
    rules = config.promotion
    if champion is None:
        return decide(rules, checks, None, None)
    version = int(champion.version)
    try:
        champion_pred = holdout_predictions(load_version(champion, artifacts), test)
    except AdscoreError as exc:
        return decide(rules, checks, None, version, champion_error=str(exc))
    evidence = bootstrap_improvement(
        config.training.metric,
        y_test,
        challenger_pred,
        champion_pred,
        rules.n_bootstrap,
        rules.confidence,
        seed,
    )
    return decide(rules, checks, evidence, version)


def consistency_problems(path: Path, artifacts: Path | None = None, mlflow: bool = True) -> list[str]:
    """What is wrong between the registry and the artifacts: every version's artifact must
    load with its checksums and have its model card, every alias must name a version, every
    succeeded run must have registered one, and no run may be left `running`; with ``mlflow``,
    MLflow must mirror the registry (:func:`mirror_problems`).  Empty list: consistent."""
    if not path.exists() or not _registry_ready(path):
        return []
    problems = []
    versions = read_query(path, "select * from ml.model_versions order by model_name, version")
    for row in versions.itertuples():
        manifest = resolve_artifact(row.artifact_path, artifacts)
        folder = manifest.parent
        try:  # the artifact alone: the folder's problems are listed one by one below
            load_artifact(manifest, row.artifact_sha256)
        except AdscoreError as exc:
            problems.append(f"{row.model_name} v{row.version}: {exc}")
            continue
        if not (folder / MODEL_CARD).is_file():
            problems.append(f"{row.model_name} v{row.version}: no model_card.md beside its artifact")
        folder_sha256 = getattr(row, "folder_sha256", None)
        if isinstance(folder_sha256, str):  # null: registered before folders were listed
            problems += [
                f"{row.model_name} v{row.version}: {p}" for p in folder_problems(folder, folder_sha256)
            ]
    dangling = read_query(
        path,
        "select a.model_name, a.alias, a.version from ml.model_aliases a "
        "left join ml.model_versions v using (model_name, version) where v.run_id is null",
    )
    problems += [
        f"alias {r.model_name}@{r.alias} points at missing v{r.version}" for r in dangling.itertuples()
    ]
    runs = read_query(
        path,
        "select r.run_id, r.status, v.version from ml.runs r left join ml.model_versions v using (run_id) "
        "where r.status <> 'running' and (r.status = 'succeeded') <> (v.version is not null)",
    )
    problems += [
        f"run {r.run_id} succeeded but registered no version"
        if r.status == "succeeded"
        else f"run {r.run_id} is {r.status} but registered v{r.version}"
        for r in runs.itertuples()
    ]
    problems += [f"run {run_id} is running but {gone}" for run_id, gone in _dead_running_runs(path)]
    return problems + (mirror_problems(path) if mlflow else [])


def _dead_running_runs(path: Path) -> list[tuple[str, str]]:
    """Runs left `running` whose process is gone, with how that is known.  A run of this host
    is alive while its process is (pid and start time); one of another host while a writer
    holds the warehouse lock (a training holds it from start to end)."""
    here = socket.gethostname()
    rows = read_query(
        path, "select run_id, pid, hostname, process_start from ml.runs where status = 'running'"
    )
    dead = []
    for r in rows.itertuples():
        pid = None if pd.isna(r.pid) else int(r.pid)
        started = None if pd.isna(r.process_start) else str(r.process_start)
        host = None if pd.isna(r.hostname) else str(r.hostname)  # NA: recorded before hosts were
        if host == here and pid is not None:
            if not run_process_alive(pid, started):
                dead.append((r.run_id, f"its process (pid {pid}) is gone"))
        elif not writer_active(path):
            dead.append((r.run_id, f"no writer holds the warehouse lock (pid {pid} on {host})"))
    return [(run_id, f"{why}; the next training marks it interrupted") for run_id, why in dead]


# --- MLflow mirror ------------------------------------------------------------------------


def sync_mlflow(path: Path, model_name: str) -> None:
    """Mirror the warehouse's versions (those tracked in MLflow) and aliases into MLflow's
    model registry.  Failures are logged, never fatal: the warehouse is the source of truth
    and ``python -m ml.registry sync`` repairs the mirror."""
    try:
        _sync_mlflow(path, model_name)
    except Exception as exc:  # the mirror must never break a committed run
        log.warning(
            "MLflow registry mirror of %s failed (%s); run `python -m ml.registry sync`", model_name, exc
        )


def _mirror_state(client: Any, path: Path, model_name: str) -> tuple[pd.DataFrame, dict[str, str], dict]:
    """The warehouse's versions (with their MLflow run ids), the MLflow version of each one
    already mirrored (adscore version -> MLflow version) and each warehouse alias's version."""
    from mlflow.exceptions import MlflowException

    versions = read_query(
        path,
        "select v.version, r.mlflow_run_id from ml.model_versions v join ml.runs r using (run_id) "
        "where v.model_name = ? order by v.version",
        [model_name],
    )
    aliases = read_query(
        path, "select alias, version from ml.model_aliases where model_name = ?", [model_name]
    )
    mirrored: dict[str, str] = {}
    with contextlib.suppress(MlflowException):  # no registered model yet
        mirrored = {
            mv.tags.get("adscore.version"): mv.version
            for mv in client.search_model_versions(f"name = '{model_name}'")
        }
    return versions, mirrored, {a.alias: str(a.version) for a in aliases.itertuples()}


def _sync_mlflow(path: Path, model_name: str) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException

    from ml import tracking

    client = mlflow.MlflowClient(tracking_uri=tracking.tracking_uri())
    with contextlib.suppress(MlflowException):  # already registered
        client.create_registered_model(model_name, description="Mirrored from the adscore warehouse (ml.*)")
    versions, mirrored, aliases = _mirror_state(client, path, model_name)
    for r in versions.itertuples():
        if str(r.version) in mirrored or not r.mlflow_run_id:
            continue
        mv = client.create_model_version(
            model_name,
            source=f"runs:/{r.mlflow_run_id}/model",
            run_id=r.mlflow_run_id,
            tags={"adscore.version": str(r.version)},
        )
        mirrored[str(r.version)] = mv.version
    wanted = {alias: mirrored.get(version) for alias, version in aliases.items()}
    registered = client.get_registered_model(model_name)
    for alias in set(registered.aliases) - {a for a, v in wanted.items() if v is not None}:
        client.delete_registered_model_alias(model_name, alias)
    for alias, mlflow_version in wanted.items():
        if mlflow_version is not None:
            client.set_registered_model_alias(model_name, alias, mlflow_version)


def mirror_problems(path: Path) -> list[str]:
    """Where MLflow disagrees with the warehouse (empty when nothing was tracked in MLflow):
    a tracked version not mirrored into MLflow's model registry, an MLflow alias that is not
    the warehouse's, and an MLflow run whose status is not its ended warehouse run's (still
    RUNNING, or FINISHED for a run that failed).  Training
    and ``python -m ml.registry sync`` repair each of them."""
    if not read_query(path, "select count(*) as n from ml.runs where mlflow_run_id is not null").n[0]:
        return []  # nothing was tracked: MLflow is not used here
    tracked = read_query(
        path,
        "select distinct v.model_name from ml.model_versions v join ml.runs r using (run_id) "
        "where r.mlflow_run_id is not null order by 1",
    )
    ended = read_query(path, "select run_id, status from ml.runs where status <> 'running'")
    import mlflow
    from mlflow.exceptions import MlflowException

    from ml import tracking

    client = mlflow.MlflowClient(tracking_uri=tracking.tracking_uri())
    problems = []
    for model_name in tracked.model_name:
        versions, mirrored, aliases = _mirror_state(client, path, model_name)
        for r in versions.itertuples():
            if r.mlflow_run_id and str(r.version) not in mirrored:
                problems.append(f"{model_name} v{r.version}: not in MLflow's model registry")
        registered: dict[str, str] = {}
        with contextlib.suppress(MlflowException):
            registered = dict(client.get_registered_model(model_name).aliases)
        tracked_versions = {str(r.version) for r in versions.itertuples() if r.mlflow_run_id}
        for alias in sorted(set(aliases) | set(registered)):
            version = aliases.get(alias)
            want = mirrored.get(version) if version is not None else None
            if registered.get(alias) != want or (version in tracked_versions and want is None):
                where = f"v{version}" if version is not None else "no version"
                mirror = f"MLflow version {want}" if want is not None else "not mirrored"
                problems.append(
                    f"{model_name}@{alias}: MLflow has version {registered.get(alias)}, "
                    f"the warehouse {where} ({mirror})"
                )
    for mlflow_run_id, run_id, status, mlflow_status in tracking.runs_out_of_step(
        dict(zip(ended.run_id, ended.status, strict=True))
    ):
        problems.append(f"MLflow run {mlflow_run_id} is {mlflow_status} but run {run_id} is {status}")
    return problems


def backfill_mlmodels(
    path: Path, model_name: str, artifacts: Path | None = None
) -> tuple[list[str], list[str]]:
    """Make versions trained before artifacts carried an ``MLmodel`` loadable by MLflow: for
    each version tracked in MLflow whose folder lacks one (and was registered without a folder
    listing: a listed folder had its MLmodel, so a missing one is a change), verify the artifact, write
    ``MLmodel`` and ``requirements.txt`` beside it (the signature's example: five rows of its
    training table) and add both to its MLflow run.  The checksummed files are untouched.
    Returns what was done and the versions that could not be given one (missing or changed
    artifact, table gone), each with its reason; those are skipped, not fatal."""
    from ml import tracking
    from ml.mlflow_model import MLMODEL, REQUIREMENTS, write_mlmodel
    from ml.warehouse import quote_identifier

    done: list[str] = []
    problems: list[str] = []
    versions = read_query(
        path,
        "select v.version, v.artifact_path, v.artifact_sha256, v.folder_sha256, r.mlflow_run_id "
        "from ml.model_versions v join ml.runs r using (run_id) where v.model_name = ? order by v.version",
        [model_name],
    )
    for row in versions.itertuples():
        folder = resolve_artifact(row.artifact_path, artifacts).parent
        if not row.mlflow_run_id or (folder / MLMODEL).is_file():
            continue
        if isinstance(row.folder_sha256, str):  # registered with its MLmodel: a change, not a gap
            problems.append(
                f"{model_name} v{row.version}: {MLMODEL} is missing from a folder registered with one: "
                "not rewritten (restore it from the version's MLflow run)"
            )
            continue
        try:
            loaded = load_version(pd.Series(row._asdict()), artifacts)
            table = (loaded.manifest.get("snapshot") or {}).get("table")
            if not table:
                raise ArtifactError("its manifest names no training table")
            columns = ", ".join(quote_identifier(c) for c in loaded.manifest["input_columns"])
            example = read_query(path, f"select {columns} from {quote_identifier(table)} limit 5")
        except AdscoreError as exc:
            problems.append(f"{model_name} v{row.version}: cannot add {MLMODEL}: {exc}")
            continue
        write_mlmodel(folder, loaded, row.artifact_sha256, example)
        for name in (MLMODEL, REQUIREMENTS):
            tracking.log_file(row.mlflow_run_id, folder / name, "model")
        done.append(f"{model_name} v{row.version}: added {MLMODEL} (loads with mlflow.pyfunc)")
    return done, problems


# --- CLI ----------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def list_versions(path: Path, model_name: str | None) -> pd.DataFrame:
    if not path.exists() or not _registry_ready(path):
        raise WarehouseError(f"no model registry in {path}: run `python -m ml.train` first")
    where, params = ("where v.model_name = ?", [model_name]) if model_name else ("", [])
    return read_query(
        path,
        """
        with aliases as (
            select model_name, version, string_agg(alias, ',' order by alias) as aliases
            from ml.model_aliases group by model_name, version
        ),
        headline as (  -- the training metric on the holdout
            select m.run_id, m.metric, m.value
            from ml.metrics as m
            inner join ml.metrics as cv
                on m.run_id = cv.run_id and cv.split = 'cv' and cv.segment = 'overall'
                and cv.metric = m.metric || '_mean'
            where m.split = 'test' and m.segment = 'overall'
        )
        select v.model_name, v.version, v.estimator, v.created_at, left(r.data_hash, 12) as data_hash,
            coalesce(a.aliases, '') as aliases, h.metric as test_metric, h.value as test_value,
            v.artifact_path
        from ml.model_versions as v
        inner join ml.runs as r on v.run_id = r.run_id
        left join aliases as a on v.model_name = a.model_name and v.version = a.version
        left join headline as h on v.run_id = h.run_id
        """
        + where
        + " order by v.model_name, v.version",
        params,
    )


def _print_frame(frame: pd.DataFrame) -> None:
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.max_colwidth", 80):
        print(frame.to_string(index=False) if len(frame) else "(none)")


def known_task(path: Path, task: str) -> str:
    """``task`` when it has a configuration in ml/conf or a registered version; else a
    ConfigError (a typo would otherwise list nothing and exit 0)."""
    registered: set[str] = set()
    if path.exists() and _registry_ready(path):
        registered = set(read_query(path, "select distinct model_name from ml.model_versions").model_name)
    known = sorted(set(available_tasks()) | registered)
    if task not in known:
        raise ConfigError(f"--task: unknown task {task!r} (known: {', '.join(known)})")
    return task


def _load_task_config(task: str) -> TaskConfig:
    if task not in available_tasks():  # a name, never a path
        raise ConfigError(f"--task: unknown task {task!r} (available: {', '.join(available_tasks())})")
    return load_config(default_config_path(task))


def promote(
    path: Path,
    config: TaskConfig,
    version: int | None,
    force: bool,
    reason: str | None,
    seed: int = 0,
    artifacts: Path | None = None,
) -> dict[str, Any]:
    """Promote ``version`` (default: the challenger) to champion through the gate, or with
    ``force``; returns the ml.promotions row recorded."""
    model_name = config.task
    target = resolve_version(path, model_name, version=version, alias=None if version else "challenger")
    target_version = int(target.version)
    champion = current_champion(path, model_name)
    champion_version = int(champion.version) if champion is not None else None
    if champion_version == target_version:
        raise WarehouseError(f"{model_name} v{target_version} is already the champion")
    at = _now()
    if force:
        if not reason:
            raise ConfigError("--force needs --reason (recorded in ml.promotions)")
        load_version(target, artifacts)  # --force skips the gate, not the checksums
        decision = Decision(True, f"forced by {_who()}: {reason}", champion_version, None, {})
        snapshot_hash = None
    else:
        model = load_version(target, artifacts)
        spec = config.data
        snapshot = read_training_snapshot(
            path, spec.table, spec.folds_table, list(spec.id_columns), spec.quality_report
        )
        frame, splits = validate_training_data(snapshot, config)
        snapshot_hash = data_hash(frame, snapshot.folds)
        test = frame.iloc[splits.test_rows].reset_index(drop=True)
        y_test = pd.to_numeric(test[spec.target].astype("float64")).to_numpy(dtype=float)
        run_id = target.run_id
        fairness = read_query(path, "select * from ml.fairness where run_id = ?", [run_id])
        calibration = read_query(path, "select * from ml.calibration where run_id = ?", [run_id])
        checks = quality_checks(
            config.problem_type,
            fairness,
            calibration,
            config.promotion,
            recorded_predict_ms(path, run_id),
            config.training.max_predict_ms_per_1000_rows,
        )
        challenger_pred = holdout_predictions(model, test)
        decision = compare_with_champion(
            config, champion, test, y_test, challenger_pred, checks, seed, artifacts
        )
        if reason:
            decision = Decision(
                decision.promote,
                f"{decision.reason} (note: {reason})",
                decision.compared_version,
                decision.evidence,
                decision.checks,
            )
    row = decision.row(snapshot_hash, _who(), at)
    row.pop("compared_version", None)
    row.update(
        model_name=model_name,
        version=target_version,
        champion_before=champion_version,
        decision=("forced" if force else "promoted") if decision.promote else "rejected",
        champion_after=target_version if decision.promote else champion_version,
    )
    if decision.promote:
        move_champion(path, model_name, target_version, champion_version, row)
    else:
        record_promotion(path, row)
    sync_mlflow(path, model_name)
    return row


def rollback(path: Path, model_name: str, reason: str, artifacts: Path | None = None) -> dict[str, Any]:
    """Make the previous champion the champion again (recorded as a 'rollback'): the one the
    current champion replaced when it was last promoted, so repeated rollbacks walk back
    through the promotions (v3 -> v2 -> v1), never back to the version just rolled back."""
    if not reason:
        raise ConfigError("rollback needs --reason (recorded in ml.promotions)")
    champion = current_champion(path, model_name)
    if champion is None:
        raise WarehouseError(f"model {model_name} has no champion to roll back")
    history = read_query(
        path,
        "select champion_before from ml.promotions where model_name = ? and champion_after = ? "
        "and champion_before is not null and champion_before <> champion_after "
        "and decision <> 'rollback' order by decided_at desc limit 1",
        [model_name, int(champion.version)],
    )
    if history.empty:
        raise WarehouseError(
            f"{model_name} v{int(champion.version)} has no previous champion to roll back to"
        )
    previous = int(history.champion_before.iloc[0])
    load_version(resolve_version(path, model_name, version=previous), artifacts)  # refuse a broken one
    row = Decision(True, f"rollback by {_who()}: {reason}", int(champion.version), None, {}).row(
        None, _who(), _now()
    )
    row.pop("compared_version", None)
    row.update(
        model_name=model_name,
        version=previous,
        champion_before=int(champion.version),
        decision="rollback",
        champion_after=previous,
    )
    move_champion(path, model_name, previous, int(champion.version), row)
    sync_mlflow(path, model_name)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.registry", description=__doc__.split("\n")[0])
    parser.add_argument("--duckdb", type=Path, help="warehouse file (default $DUCKDB_PATH)")
    parser.add_argument(
        "--artifacts", type=Path, help="artifacts root (default $ADSCORE_ARTIFACTS_DIR or ./artifacts)"
    )
    parser.add_argument("--lock-timeout", type=float, help="seconds to wait for the warehouse lock (writers)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="every version with its aliases and holdout metric")
    p_list.add_argument("--task")
    p_show = sub.add_parser("show", help="one version: registry row, metrics, promotions")
    p_show.add_argument("--task", required=True)
    which = p_show.add_mutually_exclusive_group()
    which.add_argument("--version", type=int)
    which.add_argument("--alias", choices=ALIASES)
    p_promote = sub.add_parser("promote", help="promote a version (default: the challenger) through the gate")
    p_promote.add_argument("--task", required=True)
    p_promote.add_argument("--version", type=int)
    p_promote.add_argument("--force", action="store_true", help="skip the gate (needs --reason)")
    p_promote.add_argument("--reason")
    p_rollback = sub.add_parser("rollback", help="make the previous champion the champion again")
    p_rollback.add_argument("--task", required=True)
    p_rollback.add_argument("--reason", required=True)
    p_check = sub.add_parser(
        "check", help="verify every artifact, card, alias and run against the registry, and its MLflow mirror"
    )
    p_check.add_argument("--no-mlflow", action="store_true", help="do not compare the MLflow mirror")
    p_sync = sub.add_parser(
        "sync",
        help="mirror versions and aliases into MLflow's model registry (older versions get an MLmodel)",
    )
    p_sync.add_argument("--task")
    args = parser.parse_args(argv)
    setup_logging()
    path = db_path(args.duckdb)
    try:
        if args.command == "check":
            problems = consistency_problems(path, args.artifacts, mlflow=not args.no_mlflow)
            for problem in problems:
                print(f"ml.registry: {problem}")
            print(f"ml.registry: {'inconsistent' if problems else 'consistent'} ({len(problems)} problem(s))")
            if problems:
                print(
                    "ml.registry: the next `python -m ml.train` writes missing cards, ends MLflow runs "
                    "left open and re-syncs the mirror (`python -m ml.registry sync`: the mirror only)",
                    file=sys.stderr,
                )
            return 6 if problems else 0
        if args.command in ("list", "show"):
            _read_command(args, path)
            return 0
        command = f"ml.registry {args.command} {args.task or ''}".strip()
        with writer_lock(path, command, args.lock_timeout):
            return _write_command(args, path)
    except AdscoreError as exc:
        print(f"ml.registry: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # a full disk, a read-only store: the message names the path
        print(f"ml.registry: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def _read_command(args: argparse.Namespace, path: Path) -> None:
    if args.command == "list":
        _print_frame(list_versions(path, args.task and known_task(path, args.task)))
        return
    _load_task_config(args.task)
    row = resolve_version(path, args.task, args.version, args.alias)
    _print_frame(pd.DataFrame([row]).T.reset_index().set_axis(["field", "value"], axis=1))
    _print_frame(
        read_query(
            path,
            "select split, segment, metric, value, n_rows from ml.metrics where run_id = ? "
            "and segment = 'overall' order by split, metric",
            [row.run_id],
        )
    )
    _print_frame(
        read_query(
            path,
            "select decided_at, decision, champion_before, champion_after, reason from ml.promotions "
            "where model_name = ? and version = ? order by decided_at",
            [args.task, int(row.version)],
        )
    )


def _write_command(args: argparse.Namespace, path: Path) -> int:
    """promote / rollback / sync, under the warehouse lock."""
    if args.command == "promote":
        row = promote(
            path,
            _load_task_config(args.task),
            args.version,
            args.force,
            args.reason,
            artifacts=args.artifacts,
        )
        print(f"ml.registry: {row['model_name']} v{row['version']}: {row['decision']}: {row['reason']}")
        return 0 if row["decision"] != "rejected" else 2
    if args.command == "rollback":
        _load_task_config(args.task)
        row = rollback(path, args.task, args.reason, args.artifacts)
        print(f"ml.registry: {row['model_name']}: champion is v{row['version']} again ({row['reason']})")
        return 0
    failed = []
    if args.task:
        _load_task_config(args.task)  # an unknown task exits 3 instead of mirroring nothing
    for task in [args.task] if args.task else sorted(list_versions(path, None).model_name.unique()):
        done, problems = backfill_mlmodels(path, task, args.artifacts)
        for line in done + problems:
            print(f"ml.registry: {line}")
        failed += problems
        _sync_mlflow(path, task)
        print(f"ml.registry: mirrored {task} into MLflow")
    return 6 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
