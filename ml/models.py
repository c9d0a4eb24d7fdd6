"""Model candidates: estimator factory, defaults, search space, grid, native persistence.

Adding an architecture is one :class:`Candidate` entry in :data:`CANDIDATES` (see README,
"Adding a model"): a factory ``(problem_type, params, seed, n_jobs) -> estimator``, its
default parameters, an Optuna search space, a small grid for ``--search grid``, and, for
boosters, how to train while reporting each boosting round (for pruning and early stopping)
and how to save and load the model in the library's own format.  Names in configuration
resolve only here.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from ml.errors import ConfigError

# on_round(iteration, validation_score) -> True to stop training (pruned)
OnRound = Callable[[int, float], bool]
# predict_rounds(model, X, problem_type, rounds) -> the first `rounds` rounds' scores
PredictRounds = Callable[[Any, np.ndarray, str, int], np.ndarray]
EARLY_STOPPING_ROUNDS = 50


@dataclass(frozen=True)
class Candidate:
    name: str
    make: Callable[[str, dict[str, Any], int, int], Any]
    defaults: dict[str, Any]
    suggest: Callable[[optuna.trial.BaseTrial], dict[str, Any]]
    grid: dict[str, list[Any]]
    native_format: str  # file suffix of the saved model
    save: Callable[[Any, Path], None]
    load: Callable[[Path, str], Any]
    # Boosters: train with a validation set, calling on_round after every round, stopping
    # early (keeping every round trained); returns the best number of rounds.  And predict
    # with the first n rounds only (the regression value or P(class 1)), so that every fold
    # of a trial is scored at the one number of rounds the refit trains.  None for models
    # without rounds.
    fit_rounds: Callable[[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray, str, OnRound], int] | None = (
        None
    )
    predict_rounds: PredictRounds | None = None
    # The rounds parameter is not in the search space: a trial trains up to max_rounds with
    # early stopping and the tuner sets the rounds it chose.
    rounds_param: str | None = None
    max_rounds: int = 0
    # Boosters: total gain per feature, and per-row contributions (native SHAP values, one
    # column per feature then the bias; raw margin for classifiers).  None where unavailable.
    gain: Callable[[Any, int], np.ndarray] | None = None
    contributions: Callable[[Any, np.ndarray], np.ndarray] | None = None
    # Which feature columns the model reads (see model_columns): "tabular" (every column but
    # transformer embeddings), "text" (the embedding columns only) or "all".
    inputs: str = "tabular"
    # Native categorical splits: configure a fresh estimator so that these column indices
    # (of its n_features) are categories (CategoryCodes features).  None: not supported.
    categorical: Callable[[Any, list[int], int], None] | None = None
    tags: dict[str, Any] = field(default_factory=dict)


def _eval_metric(problem_type: str) -> str:
    return "rmse" if problem_type == "regression" else "logloss"


# --- XGBoost --------------------------------------------------------------------------


def _make_xgboost(problem_type: str, params: dict[str, Any], seed: int, n_jobs: int) -> Any:
    import xgboost as xgb

    common = {"tree_method": "hist", "random_state": seed, "n_jobs": n_jobs, **params}
    if problem_type == "regression":
        return xgb.XGBRegressor(objective="reg:squarederror", **common)
    return xgb.XGBClassifier(objective="binary:logistic", eval_metric="logloss", **common)


def _fit_xgboost(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    Xv: np.ndarray,
    yv: np.ndarray,
    problem_type: str,
    on_round: OnRound,
) -> int:
    import xgboost as xgb

    class Report(xgb.callback.TrainingCallback):
        def after_iteration(self, booster: Any, epoch: int, evals_log: dict) -> bool:
            history = next(iter(evals_log.values()))
            values = next(iter(history.values()))
            return on_round(epoch, float(values[-1]))

    model.set_params(
        callbacks=[Report()],
        early_stopping_rounds=EARLY_STOPPING_ROUNDS,
        eval_metric=_eval_metric(problem_type),
    )
    model.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    best = getattr(model, "best_iteration", None)
    model.set_params(callbacks=None, early_stopping_rounds=None)
    return int(best) + 1 if best is not None else int(model.get_params()["n_estimators"])


def _predict_rounds_xgboost(model: Any, X: np.ndarray, problem_type: str, rounds: int) -> np.ndarray:
    if problem_type == "regression":
        return np.asarray(model.predict(X, iteration_range=(0, rounds)), dtype=float)
    return np.asarray(model.predict_proba(X, iteration_range=(0, rounds)))[:, 1]


def _suggest_xgboost(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    return {
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "subsample": trial.suggest_float("subsample", 0.6, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 50.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-2, 20.0, log=True),
    }


def _categorical_xgboost(model: Any, columns: list[int], n_features: int) -> None:
    chosen = set(columns)
    model.set_params(
        enable_categorical=True,
        feature_types=["c" if j in chosen else "q" for j in range(n_features)],
        max_cat_to_onehot=1,
    )


def _save_xgboost(model: Any, path: Path) -> None:
    model.save_model(str(path))


def _load_xgboost(path: Path, problem_type: str) -> Any:
    model = _make_xgboost(problem_type, {}, 0, 1)
    model.load_model(str(path))
    return model


def _gain_xgboost(model: Any, n_features: int) -> np.ndarray:
    scores = model.get_booster().get_score(importance_type="total_gain")
    out = np.zeros(n_features)
    for key, value in scores.items():
        out[int(key[1:])] = value  # features are named f0, f1, ... for arrays
    return out


def _contributions_xgboost(model: Any, X: np.ndarray) -> np.ndarray:
    import xgboost as xgb

    booster = model.get_booster()
    types = booster.feature_types
    categorical = bool(types) and "c" in types
    matrix = xgb.DMatrix(X, feature_types=types if categorical else None, enable_categorical=categorical)
    return np.asarray(booster.predict(matrix, pred_contribs=True))


# --- LightGBM -------------------------------------------------------------------------


def _make_lightgbm(problem_type: str, params: dict[str, Any], seed: int, n_jobs: int) -> Any:

    common = {
        "random_state": seed,
        "n_jobs": n_jobs,
        "verbose": -1,
        "deterministic": True,
        "force_row_wise": True,
        **params,
    }
    regressor, classifier = _lightgbm_classes()
    if problem_type == "regression":
        return regressor(objective="regression", **common)
    return classifier(objective="binary", **common)


@functools.cache
def _lightgbm_classes() -> tuple[type, type]:
    """LightGBM's estimators, passing ``categorical_columns`` (set by
    :func:`_categorical_lightgbm`) to every fit: LightGBM takes categorical columns only as
    a fit argument, not as a parameter."""
    import lightgbm as lgb

    def fit(self: Any, X: Any, y: Any, **kwargs: Any) -> Any:
        columns = getattr(self, "categorical_columns", None)
        if columns:
            kwargs.setdefault("categorical_feature", list(columns))
        return super(type(self), self).fit(X, y, **kwargs)

    regressor = type("LGBMRegressor", (lgb.LGBMRegressor,), {"fit": fit})
    classifier = type("LGBMClassifier", (lgb.LGBMClassifier,), {"fit": fit})
    return regressor, classifier


def _categorical_lightgbm(model: Any, columns: list[int], n_features: int) -> None:
    model.categorical_columns = list(columns)


def _fit_lightgbm(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    Xv: np.ndarray,
    yv: np.ndarray,
    problem_type: str,
    on_round: OnRound,
) -> int:
    from lightgbm.callback import EarlyStopException

    class PrunedError(Exception):
        pass

    # Early stopping here rather than lgb.early_stopping: LightGBM keeps only the trees up to
    # the best iteration it was told, and the trial scores every fold at its common number of
    # rounds (possibly past this fold's best), so it is told the last iteration trained.
    best = {"loss": np.inf, "rounds": 0}

    def report(env: Any) -> None:
        if not env.evaluation_result_list:
            return
        loss = float(env.evaluation_result_list[0][2])
        if on_round(env.iteration, loss):
            raise PrunedError
        if loss < best["loss"]:
            best.update(loss=loss, rounds=env.iteration + 1)
        elif env.iteration + 1 - best["rounds"] >= EARLY_STOPPING_ROUNDS:
            raise EarlyStopException(env.iteration, env.evaluation_result_list)

    metric = "l2" if problem_type == "regression" else "binary_logloss"
    try:
        model.fit(X, y, eval_X=(Xv,), eval_y=(yv,), eval_metric=metric, callbacks=[report])
    except PrunedError:
        return 0
    return int(best["rounds"]) or int(model.get_params()["n_estimators"])


def _predict_rounds_lightgbm(model: Any, X: np.ndarray, problem_type: str, rounds: int) -> np.ndarray:
    if problem_type == "regression":
        return np.asarray(model.predict(X, num_iteration=rounds), dtype=float)
    return np.asarray(model.predict_proba(X, num_iteration=rounds))[:, 1]


def _suggest_lightgbm(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    return {
        "num_leaves": trial.suggest_int("num_leaves", 4, 64, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "subsample": trial.suggest_float("subsample", 0.6, 1.0),
        "subsample_freq": 1,
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-2, 20.0, log=True),
    }


def _save_lightgbm(model: Any, path: Path) -> None:
    model.booster_.save_model(str(path))


class LightGBMBooster:
    """A LightGBM model loaded from its text format, predicting like the sklearn wrapper."""

    def __init__(self, path: Path, problem_type: str) -> None:
        import lightgbm as lgb

        self.booster = lgb.Booster(model_file=str(path))
        self.problem_type = problem_type

    num_threads = 1

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(X, num_threads=self.num_threads))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = np.asarray(self.booster.predict(X, num_threads=self.num_threads))
        return np.column_stack([1 - p, p])


def _load_lightgbm(path: Path, problem_type: str) -> Any:
    return LightGBMBooster(path, problem_type)


def _lightgbm_booster(model: Any) -> Any:
    return model.booster if isinstance(model, LightGBMBooster) else model.booster_


def _gain_lightgbm(model: Any, n_features: int) -> np.ndarray:
    return np.asarray(_lightgbm_booster(model).feature_importance(importance_type="gain"), dtype=float)


def _contributions_lightgbm(model: Any, X: np.ndarray) -> np.ndarray:
    # A loaded model's scoring threads (set_inference_threads), as its predict uses; without
    # them LightGBM takes every core of the host, not the container's CPU limit.
    threads = model.num_threads if isinstance(model, LightGBMBooster) else model.get_params().get("n_jobs")
    extra = {"num_threads": threads} if threads and threads > 0 else {}
    return np.asarray(_lightgbm_booster(model).predict(X, pred_contrib=True, **extra))


# --- CatBoost -------------------------------------------------------------------------


def _make_catboost(problem_type: str, params: dict[str, Any], seed: int, n_jobs: int) -> Any:

    common = {
        "random_seed": seed,
        "thread_count": n_jobs,
        "verbose": False,
        "allow_writing_files": False,
        **params,
    }
    regressor, classifier = _catboost_classes()
    if problem_type == "regression":
        return regressor(loss_function="RMSE", **common)
    return classifier(loss_function="Logloss", **common)


def _catboost_categories(model: Any) -> list[int]:
    """Categorical column indices: the ones set for training, or the loaded model's."""
    configured = model.get_params().get("cat_features")
    if configured:
        return list(configured)
    return list(model.get_cat_feature_indices()) if model.is_fitted() else []


