"""Holdout quality of the latest ad_score run against the generator's oracle.

    python bench/quality.py [--duckdb warehouse/adscore.duckdb] [--truth data/ground_truth]

The oracle predicts each ad's expected label given only what the warehouse can see; its RMSE
on the frozen test split is the floor no model can beat on average.  Prints the model's test
RMSE, the oracle's, and their ratio, overall and per platform.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from ml.warehouse import db_path, read_query


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duckdb", type=Path, default=None)
    parser.add_argument("--truth", type=Path, default=Path("data/ground_truth"))
    args = parser.parse_args()
    path = db_path(args.duckdb)

    test = read_query(
        path,
        """
        select f.ad_id, t.platform, t.ad_score
        from marts.ad_score_folds as f
        inner join marts.ad_score_training as t on f.ad_id = t.ad_id
        where f.split = 'test'
    """,
    )
    metrics = (
        read_query(
            path,
            """
        select m.segment, m.value
        from ml.metrics as m
        where m.metric = 'rmse' and m.split = 'test' and m.run_id = (
            select run_id from ml.runs where task = 'ad_score' order by finished_at desc limit 1
        )
    """,
        )
        .set_index("segment")
        .value
    )
    truth = pd.read_csv(args.truth / "ad_score_oracle.csv", usecols=["ad_id", "expected_ad_score"])
    joined = test.merge(truth, on="ad_id", how="inner")
    if len(joined) != len(test):
        raise SystemExit(f"ground truth covers {len(joined)} of {len(test)} test ads: wrong --truth?")

    print(f"{'segment':<22}{'n':>6}{'model RMSE':>12}{'oracle RMSE':>13}{'ratio':>8}")
    groups = [("overall", joined)] + [(f"platform={p}", g) for p, g in joined.groupby("platform")]
    for segment, g in groups:
        oracle = float(np.sqrt(np.mean((g.expected_ad_score - g.ad_score) ** 2)))
        model = float(metrics.get(segment, np.nan))
        print(f"{segment:<22}{len(g):>6}{model:>12.3f}{oracle:>13.3f}{model / oracle:>8.3f}")


if __name__ == "__main__":
    main()
