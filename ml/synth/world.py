"""The simulated advertising world: accounts, campaigns, ad sets, ads and their creatives.

Everything drawn here is fixed for an ad (its observable attributes and its latent
tone/emotion, which the copy expresses).  What is *not* drawn here is unobservable and
re-drawn for every simulation replicate: creative quality, auction prices, pacing,
pauses and daily delivery noise (see :mod:`ml.synth.simulate`).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ml.synth.text import EMOTIONS, LENGTH_CLASSES, VERTICALS, compose_copy

SEEDS_DIR = Path(__file__).resolve().parents[2] / "seeds"

PLATFORMS = ("facebook", "instagram", "google", "tiktok", "pinterest")
PLATFORM_SHARE = (0.30, 0.20, 0.25, 0.15, 0.10)
SOURCE_OF = {
    "facebook": "meta",
    "instagram": "meta",
    "google": "google_ads",
    "tiktok": "tiktok",
    "pinterest": "pinterest",
}
FORMATS = {
    "facebook": ("image", "video", "carousel"),
    "instagram": ("image", "video", "carousel", "story"),
    "google": ("search_text", "display_image", "video"),
    "tiktok": ("video",),
    "pinterest": ("image", "video", "carousel"),
}
CTAS = ("shop_now", "learn_more", "sign_up", "download", "get_offer", "book_now", "watch_more")
CTA_BY_OBJECTIVE = {
    "awareness": (0.05, 0.45, 0.05, 0.05, 0.05, 0.05, 0.30),
    "consideration": (0.10, 0.35, 0.20, 0.15, 0.10, 0.05, 0.05),
    "conversion": (0.35, 0.10, 0.15, 0.05, 0.20, 0.15, 0.00),
}
AUDIENCE_TYPES = ("broad", "interest", "lookalike", "retargeting")
AGE_BANDS = ((18, 24), (25, 34), (35, 44), (45, 54), (55, 65), (18, 65))
GENDERS = ("all", "female", "male")
GEOS = ("US", "GB", "CA", "DE", "AU", "FR")
INTERESTS = (
    "fitness",
    "travel",
    "fashion",
    "technology",
    "cooking",
    "personal finance",
    "gaming",
    "parenting",
    "outdoors",
    "music",
    "beauty",
    "home decor",
    "education",
    "pets",
)
SIZE_BANDS = ("small", "mid", "large")
ASPECTS = {  # (width, height) choices per format family
    "square": (1080, 1080),
    "portrait": (1080, 1350),
    "landscape": (1200, 628),
    "vertical": (1080, 1920),
    "pin": (1000, 1500),
}
COLORS = ("red", "blue", "green", "yellow", "black", "white", "orange", "purple")


@dataclass(frozen=True)
class World:
    """Entities of one simulated world; ``ads`` holds one row per ad with every attribute."""

    start_date: dt.date
    days: int
    accounts: pd.DataFrame
    campaigns: pd.DataFrame
    ad_sets: pd.DataFrame
    ads: pd.DataFrame
    n_ads: int  # the size asked for (``ads`` may hold a few fewer)
    platform_mix: np.ndarray  # (accounts, platforms): each account's share of campaigns per platform


def read_objective_map() -> pd.DataFrame:
    """The platform-vocabulary -> normalised objective map shipped as a dbt seed."""
    with open(SEEDS_DIR / "platform_objective_map.csv", newline="") as f:
        return pd.DataFrame(list(csv.DictReader(f)))


def _native_id(rng: np.random.Generator, n: int, prefix: int, digits: int) -> np.ndarray:
    """Unique numeric-string ids in the style of the platforms (long integers)."""
    base = prefix * 10 ** (digits - len(str(prefix)))
    offsets = rng.choice(10 ** (digits - len(str(prefix))) - 1, size=n, replace=False)
    return np.array([str(base + int(o)) for o in offsets])


def draw_campaigns(
    rng: np.random.Generator,
    acc: pd.DataFrame,
    platform_mix: np.ndarray,
    n_ads: int,
    days: int,
    objective_map: pd.DataFrame,
    copy: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Campaigns, their ad sets and about ``n_ads`` ads for the accounts ``acc`` (no native ids).

    The world draws these once; the account-health ground truth draws them afresh to stand in
    for the launches that are still unknown at a week's end.  ``copy=False`` skips writing the
    ad copy (its latent tone, emotion and length class, which move the rates, are drawn
    either way).
    """
    n_accounts = len(acc)
    size_band = acc.size_band.to_numpy()
    # Campaigns: about five ads per campaign; over-draw then trim to n_ads.
    n_campaigns = int(n_ads / 5 * 1.3) + 5
    camp_account = rng.integers(0, n_accounts, n_campaigns)
    camp_platform_idx = np.array([rng.choice(len(PLATFORMS), p=platform_mix[a]) for a in camp_account])
    camp_platform = np.array(PLATFORMS)[camp_platform_idx]
    camp_source = np.array([SOURCE_OF[p] for p in camp_platform])
    native_objective = np.empty(n_campaigns, dtype=object)
    objective = np.empty(n_campaigns, dtype=object)
    for src in sorted(set(camp_source)):
        options = objective_map[objective_map.source_platform == src]
        pick = rng.integers(0, len(options), (camp_source == src).sum())
        native_objective[camp_source == src] = options.platform_objective.to_numpy()[pick]
        objective[camp_source == src] = options.objective.to_numpy()[pick]
    camp_start = rng.integers(0, max(1, days - 7), n_campaigns)
    camp_end = np.minimum(camp_start + rng.integers(7, 61, n_campaigns), days - 1)
    size_scale = pd.Series(size_band).map({"small": 60.0, "mid": 300.0, "large": 1500.0}).to_numpy()
    camp_budget = np.round(size_scale[camp_account] * rng.lognormal(0, 0.5, n_campaigns), 0)
    campaigns = pd.DataFrame(
        {
            "campaign_key": np.arange(n_campaigns),
            "account_key": camp_account,
            "platform": camp_platform,
            "source_platform": camp_source,
            "platform_objective": native_objective,
            "objective": objective,
            "daily_budget": camp_budget,
            "start_day": camp_start,
            "end_day": camp_end,
        }
    )

    # Ad sets: audience targeting.  Meta ad sets place on facebook or instagram only.
    n_sets = rng.integers(1, 4, n_campaigns)
    set_campaign = np.repeat(np.arange(n_campaigns), n_sets)
    m = len(set_campaign)
    age = rng.integers(0, len(AGE_BANDS), m)
    n_interests = rng.integers(0, 6, m)
    aud_type = rng.choice(AUDIENCE_TYPES, m, p=(0.35, 0.35, 0.15, 0.15))
    n_interests = np.where(aud_type == "interest", np.maximum(n_interests, 1), 0)
    ad_sets = pd.DataFrame(
        {
            "ad_set_key": np.arange(m),
            "campaign_key": set_campaign,
            "audience_type": aud_type,
            "age_min": [AGE_BANDS[a][0] for a in age],
            "age_max": [AGE_BANDS[a][1] for a in age],
            "gender": rng.choice(GENDERS, m, p=(0.6, 0.25, 0.15)),
            "geo": rng.choice(GEOS, m, p=(0.45, 0.15, 0.12, 0.1, 0.1, 0.08)),
            "interests": ["|".join(rng.choice(INTERESTS, k, replace=False)) for k in n_interests],
        }
    )
    ad_sets["audience_size"] = np.round(
        np.where(aud_type == "retargeting", 2e4, np.where(aud_type == "broad", 5e6, 8e5))
        * rng.lognormal(0, 0.6, m),
        -2,
    ).astype(np.int64)

    # Ads: 1-4 per ad set, trimmed to n_ads.
    n_per_set = rng.integers(1, 5, m)
    ad_set_of_ad = np.repeat(np.arange(m), n_per_set)[:n_ads]
    n = len(ad_set_of_ad)
    camp_of_ad = ad_sets.campaign_key.to_numpy()[ad_set_of_ad]
    platform = camp_platform[camp_of_ad]
    obj = objective[camp_of_ad]
    fmt = np.array([FORMATS[p][rng.integers(len(FORMATS[p]))] for p in platform])
    cta = np.array([CTAS[rng.choice(len(CTAS), p=CTA_BY_OBJECTIVE[o])] for o in obj])
    launch = np.minimum(camp_start[camp_of_ad] + rng.integers(0, 5, n), camp_end[camp_of_ad])
    vertical = acc.vertical.to_numpy()[camp_account[camp_of_ad]]

    # Latent copy attributes, then the copy itself.
    tone = rng.choice([-1, 0, 1], n, p=(0.25, 0.35, 0.40))
    emotion = rng.choice(EMOTIONS, n, p=(0.30, 0.20, 0.15, 0.15, 0.10, 0.10))
    length_class = np.where(
        np.isin(platform, ("tiktok", "instagram")),
        rng.choice(LENGTH_CLASSES, n, p=(0.5, 0.35, 0.15)),
        rng.choice(LENGTH_CLASSES, n, p=(0.3, 0.4, 0.3)),
    )
    emoji_prob = np.where(np.isin(platform, ("tiktok", "instagram")), 0.5, 0.15)
    if copy:
        headlines, bodies = compose_copy(rng, vertical, tone, emotion, length_class, emoji_prob)
    else:
        headlines = bodies = [""] * n

    aspect = np.array(
        [
            "vertical"
            if f in ("story",) or p == "tiktok"
            else "pin"
            if p == "pinterest" and rng.random() < 0.6
            else "landscape"
            if p == "google"
            else ("square", "portrait", "landscape")[rng.integers(3)]
            for f, p in zip(fmt, platform, strict=True)
        ]
    )
    ads = pd.DataFrame(
        {
            "ad_key": np.arange(n),
            "ad_set_key": ad_set_of_ad,
            "campaign_key": camp_of_ad,
            "account_key": camp_account[camp_of_ad],
            "platform": platform,
            "source_platform": camp_source[camp_of_ad],
            "objective": obj,
            "vertical": vertical,
            "format": fmt,
            "call_to_action": cta,
            "headline": headlines,
            "body": bodies,
            "tone": tone,
            "emotion": emotion,
            "length_class": length_class,
            "image_width": [ASPECTS[a][0] for a in aspect],
            "image_height": [ASPECTS[a][1] for a in aspect],
            "has_people": rng.random(n) < 0.45,
            "dominant_color": rng.choice(COLORS, n),
            "text_overlay_pct": np.round(rng.beta(1.5, 6, n) * 100, 1),
            "launch_day": launch,
            "end_day": camp_end[camp_of_ad],
        }
    )
    ads = ads.merge(ad_sets.drop(columns="campaign_key"), on="ad_set_key", how="left")
    ads_per_set = np.bincount(ad_set_of_ad, minlength=m)
    sets_per_campaign = np.bincount(set_campaign, minlength=n_campaigns)
    ads["daily_budget"] = np.round(
        camp_budget[camp_of_ad] / sets_per_campaign[camp_of_ad] / ads_per_set[ad_set_of_ad], 2
    )
    return campaigns, ad_sets, ads