def _catboost_data(model: Any, X: Any) -> Any:
    """CatBoost reads categories only as integers or strings: float code columns become
    integers (missing or unknown: -1, a category of its own) in a frame."""
    columns = _catboost_categories(model) if isinstance(X, np.ndarray) else []
    if not columns:
        return X
    import pandas as pd

    frame = pd.DataFrame(X, columns=[str(j) for j in range(X.shape[1])])
    for j in columns:
        frame[str(j)] = np.where(np.isnan(X[:, j]), -1, X[:, j]).astype(np.int64)
    return frame


@functools.cache
def _catboost_classes() -> tuple[type, type]:
    """CatBoost's estimators, converting code columns for fit, eval_set and predict."""
    import catboost as cb

    def fit(self: Any, X: Any, y: Any = None, **kwargs: Any) -> Any:
        eval_set = kwargs.get("eval_set")
        if isinstance(eval_set, tuple):
            kwargs["eval_set"] = (_catboost_data(self, eval_set[0]), eval_set[1])
        return super(type(self), self).fit(_catboost_data(self, X), y, **kwargs)

    def predict(self: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
        _inference_threads(self, args, kwargs)
        return super(type(self), self).predict(_catboost_data(self, X), *args, **kwargs)

    def predict_proba(self: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
        _inference_threads(self, args, kwargs)
        return super(type(self), self).predict_proba(_catboost_data(self, X), *args, **kwargs)

    regressor = type("CatBoostRegressor", (cb.CatBoostRegressor,), {"fit": fit, "predict": predict})
    classifier = type(
        "CatBoostClassifier",
        (cb.CatBoostClassifier,),
        {"fit": fit, "predict": predict, "predict_proba": predict_proba},
    )
    return regressor, classifier


def _categorical_catboost(model: Any, columns: list[int], n_features: int) -> None:
    model.set_params(cat_features=list(columns))


def _fit_catboost(
    model: Any,
    X: np.ndarray,
    y: np.ndarray,
    Xv: np.ndarray,
    yv: np.ndarray,
    problem_type: str,
    on_round: OnRound,
) -> int:
    pruned = {"flag": False}

    class Report:
        def after_iteration(self, info: Any) -> bool:
            history = info.metrics.get("validation", {})
            if history:
                values = next(iter(history.values()))
                if on_round(info.iteration - 1, float(values[-1])):
                    pruned["flag"] = True
                    return False
            return True

    model.fit(
        X,
        y,
        eval_set=(Xv, yv),
        early_stopping_rounds=EARLY_STOPPING_ROUNDS,
        callbacks=[Report()],
        use_best_model=False,  # keep every tree: the trial scores all folds at one round count
    )
    if pruned["flag"]:
        return 0
    best = model.get_best_iteration()
    return int(best if best is not None else model.tree_count_ - 1) + 1


def _predict_rounds_catboost(model: Any, X: np.ndarray, problem_type: str, rounds: int) -> np.ndarray:
    if problem_type == "regression":
        return np.asarray(model.predict(X, ntree_end=rounds), dtype=float)
    return np.asarray(model.predict_proba(X, ntree_end=rounds))[:, 1]


def _suggest_catboost(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    return {
        "depth": trial.suggest_int("depth", 3, 8),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
        "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 1.0, 20.0, log=True),
        "rsm": trial.suggest_float("rsm", 0.4, 1.0),
    }


def _save_catboost(model: Any, path: Path) -> None:
    model.save_model(str(path), format="cbm")


def _load_catboost(path: Path, problem_type: str) -> Any:
    model = _make_catboost(problem_type, {}, 0, 1)
    model.load_model(str(path), format="cbm")
    return model


def _gain_catboost(model: Any, n_features: int) -> np.ndarray:
    return np.asarray(model.get_feature_importance(type="PredictionValuesChange"), dtype=float)


def _inference_threads(model: Any, args: tuple, kwargs: dict) -> None:
    """A fitted CatBoost model's thread_count is frozen: the scoring threads that
    set_inference_threads recorded go to predict as an argument.  Without them (training,
    cross-validation) the model's own thread_count applies, as before."""
    threads = getattr(model, "inference_threads", None)
    if threads is not None and not args:
        kwargs.setdefault("thread_count", threads)


def _contributions_catboost(model: Any, X: np.ndarray) -> np.ndarray:
    import catboost as cb

    columns = _catboost_categories(model)
    pool = cb.Pool(_catboost_data(model, X), cat_features=columns or None)
    threads = getattr(model, "inference_threads", None)
    extra = {} if threads is None else {"thread_count": threads}
    return np.asarray(model.get_feature_importance(pool, type="ShapValues", **extra))


# --- Feed-forward network (scikit-learn MLP on standardised inputs) --------------------


def _make_mlp(problem_type: str, params: dict[str, Any], seed: int, n_jobs: int) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    params = dict(params)
    width, depth = params.pop("width", 64), params.pop("depth", 2)
    net = {
        "hidden_layer_sizes": tuple([width] * depth),
        "early_stopping": True,
        "max_iter": 300,
        "random_state": seed,
        **params,
    }
    estimator = MLPRegressor(**net) if problem_type == "regression" else MLPClassifier(**net)
    if problem_type == "regression":
        from sklearn.compose import TransformedTargetRegressor

        estimator = TransformedTargetRegressor(regressor=estimator, transformer=StandardScaler())
    return make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler(), estimator)


def _suggest_mlp(trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    return {
        "width": trial.suggest_categorical("width", [32, 64, 128]),
        "depth": trial.suggest_int("depth", 1, 3),
        "alpha": trial.suggest_float("alpha", 1e-5, 1e-2, log=True),
        "learning_rate_init": trial.suggest_float("learning_rate_init", 1e-4, 1e-2, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
    }


def _save_skops(model: Any, path: Path) -> None:
    import skops.io as sio

    sio.dump(model, path)


# Types beyond skops' own safe list that a fitted MLP pipeline contains, by exact name. Not a
# prefix such as "numpy.": a crafted file can name any callable (numpy.load with
# allow_pickle=True runs a pickle), and skops calls what it is told to trust.
MLP_TRUSTED_TYPES = frozenset(
    {
        "numpy.dtype",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    }
)


def _load_skops(path: Path, problem_type: str) -> Any:
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    outside = sorted(set(untrusted) - MLP_TRUSTED_TYPES)
    if outside:
        from ml.errors import ArtifactError

        raise ArtifactError(f"{path} contains types outside the allowlist: {outside}")
    return sio.load(path, trusted=list(untrusted))


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
        grid={"max_depth": [3, 5], "learning_rate": [0.03, 0.1], "min_child_weight": [2.0, 20.0]},
        native_format="ubj",
        save=_save_xgboost,
        load=_load_xgboost,
        fit_rounds=_fit_xgboost,
        predict_rounds=_predict_rounds_xgboost,
        rounds_param="n_estimators",
        max_rounds=800,
        gain=_gain_xgboost,
        contributions=_contributions_xgboost,
        categorical=_categorical_xgboost,
    ),
    "lightgbm": Candidate(
        name="lightgbm",
        make=_make_lightgbm,
        defaults={
            "n_estimators": 300,
            "num_leaves": 15,
            "learning_rate": 0.05,
            "subsample": 0.8,
            "subsample_freq": 1,
            "colsample_bytree": 0.8,
            "min_child_samples": 20,
            "reg_lambda": 1.0,
        },
        suggest=_suggest_lightgbm,
        grid={"num_leaves": [7, 31], "learning_rate": [0.03, 0.1], "min_child_samples": [10, 50]},
        native_format="txt",
        save=_save_lightgbm,
        load=_load_lightgbm,
        fit_rounds=_fit_lightgbm,
        predict_rounds=_predict_rounds_lightgbm,
        rounds_param="n_estimators",
        max_rounds=800,
        gain=_gain_lightgbm,
        contributions=_contributions_lightgbm,
        categorical=_categorical_lightgbm,
    ),
    "catboost": Candidate(
        name="catboost",
        make=_make_catboost,
        defaults={"iterations": 300, "depth": 6, "learning_rate": 0.08, "l2_leaf_reg": 3.0, "rsm": 1.0},
        suggest=_suggest_catboost,
        grid={"depth": [4, 6], "learning_rate": [0.05, 0.15], "l2_leaf_reg": [3.0, 10.0]},
        native_format="cbm",
        save=_save_catboost,
        load=_load_catboost,
        fit_rounds=_fit_catboost,
        predict_rounds=_predict_rounds_catboost,
        rounds_param="iterations",
        max_rounds=800,
        gain=_gain_catboost,
        contributions=_contributions_catboost,
        categorical=_categorical_catboost,
    ),
    "mlp": Candidate(
        name="mlp",
        make=_make_mlp,
        defaults={"width": 64, "depth": 2, "alpha": 1e-4, "learning_rate_init": 1e-3, "batch_size": 128},
        suggest=_suggest_mlp,
        grid={"width": [32, 128], "depth": [1, 2], "alpha": [1e-4, 1e-2]},
        native_format="skops",
        save=_save_skops,
        load=_load_skops,
    ),
}


# The text models: a transformer-based text model (sentence-embedding components -> MLP) and
# the hybrid model (embeddings + tabular features -> XGBoost).  They need a
# TextEmbeddingTransformer feature in the configuration and are cross-validated on the same
# folds as the tabular candidates, which do not see the embedding columns.
CANDIDATES["text_mlp"] = replace(CANDIDATES["mlp"], name="text_mlp", inputs="text")
CANDIDATES["hybrid"] = replace(CANDIDATES["xgboost"], name="hybrid", inputs="all")
INPUTS = ("tabular", "text", "all")


def model_columns(
    candidate: Candidate,
    n_features: int,
    embedding: list[int],
    codes: list[int] | None = None,
    one_hot: list[int] | None = None,
) -> list[int] | None:
    """Indices of the feature matrix that ``candidate`` reads (None: every column).

    ``embedding`` holds the indices of the transformer-embedding columns; ``codes`` and
    ``one_hot`` the two encodings of the CategoryCodes features: a model with native
    categorical splits reads the codes, any other model the one-hot columns.
    """
    if candidate.inputs not in INPUTS:
        raise ConfigError(f"model {candidate.name}: inputs {candidate.inputs!r} not in {INPUTS}")
    encoding = set((one_hot or []) if candidate.categorical is not None else (codes or []))
    if candidate.inputs == "text":
        columns = sorted(embedding)
    else:
        skip = encoding | (set(embedding) if candidate.inputs == "tabular" else set())
        if not skip:
            return None
        columns = [j for j in range(n_features) if j not in skip]
    if not columns:
        kind = "TextEmbeddingTransformer" if candidate.inputs == "text" else "non-embedding"
        raise ConfigError(
            f"model {candidate.name} reads {candidate.inputs} columns but the features have no {kind} column"
        )
    return columns


def with_categorical(candidate: Candidate, columns: list[int], n_features: int) -> Candidate:
    """The candidate whose estimators treat ``columns`` (of ``n_features``) as categories."""
    if not columns:
        return candidate
    hook = candidate.categorical
    if hook is None:
        raise ConfigError(
            f"model {candidate.name} has no native categorical support: encode its categorical "
            "features with OneHotEncoder, or use xgboost, lightgbm, catboost or hybrid"
        )
    columns = list(columns)

    def make(problem_type: str, params: dict[str, Any], seed: int, n_jobs: int) -> Any:
        model = candidate.make(problem_type, params, seed, n_jobs)
        hook(model, columns, n_features)
        return model

    return replace(candidate, make=make)


def available_cpus(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota (a
    container's CPU limit; ``os.cpu_count()`` is the node's cores there)."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = cpu_max.read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota readable: the affinity stands
    return max(1, n)


def set_inference_threads(model: Any, n_threads: int) -> None:
    """Let a loaded model predict on ``n_threads`` threads (training uses ``n_jobs``)."""
    if isinstance(model, LightGBMBooster):
        model.num_threads = n_threads
        return
    if any(c.__module__.startswith("catboost") for c in type(model).__mro__):
        # A fitted CatBoost model refuses set_params ("You can't change params of fitted
        # model"): its predict and contributions take the threads as an argument instead.
        model.inference_threads = n_threads
        return
    params = model.get_params() if hasattr(model, "get_params") else {}
    for key in ("n_jobs", "thread_count"):
        if key in params:
            model.set_params(**{key: n_threads})
            return


def get_candidate(name: str) -> Candidate:
    try:
        return CANDIDATES[name]
    except KeyError:
        raise ConfigError(
            f"training.candidates: unknown model {name!r} (allowed: {', '.join(sorted(CANDIDATES))})"
        ) from None
