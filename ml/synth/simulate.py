"""Delivery simulation: daily impressions, clicks, conversions and value per ad.

Rates are logistic in the ad's observable attributes plus unobservable parts that are
re-drawn per replicate: creative quality (per ad), an auction-price factor (per ad),
pacing and an early pause (per ad), and daily noise.  ``simulate`` is called once for the
exported data and again for every ground-truth replicate, with the same world.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.synth.world import World

BASE_CTR = {"facebook": -4.5, "instagram": -4.7, "google": -3.6, "tiktok": -4.3, "pinterest": -5.0}
BASE_CVR = {"facebook": -3.4, "instagram": -3.6, "google": -3.0, "tiktok": -3.9, "pinterest": -3.7}
BASE_CPM = {"facebook": 9.0, "instagram": 8.0, "google": 4.5, "tiktok": 7.0, "pinterest": 5.5}
OBJ_CTR = {"awareness": -0.2, "consideration": 0.15, "conversion": 0.0}
OBJ_CVR = {"awareness": -0.8, "consideration": -0.2, "conversion": 0.45}
FORMAT_CTR = {
    "image": 0.0,
    "video": 0.15,
    "carousel": 0.2,
    "story": 0.1,
    "search_text": 0.3,
    "display_image": -0.4,
}
CTA_CTR = {
    "shop_now": 0.05,
    "learn_more": 0.1,
    "sign_up": -0.05,
    "download": 0.0,
    "get_offer": 0.25,
    "book_now": -0.05,
    "watch_more": 0.15,
}
CTA_CVR = {
    "shop_now": 0.15,
    "learn_more": -0.2,
    "sign_up": 0.2,
    "download": 0.1,
    "get_offer": 0.1,
    "book_now": 0.2,
    "watch_more": -0.3,
}
AUD_CTR = {"broad": -0.15, "interest": 0.05, "lookalike": 0.1, "retargeting": 0.35}
AUD_CVR = {"broad": -0.3, "interest": 0.0, "lookalike": 0.25, "retargeting": 0.9}
AUD_CPM = {"broad": 0.85, "interest": 1.0, "lookalike": 1.1, "retargeting": 1.5}
VERTICAL_CVR = {
    "fashion": 0.1,
    "home": -0.1,
    "apps": 0.4,
    "finance": -0.4,
    "travel": -0.3,
    "education": -0.2,
    "health": 0.1,
    "food": 0.3,
}
VERTICAL_AOV = {
    "fashion": 70.0,
    "home": 160.0,
    "apps": 12.0,
    "finance": 220.0,
    "travel": 480.0,
    "education": 350.0,
    "health": 45.0,
    "food": 40.0,
}
# Text effects: tone per platform (CTR), emotion (CTR, CVR), length class per platform.
TONE_CTR = {"facebook": 0.12, "instagram": 0.3, "google": 0.05, "tiktok": 0.35, "pinterest": 0.25}
EMO_CTR = {"none": 0.0, "joy": 0.15, "surprise": 0.25, "fear": -0.05, "anger": -0.15, "sadness": -0.25}
EMO_CVR = {"none": 0.0, "joy": 0.05, "surprise": -0.1, "fear": 0.3, "anger": 0.1, "sadness": -0.1}
LEN_CTR = {
    "facebook": {"short": 0.0, "medium": 0.05, "long": 0.0},
    "instagram": {"short": 0.2, "medium": 0.0, "long": -0.25},
    "google": {"short": -0.1, "medium": 0.05, "long": 0.1},
    "tiktok": {"short": 0.3, "medium": 0.0, "long": -0.4},
    "pinterest": {"short": 0.1, "medium": 0.0, "long": -0.15},
}
LEN_CVR = {"short": -0.1, "medium": 0.0, "long": 0.15}
YOUNG_PLATFORM_AGE = {"tiktok": -0.05, "instagram": -0.03}  # CTR change per year of age midpoint

QUALITY_CTR_SD = 0.35
QUALITY_CVR_SD = 0.30
CPM_FACTOR_SD = 0.25
DAILY_SD = 0.15
ONLINE_SHARE = 0.85  # share of conversions attributed by the platform; the rest arrive offline


def _lookup(table: dict, keys: np.ndarray) -> np.ndarray:
    return np.array([table[k] for k in keys], dtype=float)


def _nested(table: dict, outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    return np.array([table[o][i] for o, i in zip(outer, inner, strict=True)], dtype=float)


def ad_effects(world: World) -> pd.DataFrame:
    """Observable parts of each ad's CTR/CVR logits, CPM and order value (fixed per ad)."""
    a = world.ads
    p = a.platform.to_numpy()
    age_mid = (a.age_min.to_numpy() + a.age_max.to_numpy()) / 2.0
    age_ctr = np.array([YOUNG_PLATFORM_AGE.get(x, 0.0) for x in p]) * (age_mid - 35.0)
    vertical_aspect = a.image_height.to_numpy() > a.image_width.to_numpy()
    aspect_ctr = np.where(np.isin(p, ("tiktok", "instagram", "pinterest")), 0.2, -0.05) * vertical_aspect
    people_ctr = np.where(np.isin(p, ("facebook", "instagram")), 0.12, 0.0) * a.has_people.to_numpy()
    overlay_ctr = -0.006 * a.text_overlay_pct.to_numpy()
    tone = a.tone.to_numpy().astype(float)
    objective = a.objective.to_numpy()
    ctr = (
        _lookup(BASE_CTR, p)
        + _lookup(OBJ_CTR, objective)
        + _lookup(FORMAT_CTR, a.format.to_numpy())
        + _lookup(CTA_CTR, a.call_to_action.to_numpy())
        + _lookup(AUD_CTR, a.audience_type.to_numpy())
        + _lookup(TONE_CTR, p) * tone
        + _lookup(EMO_CTR, a.emotion.to_numpy())
        + _nested(LEN_CTR, p, a.length_class.to_numpy())
        + age_ctr
        + aspect_ctr
        + people_ctr
        + overlay_ctr
        + 0.04 * np.log1p(a.interests.str.count(r"\|").to_numpy() + (a.interests.str.len() > 0))
    )
    fear_boost = np.where(objective == "conversion", 1.0, 0.3)
    cvr = (
        _lookup(BASE_CVR, p)
        + _lookup(OBJ_CVR, objective)
        + _lookup(CTA_CVR, a.call_to_action.to_numpy())
        + _lookup(AUD_CVR, a.audience_type.to_numpy())
        + _lookup(VERTICAL_CVR, a.vertical.to_numpy())
        + _lookup(EMO_CVR, a.emotion.to_numpy()) * fear_boost
        + 0.1 * tone
        + _lookup(LEN_CVR, a.length_class.to_numpy()) * (objective != "awareness")
    )
    cpm = (
        _lookup(BASE_CPM, p)
        * _lookup(AUD_CPM, a.audience_type.to_numpy())
        * np.where(a.geo.isin(["US", "GB", "AU"]).to_numpy(), 1.15, 0.9)
        * (1.0 + 0.004 * (age_mid - 35.0))
    )
    return pd.DataFrame(
        {
            "ctr_logit": ctr,
            "cvr_logit": cvr,
            "cpm": cpm,
            "aov": _lookup(VERTICAL_AOV, a.vertical.to_numpy()),
        }
    )


