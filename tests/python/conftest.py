"""Shared fixtures: a small generated world, a real dbt build over it, a real training run."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ml.synth.__main__ import generate

REPO = Path(__file__).resolve().parents[2]
SMALL = {"n_ads": 1500, "days": 120, "seed": 11, "replicates": 4, "start_date": dt.date(2026, 8, 1)}


@dataclass(frozen=True)
class Warehouse:
    """Paths of one test warehouse and the environment its commands run with."""

    root: Path
    raw: Path
    truth: Path
    duckdb: Path
    artifacts: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
        """Run a real command (dbt or python -m ...) against this warehouse."""
        return subprocess.run(
            list(args), cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def dbt(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(str(Path(sys.executable).parent / "dbt"), *args)

    def dbt_build(self) -> subprocess.CompletedProcess[str]:
        return self.dbt("build")

    def ml(self, module: str, *args: str) -> subprocess.CompletedProcess[str]:
        """python -m ml.<module> with this warehouse's environment."""
        return self.run(sys.executable, "-m", f"ml.{module}", *args)

    def train(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.run(
            sys.executable, "-m", "ml.train", "--n-trials", "2", "--artifacts", str(self.artifacts), *extra
        )

    def with_env(self, **extra: str) -> Warehouse:
        """The same warehouse, its commands run with extra environment variables."""
        return Warehouse(self.root, self.raw, self.truth, self.duckdb, self.artifacts, {**self.env, **extra})

    def with_raw(self, root: Path, raw: Path) -> Warehouse:
        """A copy of this warehouse (file and artifacts) reading another raw folder."""
        root.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.duckdb, root / "adscore.duckdb")
        if self.artifacts.exists():
            shutil.copytree(self.artifacts, root / "artifacts")
        return make_warehouse(root, raw, self.truth)


def ml_row_counts(wh: Warehouse, tables: tuple[str, ...]) -> dict[str, int]:
    """Row count of each ml.<table> (0 when the table does not exist yet)."""
    import duckdb

    with duckdb.connect(str(wh.duckdb), read_only=True) as con:
        present = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'ml'"
            ).fetchall()
        }
        return {
            t: con.execute(f"select count(*) from ml.{t}").fetchall()[0][0] if t in present else 0
            for t in tables
        }


def make_warehouse(root: Path, raw: Path, truth: Path) -> Warehouse:
    env = {
        **os.environ,
        "DUCKDB_PATH": str(root / "adscore.duckdb"),
        "ADSCORE_RAW_DIR": str(raw),
        "DBT_PROFILES_DIR": str(REPO / "profiles"),
        "DBT_TARGET_PATH": str(root / "dbt_target"),
        "DBT_LOG_PATH": str(root / "dbt_logs"),
        "DO_NOT_TRACK": "1",
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "OMP_NUM_THREADS": "1",
        "ADSCORE_OPTUNA_STORAGE": f"sqlite:///{root / 'optuna.db'}",
        "ADSCORE_ARTIFACTS_DIR": str(root / "artifacts"),
    }
    return Warehouse(root, raw, truth, root / "adscore.duckdb", root / "artifacts", env)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("demo")
    raw, truth = root / "raw", root / "ground_truth"
    generate(
        SMALL["n_ads"],
        SMALL["days"],
        SMALL["seed"],
        raw,
        truth,
        SMALL["replicates"],
        SMALL["start_date"],
        health_replicates=4,
    )
    return raw, truth


@pytest.fixture(scope="session")
def built(demo_data: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """A warehouse after a real `dbt build` over the generated exports."""
    raw, truth = demo_data
    wh = make_warehouse(tmp_path_factory.mktemp("warehouse"), raw, truth)
    result = wh.dbt_build()
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return wh


@pytest.fixture(scope="session")
def trained(built: Warehouse) -> tuple[Warehouse, subprocess.CompletedProcess[str]]:
    """The same warehouse after one real `python -m ml.train`."""
    result = built.train()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return built, result
