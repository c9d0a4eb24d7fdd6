"""Explanations and drift: feature importance, per-prediction contributions, stability index.

- Gain importance comes from the booster itself; permutation importance is the rise of the
  holdout loss when one feature column is shuffled (``ml.feature_importance``).
- Contributions are the boosters' native SHAP values (margin space for classifiers); scoring
  keeps each row's ``top_k`` largest by absolute value (``ml.*_explanations``).
- Drift: the training snapshot's distribution of every model feature is summarised as
  quantile bins in the artifact's manifest; scoring compares the scored rows with it by the
  population stability index, PSI = sum((a - e) * ln(a / e)) over bins (``ml.drift``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ml.evaluation import lower_is_better, score

N_BINS = 10
_EPS = 1e-4  # floor on bin shares, so an empty bin gives a large but finite PSI


def gain_importance(gain: np.ndarray, feature_names: list[str]) -> pd.DataFrame:
    total = float(gain.sum()) or 1.0
    return pd.DataFrame(
        {"feature": feature_names, "importance_type": "gain", "value": gain / total, "value_std": 0.0}
    )


def permutation_importance(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    metric: str,
    feature_names: list[str],
    seed: int,
    n_repeats: int = 3,
) -> pd.DataFrame:
    """Loss increase (metric oriented so that larger = more important) per shuffled column."""
    rng = np.random.default_rng(seed)
    sign = 1.0 if lower_is_better(metric) else -1.0
    base = score(metric, y, predict(X))
    rows = []
    shuffled = X.copy()
    for j, name in enumerate(feature_names):
        column = X[:, j].copy()
        drops = []
        for _ in range(n_repeats):
            shuffled[:, j] = rng.permutation(column)
            drops.append(sign * (score(metric, y, predict(shuffled)) - base))
        shuffled[:, j] = column
        rows.append(
            {
                "feature": name,
                "importance_type": f"permutation_{metric}",
                "value": float(np.mean(drops)),
                "value_std": float(np.std(drops)),
            }
        )
    return pd.DataFrame(rows)


def feature_bins(X: np.ndarray, feature_names: list[str]) -> dict[str, dict[str, Any]]:
    """Per feature: its point masses, the inner bin edges of the other values, the training
    share per bin, and the number of training rows.

    A value holding at least 1/N_BINS of the training rows (a category code, a 0/1 flag, a
    constant, the zeros of a count) is a bin of its own (``points``): with deciles alone it
    shared a bin with its neighbours, so a shift from one category to another, or every flag
    turning on, left the PSI at 0.  The other values are cut at their quantiles (``edges``,
    unique); a value never seen in training falls in the interval bins, which stay empty for a
    feature whose values are all point masses.  Missing values get the last bin."""
    out = {}
    for j, name in enumerate(feature_names):
        column = X[:, j]
        finite = column[np.isfinite(column)]
        points = _point_masses(finite)
        rest = finite[~np.isin(finite, points)]
        n_rest_bins = max(2, N_BINS - len(points))
        edges = (
            np.unique(np.quantile(rest, np.linspace(0, 1, n_rest_bins + 1)[1:-1]))
            if len(rest)
            else np.empty(0)
        )
        out[name] = {
            "points": [float(p) for p in points],
            "edges": [float(e) for e in edges],
            "shares": _shares(column, points, edges).tolist(),
            "n_rows": len(column),
        }
    return out


def _point_masses(finite: np.ndarray) -> np.ndarray:
    if not len(finite):
        return np.empty(0)
    values, counts = np.unique(finite, return_counts=True)
    return values[counts >= len(finite) / N_BINS]


def _shares(column: np.ndarray, points: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Shares of: each point mass, each interval between the edges, missing values."""
    missing = ~np.isfinite(column)
    values = column[~missing]
    at_point = np.isin(values, points)
    counts = np.concatenate(
        [
            np.bincount(np.searchsorted(points, values[at_point]), minlength=len(points)),
            np.bincount(np.searchsorted(edges, values[~at_point], side="right"), minlength=len(edges) + 1),
            [missing.sum()],
        ]
    ).astype(float)
    return counts / max(1.0, counts.sum())


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e, a = np.maximum(expected, _EPS), np.maximum(actual, _EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_rows(
    bins: dict[str, dict[str, Any]],
    X: np.ndarray,
    feature_names: list[str],
    threshold: float,
    min_rows: int = 1,
) -> pd.DataFrame:
    """PSI of each feature of ``X`` against the training bins; ``is_drifted`` above threshold,
    or missing (not judged) when the comparison rests on fewer than ``min_rows`` effective
    rows: under no drift PSI ~ (bins - 1) x (1 / training rows + 1 / scored rows), so a small
    scored batch, or bins built from few training rows, give mostly noise.  The effective
    rows are 1 / (1 / training rows + 1 / scored rows): ``min_rows`` scored rows against an
    exact reference (bins of a manifest without its training row count count as exact)."""
    rows = []
    for j, name in enumerate(feature_names):
        spec = bins.get(name)
        if spec is None:
            continue
        points = np.asarray(spec.get("points", []), dtype=float)
        actual = _shares(X[:, j], points, np.asarray(spec["edges"], dtype=float))
        value = psi(np.asarray(spec["shares"], dtype=float), actual)
        reference = spec.get("n_rows")
        effective = len(X) if not reference else 1.0 / (1.0 / reference + 1.0 / max(1, len(X)))
        rows.append(
            {
                "feature": name,
                "psi": value,
                "threshold": threshold,
                "is_drifted": (value > threshold) if effective >= min_rows else None,
                "n_rows": len(X),
            }
        )
    out = pd.DataFrame(rows)
    if len(out):
        out["is_drifted"] = out["is_drifted"].astype("boolean")
    return out


def top_contributions(
    contributions: np.ndarray, feature_names: list[str], top_k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row index, feature name, contribution) of each row's ``top_k`` largest |SHAP| values
    (the bias column, last, is dropped); equal |values| rank in feature order (a stable sort:
    numpy's default one orders ties by its SIMD kernel, which differs between machines)."""
    values = contributions[:, : len(feature_names)]
    k = min(top_k, values.shape[1])
    top = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(len(values)), k)
    cols = top.ravel()
    names = np.asarray(feature_names, dtype=object)[cols]
    return rows, names, values[rows, cols]


def safe_gain(candidate: Any, model: Any, feature_names: list[str]) -> pd.DataFrame:
    if candidate.gain is None:
        return pd.DataFrame(columns=["feature", "importance_type", "value", "value_std"])
    return gain_importance(candidate.gain(model, len(feature_names)), feature_names)
