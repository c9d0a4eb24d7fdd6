"""The ad_score label in Python, for the ground truth.

This mirrors the dbt macro ``ad_score_label`` (macros/ad_score_label.sql) and reads the
same seed of objective weights, so the generator's oracle and the warehouse's label are
one definition.  A test checks that both agree on generated data.
"""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pandas as pd

from ml.synth.world import SEEDS_DIR


def read_label_weights() -> pd.DataFrame:
    """Objective -> (ctr_weight, cvr_weight, roas_weight, min_impressions) from the dbt seed."""
    with open(SEEDS_DIR / "ad_score_objective_weights.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    frame = pd.DataFrame(rows).set_index("objective")
    return frame.astype(
        {"ctr_weight": float, "cvr_weight": float, "roas_weight": float, "min_impressions": np.int64}
    )


def percent_rank(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """SQL ``percent_rank()`` (rank - 1) / (n - 1) with min-rank ties, within each group."""
    out = np.zeros(len(values))
    order = np.lexsort((values, groups))
    sorted_groups = groups[order]
    sorted_values = values[order]
    boundaries = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1], True])
    for lo, hi in itertools.pairwise(boundaries):
        n = hi - lo
        if n == 1:
            continue
        v = sorted_values[lo:hi]
        first = np.searchsorted(v, v, side="left")  # 0-based min-rank
        out[order[lo:hi]] = first / (n - 1)
    return out


def ad_score(
    totals: pd.DataFrame, platform: np.ndarray, objective: np.ndarray, weights: pd.DataFrame
) -> np.ndarray:
    """ad_score (0-100) per ad; NaN for ads below their objective's impression threshold."""
    imp = totals.impressions.to_numpy().astype(float)
    clicks = totals.clicks.to_numpy().astype(float)
    spend = totals.spend_cents.to_numpy().astype(float) / 100.0
    value = totals.value_cents.to_numpy().astype(float) / 100.0
    conv = totals.conversions.to_numpy().astype(float)
    w = weights.loc[objective]
    eligible = imp >= w.min_impressions.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ctr = np.where(imp > 0, clicks / imp, 0.0)
        cvr = np.where(clicks > 0, conv / clicks, 0.0)
        roas = np.where(spend > 0, value / spend, 0.0)
    cohort = np.char.add(np.char.add(platform.astype(str), "|"), objective.astype(str))
    score = np.full(len(imp), np.nan)
    idx = np.flatnonzero(eligible)
    g = cohort[idx]
    score[idx] = 100.0 * (
        w.ctr_weight.to_numpy()[idx] * percent_rank(ctr[idx], g)
        + w.cvr_weight.to_numpy()[idx] * percent_rank(cvr[idx], g)
        + w.roas_weight.to_numpy()[idx] * percent_rank(roas[idx], g)
    )
    return score
