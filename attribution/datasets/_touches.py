"""Touches of one block: how many each contact gets, when, on which channel, and their
campaign, touch type and cost.

A contact's touches fall in one journey of a few weeks; the channel of each touch follows the
contact's own channel preferences, its intent and dark-funnel exposure (both pull toward
organic search and direct) and its position in the journey (awareness channels early, capture
channels late).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from attribution.datasets._accounts import Contacts
from attribution.datasets._world import (
    CAMPAIGN_CUM,
    CHANNEL_BASE_P,
    CHANNEL_PREF_SIGMA,
    FORM_CHANNELS,
    FORM_FILL,
    INTENT_CHANNELS,
    LEAD_FORM_P,
    POSITION_BINS,
    POSITION_EFFECT,
    SEGMENT_CHANNEL_WEIGHT,
    SEGMENT_TOUCH_WEIGHT,
    SLACK_DAYS,
    TRACKED_CHANNELS,
    TYPE_CODE,
    TYPE_CUM,
    US_PER_DAY,
    pick_rows,
)


@dataclass(frozen=True)
class Journeys:
    """One block's touches, in contact then time order, and what each contact saw."""

    n_t: np.ndarray  # touches per contact
    first: np.ndarray  # row of each contact's first touch
    tc: np.ndarray  # contact of each touch (block-local)
    gap: np.ndarray  # days from a contact's last touch to its close
    t_us_rel: np.ndarray  # microseconds from the window's start
    t_day: np.ndarray  # the same in days
    channel: np.ndarray
    exposed: np.ndarray  # (contact, tracked channel): at least one touch of it


@dataclass(frozen=True)
class TouchAttributes:
    """Campaign, touch type and cost of each touch."""

    campaign: np.ndarray
    touch_type: np.ndarray
    cost: np.ndarray


def draw_journeys(rng: np.random.Generator, contacts: Contacts, nt: int, days: float) -> Journeys:
    """``nt`` touches over the contacts, timed within a ``days``-long window, with channels."""
    nc = contacts.role.size
    n_ch = len(TRACKED_CHANNELS)
    intent = contacts.intent

    # Touches per contact: at least one; overdispersed, more for intent and big accounts.
    tw = rng.gamma(1.5, 1.0, nc) * np.exp(0.25 * intent) * SEGMENT_TOUCH_WEIGHT[contacts.segment]
    n_t = 1 + rng.multinomial(nt - nc, tw / tw.sum())
    first = np.concatenate([[0], np.cumsum(n_t)[:-1]])
    tc = np.repeat(np.arange(nc), n_t)

    # Journey timing (days from start): duration, close gap, start with room to finish.
    duration = np.clip(rng.lognormal(math.log(70.0), 0.45, nc), 3.0, 200.0)
    gap = np.minimum(0.5 + rng.exponential(10.0, nc), 60.0)
    squeeze = np.minimum(1.0, (days - 1.0 - SLACK_DAYS) / (duration + gap))
    duration, gap = duration * squeeze, gap * squeeze
    need = duration + gap + SLACK_DAYS
    start = rng.random(nc) * np.maximum(days - need, 0.0)
    day0 = np.floor(start)
    raw = (start - day0)[tc] + duration[tc] * rng.random(nt)  # days after the contact's day0
    # B2B touches happen in US business hours (~15:00 UTC), some at any time.
    tod = np.where(
        rng.random(nt) < 0.85, np.clip(rng.normal(15.0, 2.5, nt), 0.0, 23.99) / 24, rng.random(nt)
    )
    # Sort within contact on one integer key: contact number, then microseconds after day0
    # (a journey spans under 2**44 us = 203 days: durations are capped at 200).
    rel_us = np.round((np.floor(raw) + tod) * US_PER_DAY).astype(np.int64)
    key = np.sort((tc.astype(np.int64) << 44) | rel_us)
    t_us_rel = (key & ((1 << 44) - 1)) + (day0.astype(np.int64) * US_PER_DAY)[tc]
    t_day = t_us_rel / US_PER_DAY
    pos = np.arange(nt) - first[tc]
    rel = pos / np.maximum(n_t[tc] - 1, 1)

    # Channels: a contact's own preferences, intent and dark-funnel exposure pull toward
    # organic search and direct, awareness channels come early, capture channels late; each
    # segment leans to its own channels.
    # Arrays are (channel, touch) so the cumulative sums run over contiguous rows.
    z = rng.standard_normal((n_ch, nc))
    z *= CHANNEL_PREF_SIGMA
    z[INTENT_CHANNELS] += 0.6 * intent + 0.7 * contacts.dark_any
    pref = CHANNEL_BASE_P[:, None] * SEGMENT_CHANNEL_WEIGHT[contacts.segment].T * np.exp(z)
    cum = pref[:, tc]
    cum *= np.take(POSITION_EFFECT, (rel * (POSITION_BINS - 1e-9)).astype(np.intp), axis=1)
    for j in range(1, n_ch):  # a dozen channels: the loop runs over rows, not touches
        cum[j] += cum[j - 1]
    draw = rng.random(nt) * cum[-1]
    channel = np.zeros(nt, dtype=np.intp)
    for j in range(n_ch - 1):
        channel += cum[j] < draw

    exposed = np.zeros((nc, n_ch), dtype=bool)
    exposed[tc, channel] = True
    return Journeys(
        n_t=n_t,
        first=first,
        tc=tc,
        gap=gap,
        t_us_rel=t_us_rel,
        t_day=t_day,
        channel=channel,
        exposed=exposed,
    )


def draw_touch_attributes(
    rng: np.random.Generator,
    channel: np.ndarray,
    lead_touch: np.ndarray,
    is_lead: np.ndarray,
    type_cost: np.ndarray,
) -> TouchAttributes:
    """Campaign, touch type and cost of each touch of ``channel``; ``lead_touch`` is the touch
    that created each contact's lead (where ``is_lead``); ``type_cost`` the mean media cost of
    each touch-type row."""
    campaign = pick_rows(rng, channel, CAMPAIGN_CUM)
    type_row = pick_rows(rng, channel, TYPE_CUM)
    touch_type = TYPE_CODE[type_row]
    cost = np.round(type_cost[type_row] * rng.lognormal(-0.5 * 0.35**2, 0.35, channel.size), 2)
    # Most leads are created by a form fill (the rest by imports, badge scans, referrals).
    lead = lead_touch[is_lead & (rng.random(is_lead.size) < LEAD_FORM_P)]
    form = lead[FORM_CHANNELS[channel[lead]]]
    touch_type[form] = FORM_FILL
    return TouchAttributes(campaign=campaign, touch_type=touch_type, cost=cost)
