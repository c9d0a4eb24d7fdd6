"""Generate demo raw exports and their ground truth.

    python -m ml.synth --ads 20000 --days 120 --seed 7 --out data/raw

Writes the raw platform exports under ``--out`` and, outside it (``--truth``, default
``<out>/../ground_truth``):

- ``ad_score_oracle.csv``: per ad, the expected ad_score given only what the warehouse can
  see, estimated by re-simulating every unobservable part ``--replicates`` times and applying
  the same label definition as dbt; and ``ad_score_python``, the label the warehouse should
  compute from these exports once it has cleaned them as documented.
- ``account_health_oracle.csv``: per advertiser-week, the ``is_at_risk`` label the warehouse
  should compute and the true at-risk probability as of the week's end (``--health-replicates``
  re-simulations of what follows it, new launches included: ml/synth/account_health.py).
- ``defects.csv``: every corrupted row, line or file (``--defect-scale`` x the rates in
  ml/synth/defects.py; 0 for clean exports) with the handling the warehouse owes it and, for
  a row, the ad-day it belongs to (``ad_id``, ``performance_date``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ml.synth import account_health
from ml.synth.defects import Defect, inject
from ml.synth.exports import EXPORT_FILES, ExportTable, build_exports, write_table
from ml.synth.label import ad_score, read_label_weights
from ml.synth.simulate import ad_effects, ad_totals, simulate
from ml.synth.world import build_world


def unified_ad_id(source_platform: pd.Series, ad_id: pd.Series) -> pd.Series:
    """The warehouse's ad key: '<source>:<native id>' (native ids are unique per source only)."""
    return source_platform.astype(str) + ":" + ad_id.astype(str)


# Per source: which daily quantities a 'missing_optional' cell defaults to zero.
OPTIONAL_ZEROES = {
    "meta_ads.ads_insights": ("online_conversions",),
    "google_ads.ad_group_ad_performance": ("online_value_cents",),
    "pinterest_ads.ad_analytics": ("online_conversions",),
    "conversions.offline_conversions": ("likes",),
}
FEED = ("offline_conversions", "offline_value_cents", "likes", "comments", "shares")
DELIVERY = ("impressions", "clicks", "spend_cents", "online_conversions", "online_value_cents", *FEED)


def expected_warehouse_daily(daily: pd.DataFrame, defects: list[Defect]) -> pd.DataFrame:
    """The ad-days the warehouse should hold after quarantine, dedup and documented repairs."""
    out = daily.copy()
    for d in defects:
        if d.daily_row is None or d.handling in ("dedup", "keep"):
            continue
        if d.handling == "reject":
            # A rejected delivery row takes the ad-day with it (the feed joins to delivery).
            cols: tuple[str, ...] = FEED if d.source == "conversions.offline_conversions" else DELIVERY
        elif d.defect == "missing_optional":
            cols = OPTIONAL_ZEROES[d.source]
        else:
            continue
        out.loc[d.daily_row, list(cols)] = 0
    return out


def write_raw(
    tables: list[ExportTable], out: Path, rng: np.random.Generator, scale: float, extracted_at: dt.datetime
) -> list[Defect]:
    """Write every export, corrupted at ``scale`` x the defect rates; returns the defects made."""
    defects: list[Defect] = []
    for table in tables:
        lines, made = inject(table, rng, scale)
        write_table(table, lines, out)
        defects += made
    if scale > 0:
        empty = f"meta/ads_insights_{extracted_at:%Y%m%d}_retry.csv"  # a re-delivery that came empty
        (out / empty).write_bytes(b"")
        defects.append(Defect("meta_ads.ads_insights", empty, None, "", "empty_file", None))
    return defects


@dataclasses.dataclass(frozen=True)
class Streams:
    """The generator's independent random streams, spawned from one seed in a fixed layout
    (bench/health_oracle.py reuses it to repeat a world's draws)."""

    world: np.random.SeedSequence  # the draw written as raw exports
    replicates: list[np.random.SeedSequence]  # the ad-score oracle's re-simulations
    defects: np.random.SeedSequence
    health: np.random.SeedSequence  # the account-health oracle's re-simulations

    @classmethod
    def spawn(cls, seed: int, replicates: int) -> Streams:
        seeds = np.random.SeedSequence(seed).spawn(replicates + 3)
        return cls(seeds[0], seeds[1 : replicates + 1], seeds[replicates + 1], seeds[replicates + 2])


def extraction_time(start_date: dt.date, days: int) -> dt.datetime:
    """When the exports were pulled: 06:00 on the day after the window."""
    return dt.datetime.combine(start_date + dt.timedelta(days=days), dt.time(6, 0))


