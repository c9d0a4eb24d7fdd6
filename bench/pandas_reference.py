"""The pandas way: the same validation and cleaning as the dbt project, done in memory.

    python bench/pandas_reference.py RAW_DIR OUT.parquet

This is the spec's approach (read every export with pandas, validate, deduplicate, impute,
filter, normalise text, join, aggregate, label), written as a competent pandas user would:
vectorised string methods, no row loops except text normalisation.  It is the baseline of
`make bench-warehouse`; it is not used by the product.
"""

from __future__ import annotations

import csv
import glob
import html
import json
import re
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd

WHITESPACE = re.compile(r"\s+")


def read_csvs(pattern: str) -> pd.DataFrame:
    """Every file of a source as strings; malformed lines skipped, invalid bytes replaced."""
    frames = []
    for path in sorted(glob.glob(pattern)):
        if Path(path).stat().st_size == 0:
            continue
        frame = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            on_bad_lines="skip",
            encoding_errors="replace",
            quoting=csv.QUOTE_MINIMAL,
        )
        frame["source_file"] = path
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def read_jsonl(pattern: str) -> pd.DataFrame:
    records = []
    for path in sorted(glob.glob(pattern)):
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                flat = {**record.pop("dimensions", {}), **record.pop("metrics", {}), **record}
                image = flat.pop("image", None)
                if isinstance(image, dict):
                    flat.update({f"image_{k}": v for k, v in image.items()})
                records.append(flat)
    return pd.DataFrame.from_records(records).astype(str).replace({"None": None, "nan": None})


def number(series: pd.Series) -> pd.Series:
    cleaned = series.str.replace(r"[$,]|USD", "", regex=True).str.strip()
    return pd.to_numeric(cleaned, errors="coerce")


def date(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series.str.strip(), format="mixed", errors="coerce").dt.normalize()


def meta_actions(series: pd.Series, action_type: str) -> pd.Series:
    def total(text: object) -> float:
        if not isinstance(text, str) or not text:
            return 0.0
        try:
            return float(sum(float(a["value"]) for a in json.loads(text) if a["action_type"] == action_type))
        except (ValueError, KeyError, TypeError):
            return np.nan

    return series.map(total)


def normalize_text(text: object) -> str:
    if not isinstance(text, str):
        return ""
    return WHITESPACE.sub(" ", unicodedata.normalize("NFC", html.unescape(text))).strip()


def delivery(raw: Path) -> pd.DataFrame:
    meta = read_csvs(str(raw / "meta/*.csv"))
    meta = pd.DataFrame(
        {
            "source": "meta",
            "ad_id": "meta:" + meta.ad_id,
            "platform": meta.publisher_platform,
            "date": date(meta.date_start),
            "extracted_at": meta.extracted_at,
            "source_file": meta.source_file,
            "impressions": number(meta.impressions),
            "clicks": number(meta.clicks),
            "spend": number(meta.spend),
            "conversions": meta_actions(meta.actions, "offsite_conversion.fb_pixel_purchase"),
            "conversion_value": meta_actions(meta.action_values, "offsite_conversion.fb_pixel_purchase"),
        }
    )
    g = read_csvs(str(raw / "google_ads/*.csv"))
    google = pd.DataFrame(
        {
            "source": "google_ads",
            "ad_id": "google_ads:" + g["ad_group_ad.ad.id"],
            "platform": "google",
            "date": date(g["segments.date"]),
            "extracted_at": g.extracted_at,
            "source_file": g.source_file,
            "impressions": number(g["metrics.impressions"]),
            "clicks": number(g["metrics.clicks"]),
            "spend": number(g["metrics.cost_micros"]) / 1e6,
            "conversions": number(g["metrics.conversions"]).fillna(0),
            "conversion_value": number(g["metrics.conversions_value"]).fillna(0),
        }
    )
    t = read_jsonl(str(raw / "tiktok/*.jsonl"))
    tiktok = pd.DataFrame(
        {
            "source": "tiktok",
            "ad_id": "tiktok:" + t.ad_id,
            "platform": "tiktok",
            "date": date(t.stat_time_day),
            "extracted_at": t.extracted_at,
            "source_file": "tiktok",
            "impressions": number(t.impressions),
            "clicks": number(t.clicks),
            "spend": number(t.spend),
            "conversions": number(t.conversion).fillna(0),
            "conversion_value": number(t.total_purchase_value).fillna(0),
        }
    )
    p = read_csvs(str(raw / "pinterest/*.csv"))
    pinterest = pd.DataFrame(
        {
            "source": "pinterest",
            "ad_id": "pinterest:" + p.AD_ID,
            "platform": "pinterest",
            "date": date(p.DATE),
            "extracted_at": p.EXTRACTED_AT,
            "source_file": p.source_file,
            "impressions": number(p.IMPRESSION_1),
            "clicks": number(p.CLICKTHROUGH_1),
            "spend": number(p.SPEND_IN_MICRO_DOLLAR) / 1e6,
            "conversions": number(p.TOTAL_CHECKOUT).fillna(0),
            "conversion_value": (number(p.TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR) / 1e6).fillna(0),
        }
    )
    rows = pd.concat([meta, google, tiktok, pinterest], ignore_index=True)

    # Validate and filter (the same rules as int_ad_daily_performance_validated).
    bad = (
        rows.ad_id.isna()
        | rows.date.isna()
        | rows[["impressions", "clicks", "spend"]].isna().any(axis=1)
        | (rows[["impressions", "clicks", "spend", "conversions", "conversion_value"]] < 0).any(axis=1)
        | (rows.clicks > rows.impressions)
        | (rows.conversions > rows.clicks)
        | ((rows.spend > 0) & (rows.impressions == 0))
    )
    rows = rows[~bad].copy()
    log_cpm = np.log(rows.spend.where(rows.spend > 0) * 1000 / rows.impressions.where(rows.impressions > 0))
    median = log_cpm.groupby(rows.platform).transform("median")
    deviation = (log_cpm - median).abs().groupby(rows.platform)
    mad = deviation.transform("median") * 1.4826
    mad = mad.where(mad > 0, deviation.transform("mean") * 1.2533)  # MAD 0: mean-deviation fallback
    rows = rows[~((log_cpm - median).abs() > 8 * mad)]

    # Deduplicate: the latest extraction of each ad, day and publisher platform.
    rows = rows.sort_values("extracted_at").drop_duplicates(
        ["source", "ad_id", "date", "platform"], keep="last"
    )
    daily = rows.groupby(["ad_id", "date"], as_index=False)[
        ["impressions", "clicks", "spend", "conversions", "conversion_value"]
    ].sum()

    feed = read_csvs(str(raw / "conversions/*.csv"))
    feed = pd.DataFrame(
        {
            "ad_id": feed.source_platform + ":" + feed.ad_id,
            "date": date(feed.event_date),
            "received_at": feed.received_at,
            "offline_conversions": number(feed.offline_conversions).fillna(0),
            "offline_conversion_value": number(feed.offline_conversion_value).fillna(0),
        }
    ).dropna(subset=["ad_id", "date"])
    feed = feed.sort_values("received_at").drop_duplicates(["ad_id", "date"], keep="last")
    daily = daily.merge(feed, on=["ad_id", "date"], how="left").fillna(
        {"offline_conversions": 0, "offline_conversion_value": 0}
    )
    daily["conversions"] += daily.offline_conversions
    daily["conversion_value"] += daily.offline_conversion_value
    return daily


