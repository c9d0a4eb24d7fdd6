"""Fairness checks on the holdout: the model's behaviour per group of each segment feature.

Per group: rows, mean prediction, and RMSE (regression) or positive rate and true positive
rate at the decision threshold (classification).  Per feature, the gaps between the groups
with at least ``min_group_size`` rows: the demographic-parity difference (spread of mean
predictions, or of positive rates) and, for classification, the equal-opportunity difference
(spread of TPRs) or, for regression, the error gap (spread of RMSEs); each against its
configured limit.  A TPR is a rate over the group's positives, so the equal-opportunity gap
takes only the groups with at least ``min_group_size`` positives: a group of 60 rows with 3
positives has a TPR of 0, 1/3, 2/3 or 1, and would fail any limit by chance.  A gap with
fewer than two such groups is written with value NaN and ``passes`` null: not evaluated.
Promotion can require every evaluated check to pass and at least one to have been evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class FairnessSpec:
    features: tuple[str, ...]
    max_parity_difference: float
    max_opportunity_difference: float
    max_error_gap: float
    min_group_size: int


def fairness_rows(
    problem_type: str,
    y: np.ndarray,
    pred: np.ndarray,
    groups: dict[str, np.ndarray],
    spec: FairnessSpec,
    threshold: float | None = None,
) -> pd.DataFrame:
    rows: list[dict[str, object]] = []
    for feature, values in groups.items():
        per_group: dict[str, dict[str, float]] = {}
        for group in sorted(pd.unique(values).tolist(), key=str):
            mask = values == group
            stats = {"n_rows": float(mask.sum()), "mean_prediction": float(pred[mask].mean())}
            if problem_type == "regression":
                stats["rmse"] = float(np.sqrt(np.mean((y[mask] - pred[mask]) ** 2)))
            else:
                flagged = pred[mask] >= (0.5 if threshold is None else threshold)
                positives = y[mask] == 1
                stats["n_positives"] = float(positives.sum())
                stats["positive_rate"] = float(flagged.mean())
                stats["true_positive_rate"] = (
                    float(flagged[positives].mean()) if positives.any() else float("nan")
                )
            per_group[str(group)] = stats
            for metric, value in stats.items():
                if metric not in ("n_rows", "n_positives"):
                    rows.append(
                        {
                            "feature": feature,
                            "group": str(group),
                            "metric": metric,
                            "value": value,
                            "n_rows": int(mask.sum()),
                            "limit": None,
                            "passes": None,
                        }
                    )
        # With fewer than two large groups a gap cannot be measured: its row is still written,
        # value NaN and passes null ("not evaluated"), so the gate knows it was not judged.
        large = {g: s for g, s in per_group.items() if s["n_rows"] >= spec.min_group_size}
        checks = [
            (
                "demographic_parity_difference",
                "mean_prediction" if problem_type == "regression" else "positive_rate",
                spec.max_parity_difference,
            )
        ]
        if problem_type == "regression":
            checks.append(("error_gap", "rmse", spec.max_error_gap))
        else:
            checks.append(
                ("equal_opportunity_difference", "true_positive_rate", spec.max_opportunity_difference)
            )
        for name, metric, limit in checks:
            # The TPR's own sample is the group's positives (see the module docstring).
            members = {
                g: s
                for g, s in large.items()
                if metric != "true_positive_rate" or s["n_positives"] >= spec.min_group_size
            }
            values_ = [s[metric] for s in members.values() if not np.isnan(s[metric])]
            gap = float(max(values_) - min(values_)) if len(values_) >= 2 else float("nan")
            rows.append(
                {
                    "feature": feature,
                    "group": "all",
                    "metric": name,
                    "value": gap,
                    "n_rows": int(sum(s["n_rows"] for s in members.values())),
                    "limit": limit,
                    "passes": bool(gap <= limit) if not np.isnan(gap) else None,
                }
            )
    return pd.DataFrame(rows, columns=["feature", "group", "metric", "value", "n_rows", "limit", "passes"])
