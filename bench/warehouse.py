"""dbt build vs the pandas reference on 1M, 10M and 100M raw rows.

    python bench/warehouse.py [--sizes 1 10 100] [--work /tmp/adscore-bench] [--repeats 1]
                              [--scheduled] [--rebuild]

Generates one base world of ~1.07M raw rows (20,000 ads x 120 days: ~0.5M ad-days in the
platform exports and as many first-party feed rows, default defect rates) with the project's
generator, tiles it to each size (bench/tile.py: ids remapped per tile), then
for each size runs, in separate processes, a full `dbt build` into a fresh DuckDB file and
the pandas reference (bench/pandas_reference.py) doing the same cleaning.  Reports wall
seconds, raw rows per second, peak RSS and the ratios, and writes them as JSON.  The pandas
run gets an address-space limit (--pandas-mem-gib) so that an out-of-memory failure is
reported rather than taking the machine down.  --scheduled also times the scheduled job's
build (ml.pipeline's dbt step) on a fresh warehouse; --rebuild times it again on the warehouse
just built, with the exports unchanged and then with one file re-delivered (the raw files
load incrementally: only new and changed files are parsed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.tile import tile  # noqa: E402
from ml.pipeline import plan  # noqa: E402

BASE_ADS = 20_000  # ~0.5M ad-days, ~1.07M raw rows (delivery + first-party feed)


def run_measured(
    cmd: list[str], env: dict[str, str], mem_limit_bytes: int | None = None, timeout: int = 7200
) -> dict:
    """Run a command; return its wall time, exit status and peak RSS (this child's, via wait4)."""

    def limit() -> None:
        if mem_limit_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (mem_limit_bytes, mem_limit_bytes))

    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after wait4
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, preexec_fn=limit)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    _, status, rusage = os.wait4(proc.pid, 0)
    timer.cancel()
    wall = time.perf_counter() - started
    log.seek(0)
    tail = log.read().decode(errors="replace")[-1500:]
    log.close()
    code = os.waitstatus_to_exitcode(status)
    return {
        "wall_s": round(wall, 2),
        "returncode": code,
        "peak_rss_gib": round(rusage.ru_maxrss / 2**20, 2),
        "tail": tail,
    }


def summarise(runs: list[dict]) -> dict:
    """Median wall time and peak RSS over the runs (every run kept); failed if any run failed."""
    ok = [r for r in runs if r["returncode"] == 0] or runs
    return {
        "wall_s": statistics.median(r["wall_s"] for r in ok),
        "peak_rss_gib": statistics.median(r["peak_rss_gib"] for r in ok),
        "returncode": next((r["returncode"] for r in runs if r["returncode"] != 0), 0),
        "runs": [{k: r[k] for k in ("wall_s", "peak_rss_gib", "returncode")} for r in runs],
        "tail": runs[-1]["tail"],
    }


def base_raw_millions(work: Path) -> float:
    """Raw rows of one tile (the base world), from its generator manifest: delivery + feed."""
    manifest = json.loads((work / "base" / "ground_truth" / "manifest.json").read_text())
    duplicates = manifest["defects"] * 0.4  # duplicated rows add to the ad-day rows
    return (2 * manifest["ad_day_rows"] + duplicates) / 1e6