def ads(raw: Path) -> pd.DataFrame:
    campaigns = read_csvs(str(raw / "adops/campaigns*.csv"))
    campaigns["campaign_id"] = campaigns.source_platform + ":" + campaigns.campaign_id
    start, end = date(campaigns.start_date), date(campaigns.end_date)
    campaigns["end_date"] = end.where(end >= start)
    sets = read_csvs(str(raw / "adops/ad_sets*.csv"))
    sets["ad_set_id"] = sets.source_platform + ":" + sets.ad_set_id
    sets["campaign_id"] = sets.source_platform + ":" + sets.campaign_id
    ad = read_csvs(str(raw / "adops/ads*.csv"))
    ad["ad_id"] = ad.source_platform + ":" + ad.ad_id
    ad["ad_set_id"] = ad.source_platform + ":" + ad.ad_set_id
    ad["creative_id"] = ad.source_platform + ":" + ad.creative_id
    creatives = read_jsonl(str(raw / "adops/creatives*.jsonl"))
    creatives["creative_id"] = creatives.source_platform + ":" + creatives.creative_id
    creatives["ad_text"] = (
        creatives.headline.map(normalize_text) + " " + creatives.body.map(normalize_text)
    ).str.strip()
    objective_map = pd.read_csv(Path(__file__).resolve().parents[1] / "seeds/platform_objective_map.csv")
    out = (
        ad.merge(sets[["ad_set_id", "campaign_id", "publisher_platform", "audience_type"]], on="ad_set_id")
        .merge(campaigns[["campaign_id", "objective", "end_date"]], on="campaign_id")
        .merge(creatives[["creative_id", "ad_text"]], on="creative_id")
        .merge(
            objective_map,
            left_on=["source_platform", "objective"],
            right_on=["source_platform", "platform_objective"],
            suffixes=("_native", ""),
        )
    )
    return out.rename(columns={"publisher_platform": "platform"})


def label(frame: pd.DataFrame) -> pd.Series:
    weights = pd.read_csv(Path(__file__).resolve().parents[1] / "seeds/ad_score_objective_weights.csv")
    frame = frame.merge(weights, on="objective")
    frame = frame[frame.impressions >= frame.min_impressions].copy()
    frame["ctr"] = frame.clicks / frame.impressions
    frame["cvr"] = (frame.conversions / frame.clicks).where(frame.clicks > 0, 0)
    frame["roas"] = (frame.conversion_value / frame.spend).where(frame.spend > 0, 0)
    cohort = frame.groupby(["platform", "objective"])
    score = 0
    for metric in ("ctr", "cvr", "roas"):
        rank = cohort[metric].rank(method="min")
        n = cohort[metric].transform("size")
        score = score + frame[f"{metric}_weight"] * ((rank - 1) / (n - 1)).where(n > 1, 0)
    return pd.Series(100 * score.to_numpy(), index=frame.ad_id)


def main() -> None:
    raw, out = Path(sys.argv[1]), Path(sys.argv[2])
    started = time.perf_counter()
    daily = delivery(raw)
    totals = daily.groupby("ad_id", as_index=False)[
        ["impressions", "clicks", "spend", "conversions", "conversion_value"]
    ].sum()
    training = ads(raw).merge(totals, on="ad_id", how="left").fillna({"impressions": 0})
    training["ad_score"] = training.ad_id.map(label(training))
    training[training.ad_score.notna()].to_parquet(out)
    print(f"pandas reference: {len(training)} ads in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
