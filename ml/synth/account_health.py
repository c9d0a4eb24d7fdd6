"""The is_at_risk label in Python, and each account-week's true at-risk probability.

Mirrors the dbt models behind marts.account_health_training (macro account_health_label)
and reads the same parameters (dbt var account_health), so the ground truth and the warehouse share one
definition.  Weeks are calendar weeks starting on Monday; only weeks that lie wholly inside
the export window count.

The probability is as of the week's end: it knows every latent up to then (each account's
state, the latents of the ads launched so far, the pauses that already happened) and draws
everything after it, including which campaigns and ads launch next (as_of_replicate).  It
is the best any model could do with the week's information plus the latents; replaying the
world's own later launches instead would credit it with the future (holdout AUC 0.955
replaying them, 0.896 as of the week's end, on the 20k demo's test weeks: docs/benchmarks.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import yaml

from ml.synth.simulate import (
    STATES,
    Latents,
    ad_effects,
    continue_latents,
    deliver,
    draw_ad_latents,
    week_of_day,
)
from ml.synth.world import SEEDS_DIR, World, draw_campaigns, read_objective_map


def read_label_params() -> dict[str, float]:
    """The label's parameters: the `account_health` var of dbt_project.yml."""
    project = yaml.safe_load((SEEDS_DIR.parent / "dbt_project.yml").read_text())
    return {k: float(v) for k, v in project["vars"]["account_health"].items()}


def full_weeks(world: World) -> np.ndarray:
    """Indices of the calendar weeks that lie wholly inside the window."""
    offset = world.start_date.weekday()
    weeks = np.arange(int(week_of_day(world, np.array([world.days - 1]))[0]) + 1)
    monday, sunday = 7 * weeks - offset, 7 * weeks - offset + 6
    return weeks[(monday >= 0) & (sunday <= world.days - 1)]


