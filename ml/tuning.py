"""Hyperparameter search with Optuna on the warehouse folds (never the test split)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import optuna
import pandas as pd

from ml.cv import FoldScores, cross_validate
from ml.errors import ConfigError
from ml.evaluation import REGRESSION_METRICS
from ml.models import Candidate

SEARCHES = ("tpe", "random")


@dataclass(frozen=True)
class TuningResult:
    best_params: dict[str, Any]
    best_scores: FoldScores
    best_trial: int
    trials: pd.DataFrame  # one row per trial, for ml.hpo_trials


def make_sampler(search: str, seed: int) -> optuna.samplers.BaseSampler:
    if search == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if search == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ConfigError(f"training.search: unknown search {search!r} (allowed: {', '.join(SEARCHES)})")


def tune(
    candidate: Candidate,
    X: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    *,
    problem_type: str,
    metric: str,
    search: str,
    n_trials: int,
    seed: int,
    n_jobs: int,
    clip: tuple[float, float] | None,
) -> TuningResult:
    """Search ``candidate``'s space; the first trial is its default parameters."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    direction: Literal["minimize", "maximize"] = "minimize" if REGRESSION_METRICS[metric][1] else "maximize"
    study = optuna.create_study(
        direction=direction, sampler=make_sampler(search, seed), study_name=f"{candidate.name}-{search}"
    )
    study.enqueue_trial(candidate.defaults, skip_if_exists=True)
    scores: dict[int, FoldScores] = {}

    def objective(trial: optuna.Trial) -> float:
        params = candidate.suggest(trial)
        result = cross_validate(
            lambda: candidate.make(problem_type, params, seed, n_jobs), X, y, folds, metric, clip
        )
        scores[trial.number] = result
        trial.set_user_attr("fold_scores", result.values)
        return result.mean

    study.optimize(objective, n_trials=n_trials)
    best = study.best_trial
    rows = [
        {
            "study_name": study.study_name,
            "candidate": candidate.name,
            "trial_number": t.number,
            "state": t.state.name,
            "value": t.value,
            "params": json.dumps(t.params, sort_keys=True),
            "duration_seconds": t.duration.total_seconds() if t.duration else None,
        }
        for t in study.trials
    ]
    params = candidate.suggest(optuna.trial.FixedTrial(best.params))
    return TuningResult(params, scores[best.number], best.number, pd.DataFrame(rows))
