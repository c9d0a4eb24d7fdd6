"""Holdout quality against the generator's oracles, FLAML at equal budget, and pruning.

    python bench/quality.py [--ads 20000] [--work /tmp/adscore-quality] [--skip-flaml] [--skip-pruning]

1. Generates the demo world (or reuses --work), runs `dbt build` and `python -m ml.train`
   (both tasks, default configuration) and reads the frozen test split's figures:
   ad score RMSE against the oracle's (expected label given what the warehouse sees),
   account health ROC-AUC against the AUC of the true at-risk probability (as of each week's
   end, --health-replicates re-simulations each), and ECE.
2. FLAML (installed for this benchmark only) on the same curated features and the same test
   split, with the wall-clock budget our tuning + refit took for that task.
3. Pruning: Optuna with --pruner hyperband vs none, same seed and trial count, on ad score:
   total boosting rounds trained and best mean CV RMSE.
Prints a report; figures go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def run(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, env=env, check=True)
    return time.perf_counter() - started


def oracle_report(db: Path, truth: Path) -> dict:
    from sklearn.metrics import roc_auc_score

    from ml.evaluation import expected_calibration_error
    from ml.warehouse import read_query

    test_ads = read_query(
        db,
        """
        select f.ad_id, t.platform, t.ad_score from marts.ad_score_folds as f
        inner join marts.ad_score_training as t on f.ad_id = t.ad_id where f.split = 'test'""",
    )
    oracle = pd.read_csv(truth / "ad_score_oracle.csv", usecols=["ad_id", "expected_ad_score"])
    ads = test_ads.merge(oracle, on="ad_id")
    latest = read_query(
        db,
        """
        select r.task, m.segment, m.metric, m.value from ml.metrics m join ml.runs r using (run_id)
        where m.split = 'test'
            and r.finished_at = (select max(finished_at) from ml.runs as x where x.task = r.task)""",
    )
    rmse = latest[(latest.task == "ad_score") & (latest.metric == "rmse")].set_index("segment").value
    report = {"ad_score": []}
    for segment, g in [("overall", ads)] + [(f"platform={p}", g) for p, g in ads.groupby("platform")]:
        oracle_rmse = float(np.sqrt(np.mean((g.expected_ad_score - g.ad_score) ** 2)))
        report["ad_score"].append(
            {
                "segment": segment,
                "n": len(g),
                "model_rmse": float(rmse[segment]),
                "oracle_rmse": oracle_rmse,
                "ratio": float(rmse[segment]) / oracle_rmse,
            }
        )
    weeks = read_query(
        db,
        """
        select t.account_id, t.week_start, t.is_at_risk from marts.account_health_training t
        where (t.account_id, t.week_start) in (select account_id, week_start from marts.account_health_folds
                                              where split = 'test')""",
    )
    weeks["week_start"] = pd.to_datetime(weeks.week_start)
    truth_ah = pd.read_csv(truth / "account_health_oracle.csv", parse_dates=["week_start"])
    joined = weeks.merge(truth_ah, on=["account_id", "week_start"])
    ah = latest[(latest.task == "account_health") & (latest.segment == "overall")].set_index("metric").value
    report["account_health"] = {
        "n": len(joined),
        "model_auc": float(ah["roc_auc"]),
        "model_ece": float(ah["ece"]),
        "oracle_auc": float(roc_auc_score(joined.is_at_risk.astype(int), joined.true_at_risk_probability)),
        # The true probability is calibrated by construction: its measured ECE on these rows is
        # the sampling floor of the ECE figure at this test size.
        "oracle_ece": float(
            expected_calibration_error(
                joined.is_at_risk.astype(int).to_numpy(), joined.true_at_risk_probability.to_numpy()
            )
        ),
    }
    return report


def curated_matrices(db: Path, task: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str, list]:
    """The task's curated feature matrices and its CV folds, as ml.train builds them."""
    from ml.config import default_config_path, load_config
    from ml.features.pipeline import build_feature_pipeline
    from ml.validation import validate_training_data
    from ml.warehouse import read_training_snapshot

    config = load_config(default_config_path(task))
    spec = config.data
    snapshot = read_training_snapshot(db, spec.table, spec.folds_table, list(spec.id_columns))
    frame, splits = validate_training_data(snapshot, config)
    train, test = frame.iloc[splits.train_rows], frame.iloc[splits.test_rows]
    pipeline = build_feature_pipeline(config)
    y_train = train[spec.target].astype("float64").to_numpy()
    y_test = test[spec.target].astype("float64").to_numpy()
    return (
        pipeline.fit_transform(train),
        y_train,
        pipeline.transform(test),
        y_test,
        config.problem_type,
        splits.cv,
    )


