"""Recompute only the account-health ground truth of a generated world (no raw files kept).

    python bench/health_oracle.py --ads 200000 --health-replicates 64 --out oracle.csv

Same world, seeds and labels as ``python -m ml.synth --ads N --seed S`` with its default
``--replicates`` (the ad-score replicates are skipped: the account-health truth does not use
them), so an existing bench warehouse can be scored against a new or more precise oracle
without regenerating everything. The exports are written to a temporary folder only because
the defects they carry decide the labels.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ml.synth import account_health  # noqa: E402
from ml.synth.__main__ import Streams, expected_warehouse_daily, extraction_time, write_raw  # noqa: E402
from ml.synth.exports import build_exports  # noqa: E402
from ml.synth.simulate import ad_effects, simulate  # noqa: E402
from ml.synth.world import build_world  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ads", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--replicates", type=int, default=32, help="ml.synth's --replicates (sets the seeds)")
    parser.add_argument("--health-replicates", type=int, default=64)
    parser.add_argument("--start-date", type=dt.date.fromisoformat, default=dt.date(2026, 8, 1))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    started = time.perf_counter()
    world = build_world(args.ads, args.days, args.seed, args.start_date)
    effects = ad_effects(world)
    streams = Streams.spawn(args.seed, args.replicates)
    daily, latents = simulate(world, effects, np.random.default_rng(streams.world))
    extracted_at = extraction_time(args.start_date, args.days)
    with tempfile.TemporaryDirectory() as tmp:
        defect_rng = np.random.default_rng(streams.defects)
        exports = build_exports(world, daily, extracted_at)
        defects = write_raw(exports, Path(tmp), defect_rng, 1.0, extracted_at)
    health = account_health.ground_truth(
        world,
        effects,
        expected_warehouse_daily(daily, defects),
        latents,
        np.random.default_rng(streams.health),
        args.health_replicates,
    )
    account_health.keyed(world, health).to_csv(args.out, index=False, lineterminator="\n")
    elapsed = time.perf_counter() - started
    print(f"health_oracle: {len(health)} advertiser-weeks to {args.out} in {elapsed:.0f} s")


if __name__ == "__main__":
    main()
