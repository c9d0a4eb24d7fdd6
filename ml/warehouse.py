"""Warehouse access: the only module that talks SQL from Python.

Reads open the DuckDB file read-only and close it before any training starts (DuckDB
allows one writing process per file, and dbt needs it).  All results of a run are written
in one short transaction: they appear together or not at all.  Values are bound
parameters or registered DataFrames; identifiers are validated against a strict pattern.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from ml.errors import DataValidationError, WarehouseError
from ml.failpoints import failpoint

DEFAULT_DB_PATH = "warehouse/adscore.duckdb"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# The ml schema: owned by the Python package, read by analysts (and dbt sources later).
ML_TABLES: dict[str, str] = {
    "runs": """
        run_id varchar primary key,
        task varchar not null,
        status varchar not null,
        started_at timestamp not null,
        finished_at timestamp,
        data_hash varchar,
        config_hash varchar,
        seed integer,
        estimator varchar,
        n_train_rows bigint,
        n_test_rows bigint,
        library_versions varchar,
        git_sha varchar,
        mlflow_run_id varchar,
        config_path varchar,
        pid integer,
        hostname varchar,
        error varchar,
        text_cache_hits bigint,
        text_cache_computed bigint,
        predict_ms_per_1000_rows double,
        learning_curve_verdict varchar,
        learning_curve_valid_gain double,
        process_start varchar
    """,
    "model_versions": """
        model_name varchar not null,
        version integer not null,
        run_id varchar not null,
        estimator varchar not null,
        artifact_path varchar not null,
        artifact_sha256 varchar not null,
        created_at timestamp not null,
        folder_sha256 varchar,
        primary key (model_name, version)
    """,
    "model_aliases": """
        model_name varchar not null,
        alias varchar not null,
        version integer not null,
        updated_at timestamp not null,
        primary key (model_name, alias)
    """,
    "metrics": """
        run_id varchar not null,
        split varchar not null,
        segment varchar not null,
        metric varchar not null,
        value double,
        n_rows bigint
    """,
    "cv_results": """
        run_id varchar not null,
        stage varchar not null,
        candidate varchar not null,
        trial_number integer,
        fold integer not null,
        metric varchar not null,
        value double,
        n_train_rows bigint,
        n_valid_rows bigint,
        fit_seconds double,
        predict_seconds double
    """,
    "learning_curves": """
        run_id varchar not null,
        candidate varchar not null,
        train_fraction double not null,
        n_train_rows bigint,
        split varchar not null,
        metric varchar not null,
        value double,
        value_std double
    """,
    "calibration": """
        run_id varchar not null,
        method varchar not null,
        split varchar not null,
        metric varchar not null,
        value double,
        is_chosen boolean
    """,
    "fairness": """
        run_id varchar not null,
        feature varchar not null,
        "group" varchar not null,
        metric varchar not null,
        value double,
        n_rows bigint,
        "limit" double,
        passes boolean
    """,
    "feature_importance": """
        run_id varchar not null,
        feature varchar not null,
        importance_type varchar not null,
        value double,
        value_std double
    """,
    "promotions": """
        promotion_id varchar primary key,
        model_name varchar not null,
        version integer not null,
        decision varchar not null,
        champion_before integer,
        champion_after integer,
        reason varchar not null,
        metric varchar,
        champion_value double,
        challenger_value double,
        improvement double,
        ci_low double,
        ci_high double,
        confidence double,
        n_holdout bigint,
        data_hash varchar,
        checks varchar,
        decided_by varchar not null,
        decided_at timestamp not null
    """,
    "scoring_runs": """
        scoring_id varchar primary key,
        task varchar not null,
        model_name varchar not null,
        model_version integer not null,
        source_table varchar not null,
        started_at timestamp not null,
        finished_at timestamp not null,
        n_rows_read bigint not null,
        n_rows_scored bigint not null,
        n_features_drifted integer,
        mode varchar not null
    """,
    "ad_scores": """
        ad_id varchar not null,
        model_name varchar not null,
        model_version integer not null,
        score double not null,
        score_lower double,
        score_upper double,
        interval_level double,
        scoring_id varchar not null,
        scored_at timestamp not null,
        input_hash varchar,
        primary key (ad_id, model_name, model_version)
    """,
    "account_health_scores": """
        account_id varchar not null,
        week_start date not null,
        model_name varchar not null,
        model_version integer not null,
        probability double not null,
        is_at_risk boolean not null,
        threshold double not null,
        scoring_id varchar not null,
        scored_at timestamp not null,
        input_hash varchar,
        primary key (account_id, week_start, model_name, model_version)
    """,
    "ad_score_explanations": """
        ad_id varchar not null,
        model_name varchar not null,
        model_version integer not null,
        rank integer not null,
        feature varchar not null,
        contribution double not null,
        scoring_id varchar not null,
        primary key (ad_id, model_name, model_version, rank)
    """,
    "account_health_explanations": """
        account_id varchar not null,
        week_start date not null,
        model_name varchar not null,
        model_version integer not null,
        rank integer not null,
        feature varchar not null,
        contribution double not null,
        scoring_id varchar not null,
        primary key (account_id, week_start, model_name, model_version, rank)
    """,
    "drift": """
        scoring_id varchar not null,
        model_name varchar not null,
        model_version integer not null,
        feature varchar not null,
        psi double not null,
        threshold double not null,
        is_drifted boolean,
        n_rows bigint not null,
        measured_at timestamp not null
    """,
    "text_feature_cache": """
        feature_key varchar not null,
        text_hash varchar not null,
        "values" double[] not null,
        computed_at timestamp not null,
        primary key (feature_key, text_hash)
    """,
    "hpo_trials": """
        run_id varchar not null,
        study_name varchar not null,
        candidate varchar not null,
        trial_number integer not null,
        state varchar not null,
        value double,
        params varchar,
        duration_seconds double
    """,
}


def db_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The warehouse file: the argument, else $DUCKDB_PATH, else warehouse/adscore.duckdb."""
    return Path(path or os.environ.get("DUCKDB_PATH") or DEFAULT_DB_PATH)


