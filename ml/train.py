"""Train each task's model from the curated warehouse tables.

    python -m ml.train [--task ad_score|account_health|all] [--n-trials N] [--seed S]

Steps: data quality gate -> read the snapshot (read-only, connection closed before
training) -> validate, including the folds -> fit the feature pipeline on the training rows
-> cross-validate every candidate on the warehouse folds -> tune the best with Optuna on the
same folds (pruning on boosting rounds) -> refit on all training rows -> evaluate on the
frozen test split, overall and per segment -> save the artifact -> log to MLflow (the run
left open) -> write the run, version, alias, metrics, CV results and trials to the warehouse
in one transaction -> close the MLflow run, write the model card, sync MLflow's registry.
Before any of it, under the writer lock, what killed commands left undone is finished
(repair_after_crashes).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml import tracking
from ml.artifacts import artifacts_root, reconcile_artifacts, resolve_artifact, save_artifact, stored_path
from ml.calibration import calibrate, conformal_half_widths, interval_rows, reliability_curve
from ml.config import TaskConfig, available_tasks, load_config, out_of_range, task_configs
from ml.cv import FoldScores, cross_validate, predict, time_predictions, within_latency
from ml.errors import AdscoreError, ConfigError, DataValidationError, WarehouseError
from ml.evaluation import best_threshold, group_labels, lower_is_better, metrics_for, segment_metrics
from ml.explain import feature_bins, permutation_importance, safe_gain
from ml.failpoints import failpoint
from ml.fairness import FairnessSpec, fairness_rows
from ml.features.cache import TextFeatureCache, activated
from ml.features.pipeline import (
    build_feature_pipeline,
    cache_keys,
    categorical_columns,
    drop_unread,
    embedding_columns,
    has_embeddings,
)
from ml.learning_curves import diagnose, learning_curve, plot_learning_curve, plot_reliability
from ml.lock import writer_lock
from ml.logs import setup_logging
from ml.model_card import write_card
from ml.models import Candidate, get_candidate, model_columns, with_categorical
from ml.registry import compare_with_champion, current_champion, quality_checks, sync_mlflow
from ml.splits import Splits, stratified_splits
from ml.tuning import PRUNERS, SEARCHES, check_study_storage, study_storage, tune
from ml.validation import data_hash, single_class_folds, validate_training_data
from ml.warehouse import (
    db_path,
    end_run,
    ended_run_status,
    interrupt_queries_on_signals,
    last_succeeded_run,
    load_text_cache,
    mark_interrupted_runs,
    process_start,
    read_training_snapshot,
    registered_metrics,
    registered_versions,
    set_run_tracking,
    start_run,
    unregistered_runs,
    write_run_results,
)

log = logging.getLogger("ml.train")
LIBRARIES = (
    "numpy",
    "pandas",
    "scikit-learn",
    "xgboost-cpu",
    "xgboost",
    "lightgbm",
    "catboost",
    "optuna",
    "mlflow",
    "duckdb",
    "skops",
    "vaderSentiment",
    "dbt-core",
    "dbt-duckdb",
)


@dataclass(frozen=True)
class Overrides:
    seed: int | None = None
    n_trials: int | None = None
    search: str | None = None
    pruner: str | None = None
    timeout: float | None = None
    n_jobs: int | None = None
    candidates: tuple[str, ...] | None = None
    study_name: str | None = None
    skip_unchanged: bool = False
    folds: str | None = None


class UnchangedError(Exception):
    """Raised by train_task with skip_unchanged when the same data and config already trained."""


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    task: str
    model_name: str
    version: int
    estimator: str
    metric: str
    cv_score: float
    test_metrics: pd.DataFrame
    artifact_path: Path
    decision: str
    reason: str
    model_card: Path


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _snapshot_summary(table: str, frame: pd.DataFrame, date_column: str | None) -> dict[str, Any]:
    summary: dict[str, Any] = {"table": table, "rows": len(frame), "date_column": date_column}
    if date_column and date_column in frame.columns and len(frame):
        summary["date_min"] = str(pd.Timestamp(frame[date_column].min()).date())
        summary["date_max"] = str(pd.Timestamp(frame[date_column].max()).date())
    return summary


def _target(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column].astype("float64")).to_numpy(dtype=float)


def train_task(
    config: TaskConfig,
    warehouse: Path,
    artifacts: Path,
    overrides: Overrides = Overrides(),
    track: bool = True,
) -> RunSummary:
    """Run one task end to end; nothing is written to ml.* unless every step succeeds."""
    started_at = _now()
    t = config.training
    seed, n_trials, search, pruner, timeout, n_jobs, folds = _options(config, overrides)
    candidates = _candidates(config, overrides.candidates)
    # What this run trains with: the file's configuration with the command line's options in
    # place.  Its hash is the run's config_hash, so --skip-unchanged (and anyone grouping runs
    # by configuration) tells a run with another --seed, --search or --candidates apart.
    effective = dataclasses.replace(
        config,
        training=dataclasses.replace(
            t,
            seed=seed,
            n_trials=n_trials,
            search=search,
            pruner=pruner,
            timeout=timeout,
            n_jobs=n_jobs,
            folds=folds,
            candidates=tuple(c.name for c in candidates),
        ),
    )
    config_hash = effective.config_hash()
    pipeline = build_feature_pipeline(config)  # resolves every component before any I/O
    spec = config.data
    ids = list(spec.id_columns)
    clip = t.prediction_range if config.problem_type == "regression" else None
    problem = config.problem_type

    step = time.perf_counter()
    snapshot = read_training_snapshot(warehouse, spec.table, spec.folds_table, ids, spec.quality_report)
    frame, splits = validate_training_data(snapshot, config, warehouse_folds=folds != "stratified")
    snapshot_hash = data_hash(frame, snapshot.folds)
    if overrides.skip_unchanged:
        previous = last_succeeded_run(warehouse, config.task, snapshot_hash, config_hash)
        if previous is not None:
            raise UnchangedError(
                f"{config.task}: skipped: training snapshot {snapshot_hash[:12]} and configuration "
                f"{config_hash[:12]} unchanged since run {previous['run_id']} "
                f"(v{previous['version']})"
            )
    train = frame.iloc[splits.train_rows].reset_index(drop=True)
    test = frame.iloc[splits.test_rows].reset_index(drop=True)
    if folds == "stratified":
        splits = _stratified(splits, frame, train, config, seed)
    log.info(
        "%s: read %s: %d train / %d test rows, %d %s folds, data hash %s (%.1fs)",
        config.task,
        spec.table,
        len(train),
        len(test),
        splits.n_folds,
        folds,
        snapshot_hash[:12],
        time.perf_counter() - step,
    )

    step = time.perf_counter()
    # Expensive text features come from ml.text_feature_cache when this text was seen before.
    text_features = TextFeatureCache(load_text_cache(warehouse, cache_keys(pipeline)))
    with activated(text_features):
        X_train = pipeline.fit_transform(train)
        X_test = pipeline.transform(test)
    y_train, y_test = _target(train, spec.target), _target(test, spec.target)
    feature_names = [str(n) for n in pipeline.get_feature_names_out()]
    for name, X in (("train", X_train), ("test", X_test)):
        infinite = np.isinf(X).any(axis=0)
        if infinite.any():
            bad = [feature_names[j] for j in np.flatnonzero(infinite)]
            raise DataValidationError(
                spec.table, [f"features of the {name} split are infinite in: {', '.join(bad)}"]
            )
    # Which columns each candidate reads: tabular models skip transformer embeddings, the
    # text model reads only them, the hybrid model reads everything.
    # CategoryCodes features: their codes become native categorical splits of the boosters,
    # the other models read their one-hot columns.
    try:
        embedding = embedding_columns(pipeline)
        codes, one_hot = categorical_columns(pipeline)
        columns = {c.name: model_columns(c, X_train.shape[1], embedding, codes, one_hot) for c in candidates}
        categorical = set(codes)
        for i, cand in enumerate(candidates):
            read = columns[cand.name] or list(range(X_train.shape[1]))
            positions = [k for k, j in enumerate(read) if j in categorical]
            candidates[i] = with_categorical(cand, positions, len(read))
    except ConfigError as exc:
        raise ConfigError(f"{config.source}: training.candidates: {exc}") from None
    by_name = {c.name: c for c in candidates}
    log.info(
        "%s: features: %d columns; text cache: %d hits, %d computed (%.1fs)",
        config.task,
        X_train.shape[1],
        text_features.hits,
        text_features.computed,
        time.perf_counter() - step,
    )

    run_id = uuid.uuid4().hex
    # From here on the run is visible as `running`; a crash leaves it for the next run to
    # mark `interrupted`, an error marks it `failed`.  Bad configuration or data stopped above
    # and wrote nothing.
    start_run(
        warehouse,
        {
            "run_id": run_id,
            "task": config.task,
            "status": "running",
            "started_at": started_at,
            "data_hash": snapshot_hash,
            "config_hash": config_hash,
            "seed": seed,
            "n_train_rows": len(train),
            "n_test_rows": len(test),
            "config_path": config.source,
            "pid": os.getpid(),
            "process_start": process_start(os.getpid()),
            "hostname": socket.gethostname(),
        },
    )
    failpoint("train:after_running_row")
    scratch = contextlib.ExitStack()  # temporary folders, removed however the run ends
    mlflow_run_id: str | None = None
    mlflow_open = False  # begun and not yet ended (FINISHED once the results are committed)
    try:
        cv_rows: list[dict[str, Any]] = []

        def record(stage: str, candidate: str, trial: int | None, scores: FoldScores) -> None:
            for fold, (value, n_tr, n_va, fit_s, predict_s) in enumerate(
                zip(
                    scores.values,
                    scores.n_train,
                    scores.n_valid,
                    scores.fit_seconds,
                    scores.predict_seconds,
                    strict=True,
                )
            ):
                cv_rows.append(
                    {
                        "run_id": run_id,
                        "stage": stage,
                        "candidate": candidate,
                        "trial_number": trial,
                        "fold": fold,
                        "metric": scores.metric,
                        "value": value,
                        "n_train_rows": n_tr,
                        "n_valid_rows": n_va,
                        "fit_seconds": fit_s,
                        "predict_seconds": predict_s,
                    }
                )

        # Selection: every candidate with its defaults on the same folds; best mean CV score wins.
        step = time.perf_counter()
        selection: dict[str, FoldScores] = {}
        for cand in candidates:
            scores = cross_validate(
                partial(cand.make, problem, cand.defaults, seed, n_jobs),
                X_train if columns[cand.name] is None else X_train[:, columns[cand.name]],
                y_train,
                splits.cv,
                t.metric,
                problem,
                clip,
            )
            selection[cand.name] = scores
            record("selection", cand.name, None, scores)
            log.info(
                "%s: selection: %s mean CV %s %.4f, predicts in %.2f ms per 1,000 rows",
                config.task,
                cand.name,
                t.metric,
                scores.mean,
                scores.predict_ms_per_1000_rows,
            )
        # Inference speed first (when a limit is set), then the best mean CV score.
        limit = t.max_predict_ms_per_1000_rows
        eligible = within_latency(selection, limit)
        if not eligible:
            timings = ", ".join(f"{k} {v.predict_ms_per_1000_rows:.2f} ms" for k, v in selection.items())
            raise ConfigError(
                f"{config.source}: training.max_predict_ms_per_1000_rows: no candidate predicts "
                f"within {limit} ms per 1,000 rows ({timings})"
            )
        for name in (n for n in selection if n not in eligible):
            log.info("%s: %s is slower than %s ms per 1,000 rows: not eligible", config.task, name, limit)
        winner = by_name[_best_mean(eligible, t.metric)]
        log.info("%s: selected %s (%.1fs)", config.task, winner.name, time.perf_counter() - step)
        keep = columns[winner.name]
        if keep is not None:  # from here on, the winner's columns only (saved in the manifest)
            X_train, X_test = X_train[:, keep], X_test[:, keep]
            feature_names = [feature_names[j] for j in keep]

        step = time.perf_counter()
        tuned = tune(
            winner,
            X_train,
            y_train,
            splits.cv,
            problem_type=problem,
            metric=t.metric,
            search=search,
            pruner=pruner,
            n_trials=n_trials,
            timeout=timeout,
            seed=seed,
            n_jobs=n_jobs,
            clip=clip,
            study_name=overrides.study_name or f"{config.task}-{run_id}",
            storage=study_storage(),
            resume=overrides.study_name is not None,
            study_attrs={
                "task": config.task,
                "features": hashlib.sha256("\n".join(feature_names).encode()).hexdigest()[:16],
            },
        )
        record("tuning", winner.name, tuned.best_trial, tuned.best_scores)
        log.info(
            "%s: tuning: %d %s trials (%s pruner, %d boosting rounds), best mean CV %s %.4f (%.1fs)",
            config.task,
            len(tuned.trials),
            search,
            pruner,
            tuned.boosting_rounds,
            t.metric,
            tuned.best_scores.mean,
            time.perf_counter() - step,
        )
        # Tuning trains each trial up to max_rounds with early stopping, and picks its rounds on
        # the booster's own loss: its best can score below the defaults that selection
        # cross-validated on the same folds (e.g. ROC AUC, when logloss stops early). Then the
        # defaults, with their CV scores and out-of-fold predictions, are what is refit.
        best_params, best_scores, params_from = tuned.best_params, tuned.best_scores, "tuning"
        defaults = selection[winner.name]
        if defaults.mean != best_scores.mean and (defaults.mean < best_scores.mean) == lower_is_better(
            t.metric
        ):
            log.info(
                "%s: tuning found nothing better than %s's defaults (mean CV %s %.4f against %.4f): "
                "the defaults are refit",
                config.task,
                winner.name,
                t.metric,
                defaults.mean,
                best_scores.mean,
            )
            best_params, best_scores, params_from = dict(winner.defaults), defaults, "defaults"

        step = time.perf_counter()
        model = winner.make(problem, best_params, seed, n_jobs)
        model.fit(X_train, y_train)
        pred_test = predict(model, X_test, problem, clip)
        if not np.isfinite(pred_test).all():
            raise AdscoreError("the refit model produced non-finite predictions on the test split")
        # The shipped model's inference speed (wall time: kept out of ml.metrics, which a rerun
        # with the same data and seed reproduces exactly).
        predict_ms = time_predictions(model, X_test, problem, clip)
        oof = best_scores.oof
        seen = ~np.isnan(oof)
        threshold = None
        calibrator = None
        half_widths = None
        figures = Path(scratch.enter_context(tempfile.TemporaryDirectory(prefix=f"adscore-{run_id}-")))
        if problem == "classification":
            # Calibration is chosen on out-of-fold predictions, and so is the decision
            # threshold (on calibrated ones): never on the test split.
            raw_test = pred_test
            calibrator, calibration = calibrate(oof, y_train, splits.cv, raw_test, y_test)
            pred_test = calibrator.apply(raw_test)
            threshold = best_threshold(y_train[seen], calibrator.apply(oof[seen]))
            plot_reliability(
                {
                    "before": reliability_curve(y_test, raw_test),
                    f"after ({calibrator.method})": reliability_curve(y_test, pred_test),
                },
                f"{config.task}: reliability on the test split",
                figures / "reliability.png",
            )
        else:
            half_widths = conformal_half_widths(oof, y_train)
            calibration = interval_rows(half_widths, pred_test, y_test, clip)
        segments = {c: group_labels(test[c]) for c in spec.segment_columns}
        metrics = segment_metrics(problem, y_test, pred_test, segments, split="test", threshold=threshold)
        cv_summary = pd.DataFrame(
            [
                {
                    "split": "cv",
                    "segment": "overall",
                    "metric": f"{t.metric}_mean",
                    "value": best_scores.mean,
                    "n_rows": int(sum(best_scores.n_valid)),  # the rows the folds validated
                },
                {
                    "split": "cv",
                    "segment": "overall",
                    "metric": f"{t.metric}_std",
                    "value": float(np.std(best_scores.values)),
                    "n_rows": int(sum(best_scores.n_valid)),
                },
            ]
        )
        metrics = pd.concat([cv_summary, metrics], ignore_index=True).assign(run_id=run_id)
        headline = metrics.query(
            "split == 'test' and segment == 'overall' and metric == @t.metric"
        ).value.iloc[0]
        fz = config.fairness
        fairness = fairness_rows(
            problem,
            y_test,
            pred_test,
            {f: group_labels(test[f]) for f in fz.features},
            FairnessSpec(
                fz.features,
                fz.max_parity_difference,
                fz.max_opportunity_difference,
                fz.max_error_gap,
                fz.min_group_size,
            ),
            threshold,
        ).assign(run_id=run_id)
        curve, curve_folds = learning_curve(
            partial(winner.make, problem, best_params, seed, n_jobs),
            X_train,
            y_train,
            splits.cv,
            t.metric,
            problem,
            clip,
            seed,
        )
        curve = curve.assign(run_id=run_id, candidate=winner.name)
        reading = diagnose(curve_folds, t.metric)
        log.info("%s: learning curve: %s", config.task, reading.sentence())
        plot_learning_curve(
            curve, f"{config.task} ({winner.name}): learning curve", figures / "learning_curve.png"
        )
        log.info(
            "%s: refit on %d rows; test %s %.4f; calibration, fairness and learning curve (%.1fs)",
            config.task,
            len(train),
            t.metric,
            headline,
            time.perf_counter() - step,
        )

        # Explanations: the booster's gain and the holdout loss increase when a column is shuffled.
        importance = pd.concat(
            [
                safe_gain(winner, model, feature_names),
                permutation_importance(
                    lambda X: predict(model, X, problem, clip), X_test, y_test, t.metric, feature_names, seed
                ),
            ],
            ignore_index=True,
        ).assign(run_id=run_id)

        # The promotion gate: this version against the current champion on the same holdout.
        model_name = config.task
        checks = quality_checks(
            problem, fairness, calibration, config.promotion, predict_ms, t.max_predict_ms_per_1000_rows
        )
        decision = compare_with_champion(
            config, current_champion(warehouse, model_name), test, y_test, pred_test, checks, seed, artifacts
        )
        log.info("%s: promotion gate: %s", config.task, decision.reason)

        versions = library_versions()
        sha = git_sha()
        manifest_meta = {
            "model_name": model_name,
            "problem_type": problem,
            "target": spec.target,
            "feature_names": feature_names,
            # The saved pipeline computes only the entries the model reads.
            "model_columns": drop_unread(pipeline, keep),
            "input_columns": config.input_columns(),
            "params": best_params,
            "params_from": params_from,
            "seed": seed,
            "data_hash": snapshot_hash,
            "config_hash": config_hash,
            "config": effective.as_dict(),
            "prediction_range": list(clip) if clip else None,
            "decision_threshold": threshold,
            "calibrator": calibrator.as_dict() if calibrator else None,
            "interval_half_widths": half_widths,
            "feature_bins": feature_bins(X_train, feature_names),
            "snapshot": _snapshot_summary(spec.table, frame, spec.date_column),
            "library_versions": versions,
            "git_sha": sha,
            "created_at": _now().isoformat(),
        }
        artifact = save_artifact(
            artifacts,
            config.task,
            run_id,
            winner.name,
            pipeline,
            model,
            manifest_meta,
            figures=sorted(figures.glob("*.png")),
            example=frame[config.input_columns()].head(5),
        )
        failpoint("train:after_artifact")

        if track:
            tags = {
                "adscore.run_id": run_id,
                "adscore.task": config.task,
                "adscore.data_hash": snapshot_hash,
                "adscore.git_sha": sha or "",
                "adscore.learning_curve_verdict": reading.verdict,
            }
            # The MLflow run stays open until the warehouse commit below: killed before it, the
            # run reads RUNNING until the next training ends it KILLED (end_runs_out_of_step);
            # its id is on the `running` row at once, so a killed run still names it.
            mlflow_run_id = tracking.begin_run(f"adscore-{config.task}", run_id, tags)
            mlflow_open = True
            set_run_tracking(warehouse, run_id, mlflow_run_id)
            flat = {
                f"{r.split}_{r.metric}"
                + ("" if r.segment == "overall" else "_" + r.segment.replace("=", "_")): r.value
                for r in metrics.itertuples()
            }
            flat["predict_ms_per_1000_rows"] = predict_ms
            if np.isfinite(reading.valid_gain_last_doubling):
                flat["learning_curve_valid_gain"] = reading.valid_gain_last_doubling
            params = {
                "estimator": winner.name,
                "seed": seed,
                "search": search,
                "pruner": pruner,
                "n_trials": n_trials,
                "config_hash": config_hash,
                **{f"param_{k}": v for k, v in best_params.items()},
            }
            tracking.log_run(params, flat, artifact.manifest_path.parent)
            tracking.log_datasets(
                warehouse, spec.table, snapshot_hash, spec.target, {"train": train, "test": test}
            )

        finished_at = _now()
        run_row = {
            "run_id": run_id,
            "task": config.task,
            "status": "succeeded",
            "started_at": started_at,
            "finished_at": finished_at,
            "data_hash": snapshot_hash,
            "config_hash": config_hash,
            "seed": seed,
            "estimator": winner.name,
            "n_train_rows": len(train),
            "n_test_rows": len(test),
            "library_versions": json.dumps(versions, sort_keys=True),
            "git_sha": sha,
            "mlflow_run_id": mlflow_run_id,
            "config_path": config.source,
            "pid": os.getpid(),
            "process_start": process_start(os.getpid()),
            "hostname": socket.gethostname(),
            "text_cache_hits": text_features.hits,
            "text_cache_computed": text_features.computed,
            "predict_ms_per_1000_rows": predict_ms,
            "learning_curve_verdict": reading.verdict,
            "learning_curve_valid_gain": reading.valid_gain_last_doubling,
        }
        version, promotion = write_run_results(
            warehouse,
            run_row,
            {
                "metrics": metrics,
                "cv_results": pd.DataFrame(cv_rows),
                "hpo_trials": tuned.trials.assign(run_id=run_id),
                "learning_curves": curve,
                "calibration": calibration.assign(run_id=run_id),
                "fairness": fairness,
                "feature_importance": importance,
                "text_feature_cache": text_features.new_entries(),
            },
            model_name,
            {
                "run_id": run_id,
                "estimator": winner.name,
                "artifact_path": stored_path(artifact.manifest_path, artifacts),
                "artifact_sha256": artifact.sha256,
                "folder_sha256": artifact.folder_sha256,
                "created_at": finished_at,
            },
            decision.row(snapshot_hash, "ml.train", finished_at),
            decision.promote,
        )
        log.info(
            "%s: registered %s version %d (%s), %s: %s; artifact %s",
            config.task,
            model_name,
            version,
            winner.name,
            promotion["decision"],
            promotion["reason"],
            artifact.manifest_path,
        )
        # The version is registered: what follows must not turn the command into a failure
        # (the next training writes a missing card, ends an MLflow run left open FINISHED and
        # re-syncs MLflow: repair_after_crashes).
        if mlflow_run_id:
            mlflow_open = False
            try:
                failpoint("train:mlflow_end")
                tracking.end_run(mlflow_run_id, "FINISHED")
            except Exception as exc:
                log.warning("%s: MLflow run %s not ended (%s)", config.task, mlflow_run_id, exc)
        failpoint("train:after_commit")
        card = artifact.manifest_path.parent / "model_card.md"
        try:
            card = write_card(warehouse, model_name, version, artifacts)
            if track and mlflow_run_id:
                tracking.log_file(mlflow_run_id, card, "model")
        except Exception as exc:
            log.warning("%s v%d: model card or its MLflow copy not written (%s)", model_name, version, exc)
        if track and mlflow_run_id:
            sync_mlflow(warehouse, model_name)
        return RunSummary(
            run_id,
            config.task,
            model_name,
            version,
            winner.name,
            t.metric,
            best_scores.mean,
            metrics[metrics.split == "test"],
            artifact.manifest_path,
            str(promotion["decision"]),
            str(promotion["reason"]),
            card,
        )
    except BaseException as exc:
        stopped = isinstance(exc, KeyboardInterrupt | SystemExit) or bool(_terminating)
        status = "interrupted" if stopped else "failed"
        # MLflow first: if the process ends with its run still active, MLflow's exit hook
        # closes it FINISHED, whatever happened here.
        if mlflow_run_id and mlflow_open:
            with contextlib.suppress(Exception):  # the warehouse row is the record that matters
                tracking.end_run(mlflow_run_id, tracking.MLFLOW_END[status])
        try:
            end_run(warehouse, run_id, status, f"{type(exc).__name__}: {exc}")
        except Exception as recording:  # keep the original error; the next run marks it
            log.error(
                "%s: run %s %s (%s: %s), and recording that in the warehouse failed too: %s",
                config.task,
                run_id,
                status,
                type(exc).__name__,
                exc,
                recording,
            )
        raise
    finally:
        scratch.close()


def repair_after_crashes(warehouse: Path, artifacts: Path, track: bool) -> None:
    """Under the writer lock, before training: finish what killed commands left undone.

    Runs whose process is gone are marked interrupted and their artifact folders tidied; a
    version committed by a training killed before its model card was written gets its card;
    with tracking, MLflow runs whose status disagrees with their ended warehouse run (left
    RUNNING by a killed training, or closed FINISHED by MLflow's exit hook) are set to it
    (KILLED, FAILED, or FINISHED for one that committed), and every model's MLflow registry
    mirror is synced
    (a training or `ml.registry promote` killed after its commit left the aliases behind)."""
    for run_id in mark_interrupted_runs(warehouse):
        log.warning("run %s was left running by a process that is gone: marked interrupted", run_id)
    for action in reconcile_artifacts(artifacts, unregistered_runs(warehouse)):
        log.warning("%s", action)
    versions = registered_versions(warehouse)
    for row in versions.itertuples():
        folder = resolve_artifact(row.artifact_path, artifacts).parent
        for leftover in folder.glob(".model_card.*.md"):  # a card write killed half-way
            leftover.unlink(missing_ok=True)
        if (folder / "manifest.json").is_file() and not (folder / "model_card.md").is_file():
            card = write_card(warehouse, row.model_name, int(row.version), artifacts)
            log.warning(
                "%s v%d had no model card (killed after its commit): wrote %s",
                row.model_name,
                row.version,
                card,
            )
            if track and row.mlflow_run_id:
                with contextlib.suppress(Exception):
                    tracking.log_file(row.mlflow_run_id, card, "model")
    if not track:
        return
    try:
        for mlflow_run in tracking.end_runs_out_of_step(ended_run_status(warehouse)):
            log.warning("MLflow run %s disagreed with its ended training's status: set to it", mlflow_run)
    except Exception as exc:  # the mirror must never stop a training
        log.warning("could not end MLflow runs out of step with the warehouse (%s)", exc)
    for model_name in sorted(set(versions.model_name)):
        sync_mlflow(warehouse, model_name)


def _stratified(
    splits: Splits, frame: pd.DataFrame, train: pd.DataFrame, config: TaskConfig, seed: int
) -> Splits:
    """The training rows re-dealt into stratified folds (grouped by the first id column),
    checked like the warehouse's folds: a fold whose training or validation rows hold one
    class has an undefined ROC AUC (NaN), which would make every candidate's mean CV score
    NaN (selection would then keep whichever came first, and tuning fail every trial)."""
    spec = config.data
    groups = train[spec.id_columns[0]].astype(str).to_numpy()
    stratified = stratified_splits(splits, _target(train, spec.target), groups, seed)
    problems = single_class_folds(frame[spec.target], stratified, "--folds stratified", spec.target)
    if problems:
        raise DataValidationError(spec.table, problems)
    return stratified


def _best_mean(scores: dict[str, FoldScores], metric: str) -> str:
    """The candidate with the best mean CV score; a NaN mean (a fold score undefined) is an
    error, not a candidate that wins or loses by the order of the comparisons."""
    undefined = [name for name, s in scores.items() if np.isnan(s.mean)]
    if undefined:
        raise AdscoreError(
            f"mean CV {metric} is undefined (NaN) for {', '.join(undefined)}: a fold's score is NaN "
            "(e.g. a validation fold holding one class)"
        )
    pick = min if lower_is_better(metric) else max
    return pick(scores, key=lambda k: scores[k].mean)


def _candidates(config: TaskConfig, override: tuple[str, ...] | None) -> list[Candidate]:
    """The candidates to cross-validate; an unknown name names the file (or the option)."""
    where = "--candidates" if override else config.source
    try:
        candidates = [get_candidate(name) for name in (override or config.training.candidates)]
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    where = "--candidates" if override else f"{config.source}: training.candidates"
    embeds = has_embeddings(config)
    for cand in candidates:
        if cand.inputs == "text" and not embeds:
            raise ConfigError(
                f"{where}: model {cand.name} reads text embeddings but {config.source} has no "
                "TextEmbeddingTransformer feature (see ml/conf/variants/ad_score_hybrid.yml)"
            )
        if cand.inputs == "tabular" and all(
            spec.transformer == "TextEmbeddingTransformer" for spec in config.features
        ):
            raise ConfigError(
                f"{where}: model {cand.name} reads tabular columns but every feature of "
                f"{config.source} is a TextEmbeddingTransformer: use text_mlp or hybrid"
            )
    if embeds and all(c.inputs == "tabular" for c in candidates):
        message = (
            f"{where}: no candidate reads the TextEmbeddingTransformer feature of {config.source} "
            "(tabular models skip embeddings): add hybrid or text_mlp"
        )
        if not override:
            raise ConfigError(message)
        log.warning("%s", message)
    return candidates


def _options(config: TaskConfig, overrides: Overrides) -> tuple[int, int, str, str, float | None, int, str]:
    """The run's seed, trials, search, pruner, timeout, n_jobs and folds: the configuration's,
    with the command line's options in place, each checked against this task."""
    t = config.training
    seed = t.seed if overrides.seed is None else overrides.seed
    n_trials = t.n_trials if overrides.n_trials is None else overrides.n_trials
    search = overrides.search or t.search
    pruner = overrides.pruner or t.pruner
    timeout = overrides.timeout if overrides.timeout is not None else t.timeout
    n_jobs = t.n_jobs if overrides.n_jobs is None else overrides.n_jobs
    folds = overrides.folds or t.folds
    if n_trials < 1:
        raise ConfigError(f"--n-trials must be >= 1, got {n_trials}")
    for flag, number in (("seed", seed), ("n_jobs", n_jobs), ("timeout", timeout)):
        problem = out_of_range(flag, number)
        if problem:
            raise ConfigError(f"--{flag.replace('_', '-')}: {problem}")
    for name, value, allowed in (("search", search, SEARCHES), ("pruner", pruner, PRUNERS)):
        if value not in allowed:
            raise ConfigError(
                f"{config.source}: training.{name}: unknown {name} {value!r} (allowed: {', '.join(allowed)})"
            )
    if t.metric not in metrics_for(config.problem_type):
        raise ConfigError(
            f"{config.source}: training.metric: {t.metric!r} is not a {config.problem_type} "
            f"metric (allowed: {', '.join(metrics_for(config.problem_type))})"
        )
    if folds == "stratified" and config.problem_type != "classification":
        raise ConfigError(f"--folds stratified: {config.task} is not a classification task")
    return seed, n_trials, search, pruner, timeout, n_jobs, folds


def preflight(config: TaskConfig, warehouse: Path, overrides: Overrides | None = None) -> None:
    """Validate a task's configuration, options and data without training (raises like
    train_task), so that with several tasks a bad option or table stops the command before
    the first task commits."""
    from ml.score import OUTPUTS

    overrides = overrides or Overrides()
    options = _options(config, overrides)
    seed, folds = options[0], options[-1]
    build_feature_pipeline(config)
    _candidates(config, overrides.candidates)
    # A model name holds one kind of model: a regressor registered among classifiers (or the
    # reverse) would be compared with a champion it cannot be compared with.
    other = "classification" if config.problem_type == "regression" else "regression"
    if registered_metrics(warehouse, config.task) & set(metrics_for(other)) - set(
        metrics_for(config.problem_type)
    ):
        raise ConfigError(
            f"{config.source}: problem_type: model {config.task} has {other} versions registered; "
            f"a {config.problem_type} model cannot join them: give this configuration another task name"
        )
    if config.scoring is not None and config.scoring.output not in OUTPUTS:
        raise ConfigError(
            f"{config.source}: scoring.output: unknown output {config.scoring.output!r} "
            f"(allowed: {', '.join(OUTPUTS)})"
        )
    spec = config.data
    try:
        snapshot = read_training_snapshot(
            warehouse, spec.table, spec.folds_table, list(spec.id_columns), spec.quality_report
        )
    except WarehouseError as exc:
        raise WarehouseError(f"{config.source}: {exc}") from None
    frame, splits = validate_training_data(snapshot, config, warehouse_folds=folds != "stratified")
    if folds == "stratified":  # the folds training will use, checked as it will check them
        _stratified(splits, frame, frame.iloc[splits.train_rows].reset_index(drop=True), config, seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.train", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--task", default="all", help=f"task to train: {', '.join(available_tasks())} or all (default)"
    )
    parser.add_argument("--config", type=Path, help="task configuration file (one task only)")
    parser.add_argument("--duckdb", type=Path, help="warehouse file (default $DUCKDB_PATH)")
    parser.add_argument(
        "--artifacts", type=Path, help="artifact folder (default $ADSCORE_ARTIFACTS_DIR or ./artifacts)"
    )
    parser.add_argument("--seed", type=int)
    parser.add_argument("--n-trials", type=int)
    parser.add_argument(
        "--timeout",
        type=float,
        help="seconds of tuning per task: the trials run, and so the result, then depend on the "
        "machine's speed (use --n-trials for reproducible runs)",
    )
    parser.add_argument("--search", choices=SEARCHES)
    parser.add_argument("--pruner", choices=PRUNERS)
    parser.add_argument("--candidates", help="comma-separated model names (default: the config's)")
    parser.add_argument("--study-name", help="Optuna study to create or resume (one task only)")
    parser.add_argument("--n-jobs", type=int)
    parser.add_argument(
        "--folds",
        choices=("warehouse", "stratified"),
        help="CV folds: the warehouse's (default) or its training rows re-dealt stratified on the label",
    )
    parser.add_argument("--no-mlflow", action="store_true", help="skip MLflow tracking")
    parser.add_argument(
        "--skip-unchanged",
        action="store_true",
        help="skip a task whose training snapshot hash and configuration hash match its latest run",
    )
    parser.add_argument("--lock-timeout", type=float, help="seconds to wait for the warehouse lock")
    args = parser.parse_args(argv)
    _terminating.clear()
    # SIGTERM (a scheduler stopping the job) unwinds like Ctrl-C: the run is marked
    # interrupted and its MLflow run KILLED, instead of both reading `running` for good.
    with contextlib.suppress(ValueError):  # (only the main thread can set a handler)
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        interrupt_queries_on_signals()  # else a signal in a long DuckDB query is mostly missed
    setup_logging()

    try:
        configs = [load_config(args.config)] if args.config is not None else task_configs(args.task)
        if args.config is not None and args.task not in ("all", configs[0].task):
            raise ConfigError(
                f"--task {args.task!r} and --config {args.config} (task {configs[0].task!r}) disagree"
            )
        if args.study_name is not None and len(configs) > 1:
            raise ConfigError(
                "--study-name: one study belongs to one task: add --task "
                f"({', '.join(c.task for c in configs)})"
            )
        candidates = None
        if args.candidates is not None:
            candidates = tuple(c.strip() for c in args.candidates.split(","))
            if not all(candidates) or len(set(candidates)) != len(candidates):
                raise ConfigError(
                    f"--candidates: expected distinct comma-separated names, got {args.candidates!r}"
                )
        overrides = Overrides(
            args.seed,
            args.n_trials,
            args.search,
            args.pruner,
            args.timeout,
            args.n_jobs,
            candidates,
            args.study_name,
            args.skip_unchanged,
            args.folds,
        )
        warehouse, artifacts = db_path(args.duckdb), artifacts_root(args.artifacts)
        with writer_lock(
            warehouse, "ml.train " + " ".join(argv if argv is not None else sys.argv[1:]), args.lock_timeout
        ):
            return _train_all(configs, warehouse, artifacts, overrides, not args.no_mlflow)
    except Exception as exc:
        if _terminating:  # the signal's unwinding surfaced as another error (see _terminating)
            print(f"ml.train: stopped by SIGTERM ({type(exc).__name__}: {exc})", file=sys.stderr)
            return 128 + _terminating[0]
        if isinstance(exc, AdscoreError):
            print(f"ml.train: error: {exc}", file=sys.stderr)
            return exc.exit_code
        if isinstance(exc, OSError):  # a full disk, a read-only store: the message names the path
            print(f"ml.train: error: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        raise


# Set by the SIGTERM handler: the signal that is stopping this process.  The SystemExit the
# handler raises can reach the code as another exception (DuckDB turns it into "RuntimeError:
# Query interrupted" when it lands during a query), so the run is classified by this flag.
_terminating: list[int] = []


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    _terminating.append(signum)
    raise SystemExit(128 + signum)


def _train_all(
    configs: list[TaskConfig], warehouse: Path, artifacts: Path, overrides: Overrides, track: bool
) -> int:
    """Under the writer lock: tidy after crashed runs, check every task, then train each."""
    try:  # where the versions go must be a writable folder, found before the training
        artifacts.mkdir(parents=True, exist_ok=True)
        if not os.access(artifacts, os.W_OK):
            raise PermissionError(f"not writable: {artifacts}")
    except OSError as exc:
        raise ConfigError(
            f"--artifacts / $ADSCORE_ARTIFACTS_DIR {artifacts}: not a writable folder ({exc})"
        ) from None
    repair_after_crashes(warehouse, artifacts, track)
    # Every task's configuration and data, and the study storage, are checked before any is
    # trained, so that a bad table stops the whole command before anything is written (every
    # task's options first: a bad option is named before any table's problems).
    for config in configs:
        _options(config, overrides)
    for config in configs:
        preflight(config, warehouse, overrides)
    check_study_storage()
    for config in configs:
        try:
            summary = train_task(config, warehouse, artifacts, overrides, track=track)
        except UnchangedError as skipped:
            print(f"ml.train: {skipped}")
            continue
        overall = summary.test_metrics.query("segment == 'overall'").set_index("metric").value
        shown = ", ".join(f"{m} {overall[m]:.3f}" for m in metrics_for(config.problem_type) if m in overall)
        print(
            f"ml.train: {summary.task}: {summary.model_name} v{summary.version} ({summary.estimator}), "
            f"CV {summary.metric} {summary.cv_score:.3f}, test {shown}; {summary.decision}; "
            f"model card {summary.model_card}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
