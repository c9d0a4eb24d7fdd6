"""Batch scoring throughput: `python -m ml.score` on 1M ads, end to end.

    python bench/scoring.py [--ads 20000] [--rows 1000000] [--repeats 3] [--work /tmp/adscore-scoring]

1. Generates the demo world (--ads), runs `dbt build` and trains the ad score model once.
2. Replaces marts.ad_score_features with --rows ads: the curated rows replicated under new
   ad ids (ad copy therefore repeats, as it does across ad sets and platforms; the number of
   distinct texts is printed).
3. For each repeat, on a fresh copy of that warehouse: `python -m ml.score --task ad_score`
   as a subprocess (read, features, predict, intervals, drift, write back in one transaction),
   wall time and peak RSS; the step timings come from its log.
Prints every run and the median; figures go to docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

import duckdb
from common import build_world, env_for, run  # bench/common.py (scripts run from bench/)


def prepare(work: Path, ads: int, rows: int) -> Path:
    base = work / "base.duckdb"
    if base.exists():
        return base
    build_world(work, base, ads)
    env = env_for(work, base)
    run([sys.executable, "-m", "ml.train", "--task", "ad_score", "--n-trials", "4", "--no-mlflow"], env)
    with duckdb.connect(str(base)) as con:
        n = con.execute("select count(*) from marts.ad_score_features").fetchall()[0][0]
        copies = -(-rows // n)
        con.execute(
            "create or replace table marts.ad_score_features as "
            "select * replace (f.ad_id || '#' || cast(r.copy as varchar) as ad_id) "
            f"from marts.ad_score_features as f, range({copies}) as r(copy) "
            f"order by r.copy, f.ad_id limit {rows}"
        )
        got, texts = con.execute(
            "select count(*), count(distinct ad_text) from marts.ad_score_features"
        ).fetchall()[0]
    print(f"scoring table: {got} ads ({copies} copies of {n}), {texts} distinct ad texts")
    return base


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ads", type=int, default=20000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/adscore-scoring"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    base = prepare(args.work, args.ads, args.rows)
    walls = []
    for i in range(args.repeats):
        db = args.work / f"run{i}.duckdb"
        shutil.copy(base, db)
        env = env_for(args.work, db)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        result = run([sys.executable, "-m", "ml.score", "--task", "ad_score", "--duckdb", str(db)], env)
        wall = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        steps = re.findall(r"\((\d+\.\d)s\)", result.stderr)
        print(
            f"run {i + 1}: {wall:.1f} s wall (read {steps[0]} s, features+predict+drift {steps[1]} s, "
            f"write {steps[2]} s), peak RSS {max(peak, before) / 1024:.0f} MiB; {result.stdout.strip()}"
        )
        walls.append(wall)
        db.unlink()
    print(f"median: {statistics.median(walls):.1f} s for {args.rows} ads")


if __name__ == "__main__":
    main()