def flaml_report(db: Path, budgets: dict[str, float], seed: int) -> dict:
    from flaml import AutoML
    from sklearn.metrics import mean_squared_error, roc_auc_score

    out = {}
    for task, budget in budgets.items():
        X, y, Xt, yt, problem, _ = curated_matrices(db, task)
        automl = AutoML()
        automl.fit(
            X,
            y,
            task="regression" if problem == "regression" else "classification",
            metric="rmse" if problem == "regression" else "roc_auc",
            time_budget=budget,
            seed=seed,
            n_jobs=1,
            verbose=0,
            # FLAML's tree learners: its linear, SGD and kNN ones reject the NaN that our
            # boosters (and these) take natively.
            estimator_list=["lgbm", "xgboost", "xgb_limitdepth", "rf", "extra_tree"],
        )
        if problem == "regression":
            value = float(np.sqrt(mean_squared_error(yt, np.clip(automl.predict(Xt), 0, 100))))
        else:
            value = float(roc_auc_score(yt, automl.predict_proba(Xt)[:, 1]))
        out[task] = {
            "budget_s": round(budget, 1),
            "metric": "rmse" if problem == "regression" else "roc_auc",
            "flaml": value,
            "best_estimator": automl.best_estimator,
        }
    return out


def pruning_report(db: Path, n_trials: int, seed: int) -> dict:
    from ml.models import get_candidate
    from ml.tuning import tune

    X, y, _, _, _, folds = curated_matrices(db, "ad_score")
    out: dict = {}
    for pruner in ("hyperband", "none"):
        started = time.perf_counter()
        result = tune(
            get_candidate("xgboost"),
            X,
            y,
            folds,
            problem_type="regression",
            metric="rmse",
            search="tpe",
            pruner=pruner,
            n_trials=n_trials,
            timeout=None,
            seed=seed,
            n_jobs=1,
            clip=(0.0, 100.0),
            study_name=f"bench-{pruner}",
            storage=None,
        )
        out[pruner] = {
            "boosting_rounds": result.boosting_rounds,
            "best_cv_rmse": result.best_scores.mean,
            "pruned_trials": int((result.trials.state == "PRUNED").sum()),
            "seconds": round(time.perf_counter() - started, 1),
        }
    out["rounds_ratio"] = out["none"]["boosting_rounds"] / max(1, out["hyperband"]["boosting_rounds"])
    out["rmse_change"] = out["hyperband"]["best_cv_rmse"] / out["none"]["best_cv_rmse"] - 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ads", type=int, default=20_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/adscore-quality"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pruning-trials", type=int, default=20)
    parser.add_argument("--skip-flaml", action="store_true")
    parser.add_argument("--skip-pruning", action="store_true")
    parser.add_argument(
        "--health-replicates",
        type=int,
        default=64,
        help="re-simulations behind each true at-risk probability (16 leaves the oracle's AUC ~0.01 low)",
    )
    args = parser.parse_args()

    work = args.work.resolve()
    raw, truth, db = work / "raw", work / "ground_truth", work / "warehouse.duckdb"
    env = {
        **os.environ,
        "DO_NOT_TRACK": "1",
        "DBT_PROFILES_DIR": str(REPO / "profiles"),
        "OMP_NUM_THREADS": "1",
        "ADSCORE_RAW_DIR": str(raw),
        "DUCKDB_PATH": str(db),
        "DBT_TARGET_PATH": str(work / "dbt_target"),
        "DBT_LOG_PATH": str(work / "dbt_logs"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
        "ADSCORE_OPTUNA_STORAGE": "memory",
    }
    timings = {}
    if not raw.exists():
        timings["generate_s"] = run(
            [
                sys.executable,
                "-m",
                "ml.synth",
                "--ads",
                str(args.ads),
                "--seed",
                str(args.seed),
                "--out",
                str(raw),
                "--health-replicates",
                str(args.health_replicates),
            ],
            env,
        )
    if not db.exists():
        timings["dbt_build_s"] = run([str(Path(sys.executable).parent / "dbt"), "build"], env)
        for task in ("ad_score", "account_health"):
            timings[f"train_{task}_s"] = run(
                [sys.executable, "-m", "ml.train", "--task", task, "--artifacts", str(work / "artifacts")],
                env,
            )
    saved = work / "quality.json"
    previous = json.loads(saved.read_text()) if saved.exists() else {}
    timings = {**previous.get("timings", {}), **timings}
    # Sections skipped this time keep their figures from an earlier run on the same data.
    report = {**previous, "ads": args.ads, "timings": timings, "oracle": oracle_report(db, truth)}

    def save() -> None:
        saved.write_text(json.dumps(report, indent=2))

    save()
    if not args.skip_pruning:
        report["pruning"] = pruning_report(db, args.pruning_trials, args.seed)
        save()
    if not args.skip_flaml:
        from ml.warehouse import read_query

        # FLAML gets the wall time our whole training run of the task took (selection,
        # tuning, refit, calibration, learning curve).
        runs = read_query(
            db, "select task, epoch(max(finished_at) - max(started_at)) as seconds from ml.runs group by task"
        )
        budgets = dict(zip(runs.task, runs.seconds.astype(float), strict=True))
        report["flaml"] = flaml_report(db, budgets, args.seed)
        save()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
