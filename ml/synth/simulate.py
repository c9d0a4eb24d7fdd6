"""Delivery simulation: daily impressions, clicks, conversions and value per ad.

Rates are logistic in the ad's observable attributes plus unobservable parts that are
re-drawn per replicate: creative quality (per ad), an auction-price factor (per ad),
pacing and an early pause (per ad), and daily noise.  ``simulate`` is called once for the
exported data and again for every ground-truth replicate, with the same world.
"""

from __future__ import annotations

from dataclasses import dataclass

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


# Account health: a weekly Markov chain per account.  0 healthy, 1 warning (creative fatigue:
# CTR slips first), 2 declining (conversion rates collapse), 3 budget cut (declining and the
# advertiser pulls spend).  Unobservable; its traces in delivery are what the account-health
# model has to read.
STATES = ("healthy", "warning", "declining", "budget_cut")
STATE_START = np.array([0.85, 0.05, 0.08, 0.02])
STATE_TRANSITIONS = np.array(
    [
        [0.94, 0.06, 0.00, 0.00],
        [0.20, 0.25, 0.55, 0.00],
        [0.25, 0.00, 0.55, 0.20],
        [0.30, 0.00, 0.00, 0.70],
    ]
)
STATE_CTR = np.array([0.0, -0.30, -0.35, -0.35])
STATE_CVR = np.array([0.0, -0.15, -0.90, -0.90])
STATE_BUDGET = np.array([1.0, 1.0, 0.9, 0.3])


@dataclass
class Latents:
    """The unobservable parts of one draw: per ad and per account-week."""

    quality: np.ndarray
    cvr_noise: np.ndarray
    cpm_factor: np.ndarray
    pacing: np.ndarray
    stop_day: np.ndarray  # last day the ad delivers (a pause ends it before its planned end)
    account_state: np.ndarray  # (accounts, weeks) state index

    def copy(self) -> Latents:
        return Latents(*(v.copy() for v in self.__dict__.values()))


def week_of_day(world: World, day: np.ndarray) -> np.ndarray:
    """Calendar week index (weeks start on Monday; week 0 holds the first day)."""
    return (np.asarray(day) + world.start_date.weekday()) // 7


def n_weeks(world: World) -> int:
    return int(week_of_day(world, np.array([world.days - 1]))[0]) + 1


def _chain(rng: np.random.Generator, start: np.ndarray, steps: int) -> np.ndarray:
    """Continue each row's state chain ``steps`` weeks from ``start`` (one state per row)."""
    states = np.empty((len(start), steps), dtype=np.int64)
    current = start
    cumulative = STATE_TRANSITIONS.cumsum(axis=1)
    for w in range(steps):
        u = rng.random(len(current))
        current = (u[:, None] > cumulative[current]).sum(axis=1)
        states[:, w] = current
    return states


# Pauses: this share of ads is stopped early, after a uniform share of its planned flight.
PAUSE_SHARE = 0.2
PAUSE_AFTER = (0.1, 0.9)


