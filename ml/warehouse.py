"""Warehouse access: the only module that talks SQL from Python.

Reads open the DuckDB file read-only and close it before any training starts (DuckDB
allows one writing process per file, and dbt needs it).  All results of a run are written
in one short transaction: they appear together or not at all.  Values are bound
parameters or registered DataFrames; identifiers are validated against a strict pattern.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from ml.errors import DataValidationError, WarehouseError

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
        config_path varchar
    """,
    "model_versions": """
        model_name varchar not null,
        version integer not null,
        run_id varchar not null,
        estimator varchar not null,
        artifact_path varchar not null,
        artifact_sha256 varchar not null,
        created_at timestamp not null,
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
        n_valid_rows bigint
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
    try:
        yield con
    finally:
        con.close()


def _table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    schema, name = table.split(".") if "." in table else ("main", table)
    rows = con.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, name],
    ).fetchall()
    return [r[0] for r in rows]


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
        # The quality gate comes first: past a failed gate dbt does not build the marts.
        failures = _quality_failures(con, quality_report) if quality_report else []
        if failures:
            raise DataValidationError(table, failures)
        columns = _table_columns(con, table)
        if not columns:
            raise WarehouseError(f"table {table} not found in {path}: run `dbt build` first")
        fold_columns = _table_columns(con, folds_table)
        if not fold_columns:
            raise WarehouseError(f"table {folds_table} not found in {path}: run `dbt build` first")
        for needed in (*id_columns, "split", "fold"):
            if needed not in fold_columns:
                raise WarehouseError(f"{folds_table} lacks column {needed!r}")
        present = [c for c in id_columns if c in columns]
        order = ", ".join(quote_identifier(c) for c in present) or "1"
        frame = con.execute(f"select * from {q_table} order by {order}").df()
        folds = con.execute(f"select * from {q_folds}").df()
    return TrainingSnapshot(table, frame, columns, folds)


def _quality_failures(con: duckdb.DuckDBPyConnection, report: str) -> list[str]:
    """One message per source over its reject-rate threshold in the data quality report."""
    if not _table_columns(con, report):
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


def write_run_results(
    path: Path, run: dict, tables: dict[str, pd.DataFrame], model_name: str, model_row: dict
) -> int:
    """Write a finished run in one transaction; returns the model version assigned.

    ``run`` is the ml.runs row, ``tables`` maps ml table name -> rows to append,
    ``model_row`` the ml.model_versions row without its version.  The version is the
    next integer for ``model_name``, taken inside the transaction; the first version of a
    model becomes its ``champion``, later ones its ``challenger``.
    """
    with connect(path, read_only=False) as con:
        con.execute("begin transaction")
        try:
            con.execute("create schema if not exists ml")
            for name, ddl in ML_TABLES.items():
                con.execute(f"create table if not exists ml.{name} ({ddl})")
            _insert_frame(con, "runs", pd.DataFrame([run]))
            for name, frame in tables.items():
                if name not in ML_TABLES:
                    raise WarehouseError(f"unknown ml table {name!r}")
                if len(frame):
                    _insert_frame(con, name, frame)
            version = int(
                con.execute(
                    "select coalesce(max(version), 0) + 1 from ml.model_versions where model_name = ?",
                    [model_name],
                ).fetchall()[0][0]
            )
            _insert_frame(
                con,
                "model_versions",
                pd.DataFrame([{**model_row, "model_name": model_name, "version": version}]),
            )
            n_champions = con.execute(
                "select count(*) from ml.model_aliases where model_name = ? and alias = 'champion'",
                [model_name],
            ).fetchall()[0][0]
            alias = "challenger" if n_champions else "champion"
            con.execute(
                "insert or replace into ml.model_aliases (model_name, alias, version, updated_at) "
                "values (?, ?, ?, ?)",
                [model_name, alias, version, model_row["created_at"]],
            )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return version


def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    """Append a DataFrame to ml.<table>, matching columns by name."""
    con.register("_rows", frame)
    try:
        con.execute(f"insert into ml.{quote_identifier(table)} by name select * from _rows")
    finally:
        con.unregister("_rows")


def read_query(path: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    """Run a read-only query (for tests, reports and the registry CLI)."""
    with connect(path, read_only=True) as con:
        return con.execute(sql, params or []).df()