def quote_identifier(name: str) -> str:
    """Quote a (possibly schema-qualified) identifier after checking every part."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or not all(_IDENTIFIER.match(p) for p in parts):
        raise WarehouseError(
            f"invalid identifier {name!r}: expected [schema.]name of letters, digits and underscores"
        )
    return ".".join(f'"{p}"' for p in parts)


# Connections open through connect(), by id: what a signal interrupts (see below).
_OPEN: dict[int, duckdb.DuckDBPyConnection] = {}
_OPEN_LOCK = threading.Lock()
_WATCHING: list[socket.socket] = []


@contextmanager
def connect(path: Path, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse, turning a missing file or a held lock into a clear error."""
    if read_only and not path.exists():
        raise WarehouseError(f"warehouse {path} does not exist: run `dbt build` first")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        raise WarehouseError(f"cannot open warehouse {path}: {exc}") from None
    with _OPEN_LOCK:
        _OPEN[id(con)] = con
    try:
        yield con
    finally:
        with _OPEN_LOCK:  # never interrupted while (or after) it closes
            _OPEN.pop(id(con), None)
        con.close()


def interrupt_queries_on_signals() -> None:
    """Make a signal that has a Python handler (SIGTERM in ml.train, SIGINT) stop a running
    DuckDB query.  Python runs a handler only when the main thread gets back to Python code,
    and DuckDB, which polls for signals during a query, often missed them on a busy machine: of
    SIGTERMs sent 0.2-3 s into a long query, 13 of 24 never stopped it (the query ran on, until
    Kubernetes' SIGKILL).  Here a daemon thread, woken through the signal module's wakeup fd, interrupts
    every connection open through :func:`connect`; the query fails with DuckDB's "Query
    interrupted" and the handler runs as it unwinds.  Call it from the main thread, after
    installing the handlers; further calls do nothing."""
    if _WATCHING:
        return
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    try:
        signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    except ValueError:  # not the main thread: leave signals as they are
        reader.close()
        writer.close()
        return
    _WATCHING.extend((reader, writer))

    def watch() -> None:
        while reader.recv(64):
            with _OPEN_LOCK:
                for con in _OPEN.values():
                    with contextlib.suppress(duckdb.Error):
                        con.interrupt()

    threading.Thread(target=watch, name="adscore-interrupt-on-signal", daemon=True).start()


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    schema, name = table.split(".") if "." in table else ("main", table)
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, name],
    ).fetchall()
    return [r[0] for r in rows]


