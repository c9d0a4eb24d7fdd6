"""Write the simulated world as raw exports, each in its source's own native shape.

Layout under ``out``::

    meta/ads_insights.csv                    Meta insights (facebook + instagram rows)
    google_ads/ad_group_ad_performance.csv   Google Ads API report, metrics.* naming, micros
    tiktok/ad_report.jsonl                   TikTok reporting API rows: dimensions + metrics
    pinterest/ad_analytics.csv               Pinterest analytics, micro-dollar money
    adops/campaigns.csv                      campaign configuration (native objective names)
    adops/ad_sets.csv                        audience targeting per ad set / ad group
    adops/ads.csv                            ad -> ad set, creative, format, status
    adops/creatives.jsonl                    copy, call to action and image metadata
    conversions/offline_conversions.csv      offline conversions and engagement per ad-day
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ml.synth.world import World

EXPORT_FILES = {
    "meta": "meta/ads_insights.csv",
    "google_ads": "google_ads/ad_group_ad_performance.csv",
    "tiktok": "tiktok/ad_report.jsonl",
    "pinterest": "pinterest/ad_analytics.csv",
    "campaigns": "adops/campaigns.csv",
    "ad_sets": "adops/ad_sets.csv",
    "ads": "adops/ads.csv",
    "creatives": "adops/creatives.jsonl",
    "conversions": "conversions/offline_conversions.csv",
}


def _money(cents: np.ndarray) -> list[str]:
    return [f"{c // 100}.{c % 100:02d}" for c in cents.astype(np.int64)]


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")


def _write_jsonl(records: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def write_exports(world: World, daily: pd.DataFrame, out: Path, extracted_at: dt.datetime) -> None:
    """Write every raw export for one simulated draw ``daily``."""
    ads = world.ads
    dates = pd.to_datetime(world.start_date) + pd.to_timedelta(daily.day.to_numpy(), unit="D")
    date_str = dates.strftime("%Y-%m-%d").to_numpy()
    d = daily.assign(
        date=date_str,
        source=ads.source_platform.to_numpy()[daily.ad_key],
        platform=ads.platform.to_numpy()[daily.ad_key],
        ad_id=ads.ad_id.to_numpy()[daily.ad_key],
        ad_set_id=ads.ad_set_id.to_numpy()[daily.ad_key],
        campaign_id=ads.campaign_id.to_numpy()[daily.ad_key],
        account_id=ads.account_id.to_numpy()[daily.ad_key],
    )
    stamp = extracted_at.strftime("%Y-%m-%dT%H:%M:%SZ")

    meta = d[d.source == "meta"]
    actions, action_values = [], []
    for clicks, likes, conv, value in zip(
        meta.clicks, meta.likes, meta.online_conversions, meta.online_value_cents, strict=True
    ):
        acts = [{"action_type": "link_click", "value": str(clicks)}]
        if likes:
            acts.append({"action_type": "post_engagement", "value": str(likes)})
        vals = []
        if conv:
            acts.append({"action_type": "offsite_conversion.fb_pixel_purchase", "value": str(conv)})
            vals.append(
                {"action_type": "offsite_conversion.fb_pixel_purchase", "value": _money(np.array([value]))[0]}
            )
        actions.append(json.dumps(acts))
        action_values.append(json.dumps(vals))
    _write_csv(
        pd.DataFrame(
            {
                "account_id": meta.account_id,
                "campaign_id": meta.campaign_id,
                "adset_id": meta.ad_set_id,
                "ad_id": meta.ad_id,
                "date_start": meta.date,
                "date_stop": meta.date,
                "publisher_platform": meta.platform,
                "spend": _money(meta.spend_cents.to_numpy()),
                "impressions": meta.impressions,
                "clicks": meta.clicks,
                "actions": actions,
                "action_values": action_values,
                "account_currency": "USD",
                "extracted_at": stamp,
            }
        ),
        out / EXPORT_FILES["meta"],
    )

    g = d[d.source == "google_ads"]
    _write_csv(
        pd.DataFrame(
            {
                "customer.id": g.account_id,
                "campaign.id": g.campaign_id,
                "ad_group.id": g.ad_set_id,
                "ad_group_ad.ad.id": g.ad_id,
                "segments.date": g.date,
                "metrics.impressions": g.impressions,
                "metrics.clicks": g.clicks,
                "metrics.cost_micros": g.spend_cents.to_numpy() * 10_000,
                "metrics.conversions": g.online_conversions.astype(float),
                "metrics.conversions_value": [float(v) for v in _money(g.online_value_cents.to_numpy())],
                "customer.currency_code": "USD",
                "extracted_at": stamp,
            }
        ),
        out / EXPORT_FILES["google_ads"],
    )

    t = d[d.source == "tiktok"]
    _write_jsonl(
        [
            {
                "dimensions": {"ad_id": ad_id, "stat_time_day": f"{date} 00:00:00"},
                "metrics": {
                    "advertiser_id": acc,
                    "campaign_id": camp,
                    "adgroup_id": adg,
                    "spend": spend,
                    "impressions": str(imp),
                    "clicks": str(clk),
                    "conversion": str(conv),
                    "total_purchase_value": value,
                    "currency": "USD",
                },
                "extracted_at": stamp,
            }
            for ad_id, date, acc, camp, adg, spend, imp, clk, conv, value in zip(
                t.ad_id,
                t.date,
                t.account_id,
                t.campaign_id,
                t.ad_set_id,
                _money(t.spend_cents.to_numpy()),
                t.impressions,
                t.clicks,
                t.online_conversions,
                _money(t.online_value_cents.to_numpy()),
                strict=True,
            )
        ],
        out / EXPORT_FILES["tiktok"],
    )

    p = d[d.source == "pinterest"]
    _write_csv(
        pd.DataFrame(
            {
                "ADVERTISER_ID": p.account_id,
                "CAMPAIGN_ID": p.campaign_id,
                "AD_GROUP_ID": p.ad_set_id,
                "AD_ID": p.ad_id,
                "DATE": p.date,
                "SPEND_IN_MICRO_DOLLAR": p.spend_cents.to_numpy() * 10_000,
                "IMPRESSION_1": p.impressions,
                "CLICKTHROUGH_1": p.clicks,
                "TOTAL_CHECKOUT": p.online_conversions,
                "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR": p.online_value_cents.to_numpy() * 10_000,
                "EXTRACTED_AT": stamp,
            }
        ),
        out / EXPORT_FILES["pinterest"],
    )

    def day_str(days: pd.Series) -> pd.Series:
        return (pd.to_datetime(world.start_date) + pd.to_timedelta(days, unit="D")).dt.strftime("%Y-%m-%d")

    c = world.campaigns
    accounts = world.accounts.set_index("account_key")
    _write_csv(
        pd.DataFrame(
            {
                "source_platform": c.source_platform,
                "account_id": c.account_id,
                "account_name": accounts.account_name.to_numpy()[c.account_key],
                "vertical": accounts.vertical.to_numpy()[c.account_key],
                "account_size_band": accounts.size_band.to_numpy()[c.account_key],
                "campaign_id": c.campaign_id,
                "campaign_name": [f"cmp-{k:05d}" for k in c.campaign_key],
                "objective": c.platform_objective,
                "daily_budget": c.daily_budget.map(lambda v: f"{v:.2f}"),
                "budget_currency": "USD",
                "start_date": day_str(c.start_day),
                "end_date": day_str(c.end_day),
                "updated_at": stamp,
            }
        ),
        out / EXPORT_FILES["campaigns"],
    )

    s = world.ad_sets
    _write_csv(
        pd.DataFrame(
            {
                "source_platform": s.source_platform,
                "campaign_id": s.campaign_id,
                "ad_set_id": s.ad_set_id,
                "publisher_platform": s.platform,
                "audience_type": s.audience_type,
                "age_min": s.age_min,
                "age_max": s.age_max,
                "gender": s.gender,
                "geo": s.geo,
                "interests": s.interests,
                "estimated_audience_size": s.audience_size,
                "updated_at": stamp,
            }
        ),
        out / EXPORT_FILES["ad_sets"],
    )

    _write_csv(
        pd.DataFrame(
            {
                "source_platform": ads.source_platform,
                "ad_set_id": ads.ad_set_id,
                "ad_id": ads.ad_id,
                "creative_id": ["cr-" + a for a in ads.ad_id],
                "format": ads.format,
                "daily_budget": ads.daily_budget.map(lambda v: f"{v:.2f}"),
                "launch_date": day_str(ads.launch_day),
                "planned_end_date": day_str(ads.end_day),
                "updated_at": stamp,
            }
        ),
        out / EXPORT_FILES["ads"],
    )

    _write_jsonl(
        [
            {
                "creative_id": "cr-" + ad_id,
                "source_platform": src,
                "headline": head,
                "body": body,
                "call_to_action": cta.upper(),
                "image": {
                    "width": int(w),
                    "height": int(h),
                    "has_people": bool(people),
                    "dominant_color": color,
                    "text_overlay_pct": float(overlay),
                },
                "updated_at": stamp,
            }
            for ad_id, src, head, body, cta, w, h, people, color, overlay in zip(
                ads.ad_id,
                ads.source_platform,
                ads.headline,
                ads.body,
                ads.call_to_action,
                ads.image_width,
                ads.image_height,
                ads.has_people,
                ads.dominant_color,
                ads.text_overlay_pct,
                strict=True,
            )
        ],
        out / EXPORT_FILES["creatives"],
    )

    _write_csv(
        pd.DataFrame(
            {
                "event_date": d.date,
                "source_platform": d.source,
                "ad_id": d.ad_id,
                "offline_conversions": d.offline_conversions,
                "offline_conversion_value": _money(d.offline_value_cents.to_numpy()),
                "likes": d.likes,
                "comments": d.comments,
                "shares": d.shares,
                "received_at": stamp,
            }
        ),
        out / EXPORT_FILES["conversions"],
    )
