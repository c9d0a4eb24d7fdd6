"""Cross-validation on the folds the warehouse assigned (marts.*_folds).

Every fold's model is scored on its own validation rows and the mean over folds is the
selection score: never the last fold's model, never the test split.  The out-of-fold
predictions are kept for threshold choice and calibration.  Each fold's fit and prediction
are timed: the prediction time per 1,000 rows is the inference-speed criterion of selection
(``training.max_predict_ms_per_1000_rows``).
"""

from __future__ import annotations

import time
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
    # Wall seconds of each fold's fit and of its prediction of the validation rows.
    fit_seconds: list[float] = field(default_factory=list)
    predict_seconds: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def predict_ms_per_1000_rows(self) -> float | None:
        """Median over folds of the prediction time per 1,000 validation rows (None if untimed)."""
        per_row = [s / n for s, n in zip(self.predict_seconds, self.n_valid, strict=True) if n > 0]
        return float(np.median(per_row)) * 1e6 if per_row else None


@dataclass(frozen=True)
class CommonRounds:
    """Score every fold's booster at one number of rounds, chosen once all folds are fitted.

    A booster that stops early on its validation fold and is scored at its best round there
    has had that round chosen on the rows it is scored on: its CV score is optimistic, and
    the refit (one number of rounds for all the rows) is a model no fold scored.  With this,
    ``choose()`` (called after the last fold) returns the rounds the refit will train, and
    each fold is predicted with its first that many rounds (``predict(model, X, rounds)``).
    """

    choose: Callable[[], int]
    predict: Callable[[Any, np.ndarray, int], np.ndarray]


def cross_validate(
    make_model: Callable[[], Any],
    X: np.ndarray,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    metric: str,
    problem_type: str,
    clip: tuple[float, float] | None = None,
    fit: Callable[[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray], Any] | None = None,
    rounds: CommonRounds | None = None,
) -> FoldScores:
    """Fit a fresh model per fold and score it on that fold's validation rows.

    ``fit(model, X_train, y_train, X_valid, y_valid)`` overrides the plain ``model.fit`` (the
    tuner passes one that reports boosting rounds to Optuna for pruning); with ``rounds`` the
    folds are scored after the last fit, at the common number of rounds (:class:`CommonRounds`).
    """
    n_train, n_valid, fit_seconds = [], [], []
    kept: list[Any] = []  # with `rounds`: the fold models, scored after the last fit
    done: list[_FoldPrediction] = []
    for train_idx, valid_idx in folds:
        model = make_model()
        started = time.perf_counter()
        if fit is None:
            model.fit(X[train_idx], y[train_idx])
        else:
            fit(model, X[train_idx], y[train_idx], X[valid_idx], y[valid_idx])
        fit_seconds.append(time.perf_counter() - started)
        n_train.append(len(train_idx))
        n_valid.append(len(valid_idx))
        if rounds is None:
            done.append(_FoldPrediction.of(model, X[valid_idx], problem_type, clip))
        else:
            kept.append(model)
    if rounds is not None:
        n_rounds, at_rounds = rounds.choose(), rounds.predict

        def first_rounds(model: Any, X_valid: np.ndarray) -> np.ndarray:
            return at_rounds(model, X_valid, n_rounds)

        done = [
            _FoldPrediction.of(model, X[valid_idx], problem_type, clip, first_rounds)
            for model, (_, valid_idx) in zip(kept, folds, strict=True)
        ]
    values, predict_seconds = [], []
    oof = np.full(len(y), np.nan)
    for fold, (_, valid_idx) in zip(done, folds, strict=True):
        oof[valid_idx] = fold.pred
        values.append(score(metric, y[valid_idx], fold.pred))
        predict_seconds.append(fold.seconds)
    return FoldScores(metric, values, n_train, n_valid, oof, fit_seconds, predict_seconds)


@dataclass(frozen=True)
class _FoldPrediction:
    pred: np.ndarray
    seconds: float

    @classmethod
    def of(
        cls,
        model: Any,
        X_valid: np.ndarray,
        problem_type: str,
        clip: tuple[float, float] | None,
        raw: Callable[[Any, np.ndarray], np.ndarray] | None = None,
    ) -> _FoldPrediction:
        started = time.perf_counter()
        if raw is None:
            pred = predict(model, X_valid, problem_type, clip)
        else:
            pred = np.asarray(raw(model, X_valid), dtype=float)
            if problem_type == "regression" and clip is not None:
                pred = np.clip(pred, *clip)
        return cls(pred, time.perf_counter() - started)


def within_latency(selection: dict[str, FoldScores], limit_ms: float | None) -> dict[str, FoldScores]:
    """The candidates whose median prediction time per 1,000 validation rows is at most
    ``limit_ms`` (every candidate when there is no limit)."""
    if limit_ms is None:
        return dict(selection)
    return {
        name: scores
        for name, scores in selection.items()
        if scores.predict_ms_per_1000_rows is not None and scores.predict_ms_per_1000_rows <= limit_ms
    }


def time_predictions(
    model: Any,
    X: np.ndarray,
    problem_type: str,
    clip: tuple[float, float] | None = None,
    repeats: int = 3,
) -> float:
    """Median wall time of ``repeats`` predictions of ``X``, in milliseconds per 1,000 rows."""
    if len(X) == 0:
        raise ValueError("no rows to time the predictions on")
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        predict(model, X, problem_type, clip)
        seconds.append(time.perf_counter() - started)
    return float(np.median(seconds)) / len(X) * 1e6