def require_finished_build(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Refuse the warehouse while a dbt invocation that writes the curated tables started and
    never ended (macros/build_state.sql: killed half-way, so the marts may mix two builds) and
    the invocations that ended after it have not rebuilt everything it selected.  A small
    `dbt seed` after a killed `dbt build` does not lift the block; a completed build does.

    An invocation whose selection is unknown (a `dbt retry`, whose hooks see none; rows
    recorded before selections were) is rebuilt by a later completed retry or by a completed
    invocation selecting at least as many nodes as any recorded one.  Passes before builds
    were recorded."""
    columns = table_columns(con, "audit.dbt_builds")
    if not columns:
        return
    # select * so that builds recorded before `selected_nodes` existed still read (as unknown)
    cursor = con.execute(
        "select *, finished_at is not null as _finished from audit.dbt_builds "
        "order by started_at desc, invocation_id"
    )
    names = [d[0] for d in cursor.description]
    records = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    keys = ("invocation_id", "command", "n_selected", "selected_nodes", "started_at", "_finished")
    rows = [tuple(r.get(k) for k in keys) for r in records]
    most = max((r[2] for r in rows if r[2] is not None), default=0)
    rebuilt: set[str] = set()  # nodes selected by invocations that ended after the one at hand
    full_rebuild = retried = False
    for invocation, command, n_selected, nodes_json, started, finished in rows:
        nodes = set(json.loads(nodes_json)) if nodes_json else None
        if finished:
            rebuilt |= nodes or set()
            full_rebuild |= n_selected is not None and n_selected >= most
            retried |= command == "retry"
            continue
        if nodes is not None:
            missing = sorted(nodes - rebuilt)
            if not missing or full_rebuild:  # (a full build covers nodes renamed since)
                continue
            detail = f"{len(missing)} of its {len(nodes)} nodes not rebuilt since (e.g. {missing[0]})"
        elif full_rebuild or (command == "retry" and retried):
            continue
        else:
            detail = "no complete build since"
        raise WarehouseError(
            f"{path}: a `dbt {command}` (invocation {invocation}, started "
            f"{started:%Y-%m-%d %H:%M:%S} UTC) did not finish, so the warehouse may hold tables of "
            f"two builds ({detail}): run `dbt build` again"
        )


def recorded_predict_ms(path: Path, run_id: str) -> float | None:
    """The run's model prediction time per 1,000 rows (ml.runs), None if not recorded (also
    for a warehouse last written before the column existed: hence select *)."""
    run = read_query(path, "select * from ml.runs where run_id = ?", [run_id])
    recorded = run.get("predict_ms_per_1000_rows", pd.Series(dtype=float)).dropna()
    return float(recorded.iloc[0]) if len(recorded) else None


@dataclass(frozen=True)
class TrainingSnapshot:
    """The curated rows one run trains on (ordered by their ids) and the folds table."""

    table: str
    frame: pd.DataFrame
    columns: list[str]
    folds: pd.DataFrame


def read_training_snapshot(
    path: Path, table: str, folds_table: str, id_columns: list[str], quality_report: str | None = None
) -> TrainingSnapshot:
    """Read ``table`` ordered by its ids, and ``folds_table``, after the data quality gate
    (sources over their reject-rate threshold); the connection is closed after."""
    q_table, q_folds = quote_identifier(table), quote_identifier(folds_table)
    with connect(path, read_only=True) as con:
        require_finished_build(con, path)
        # The quality gate comes first: past a failed gate dbt does not build the marts.
        failures = _quality_failures(con, quality_report) if quality_report else []
        if failures:
            raise DataValidationError(table, failures)
        columns = table_columns(con, table)
        if not columns:
            raise WarehouseError(
                f"table {table} (data.table) not found in {path}: run `dbt build` first, or check the name"
            )
        fold_columns = table_columns(con, folds_table)
        if not fold_columns:
            raise WarehouseError(
                f"table {folds_table} (data.folds_table) not found in {path}: run `dbt build` first, "
                "or check the name"
            )
        for needed in (*id_columns, "split", "fold"):
            if needed not in fold_columns:
                key = " (data.id_columns)" if needed in id_columns else ""
                raise WarehouseError(f"{folds_table} lacks column {needed!r}{key}")
        present = [c for c in id_columns if c in columns]
        order = ", ".join(quote_identifier(c) for c in present) or "1"
        frame = con.execute(f"select * from {q_table} order by {order}").df()
        folds = con.execute(f"select * from {q_folds}").df()
    return TrainingSnapshot(table, frame, columns, folds)


def _quality_failures(con: duckdb.DuckDBPyConnection, report: str) -> list[str]:
    """One message per source over its reject-rate threshold in the data quality report."""
    if not table_columns(con, report):
        return [f"data quality report {report} not found: run `dbt build` first"]
    rows = con.execute(
        "select distinct source_name, source_rejected_rows, source_raw_rows, source_reject_rate, "
        f"max_reject_rate from {quote_identifier(report)} where is_source_over_threshold "
        "order by source_name"
    ).fetchall()
    return [
        f"data quality gate: source {name} rejected {rejected} of {raw} raw rows ({rate:.1%}, "
        f"max {limit:.1%}); see {report} and audit.rejected_rows"
        for name, rejected, raw, rate, limit in rows
    ]


# Columns added after a table was first released: (table, column, type), added on open.
MIGRATIONS = (
    ("runs", "pid", "integer"),
    ("runs", "hostname", "varchar"),
    ("runs", "error", "varchar"),
    ("runs", "text_cache_hits", "bigint"),
    ("runs", "text_cache_computed", "bigint"),
    ("runs", "predict_ms_per_1000_rows", "double"),
    ("runs", "learning_curve_verdict", "varchar"),
    ("runs", "learning_curve_valid_gain", "double"),
    ("runs", "process_start", "varchar"),
    ("cv_results", "fit_seconds", "double"),
    ("cv_results", "predict_seconds", "double"),
    ("model_versions", "folder_sha256", "varchar"),
    ("ad_scores", "input_hash", "varchar"),
    ("account_health_scores", "input_hash", "varchar"),
)
# NOT NULL constraints dropped after a table was first released: (table, column).
RELAXED = (("drift", "is_drifted"),)  # null: too few rows scored to judge drift


@contextmanager
def transaction(path: Path, label: str = "") -> Iterator[duckdb.DuckDBPyConnection]:
    """A write transaction on the warehouse with the ml schema in place: everything in the
    block is committed together, or rolled back on any error (a killed process leaves
    nothing either: DuckDB discards an uncommitted transaction on recovery)."""
    with connect(path, read_only=False) as con:
        con.execute("begin transaction")
        try:
            ensure_ml_schema(con)
            yield con
            if label:
                failpoint(f"{label}:before_commit")
            con.execute("commit")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("rollback")
            raise


def ensure_ml_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the ml schema and every ml table that does not exist yet."""
    con.execute("create schema if not exists ml")
    for name, ddl in ML_TABLES.items():
        con.execute(f"create table if not exists ml.{name} ({ddl})")
    for table, column, kind in MIGRATIONS:
        con.execute(f"alter table ml.{table} add column if not exists {column} {kind}")
    for table, column in RELAXED:
        still_required = con.execute(
            "select count(*) from information_schema.columns where table_schema = 'ml' "
            "and table_name = ? and column_name = ? and is_nullable = 'NO'",
            [table, column],
        ).fetchall()[0][0]
        if still_required:  # once per warehouse, not a catalog change in every transaction
            con.execute(f"alter table ml.{table} alter column {column} drop not null")


