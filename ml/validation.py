"""Validation of a training snapshot before any model is fit.

Collects every problem (not just the first) so one run tells the user all that is wrong.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging

import numpy as np
import pandas as pd

from ml.config import FeatureSpec, TaskConfig
from ml.errors import DataValidationError
from ml.splits import Splits, build_splits
from ml.warehouse import TrainingSnapshot

log = logging.getLogger("ml.validation")


def required_columns(config: TaskConfig) -> dict[str, list[str]]:
    """Each column the configuration needs from the table -> the keys (dotted paths) that name it."""
    spec = config.data
    needs: dict[str, list[str]] = {}
    for key, columns in (
        ("data.id_columns", spec.id_columns),
        ("data.target", (spec.target,)),
        ("data.critical_columns", spec.critical_columns),
        ("data.segment_columns", spec.segment_columns),
        *((f"features.{group}[{i}]", (f.column,)) for group, i, f in _numbered(config.features)),
        ("fairness.features", config.fairness.features),
    ):
        for column in columns:
            keys = needs.setdefault(column, [])
            if key not in keys:
                keys.append(key)
    return needs


def _numbered(features: tuple[FeatureSpec, ...]) -> list[tuple[str, int, FeatureSpec]]:
    """Each feature with its group and its index in that group's list (as the file has it)."""
    seen: dict[str, int] = {}
    out = []
    for f in features:
        out.append((f.group, seen.get(f.group, 0), f))
        seen[f.group] = seen.get(f.group, 0) + 1
    return out


def validate_training_data(
    snapshot: TrainingSnapshot, config: TaskConfig, *, warehouse_folds: bool = True
) -> tuple[pd.DataFrame, Splits]:
    """Check required columns, nulls in critical columns, unique ids, the label and the folds.

    Returns the frame and its splits; raises :class:`DataValidationError` listing every
    problem otherwise.
    """
    frame = snapshot.frame
    spec = config.data
    ids = list(spec.id_columns)
    problems: list[str] = []

    missing = {c: keys for c, keys in required_columns(config).items() if c not in snapshot.columns}
    if missing:
        named = "; ".join(f"{c} ({', '.join(keys)})" for c, keys in missing.items())
        problems.append(f"missing required column(s): {named} in {config.source}")

    if frame.empty:
        problems.append("the table has no rows")

    for column in dict.fromkeys(spec.critical_columns):
        if column in frame.columns:
            n_null = int(frame[column].isna().sum())
            if n_null:
                problems.append(f"column {column} contains {n_null} null value(s)")

    date = spec.date_column
    if date is not None and date not in snapshot.columns:
        problems.append(f"data.date_column {date}: no such column in {snapshot.table}")
    elif date is not None and date in frame.columns and not pd.api.types.is_datetime64_any_dtype(frame[date]):
        # DuckDB's DATE and TIMESTAMP columns both arrive as datetime64
        problems.append(
            f"data.date_column {date}: not a date or timestamp column (dtype {frame[date].dtype})"
        )

    if all(c in frame.columns for c in ids) and frame.duplicated(ids).any():
        dup = frame.loc[frame.duplicated(ids), ids].iloc[0].to_dict()
        problems.append(f"{', '.join(ids)} is not unique (e.g. {dup})")

    if spec.target in frame.columns and not frame.empty:
        raw = frame[spec.target]
        n_null = int(raw.isna().sum())
        if n_null and spec.target not in spec.critical_columns:  # else reported above
            problems.append(f"column {spec.target} (data.target, the label) contains {n_null} null value(s)")
        try:
            numeric = raw.astype("float64")
        except (TypeError, ValueError):
            numeric = pd.to_numeric(raw, errors="coerce")
        unreadable = numeric.isna() & raw.notna()
        if unreadable.any():
            example = raw[unreadable].iloc[0]
            problems.append(
                f"column {spec.target} (data.target) holds {int(unreadable.sum())} value(s) that are not "
                f"numbers, e.g. {example!r}"
            )
        target = numeric.dropna()
        if not np.isfinite(target).all():
            problems.append(f"column {spec.target} contains non-finite values")
        if target.nunique() < 2:
            kind = "a single class" if config.problem_type == "classification" else "constant"
            problems.append(f"column {spec.target} is {kind}: nothing to learn")
        if config.problem_type == "classification" and not target.isin([0, 1]).all():
            problems.append(f"column {spec.target} must be 0/1 (or boolean) for classification")

    problems += feature_value_problems(frame, config)

    splits = Splits(np.array([], dtype=int), np.array([], dtype=int), [])
    if not frame.empty and all(c in frame.columns for c in ids):
        splits, fold_problems = build_splits(frame, snapshot.folds, ids)
        problems += [f"{spec.folds_table}: {p}" for p in fold_problems]
        # With ``warehouse_folds`` False (``--folds stratified``) the training rows are re-dealt
        # and those folds are checked instead: a single-class warehouse week must not block the
        # option meant for it.
        classified = config.problem_type == "classification" and spec.target in frame.columns
        if classified and warehouse_folds and not fold_problems:
            problems += single_class_folds(frame[spec.target], splits, spec.folds_table, spec.target)
        if classified and not fold_problems and len(splits.test_rows):
            classes = _classes(_label_values(frame[spec.target])[splits.test_rows])
            if len(classes) < 2:
                problems.append(
                    f"{spec.folds_table}: the test split's {len(splits.test_rows)} row(s) hold a single "
                    f"class ({spec.target} = {_named(classes)}): its ROC AUC, the headline metric, "
                    "would be undefined"
                )

    if problems:
        raise DataValidationError(snapshot.table, problems)
    return frame, splits


