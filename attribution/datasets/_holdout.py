"""An account-holdout lift test simulated on the synthetic world, measured as an analyst would.

For each tested channel, a random share of the accounts (drawn per block from its own random
stream, ``(seed, TAG_HOLDOUT, block)``, so no other draw moves) is held out of the channel:
from the holdout's first day (``HOLDOUT_START`` of the window) to the end of the data, their
contacts get none of its touches. Those touches are removed from the touch log, the
contacts' exposure and conversion logit lose the channel's lift, and the funnel is drawn with
the same uniforms as without the test, so only contacts for whom the channel was decisive
convert differently. Each account is in at most one holdout group; the others are treated.
The holdout saves the channel's media spend on the accounts held out: the spend table's
campaign rows of the channel shrink by the share held out over the days from its start.

The readout, after a ramp of ``HOLDOUT_RAMP_DAYS`` (journeys that began before the holdout
still carry earlier touches of the channel), counts each account's closed_won conversions
dated in the measurement window (the ramp's end to the end of the data) and compares the
treated accounts (in no holdout group) with the channel's holdout group, per account:

- ``rate_treated = conversions / accounts`` of the treated group, ``rate_holdout`` likewise;
- ``incremental_conversions = (rate_treated - rate_holdout) x N``, scaled to the ``N``
  accounts that kept the channel (every account outside its holdout group; every account
  when the test is only read out, below);
- ``standard_error = N x sqrt(s_t^2 / n_t + s_h^2 / n_h)`` with the per-account sample
  variances ``s^2`` and group sizes ``n`` (a difference of two means, accounts as the unit
  of randomisation).

Contacts without an account are not randomised and not counted.

**Read out only** (``applied=False``): the shipped world is the one without the test (no
touch removed, the spend as planned) and the test's world is drawn beside it from the same
random numbers, so the treated accounts convert exactly as shipped and only the held-out
accounts' conversions differ; the readout then says what the test would have measured on the
shipped world, scaled to every account. That keeps a world's tables as they were (the sample
data's story holds) while giving it a test to calibrate with. ``truth.json`` holds the
readout and the expected incremental conversions the same window really holds
(``true_incremental_conversions``), so a test's own error can be told from the calibration's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from attribution.datasets._world import CHANNEL_LIFT, TRACKED_CHANNELS, sigmoid

if TYPE_CHECKING:
    from attribution.datasets._calibration import Params

#: The holdout starts this far into the window (a share of ``days``).
HOLDOUT_START = 1 / 6
#: Days between the holdout's start and the readout window's.
HOLDOUT_RAMP_DAYS = 30
#: The most of the accounts all holdout groups may take together.
MAX_HOLDOUT_SHARE = 0.8
#: The random streams of the holdout assignment: (seed, TAG_HOLDOUT, block).
TAG_HOLDOUT = 7
#: Per test, the additive readout statistics of a block, in this order.
STATS = (
    "treated_accounts",
    "treated_conversions",
    "treated_sq",
    "holdout_accounts",
    "holdout_conversions",
    "holdout_sq",
    "kept_accounts",
    "true_incremental",
    "held_out_touches",
)


@dataclass(frozen=True)
class Holdout:
    """The tests of a world: channel indices, the share of accounts each holds out, and the
    days (from the window's start) the holdout and its readout begin."""

    channels: tuple[int, ...]
    share: float
    start_day: int
    readout_day: int
    applied: bool = True  # False: the shipped world is the one without the test

    @staticmethod
    def of(
        channels: tuple[str, ...] | list[str], share: float, days: int, applied: bool = True
    ) -> Holdout | None:
        """Checked holdout settings (``ValueError`` naming the argument); None for none."""
        names = tuple(channels)
        if not names:
            return None
        unknown = [c for c in names if c not in TRACKED_CHANNELS]
        if unknown:
            raise ValueError(
                f"holdout channel(s) {unknown} are not channels of the world; use some of "
                f"{list(TRACKED_CHANNELS)}"
            )
        if len(set(names)) != len(names):
            raise ValueError(f"holdout channels must be distinct, got {list(names)}")
        share = float(share)
        if not (0.0 < share and share * len(names) <= MAX_HOLDOUT_SHARE):
            raise ValueError(
                f"holdout_share must be above 0 and hold out at most {MAX_HOLDOUT_SHARE:.0%} "
                f"of the accounts in all ({len(names)} test(s) x {share!r})"
            )
        start = round(days * HOLDOUT_START)
        if start + HOLDOUT_RAMP_DAYS >= days:
            raise ValueError(f"days must leave room for a holdout readout, got {days}")
        return Holdout(
            tuple(TRACKED_CHANNELS.index(c) for c in names),
            share,
            start,
            start + HOLDOUT_RAMP_DAYS,
            bool(applied),
        )


@dataclass(frozen=True)
class BlockHoldout:
    """One block's holdout: the account groups (-1 treated, k the k-th test's holdout) and
    the marketing touches removed."""

    group: np.ndarray  # per account
    removed: np.ndarray  # per marketing touch
    exposed: np.ndarray  # (contact, channel) after the removal
    eta_loss: np.ndarray  # per contact: the lift lost


def assign(
    holdout: Holdout,
    rng: np.random.Generator,
    account: np.ndarray,
    has_account: np.ndarray,
    tc: np.ndarray,
    channel: np.ndarray,
    t_day: np.ndarray,
    exposed: np.ndarray,
) -> BlockHoldout:
    """The groups of a block's accounts (``account``: each contact's block-local account)
    and the touches the holdouts remove."""
    n_accounts = int(account.max()) + 1 if account.size and account.max() >= 0 else 0
    u = rng.random(n_accounts)
    group = np.full(n_accounts, -1, dtype=np.int64)
    for k in range(len(holdout.channels)):  # one pass per test (a handful)
        group[(u >= k * holdout.share) & (u < (k + 1) * holdout.share)] = k
    contact_group = np.where(has_account, group[np.maximum(account, 0)], -2)
    tests = np.asarray(holdout.channels)
    tested_k = np.full(len(TRACKED_CHANNELS), -3)
    tested_k[tests] = np.arange(tests.size)
    removed = (tested_k[channel] == contact_group[tc]) & (t_day >= holdout.start_day)
    kept = np.zeros_like(exposed)
    kept[tc[~removed], channel[~removed]] = True
    loss = (exposed & ~kept) @ CHANNEL_LIFT
    return BlockHoldout(group=group, removed=removed, exposed=kept, eta_loss=loss)


def readout(
    holdout: Holdout,
    block: BlockHoldout,
    *,
    account: np.ndarray,
    has_account: np.ndarray,
    won: np.ndarray,
    t_close: np.ndarray,
    days: int,
    logit: np.ndarray,
    exposed: np.ndarray,
    channel: np.ndarray,
) -> np.ndarray:
    """Per test, the block's additive readout statistics (:data:`STATS`). ``won`` are the
    conversions of the world the test ran in; ``logit`` and ``exposed`` (each contact's
    closed_won logit and channel exposures) are the shipped world's, whose true increment
    the test estimates: over the accounts that kept the channel when the test is applied,
    over every account when it is only read out. ``channel``: each marketing touch's."""
    n_accounts = block.group.size
    in_window = (t_close >= holdout.readout_day) & (t_close < days) & has_account
    acc = np.maximum(account, 0)
    per_account = np.bincount(acc[won & in_window], minlength=n_accounts).astype(float)
    treated = block.group == -1
    out = np.zeros((len(holdout.channels), len(STATS)))
    for k, c in enumerate(holdout.channels):  # one row per test
        held = block.group == k
        # the accounts the readout scales to: those that kept the channel (the test applied)
        # or every account (the shipped world is the one without the test)
        kept_accounts = ~held if holdout.applied else np.ones_like(held)
        # what the channel really adds in the window, over those accounts
        lift = np.where(exposed[:, c], CHANNEL_LIFT[c], 0.0)
        gain = sigmoid(logit) - sigmoid(logit - lift)
        counted = in_window & kept_accounts[acc]
        out[k] = (
            treated.sum(),
            per_account[treated].sum(),
            (per_account[treated] ** 2).sum(),
            held.sum(),
            per_account[held].sum(),
            (per_account[held] ** 2).sum(),
            kept_accounts.sum(),
            gain[counted].sum(),
            (block.removed & (channel == c)).sum(),
        )
    return out


def results(holdout: Holdout, stats: np.ndarray, params: Params) -> list[dict[str, Any]]:
    """The readout of each test from the world's summed statistics (``truth.json``'s
    ``experiments``)."""
    start = params.start.date()
    rows = []
    for k, c in enumerate(holdout.channels):
        s = dict(zip(STATS, stats[k].tolist(), strict=True))
        n_t, n_h, n_kept = s["treated_accounts"], s["holdout_accounts"], s["kept_accounts"]
        r_t = s["treated_conversions"] / n_t if n_t else float("nan")
        r_h = s["holdout_conversions"] / n_h if n_h else float("nan")
        var_t = (s["treated_sq"] - n_t * r_t**2) / (n_t - 1) if n_t > 1 else float("nan")
        var_h = (s["holdout_sq"] - n_h * r_h**2) / (n_h - 1) if n_h > 1 else float("nan")
        se = n_kept * float(np.sqrt(var_t / n_t + var_h / n_h)) if n_t and n_h else float("nan")
        rows.append(
            {
                "channel": TRACKED_CHANNELS[c],
                "test_type": "account_holdout",
                "holdout_share": holdout.share,
                "holdout_start": (start + timedelta(days=holdout.start_day)).isoformat(),
                "start": (start + timedelta(days=holdout.readout_day)).isoformat(),
                "end": (start + timedelta(days=params.days - 1)).isoformat(),
                "treated_accounts": int(n_t),
                "holdout_accounts": int(n_h),
                "scaled_to_accounts": int(n_kept),
                "applied": holdout.applied,
                "conversions_treated": int(s["treated_conversions"]),
                "conversions_holdout": int(s["holdout_conversions"]),
                "rate_treated": r_t,
                "rate_holdout": r_h,
                "incremental_conversions": (r_t - r_h) * n_kept,
                "standard_error": se,
                "true_incremental_conversions": s["true_incremental"],
            }
        )
    return rows


def experiments_table(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """``experiments.csv``: the columns of the experiments input table, then the readout's
    counts (extra columns a run ignores)."""
    columns = (
        "channel",
        "start",
        "end",
        "incremental_conversions",
        "standard_error",
        "test_type",
        "treated_accounts",
        "holdout_accounts",
        "conversions_treated",
        "conversions_holdout",
    )
    frame = pl.DataFrame([{c: r[c] for c in columns} for r in rows])
    return frame.with_columns(
        pl.col("incremental_conversions", "standard_error").round(3),
    )