def _alias_version(con: duckdb.DuckDBPyConnection, model_name: str, alias: str) -> int | None:
    rows = con.execute(
        "select version from ml.model_aliases where model_name = ? and alias = ?", [model_name, alias]
    ).fetchall()
    return int(rows[0][0]) if rows else None


def _set_alias(con: duckdb.DuckDBPyConnection, model_name: str, alias: str, version: int, at: object) -> None:
    con.execute(
        "insert or replace into ml.model_aliases (model_name, alias, version, updated_at) "
        "values (?, ?, ?, ?)",
        [model_name, alias, version, at],
    )


def write_run_results(
    path: Path,
    run: dict,
    tables: dict[str, pd.DataFrame],
    model_name: str,
    model_row: dict,
    promotion: dict,
    promote: bool,
) -> tuple[int, dict]:
    """Write a finished run in one transaction; returns the version assigned and the
    ml.promotions row recorded.

    ``run`` is the ml.runs row, ``tables`` maps ml table name -> rows to append,
    ``model_row`` the ml.model_versions row without its version, ``promotion`` the gate's
    evidence (an ml.promotions row without version, decision and aliases) and ``promote``
    its verdict.  The version is the next integer for ``model_name``, taken inside the
    transaction.  The first version becomes ``champion``; a later one becomes ``champion`` if
    the gate passed against the version that is still champion, else ``challenger``.
    """
    with transaction(path, "train") as con:
        con.execute("delete from ml.runs where run_id = ?", [run["run_id"]])  # its `running` row
        _insert_frame(con, "runs", pd.DataFrame([run]))
        for name, frame in tables.items():
            if name not in ML_TABLES:
                raise WarehouseError(f"unknown ml table {name!r}")
            if len(frame):
                _insert_frame(con, name, frame, _conflict_clause(name))
        version = int(
            con.execute(
                "select coalesce(max(version), 0) + 1 from ml.model_versions where model_name = ?",
                [model_name],
            ).fetchall()[0][0]
        )
        at = model_row["created_at"]
        _insert_frame(
            con,
            "model_versions",
            pd.DataFrame([{**model_row, "model_name": model_name, "version": version}]),
        )
        champion = _alias_version(con, model_name, "champion")
        row = {**promotion, "model_name": model_name, "version": version, "champion_before": champion}
        if champion is None:
            row.update(decision="first_version", champion_after=version)
            row["reason"] = "first version of the model: " + row["reason"]
        elif promote and champion == promotion.get("compared_version"):
            row.update(decision="promoted", champion_after=version)
        elif promote:
            row.update(decision="kept_challenger", champion_after=champion)
            row["reason"] = (
                f"champion changed from v{promotion.get('compared_version')} to v{champion} while "
                "this version trained; re-evaluate with `python -m ml.registry promote`"
            )
        else:
            row.update(decision="kept_challenger", champion_after=champion)
        if row["champion_after"] == version:
            _set_alias(con, model_name, "champion", version, at)
            con.execute(
                "delete from ml.model_aliases where model_name = ? and alias = 'challenger'", [model_name]
            )
        else:
            _set_alias(con, model_name, "challenger", version, at)
        row.pop("compared_version", None)
        _insert_frame(con, "promotions", pd.DataFrame([row]))
    return version, row


