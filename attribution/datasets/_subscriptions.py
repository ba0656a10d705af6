"""Subscriptions of one block: monthly recurring revenue of every customer account.

A customer is an account with a won deal: every ``closed_won`` of the window starts a
subscription line in its close month at the deal's MRR (its ARR / 12); and some accounts were
already customers before the window (``BASE_P`` by segment, from a month uniformly in the
``BASE_MONTHS`` before it), at an MRR drawn like a deal of their segment. Each line then lives
month by month to the window's last month: SMB lines churn in any month (monthly contracts),
mid-market and enterprise lines only at an anniversary of their start (annual contracts); a line
that lives on may expand (an upsell: MRR x (1 + U(lo, hi))) or contract. An account's MRR in a
month is the sum of its live lines; a month without a row is a month without revenue (before
the first close or after churn). Won contacts without an account start no line.

The months are a fixed grid (from ``BASE_MONTHS`` before the window's first month to its last)
and one uniform per line and month is drawn for each event, so the draws do not depend on when a
line starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attribution.datasets._world import (
    BASE_MONTHS,
    BASE_P,
    CONTRACTION_CUT,
    CONTRACTION_P,
    DEAL_MRR_MEDIAN,
    DEAL_SIGMA,
    EXPANSION_GAIN,
    EXPANSION_P,
    MONTHLY_CHURN,
    RENEWAL_CHURN,
)


@dataclass(frozen=True)
class Subscriptions:
    """Rows of one block, ordered by account then month: block-local account, month (index
    from the window's first month; negative before it) and MRR."""

    account: np.ndarray
    month: np.ndarray
    mrr: np.ndarray
    base_accounts: int  # accounts that were customers before the window


def draw_subscriptions(
    rng: np.random.Generator,
    acc_segment: np.ndarray,
    won_account: np.ndarray,
    won_month: np.ndarray,
    won_mrr: np.ndarray,
    last_month: int,
) -> Subscriptions:
    """Monthly MRR per account from the won deals (block-local ``won_account`` >= 0, close
    month index ``won_month``, ``won_mrr``) and the pre-window customer base of the block's
    accounts (``acc_segment``), up to month index ``last_month`` (the window's last month)."""
    na = acc_segment.size
    base = np.flatnonzero(rng.random(na) < BASE_P[acc_segment])
    base_start = -rng.integers(1, BASE_MONTHS + 1, base.size)
    seg_b = acc_segment[base]
    drawn = np.exp(
        np.log(DEAL_MRR_MEDIAN[seg_b]) + DEAL_SIGMA[seg_b] * rng.standard_normal(base.size)
    )
    base_mrr = 5.0 * np.maximum(np.round(drawn / 5.0), 1.0)
    account = np.concatenate([base, won_account])
    start = np.concatenate([base_start, won_month])
    mrr0 = np.concatenate([base_mrr, won_mrr])
    seg = acc_segment[account]

    months = np.arange(-BASE_MONTHS, last_month + 1)
    n = account.size
    u_churn = rng.random((n, months.size))
    u_exp = rng.random((n, months.size))
    gain = (
        EXPANSION_GAIN[seg, 0][:, None]
        + rng.random((n, months.size)) * (EXPANSION_GAIN[seg, 1] - EXPANSION_GAIN[seg, 0])[:, None]
    )
    cut = rng.uniform(CONTRACTION_CUT[0], CONTRACTION_CUT[1], (n, months.size))

    mrr = np.zeros((n, months.size))
    alive = np.zeros(n, dtype=bool)
    current = np.zeros(n)
    for j, m in enumerate(months):  # a few dozen months: the loop runs over months, not rows
        age = m - start
        anniversary = (age > 0) & (age % 12 == 0)
        churn = alive & (
            (u_churn[:, j] < MONTHLY_CHURN[seg])
            | (anniversary & (u_churn[:, j] < RENEWAL_CHURN[seg]))
        )
        alive = (alive & ~churn) | (age == 0)
        grow = alive & (age > 0) & (u_exp[:, j] < EXPANSION_P[seg])
        shrink = alive & (age > 0) & ~grow & (u_exp[:, j] >= 1.0 - CONTRACTION_P[seg])
        current = np.where(age == 0, mrr0, current)
        current = np.where(grow, current * (1.0 + gain[:, j]), current)
        current = np.where(shrink, current * (1.0 - cut[:, j]), current)
        mrr[:, j] = np.where(alive, current, 0.0)

    # One row per account and month with revenue: the sum of its live lines.
    line, col = np.nonzero(mrr > 0)
    key = account[line].astype(np.int64) * months.size + col
    uniq, inv = np.unique(key, return_inverse=True)
    total = np.bincount(inv, weights=mrr[line, col], minlength=uniq.size)
    return Subscriptions(
        account=uniq // months.size,
        month=months[uniq % months.size],
        mrr=np.round(total, 2),
        base_accounts=int(base.size),
    )
