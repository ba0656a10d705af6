"""The CRM funnel of one block: how far each contact gets (lead -> mql -> sql -> opportunity
-> closed_won | closed_lost), when, and for how much.

One uniform per contact against nested thresholds, so the stages are nested and
``P(closed_won) = sigmoid(b_won + eta)`` exactly. Contacts whose first touch is a partner
referral reach the opportunity from MQL at ``PARTNER_MQL_TO_OPP`` (their opportunity threshold
moves between the MQL and closed_won ones, the SQL one up to it if lower, so nesting and
``P(closed_won)`` are unchanged). Stage times are
anchored on touches: the lead is created by a touch early in the journey, opportunities later,
the close after the last touch; touches go on after each milestone. Deals are subscriptions:
their value is ARR, 12 x an MRR drawn by segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attribution.datasets._touches import Journeys
from attribution.datasets._world import (
    CH_INDEX,
    DEAL_MRR_MEDIAN,
    DEAL_SIGMA,
    OPEN_OPPORTUNITY_P,
    PARTNER_MQL_TO_OPP,
    sigmoid,
)


@dataclass(frozen=True)
class Funnel:
    """Per contact: the last stage reached (``level``, 0 none .. 5 closed_won), the stage times
    in days from the window's start, and the deal amounts."""

    level: np.ndarray
    won: np.ndarray
    lost: np.ndarray
    k_lead: np.ndarray  # the touch that created the lead
    t_lead: np.ndarray
    t_mql: np.ndarray
    t_sql: np.ndarray
    t_opp: np.ndarray
    t_close: np.ndarray
    t_survey: np.ndarray
    amount: np.ndarray  # ARR at the opportunity (and a lost deal)
    final: np.ndarray  # ARR at closed_won

    def reached(self) -> list[np.ndarray]:
        """One mask per stage of STAGES: the contacts with that stage event."""
        lvl = self.level
        return [lvl >= 1, lvl >= 2, lvl >= 3, lvl >= 4, self.won, self.lost]


@dataclass(frozen=True)
class StageRows:
    """Stage events ordered by contact then stage: block-local contact, stage code, time in
    days from the window's start, value (NaN for none)."""

    contact: np.ndarray
    stage: np.ndarray
    day: np.ndarray
    value: np.ndarray


def draw_funnel(
    rng: np.random.Generator,
    thresholds: np.ndarray,
    eta: np.ndarray,
    journeys: Journeys,
    segment: np.ndarray,
) -> Funnel:
    """Stages reached against the calibrated ``thresholds`` (logit intercepts of lead, mql,
    sql, opportunity, closed_won), their times and the deal amounts (by ``segment``)."""
    nc = eta.size
    b = thresholds
    u = rng.random(nc)
    p = sigmoid(b[None, :] + eta[:, None])  # (contact, stage): nested, decreasing
    partner = journeys.channel[journeys.first] == CH_INDEX["partner_referral"]
    p[partner, 3] = np.clip(PARTNER_MQL_TO_OPP * p[partner, 1], p[partner, 4], p[partner, 1])
    p[partner, 2] = np.maximum(p[partner, 2], p[partner, 3])
    level = (u[:, None] < p).sum(axis=1)  # 0..5
    lost_draw = rng.random(nc)
    won = level == 5
    lost = (level == 4) & (lost_draw >= OPEN_OPPORTUNITY_P)

    first, n_t, t_day = journeys.first, journeys.n_t, journeys.t_day
    last = first + n_t - 1
    f_lead = rng.uniform(0.0, 0.35, nc)
    f_mql = f_lead + rng.uniform(0.0, 0.25, nc)
    f_sql = f_mql + rng.uniform(0.0, 0.20, nc)
    f_opp = np.minimum(f_sql + rng.uniform(0.05, 0.25, nc), 0.999)

    def at(f: np.ndarray) -> np.ndarray:
        row: np.ndarray = first + np.minimum(np.floor(f * n_t).astype(np.int64), n_t - 1)
        return row

    k_lead = at(f_lead)
    hour = 1.0 / 24.0
    t_lead = t_day[k_lead] + rng.uniform(1.0, 30.0, nc) / 1440.0
    t_mql = np.maximum(t_day[at(f_mql)] + rng.uniform(0.01, 1.0, nc), t_lead + hour)
    t_sql = np.maximum(t_day[at(f_sql)] + rng.uniform(0.5, 5.0, nc), t_mql + hour)
    t_opp = np.maximum(t_day[at(f_opp)] + rng.uniform(0.1, 3.0, nc), t_sql + hour)
    t_close = np.maximum(t_day[last] + journeys.gap, t_opp + 1.0)
    t_survey = t_opp + rng.uniform(hour, 2.0, nc)

    # ARR = 12 x MRR, the MRR rounded to $5; the final amount moves a little from the estimate
    mrr = np.exp(np.log(DEAL_MRR_MEDIAN[segment]) + DEAL_SIGMA[segment] * rng.standard_normal(nc))
    amount = 60.0 * np.maximum(np.round(mrr / 5.0), 1.0)
    moved = mrr * np.exp(0.1 * rng.standard_normal(nc))
    final = 60.0 * np.maximum(np.round(moved / 5.0), 1.0)
    return Funnel(
        level=level,
        won=won,
        lost=lost,
        k_lead=k_lead,
        t_lead=t_lead,
        t_mql=t_mql,
        t_sql=t_sql,
        t_opp=t_opp,
        t_close=t_close,
        t_survey=t_survey,
        amount=amount,
        final=final,
    )


def stage_rows(funnel: Funnel) -> StageRows:
    """The stage events: per stage the contacts that reached it, then by contact, stage."""
    f = funnel
    times = [f.t_lead, f.t_mql, f.t_sql, f.t_opp, f.t_close, f.t_close]
    values = [None, None, None, f.amount, f.final, f.amount]
    rows_c, rows_s, rows_t, rows_v = [], [], [], []
    for k, mask in enumerate(f.reached()):  # six stages
        idx = np.flatnonzero(mask)
        rows_c.append(idx)
        rows_s.append(np.full(idx.size, k, dtype=np.int8))
        rows_t.append(times[k][idx])
        v = values[k]
        rows_v.append(np.full(idx.size, np.nan) if v is None else v[idx])
    s_c = np.concatenate(rows_c)
    s_s = np.concatenate(rows_s)
    order = np.lexsort((s_s, s_c))
    return StageRows(
        contact=s_c[order],
        stage=s_s[order],
        day=np.concatenate(rows_t)[order],
        value=np.concatenate(rows_v)[order],
    )
