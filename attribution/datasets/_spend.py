"""The spend table of the synthetic world: monthly budget per channel and campaign.

Proportional to the number of accounts and to the days of each month inside the window, with a
season (events follow the conference calendar, the rest is nearly flat with a December dip) and
a little noise from its own random stream; a share of each channel's month (fees, tools) has no
campaign. An account holdout saves the tested channel's media spend on the accounts it holds
out, from its start (the fees and tools stay).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from attribution.datasets._world import (
    CAMPAIGNS,
    CH_INDEX,
    CHANNEL_BUDGET,
    MEDIA_SHARE,
    TAG_SPEND,
    TRACKED_CHANNELS,
    US_PER_DAY,
)

if TYPE_CHECKING:
    from attribution.datasets._calibration import Params


def _months(params: Params) -> list[tuple[date, float]]:
    """(first of month, days of the window falling in it) for every month the window spans."""
    start_day = params.start_us / US_PER_DAY
    end_day = start_day + params.days
    out = []
    cur = date(params.start.year, params.start.month, 1)
    epoch = date(1970, 1, 1)
    while (cur - epoch).days < end_day:
        nxt = date(cur.year + cur.month // 12, cur.month % 12 + 1, 1)
        lo = max((cur - epoch).days, start_day)
        hi = min((nxt - epoch).days, end_day)
        if hi > lo:
            out.append((cur, hi - lo))
        cur = nxt
    return out


def _held_out_share(params: Params, months: list[tuple[date, float]]) -> np.ndarray:
    """Per tracked channel and month, the share of its media spend an account holdout saves:
    the share of accounts held out times the part of the month's window days from the
    holdout's start on (0 for the channels not tested, and without a holdout)."""
    out = np.zeros((len(TRACKED_CHANNELS), len(months)))
    h = params.holdout
    if h is None or not h.applied:  # a test only read out spends as planned
        return out
    epoch = date(1970, 1, 1)
    start_day = params.start_us / US_PER_DAY
    held_from = start_day + h.start_day
    for i, (first, days) in enumerate(months):  # a dozen months
        lo = max((first - epoch).days, start_day)
        after = max(0.0, lo + days - max(lo, held_from))
        out[list(h.channels), i] = h.share * after / days
    return out


# Events spend follows the conference calendar; the rest is nearly flat with a December dip.
_EVENT_SEASON = np.array([0.2, 0.4, 2.4, 0.6, 1.8, 1.2, 0.3, 0.3, 3.0, 2.4, 1.2, 0.2])
_FLAT_SEASON = np.array([1.0, 1.05, 1.1, 1.0, 1.0, 0.95, 0.9, 0.95, 1.05, 1.1, 1.05, 0.85])


def spend_table(params: Params, n_accounts: int) -> pl.DataFrame:
    """Monthly spend per channel and campaign, proportional to the number of accounts."""
    months = _months(params)
    rng = np.random.default_rng([params.seed, TAG_SPEND])
    month_no = np.array([m.month - 1 for m, _ in months])
    in_window = np.array([d for _, d in months])
    ev = _EVENT_SEASON / _EVENT_SEASON.mean()
    flat = _FLAT_SEASON / _FLAT_SEASON.mean()
    funded = np.flatnonzero(CHANNEL_BUDGET > 0)
    season = np.where(
        (np.arange(len(TRACKED_CHANNELS)) == CH_INDEX["events"])[funded][:, None],
        ev[month_no][None, :],
        flat[month_no][None, :],
    )
    monthly = (
        CHANNEL_BUDGET[funded][:, None]
        * n_accounts
        * (in_window / 365.0)[None, :]
        * season
        * rng.lognormal(0.0, 0.08, season.shape)
    )  # (channel, month)
    saved = _held_out_share(params, months)  # (tracked channel, month)
    rows_m, rows_ch, rows_c, rows_a = [], [], [], []
    for j, ch in enumerate(funded):
        camps = [c for c in CAMPAIGNS if c[0] == TRACKED_CHANNELS[ch]]
        names = list(dict.fromkeys(c[1] for c in camps))
        w = np.array([sum(c[4] for c in camps if c[1] == n) for n in names])
        shares = np.concatenate([MEDIA_SHARE * w / w.sum(), [1.0 - MEDIA_SHARE]])
        labels: list[str | None] = [*names, None]
        for i, (m, _) in enumerate(months):
            rows_m.extend([m] * len(labels))
            rows_ch.extend([TRACKED_CHANNELS[ch]] * len(labels))
            rows_c.extend(labels)
            media = np.where(np.arange(shares.size) < len(names), 1.0 - saved[ch, i], 1.0)
            rows_a.extend(np.round(monthly[j, i] * shares * media, 2).tolist())
    return pl.DataFrame(
        {"month": rows_m, "channel": rows_ch, "campaign": rows_c, "amount": rows_a},
        schema={
            "month": pl.Date,
            "channel": pl.String,
            "campaign": pl.String,
            "amount": pl.Float64,
        },
    ).sort("month", "channel", "campaign", nulls_last=True)
