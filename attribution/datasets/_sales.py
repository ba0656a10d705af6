"""The sales team's follow-up touches of one block: calls, emails and meetings after an MQL.

An SDR of the account's region (``sdr_east``, ``sdr_central``, ``sdr_west``) answers each MQL
first, after a lognormal delay whose median depends on the team (speed to lead: most within
hours, the short-staffed west team in about a day, some after several days; for contacts that
go on to SQL the first answer comes before the SQL). An MQL that goes no further gets a few
more attempts, and a few are never followed up at all. A contact that reaches SQL had a
discovery ``meeting`` with the SDR before it; an opportunity is run by an AE of the account's
segment (``ae_smb``, ``ae_mid_market``, ``ae_enterprise``): a demo ``meeting`` and a few calls,
emails or meetings until the close (or for up to 90 days while it is open).

Every follow-up touch is in the channel ``sales``: they come after the MQL, because of it, and
cause nothing in this world (the funnel is drawn before them), so the truth gives ``sales`` an
incremental share of 0 and the conversion model, exposures and truth are unchanged. All of
them fall strictly before the contact's close (won or lost) and inside the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attribution.datasets._deals import Funnel
from attribution.datasets._world import (
    AE_TOUCHES,
    AE_TYPE_P,
    MAX_SALES_TOUCHES,
    NO_FOLLOW_UP_P,
    REGIONS,
    SALES_TYPE_CODE,
    SALES_TYPE_P,
    SDR_MEDIAN_HOURS,
    SDR_RETRIES,
    SDR_RETRY_DAYS,
    SDR_SIGMA,
)

_MEETING = 2  # position of "meeting" in SALES_TYPES
_AE_DAYS = 90.0  # an open opportunity's AE touches fall within this many days of its creation
_MAX_RETRIES = 3
_MAX_AE_EXTRA = MAX_SALES_TOUCHES - 3  # first answer, discovery meeting, demo, extras


@dataclass(frozen=True)
class SalesTouches:
    """One block's sales touches: block-local contact, day from the window's start, touch-type
    code (into TYPE_NAMES) and owner team (into OWNER_TEAMS)."""

    contact: np.ndarray
    day: np.ndarray
    touch_type: np.ndarray
    owner: np.ndarray


def draw_sales_touches(
    rng: np.random.Generator,
    funnel: Funnel,
    region: np.ndarray,
    segment: np.ndarray,
    days: float,
) -> SalesTouches:
    """The follow-up touches of the contacts of ``funnel`` (``region`` / ``segment`` of each
    contact's account pick the SDR and AE teams), inside a ``days``-long window."""
    nc = funnel.level.size
    level = funnel.level
    end = days - 1e-3
    mql, sql, opp = level >= 2, level >= 3, level >= 4
    closed = funnel.won | funnel.lost
    sdr = region  # OWNER_TEAMS 0..2
    ae = len(REGIONS) + segment  # OWNER_TEAMS 3..5

    # The first answer: speed to lead by SDR team; before the SQL for those who reach it.
    delay = rng.lognormal(np.log(SDR_MEDIAN_HOURS[sdr] / 24.0), SDR_SIGMA)
    delay = np.where(sql, np.minimum(delay, 0.7 * (funnel.t_sql - funnel.t_mql)), delay)
    t_first = funnel.t_mql + delay
    ignored = (level == 2) & (rng.random(nc) < NO_FOLLOW_UP_P)
    first = mql & ~ignored & (t_first < end)
    first_type = SALES_TYPE_CODE[(rng.random(nc) >= SALES_TYPE_P[0]).astype(np.intp)]

    # More attempts on an MQL that goes no further.
    retries = np.where(
        first & (level == 2), np.minimum(rng.poisson(SDR_RETRIES, nc), _MAX_RETRIES), 0
    )
    r_contact = np.repeat(np.arange(nc), retries)
    r_day = t_first[r_contact] + rng.uniform(0.5, SDR_RETRY_DAYS, r_contact.size)
    r_type = SALES_TYPE_CODE[(rng.random(r_contact.size) >= SALES_TYPE_P[0]).astype(np.intp)]
    r_keep = r_day < end

    # The discovery meeting that makes the SQL.
    m_day = t_first + (funnel.t_sql - t_first) * rng.uniform(0.3, 0.95, nc)

    # The AE's demo and follow-ups on an opportunity, until the close (or while it is open).
    ae_end = np.where(closed, funnel.t_close, np.minimum(funnel.t_opp + _AE_DAYS, end))
    ae_span = np.maximum(ae_end - funnel.t_opp, 0.0)
    demo_day = funnel.t_opp + ae_span * rng.uniform(0.05, 0.4, nc)
    extra = np.where(opp, np.minimum(rng.poisson(AE_TOUCHES, nc), _MAX_AE_EXTRA), 0)
    a_contact = np.repeat(np.arange(nc), extra)
    a_day = funnel.t_opp[a_contact] + ae_span[a_contact] * rng.uniform(0.02, 0.98, a_contact.size)
    a_type = SALES_TYPE_CODE[
        np.searchsorted(np.cumsum(AE_TYPE_P)[:-1], rng.random(a_contact.size), side="right")
    ]

    i_first, i_meet, i_demo = np.flatnonzero(first), np.flatnonzero(sql), np.flatnonzero(opp)
    contact = np.concatenate([i_first, r_contact[r_keep], i_meet, i_demo, a_contact])
    day = np.concatenate([t_first[i_first], r_day[r_keep], m_day[i_meet], demo_day[i_demo], a_day])
    touch_type = np.concatenate(
        [
            first_type[i_first],
            r_type[r_keep],
            np.full(i_meet.size + i_demo.size, SALES_TYPE_CODE[_MEETING]),
            a_type,
        ]
    )
    owner = np.concatenate(
        [sdr[i_first], sdr[r_contact[r_keep]], sdr[i_meet], ae[i_demo], ae[a_contact]]
    )
    order = np.lexsort((day, contact))
    return SalesTouches(
        contact=contact[order],
        day=day[order],
        touch_type=touch_type[order],
        owner=owner[order],
    )