def build_world(n_ads: int, days: int, seed: int, start_date: dt.date) -> World:
    """Draw a world with about ``n_ads`` ads running over ``days`` days."""
    rng = np.random.default_rng(seed)
    objective_map = read_objective_map()

    # Accounts: an industry, a size band that scales budgets, and a platform mix.
    n_accounts = max(3, n_ads // 50)
    acc = pd.DataFrame(
        {
            "account_key": np.arange(n_accounts),
            "vertical": rng.choice(VERTICALS, n_accounts),
            "size_band": rng.choice(SIZE_BANDS, n_accounts, p=(0.5, 0.35, 0.15)),
        }
    )
    acc["account_name"] = [
        f"{v.title()} Co {i:04d}" for i, v in zip(acc.account_key, acc.vertical, strict=True)
    ]
    platform_mix = rng.dirichlet(np.array(PLATFORM_SHARE) * 4, n_accounts)
    campaigns, ad_sets, ads = draw_campaigns(rng, acc, platform_mix, n_ads, days, objective_map)
    camp_source = campaigns.source_platform.to_numpy()
    camp_platform = campaigns.platform.to_numpy()

    # Native ids, unique per source.
    prefixes = {"meta": (2385, 17), "google_ads": (6, 12), "tiktok": (17, 19), "pinterest": (68, 12)}
    for table, key in ((campaigns, "campaign"), (ad_sets, "ad_set"), (ads, "ad")):
        table[f"{key}_id"] = ""
    for src, (prefix, digits) in prefixes.items():
        for table, key in ((campaigns, "campaign"), (ads, "ad")):
            mask = table.source_platform.to_numpy() == src
            table.loc[mask, f"{key}_id"] = _native_id(rng, int(mask.sum()), prefix + 1, digits)
        set_mask = camp_source[ad_sets.campaign_key.to_numpy()] == src
        ad_sets.loc[set_mask, "ad_set_id"] = _native_id(rng, int(set_mask.sum()), prefix + 2, digits)
    # An advertiser has one ad account per platform, each with the platform's own id; the
    # agency's ad-ops tool knows which advertiser each belongs to.
    acc["advertiser_id"] = [f"adv-{k:05d}" for k in acc.account_key]
    platform_account = _native_id(rng, n_accounts * len(prefixes), 9, 10).reshape(n_accounts, len(prefixes))
    source_index = {src: i for i, src in enumerate(prefixes)}
    campaigns["account_id"] = platform_account[
        campaigns.account_key.to_numpy(), [source_index[s] for s in campaigns.source_platform]
    ]
    campaigns["advertiser_id"] = acc.advertiser_id.to_numpy()[campaigns.account_key]
    ads["ad_set_id"] = ad_sets.ad_set_id.to_numpy()[ads.ad_set_key]
    ads["campaign_id"] = campaigns.campaign_id.to_numpy()[ads.campaign_key]
    ads["account_id"] = campaigns.account_id.to_numpy()[ads.campaign_key]
    ad_sets["campaign_id"] = campaigns.campaign_id.to_numpy()[ad_sets.campaign_key]
    ad_sets["platform"] = camp_platform[ad_sets.campaign_key]
    ad_sets["source_platform"] = camp_source[ad_sets.campaign_key]

    # Keep only campaigns and ad sets that still have ads after trimming.
    campaigns = campaigns[campaigns.campaign_key.isin(ads.campaign_key)].reset_index(drop=True)
    ad_sets = ad_sets[ad_sets.ad_set_key.isin(ads.ad_set_key)].reset_index(drop=True)
    return World(start_date, days, acc, campaigns, ad_sets, ads, n_ads, platform_mix)
