"""Learning curves: the tuned model's train and validation scores against training size.

For each fraction, each of the first folds (at most ``max_folds``) trains on a seeded random
subset of its training rows and is scored on that subset and on its validation rows; the
rows of ml.learning_curves are the means over folds.  A widening gap means variance (more
data would help), two high curves mean bias.

``diagnose`` reads the curve the way the spec asks learning curves to be read (overfitting,
underfitting, would more data help), from the same folds' paired scores: the validation
gain of the last doubling of the training rows (fraction 0.5 -> 1.0) against its fold-to-fold
noise, and the train-validation gap at full size.  The reading goes to ml.runs, the training
log, MLflow and the model card.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml.cv import predict
from ml.evaluation import lower_is_better, score

FRACTIONS = (0.1, 0.25, 0.5, 0.75, 1.0)
# A relative train-validation gap above this is a large one (the model fits its training rows
# much better than new ones); below it the two curves are close.
LARGE_GAP = 0.05
# The last doubling's validation gain must also be at least this share of the score to
# count as "still improving" (a significant but negligible gain does not).
MIN_RELATIVE_GAIN = 0.002

VERDICTS = {
    "more_data_helps": "the validation score still improves with more training rows: more data would help",
    "overfitting": "validation has levelled off well below the training score: the model fits "
    "its training rows much better than new ones (more regularisation or fewer features may help)",
    "plateau": "training and validation scores are close and flat: more rows will not help; "
    "only more informative features or a more flexible model can (or the data's noise floor "
    "is reached)",
    "too_few_folds": "fewer than two folds scored at both sizes: no noise estimate for a reading",
}


@dataclass(frozen=True)
class Diagnosis:
    """The reading of a learning curve; gains and gaps are oriented so that positive is better
    validation (gain) and a better training than validation score (gap)."""

    verdict: str
    valid_gain_last_doubling: float
    gain_std_error: float | None
    relative_gap: float
    n_folds: int

    def sentence(self) -> str:
        noise = "" if self.gain_std_error is None else f" +- {self.gain_std_error:.4f}"
        return (
            f"{self.verdict}: {VERDICTS[self.verdict]} (validation gain of the last doubling "
            f"{self.valid_gain_last_doubling:+.4f}{noise} over {self.n_folds} folds; "
            f"train-validation gap {self.relative_gap:.1%} of the validation score)"
        )


def diagnose(fold_scores: pd.DataFrame, metric: str, low: float = 0.5, high: float = 1.0) -> Diagnosis:
    """Read a curve from its per-fold scores (columns fold, train_fraction, split, value).

    more_data_helps: the paired validation gain from `low` to `high` (a doubling by default)
    exceeds twice its standard error and MIN_RELATIVE_GAIN of the score.  Otherwise
    overfitting when the relative gap at `high` exceeds LARGE_GAP, plateau when it does not.
    """
    sign = -1.0 if lower_is_better(metric) else 1.0
    needed = [("valid", low), ("valid", high), ("train", high)]
    wide = (
        fold_scores.pivot_table(index="fold", columns=["split", "train_fraction"], values="value")
        if len(fold_scores)
        else pd.DataFrame()
    )
    if not all(column in wide.columns for column in needed):  # a size no fold could fit
        return Diagnosis("too_few_folds", float("nan"), None, float("nan"), 0)
    folds = wide.dropna(subset=needed)
    gains = sign * (folds[("valid", high)] - folds[("valid", low)])
    gaps = sign * (folds[("train", high)] - folds[("valid", high)])
    valid = float(folds[("valid", high)].mean())
    k = len(folds)
    gain = float(gains.mean())
    relative_gap = float(gaps.mean()) / abs(valid) if valid else float("inf")
    if k < 2:
        return Diagnosis("too_few_folds", gain, None, relative_gap, k)
    se = float(gains.std(ddof=1)) / np.sqrt(k)
    if gain > 2 * se and gain > MIN_RELATIVE_GAIN * abs(valid):
        verdict = "more_data_helps"
    elif relative_gap > LARGE_GAP:
        verdict = "overfitting"
    else:
        verdict = "plateau"
    return Diagnosis(verdict, gain, se, relative_gap, k)


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
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The curve's rows (means over folds), and the per-fold scores they average (for diagnose)."""
    rng = np.random.default_rng(seed)
    rows, per_fold = [], []
    for fraction in fractions:
        train_scores, valid_scores, sizes = [], [], []
        for fold, (train_idx, valid_idx) in enumerate(folds[:max_folds]):
            n = max(10, round(len(train_idx) * fraction))
            subset = np.sort(rng.choice(train_idx, size=min(n, len(train_idx)), replace=False))
            if problem_type == "classification" and len(np.unique(y[subset])) < 2:
                continue
            model = make_model()
            model.fit(X[subset], y[subset])
            train_scores.append(score(metric, y[subset], predict(model, X[subset], problem_type, clip)))
            valid_scores.append(score(metric, y[valid_idx], predict(model, X[valid_idx], problem_type, clip)))
            sizes.append(len(subset))
            per_fold += [
                {"fold": fold, "train_fraction": fraction, "split": "train", "value": train_scores[-1]},
                {"fold": fold, "train_fraction": fraction, "split": "valid", "value": valid_scores[-1]},
            ]
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
    return pd.DataFrame(rows), pd.DataFrame(per_fold)


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
