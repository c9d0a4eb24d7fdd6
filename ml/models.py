"""Model candidates: each an estimator factory, default parameters and a search space.

Adding an architecture is one :class:`Candidate` entry in :data:`CANDIDATES`: a factory
``(problem_type, params, seed, n_jobs) -> estimator``, its defaults, and a function that
draws parameters from an Optuna trial.  Names in configuration resolve only here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna

from ml.errors import ConfigError


@dataclass(frozen=True)
class Candidate:
    name: str
    make: Callable[[str, dict[str, Any], int, int], Any]
    defaults: dict[str, Any]
    suggest: Callable[[optuna.trial.BaseTrial], dict[str, Any]]
    native_format: str  # file suffix of the booster's own serialisation


def _make_xgboost(problem_type: str, params: dict[str, Any], seed: int, n_jobs: int) -> Any:
    import xgboost as xgb

    common = {"tree_method": "hist", "random_state": seed, "n_jobs": n_jobs, **params}
    if problem_type == "regression":
        return xgb.XGBRegressor(objective="reg:squarederror", **common)
    return xgb.XGBClassifier(objective="binary:logistic", eval_metric="logloss", **common)


def _suggest_xgboost(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    return {
        "n_estimators": trial.suggest_int("n_estimators", 100, 800, step=50),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "subsample": trial.suggest_float("subsample", 0.6, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 50.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-2, 20.0, log=True),
    }


CANDIDATES: dict[str, Candidate] = {
    "xgboost": Candidate(
        name="xgboost",
        make=_make_xgboost,
        defaults={
            "n_estimators": 300,
            "max_depth": 4,
            "learning_rate": 0.05,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "min_child_weight": 5.0,
            "reg_lambda": 1.0,
        },
        suggest=_suggest_xgboost,
        native_format="ubj",
    ),
}


def get_candidate(name: str) -> Candidate:
    try:
        return CANDIDATES[name]
    except KeyError:
        raise ConfigError(
            f"training.candidates: unknown model {name!r} (allowed: {', '.join(sorted(CANDIDATES))})"
        ) from None
