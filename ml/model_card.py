"""Model cards generated from the warehouse: one Markdown file per registered version.

    python -m ml.model_card --task ad_score [--version N]

The card reads only the registry and run tables (ml.model_versions, ml.runs, ml.metrics,
ml.calibration, ml.fairness, ml.learning_curves, ml.feature_importance, ml.promotions) and
the artifact's manifest, and is written as ``model_card.md`` beside the artifact (next to
its ``figures/``), so it can be regenerated at any time and always matches the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from ml.artifacts import resolve_artifact
from ml.errors import AdscoreError
from ml.learning_curves import VERDICTS
from ml.warehouse import db_path, read_query, recorded_predict_ms

INTENDED_USE = {
    "ad_score": (
        "Predicts an ad's 0-100 Ad Score from attributes known before launch (platform, objective, "
        "copy, creative, audience, budget), so that agencies can rank drafts before spending. It is "
        "a ranking aid for creatives, not a forecast of any single ad's delivery."
    ),
    "account_health": (
        "Estimates the probability that an advertiser account is at risk over the next weeks "
        "(return on ad spend falling or spend collapsing), so account teams can intervene early. "
        "Flags use the decision threshold chosen on validation data."
    ),
}


def _table(frame: pd.DataFrame, floatfmt: str = ".4f") -> str:
    if frame.empty:
        return "_(none)_\n"
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append("" if v != v else format(v, floatfmt))
            else:
                cells.append(str(v).replace("|", "\\|"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _learning_curve_reading(path: Path, run_id: str) -> str | None:
    """The recorded reading of the run's learning curve (ml.runs), None for runs made before
    it was recorded (select *: older warehouses lack the columns)."""
    run = read_query(path, "select * from ml.runs where run_id = ?", [run_id])
    verdict = run.get("learning_curve_verdict", pd.Series(dtype=object)).dropna()
    if not len(verdict) or verdict.iloc[0] not in VERDICTS:
        return None
    gain = run.learning_curve_valid_gain.iloc[0]
    measured = (
        f" (validation gain of the last doubling of the training rows: {gain:+.4f})"
        if pd.notna(gain) and abs(gain) != float("inf")
        else ""
    )
    return f"Reading: **{verdict.iloc[0]}**: {VERDICTS[verdict.iloc[0]]}{measured}."


def render(path: Path, model_name: str, version: int, artifacts: Path | None = None) -> tuple[str, Path]:
    """The card's Markdown and the folder it belongs in (the artifact's)."""
    rows = read_query(
        path,
        "select v.*, r.task, r.data_hash, r.config_hash, r.seed, r.n_train_rows, r.n_test_rows, "
        "r.git_sha, r.library_versions, r.mlflow_run_id, r.started_at, r.finished_at "
        "from ml.model_versions v join ml.runs r using (run_id) where v.model_name = ? and v.version = ?",
        [model_name, version],
    )
    if rows.empty:
        raise AdscoreError(f"model {model_name} has no version {version}")
    v = rows.iloc[0]
    run_id = v.run_id
    predict_ms = recorded_predict_ms(path, run_id)
    curve_reading = _learning_curve_reading(path, run_id)
    folder = resolve_artifact(v.artifact_path, artifacts).parent
    manifest: dict[str, Any] = {}
    if (folder / "manifest.json").is_file():
        manifest = json.loads((folder / "manifest.json").read_text())
    aliases = read_query(
        path, "select alias from ml.model_aliases where model_name = ? and version = ?", [model_name, version]
    ).alias.tolist()
    metrics = read_query(
        path, "select split, segment, metric, value, n_rows from ml.metrics where run_id = ?", [run_id]
    )
    calibration = read_query(
        path, "select method, split, metric, value, is_chosen from ml.calibration where run_id = ?", [run_id]
    )
    fairness = read_query(
        path,
        'select feature, metric, value, "limit", passes from ml.fairness '
        'where run_id = ? and "limit" is not null',  # the gaps: evaluated, or not (passes null)
        [run_id],
    )
    curve = read_query(
        path,
        "select train_fraction, n_train_rows, split, metric, value from ml.learning_curves where run_id = ? "
        "order by split, train_fraction",
        [run_id],
    )
    importance = read_query(
        path,
        "select importance_type, feature, value, value_std from ml.feature_importance where run_id = ? "
        "qualify row_number() over (partition by importance_type order by value desc) <= 10 "
        "order by importance_type, value desc",
        [run_id],
    )
    promotions = read_query(
        path,
        "select decided_at, decision, champion_before, champion_after, improvement, ci_low, ci_high, reason "
        "from ml.promotions where model_name = ? and version = ? order by decided_at",
        [model_name, version],
    )
    problem = manifest.get("problem_type", "")
    snapshot = manifest.get("snapshot", {})
    overall = metrics[(metrics.segment == "overall")].pivot_table(
        index="metric", columns="split", values="value"
    )
    headline_metric = manifest.get("config", {}).get("training", {}).get("metric", "")
    segments = metrics[
        (metrics.split == "test") & (metrics.segment != "overall") & (metrics.metric == headline_metric)
    ]

    limitations = [
        "Trained and evaluated on the generator's synthetic platform exports unless the warehouse "
        "holds real ones; figures describe that data.",
        "Features are attributes known before launch (ad score) or trailing account weeks "
        "(account health); effects of later changes (budget edits, new creatives) are not seen.",
    ]
    failed_fairness = fairness[fairness.passes == False]  # noqa: E712
    for r in failed_fairness.itertuples():
        limitations.append(
            f"Fairness limit exceeded: {r.feature} {r.metric} = {r.value:.3f} (limit {r.limit})."
        )
    small = metrics[(metrics.split == "test") & (metrics.segment != "overall") & (metrics.n_rows < 50)]
    if len(small):
        names = sorted(set(small.segment))
        limitations.append(f"Segments with under 50 holdout rows have noisy metrics: {', '.join(names[:8])}.")

    figures = sorted((folder / "figures").glob("*.png")) if (folder / "figures").is_dir() else []
    out = [
        f"# Model card: {model_name} v{version}",
        "",
        f"Aliases: {', '.join(aliases) or 'none'}. "
        f"Generated from the warehouse tables ml.* for run `{run_id}`.",
        "",
        "## Model details",
        "",
        _table(
            pd.DataFrame(
                [
                    ("estimator", v.estimator),
                    ("problem type", problem),
                    ("target", manifest.get("target", "")),
                    ("created at", str(v.created_at)),
                    ("seed", str(v.seed)),
                    (
                        "hyperparameters",
                        json.dumps(manifest.get("params", {}), sort_keys=True)
                        + (
                            " (the defaults: tuning found nothing better)"
                            if manifest.get("params_from") == "defaults"
                            else ""
                        ),
                    ),
                    (
                        "prediction time",
                        f"{predict_ms:.2f} ms per 1,000 rows (the model alone, on the "
                        "holdout's feature rows, at training)"
                        if predict_ms is not None
                        else "not recorded",
                    ),
                    ("git commit", str(v.git_sha or "")),
                    ("artifact", str(v.artifact_path)),
                    ("artifact sha256", v.artifact_sha256),
                    ("MLflow run", str(v.mlflow_run_id or "")),
                ],
                columns=["field", "value"],
            )
        ),
        "## Intended use",
        "",
        INTENDED_USE.get(str(v.task), ""),
        "",
        "## Training snapshot",
        "",
        _table(
            pd.DataFrame(
                [
                    ("table", snapshot.get("table", "")),
                    ("data hash", v.data_hash),
                    ("config hash", v.config_hash),
                    ("training rows", str(v.n_train_rows)),
                    ("holdout rows", str(v.n_test_rows)),
                    ("date column", snapshot.get("date_column", "")),
                    ("date range", f"{snapshot.get('date_min', '')} .. {snapshot.get('date_max', '')}"),
                    ("features", str(len(manifest.get("feature_names", [])))),
                ],
                columns=["field", "value"],
            )
        ),
        "## Metrics",
        "",
        "Cross-validated on the warehouse folds (mean and std over folds) and on the frozen holdout:",
        "",
        _table(overall.reset_index()),
        f"Per segment on the holdout ({headline_metric}):",
        "",
        _table(segments[["segment", "value", "n_rows"]].rename(columns={"value": headline_metric})),
        "## Calibration and intervals",
        "",
        _table(calibration),
        "## Fairness",
        "",
        _table(fairness),
        "## Learning curve",
        "",
        *([curve_reading, ""] if curve_reading else []),
        _table(curve),
        "## Top features",
        "",
        _table(importance),
        "## Promotion history",
        "",
        _table(promotions),
        "## Known limitations",
        "",
        *[f"- {line}" for line in limitations],
        "",
    ]
    if figures:
        out += ["## Figures", ""] + [f"![{f.stem}](figures/{f.name})" for f in figures] + [""]
    return "\n".join(out), folder


def write_card(path: Path, model_name: str, version: int, artifacts: Path | None = None) -> Path:
    """Write ``model_card.md`` beside the artifact (temporary file, then rename)."""
    text, folder = render(path, model_name, version, artifacts)
    if not folder.is_dir():
        raise AdscoreError(f"artifact folder {folder} is missing")
    target = folder / "model_card.md"
    tmp = folder / f".model_card.{os.getpid()}.md"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.model_card", description=__doc__.split("\n")[0])
    parser.add_argument("--task", required=True)
    parser.add_argument("--version", type=int, help="default: the champion")
    parser.add_argument("--duckdb", type=Path)
    parser.add_argument(
        "--artifacts", type=Path, help="artifacts root (default $ADSCORE_ARTIFACTS_DIR or ./artifacts)"
    )
    args = parser.parse_args(argv)
    path = db_path(args.duckdb)
    try:
        from ml.registry import known_task, resolve_version

        known_task(path, args.task)
        version = args.version or int(resolve_version(path, args.task).version)
        print(write_card(path, args.task, version, args.artifacts))
    except AdscoreError as exc:
        print(f"ml.model_card: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
