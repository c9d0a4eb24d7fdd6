"""Text features: throughput, cache-hit speedup, and ad-score RMSE with and without text.

    python bench/text.py [--ads 20000] [--n-trials 6] [--work /tmp/adscore-text]

1. Generates the demo world (or reuses --work) and runs `dbt build` once.
2. Texts per second of each text transformer on 2,000 distinct ad texts, no cache.
3. `python -m ml.train --task ad_score` on a fresh copy of the warehouse for each feature
   configuration: no text features; the default (VADER, length, emotions, structure); the
   hybrid variant (default + learned sentiment + 16 embedding components); the text-only
   variant (32 embedding components): holdout RMSE, the feature step's time, and each
   candidate's mean CV RMSE on the same folds (hybrid variant: tabular XGBoost, the text MLP
   and the hybrid XGBoost; text-only variant: text MLP and XGBoost on the embedding).
4. The hybrid configuration trained a second time on the same warehouse: the feature step
   with every text feature from ml.text_feature_cache.
The held-out sentiment AUCs come from ml/features/assets/sentiment_head.json (make
sentiment-head). Prints a report; figures go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import yaml
from common import REPO, build_world, env_for, run  # bench/common.py (scripts run from bench/)

sys.path.insert(0, str(REPO))


def configs(work: Path) -> dict[str, Path]:
    default = REPO / "ml" / "conf" / "ad_score.yml"
    raw = yaml.safe_load(default.read_text())
    raw["features"].pop("text_features")
    no_text = work / "no_text.yml"
    no_text.write_text(yaml.safe_dump(raw))
    return {
        "no text features": no_text,
        "default (VADER, length, emotions, structure)": default,
        "hybrid (default + learned sentiment + 16 embedding components)": REPO
        / "ml/conf/variants/ad_score_hybrid.yml",
        "text only (32 embedding components)": REPO / "ml/conf/variants/ad_score_text_only.yml",
    }


def train(work: Path, db: Path, config: Path, n_trials: int) -> tuple[float, float, str]:
    result = run(
        [
            sys.executable,
            "-m",
            "ml.train",
            "--config",
            str(config),
            "--n-trials",
            str(n_trials),
            "--no-mlflow",
        ],
        env_for(work, db),
    )
    rmse = float(re.search(r"test rmse ([0-9.]+)", result.stdout).group(1))  # type: ignore[union-attr]
    features = re.search(
        r"features: \d+ columns; text cache: (\d+) hits, (\d+) computed \(([0-9.]+)s\)", result.stderr
    )
    assert features is not None, result.stderr[-2000:]
    return rmse, float(features.group(3)), f"{features.group(1)} hits / {features.group(2)} computed"


def selection(db: Path) -> tuple[str, dict[str, float]]:
    """The latest run's winner and each candidate's mean selection CV RMSE (same folds)."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select r.estimator, c.candidate, avg(c.value) from ml.cv_results c join ml.runs r "
            "using (run_id) where c.stage = 'selection' and r.run_id = (select run_id from ml.runs "
            "order by started_at desc limit 1) group by all order by 3"
        ).fetchall()
    return rows[0][0], {candidate: float(mean) for _, candidate, mean in rows}


def throughput(db: Path) -> list[tuple[str, float]]:
    from ml.features.text import (
        EmotionTransformer,
        SentimentTransformer,
        TextEmbeddingTransformer,
        TextLengthTransformer,
        TextStructureTransformer,
    )

    with duckdb.connect(str(db), read_only=True) as con:
        texts = [
            r[0]
            for r in con.execute("select distinct ad_text from marts.ad_score_training limit 2000").fetchall()
        ]
    X = pd.DataFrame({"ad_text": texts})
    out = []
    for name, transformer in (
        ("SentimentTransformer(vader)", SentimentTransformer("vader")),
        ("SentimentTransformer(minilm-logreg)", SentimentTransformer("minilm-logreg")),
        ("EmotionTransformer", EmotionTransformer()),
        ("TextLengthTransformer", TextLengthTransformer()),
        ("TextStructureTransformer", TextStructureTransformer()),
        ("TextEmbeddingTransformer (raw 384)", TextEmbeddingTransformer(n_components=None)),
    ):
        transformer.fit(X.head(10))
        started = time.perf_counter()
        transformer.transform(X)
        out.append((name, len(texts) / (time.perf_counter() - started)))
    return out


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--ads", type=int, default=20000)
    parser.add_argument("--n-trials", type=int, default=6)
    parser.add_argument("--work", type=Path, default=Path("/tmp/adscore-text"))
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    base = work / "base.duckdb"
    if not base.exists():
        build_world(work, base, args.ads)
    for name, rate in throughput(base):
        print(f"throughput: {name}: {rate:,.0f} distinct texts/s")
    head = json.loads((REPO / "ml/features/assets/sentiment_head.json").read_text())
    print(
        f"sentiment held-out ROC AUC ({head['n_held_out']} snippets): "
        f"learned {head['held_out_auc_learned']:.4f}, VADER {head['held_out_auc_vader']:.4f}"
    )
    for name, config in configs(work).items():
        db = work / "run.duckdb"
        shutil.copy(base, db)
        shutil.rmtree(work / "artifacts", ignore_errors=True)
        rmse, seconds, cache = train(work, db, config, args.n_trials)
        print(f"ad score: {name}: holdout RMSE {rmse:.3f}; features {seconds:.1f}s ({cache})")
        winner, means = selection(db)
        shown = ", ".join(f"{c} {m:.3f}" for c, m in means.items())
        print(f"ad score: {name}: selection mean CV RMSE: {shown}; selected {winner}")
        if name.startswith("hybrid"):
            _, again, cache = train(work, db, config, args.n_trials)
            print(f"cache: hybrid features first run {seconds:.1f}s, second run {again:.1f}s ({cache})")
        db.unlink()


if __name__ == "__main__":
    main()