def _season(world: World, day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-day CTR shift, CVR shift and CPM multiplier (weekends, Q4, Black Friday week)."""
    dates = pd.to_datetime(world.start_date) + pd.to_timedelta(day, unit="D")
    weekend = dates.day_of_week.to_numpy() >= 5
    month = dates.month.to_numpy()
    doy = dates.day_of_year.to_numpy()
    black_friday_week = (month == 11) & (dates.day.to_numpy() >= 20)
    ctr_shift = 0.05 * weekend + 0.08 * (month == 12)
    cvr_shift = 0.15 * (month >= 11) + 0.35 * black_friday_week - 0.05 * weekend
    cpm_mult = 1.0 + 0.25 * (month >= 11) + 0.35 * black_friday_week + 0.05 * np.sin(doy / 58.0)
    return ctr_shift, cvr_shift, cpm_mult


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate(world: World, effects: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One draw of daily delivery for every ad.  Money is rounded to cents, as exported."""
    a = world.ads
    n = len(a)
    quality = rng.normal(0.0, 1.0, n)
    ctr_ad = effects.ctr_logit.to_numpy() + QUALITY_CTR_SD * quality
    cvr_ad = effects.cvr_logit.to_numpy() + QUALITY_CVR_SD * (0.6 * quality + 0.8 * rng.normal(0.0, 1.0, n))
    cpm_ad = effects.cpm.to_numpy() * rng.lognormal(0.0, CPM_FACTOR_SD, n)
    pacing = rng.uniform(0.6, 1.0, n)
    flight = a.end_day.to_numpy() - a.launch_day.to_numpy() + 1
    paused = rng.random(n) < 0.2
    flight = np.where(paused, np.maximum(1, (flight * rng.uniform(0.1, 0.9, n)).astype(int)), flight)

    idx = np.repeat(np.arange(n), flight)
    day = a.launch_day.to_numpy()[idx] + (np.arange(len(idx)) - np.repeat(np.cumsum(flight) - flight, flight))
    ctr_shift, cvr_shift, cpm_mult = _season(world, day)
    m = len(idx)
    budget = a.daily_budget.to_numpy()[idx] * pacing[idx] * rng.lognormal(0.0, 0.2, m)
    cpm_day = cpm_ad[idx] * cpm_mult * rng.lognormal(0.0, DAILY_SD, m)
    impressions = rng.poisson(budget / cpm_day * 1000.0)
    spend_cents = np.round(impressions * cpm_day / 10.0).astype(np.int64)
    ctr = _expit(ctr_ad[idx] + ctr_shift + rng.normal(0.0, DAILY_SD, m))
    clicks = rng.binomial(impressions, ctr)
    cvr = _expit(cvr_ad[idx] + cvr_shift + rng.normal(0.0, DAILY_SD, m))
    conversions = rng.binomial(clicks, cvr)
    online = rng.binomial(conversions, ONLINE_SHARE)
    aov = effects.aov.to_numpy()[idx]
    value_each = aov * rng.lognormal(-0.045, 0.3, m)
    online_value_cents = np.round(online * value_each * 100).astype(np.int64)
    offline_value_cents = np.round((conversions - online) * value_each * 100).astype(np.int64)
    # Engagement grows with impressions and with charged, emotional copy.
    eng_rate = 0.002 * np.exp(0.3 * np.abs(a.tone.to_numpy()[idx]) + 0.4 * quality[idx])
    likes = rng.poisson(impressions * eng_rate)
    return pd.DataFrame(
        {
            "ad_key": idx,
            "day": day,
            "impressions": impressions,
            "clicks": clicks,
            "spend_cents": spend_cents,
            "online_conversions": online,
            "online_value_cents": online_value_cents,
            "offline_conversions": conversions - online,
            "offline_value_cents": offline_value_cents,
            "likes": likes,
            "comments": rng.poisson(likes * 0.08),
            "shares": rng.poisson(likes * 0.05),
        }
    )


def ad_totals(daily: pd.DataFrame, n_ads: int) -> pd.DataFrame:
    """Per-ad totals of the label inputs (integers, so sums are exact)."""
    cols = [
        "impressions",
        "clicks",
        "spend_cents",
        "online_conversions",
        "offline_conversions",
        "online_value_cents",
        "offline_value_cents",
    ]
    out = {
        c: np.bincount(daily.ad_key, weights=daily[c], minlength=n_ads).round().astype(np.int64) for c in cols
    }
    return pd.DataFrame(
        {
            "impressions": out["impressions"],
            "clicks": out["clicks"],
            "spend_cents": out["spend_cents"],
            "conversions": out["online_conversions"] + out["offline_conversions"],
            "value_cents": out["online_value_cents"] + out["offline_value_cents"],
        }
    )