def draw_stop_days(rng: np.random.Generator, launch: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Last delivery day of ads planned to run from ``launch`` to ``end`` (a pause ends it early)."""
    n = len(launch)
    flight = end - launch + 1
    paused = rng.random(n) < PAUSE_SHARE
    cut = np.maximum(1, (flight * rng.uniform(*PAUSE_AFTER, n)).astype(int))
    return launch + np.where(paused, cut, flight) - 1


def draw_stop_days_after(
    rng: np.random.Generator, launch: np.ndarray, end: np.ndarray, day: int
) -> np.ndarray:
    """Stop days drawn as draw_stop_days draws them, given that each ad still ran after ``day``.

    Exact conditioning by rejection: redraw the ads whose draw stopped by ``day``.  An unpaused
    draw always qualifies (its end lies after ``day``), so each round settles >= 80% of the
    rest on average.
    """
    stop = np.empty(len(launch), dtype=np.int64)
    todo = np.arange(len(launch))
    while todo.size:
        drawn = draw_stop_days(rng, launch[todo], end[todo])
        done = drawn > day
        stop[todo[done]] = drawn[done]
        todo = todo[~done]
    return stop


def draw_ad_latents(world: World, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    a = world.ads
    quality = rng.normal(0.0, 1.0, n)
    cvr_noise = rng.normal(0.0, 1.0, n)
    cpm_factor = rng.lognormal(0.0, CPM_FACTOR_SD, n)
    pacing = rng.uniform(0.6, 1.0, n)
    stop_day = draw_stop_days(rng, a.launch_day.to_numpy(), a.end_day.to_numpy())
    return quality, cvr_noise, cpm_factor, pacing, stop_day


def draw_latents(world: World, rng: np.random.Generator) -> Latents:
    ads = draw_ad_latents(world, rng, len(world.ads))
    n_accounts = len(world.accounts)
    first = rng.choice(len(STATES), n_accounts, p=STATE_START)
    states = np.column_stack([first, _chain(rng, first, n_weeks(world) - 1)])
    quality, cvr_noise, cpm_factor, pacing, stop_day = ads
    return Latents(quality, cvr_noise, cpm_factor, pacing, stop_day, states)


def continue_latents(world: World, known: Latents, week: int, rng: np.random.Generator) -> Latents:
    """What is still unknown at the end of ``week``, drawn afresh; the rest kept.

    Account states after ``week`` continue each account's chain from its state that week;
    ads launching later get new latents; ads still running may yet be paused, with the pause
    drawn as the world draws it given that it had not happened by the week's end.
    """
    out = known.copy()
    week_end_day = (week + 1) * 7 - world.start_date.weekday() - 1
    later = world.ads.launch_day.to_numpy() > week_end_day
    fresh = draw_ad_latents(world, rng, len(world.ads))
    for name, values in zip(("quality", "cvr_noise", "cpm_factor", "pacing", "stop_day"), fresh, strict=True):
        getattr(out, name)[later] = values[later]
    running = ~later & (known.stop_day > week_end_day)
    out.stop_day[running] = draw_stop_days_after(
        rng,
        world.ads.launch_day.to_numpy()[running],
        world.ads.end_day.to_numpy()[running],
        week_end_day,
    )
    steps = out.account_state.shape[1] - week - 1
    if steps > 0:
        out.account_state[:, week + 1 :] = _chain(rng, known.account_state[:, week], steps)
    return out


def deliver(
    world: World,
    effects: pd.DataFrame,
    latents: Latents,
    rng: np.random.Generator,
    days: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Daily delivery given the latents (optionally only for days in [first, last]).

    Money is rounded to cents, as exported.
    """
    a = world.ads
    n = len(a)
    ctr_ad = effects.ctr_logit.to_numpy() + QUALITY_CTR_SD * latents.quality
    cvr_ad = effects.cvr_logit.to_numpy() + QUALITY_CVR_SD * (0.6 * latents.quality + 0.8 * latents.cvr_noise)
    cpm_ad = effects.cpm.to_numpy() * latents.cpm_factor
    start = a.launch_day.to_numpy()
    stop = latents.stop_day
    if days is not None:
        start, stop = np.maximum(start, days[0]), np.minimum(stop, days[1])
    flight = np.maximum(0, stop - start + 1)

    idx = np.repeat(np.arange(n), flight)
    day = start[idx] + (np.arange(len(idx)) - np.repeat(np.cumsum(flight) - flight, flight))
    ctr_shift, cvr_shift, cpm_mult = _season(world, day)
    state = latents.account_state[a.account_key.to_numpy()[idx], week_of_day(world, day)]
    m = len(idx)
    budget = (
        a.daily_budget.to_numpy()[idx]
        * latents.pacing[idx]
        * STATE_BUDGET[state]
        * rng.lognormal(0.0, 0.2, m)
    )
    cpm_day = cpm_ad[idx] * cpm_mult * rng.lognormal(0.0, DAILY_SD, m)
    impressions = rng.poisson(budget / cpm_day * 1000.0)
    spend_cents = np.round(impressions * cpm_day / 10.0).astype(np.int64)
    ctr = _expit(ctr_ad[idx] + ctr_shift + STATE_CTR[state] + rng.normal(0.0, DAILY_SD, m))
    clicks = rng.binomial(impressions, ctr)
    cvr = _expit(cvr_ad[idx] + cvr_shift + STATE_CVR[state] + rng.normal(0.0, DAILY_SD, m))
    conversions = rng.binomial(clicks, cvr)
    online = rng.binomial(conversions, ONLINE_SHARE)
    aov = effects.aov.to_numpy()[idx]
    value_each = aov * rng.lognormal(-0.045, 0.3, m)
    online_value_cents = np.round(online * value_each * 100).astype(np.int64)
    offline_value_cents = np.round((conversions - online) * value_each * 100).astype(np.int64)
    # Engagement grows with impressions and with charged, emotional copy.
    eng_rate = 0.002 * np.exp(0.3 * np.abs(a.tone.to_numpy()[idx]) + 0.4 * latents.quality[idx])
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


def simulate(world: World, effects: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, Latents]:
    """One draw of every unobservable and the daily delivery that follows from it."""
    latents = draw_latents(world, rng)
    return deliver(world, effects, latents, rng), latents


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
