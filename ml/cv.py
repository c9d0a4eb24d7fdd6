"""Cross-validation on the folds the warehouse assigned (marts.*_folds).

Every fold's model is scored on its own validation rows and the mean over folds is the
selection score: never the last fold's model, never the test split.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ml.evaluation import score


@dataclass(frozen=True)
class FoldScores:
    metric: str
    values: list[float]
    n_train: list[int]
    n_valid: list[int]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))


def fold_indices(folds: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) row indices for each fold id, in fold order."""
    return [(np.flatnonzero(folds != f), np.flatnonzero(folds == f)) for f in np.unique(folds)]


def cross_validate(
    make_model: Callable[[], Any],
    X: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    metric: str,
    clip: tuple[float, float] | None,
) -> FoldScores:
    """Fit a fresh model per fold and score it on that fold's validation rows."""
    values, n_train, n_valid = [], [], []
    for train_idx, valid_idx in fold_indices(folds):
        model = make_model()
        model.fit(X[train_idx], y[train_idx])
        pred = model.predict(X[valid_idx])
        if clip is not None:
            pred = np.clip(pred, *clip)
        values.append(score(metric, y[valid_idx], pred))
        n_train.append(len(train_idx))
        n_valid.append(len(valid_idx))
    return FoldScores(metric, values, n_train, n_valid)
