"""The parameters of one synthetic world, checked, and what is calibrated from them.

The stage intercepts are solved so each stage's share of contacts meets its target for the
requested ``conversion_rate``; the mean media cost of each touch type is set so the touches'
costs add up to about the media part of the spend table. Both come from one fixed calibration
sample of blocks, drawn from fixed entropy: they depend on ``conversion_rate`` only, never on
``seed``, ``start`` or ``days``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import numpy as np

from attribution.datasets._block import draw_exposures
from attribution.datasets._holdout import Holdout
from attribution.datasets._world import (
    BLOCK_TOUCHES,
    CALIBRATION_BLOCKS,
    CALIBRATION_ENTROPY,
    CHANNEL_BUDGET,
    CONTACTS_PER_ACCOUNT,
    MEDIA_SHARE,
    PAID_PER_TOUCH,
    TOUCH_TYPES,
    TOUCHES_PER_CONTACT,
    TRACKED_CHANNELS,
    TYPE_GROUP,
    sigmoid,
    stage_targets,
)


@dataclass(frozen=True)
class Params:
    """A world's checked parameters, with its calibrated intercepts and touch-type costs."""

    seed: int
    n_touches: int
    start_us: int
    start: datetime
    days: int
    conversion_rate: float
    thresholds: np.ndarray  # logit intercepts for lead, mql, sql, opportunity, closed_won
    type_cost: np.ndarray  # mean media cost of a touch, per touch-type row (see type_cost)
    holdout: Holdout | None = None  # account-holdout tests simulated on the world


def make_params(
    n_touches: int,
    seed: int,
    start: str,
    days: int,
    conversion_rate: float,
    holdout: Sequence[str] = (),
    holdout_share: float = 0.25,
    holdout_applied: bool = True,
) -> Params:
    """Check the arguments of :func:`synthesize` / :func:`write_synthetic` (``ValueError``
    naming the argument) and calibrate."""
    if isinstance(n_touches, bool) or not isinstance(n_touches, int | np.integer) or n_touches < 1:
        raise ValueError(f"n_touches must be a positive int. Got {n_touches!r} instead.")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int. Got {seed!r} instead.")
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 30:
        raise ValueError(f"days must be an int >= 30. Got {days!r} instead.")
    rate = float(conversion_rate)
    if not 0.0 < rate <= 0.5:
        raise ValueError(f"conversion_rate must be in (0, 0.5]. Got {conversion_rate!r} instead.")
    try:
        when = datetime.fromisoformat(str(start))
    except ValueError as exc:
        raise ValueError(f"start must be an ISO 8601 date or datetime. Got {start!r}.") from exc
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    start_us = round(when.timestamp() * 1_000_000)
    return Params(
        seed=int(seed),
        n_touches=int(n_touches),
        start_us=start_us,
        start=when,
        days=int(days),
        conversion_rate=rate,
        thresholds=calibrate(rate),
        type_cost=type_cost(),
        holdout=Holdout.of(tuple(holdout), holdout_share, int(days), holdout_applied),
    )


@lru_cache(maxsize=1)
def calibration_sample() -> tuple[np.ndarray, np.ndarray]:
    """Conversion logits of a fixed sample of contacts, and its share of touches per channel.

    Neither depends on ``seed``, ``start`` or ``days``: they are drawn once, from fixed
    entropy, and shared by every call.
    """
    etas, counts = [], np.zeros(len(TRACKED_CHANNELS), dtype=np.int64)
    for i in range(CALIBRATION_BLOCKS):
        rng = np.random.default_rng([*CALIBRATION_ENTROPY, i])
        _, _, journeys, eta = draw_exposures(rng, BLOCK_TOUCHES)
        etas.append(eta)
        counts += np.bincount(journeys.channel, minlength=len(TRACKED_CHANNELS))
    return np.concatenate(etas), counts / counts.sum()


@lru_cache(maxsize=32)
def calibrate(conversion_rate: float) -> np.ndarray:
    """Intercepts b_k with mean(sigmoid(b_k + eta)) equal to each stage's target share.

    Solved by bisection on expected rates (not draws) over the calibration sample.
    """
    eta, _ = calibration_sample()
    targets = stage_targets(conversion_rate)
    lo = np.full(targets.size, -30.0)
    hi = np.full(targets.size, 30.0)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        rate = sigmoid(mid[:, None] + eta[None, :]).mean(axis=1)
        too_high = rate > targets
        hi = np.where(too_high, mid, hi)
        lo = np.where(too_high, lo, mid)
    intercepts: np.ndarray = 0.5 * (lo + hi)
    return intercepts


@lru_cache(maxsize=1)
def type_cost() -> np.ndarray:
    """Mean media cost of a touch for each touch-type row.

    A channel's media budget per account, divided by its expected touches per account (from
    the calibration sample), so the touches' ``cost`` adds up to about the media part of
    the spend table (the rest of the spend is fees and tools, with no campaign).
    """
    _, share = calibration_sample()
    per_channel = (
        MEDIA_SHARE
        * CHANNEL_BUDGET
        / (CONTACTS_PER_ACCOUNT * TOUCHES_PER_CONTACT * np.maximum(share, 1e-9))
        * PAID_PER_TOUCH
    )
    probs = np.array([t[2] for t in TOUCH_TYPES])
    mult = np.array([t[3] for t in TOUCH_TYPES])
    mean_mult = np.bincount(TYPE_GROUP, weights=probs * mult, minlength=len(TRACKED_CHANNELS))
    norm = np.where(mean_mult > 0, mean_mult, 1.0)
    return np.asarray(per_channel[TYPE_GROUP] * mult / norm[TYPE_GROUP])
