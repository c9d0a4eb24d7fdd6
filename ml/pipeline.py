"""The one entry point for schedulers: freshness, dbt build, train, promote, score, marts.

    python -m ml.pipeline [--dry-run] [--freshness error|warn|skip] [--lock-timeout S]
                          [--log-json] [--n-trials N] [--full-refresh]

Under one warehouse writer lock (see ml.lock; the steps run as child processes under it):

1. ``dbt source freshness``: stale sources stop the run (``--freshness warn`` only logs them);
2. ``dbt build --exclude marts.monitoring --exclude-resource-type unit_test``: staging,
   cleaning, data tests, the data quality gate, the marts ml reads (dbt's unit tests check the
   SQL against fixed inputs, so they run in ``make test``/CI and ``make dbt-build``, not in
   every scheduled run, as dbt recommends for production jobs).  The raw exports load
   incrementally: only new and changed files are parsed (``--full-refresh`` parses them all,
   e.g. after an upgrade that changes the loaded tables' columns);
3. ``python -m ml.train --skip-unchanged``: every task, skipped with a message when neither
   its training snapshot's hash nor its configuration changed since its latest run; each new
   version goes through the promotion gate in the same run;
4. ``python -m ml.score --explain``: the champions score the rows they have not scored yet;
5. ``dbt build --select marts.monitoring --exclude-resource-type unit_test``: the analyst
   marts over ml.*;
6. publish a read-only snapshot for analysts: the warehouse is checkpointed and copied to
   ``<warehouse>.snapshot.duckdb`` (temporary name, then an atomic rename). Analysts query
   the snapshot (``duckdb -readonly warehouse/adscore.snapshot.duckdb``) while the next job
   writes the warehouse itself: a reader on the live file would block the job's writers.

Exit codes: 0 done; 3 configuration, 4 training data, 5 warehouse, 6 artifact (from the ml
steps); 7 another writer held the lock past the timeout; 10 sources stale; 11 dbt build
failed (a test, the data quality gate, a contract or bad raw input); 12 the monitoring marts
failed; 13 the snapshot could not be published; 1 anything else. One log line per step with
its duration and exit code (JSON with ``--log-json`` or ``ADSCORE_LOG_FORMAT=json``); the
last lines name each champion, its holdout metric and its model card.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ml.errors import AdscoreError
from ml.lock import held_lock_fds, writer_lock
from ml.logs import setup_logging
from ml.warehouse import db_path

log = logging.getLogger("ml.pipeline")
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Step:
    name: str
    command: list[str]
    failure_code: int | None  # exit code on failure; None: pass the child's code through
    optional: bool = False  # failure is logged, the pipeline goes on


def plan(freshness: str, n_trials: int | None, full_refresh: bool = False) -> list[Step]:
    dbt = str(BIN / "dbt")
    no_unit_tests = ["--exclude-resource-type", "unit_test"]  # static inputs: CI runs them
    python = sys.executable
    train = [python, "-m", "ml.train", "--skip-unchanged"]
    if n_trials is not None:
        train += ["--n-trials", str(n_trials)]
    steps = []
    if freshness != "skip":
        steps.append(Step("source_freshness", [dbt, "source", "freshness"], 10, optional=freshness == "warn"))
    steps += [
        Step(
            "dbt_build",
            [
                dbt,
                "build",
                "--exclude",
                "marts.monitoring",
                *no_unit_tests,
                *(["--full-refresh"] * full_refresh),
            ],
            11,
        ),
        Step("train", train, None),
        Step("score", [python, "-m", "ml.score", "--explain"], None),
        Step("monitoring_marts", [dbt, "build", "--select", "marts.monitoring", *no_unit_tests], 12),
    ]
    return steps


def run_steps(steps: list[Step]) -> int:
    """Run the steps in order; the first required one that fails stops the pipeline.

    A SIGTERM (a Kubernetes deadline or pod deletion, where this process may be PID 1 and
    would otherwise ignore it) is passed on to the running step, which stops the way it
    does on its own (a training marks its run interrupted); the pipeline then exits 143
    without starting another step."""
    running: list[subprocess.Popen] = []
    stopping: list[int] = []

    def forward(signum: int, frame: object) -> None:
        stopping.append(signum)
        for child in running:
            child.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        return _run_steps(steps, running, stopping)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_steps(steps: list[Step], running: list[subprocess.Popen], stopping: list[int]) -> int:
    for step in steps:
        if stopping:
            log.error("SIGTERM: pipeline stops before step %s (exit 143)", step.name)
            return 128 + signal.SIGTERM
        started = time.perf_counter()
        log.info("step %s: %s", step.name, shlex.join(step.command), extra={"step": step.name})
        child = subprocess.Popen(step.command, pass_fds=held_lock_fds())
        running.append(child)
        if stopping:  # the signal came between the check above and the child's start
            child.send_signal(signal.SIGTERM)
        try:
            code = child.wait()
        finally:
            running.remove(child)
        duration = round(time.perf_counter() - started, 1)
        fields = {"step": step.name, "duration_s": duration, "exit_code": code}
        if stopping:
            log.error(
                "step %s: stopped by SIGTERM (exit %d) in %.1fs: pipeline stops with exit 143",
                step.name,
                code,
                duration,
                extra={**fields, "exit_code": 128 + signal.SIGTERM},
            )
            return 128 + signal.SIGTERM
        if code == 0:
            log.info("step %s: done in %.1fs", step.name, duration, extra=fields)
            continue
        if step.optional:
            log.warning(
                "step %s: exit %d in %.1fs; continuing (warn only)", step.name, code, duration, extra=fields
            )
            continue
        result = step.failure_code if step.failure_code is not None else (code if 0 < code < 128 else 1)
        log.error(
            "step %s failed (exit %d) in %.1fs: pipeline stops with exit %d",
            step.name,
            code,
            duration,
            result,
            extra={**fields, "exit_code": result},
        )
        return result
    return 0


def snapshot_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.stem + ".snapshot.duckdb")


def publish_snapshot(warehouse: Path) -> Path:
    """Checkpoint the warehouse and copy it to the analysts' snapshot, atomically.

    Runs under the writer lock, so a temporary copy left by an earlier publish is from a
    process that died mid-copy: removed first (each is a full copy of the warehouse)."""
    target = snapshot_path(warehouse)
    for stale in target.parent.glob(f".{target.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with duckdb.connect(str(warehouse)) as con:
            con.execute("checkpoint")
        shutil.copyfile(warehouse, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def summary(warehouse: Path) -> list[str]:
    """One line per model: its champion, holdout metric and model card."""
    from ml.artifacts import resolve_artifact
    from ml.registry import list_versions

    try:
        versions = list_versions(warehouse, None)
    except AdscoreError:
        return []
    lines = []
    for row in versions[versions.aliases.str.contains("champion")].itertuples():
        card = resolve_artifact(row.artifact_path).parent / "model_card.md"
        lines.append(
            f"{row.model_name}: champion v{row.version} ({row.estimator}), holdout {row.test_metric} "
            f"{row.test_value:.4f}; model card {card}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.pipeline", description=__doc__.split("\n")[0])
    parser.add_argument("--duckdb", type=Path, help="warehouse file (default $DUCKDB_PATH)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    parser.add_argument(
        "--freshness",
        choices=("error", "warn", "skip"),
        default="error",
        help="stale sources stop the run (error, default), are only logged (warn), or are not checked",
    )
    parser.add_argument("--lock-timeout", type=float, help="seconds to wait for another writer")
    parser.add_argument("--n-trials", type=int, help="Optuna trials per task (default: each config's)")
    parser.add_argument("--log-json", action="store_true", help="one JSON object per log line")
    parser.add_argument(
        "--full-refresh",
        action="store_true",
        help="parse every raw file again instead of only the new and changed ones",
    )
    args = parser.parse_args(argv)
    setup_logging(True if args.log_json else None)
    warehouse = db_path(args.duckdb)
    if args.duckdb is not None:
        os.environ["DUCKDB_PATH"] = str(warehouse)  # the steps (dbt, ml) read it
    steps = plan(args.freshness, args.n_trials, args.full_refresh)
    if args.dry_run:
        print(f"ml.pipeline: plan for {warehouse} (under its writer lock {warehouse}.lock):")
        for i, step in enumerate(steps, 1):
            note = " (failure only logged)" if step.optional else ""
            print(f"  {i}. {step.name}: {shlex.join(step.command)}{note}")
        print(f"  {len(steps) + 1}. publish_snapshot: copy to {snapshot_path(warehouse)} for analysts")
        return 0
    try:
        with writer_lock(warehouse, "ml.pipeline", args.lock_timeout):
            code = run_steps(steps)
            if code == 0:
                started = time.perf_counter()
                try:
                    target = publish_snapshot(warehouse)
                except (OSError, duckdb.Error) as exc:
                    log.error(
                        "step publish_snapshot failed: %s",
                        exc,
                        extra={"step": "publish_snapshot", "exit_code": 13},
                    )
                    return 13
                log.info(
                    "step publish_snapshot: %s in %.1fs",
                    target,
                    time.perf_counter() - started,
                    extra={"step": "publish_snapshot", "duration_s": round(time.perf_counter() - started, 1)},
                )
                # Still under the lock: the next writer may open the file as soon as it is released.
                for line in summary(warehouse):
                    log.info("%s", line, extra={"step": "summary"})
                    print(f"ml.pipeline: {line}")
    except AdscoreError as exc:
        print(f"ml.pipeline: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return code


if __name__ == "__main__":
    sys.exit(main())
