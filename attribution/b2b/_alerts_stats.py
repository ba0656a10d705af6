"""The statistics of the alerts, over a (series x week) matrix at once.

Two tests, each run on one week and on the last two weeks pooled, against a baseline of the
``trailing`` weeks before them with a one-week guard (week ``t`` is judged against weeks
``t - 1 - trailing .. t - 2``, so a change that starts in week ``t - 1`` is not yet in the
baseline of week ``t``):

- :func:`level_test`, for volumes, amounts, ratios of them and mean durations, on the log
  scale: the expected value is the median of the baseline weeks (with ``trend``, their
  Theil-Sen slope carried forward from that level); the spread is the series' own robust
  spread of those prediction errors (1.4826 x their median absolute deviation), of which the
  part a count's sampling noise explains is replaced week by week by that week's own
  sampling variance (``1 / count``), so a week of 20 is judged noisier than a week of 2,000;
  counts are then scored by their Poisson deviance (:func:`count_z`). Spend by month
  shrinks each channel's spread toward the other channels' (``pool``), learns it again
  without the errors far beyond it (``reject``: a changed month repeats one value for four
  or five weeks, and would otherwise widen its own yardstick), and takes the baseline's
  robust mean rather than its median (:func:`robust_mean`: a few months of history).
- :func:`rate_test`, for rates with their counts (``k`` of ``n``): beta-binomial. The
  expected rate is the pooled rate of the baseline weeks; the variance of a week's rate is
  ``p (1 - p) / n x (1 + (n - 1) rho)`` plus that of the pooled rate, where ``rho`` (the
  week-to-week over-dispersion, 0 for a pure binomial) is estimated robustly from the
  median squared binomial z of the series' weeks; two weeks pooled are two such weeks
  (their entrant-weighted mean), so pooling halves the over-dispersion's variance too.

Nothing loops over weeks or series in Python: the windows are NumPy sliding views.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "MIN_SPEND_LOG_SD",
    "LevelTest",
    "RateTest",
    "count_z",
    "level_test",
    "rate_test",
    "robust_mean",
    "truncated_mad",
    "windows",
]

_MAD_TO_SD = 1.4826
#: A floor on a level series' spread (log scale): a zero spread would make any change
#: infinitely significant.
MIN_LOG_SD = 0.02
#: The floor for spend: a budget spread evenly over a month repeats one value for four or
#: five weeks, so a channel's own weeks may understate how much its months move; with the
#: spread pooled over the channels (see :func:`level_test`) a small floor is enough.
MIN_SPEND_LOG_SD = 0.05

GUARD = 1
_CHI2_1_MEDIAN = 0.454936


def windows(a: np.ndarray, k: int, guard: int = GUARD) -> np.ndarray:
    """For each week ``t`` the ``k`` values ``a[:, t - guard - k : t - guard]`` (NaN before
    the first week): shape ``(series, weeks, k)``, a view."""
    s, _ = a.shape
    padded = np.concatenate([np.full((s, k + guard), np.nan), a], axis=1)
    view: np.ndarray = sliding_window_view(padded, k, axis=1)[:, : a.shape[1], :]
    return view


def _nanmedian(a: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():  # an all-NaN window is a week without a baseline
        warnings.simplefilter("ignore", RuntimeWarning)
        out: np.ndarray = np.nanmedian(a, axis=axis)
    return out


def robust_mean(a: np.ndarray, axis: int, k: float = 2.5) -> np.ndarray:
    """A one-step robust mean along ``axis``, NaN left out: the mean of the values within
    ``k`` robust spreads (1.4826 x the median absolute deviation) of their median. Fewer
    than half the values may be anything without taking it outside the others' range, as
    with a median (values equal to the median, when more than half are, give the median
    exactly); on normal noise it is nearly as precise as the mean, where a median of a few
    values has about 1.5 times the mean's variance. NaN with no value."""
    with warnings.catch_warnings():  # all NaN: no value
        warnings.simplefilter("ignore", RuntimeWarning)
        centre = np.nanmedian(a, axis=axis, keepdims=True)
        dev = np.abs(a - centre)
        reach = k * _MAD_TO_SD * np.nanmedian(dev, axis=axis, keepdims=True)
        keep = dev <= reach
        total = np.sum(np.where(keep, a, 0.0), axis=axis)
        count = np.sum(keep, axis=axis)
        out: np.ndarray = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out


@dataclass(frozen=True)
class LevelTest:
    """Per (series, week), on the log scale: the prediction ``expected`` for the week and
    ``expected2`` for the two weeks pooled, their standard deviations ``sd`` and ``sd2``,
    the z-scores ``z`` and ``z2`` (NaN where there is no baseline or no value)."""

    expected: np.ndarray
    sd: np.ndarray
    z: np.ndarray
    expected2: np.ndarray
    sd2: np.ndarray
    z2: np.ndarray
    excess: np.ndarray
    excess2: np.ndarray


