"""Helpers shared by the benchmark scripts: the environment of a scratch warehouse and a
subprocess runner that stops the benchmark on the first failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def env_for(work: Path, db: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DUCKDB_PATH": str(db),
        "ADSCORE_RAW_DIR": str(work / "raw"),
        "ADSCORE_ARTIFACTS_DIR": str(work / "artifacts"),
        "DBT_PROFILES_DIR": str(REPO / "profiles"),
        "DO_NOT_TRACK": "1",
        "OMP_NUM_THREADS": "1",
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
        "ADSCORE_OPTUNA_STORAGE": "memory",
    }


def run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def build_world(work: Path, db: Path, ads: int) -> None:
    """Generate the demo exports into ``work/raw`` (unless present) and `dbt build` into ``db``."""
    env = env_for(work, db)
    if not (work / "raw").exists():
        synth = [
            "--ads",
            str(ads),
            "--out",
            str(work / "raw"),
            "--replicates",
            "4",
            "--health-replicates",
            "2",
        ]
        run([sys.executable, "-m", "ml.synth", *synth], env)
    run([str(BIN / "dbt"), "build"], env)
