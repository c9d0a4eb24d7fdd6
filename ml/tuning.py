"""Hyperparameter search with Optuna on the warehouse folds (never the test split).

Samplers: ``tpe``, ``random``, ``gp`` (Gaussian process; needs torch) and ``grid`` (the
candidate's small grid).  Pruners: ``hyperband``, ``median`` or ``none``; for boosters they
act on boosting rounds: every round's validation score is reported to the trial (step =
fold x max_rounds + round), so a poor trial stops in the middle of a fold, not only between
folds.  Boosters also stop early (no improvement in 50 rounds); the trial's number of
rounds is then the one with the best mean validation loss over the folds (as xgboost.cv
does), every fold is scored with its first that many rounds, and the refit trains exactly
that many: the CV score is the score of the configuration that is refit, not of each
fold's own best round (chosen on the rows it is scored on).  Studies are stored (SQLite by
default) so they can be resumed and inspected with optuna-dashboard.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, ParamSpec, cast

import numpy as np
import optuna
import pandas as pd

from ml.cv import CommonRounds, FoldScores, cross_validate
from ml.errors import ConfigError
from ml.evaluation import lower_is_better
from ml.models import Candidate

SEARCHES = ("tpe", "random", "gp", "grid")
PRUNERS = ("hyperband", "median", "none")

log = logging.getLogger("ml.tuning")
P = ParamSpec("P")


@dataclass(frozen=True)
class TuningResult:
    best_params: dict[str, Any]
    best_scores: FoldScores
    best_trial: int
    trials: pd.DataFrame  # one row per trial, for ml.hpo_trials
    boosting_rounds: int  # rounds trained over all trials and folds
    study_name: str
    storage: str | None


STORAGE_ENV = "ADSCORE_OPTUNA_STORAGE"


def study_storage() -> str | None:
    """$ADSCORE_OPTUNA_STORAGE, else sqlite:///<cwd>/optuna/studies.db; 'memory' for none.
    A SQLite file's folder is created (SQLite creates the file, not its folder)."""
    value = os.environ.get(STORAGE_ENV)
    if value == "memory":
        return None
    if not value:
        value = f"sqlite:///{(Path('optuna') / 'studies.db').resolve()}"
    if value.startswith("sqlite:///") and value != "sqlite:///:memory:":
        Path(value[len("sqlite:///") :].split("?", 1)[0]).parent.mkdir(parents=True, exist_ok=True)
    return value


def check_study_storage() -> None:
    """Open the study storage once before any training, so that a wrong URL or an unwritable
    place stops the command at once (ConfigError) instead of after the tuning."""
    try:
        url = study_storage()
        if url is not None:
            optuna.storages.RDBStorage(url)
    except Exception as exc:  # SQLAlchemy's errors, an unknown dialect, an unwritable folder
        shown = os.environ.get(STORAGE_ENV) or "the default ./optuna/studies.db"
        raise ConfigError(
            f"${STORAGE_ENV} ({shown}): cannot open the Optuna study storage: {type(exc).__name__}: {exc}"
        ) from exc