def raw_rows(dbt_db: Path) -> int | None:
    import duckdb

    try:
        with duckdb.connect(str(dbt_db), read_only=True) as con:
            return int(con.execute("select sum(raw_rows) from audit.source_reconciliation").fetchall()[0][0])
    except Exception:  # the build may have failed
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1, 10, 100],
        help="millions of raw rows (each tile of the base world adds ~1.07M)",
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/adscore-bench"))
    parser.add_argument("--pandas-mem-gib", type=float, default=20.0)
    parser.add_argument(
        "--skip-pandas-above",
        type=int,
        default=1000,
        help="do not run pandas above this many million ad-days",
    )
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default <work>/results.json)")
    parser.add_argument(
        "--single-thread-above",
        type=int,
        default=50,
        help="above this many million raw rows, dbt runs one model at a time "
        "(ADSCORE_DBT_THREADS=1): two big aggregations side by side exceed the default "
        "DuckDB memory limit at ~100M rows",
    )
    parser.add_argument(
        "--scheduled",
        action="store_true",
        help="also time the scheduled job's build (ml.pipeline's dbt_build step: no unit "
        "tests, no monitoring marts), alternating with the full build in each repeat",
    )
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="after each fresh build, time the scheduled job's build again on the same warehouse: "
        "exports unchanged, then one export file re-delivered (its modification time changed)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="runs of each side per size (fresh warehouse each); medians reported",
    )
    args = parser.parse_args()

    work = args.work
    base = work / "base" / "raw"
    env = {
        **os.environ,
        "DO_NOT_TRACK": "1",
        "DBT_PROFILES_DIR": str(REPO / "profiles"),
        "OMP_NUM_THREADS": "1",
    }
    if not base.exists():
        print(f"generating the base world ({BASE_ADS} ads x 120 days) ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ml.synth",
                "--ads",
                str(BASE_ADS),
                "--days",
                "120",
                "--replicates",
                "1",
                "--health-replicates",
                "1",
                "--seed",
                "7",
                "--out",
                str(base),
            ],
            cwd=REPO,
            env=env,
            check=True,
        )

    results = []
    for size in args.sizes:
        folder = work / f"{size}M"
        raw = folder / "raw"
        tiles = max(1, round(size / base_raw_millions(work)))
        print(f"[{size}M] tiling x{tiles} ...", flush=True)
        tile_s = tile(base, raw, tiles)
        db = folder / "warehouse.duckdb"
        dbt_env = {
            **env,
            "ADSCORE_RAW_DIR": str(raw),
            "DUCKDB_PATH": str(db),
            "DBT_TARGET_PATH": str(folder / "dbt_target"),
            "DBT_LOG_PATH": str(folder / "dbt_logs"),
        }
        if size > args.single_thread_above:
            dbt_env["ADSCORE_DBT_THREADS"] = "1"
        builds = {"dbt": [str(Path(sys.executable).parent / "dbt"), "build"]}
        scheduled = next(step.command for step in plan("skip", None) if step.name == "dbt_build")
        if args.scheduled:
            builds["dbt_scheduled"] = scheduled
        runs: dict[str, list[dict]] = {name: [] for name in builds}
        rebuilds = ("rebuild_unchanged", "rebuild_one_file")
        if args.rebuild:
            runs.update({name: [] for name in rebuilds})
        n_raw = None
        for repeat in range(args.repeats):
            for name, command in builds.items():
                for path in (db, db.with_suffix(".duckdb.wal")):
                    path.unlink(missing_ok=True)
                shutil.rmtree(folder / "dbt_target", ignore_errors=True)  # no partial parse
                print(f"[{size}M] dbt {shlex.join(command[1:])} (run {repeat + 1}) ...", flush=True)
                runs[name].append(run_measured(command, dbt_env))
                print(f"    {runs[name][-1]['wall_s']} s, {runs[name][-1]['peak_rss_gib']} GiB", flush=True)
                if name == "dbt":
                    n_raw = raw_rows(db)
            if args.rebuild:
                # The scheduled job on the warehouse it built: only new or changed files are parsed.
                for name in rebuilds:
                    if name == "rebuild_one_file":
                        redelivered = sorted((raw / "google_ads").glob("*.csv"))[0]
                        os.utime(redelivered)
                    print(
                        f"[{size}M] {name}: dbt {shlex.join(scheduled[1:])} (run {repeat + 1}) ...",
                        flush=True,
                    )
                    runs[name].append(run_measured(scheduled, dbt_env))
                    print(
                        f"    {runs[name][-1]['wall_s']} s, {runs[name][-1]['peak_rss_gib']} GiB", flush=True
                    )
        dbt = summarise(runs["dbt"])
        record = {
            "size_m_raw_rows": size,
            "tiles": tiles,
            "raw_rows": n_raw,
            "tile_s": round(tile_s, 1),
            "dbt_threads": int(dbt_env.get("ADSCORE_DBT_THREADS", "2")),
            "dbt": dbt,
        }
        for name in ("dbt_scheduled", *rebuilds):
            if runs.get(name):
                record[name] = summarise(runs[name])
        if size <= args.skip_pandas_above:
            pandas_runs = []
            for repeat in range(args.repeats):
                print(f"[{size}M] pandas reference (run {repeat + 1}) ...", flush=True)
                pandas_runs.append(
                    run_measured(
                        [
                            sys.executable,
                            str(REPO / "bench/pandas_reference.py"),
                            str(raw),
                            str(folder / "pandas.parquet"),
                        ],
                        env,
                        mem_limit_bytes=int(args.pandas_mem_gib * 2**30),
                    )
                )
                print(f"    {pandas_runs[-1]['wall_s']} s, {pandas_runs[-1]['peak_rss_gib']} GiB", flush=True)
                if pandas_runs[-1]["returncode"] != 0:
                    break  # a failure (e.g. out of memory) repeats the same way
            record["pandas"] = summarise(pandas_runs)
        results.append(record)
        print(json.dumps({k: v for k, v in record.items()}, default=str)[:2000], flush=True)
        shutil.rmtree(folder / "dbt_target", ignore_errors=True)

    machine = {
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }
    out = args.out or work / "results.json"
    out.write_text(json.dumps({"machine": machine, "results": results}, indent=2, default=str))
    print(
        f"\n{'size':>6} {'raw rows':>12} {'dbt s':>8} {'dbt rows/s':>11} {'dbt GiB':>8} "
        f"{'pandas s':>9} {'pandas GiB':>10} {'speed x':>8} {'mem x':>6}"
    )
    for r in results:
        d, p = r["dbt"], r.get("pandas")
        rows = r["raw_rows"] or 0
        line = (
            f"{r['size_m_raw_rows']:>5}M {rows:>12,} {d['wall_s']:>8} {rows / d['wall_s']:>11,.0f}"
            f" {d['peak_rss_gib']:>8}"
        )
        if p and p["returncode"] == 0:
            line += (
                f" {p['wall_s']:>9} {p['peak_rss_gib']:>10} {p['wall_s'] / d['wall_s']:>8.2f}"
                f" {p['peak_rss_gib'] / d['peak_rss_gib']:>6.2f}"
            )
        elif p:
            line += f"   pandas failed ({p['returncode']}) after {p['wall_s']} s"
        print(line + ("" if d["returncode"] == 0 else f"   dbt exit {d['returncode']}"))
        labels = {
            "dbt_scheduled": "scheduled job's build (no unit tests, no monitoring marts), fresh",
            "rebuild_unchanged": "scheduled job's rebuild, exports unchanged",
            "rebuild_one_file": "scheduled job's rebuild, one export file re-delivered",
        }
        for name, label in labels.items():
            if name in r:
                sch = r[name]
                print(
                    f"{'':>6} {label}: {sch['wall_s']} s"
                    f" {[x['wall_s'] for x in sch['runs']]}, {sch['peak_rss_gib']} GiB"
                    + ("" if sch["returncode"] == 0 else f", exit {sch['returncode']}")
                )
    print(f"machine: {machine}")


if __name__ == "__main__":
    main()