def move_champion(
    path: Path, model_name: str, version: int, expected_champion: int | None, row: dict
) -> None:
    """Make ``version`` the champion and record ``row`` in ml.promotions, in one transaction,
    only if the champion is still ``expected_champion`` (no lost update)."""
    with transaction(path, "registry") as con:
        exists = con.execute(
            "select count(*) from ml.model_versions where model_name = ? and version = ?",
            [model_name, version],
        ).fetchall()[0][0]
        if not exists:
            raise WarehouseError(f"model {model_name} has no version {version}")
        champion = _alias_version(con, model_name, "champion")
        if champion != expected_champion:
            raise WarehouseError(
                f"champion of {model_name} changed to v{champion} meanwhile (expected "
                f"v{expected_champion}); nothing changed, run the command again"
            )
        _set_alias(con, model_name, "champion", version, row["decided_at"])
        con.execute(
            "delete from ml.model_aliases where model_name = ? and alias = 'challenger' and version = ?",
            [model_name, version],
        )
        _insert_frame(con, "promotions", pd.DataFrame([row]))


def record_promotion(path: Path, row: dict) -> None:
    """Record a decision that moved no alias (the gate refused)."""
    with transaction(path, "registry") as con:
        _insert_frame(con, "promotions", pd.DataFrame([row]))


