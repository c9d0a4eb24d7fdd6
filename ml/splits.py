"""Train/test rows and CV folds, exactly as the warehouse's folds table assigns them.

Two shapes of folds table are understood:

- one row per example with ``split`` and ``fold`` (marts.ad_score_folds): fold f validates on
  the training rows of fold f and trains on the other training rows;
- one row per example and fold with ``split``, ``fold`` and ``role`` (marts.account_health_folds):
  fold f trains on the rows whose role is 'train' and validates on those whose role is
  'valid', which lets time folds keep a gap.

Rows of any other split (e.g. 'gap') are neither trained nor tested on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Splits:
    """Positions into the training frame: refit rows, test rows, and per-fold (train, valid)
    positions into the refit rows (so that X_train[train], X_train[valid] select a fold)."""

    train_rows: np.ndarray
    test_rows: np.ndarray
    cv: list[tuple[np.ndarray, np.ndarray]]

    @property
    def n_folds(self) -> int:
        return len(self.cv)


def build_splits(frame: pd.DataFrame, folds: pd.DataFrame, id_columns: list[str]) -> tuple[Splits, list[str]]:
    """Splits for ``frame`` (rows ordered as they will be used) from the folds table.

    Returns the splits and a list of problems (empty when the folds are usable).
    """
    problems: list[str] = []
    # One row per example (or per example and fold): a repeated key would shift every later
    # row's fold in the merges below.
    key = [*id_columns, "fold"] if "role" in folds.columns else id_columns
    repeated = folds.duplicated(key, keep=False)
    if repeated.any():
        example = folds.loc[repeated, key].iloc[0].to_dict()
        problems.append(f"{int(repeated.sum())} row(s) repeat {', '.join(key)} (e.g. {example})")
        return Splits(np.array([], dtype=int), np.array([], dtype=int), []), problems
    splits_per_id = folds.groupby(id_columns, dropna=False).split.nunique()
    if (splits_per_id > 1).any():
        example = dict(zip(id_columns, np.atleast_1d(splits_per_id[splits_per_id > 1].index[0]), strict=True))
        problems.append(
            f"{int((splits_per_id > 1).sum())} example(s) are in more than one split (e.g. {example})"
        )
        return Splits(np.array([], dtype=int), np.array([], dtype=int), []), problems
    keyed = frame[id_columns].reset_index(drop=True).assign(_position=np.arange(len(frame)))
    per_row = folds.drop_duplicates(id_columns)[[*id_columns, "split"]]
    located = keyed.merge(per_row, on=id_columns, how="left", validate="many_to_one")
    missing = located.split.isna()
    if missing.any():
        example = located.loc[missing, id_columns].iloc[0].to_dict()
        problems.append(f"{int(missing.sum())} row(s) have no entry in the folds table (e.g. {example})")
    split = located.split.to_numpy()
    train_rows = np.flatnonzero(split == "train")
    test_rows = np.flatnonzero(split == "test")
    if len(train_rows) == 0:
        problems.append("the folds table assigns no row to split 'train'")
    if len(test_rows) == 0:
        problems.append("the folds table assigns no row to split 'test'")

    # Position of each training row within the refit rows.
    within = np.full(len(frame), -1)
    within[train_rows] = np.arange(len(train_rows))
    cv: list[tuple[np.ndarray, np.ndarray]] = []
    if "role" in folds.columns:
        roles = keyed.merge(folds[folds.fold.notna()], on=id_columns, how="inner")
        for _, rows in roles.groupby("fold", sort=True):
            train = within[rows.loc[rows.role == "train", "_position"].to_numpy()]
            valid = within[rows.loc[rows.role == "valid", "_position"].to_numpy()]
            cv.append((np.sort(train[train >= 0]), np.sort(valid[valid >= 0])))
    else:
        fold_of = keyed.merge(folds[[*id_columns, "fold"]], on=id_columns, how="left").fold.to_numpy()
        train_folds = fold_of[train_rows]
        if pd.isna(train_folds).any():
            problems.append("the folds table has training rows without a fold")
        else:
            for fold in np.unique(train_folds):
                cv.append((np.flatnonzero(train_folds != fold), np.flatnonzero(train_folds == fold)))
    if len(cv) < 2 and not problems:
        problems.append(f"the folds table defines {len(cv)} fold(s); at least 2 are needed")
    for i, (train, valid) in enumerate(cv):
        if len(train) == 0 or len(valid) == 0:
            problems.append(f"fold {i} has no training or no validation rows")
    return Splits(train_rows, test_rows, cv), problems


def stratified_splits(splits: Splits, y_train: np.ndarray, groups: np.ndarray, seed: int) -> Splits:
    """The same refit and test rows, the refit rows re-dealt into as many folds as the
    warehouse defined, stratified on the label and keeping each group in one fold.

    For an imbalanced classification whose rows are exchangeable; time-ordered data keeps the
    warehouse's time folds (re-dealing weeks would validate on the past of training rows).
    """
    from sklearn.model_selection import StratifiedGroupKFold

    folds = StratifiedGroupKFold(n_splits=splits.n_folds, shuffle=True, random_state=seed)
    cv = [
        (np.sort(train), np.sort(valid))
        for train, valid in folds.split(np.zeros(len(y_train)), y_train.astype(int), groups)
    ]
    return Splits(splits.train_rows, splits.test_rows, cv)
