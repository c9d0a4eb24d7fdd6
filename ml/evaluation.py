"""Metrics for both problem types, overall and per segment.

Classification metrics take predicted probabilities of the positive class.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE with equal-width probability bins: sum over bins of |mean(y) - mean(p)| x share."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += abs(y[mask].mean() - p[mask].mean()) * mask.mean()
    return float(total)


def _two_classes(fn: Callable[[np.ndarray, np.ndarray], float]) -> Callable[[np.ndarray, np.ndarray], float]:
    def wrapped(y: np.ndarray, p: np.ndarray) -> float:
        return float(fn(y, p)) if len(np.unique(y)) == 2 else float("nan")

    return wrapped


# name -> (function(y_true, prediction), lower_is_better)
REGRESSION_METRICS: dict[str, tuple[Callable[[np.ndarray, np.ndarray], float], bool]] = {
    "rmse": (lambda y, p: float(np.sqrt(mean_squared_error(y, p))), True),
    "mae": (lambda y, p: float(mean_absolute_error(y, p)), True),
    # R2 of a constant label is undefined (scikit-learn reports 0.0 for it): NaN, like one row.
    "r2": (lambda y, p: float(r2_score(y, p)) if len(y) > 1 and np.ptp(y) > 0 else float("nan"), False),
}
CLASSIFICATION_METRICS: dict[str, tuple[Callable[[np.ndarray, np.ndarray], float], bool]] = {
    "roc_auc": (_two_classes(roc_auc_score), False),
    "pr_auc": (_two_classes(average_precision_score), False),
    "log_loss": (lambda y, p: float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1])), True),
    "brier": (lambda y, p: float(brier_score_loss(y, p)), True),
    "ece": (expected_calibration_error, True),
}


def metrics_for(problem_type: str) -> dict[str, tuple[Callable[[np.ndarray, np.ndarray], float], bool]]:
    return REGRESSION_METRICS if problem_type == "regression" else CLASSIFICATION_METRICS


def score(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    table = REGRESSION_METRICS if metric in REGRESSION_METRICS else CLASSIFICATION_METRICS
    return table[metric][0](y_true, y_pred)


def lower_is_better(metric: str) -> bool:
    table = REGRESSION_METRICS if metric in REGRESSION_METRICS else CLASSIFICATION_METRICS
    return table[metric][1]


def best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The probability threshold maximising F1 (chosen on validation predictions)."""
    order = np.argsort(-p)
    y_sorted, p_sorted = y[order], p[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(1 - y_sorted)
    positives = max(1, int(y.sum()))
    f1 = 2 * tp / (tp + fp + positives)
    # Only cut between distinct probabilities.
    last_of_value = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    best = int(np.argmax(np.where(last_of_value, f1, -1)))
    return float(p_sorted[best])


def threshold_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """Precision, recall and F1 at ``threshold``; a rate without its denominator (recall of a
    segment with no positives, precision with nothing flagged) is NaN, not 0: the same group's
    true positive rate in ml.fairness is NaN too."""
    flagged = p >= threshold
    tp = float((flagged & (y == 1)).sum())
    n_flagged, n_positive = float(flagged.sum()), float((y == 1).sum())
    nan = float("nan")
    precision = tp / n_flagged if n_flagged else nan
    recall = tp / n_positive if n_positive else nan
    # 2 TP / (2 TP + FP + FN): defined (0) with nothing flagged, undefined with no positives.
    f1 = 2 * tp / (n_flagged + n_positive) if n_positive else nan
    return {
        "threshold": threshold,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "flagged_share": float(flagged.mean()),
    }


MISSING_GROUP = "<missing>"


def group_labels(values: pd.Series) -> np.ndarray:
    """A segment column as group names: str of each value, missing values as "<missing>".

    pandas 3 keeps a missing value missing through ``astype(str)`` (NaN, not "nan"), and NaN
    equals nothing, so such rows would fall out of every group; here they form their own.
    """
    labels = values.astype(object).where(values.notna(), MISSING_GROUP)
    return labels.astype(str).to_numpy(dtype=object)


def segment_metrics(
    problem_type: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    segments: dict[str, np.ndarray],
    split: str,
    threshold: float | None = None,
) -> pd.DataFrame:
    """Long rows (split, segment, metric, value, n_rows): 'overall' and '<column>=<value>'."""
    rows = []
    groups: list[tuple[str, np.ndarray]] = [("overall", np.ones(len(y_true), dtype=bool))]
    for column, values in segments.items():
        for value in sorted(pd.unique(values).tolist(), key=str):
            groups.append((f"{column}={value}", values == value))
    for segment, mask in groups:
        found = {name: fn(y_true[mask], y_pred[mask]) for name, (fn, _) in metrics_for(problem_type).items()}
        if threshold is not None:
            found.update(threshold_metrics(y_true[mask], y_pred[mask], threshold))
        if problem_type == "classification":
            found["positive_rate"] = float(y_true[mask].mean())
            found["mean_prediction"] = float(y_pred[mask].mean())
        for metric, value in found.items():
            rows.append(
                {
                    "split": split,
                    "segment": segment,
                    "metric": metric,
                    "value": value,
                    "n_rows": int(mask.sum()),
                }
            )
    return pd.DataFrame(rows)