@dataclass(frozen=True)
class ScoreBatch:
    """One task's scoring run: its ml.scoring_runs row (with ``output``, the scores table)
    and its tables.  The scores (each with the ``input_hash`` of the inputs it was computed
    from) replace earlier scores of the same keys and version; the version's explanations of
    a row are removed when its inputs changed or this batch explains it again (``ids``: the
    key columns of both tables)."""

    run: dict
    tables: dict[str, pd.DataFrame]
    ids: tuple[str, ...]
    explanations: str | None = None

    def __post_init__(self) -> None:
        if not self.ids:
            raise WarehouseError("a score batch needs its key columns (ids)")


def write_scores(path: Path, batches: list[ScoreBatch]) -> list[int]:
    """Write every batch in one transaction (all tasks of an ``ml.score`` or none): its
    scores and explanations replace those of the same keys and version (see
    :class:`ScoreBatch`); a text-cache entry replaces an unusable stored one.  Returns each
    batch's number of score rows inserted or replaced."""
    counts = []
    with transaction(path, "score") as con:
        for batch in batches:
            counts.append(_write_score_batch(con, batch))
    return counts


def _write_score_batch(con: duckdb.DuckDBPyConnection, batch: ScoreBatch) -> int:
    scoring_run = batch.run
    output, explanations = scoring_run["output"], batch.explanations
    scores = batch.tables.get(output)
    if scores is not None and len(scores) and explanations is not None:
        # A row's explanations stay while its score stands for the same inputs; they go when
        # the row is rescored for changed inputs, or explained again by this batch.
        keys = [c for c in scores.columns if c in batch.ids]
        explained = batch.tables.get(explanations)
        again = explained[keys].drop_duplicates() if explained is not None else scores[keys].iloc[:0]
        con.register("_rescored", scores[[*keys, "input_hash"]])
        con.register("_explained", again)
        try:
            on = " and ".join(f"e.{quote_identifier(c)} = n.{quote_identifier(c)}" for c in keys)
            on_s = " and ".join(f"s.{quote_identifier(c)} = n.{quote_identifier(c)}" for c in keys)
            con.execute(
                f"delete from ml.{quote_identifier(explanations)} as e "
                "where e.model_name = ? and e.model_version = ? and ("
                f"exists (select 1 from _explained as n where {on}) or exists ("
                f"select 1 from _rescored as n left join ml.{quote_identifier(output)} as s "
                f"on {on_s} and s.model_name = ? and s.model_version = ? "
                f"where {on} and s.input_hash is distinct from n.input_hash))",
                [scoring_run["model_name"], scoring_run["model_version"]] * 2,
            )
        finally:
            with contextlib.suppress(duckdb.Error):
                con.unregister("_rescored")
                con.unregister("_explained")
    written = 0
    for name, frame in batch.tables.items():
        if name not in ML_TABLES:
            raise WarehouseError(f"unknown ml table {name!r}")
        if not len(frame):
            continue
        # Scores and explanations of the rows read replace earlier ones of the same keys (the
        # rows read are new, changed or asked for again).
        _insert_frame(
            con, name, frame, "or replace" if name in (output, explanations) else _conflict_clause(name)
        )
        if name == output:
            written = len(frame)
    run = {k: v for k, v in scoring_run.items() if k != "output"}
    _insert_frame(con, "scoring_runs", pd.DataFrame([{**run, "n_rows_scored": written}]))
    return written


def start_run(path: Path, run: dict) -> None:
    """Record a run as ``running`` (its own short transaction)."""
    with transaction(path) as con:
        _insert_frame(con, "runs", pd.DataFrame([run]))