def _trial_params(candidate: Candidate, trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """A trial's searched parameters, and for a booster the rounds it chose."""
    params = dict(trial.params)
    if candidate.rounds_param is not None and "best_rounds" in trial.user_attrs:
        params[candidate.rounds_param] = trial.user_attrs["best_rounds"]
    return params


def make_sampler(search: str, seed: int, candidate: Candidate) -> optuna.samplers.BaseSampler:
    if search == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if search == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if search == "gp":
        try:
            import torch  # noqa: F401
        except ImportError:
            raise ConfigError(
                "--search gp needs torch (pip install torch==2.13.0 takes the CPU build)"
            ) from None
        return optuna.samplers.GPSampler(seed=seed)
    if search == "grid":
        return optuna.samplers.GridSampler(candidate.grid, seed=seed)
    raise ConfigError(f"training.search: unknown search {search!r} (allowed: {', '.join(SEARCHES)})")


class FoldMedianPruner(optuna.pruners.BasePruner):
    """Optuna's MedianPruner (n_startup_trials completed trials, no pruning before step
    n_warmup_steps) for steps laid out fold after fold (step = fold x fold_steps + round).

    MedianPruner compares the trial's best value over *all* its steps with the median of the
    completed trials' values at the current step: in a later fold the best is an earlier
    fold's loss, so a trial far worse than the others on a fold with a higher loss than the
    first is never pruned there.  Here the trial's best is taken over its current fold only.
    """

    def __init__(self, fold_steps: int, n_startup_trials: int = 3, n_warmup_steps: int = 50) -> None:
        self.fold_steps = max(1, fold_steps)
        self.n_startup_trials = n_startup_trials
        self.n_warmup_steps = n_warmup_steps

    def prune(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.n_warmup_steps:
            return False
        completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if not completed or len(completed) < self.n_startup_trials:
            return False
        others = [t.intermediate_values[step] for t in completed if step in t.intermediate_values]
        if not others:
            return False
        start = step - step % self.fold_steps
        own = np.array([v for s, v in trial.intermediate_values.items() if start <= s <= step], dtype=float)
        if np.isnan(own).all():
            return True
        median = float(np.nanmedian(np.array(others, dtype=float)))
        if np.isnan(median):
            return False
        if study.direction == optuna.study.StudyDirection.MAXIMIZE:
            return float(np.nanmax(own)) < median
        return float(np.nanmin(own)) > median


def make_pruner(pruner: str, max_resource: int, fold_steps: int = 1) -> optuna.pruners.BasePruner:
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=25, max_resource=max_resource, reduction_factor=3)
    if pruner == "median":
        return FoldMedianPruner(fold_steps, n_startup_trials=3, n_warmup_steps=50)
    if pruner == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"training.pruner: unknown pruner {pruner!r} (allowed: {', '.join(PRUNERS)})")


