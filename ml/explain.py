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


def feature_bins(X: np.ndarray, feature_names: list[str]) -> dict[str, dict[str, list[float]]]:
    """Per feature: inner bin edges (training deciles, unique) and the training share per bin.

    Missing values get their own bin (the last share)."""
    out = {}
    for j, name in enumerate(feature_names):
        column = X[:, j]
        finite = column[np.isfinite(column)]
        edges = (
            np.unique(np.quantile(finite, np.linspace(0, 1, N_BINS + 1)[1:-1]))
            if len(finite)
            else np.empty(0)
        )
        out[name] = {
            "edges": [float(e) for e in edges],
            "shares": _shares(column, np.asarray(edges, dtype=float)).tolist(),
        }
    return out


def _shares(column: np.ndarray, edges: np.ndarray) -> np.ndarray:
    missing = ~np.isfinite(column)
    counts = np.bincount(
        np.searchsorted(edges, column[~missing], side="right"), minlength=len(edges) + 1
    ).astype(float)
    counts = np.append(counts, float(missing.sum()))
    return counts / max(1.0, counts.sum())


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e, a = np.maximum(expected, _EPS), np.maximum(actual, _EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_rows(
    bins: dict[str, dict[str, list[float]]],
    X: np.ndarray,
    feature_names: list[str],
    threshold: float,
    min_rows: int = 1,
) -> pd.DataFrame:
    """PSI of each feature of ``X`` against the training bins; ``is_drifted`` above threshold,
    or missing (not judged) when ``X`` has fewer than ``min_rows`` rows: a small sample's bin
    shares are mostly noise (PSI ~ (bins - 1) / rows under no drift)."""
    judged = len(X) >= min_rows
    rows = []
    for j, name in enumerate(feature_names):
        spec = bins.get(name)
        if spec is None:
            continue
        actual = _shares(X[:, j], np.asarray(spec["edges"], dtype=float))
        value = psi(np.asarray(spec["shares"], dtype=float), actual)
        rows.append(
            {
                "feature": name,
                "psi": value,
                "threshold": threshold,
                "is_drifted": (value > threshold) if judged else None,
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
    (the bias column, last, is dropped)."""
    values = contributions[:, : len(feature_names)]
    k = min(top_k, values.shape[1])
    top = np.argsort(-np.abs(values), axis=1)[:, :k]
    rows = np.repeat(np.arange(len(values)), k)
    cols = top.ravel()
    names = np.asarray(feature_names, dtype=object)[cols]
    return rows, names, values[rows, cols]


def safe_gain(candidate: Any, model: Any, feature_names: list[str]) -> pd.DataFrame:
    if candidate.gain is None:
        return pd.DataFrame(columns=["feature", "importance_type", "value", "value_std"])
    return gain_importance(candidate.gain(model, len(feature_names)), feature_names)
