"""Scale a generated raw export folder by tiling it with remapped ids (DuckDB COPY).

    python bench/tile.py BASE_RAW OUT_RAW --tiles K

Tile 0 is the base files byte for byte (malformed lines, invalid UTF-8 and the empty file
included).  Tiles 1..K-1 are one extra file per source in which every id gets a tile suffix,
so each tile is a distinct set of accounts, campaigns, ads and ad-days with the base's
row-level defects (duplicates, unparseable and missing values, outliers...).  Lines the
reader rejects in the base are not repeated in the tiles.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import duckdb

CSV_OPTS = (
    "header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
    "ignore_errors = true, columns = {cols}"
)
LINES_OPTS = (
    "header = false, auto_detect = false, delim = chr(30), quote = '', escape = '', "
    "ignore_errors = true, columns = {'json_line': 'varchar'}"
)

# file -> (columns in order, the id columns to suffix)
CSV_FILES = {
    "meta/ads_insights.csv": (
        [
            "account_id",
            "campaign_id",
            "adset_id",
            "ad_id",
            "date_start",
            "date_stop",
            "publisher_platform",
            "spend",
            "impressions",
            "clicks",
            "actions",
            "action_values",
            "account_currency",
            "extracted_at",
        ],
        ["account_id", "campaign_id", "adset_id", "ad_id"],
    ),
    "google_ads/ad_group_ad_performance.csv": (
        [
            "customer.id",
            "campaign.id",
            "ad_group.id",
            "ad_group_ad.ad.id",
            "segments.date",
            "metrics.impressions",
            "metrics.clicks",
            "metrics.cost_micros",
            "metrics.conversions",
            "metrics.conversions_value",
            "customer.currency_code",
            "extracted_at",
        ],
        ["customer.id", "campaign.id", "ad_group.id", "ad_group_ad.ad.id"],
    ),
    "pinterest/ad_analytics.csv": (
        [
            "ADVERTISER_ID",
            "CAMPAIGN_ID",
            "AD_GROUP_ID",
            "AD_ID",
            "DATE",
            "SPEND_IN_MICRO_DOLLAR",
            "IMPRESSION_1",
            "CLICKTHROUGH_1",
            "TOTAL_CHECKOUT",
            "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR",
            "EXTRACTED_AT",
        ],
        ["ADVERTISER_ID", "CAMPAIGN_ID", "AD_GROUP_ID", "AD_ID"],
    ),
    "adops/campaigns.csv": (
        [
            "source_platform",
            "advertiser_id",
            "account_id",
            "account_name",
            "vertical",
            "account_size_band",
            "campaign_id",
            "campaign_name",
            "objective",
            "daily_budget",
            "budget_currency",
            "start_date",
            "end_date",
            "updated_at",
        ],
        ["advertiser_id", "account_id", "campaign_id"],
    ),
    "adops/ad_sets.csv": (
        [
            "source_platform",
            "campaign_id",
            "ad_set_id",
            "publisher_platform",
            "audience_type",
            "age_min",
            "age_max",
            "gender",
            "geo",
            "interests",
            "estimated_audience_size",
            "updated_at",
        ],
        ["campaign_id", "ad_set_id"],
    ),
    "adops/ads.csv": (
        [
            "source_platform",
            "ad_set_id",
            "ad_id",
            "creative_id",
            "format",
            "daily_budget",
            "launch_date",
            "planned_end_date",
            "updated_at",
        ],
        ["ad_set_id", "ad_id", "creative_id"],
    ),
    "conversions/offline_conversions.csv": (
        [
            "event_date",
            "source_platform",
            "ad_id",
            "offline_conversions",
            "offline_conversion_value",
            "likes",
            "comments",
            "shares",
            "received_at",
        ],
        ["ad_id"],
    ),
}
JSONL_FILES = ["tiktok/ad_report.jsonl", "adops/creatives.jsonl"]
# Ids in JSON lines: quoted strings of 10+ digits, or "cr-" creative ids.
JSON_ID = r'"(cr-)?([0-9]{10,})"'


def tile(base: Path, out: Path, tiles: int) -> float:
    """Write ``out`` with ``tiles`` copies of ``base``; returns seconds taken."""
    started = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(base, out)
    if tiles <= 1:
        return time.perf_counter() - started
    con = duckdb.connect()
    con.execute("set preserve_insertion_order = false")
    for rel, (columns, ids) in CSV_FILES.items():
        cols = "{" + ", ".join(f"'{c}': 'varchar'" for c in columns) + "}"
        select = ", ".join(
            f"""nullif("{c}", '') || 't' || cast(t.k as varchar) as "{c}" """ if c in ids else f'"{c}"'
            for c in columns
        )
        source = f"read_csv('{base / rel}', {CSV_OPTS.format(cols=cols)})"
        target = out / rel.replace(".csv", "_tiled.csv")
        con.execute(
            f"copy (select {select} from {source}, range(1, {tiles}) as t(k)) to '{target}' "
            "(header true, delimiter ',', quote '\"', escape '\"')"
        )
    for rel in JSONL_FILES:
        source = f"read_csv('{base / rel}', {LINES_OPTS})"
        target = out / rel.replace(".jsonl", "_tiled.jsonl")
        con.execute(
            f"""copy (select regexp_replace(
                    json_line, '{JSON_ID}', '"\\1\\2t' || cast(t.k as varchar) || '"', 'g')
                from {source}, range(1, {tiles}) as t(k)) to '{target}'
                (format csv, header false, delimiter chr(30), quote '', escape '')"""
        )
    con.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--tiles", type=int, required=True)
    args = parser.parse_args()
    seconds = tile(args.base, args.out, args.tiles)
    print(f"tiled {args.base} x{args.tiles} into {args.out} in {seconds:.1f}s")


if __name__ == "__main__":
    main()