def _grid_params(candidate: Candidate, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
    """Grid values for the grid's parameters, defaults for the rest."""
    params = dict(candidate.defaults)
    for name, values in candidate.grid.items():
        params[name] = trial.suggest_categorical(name, values)
    return params


@contextlib.contextmanager
def study_lock(storage: str | None, study_name: str) -> Iterator[None]:
    """An exclusive lock on one stored study while a run resumes it.

    The warehouse's writer lock does not cover the study: the storage is per working folder
    (or $ADSCORE_OPTUNA_STORAGE), so two runs on two warehouses can resume one study at
    once, and each would fail the other's RUNNING trial as one a killed process left (the
    other then dies on "Cannot tell a FAIL trial").  For a SQLite storage the lock is a
    ``flock`` on ``<file>.<digest of the name>.lock`` beside it; a server database is not
    locked here.
    """
    if storage is None or not storage.startswith("sqlite:///") or storage == "sqlite:///:memory:":
        yield
        return
    db = Path(storage[len("sqlite:///") :].split("?", 1)[0])
    path = db.with_name(f"{db.name}.{hashlib.sha256(study_name.encode()).hexdigest()[:16]}.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"--study-name {study_name}: another process is running this study in {db}: "
                "wait for it to finish, or use another name"
            ) from None
        yield
    finally:
        os.close(fd)  # (releases the lock)


def _locked_when_resumed(fn: Callable[P, TuningResult]) -> Callable[P, TuningResult]:
    """``fn`` (keyword-only ``study_name``, ``storage``, ``resume``) run under
    :func:`study_lock` when it resumes a stored study; its signature is kept."""

    @functools.wraps(fn)
    def locked(*args: P.args, **kwargs: P.kwargs) -> TuningResult:
        if not kwargs.get("resume"):
            return fn(*args, **kwargs)
        with study_lock(cast("str | None", kwargs["storage"]), cast(str, kwargs["study_name"])):
            return fn(*args, **kwargs)

    return locked


@_locked_when_resumed
def tune(
    candidate: Candidate,
    X: np.ndarray,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    *,
    problem_type: str,
    metric: str,
    search: str,
    pruner: str,
    n_trials: int,
    timeout: float | None,
    seed: int,
    n_jobs: int,
    clip: tuple[float, float] | None,
    study_name: str,
    storage: str | None,
    resume: bool = False,
    study_attrs: dict[str, str] | None = None,
) -> TuningResult:
    """Search ``candidate``'s space; the first trial is its default parameters.

    A new search runs in memory under a fixed name (Hyperband assigns brackets by hashing
    the study name, so a fixed name keeps runs reproducible) and is then copied to
    ``storage`` as ``study_name``.  With ``resume``, the stored study ``study_name`` is
    loaded and extended instead.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if pruner != "none" and candidate.rounds_param is None:
        log.info(
            "%s reports no boosting rounds: --pruner %s prunes nothing (every trial runs)",
            candidate.name,
            pruner,
        )
    maximize = not lower_is_better(metric)
    direction: Literal["minimize", "maximize"] = "maximize" if maximize else "minimize"
    max_rounds = candidate.max_rounds
    working_storage: Any = storage if resume else optuna.storages.InMemoryStorage()
    study = optuna.create_study(
        direction=direction,
        sampler=make_sampler(search, seed, candidate),
        pruner=make_pruner(pruner, max(1, max_rounds) * len(folds), max(1, max_rounds)),
        study_name=study_name if resume else f"{candidate.name}-{search}",
        storage=working_storage,
        load_if_exists=resume,
    )
    # What the study optimises, so that resuming it for another task, candidate or metric is
    # refused (its trials would steer the sampler and the pruner the wrong way).
    # ``study_attrs``: the caller's (the task, a digest of the feature columns).
    identity = {
        "candidate": candidate.name,
        "metric": metric,
        "problem_type": problem_type,
        # --search grid suggests the grid's values as categories, the other searches draw
        # from ranges: a study of one kind resumed with the other fails its first trial
        # (Optuna: "Cannot set different distribution kind to the same parameter name").
        "space": "grid" if search == "grid" else "ranges",
        **(study_attrs or {}),
    }
    if resume:  # a stored study without trials has its direction too (optuna create-study)
        stored = {k: study.user_attrs.get(k) for k in identity}
        differ = [k for k, v in identity.items() if stored[k] not in (None, v)]
        if study.direction.name.lower() != direction or differ:
            raise ConfigError(
                f"--study-name {study_name}: the stored study {study.direction.name.lower()}s "
                f"{stored['metric'] or '?'} of {stored['candidate'] or '?'} "
                f"({stored['problem_type'] or '?'}); "
                f"this run {direction}s {metric} of {candidate.name} ({problem_type})"
                + (f", and its {', '.join(differ)} differ" if differ else "")
                + ": use another name"
            )
    for key, value in identity.items():
        study.set_user_attr(key, value)
    if resume:
        # Under study_lock (SQLite) no other process runs this study: a trial still RUNNING was
        # left by a killed process, and would otherwise stay RUNNING in the study for good.
        for stale in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            study._storage.set_trial_state_values(stale._trial_id, optuna.trial.TrialState.FAIL)
    earlier = {t.number for t in study.get_trials(deepcopy=False)}  # a resumed study's past trials
    if earlier and search != "grid":
        # The same seed again would propose the first run's parameters again (then pruned
        # against their own earlier trials): a resumed search continues with another stream.
        # Not the grid: GridSampler's seed shuffles the grid, and a trial's stored grid_id is
        # an index into that shuffle (trial n takes grid point n while n < the grid's size),
        # so another seed re-evaluates points the study has and skips others.
        study.sampler = make_sampler(search, seed + len(earlier), candidate)
    if search != "grid":
        study.enqueue_trial(candidate.defaults, skip_if_exists=True)
    scores: dict[int, FoldScores] = {}
    rounds_used = {"total": 0}

    def objective(trial: optuna.Trial) -> float:
        params = _grid_params(candidate, trial) if search == "grid" else candidate.suggest(trial)
        curves: list[list[float]] = []  # each fold's validation loss per round
        chosen: dict[str, int] = {}
        fit = None
        common: CommonRounds | None = None
        if (
            candidate.fit_rounds is not None
            and candidate.rounds_param is not None
            and candidate.predict_rounds is not None
        ):
            params[candidate.rounds_param] = max_rounds
            fold_index = {"i": 0}

            def fit(model: Any, Xt: np.ndarray, yt: np.ndarray, Xv: np.ndarray, yv: np.ndarray) -> None:
                offset = fold_index["i"] * max_rounds
                fold_index["i"] += 1
                # The pruner's answer is remembered, not asked for again: Hyperband records a
                # trial at a rung when it answers, so a second should_prune() says "keep".
                fold: dict[str, Any] = {"pruned": False, "best": None, "last": -1}
                curve: list[float] = []

                def on_round(iteration: int, value: float) -> bool:
                    rounds_used["total"] += 1
                    curve.append(value)
                    # Boosters report a loss (rmse, logloss): flip it when the study maximises.
                    reported = -value if maximize else value
                    trial.report(reported, offset + iteration)
                    fold["last"] = iteration
                    if fold["best"] is None or (reported > fold["best"]) == maximize:
                        fold["best"] = reported
                    fold["pruned"] = trial.should_prune()
                    return bool(fold["pruned"])

                rounds = candidate.fit_rounds(model, Xt, yt, Xv, yv, problem_type, on_round)  # type: ignore[misc]
                if fold["pruned"] or rounds == 0:
                    raise optuna.TrialPruned()
                if fold["best"] is not None and fold["last"] < max_rounds - 1:
                    # Early stopping ended the fold: its best value stands for the rounds it did
                    # not train, so the rungs before the next fold judge this fold's result, not
                    # the next fold's first round.
                    trial.report(fold["best"], offset + max_rounds - 1)
                    if trial.should_prune():
                        raise optuna.TrialPruned()
                curves.append(curve)

            def choose() -> int:
                # The round with the best mean loss over the folds, among the rounds every
                # fold trained (a fold stops 50 rounds after its own best).
                shortest = min(len(c) for c in curves)
                mean_loss = np.mean([c[:shortest] for c in curves], axis=0)
                chosen["rounds"] = int(np.argmin(mean_loss)) + 1
                return chosen["rounds"]

            problem = problem_type
            predict_rounds = candidate.predict_rounds
            common = CommonRounds(choose, lambda model, Xv, n: predict_rounds(model, Xv, problem, n))

        result = cross_validate(
            lambda: candidate.make(problem_type, params, seed, n_jobs),
            X,
            y,
            folds,
            metric,
            problem_type,
            clip,
            fit=fit,
            rounds=common,
        )
        if "rounds" in chosen:
            trial.set_user_attr("best_rounds", chosen["rounds"])
        trial.set_user_attr("fold_scores", result.values)
        scores[trial.number] = result
        return result.mean

    # A progress bar for people watching a terminal; log lines only for scheduled jobs.
    study.optimize(objective, n_trials=n_trials, timeout=timeout, show_progress_bar=sys.stderr.isatty())
    if storage is not None and not resume:
        optuna.copy_study(
            from_study_name=study.study_name,
            from_storage=working_storage,
            to_storage=storage,
            to_study_name=study_name,
        )
    completed = [
        t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and t.number in scores
    ]
    if not completed:
        ran = len(study.trials) - len(earlier)
        if timeout is not None and ran < n_trials:
            why = f"the --timeout of {timeout:g}s ended the search after {ran} of {n_trials} trial(s)"
        elif earlier:
            why = (
                f"every trial of this run was pruned against the {len(earlier)} earlier trial(s) of "
                f"study {study_name} (a resumed study's earlier trials guide the search, the model "
                "is chosen among this run's trials)"
            )
        else:
            why = "every trial was pruned"
        raise ConfigError(
            f"no trial of {candidate.name} completed: {why}; "
            "raise --n-trials or --timeout, or relax the pruner"
        )
    best = (max if maximize else min)(completed, key=lambda t: scores[t.number].mean)
    params = (
        _grid_params(candidate, optuna.trial.FixedTrial(best.params))
        if search == "grid"
        else candidate.suggest(optuna.trial.FixedTrial(best.params))
    )
    if candidate.rounds_param is not None and "best_rounds" in best.user_attrs:
        params[candidate.rounds_param] = best.user_attrs["best_rounds"]
    rows = [
        {
            "study_name": study_name,
            "candidate": candidate.name,
            "trial_number": t.number,
            "state": t.state.name,
            # A pruned trial has no mean CV score (Optuna keeps its last report, a loss of one fold).
            "value": t.value if t.state == optuna.trial.TrialState.COMPLETE else None,
            # A booster's rounds are not searched: each trial trains up to max_rounds with early
            # stopping and keeps the rounds it chose (what the refit of that trial trains).
            "params": json.dumps(_trial_params(candidate, t), sort_keys=True),
            "duration_seconds": t.duration.total_seconds() if t.duration else None,
        }
        for t in study.trials
        if t.number not in earlier  # this run's trials only (ml.hpo_trials is per run)
    ]
    return TuningResult(
        params,
        scores[best.number],
        best.number,
        pd.DataFrame(rows),
        rounds_used["total"],
        study.study_name,
        storage,
    )
