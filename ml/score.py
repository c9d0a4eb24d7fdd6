"""Batch scoring: the champion (or a chosen version) scores every row of the scoring table.

    python -m ml.score [--task ad_score|account_health|all] [--version N | --alias A]
                       [--all-rows] [--explain]

Steps: resolve the version in the registry -> load its artifact after verifying every
checksum (a tampered or missing file stops here, before anything is written) -> read the
scoring table's rows that this version has not scored from their current inputs (new rows,
and rows whose inputs changed since: each score keeps the ``input_hash`` of its inputs;
``--all-rows``: every row) -> features -> predict -> write the scores, replacing earlier ones
of the same row and version,
the drift of every feature against the training snapshot (PSI) and, with ``--explain``,
each row's top contributions, with the scoring run; every task is computed first and all
are written in one transaction.  Scores are keyed by row id, model and version, so a re-run
on the same data and version adds nothing.  A row's explanations are kept while its inputs
are unchanged; ``--explain`` also explains the rows this version scored without.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from ml.artifacts import SERVED_INTERVAL_LEVEL
from ml.config import TaskConfig, available_tasks, task_configs
from ml.errors import AdscoreError, ConfigError, WarehouseError
from ml.explain import drift_rows, top_contributions
from ml.features.cache import TextFeatureCache, activated
from ml.features.pipeline import cache_keys
from ml.lock import writer_lock
from ml.logs import setup_logging
from ml.models import available_cpus, get_candidate, set_inference_threads
from ml.registry import load_version, resolve_version
from ml.warehouse import (
    ML_TABLES,
    ScoreBatch,
    connect,
    db_path,
    load_text_cache,
    quote_identifier,
    require_finished_build,
    table_columns,
    table_exists,
    write_scores,
)

log = logging.getLogger("ml.score")
INTERVAL_LEVEL = SERVED_INTERVAL_LEVEL
DRIFT_SAMPLE = 200_000
# Output table -> its id columns and explanation table (both declared in ML_TABLES).
OUTPUTS = {
    "ad_scores": (("ad_id",), "ad_score_explanations"),
    "account_health_scores": (("account_id", "week_start"), "account_health_explanations"),
}


@dataclass(frozen=True)
class ScoringSummary:
    scoring_id: str
    task: str
    model_name: str
    version: int
    n_read: int
    n_scored: int
    n_drifted: int | None  # None: drift not judged (too few rows)
    output: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _read_rows(
    path: Path,
    table: str,
    ids: tuple[str, ...],
    columns: list[str],
    output: str,
    model_name: str,
    version: int,
    all_rows: bool,
    explanations: str | None = None,
) -> pd.DataFrame:
    """The scoring table's rows (ids, model inputs and their ``input_hash``), minus those
    this version scored from the same inputs (a row whose inputs changed since, e.g. a
    restated week or an edited creative, is read again); with ``explanations``, also the
    rows this version scored but has not explained.  ``_needs_score`` tells the rows to score
    (new or changed, or every row with ``all_rows``) from those read only to be explained."""
    q_table = quote_identifier(table)
    with connect(path, read_only=True) as con:
        require_finished_build(con, path)
        if not table_exists(con, table):
            raise WarehouseError(f"scoring table {table} not found in {path}: run `dbt build` first")
        present = set(table_columns(con, table))
        missing = [c for c in (*ids, *columns) if c not in present]
        if missing:
            raise WarehouseError(
                f"scoring table {table} lacks column(s) the model needs: {', '.join(missing)}"
            )
        keys = ", ".join(quote_identifier(c) for c in ids)
        shared = con.execute(
            f"select {keys}, count(*) over () from {q_table} group by all having count(*) > 1 limit 3"
        ).fetchall()
        if shared:
            example = [dict(zip(ids, r[: len(ids)], strict=True)) for r in shared]
            raise WarehouseError(
                f"scoring table {table}: {shared[0][-1]} key(s) ({', '.join(ids)}) have more than one "
                f"row, e.g. {example}: did its dbt tests fail? nothing scored"
            )
        read = list(dict.fromkeys((*ids, *columns)))
        select = ", ".join(f"t.{quote_identifier(c)}" for c in read)
        # What a score was computed from: DuckDB's 64-bit hash of the input columns, combined
        # per column (('a', 'bc') and ('ab', 'c') differ; NULL is not ''). An md5 of the row
        # as JSON doubled the read of 1M rows (6.4 -> 13.8 s); this adds ~1 s. A new DuckDB
        # release that hashed differently would have every row rescored once.
        inputs = ", ".join(f"t.{quote_identifier(c)}" for c in read)
        sql = f"select {select}, cast(hash({inputs}) as varchar) as input_hash from {q_table} as t"
        params: list = []
        if not all_rows and table_exists(con, f"ml.{output}"):
            # Scores written before input_hash existed (the column arrives with the next write)
            # have no record of their inputs: every row is read again once.
            hashed = "input_hash" in table_columns(con, f"ml.{output}")
            same_inputs = "s.input_hash = t.input_hash" if hashed else "false"

            def match(alias: str) -> str:
                return " and ".join(f"{alias}.{quote_identifier(c)} = t.{quote_identifier(c)}" for c in ids)

            needs_score = (
                f"not exists (select 1 from ml.{quote_identifier(output)} as s where {match('s')} "
                f"and s.model_name = ? and s.model_version = ? and {same_inputs})"
            )
            where, params = needs_score, [model_name, version, model_name, version]
            if explanations is not None and table_exists(con, f"ml.{explanations}"):
                where += (
                    f" or not exists (select 1 from ml.{quote_identifier(explanations)} as e "
                    f"where {match('e')} and e.model_name = ? and e.model_version = ?)"
                )
                params += [model_name, version]
            sql = f"select t.*, {needs_score} as _needs_score from ({sql}) as t where {where}"
            return con.execute(sql, params).df()  # order is irrelevant: rows are keyed by id
        return con.execute(sql, params).df().assign(_needs_score=True)


def _summaries(warehouse: Path, batches: list[ScoreBatch]) -> list[ScoringSummary]:
    """Write the batches in one transaction; one summary per batch."""
    step = time.perf_counter()
    written = write_scores(warehouse, batches)
    out = []
    for batch, n in zip(batches, written, strict=True):
        run = batch.run
        log.info("%s: wrote %d scores to ml.%s", run["task"], n, run["output"])
        out.append(
            ScoringSummary(
                run["scoring_id"],
                run["task"],
                run["model_name"],
                run["model_version"],
                run["n_rows_read"],
                n,
                run["n_features_drifted"],
                run["output"],
            )
        )
    log.info("wrote %d scoring run(s) in one transaction (%.1fs)", len(batches), time.perf_counter() - step)
    return out


def prepare_task(
    config: TaskConfig,
    warehouse: Path,
    version: int | None = None,
    alias: str | None = None,
    all_rows: bool = False,
    explain: bool = False,
    artifacts: Path | None = None,
    n_threads: int | None = None,
) -> ScoreBatch:
    """One task's scores, drift, explanations and scoring-run row, computed without writing."""
    if config.scoring is None:
        raise ConfigError(f"{config.source}: scoring: section missing (table and output)")
    sc = config.scoring
    if sc.output not in OUTPUTS:
        raise ConfigError(
            f"{config.source}: scoring.output: unknown output {sc.output!r} (allowed: {', '.join(OUTPUTS)})"
        )
    ids, explanation_table = OUTPUTS[sc.output]
    started = _now()
    step = time.perf_counter()
    row = resolve_version(warehouse, config.task, version, alias)
    model = load_version(row, artifacts)  # every checksum verified before any row is read or written
    set_inference_threads(model.model, n_threads if n_threads and n_threads > 0 else available_cpus())
    model_version = int(row.version)
    manifest = model.manifest
    candidate = get_candidate(manifest["estimator"])
    if explain and candidate.contributions is None:
        explain = False
        log.warning(
            "%s: v%d (%s) has no per-row contributions: --explain writes no explanations",
            config.task,
            model_version,
            manifest["estimator"],
        )
    frame = _read_rows(
        warehouse,
        sc.table,
        ids,
        list(manifest["input_columns"]),
        sc.output,
        config.task,
        model_version,
        all_rows,
        explanation_table if explain else None,
    )
    log.info(
        "%s: v%d: %d rows to score from %s (%.1fs)",
        config.task,
        model_version,
        len(frame),
        sc.table,
        time.perf_counter() - step,
    )
    scoring_id = uuid.uuid4().hex
    scored_at = _now()
    tables: dict[str, pd.DataFrame] = {}
    n_drifted: int | None = None  # not judged unless rows are scored against the bins
    if len(frame):
        step = time.perf_counter()
        input_hash = frame.pop("input_hash").to_numpy()
        # Rows read only to be explained keep their score (same inputs, same model) and are
        # not new to the drift measure, which covers new and changed rows only.
        fresh = frame.pop("_needs_score").astype(bool).to_numpy()
        text_features = TextFeatureCache(load_text_cache(warehouse, cache_keys(model.pipeline)))
        with activated(text_features):
            X = model.features(frame)
        tables["text_feature_cache"] = text_features.new_entries()
        infinite = np.isinf(X)
        if infinite.any():  # NaN is a missing value the models handle; an infinity is not
            r, c = np.argwhere(infinite)[0]
            raise WarehouseError(
                f"scoring table {sc.table}: feature {manifest['feature_names'][c]} is infinite for "
                f"{frame.loc[r, list(ids)].to_dict()} ({int(infinite.any(axis=1).sum())} row(s)); "
                "nothing scored"
            )
        raw = model.predict_features(X)
        if not np.isfinite(raw).all():
            bad = frame.loc[~np.isfinite(raw), list(ids)].head(5).to_dict("records")
            raise AdscoreError(f"non-finite predictions for rows {bad}; nothing written")
        keys = frame[list(ids)].reset_index(drop=True)
        stamp = {"model_name": config.task, "model_version": model_version, "scoring_id": scoring_id}
        if manifest["problem_type"] == "regression":
            low, high = model.interval(raw, INTERVAL_LEVEL)
            scores = keys.assign(
                score=raw,
                score_lower=low,
                score_upper=high,
                interval_level=float(INTERVAL_LEVEL),
                scored_at=scored_at,
                input_hash=input_hash,
                **stamp,
            )
        else:
            p = model.calibrated(raw)
            threshold = float(manifest["decision_threshold"])
            scores = keys.assign(
                probability=p,
                is_at_risk=p >= threshold,
                threshold=threshold,
                scored_at=scored_at,
                input_hash=input_hash,
                **stamp,
            )
        tables[sc.output] = scores[fresh].reset_index(drop=True)
        # PSI on at most DRIFT_SAMPLE rows (a fixed-seed sample): bin shares of 200,000 rows are
        # within about 0.001 of the full population's, far below any drift threshold.
        sample = X[fresh]
        if len(sample) > DRIFT_SAMPLE:
            sample = sample[
                np.sort(np.random.default_rng(0).choice(len(sample), DRIFT_SAMPLE, replace=False))
            ]
        drift = (
            drift_rows(
                manifest.get("feature_bins", {}),
                sample,
                manifest["feature_names"],
                sc.drift_threshold,
                sc.drift_min_rows,
            )
            if len(sample)
            else pd.DataFrame()
        )
        if len(drift) and drift.is_drifted.isna().all():
            log.info(
                "%s: drift not judged: %d rows scored against bins of the training rows, fewer "
                "effective rows than scoring.drift_min_rows (%d); PSI recorded in ml.drift with "
                "is_drifted null",
                config.task,
                len(sample),
                sc.drift_min_rows,
            )
        if len(drift):
            n_drifted = None if drift.is_drifted.isna().all() else int(drift.is_drifted.fillna(False).sum())
            tables["drift"] = drift.assign(
                scoring_id=scoring_id,
                model_name=config.task,
                model_version=model_version,
                measured_at=scored_at,
            )
        if explain and candidate.contributions is not None:
            rows, names, values = top_contributions(
                candidate.contributions(model.model, X), manifest["feature_names"], sc.explain_top_k
            )
            k = len(rows) // len(frame)
            tables[explanation_table] = (
                keys.iloc[rows]
                .reset_index(drop=True)
                .assign(
                    rank=np.tile(np.arange(1, k + 1), len(frame)), feature=names, contribution=values, **stamp
                )
            )
        log.info("%s: features and predictions (%.1fs)", config.task, time.perf_counter() - step)
    run = {
        "scoring_id": scoring_id,
        "task": config.task,
        "model_name": config.task,
        "model_version": model_version,
        "source_table": sc.table,
        "started_at": started,
        "finished_at": _now(),
        "n_rows_read": len(frame),
        "n_features_drifted": n_drifted,
        "mode": "all_rows" if all_rows else "new_rows",
        "output": sc.output,
    }
    assert set(tables) <= set(ML_TABLES)
    return ScoreBatch(run, tables, ids=ids, explanations=explanation_table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.score", description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="all", help=f"{', '.join(available_tasks())} or all (default)")
    parser.add_argument("--duckdb", type=Path, help="warehouse file (default $DUCKDB_PATH)")
    parser.add_argument(
        "--artifacts", type=Path, help="artifacts root (default $ADSCORE_ARTIFACTS_DIR or ./artifacts)"
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--version", type=int, help="score with this version")
    which.add_argument("--alias", choices=("champion", "challenger"), help="default: champion")
    parser.add_argument("--all-rows", action="store_true", help="rescore rows this version already scored")
    parser.add_argument("--explain", action="store_true", help="write each row's top feature contributions")
    parser.add_argument("--lock-timeout", type=float, help="seconds to wait for the warehouse lock")
    parser.add_argument(
        "--n-jobs",
        type=int,
        help="prediction threads (default: every core the process may use, within a container's CPU limit)",
    )
    args = parser.parse_args(argv)
    setup_logging()
    try:
        if args.n_jobs is not None and args.n_jobs != -1 and args.n_jobs < 1:
            raise ConfigError(f"--n-jobs: expected -1 (every core) or an integer >= 1, got {args.n_jobs}")
        configs = task_configs(args.task)
        warehouse = db_path(args.duckdb)
        command = "ml.score " + " ".join(argv if argv is not None else sys.argv[1:])
        with writer_lock(warehouse, command, args.lock_timeout):
            # Every task's artifact is verified before any task writes: one bad file stops all.
            for config in configs:
                load_version(
                    resolve_version(warehouse, config.task, args.version, args.alias), args.artifacts
                )
            # Every task is computed before anything is written, then all in one transaction.
            batches = [
                prepare_task(
                    config,
                    warehouse,
                    args.version,
                    args.alias,
                    args.all_rows,
                    args.explain,
                    args.artifacts,
                    args.n_jobs,
                )
                for config in configs
            ]
            for s in _summaries(warehouse, batches):
                if s.n_read == 0:
                    print(f"ml.score: {s.task}: v{s.version}: no new or changed rows to score")
                    continue
                drifted = (
                    "drift not judged (too few rows)"
                    if s.n_drifted is None
                    else f"{s.n_drifted} feature(s) drifted"
                )
                # Rows read only to be explained (--explain) keep their score: not counted.
                new = "" if args.all_rows else "new or changed "
                print(
                    f"ml.score: {s.task}: v{s.version} scored {s.n_scored} {new}of {s.n_read} rows read "
                    f"into ml.{s.output}; {drifted} (see ml.drift, scoring {s.scoring_id})"
                )
    except AdscoreError as exc:
        print(f"ml.score: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (OSError, duckdb.Error) as exc:  # a full disk, a read-only store, a damaged file
        print(f"ml.score: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