def _trend(
    y: np.ndarray, k: int, min_history: int, trend: bool, centre_of: str = "median"
) -> tuple[np.ndarray, np.ndarray, float]:
    """Level at the baseline window's centre (its median, or with ``centre_of="mean"`` its
    robust mean, :func:`robust_mean`) and slope per week (Theil-Sen), per week."""
    w = windows(y, k)
    n = np.sum(~np.isnan(w), axis=2)
    pos = np.arange(k, dtype=float)
    centre = (k - 1) / 2.0
    if trend:
        i, j = np.triu_indices(k, 1)
        slopes = (w[:, :, j] - w[:, :, i]) / (j - i).astype(float)
        slope = _nanmedian(slopes, axis=2)
        slope = np.where(np.isnan(slope), 0.0, slope)
    else:
        slope = np.zeros(y.shape, dtype=float)
    detrended = w - slope[:, :, None] * (pos - centre)
    level = robust_mean(detrended, 2) if centre_of == "mean" else _nanmedian(detrended, axis=2)
    level = np.where(n >= min_history, level, np.nan)
    return level, slope, centre


def level_test(
    y: np.ndarray,
    e: np.ndarray,
    y2: np.ndarray,
    e2: np.ndarray,
    *,
    trailing: int,
    min_history: int,
    trend: bool = True,
    floor: float = MIN_LOG_SD,
    pool: np.ndarray | None = None,
    prior: float = 0.0,
    per_value: float = 1.0,
    reject: float | None = None,
    centre_of: str = "median",
    spread: tuple[np.ndarray, np.ndarray] | None = None,
) -> LevelTest:
    """Test the log values ``y`` (NaN: no value, or a week that may not enter a baseline)
    with sampling variances ``e`` (0 for amounts), and the two-week pooled ``y2`` / ``e2``
    (see the module docstring); ``floor``: the least spread a series is given. With
    ``pool`` (a mask of series) and ``prior`` > 0, each pooled series' spread is shrunk
    toward the median spread of the pool: its own variance weighted by its residuals
    counted in units of ``per_value`` weeks (a monthly series: months), the pool's by
    ``prior``; a series with a spread of its own far above the pool's keeps most of it.
    ``reject``: the spread is learnt again without the errors beyond ``reject`` times the
    first spread, corrected for the cut (:func:`truncated_mad`), so the changes a test is
    meant to find do not widen its yardstick.
    ``centre_of``: the baseline's level, its ``"median"`` or robust ``"mean"``.
    ``spread``: per (series, week), the spreads of one week and of two to use instead of
    the learnt ones where they are finite (a value whose parts are judged apart)."""
    level, slope, centre = _trend(y, trailing, min_history, trend, centre_of)
    # distance from the window's centre to week t (and to week t - 1)
    ahead = GUARD + trailing - centre
    expected = level + slope * ahead
    expected2 = level + slope * (ahead - 0.5)
    sd, excess = _spread(y - expected, e, floor, pool, prior, per_value, reject)
    sd2, excess2 = _spread(y2 - expected2, e2, floor, pool, prior, per_value, reject)
    if spread is not None:
        sd = np.where(np.isfinite(spread[0]), spread[0], sd)
        sd2 = np.where(np.isfinite(spread[1]), spread[1], sd2)
    return LevelTest(
        expected=expected,
        sd=sd,
        z=(y - expected) / sd,
        expected2=expected2,
        sd2=sd2,
        z2=(y2 - expected2) / sd2,
        excess=excess,
        excess2=excess2,
    )


def count_z(x: np.ndarray, mu: np.ndarray, excess: np.ndarray) -> np.ndarray:
    """z of a count ``x`` against its expected value ``mu``: the Poisson deviance residual
    (close to the exact tail even for small counts, where a log-scale z overstates drops),
    scaled for the series' extra-Poisson variance ``excess`` (log scale: a variance of
    ``mu + excess x mu^2``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(x > 0, x * np.log(x / mu), 0.0)
        dev = np.sign(x - mu) * np.sqrt(np.maximum(2.0 * (ratio - (x - mu)), 0.0))
        out: np.ndarray = dev / np.sqrt(1.0 + excess[:, None] * mu)
    return out


def truncated_mad(k: float) -> float:
    """The median absolute deviation of a standard normal cut at ``+-k`` (0.6745 uncut):
    the spread learnt again without the errors beyond ``k`` spreads is divided by it, so
    on normal noise the cut does not shrink it."""
    nd = NormalDist()
    return float(nd.inv_cdf(0.5 + (nd.cdf(k) - 0.5) / 2.0))


def _spread(
    resid: np.ndarray,
    e: np.ndarray,
    floor: float = MIN_LOG_SD,
    pool: np.ndarray | None = None,
    prior: float = 0.0,
    per_value: float = 1.0,
    reject: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per (series, week): the series' robust spread of prediction errors (shrunk toward the
    ``pool``'s, see :func:`level_test`), with the typical sampling variance replaced by the
    week's own; and per series the excess variance."""
    ok = ~np.isnan(resid)
    size = np.abs(np.where(ok, resid, np.nan))
    scale = _MAD_TO_SD * _nanmedian(size, axis=1)
    if reject is not None:  # the weeks far out are what is tested, not the yardstick
        with np.errstate(invalid="ignore"):
            ok = ok & (size <= reject * scale[:, None])
        kept = _nanmedian(np.where(ok, size, np.nan), axis=1) / truncated_mad(reject)
        scale = np.where(np.isfinite(kept), kept, scale)
    if pool is not None and prior > 0 and np.isfinite(scale[pool]).any():
        pooled = float(_nanmedian(scale[pool], axis=0))
        k = ok.sum(axis=1) / per_value
        mixed = np.sqrt((k * np.nan_to_num(scale) ** 2 + prior * pooled**2) / (k + prior))
        scale = np.where(pool & (k > 0), mixed, scale)
    typical = _nanmedian(np.where(ok, e, np.nan), axis=1)
    excess = np.maximum(np.nan_to_num(scale**2 - typical, nan=0.0), 0.0)
    out: np.ndarray = np.sqrt(np.maximum(excess[:, None] + e, floor**2))
    return out, excess


