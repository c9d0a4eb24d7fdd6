"""Calibration of classifiers and prediction intervals for regressors.

Classification: isotonic and sigmoid (Platt) calibration are compared on the out-of-fold
predictions, each fitted on the other folds and scored on the held-out one (so the
comparison is itself out-of-sample); the one with the lower Brier score is kept, refitted on
all out-of-fold predictions, and applied to the test predictions.  Both are stored as plain
numbers (thresholds, or slope and intercept), so loading runs no code.

Regression: split-conformal intervals from the absolute out-of-fold residuals: for coverage
1 - alpha the half-width is the ceil((n + 1)(1 - alpha)) / n quantile of |y - prediction|.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from ml.evaluation import expected_calibration_error, score

METHODS = ("isotonic", "sigmoid")
INTERVAL_LEVELS = (0.8, 0.9)


@dataclass(frozen=True)
class Calibrator:
    """A fitted calibration map, as data: ``apply`` needs nothing but numpy."""

    method: str
    params: dict[str, list[float]]

    def apply(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=float)
        if self.method == "isotonic":
            return np.interp(p, self.params["x"], self.params["y"])
        logit = np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6)))
        a, b = self.params["coef"][0], self.params["intercept"][0]
        return 1.0 / (1.0 + np.exp(-(a * logit + b)))

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "params": self.params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        if data["method"] not in METHODS:
            raise ValueError(f"unknown calibration method {data['method']!r}")
        return cls(data["method"], {k: [float(x) for x in v] for k, v in data["params"].items()})


def fit_calibrator(method: str, p: np.ndarray, y: np.ndarray) -> Calibrator:
    if method == "isotonic":
        # Bounded away from 0 and 1: a step whose out-of-fold rows were all of one class
        # would otherwise serve a probability of exactly 0 or 1 (certainty from a handful of
        # rows), and one such holdout row of the other class costs -log(1e-7) = 16 in log
        # loss.  No estimate from n rows is surer than 1 / (n + 2) (Laplace's rule).
        eps = 1.0 / (len(p) + 2)
        iso = IsotonicRegression(out_of_bounds="clip", y_min=eps, y_max=1.0 - eps).fit(p, y)
        return Calibrator(method, {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()})
    logit = np.log(np.clip(p, 1e-6, 1 - 1e-6) / (1 - np.clip(p, 1e-6, 1 - 1e-6))).reshape(-1, 1)
    lr = LogisticRegression(C=1e6).fit(logit, y)
    return Calibrator(method, {"coef": [float(lr.coef_[0, 0])], "intercept": [float(lr.intercept_[0])]})


def _scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {
        "brier": score("brier", y, p),
        "log_loss": score("log_loss", y, p),
        "ece": expected_calibration_error(y, p),
    }


def calibrate(
    oof: np.ndarray,
    y_train: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    p_test: np.ndarray,
    y_test: np.ndarray,
) -> tuple[Calibrator, pd.DataFrame]:
    """Pick isotonic or sigmoid on out-of-fold predictions; rows for ml.calibration."""
    seen = ~np.isnan(oof)
    rows = []
    cross_fitted: dict[str, np.ndarray] = {}
    for method in METHODS:
        calibrated = np.full(len(oof), np.nan)
        for _, valid in folds:
            valid = valid[seen[valid]]
            others = np.setdiff1d(np.flatnonzero(seen), valid)
            if len(valid) and len(np.unique(y_train[others])) == 2:
                calibrated[valid] = fit_calibrator(method, oof[others], y_train[others]).apply(oof[valid])
        cross_fitted[method] = calibrated
    usable = seen & ~np.isnan(cross_fitted["isotonic"]) & ~np.isnan(cross_fitted["sigmoid"])
    before_oof = _scores(y_train[usable], oof[usable])
    after = {m: _scores(y_train[usable], cross_fitted[m][usable]) for m in METHODS}
    chosen = min(METHODS, key=lambda m: after[m]["brier"])
    calibrator = fit_calibrator(chosen, oof[seen], y_train[seen])
    test_after = _scores(y_test, calibrator.apply(p_test))
    test_before = _scores(y_test, p_test)
    for metric, value in before_oof.items():
        rows.append({"method": "none", "split": "cv", "metric": metric, "value": value, "is_chosen": False})
    for method in METHODS:
        for metric, value in after[method].items():
            rows.append(
                {
                    "method": method,
                    "split": "cv",
                    "metric": metric,
                    "value": value,
                    "is_chosen": method == chosen,
                }
            )
    for metric, value in test_before.items():
        rows.append({"method": "none", "split": "test", "metric": metric, "value": value, "is_chosen": False})
    for metric, value in test_after.items():
        rows.append({"method": chosen, "split": "test", "metric": metric, "value": value, "is_chosen": True})
    return calibrator, pd.DataFrame(rows)


def conformal_half_widths(
    oof: np.ndarray, y_train: np.ndarray, levels: tuple[float, ...] = INTERVAL_LEVELS
) -> dict[str, float]:
    """Split-conformal half-widths from the absolute out-of-fold residuals: the
    ceil((n + 1) x level)-th smallest. With too few residuals for that rank (n < level / (1 -
    level), e.g. under 9 at 90%) no finite width has the coverage, so the width is infinite
    (a clipped score's interval is then its whole range)."""
    seen = ~np.isnan(oof)
    residuals = np.sort(np.abs(y_train[seen] - oof[seen]))
    n = len(residuals)
    widths = {}
    for level in levels:
        rank = int(np.ceil((n + 1) * level))
        widths[f"{level:.2f}"] = float(residuals[rank - 1]) if rank <= n else float("inf")
    return widths


def interval_rows(
    half_widths: dict[str, float], pred_test: np.ndarray, y_test: np.ndarray, clip: tuple[float, float] | None
) -> pd.DataFrame:
    rows = []
    for level, half in half_widths.items():
        low, high = pred_test - half, pred_test + half
        if clip is not None:
            low, high = np.clip(low, *clip), np.clip(high, *clip)
        covered = (y_test >= low) & (y_test <= high)
        name = f"interval_{round(float(level) * 100)}"
        rows += [
            {
                "method": "conformal",
                "split": "cv",
                "metric": f"{name}_half_width",
                "value": half,
                "is_chosen": True,
            },
            {
                "method": "conformal",
                "split": "test",
                "metric": f"{name}_coverage",
                "value": float(covered.mean()),
                "is_chosen": True,
            },
            {
                "method": "conformal",
                "split": "test",
                "metric": f"{name}_mean_width",
                "value": float((high - low).mean()),
                "is_chosen": True,
            },
        ]
    return pd.DataFrame(rows)


def reliability_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    return pd.DataFrame(
        [
            {
                "bin": b,
                "mean_prediction": float(p[which == b].mean()),
                "observed_rate": float(y[which == b].mean()),
                "n_rows": int((which == b).sum()),
            }
            for b in range(bins)
            if (which == b).any()
        ]
    )
