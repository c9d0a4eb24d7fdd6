"""Cross-validation on the folds the warehouse assigned (marts.*_folds).

Every fold's model is scored on its own validation rows and the mean over folds is the
selection score: never the last fold's model, never the test split.  The out-of-fold
predictions are kept for threshold choice and calibration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ml.evaluation import score


def predict(
    model: Any, X: np.ndarray, problem_type: str, clip: tuple[float, float] | None = None
) -> np.ndarray:
    """Scores for rows: the regression prediction (clipped to the label's range) or P(class 1)."""
    if problem_type == "classification":
        return np.asarray(model.predict_proba(X))[:, 1]
    pred = np.asarray(model.predict(X), dtype=float)
    return np.clip(pred, *clip) if clip is not None else pred


@dataclass(frozen=True)
class FoldScores:
    metric: str
    values: list[float]
    n_train: list[int]
    n_valid: list[int]
    oof: np.ndarray = field(repr=False)  # out-of-fold predictions (NaN where never validated)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))


def cross_validate(
    make_model: Callable[[], Any],
    X: np.ndarray,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    metric: str,
    problem_type: str,
    clip: tuple[float, float] | None = None,
    fit: Callable[[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray], Any] | None = None,
) -> FoldScores:
    """Fit a fresh model per fold and score it on that fold's validation rows.

    ``fit(model, X_train, y_train, X_valid, y_valid)`` overrides the plain ``model.fit`` (the
    tuner passes one that reports boosting rounds to Optuna for pruning).
    """
    values, n_train, n_valid = [], [], []
    oof = np.full(len(y), np.nan)
    for train_idx, valid_idx in folds:
        model = make_model()
        if fit is None:
            model.fit(X[train_idx], y[train_idx])
        else:
            fit(model, X[train_idx], y[train_idx], X[valid_idx], y[valid_idx])
        pred = predict(model, X[valid_idx], problem_type, clip)
        oof[valid_idx] = pred
        values.append(score(metric, y[valid_idx], pred))
        n_train.append(len(train_idx))
        n_valid.append(len(valid_idx))
    return FoldScores(metric, values, n_train, n_valid, oof)