def generate(
    n_ads: int,
    days: int,
    seed: int,
    out: Path,
    truth: Path,
    replicates: int,
    start_date: dt.date,
    defect_scale: float = 1.0,
    health_replicates: int = 16,
) -> dict:
    """Build the world, write one draw as raw exports, its defects, and the label's oracle."""
    world = build_world(n_ads, days, seed, start_date)
    effects = ad_effects(world)
    weights = read_label_weights()
    platform = world.ads.platform.to_numpy()
    objective = world.ads.objective.to_numpy()
    streams = Streams.spawn(seed, replicates)

    daily, latents = simulate(world, effects, np.random.default_rng(streams.world))
    extracted_at = extraction_time(start_date, days)

    draws = np.empty((replicates, len(world.ads)))
    for r in range(replicates):
        sim, _ = simulate(world, effects, np.random.default_rng(streams.replicates[r]))
        draws[r] = ad_score(ad_totals(sim, len(world.ads)), platform, objective, weights)
    # Replicates end before the defects draw, so the oracle is the same at any defect scale.
    defect_rng = np.random.default_rng(streams.defects)
    labeled = ~np.isnan(draws)
    with np.errstate(invalid="ignore"):
        expected_score = np.nansum(draws, axis=0) / labeled.sum(axis=0)

    oracle = pd.DataFrame(
        {
            "ad_id": unified_ad_id(world.ads.source_platform, world.ads.ad_id),
            "platform": platform,
            "objective": objective,
            "expected_ad_score": expected_score,
            "labeled_share": labeled.mean(axis=0),
            "ad_score_python": np.nan,
            "latent_tone": world.ads.tone,
            "latent_emotion": world.ads.emotion,
            "latent_length_class": world.ads.length_class,
        }
    )

    # Write into temporary folders first, so an interrupted run leaves nothing half-written.
    for target in (out, truth):
        target.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = Path(tempfile.mkdtemp(prefix=".synth-raw-", dir=out.parent))
    tmp_truth = Path(tempfile.mkdtemp(prefix=".synth-truth-", dir=truth.parent))
    try:
        defects = write_raw(
            build_exports(world, daily, extracted_at), tmp_out, defect_rng, defect_scale, extracted_at
        )
        warehouse_daily = expected_warehouse_daily(daily, defects)
        actual = ad_score(ad_totals(warehouse_daily, len(world.ads)), platform, objective, weights)
        oracle["ad_score_python"] = actual
        health = account_health.ground_truth(
            world,
            effects,
            warehouse_daily,
            latents,
            np.random.default_rng(streams.health),
            health_replicates,
        )
        account_health.keyed(world, health).to_csv(
            tmp_truth / "account_health_oracle.csv", index=False, lineterminator="\n"
        )
        # The ad-day a row-level defect hit, in the warehouse's terms (ad_id, performance_date),
        # so tests can check the quarantine ad-day by ad-day.
        unified = unified_ad_id(world.ads.source_platform, world.ads.ad_id).to_numpy()
        ad_keys, day_offsets = daily.ad_key.to_numpy(), daily.day.to_numpy()
        pd.DataFrame(
            [
                {
                    **d.__dict__,
                    "handling": d.handling,
                    "reason": d.reason,
                    "ad_id": None if d.daily_row is None else unified[ad_keys[d.daily_row]],
                    "performance_date": None
                    if d.daily_row is None
                    else (start_date + dt.timedelta(days=int(day_offsets[d.daily_row]))).isoformat(),
                }
                for d in defects
            ],
            columns=[
                "source",
                "file",
                "line",
                "key",
                "defect",
                "daily_row",
                "handling",
                "reason",
                "expected",
                "ad_id",
                "performance_date",
            ],
        ).to_csv(tmp_truth / "defects.csv", index=False)
        oracle.to_csv(tmp_truth / "ad_score_oracle.csv", index=False, lineterminator="\n")
        summary = {
            "ads": len(world.ads),
            "days": days,
            "seed": seed,
            "replicates": replicates,
            "start_date": start_date.isoformat(),
            "ad_day_rows": len(daily),
            "labeled_ads": int((~np.isnan(actual)).sum()),
            "defect_scale": defect_scale,
            "health_replicates": health_replicates,
            "account_weeks_labelled": int(health.is_at_risk_python.notna().sum()),
            "at_risk_share": round(float(health.is_at_risk_python.mean()), 4),
            "defects": len(defects),
            "files": EXPORT_FILES,
        }
        (tmp_truth / "manifest.json").write_text(json.dumps(summary, indent=2) + "\n")
        for tmp, target in ((tmp_out, out), (tmp_truth, truth)):
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)
    finally:
        for tmp in (tmp_out, tmp_truth):
            shutil.rmtree(tmp, ignore_errors=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.synth", description=__doc__.split("\n")[0])
    parser.add_argument("--ads", type=int, default=20_000, help="number of ads (default 20000)")
    parser.add_argument("--days", type=int, default=120, help="days of delivery (default 120)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--out", type=Path, default=Path("data/raw"), help="raw export folder")
    parser.add_argument(
        "--truth", type=Path, default=None, help="ground-truth folder (default: <out>/../ground_truth)"
    )
    parser.add_argument(
        "--replicates",
        type=int,
        default=32,
        help="re-simulations of the unobservables for the oracle (>= 32 advised)",
    )
    parser.add_argument("--start-date", type=dt.date.fromisoformat, default=dt.date(2026, 8, 1))
    parser.add_argument(
        "--defect-scale",
        type=float,
        default=1.0,
        help="multiplier of the defect rates in ml/synth/defects.py (0 = clean)",
    )
    parser.add_argument(
        "--health-replicates",
        type=int,
        default=16,
        help="re-simulations per account-week for the true at-risk probability",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing folders")
    args = parser.parse_args(argv)

    if args.ads < 10 or args.days < 14 or args.replicates < 1:
        parser.error("need --ads >= 10, --days >= 14 and --replicates >= 1")
    truth = args.truth or args.out.parent / "ground_truth"
    for target in (args.out, truth):
        if target.exists() and any(target.iterdir()) and not args.overwrite:
            print(f"ml.synth: {target} already holds data; pass --overwrite to replace it", file=sys.stderr)
            return 2
    started = time.perf_counter()
    summary = generate(
        args.ads,
        args.days,
        args.seed,
        args.out,
        truth,
        args.replicates,
        args.start_date,
        args.defect_scale,
        args.health_replicates,
    )
    print(
        f"ml.synth: {summary['ads']} ads, {summary['ad_day_rows']} ad-day rows, "
        f"{summary['labeled_ads']} labelled, {summary['defects']} defects, written to {args.out} and {truth} "
        f"in {time.perf_counter() - started:.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
