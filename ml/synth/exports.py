"""The simulated world as raw exports, each in its source's own native shape.

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

Every export is first built as an :class:`ExportTable` of string cells, so that
:mod:`ml.synth.defects` can corrupt cells, rows and lines the way real exports go wrong,
and then serialised.  ``daily_row`` ties each performance row to the simulated ad-day it
reports, so the ground truth knows what the warehouse should end up with.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ml.synth.world import World

EXPORT_FILES = {
    "meta_ads.ads_insights": "meta/ads_insights.csv",
    "google_ads.ad_group_ad_performance": "google_ads/ad_group_ad_performance.csv",
    "tiktok_ads.ad_report": "tiktok/ad_report.jsonl",
    "pinterest_ads.ad_analytics": "pinterest/ad_analytics.csv",
    "adops.campaigns": "adops/campaigns.csv",
    "adops.ad_sets": "adops/ad_sets.csv",
    "adops.ads": "adops/ads.csv",
    "adops.creatives": "adops/creatives.jsonl",
    "conversions.offline_conversions": "conversions/offline_conversions.csv",
}


@dataclass
class ExportTable:
    """One export file as string cells, with the roles its columns play for defects.

    ``roles`` maps a role (key, date, spend, impressions, clicks, conversions, optional,
    extracted_at, text) to a column name.  For JSON lines, ``nested`` maps a flat column name
    to its (object, field) place in each record and ``json_types`` the columns written as
    numbers or booleans rather than strings.
    """

    source: str
    path: str
    columns: list[str]
    rows: list[list[str]]
    roles: dict[str, str] = field(default_factory=dict)
    daily_row: np.ndarray | None = None
    nested: dict[str, tuple[str, str]] = field(default_factory=dict)
    json_types: dict[str, type] = field(default_factory=dict)
    money_scale: int = 1  # 1 for currency units, 1_000_000 for micros

    @property
    def is_jsonl(self) -> bool:
        return self.path.endswith(".jsonl")

    def col(self, role_or_name: str) -> int:
        return self.columns.index(self.roles.get(role_or_name, role_or_name))

    def line_of(self, row: list[str]) -> bytes:
        """Serialise one row: a CSV line or a JSON object, without the newline."""
        if not self.is_jsonl:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow(row)
            return buffer.getvalue().encode("utf-8")
        record: dict = {}
        for name, value in zip(self.columns, row, strict=True):
            parent, child = self.nested.get(name, (None, name))
            target = record if parent is None else record.setdefault(parent, {})
            kind = self.json_types.get(name)
            target[child] = value if kind is None else (value == "true" if kind is bool else kind(value))
        return json.dumps(record, ensure_ascii=False).encode("utf-8")

    def header(self) -> bytes | None:
        return None if self.is_jsonl else self.line_of(self.columns)


def _money(cents: np.ndarray) -> list[str]:
    return [f"{c // 100}.{c % 100:02d}" for c in np.asarray(cents, dtype=np.int64)]


def _strs(values: object) -> list[str]:
    return [str(v) for v in np.asarray(values)]


def _table(source: str, columns: dict[str, list[str]], **kwargs: object) -> ExportTable:
    names = list(columns)
    rows = [list(r) for r in zip(*columns.values(), strict=True)]
    return ExportTable(source, EXPORT_FILES[source], names, rows, **kwargs)  # type: ignore[arg-type]


def build_exports(world: World, daily: pd.DataFrame, extracted_at: dt.datetime) -> list[ExportTable]:
    """Every export of one simulated draw ``daily``, clean."""
    ads = world.ads
    dates = pd.to_datetime(world.start_date) + pd.to_timedelta(daily.day.to_numpy(), unit="D")
    d = daily.assign(
        row=np.arange(len(daily)),
        date=dates.strftime("%Y-%m-%d").to_numpy(),
        source=ads.source_platform.to_numpy()[daily.ad_key],
        platform=ads.platform.to_numpy()[daily.ad_key],
        ad_id=ads.ad_id.to_numpy()[daily.ad_key],
        ad_set_id=ads.ad_set_id.to_numpy()[daily.ad_key],
        campaign_id=ads.campaign_id.to_numpy()[daily.ad_key],
        account_id=ads.account_id.to_numpy()[daily.ad_key],
    )
    stamp = extracted_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    tables = []

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
    n = len(meta)
    tables.append(
        _table(
            "meta_ads.ads_insights",
            {
                "account_id": _strs(meta.account_id),
                "campaign_id": _strs(meta.campaign_id),
                "adset_id": _strs(meta.ad_set_id),
                "ad_id": _strs(meta.ad_id),
                "date_start": _strs(meta.date),
                "date_stop": _strs(meta.date),
                "publisher_platform": _strs(meta.platform),
                "spend": _money(meta.spend_cents.to_numpy()),
                "impressions": _strs(meta.impressions),
                "clicks": _strs(meta.clicks),
                "actions": actions,
                "action_values": action_values,
                "account_currency": ["USD"] * n,
                "extracted_at": [stamp] * n,
            },
            roles={
                "key": "ad_id",
                "date": "date_start",
                "spend": "spend",
                "impressions": "impressions",
                "clicks": "clicks",
                "optional": "actions",
                "extracted_at": "extracted_at",
            },
            daily_row=meta.row.to_numpy(),
        )
    )

    g = d[d.source == "google_ads"]
    n = len(g)
    tables.append(
        _table(
            "google_ads.ad_group_ad_performance",
            {
                "customer.id": _strs(g.account_id),
                "campaign.id": _strs(g.campaign_id),
                "ad_group.id": _strs(g.ad_set_id),
                "ad_group_ad.ad.id": _strs(g.ad_id),
                "segments.date": _strs(g.date),
                "metrics.impressions": _strs(g.impressions),
                "metrics.clicks": _strs(g.clicks),
                "metrics.cost_micros": _strs(g.spend_cents.to_numpy() * 10_000),
                "metrics.conversions": [f"{v:.1f}" for v in g.online_conversions],
                "metrics.conversions_value": _money(g.online_value_cents.to_numpy()),
                "customer.currency_code": ["USD"] * n,
                "extracted_at": [stamp] * n,
            },
            roles={
                "key": "ad_group_ad.ad.id",
                "date": "segments.date",
                "spend": "metrics.cost_micros",
                "impressions": "metrics.impressions",
                "clicks": "metrics.clicks",
                "conversions": "metrics.conversions",
                "optional": "metrics.conversions_value",
                "extracted_at": "extracted_at",
            },
            daily_row=g.row.to_numpy(),
            money_scale=1_000_000,
        )
    )

    t = d[d.source == "tiktok"]
    n = len(t)
    tables.append(
        _table(
            "tiktok_ads.ad_report",
            {
                "ad_id": _strs(t.ad_id),
                "stat_time_day": [f"{x} 00:00:00" for x in t.date],
                "advertiser_id": _strs(t.account_id),
                "campaign_id": _strs(t.campaign_id),
                "adgroup_id": _strs(t.ad_set_id),
                "spend": _money(t.spend_cents.to_numpy()),
                "impressions": _strs(t.impressions),
                "clicks": _strs(t.clicks),
                "conversion": _strs(t.online_conversions),
                "total_purchase_value": _money(t.online_value_cents.to_numpy()),
                "currency": ["USD"] * n,
                "extracted_at": [stamp] * n,
            },
            roles={
                "key": "ad_id",
                "spend": "spend",
                "impressions": "impressions",
                "clicks": "clicks",
                "conversions": "conversion",
                "extracted_at": "extracted_at",
            },
            nested={
                "ad_id": ("dimensions", "ad_id"),
                "stat_time_day": ("dimensions", "stat_time_day"),
                **{
                    c: ("metrics", c)
                    for c in (
                        "advertiser_id",
                        "campaign_id",
                        "adgroup_id",
                        "spend",
                        "impressions",
                        "clicks",
                        "conversion",
                        "total_purchase_value",
                        "currency",
                    )
                },
            },
            daily_row=t.row.to_numpy(),
        )
    )

    p = d[d.source == "pinterest"]
    n = len(p)
    tables.append(
        _table(
            "pinterest_ads.ad_analytics",
            {
                "ADVERTISER_ID": _strs(p.account_id),
                "CAMPAIGN_ID": _strs(p.campaign_id),
                "AD_GROUP_ID": _strs(p.ad_set_id),
                "AD_ID": _strs(p.ad_id),
                "DATE": _strs(p.date),
                "SPEND_IN_MICRO_DOLLAR": _strs(p.spend_cents.to_numpy() * 10_000),
                "IMPRESSION_1": _strs(p.impressions),
                "CLICKTHROUGH_1": _strs(p.clicks),
                "TOTAL_CHECKOUT": _strs(p.online_conversions),
                "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR": _strs(p.online_value_cents.to_numpy() * 10_000),
                "EXTRACTED_AT": [stamp] * n,
            },
            roles={
                "key": "AD_ID",
                "date": "DATE",
                "spend": "SPEND_IN_MICRO_DOLLAR",
                "impressions": "IMPRESSION_1",
                "clicks": "CLICKTHROUGH_1",
                "conversions": "TOTAL_CHECKOUT",
                "optional": "TOTAL_CHECKOUT",
                "extracted_at": "EXTRACTED_AT",
            },
            daily_row=p.row.to_numpy(),
            money_scale=1_000_000,
        )
    )

    def day_str(days: pd.Series) -> list[str]:
        out = pd.to_datetime(world.start_date) + pd.to_timedelta(days.to_numpy(), unit="D")
        return list(out.strftime("%Y-%m-%d"))

    c = world.campaigns
    accounts = world.accounts.set_index("account_key")
    n = len(c)
    tables.append(
        _table(
            "adops.campaigns",
            {
                "source_platform": _strs(c.source_platform),
                "advertiser_id": _strs(c.advertiser_id),
                "account_id": _strs(c.account_id),
                "account_name": _strs(accounts.account_name.to_numpy()[c.account_key]),
                "vertical": _strs(accounts.vertical.to_numpy()[c.account_key]),
                "account_size_band": _strs(accounts.size_band.to_numpy()[c.account_key]),
                "campaign_id": _strs(c.campaign_id),
                "campaign_name": [f"cmp-{k:05d}" for k in c.campaign_key],
                "objective": _strs(c.platform_objective),
                "daily_budget": [f"{v:.2f}" for v in c.daily_budget],
                "budget_currency": ["USD"] * n,
                "start_date": day_str(c.start_day),
                "end_date": day_str(c.end_day),
                "updated_at": [stamp] * n,
            },
            roles={"key": "campaign_id", "start": "start_date", "end": "end_date"},
        )
    )

    s = world.ad_sets
    n = len(s)
    tables.append(
        _table(
            "adops.ad_sets",
            {
                "source_platform": _strs(s.source_platform),
                "campaign_id": _strs(s.campaign_id),
                "ad_set_id": _strs(s.ad_set_id),
                "publisher_platform": _strs(s.platform),
                "audience_type": _strs(s.audience_type),
                "age_min": _strs(s.age_min),
                "age_max": _strs(s.age_max),
                "gender": _strs(s.gender),
                "geo": _strs(s.geo),
                "interests": _strs(s.interests),
                "estimated_audience_size": _strs(s.audience_size),
                "updated_at": [stamp] * len(s),
            },
            roles={"key": "ad_set_id"},
        )
    )

    n = len(ads)
    tables.append(
        _table(
            "adops.ads",
            {
                "source_platform": _strs(ads.source_platform),
                "ad_set_id": _strs(ads.ad_set_id),
                "ad_id": _strs(ads.ad_id),
                "creative_id": ["cr-" + a for a in ads.ad_id],
                "format": _strs(ads.format),
                "daily_budget": [f"{v:.2f}" for v in ads.daily_budget],
                "launch_date": day_str(ads.launch_day),
                "planned_end_date": day_str(ads.end_day),
                "updated_at": [stamp] * n,
            },
            roles={"key": "ad_id"},
        )
    )

    image_fields = ("width", "height", "has_people", "dominant_color", "text_overlay_pct")
    tables.append(
        _table(
            "adops.creatives",
            {
                "creative_id": ["cr-" + a for a in ads.ad_id],
                "source_platform": _strs(ads.source_platform),
                "headline": _strs(ads.headline),
                "body": _strs(ads.body),
                "call_to_action": [x.upper() for x in ads.call_to_action],
                "width": _strs(ads.image_width),
                "height": _strs(ads.image_height),
                "has_people": ["true" if x else "false" for x in ads.has_people],
                "dominant_color": _strs(ads.dominant_color),
                "text_overlay_pct": [str(float(x)) for x in ads.text_overlay_pct],
                "updated_at": [stamp] * n,
            },
            roles={"key": "creative_id", "text": "body"},
            nested={f: ("image", f) for f in image_fields},
            json_types={"width": int, "height": int, "has_people": bool, "text_overlay_pct": float},
        )
    )

    n = len(d)
    tables.append(
        _table(
            "conversions.offline_conversions",
            {
                "event_date": _strs(d.date),
                "source_platform": _strs(d.source),
                "ad_id": _strs(d.ad_id),
                "offline_conversions": _strs(d.offline_conversions),
                "offline_conversion_value": _money(d.offline_value_cents.to_numpy()),
                "likes": _strs(d.likes),
                "comments": _strs(d.comments),
                "shares": _strs(d.shares),
                "received_at": [stamp] * n,
            },
            roles={"key": "ad_id", "date": "event_date", "optional": "likes", "extracted_at": "received_at"},
            daily_row=d.row.to_numpy(),
        )
    )
    return tables


def write_table(table: ExportTable, lines: list[bytes], out: Path) -> None:
    """Write a table's (possibly corrupted) serialised lines, header first for CSV."""
    path = out / table.path
    path.parent.mkdir(parents=True, exist_ok=True)
    header = table.header()
    with open(path, "wb") as f:
        if header is not None:
            f.write(header + b"\n")
        for line in lines:
            f.write(line + b"\n")
