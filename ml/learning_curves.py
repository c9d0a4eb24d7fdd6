"""Learning curves: the tuned model's train and validation scores against training size.

For each fraction, each of the first folds (at most ``max_folds``) trains on a seeded random
subset of its training rows and is scored on that subset and on its validation rows; the
rows of ml.learning_curves are the means over folds.  A widening gap means variance (more
data would help), two high curves mean bias.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml.cv import predict
from ml.evaluation import score

FRACTIONS = (0.1, 0.25, 0.5, 0.75, 1.0)


def learning_curve(
    make_model: Callable[[], Any],
    X: np.ndarray,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    metric: str,
    problem_type: str,
    clip: tuple[float, float] | None,
    seed: int,
    max_folds: int = 3,
    fractions: tuple[float, ...] = FRACTIONS,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for fraction in fractions:
        train_scores, valid_scores, sizes = [], [], []
        for train_idx, valid_idx in folds[:max_folds]:
            n = max(10, round(len(train_idx) * fraction))
            subset = np.sort(rng.choice(train_idx, size=min(n, len(train_idx)), replace=False))
            if problem_type == "classification" and len(np.unique(y[subset])) < 2:
                continue
            model = make_model()
            model.fit(X[subset], y[subset])
            train_scores.append(score(metric, y[subset], predict(model, X[subset], problem_type, clip)))
            valid_scores.append(score(metric, y[valid_idx], predict(model, X[valid_idx], problem_type, clip)))
            sizes.append(len(subset))
        if sizes:
            for split, values in (("train", train_scores), ("valid", valid_scores)):
                rows.append(
                    {
                        "train_fraction": fraction,
                        "n_train_rows": int(np.mean(sizes)),
                        "split": split,
                        "metric": metric,
                        "value": float(np.mean(values)),
                        "value_std": float(np.std(values)),
                    }
                )
    return pd.DataFrame(rows)


def plot_learning_curve(curve: pd.DataFrame, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for split, part in curve.groupby("split"):
        ax.errorbar(part.n_train_rows, part.value, yerr=part.value_std, marker="o", capsize=3, label=split)
    ax.set_xlabel("training rows")
    ax.set_ylabel(curve.metric.iloc[0])
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_reliability(curves: dict[str, pd.DataFrame], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    for name, curve in curves.items():
        ax.plot(curve.mean_prediction, curve.observed_rate, marker="o", label=name)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed positive rate")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