def feature_value_problems(frame: pd.DataFrame, config: TaskConfig) -> list[str]:
    """Values a feature's transformer would silently turn into missing ones: text in a
    ``passthrough`` (numeric) column, and a configured ``categories`` list that matches none
    of a column's values while other values are present (a typo: `facebok` for `facebook`
    made every facebook row an unknown category). Values outside a list that is otherwise
    matched are allowed (unknown categories) and logged."""
    problems = []
    for group, i, f in _numbered(config.features):
        if f.column not in frame.columns:
            continue
        key = f"features.{group}[{i}]"
        values = frame[f.column]
        if f.transformer == "passthrough" and not (
            pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
        ):
            unreadable = pd.to_numeric(values, errors="coerce").isna() & values.notna()
            if unreadable.any():
                problems.append(
                    f"{key} ({f.name}, passthrough): column {f.column} holds {int(unreadable.sum())} "
                    f"value(s) that are not numbers, e.g. {values[unreadable].iloc[0]!r} (a passthrough "
                    "feature reads numbers; text columns need an encoder)"
                )
        categories = f.params.get("categories") if isinstance(f.params, dict) else None
        if isinstance(categories, list) and categories:
            present = values.dropna()
            # Matched as the encoders match them (equality of values: 1.0 is 1, '1' is not).
            outside = present[~present.isin(categories)]
            unused = [c for c in categories if not present.isin([c]).any()]
            close = {
                str(v): [c for c in unused if _looks_like(str(v), str(c))]
                for v in outside.astype(str).unique()
            }
            close = {v: cs for v, cs in close.items() if cs}
            if close:
                counts = outside.astype(str).value_counts()
                problems.append(
                    f"{key}.params.categories: "
                    + "; ".join(
                        f"{cs[0]!r} never occurs in column {f.column}, while {counts[v]} row(s) hold {v!r}"
                        for v, cs in close.items()
                    )
                    + ": a misspelt category? (each row of it would be an unknown category)"
                )
            elif len(outside):
                log.warning(
                    "%s.params.categories: %d row(s) of %s hold values outside the list (encoded as unknown)",
                    key,
                    len(outside),
                    f.column,
                )
    return problems


def _looks_like(value: str, category: str) -> bool:
    """Whether a data value and a configured category that never occurs are the same word
    written differently (case, blanks, a letter or two)."""
    a, b = value.strip().casefold(), category.strip().casefold()
    return a == b or difflib.SequenceMatcher(None, a, b).ratio() >= 0.8


def single_class_folds(target: pd.Series, splits: Splits, folds_table: str, name: str) -> list[str]:
    """One problem per CV fold whose training or validation rows hold a single class: the
    fold's ROC AUC would be undefined (NaN), and with it the mean CV score that selection and
    tuning compare."""
    y = _label_values(target)[splits.train_rows]
    problems = []
    for i, (train, valid) in enumerate(splits.cv):
        for role, rows in (("training", train), ("validation", valid)):
            classes = _classes(y[rows])
            if len(rows) and len(classes) < 2:
                problems.append(
                    f"{folds_table}: fold {i}'s {role} rows hold a single class ({name} = "
                    f"{_named(classes)}): its score is undefined"
                )
    return problems


def _label_values(target: pd.Series) -> np.ndarray:
    """A 0/1 (or boolean) label as floats, NaN where missing."""
    return pd.to_numeric(target.astype("float64"), errors="coerce").to_numpy()


def _classes(y: np.ndarray) -> np.ndarray:
    return np.unique(y[~np.isnan(y)])


def _named(classes: np.ndarray) -> str:
    return ", ".join(str(int(c)) for c in classes) or "none"


def data_hash(frame: pd.DataFrame, folds: pd.DataFrame) -> str:
    """sha256 of the snapshot's rows (ordered by id) and its folds, with names and dtypes."""
    digest = hashlib.sha256()
    for part in (frame, folds.sort_values(list(folds.columns)).reset_index(drop=True)):
        digest.update(json.dumps([(c, str(t)) for c, t in part.dtypes.items()]).encode())
        digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
    return digest.hexdigest()
