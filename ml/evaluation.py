"""Regression metrics, overall and per segment."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

# metric name -> (function, lower_is_better)
REGRESSION_METRICS = {
    "rmse": (lambda y, p: float(np.sqrt(mean_squared_error(y, p))), True),
    "mae": (lambda y, p: float(mean_absolute_error(y, p)), True),
    "r2": (lambda y, p: float(r2_score(y, p)) if len(y) > 1 else float("nan"), False),
}


def score(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return REGRESSION_METRICS[metric][0](y_true, y_pred)


def segment_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, segments: dict[str, np.ndarray], split: str
) -> pd.DataFrame:
    """Long-format rows (split, segment, metric, value, n_rows): 'overall' and '<column>=<value>'."""
    rows = []
    groups: list[tuple[str, np.ndarray]] = [("overall", np.ones(len(y_true), dtype=bool))]
    for column, values in segments.items():
        for value in sorted(pd.unique(values).tolist(), key=str):
            groups.append((f"{column}={value}", values == value))
    for segment, mask in groups:
        for metric in REGRESSION_METRICS:
            rows.append(
                {
                    "split": split,
                    "segment": segment,
                    "metric": metric,
                    "value": score(metric, y_true[mask], y_pred[mask]),
                    "n_rows": int(mask.sum()),
                }
            )
    return pd.DataFrame(rows)