@dataclass(frozen=True)
class RateTest:
    """Per (series, week): the baseline rate ``expected``, the standard deviations of the
    week's rate ``sd`` and of the two weeks pooled ``sd2``, the z-scores ``z`` and ``z2``,
    and the two-week pooled rate ``rate2``."""

    expected: np.ndarray
    sd: np.ndarray
    z: np.ndarray
    rate2: np.ndarray
    sd2: np.ndarray
    z2: np.ndarray


def rate_test(
    k: np.ndarray, n: np.ndarray, mature: np.ndarray, *, trailing: int, min_history: int
) -> RateTest:
    """Beta-binomial test of ``k`` advanced of ``n`` entrants per (series, week); only
    ``mature`` weeks with entrants enter a baseline (see the module docstring)."""
    use = mature & (n > 0)
    kb = np.where(use, k, np.nan)
    nb = np.where(use, n, np.nan)
    wk, wn = windows(kb, trailing), windows(nb, trailing)
    weeks = np.sum(~np.isnan(wn), axis=2)
    k_sum, n_sum = np.nansum(wk, axis=2), np.nansum(wn, axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p0 = np.where((weeks >= min_history) & (n_sum > 0), k_sum / n_sum, np.nan)
        rho = _over_dispersion(kb / nb, nb, p0, n_sum)
        base_var = p0 * (1 - p0) / n_sum * (1 + (n_sum / weeks - 1) * rho[:, None])

        def week_var(entrants: np.ndarray) -> np.ndarray:
            """A week's rate's variance about the true rate (0 without entrants)."""
            out: np.ndarray = np.where(
                entrants > 0,
                p0 * (1 - p0) / entrants * (1 + (entrants - 1) * rho[:, None]),
                0.0,
            )
            return out

        rate = np.where(n > 0, k / n, np.nan)
        sd = np.sqrt(week_var(n) + base_var)
        prev_k = np.concatenate([np.zeros((k.shape[0], 1)), k[:, :-1]], axis=1)
        prev_n = np.concatenate([np.zeros((n.shape[0], 1)), n[:, :-1]], axis=1)
        k2, n2 = k + prev_k, n + prev_n
        rate2 = np.where(n2 > 0, k2 / n2, np.nan)
        # a pooled week needs both weeks: the first week of the data has no partner
        rate2[:, 0] = np.nan
        # two weeks pooled are two clusters, each with its own week-to-week deviation:
        # the entrant-weighted mean of two independent weeks' rates, not one week of n2
        pooled_var = (n**2 * week_var(n) + prev_n**2 * week_var(prev_n)) / n2**2
        sd2 = np.sqrt(pooled_var + base_var)
        z = np.where(sd > 0, (rate - p0) / sd, np.nan)
        z2 = np.where(sd2 > 0, (rate2 - p0) / sd2, np.nan)
    return RateTest(expected=p0, sd=sd, z=z, rate2=rate2, sd2=sd2, z2=z2)


def _over_dispersion(rate: np.ndarray, n: np.ndarray, p0: np.ndarray, n0: np.ndarray) -> np.ndarray:
    """Beta-binomial intra-week correlation per series, robustly: the median squared
    binomial z of its mature weeks against their baselines over the median of a chi-square
    with one degree of freedom (0.4549) estimates the dispersion ``phi``; ``rho = (phi - 1)
    / (n - 1)`` at the series' median entrants, clipped to [0, 1]; 0 with under 8 weeks."""
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a series without a tested week
        var = p0 * (1 - p0) * (1 / n + 1 / n0)
        z2 = (rate - p0) ** 2 / var
        ok = np.isfinite(z2)
        phi = _nanmedian(np.where(ok, z2, np.nan), axis=1) / _CHI2_1_MEDIAN
        mean_n = _nanmedian(np.where(ok, n, np.nan), axis=1)
        rho = (phi - 1) / (mean_n - 1)
    rho = np.where((ok.sum(axis=1) >= 8) & np.isfinite(rho), rho, 0.0)
    out: np.ndarray = np.clip(rho, 0.0, 1.0)
    return out