def account_weeks(world: World, daily: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(spend, value) in cents per account and week, shape (accounts, weeks); integer-valued,
    so that window sums are exact, as the warehouse's decimal sums are."""
    shape = (len(world.accounts), int(week_of_day(world, np.array([world.days - 1]))[0]) + 1)
    account = world.ads.account_key.to_numpy()[daily.ad_key.to_numpy()]
    flat = account * shape[1] + week_of_day(world, daily.day.to_numpy())
    size = shape[0] * shape[1]
    spend = np.bincount(flat, weights=daily.spend_cents, minlength=size).round().reshape(shape)
    value = (
        np.bincount(flat, weights=daily.online_value_cents + daily.offline_value_cents, minlength=size)
        .round()
        .reshape(shape)
    )
    return spend, value


def trailing(world: World, spend: np.ndarray, value: np.ndarray, params: dict[str, float]) -> pd.DataFrame:
    """Per account and eligible week: trailing-window spend and value and its week count."""
    weeks = full_weeks(world)
    n_trailing, horizon = int(params["trailing_weeks"]), int(params["horizon_weeks"])
    rows = []
    for i, w in enumerate(weeks):
        window = weeks[max(0, i - n_trailing + 1) : i + 1]
        if len(window) < params["min_history_weeks"] or i + horizon >= len(weeks):
            continue
        rows.append(
            pd.DataFrame(
                {
                    "account_key": np.arange(spend.shape[0]),
                    "week": w,
                    "trailing_weeks": len(window),
                    "trailing_spend": spend[:, window].sum(axis=1),
                    "trailing_value": value[:, window].sum(axis=1),
                }
            )
        )
    if not rows:  # a window too short for any labelled week
        return pd.DataFrame(
            columns=["account_key", "week", "trailing_weeks", "trailing_spend", "trailing_value"]
        )
    return pd.concat(rows, ignore_index=True)


def is_at_risk(
    panel: pd.DataFrame, future_spend: np.ndarray, future_value: np.ndarray, params: dict[str, float]
) -> np.ndarray:
    """The label: spend collapses, or ROAS falls by roas_drop or more; NaN when ineligible.

    Sums arrive in cents and become dollars the way the warehouse casts its exact decimal
    sums to double, so that both sides compare the same numbers.
    """
    t_spend = panel.trailing_spend.to_numpy() / 100.0
    t_value = panel.trailing_value.to_numpy() / 100.0
    f_spend = np.asarray(future_spend) / 100.0
    f_value = np.asarray(future_value) / 100.0
    weekly_trailing = t_spend / panel.trailing_weeks.to_numpy()
    weekly_future = f_spend / params["horizon_weeks"]
    with np.errstate(divide="ignore", invalid="ignore"):
        roas_trailing = np.where(t_spend > 0, t_value / np.where(t_spend > 0, t_spend, 1.0), 0.0)
        roas_future = np.where(f_spend > 0, f_value / np.where(f_spend > 0, f_spend, 1.0), 0.0)
    collapse = weekly_future < params["spend_collapse"] * weekly_trailing
    drop = roas_future <= (1.0 - params["roas_drop"]) * roas_trailing
    label = (collapse | drop).astype(float)
    label[weekly_trailing < params["min_weekly_spend"]] = np.nan
    return label


def future_totals(
    spend: np.ndarray, value: np.ndarray, panel: pd.DataFrame, horizon: int, weeks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    position = {int(w): i for i, w in enumerate(weeks)}
    idx = np.array([[weeks[position[int(w)] + k] for k in range(1, horizon + 1)] for w in panel.week])
    acc = panel.account_key.to_numpy()[:, None]
    return spend[acc, idx].sum(axis=1), value[acc, idx].sum(axis=1)


# What delivery reads of an ad (the rest of it acts through its effects).
DELIVERY_COLUMNS = ["launch_day", "end_day", "account_key", "daily_budget", "tone"]


def fresh_launches(world: World, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A fresh draw of the world's campaigns and ads for the same accounts (no copy text),
    and their effects: stand-ins for the launches not yet known at a week's end.

    Drawn as the world draws them, with the same total number of campaigns over the window,
    so the later launches do not depend on how many came before (a slight approximation of
    the process given the past; the campaigns' start days are independent and uniform)."""
    _, _, ads = draw_campaigns(
        rng, world.accounts, world.platform_mix, world.n_ads, world.days, read_objective_map(), copy=False
    )
    # Kept for every week of every replicate: only the columns delivery reads.
    return ads[DELIVERY_COLUMNS], ad_effects(dataclasses.replace(world, ads=ads))


def as_of_replicate(
    world: World,
    effects: pd.DataFrame,
    latents: Latents,
    week: int,
    fresh: tuple[pd.DataFrame, pd.DataFrame],
    rng: np.random.Generator,
) -> tuple[World, pd.DataFrame, Latents]:
    """One future for ``week``, drawn from what is known at its end.

    Known: the ads launched by the week's Sunday (their latents, planned ends and the pauses
    that already happened) and each account's state that week.  Drawn: later states, later
    pauses, daily noise, and the ads launching after the week, which come from ``fresh`` (a
    fresh draw of campaigns and ads for the same accounts) instead of the world's own: which
    campaigns an advertiser launches next is not known at the week's end either.
    """
    week_end_day = (week + 1) * 7 - world.start_date.weekday() - 1
    future = continue_latents(world, latents, week, rng)
    known = world.ads.launch_day.to_numpy() <= week_end_day
    fresh_ads, fresh_effects = fresh
    later = fresh_ads.launch_day.to_numpy() > week_end_day
    new_ads = fresh_ads.loc[later, DELIVERY_COLUMNS].reset_index(drop=True)
    new_latents = draw_ad_latents(dataclasses.replace(world, ads=new_ads), rng, len(new_ads))
    ads = pd.concat([world.ads.loc[known, DELIVERY_COLUMNS], new_ads], ignore_index=True)
    kept = (future.quality, future.cvr_noise, future.cpm_factor, future.pacing, future.stop_day)
    joined = [np.concatenate([k[known], drawn]) for k, drawn in zip(kept, new_latents, strict=True)]
    combined = Latents(joined[0], joined[1], joined[2], joined[3], joined[4], future.account_state)
    effects_w = pd.concat([effects[known], fresh_effects[later]], ignore_index=True)
    return dataclasses.replace(world, ads=ads), effects_w, combined


def keyed(world: World, panel: pd.DataFrame) -> pd.DataFrame:
    """The ground-truth panel keyed as the warehouse keys it: advertiser id and the week's Monday."""
    offset = world.start_date.weekday()
    out = panel.drop(columns=["account_key", "week"])
    out.insert(0, "account_id", world.accounts.advertiser_id.to_numpy()[panel.account_key])
    out.insert(
        1,
        "week_start",
        [world.start_date + dt.timedelta(days=int(7 * w - offset)) for w in panel.week],
    )
    return out


def ground_truth(
    world: World,
    effects: pd.DataFrame,
    warehouse_daily: pd.DataFrame,
    latents: Latents,
    rng: np.random.Generator,
    replicates: int,
) -> pd.DataFrame:
    """Per account-week: the label from what the warehouse holds, and P(at risk) given
    everything known (latent states included) at the week's end, by re-simulating the rest
    (as_of_replicate: the launches after the week are redrawn, not replayed)."""
    params = read_label_params()
    weeks = full_weeks(world)
    horizon = int(params["horizon_weeks"])
    spend, value = account_weeks(world, warehouse_daily)
    panel = trailing(world, spend, value, params)
    if panel.empty:
        return panel.assign(is_at_risk_python=[], latent_state=[], true_at_risk_probability=[])
    f_spend, f_value = future_totals(spend, value, panel, horizon, weeks)
    panel["is_at_risk_python"] = is_at_risk(panel, f_spend, f_value, params)
    panel["latent_state"] = np.array(STATES)[latents.account_state[panel.account_key, panel.week]]

    # One fresh draw of launches per replicate, shared by the weeks (each week's probability
    # averages over independent draws; drawing a world is the slow part).
    launches = [fresh_launches(world, rng) for _ in range(replicates)]
    probability = np.full(len(panel), np.nan)
    offset = world.start_date.weekday()
    for w in np.unique(panel.week):
        rows = np.flatnonzero(panel.week.to_numpy() == w)
        sub = panel.iloc[rows]
        first_day, last_day = 7 * (w + 1) - offset, 7 * (w + horizon) - offset + 6
        hits = np.zeros(len(rows))
        for fresh in launches:
            world_w, effects_w, latents_w = as_of_replicate(world, effects, latents, int(w), fresh, rng)
            sim = deliver(world_w, effects_w, latents_w, rng, days=(first_day, last_day))
            s, v = account_weeks(world_w, sim)
            fs, fv = future_totals(s, v, sub, horizon, weeks)
            hits += np.nan_to_num(is_at_risk(sub, fs, fv, params))
        probability[rows] = hits / replicates
    panel["true_at_risk_probability"] = np.where(np.isnan(panel.is_at_risk_python), np.nan, probability)
    panel["trailing_spend"] /= 100.0
    panel["trailing_value"] /= 100.0
    return panel
