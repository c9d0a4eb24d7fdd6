"""Validation of a training snapshot before any model is fit.

Collects every problem (not just the first) so one run tells the user all that is wrong.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.config import TaskConfig
from ml.errors import DataValidationError
from ml.warehouse import TrainingSnapshot


def validate_training_data(snapshot: TrainingSnapshot, config: TaskConfig) -> pd.DataFrame:
    """Check required columns, nulls in critical columns, the label and the folds.

    Returns the frame ready for training (fold columns named ``split`` and ``fold``);
    raises :class:`DataValidationError` listing every problem otherwise.
    """
    frame = snapshot.frame
    spec = config.data
    problems: list[str] = []

    required = [
        spec.id_column,
        spec.target,
        *spec.critical_columns,
        *spec.segment_columns,
        *config.input_columns(),
    ]
    missing = [c for c in dict.fromkeys(required) if c not in snapshot.columns]
    if missing:
        problems.append(f"missing required column(s): {', '.join(missing)}")

    if frame.empty:
        problems.append("the table has no rows")

    for column in dict.fromkeys(spec.critical_columns):
        if column in frame.columns:
            n_null = int(frame[column].isna().sum())
            if n_null:
                problems.append(f"column {column} contains {n_null} null value(s)")

    if spec.id_column in frame.columns and frame[spec.id_column].duplicated().any():
        dup = frame.loc[frame[spec.id_column].duplicated(), spec.id_column].iloc[0]
        problems.append(f"column {spec.id_column} is not unique (e.g. {dup!r})")

    if spec.target in frame.columns and not frame.empty:
        target = pd.to_numeric(frame[spec.target], errors="coerce")
        if not np.isfinite(target.dropna()).all():
            problems.append(f"column {spec.target} contains non-finite values")
        if config.problem_type == "regression" and target.nunique() < 2:
            problems.append(f"column {spec.target} is constant: nothing to learn")

    if "_split" in frame.columns and not frame.empty:
        no_fold = frame["_split"].isna()
        if no_fold.any():
            example = frame.loc[no_fold, spec.id_column].iloc[0]
            problems.append(
                f"{int(no_fold.sum())} row(s) have no entry in {spec.folds_table} "
                f"(e.g. {spec.id_column} = {example!r})"
            )
        splits = set(frame["_split"].dropna())
        if not frame.empty and "train" not in splits:
            problems.append(f"{spec.folds_table} assigns no row to split 'train'")
        if not frame.empty and "test" not in splits:
            problems.append(f"{spec.folds_table} assigns no row to split 'test'")
        folds = frame.loc[frame["_split"] == "train", "_fold"]
        if folds.isna().any():
            problems.append(f"{spec.folds_table} has train rows without a fold")
        elif folds.nunique() < 2 and "train" in splits:
            problems.append(f"{spec.folds_table} needs at least 2 train folds, found {folds.nunique()}")

    if problems:
        raise DataValidationError(snapshot.table, problems)
    return frame.rename(columns={"_split": "split", "_fold": "fold"})