def end_run(path: Path, run_id: str, status: str, error: str) -> None:
    """Mark a ``running`` run ``failed`` or ``interrupted`` (a finished run is left alone)."""
    with transaction(path) as con:
        con.execute(
            "update ml.runs set status = ?, error = ?, finished_at = ? "
            "where run_id = ? and status = 'running'",
            [status, error[:2000], _utc_now(), run_id],
        )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_start(pid: int) -> str | None:
    """What tells one process from a later one given the same pid: the boot id and the start
    time in clock ticks since boot (Linux ``/proc``); None where that cannot be read."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()  # the name in parentheses may hold spaces
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None  # field 22, starttime


def run_process_alive(pid: int, started: str | None) -> bool:
    """Whether the process that wrote a run row (``pid``, ``process_start``) still runs: a
    live pid taken by another process since (pid reuse) does not count."""
    if not pid_alive(pid):
        return False
    now = process_start(pid)
    return started is None or now is None or now == started


def set_run_tracking(path: Path, run_id: str, mlflow_run_id: str) -> None:
    """Record a ``running`` run's MLflow run id as soon as it has one, so a run killed before
    its final transaction still names its MLflow run."""
    with transaction(path) as con:
        con.execute(
            "update ml.runs set mlflow_run_id = ? where run_id = ? and status = 'running'",
            [mlflow_run_id, run_id],
        )


def registered_versions(path: Path) -> pd.DataFrame:
    """Every registered version: model name, version, artifact path and MLflow run id."""
    empty = pd.DataFrame(columns=["model_name", "version", "artifact_path", "mlflow_run_id"])
    if not path.exists():
        return empty
    with connect(path, read_only=True) as con:
        if not table_exists(con, "ml.model_versions"):
            return empty
        return con.execute(
            "select v.model_name, v.version, v.artifact_path, r.mlflow_run_id from ml.model_versions v "
            "left join ml.runs r using (run_id) order by v.model_name, v.version"
        ).df()


def registered_metrics(path: Path, model_name: str) -> set[str]:
    """The test-split metric names recorded for ``model_name``'s registered versions (what
    kind of model the name holds: rmse for a regressor, roc_auc for a classifier)."""
    if not path.exists():
        return set()
    with connect(path, read_only=True) as con:
        if not (table_exists(con, "ml.model_versions") and table_exists(con, "ml.metrics")):
            return set()
        rows = con.execute(
            "select distinct m.metric from ml.metrics m join ml.model_versions v using (run_id) "
            "where v.model_name = ? and m.split = 'test'",
            [model_name],
        ).fetchall()
    return {r[0] for r in rows}


def ended_run_status(path: Path) -> dict[str, str]:
    """Run id -> status of every run that is no longer ``running``."""
    if not path.exists():
        return {}
    with connect(path, read_only=True) as con:
        if not table_exists(con, "ml.runs"):
            return {}
        rows = con.execute("select run_id, status from ml.runs where status <> 'running'").fetchall()
    return dict(rows)


def mark_interrupted_runs(path: Path) -> list[str]:
    """Mark ``running`` runs whose process is gone as ``interrupted``; returns their ids.

    Called by writers holding the warehouse lock, so a run on another host cannot be alive
    either (its writer would hold the lock)."""
    if not path.exists():
        return []
    here = socket.gethostname()
    with transaction(path) as con:
        rows = con.execute(
            "select run_id, pid, hostname, process_start from ml.runs where status = 'running'"
        ).fetchall()
        gone = [
            run_id
            for run_id, pid, host, started in rows
            if not (host == here and pid and pid != os.getpid() and run_process_alive(int(pid), started))
        ]
        for run_id in gone:
            con.execute(
                "update ml.runs set status = 'interrupted', finished_at = ?, "
                "error = 'process ended without finishing (killed or crashed)' where run_id = ?",
                [_utc_now(), run_id],
            )
    return gone


def load_text_cache(path: Path, keys: list[str]) -> pd.DataFrame | None:
    """The cached text features of ``keys`` (None when there is no cache table yet)."""
    if not keys or not path.exists():
        return None
    with connect(path, read_only=True) as con:
        if not table_exists(con, "ml.text_feature_cache"):
            return None
        return con.execute(
            'select feature_key, text_hash, "values" from ml.text_feature_cache '
            "where list_contains(?, feature_key)",
            [keys],
        ).df()


def unregistered_runs(path: Path) -> set[str]:
    """Runs that ended (failed or interrupted) without registering a version."""
    if not path.exists():
        return set()
    with connect(path, read_only=True) as con:
        if not table_exists(con, "ml.runs"):
            return set()
        rows = con.execute(
            "select run_id from ml.runs where status in ('failed', 'interrupted') "
            "and run_id not in (select run_id from ml.model_versions)"
        ).fetchall()
    return {r[0] for r in rows}


def last_succeeded_run(path: Path, task: str, data_hash: str, config_hash: str) -> dict | None:
    """The latest succeeded run of ``task``, with its version, when it ran on this data and
    configuration; None when it did not (an older run on them does not count: the versions
    since were trained on something else) or there is none."""
    if not path.exists():
        return None
    with connect(path, read_only=True) as con:
        if not table_exists(con, "ml.runs") or not table_exists(con, "ml.model_versions"):
            return None
        rows = con.execute(
            "select r.run_id, v.version, r.data_hash, r.config_hash "
            "from ml.runs r join ml.model_versions v using (run_id) "
            "where r.task = ? and r.status = 'succeeded' "
            "order by r.finished_at desc, v.version desc limit 1",
            [task],
        ).fetchall()
    if not rows or (rows[0][2], rows[0][3]) != (data_hash, config_hash):
        return None
    return {"run_id": rows[0][0], "version": int(rows[0][1])}


def _utc_now() -> object:
    import datetime as dt

    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(table_columns(con, table))


def _conflict_clause(name: str) -> str:
    """How rows of ``name`` meet stored rows with the same key: a text-cache entry is computed
    only when the stored one was missing or unusable (another width), so it replaces it (with
    ``or ignore`` an unusable entry was recomputed on every run, forever); other keyed rows
    keep what is stored."""
    if "primary key" not in ML_TABLES[name]:
        return ""
    return "or replace" if name == "text_feature_cache" else "or ignore"


def _insert_frame(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, conflict: str = ""
) -> None:
    """Append a DataFrame to ml.<table>, matching columns by name (``conflict``: '', 'or
    ignore' or 'or replace' for tables with a primary key)."""
    if conflict not in ("", "or ignore", "or replace"):
        raise WarehouseError(f"invalid conflict clause {conflict!r}")
    con.register("_rows", frame)
    try:
        con.execute(f"insert {conflict} into ml.{quote_identifier(table)} by name select * from _rows")
    finally:
        with contextlib.suppress(duckdb.Error):  # an aborted transaction: keep the first error
            con.unregister("_rows")


def read_query(path: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    """Run a read-only query (for tests, reports and the registry CLI)."""
    with connect(path, read_only=True) as con:
        return con.execute(sql, params or []).df()


SCHEMA_MACRO = Path(__file__).resolve().parents[1] / "macros" / "ml_schema.sql"


def schema_macro() -> str:
    """The dbt macro creating the ml tables (run on-run-start, so dbt's sources over ml.*
    exist before the first training), generated from :data:`ML_TABLES`."""
    lines = [
        "{#- Generated from ML_TABLES in ml/warehouse.py by `python -m ml.warehouse schema`:",
        "    do not edit (tests/python/test_units.py checks it is up to date). -#}",
        "{% macro create_ml_tables() -%}",
        "create schema if not exists ml;",
    ]
    for name, ddl in ML_TABLES.items():
        body = "\n".join("    " + part.strip() for part in ddl.strip().splitlines())
        lines.append(f"create table if not exists ml.{name} (\n{body}\n);")
    # Columns added since a table was first created: the monitoring marts read them before
    # the next training run would add them.
    for table, column, kind in MIGRATIONS:
        lines.append(f"alter table ml.{table} add column if not exists {column} {kind};")
    for table, column in RELAXED:
        lines.append(f"alter table ml.{table} alter column {column} drop not null;")
    lines.append("{%- endmacro %}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["schema"]:
        sys.exit("usage: python -m ml.warehouse schema   (rewrites macros/ml_schema.sql)")
    SCHEMA_MACRO.write_text(schema_macro())
    print(SCHEMA_MACRO)
