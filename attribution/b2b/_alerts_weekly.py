"""The alert tests by kind of weekly series: counts (volumes, touches), rates with their
counts, the sales cycle's mean log days, spend and costs per lead / MQL; each returns a long
frame of every (metric, channel, week) with its value, expected range, z and flags (the
rules are in :mod:`attribution.b2b._alerts`)."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from datetime import datetime, time, timedelta
from statistics import NormalDist

import numpy as np
import polars as pl

from attribution.b2b._alerts_series import ALL, as_read_for_alerts, matrix, spend_weekly
from attribution.b2b._alerts_settings import AlertSettings
from attribution.b2b._alerts_stats import (
    MIN_LOG_SD,
    MIN_SPEND_LOG_SD,
    count_z,
    level_test,
    rate_test,
    robust_mean,
)
from attribution.b2b._funnel_stages import days

__all__ = [
    "common_factor",
    "cost_series",
    "count_series",
    "mean_series",
    "monthly_threshold",
    "rate_series",
    "settling",
    "time_to_outcome",
]


def _frame(keys: pl.DataFrame, weeks: pl.Series, cols: dict[str, np.ndarray]) -> pl.DataFrame:
    """(series x week) arrays back to a long frame with the series keys."""
    s, t = next(iter(cols.values())).shape
    return pl.DataFrame(
        {
            "metric": np.repeat(keys.get_column("metric").to_numpy(), t),
            "channel": np.repeat(keys.get_column("channel").to_numpy(), t),
            "week": np.tile(weeks.to_numpy(), s),
            **{k: v.reshape(-1) for k, v in cols.items()},
        },
        nan_to_null=True,
    ).with_columns(pl.col("week").cast(pl.Date))


def _shift(a: np.ndarray) -> np.ndarray:
    """The previous week's value (NaN before the first week)."""
    return np.concatenate([np.full((a.shape[0], 1), np.nan), a[:, :-1]], axis=1)


def _level(
    keys: pl.DataFrame,
    weeks: pl.Series,
    value: np.ndarray,
    y: np.ndarray,
    y2: np.ndarray,
    e: np.ndarray | None,
    e2: np.ndarray | None,
    cfg: AlertSettings,
    offset: float,
    volume_ok: np.ndarray,
    provisional: np.ndarray | None = None,
    base: tuple[np.ndarray, np.ndarray] | None = None,
    floor: float = MIN_LOG_SD,
    thr: np.ndarray | None = None,
    window: tuple[int, int] | None = None,
    pool: np.ndarray | None = None,
    spread: tuple[np.ndarray, np.ndarray] | None = None,
) -> pl.DataFrame:
    """Level test on log values ``y = log(value + offset)``; ``e is None``: Poisson
    sampling variance from the expected count. With ``base`` (log values for one week and
    two, per series and week), ``y - base`` is what is tested, so the expected value moves
    with the base. ``thr``: per series, the z it must reach (default: the settings');
    ``window``: (trailing weeks, weeks of history needed) instead of the settings';
    ``pool``: the series whose spreads are pooled (see :func:`level_test`)."""
    zero = np.zeros_like(y)
    shift, shift2 = base if base is not None else (zero, zero)
    trailing, history = (cfg.trailing_weeks, cfg.min_history) if window is None else window
    first = level_test(y - shift, zero if e is None else e, y2 - shift2,
                       zero if e2 is None else e2, trailing=trailing, min_history=history,
                       trend=cfg.trend, floor=floor, pool=pool, prior=SPEND_PRIOR_MONTHS,
                       per_value=WEEKS_PER_MONTH, reject=None if pool is None else REJECT_Z,
                       centre_of="median" if pool is None else "mean",
                       spread=spread)  # fmt: skip
    if base is not None:
        first = replace(first, expected=first.expected + shift,
                        expected2=first.expected2 + shift2)  # fmt: skip
    test = first
    if e is None:  # counts: the sampling variance of a count is its expected value
        mu = np.exp(first.expected)
        test = level_test(y, 1.0 / np.maximum(mu, 0.5), y2, 1.0 / np.maximum(2 * mu, 0.5),
                          trailing=cfg.trailing_weeks, min_history=cfg.min_history,
                          trend=cfg.trend)  # fmt: skip
    thr = (_thresholds(keys, cfg) if thr is None else thr)[:, None]
    z, z2 = test.z, test.z2
    if e is None:
        mu = np.maximum(np.exp(test.expected) - offset, 0.5)
        mu2 = np.maximum(2 * (np.exp(test.expected2) - offset), 0.5)
        z = count_z(value, mu, test.excess)
        z2 = count_z(value + _shift(value), mu2, test.excess2)
        z, z2 = np.where(np.isnan(test.z), np.nan, z), np.where(np.isnan(test.z2), np.nan, z2)
    cols = {"value": value, "volume_ok": volume_ok.astype(float),
            "volume_ok2": volume_ok.astype(float),
            "threshold": np.broadcast_to(thr, y.shape).astype(float)}  # fmt: skip
    with np.errstate(over="ignore", invalid="ignore"):
        cols["value2"] = np.exp(y2) - offset
        for sfx, obs, exp, sd, score in (
            ("", y, test.expected, test.sd, z),
            ("2", y2, test.expected2, test.sd2, z2),
        ):
            cols[f"expected{sfx}"] = np.exp(exp) - offset
            cols[f"low{sfx}"] = np.maximum(np.exp(exp - thr * sd) - offset, 0.0)
            cols[f"high{sfx}"] = np.exp(exp + thr * sd) - offset
            cols[f"score{sfx}"] = score
            cols[f"change{sfx}"] = np.exp(obs - exp) - 1
    flag = np.zeros(y.shape, dtype=bool) if provisional is None else provisional
    return _frame(keys, weeks, cols).with_columns(
        pl.Series("provisional", np.broadcast_to(flag, y.shape).reshape(-1))
    )


def time_to_outcome(
    wide: pl.DataFrame, steps: list[str], horizon: dict[str, int], cfg: AlertSettings
) -> int:
    """The funnel's own settling time: the ``horizon_quantile`` of the days from the first
    step to the outcome (won or lost) of the entities that have one, in whole days, at least
    the longest step horizon and at most ``max_horizon_days``."""
    closed = pl.coalesce(pl.col(f"{steps[-1]}_at"), pl.col("_lost_at"))
    q = wide.select(
        days(closed - pl.col(f"{steps[0]}_at"))
        .filter(closed.is_not_null() & pl.col(f"{steps[0]}_at").is_not_null())
        .quantile(cfg.horizon_quantile, "higher")
    ).item()
    longest = max(horizon.values(), default=7)
    return int(min(max(longest, math.ceil(q) if q is not None else longest), cfg.max_horizon_days))


def settling(weeks: pl.Series, start: datetime, end: datetime, settle: int) -> np.ndarray:
    """Per week: within ``settle`` days of the data's first or last day."""
    first = (datetime.combine(weeks[0], time(0), tzinfo=end.tzinfo) - start).total_seconds()
    last = (end - datetime.combine(weeks[0], time(0), tzinfo=end.tzinfo)).total_seconds()
    starts = np.arange(weeks.len()) * 7.0
    day = 86_400.0
    out: np.ndarray = ((starts + first / day) < settle) | ((starts + 7.0) > last / day - settle)
    return out[None, :]


def _thresholds(keys: pl.DataFrame, cfg: AlertSettings) -> np.ndarray:
    return (
        keys.get_column("metric")
        .replace_strict(cfg.thresholds, default=cfg.threshold, return_dtype=pl.Float64)
        .to_numpy()
    )


def count_series(
    frame: pl.DataFrame, weeks: pl.Series, cfg: AlertSettings, settling: np.ndarray
) -> pl.DataFrame:
    m = matrix(frame, weeks, ["a"])
    x = m.values["a"]
    x2 = x + _shift(x)
    # settling weeks are provisional: no test, and no baseline
    y = np.where(settling, np.nan, np.log(x + 0.5))
    y2 = np.where(settling | _shift_bool(settling), np.nan, np.log(x2 / 2 + 0.5))
    base = level_test(y, np.zeros_like(y), y2, np.zeros_like(y), trailing=cfg.trailing_weeks,
                      min_history=cfg.min_history, trend=cfg.trend)  # fmt: skip
    volume_ok = np.exp(base.expected) - 0.5 >= cfg.min_volume
    return _level(m.keys, weeks, x, y, y2, None, None, cfg, 0.5, volume_ok, settling).with_columns(
        pl.lit("count").alias("stat")
    )


def mean_series(
    frame: pl.DataFrame, weeks: pl.Series, cfg: AlertSettings, settling: np.ndarray
) -> pl.DataFrame:
    m = matrix(frame, weeks, ["a", "b", "c"])
    mean, n, var = m.values["a"], m.values["b"], m.values["c"]
    has = (n > 0) & ~settling
    y = np.where(has, mean, np.nan)
    n2 = n + _shift(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        y2 = np.where(n2 > 0, (mean * n + np.nan_to_num(_shift(mean * n))) / n2, np.nan)
        e = np.where(has, var / n, np.nan)
        e2 = np.where(n2 > 0, (var * n + np.nan_to_num(_shift(var * n))) / n2 / n2, np.nan)
    value = np.where(has, np.exp(mean), np.nan)
    y2 = np.where(settling | _shift_bool(settling), np.nan, y2)
    out = _level(m.keys, weeks, value, y, y2, e, e2, cfg, 0.0, n >= cfg.min_deals, settling)
    return out.with_columns(
        pl.lit("mean").alias("stat"),
        pl.Series("volume_ok2", (n2 >= cfg.min_deals).astype(float).reshape(-1)),
        pl.Series("entrants", n.reshape(-1)),
    )


def rate_series(
    frame: pl.DataFrame,
    weeks: pl.Series,
    cfg: AlertSettings,
    horizon: dict[str, int],
    end: datetime,
) -> pl.DataFrame:
    m = matrix(frame, weeks, ["a", "b"])
    k, n = m.values["a"], m.values["b"]
    # a week is mature once its last entrant's horizon has passed by the end of the data
    days_left = (end - datetime.combine(weeks[0], time(0), tzinfo=end.tzinfo)).total_seconds()
    week_end = (np.arange(weeks.len()) + 1) * 7.0
    wait = np.array(
        [float(horizon.get(metric.split("_to_")[0], 0)) if "_to_" in metric else 0.0
         for metric in m.keys.get_column("metric").to_list()]
    )  # fmt: skip
    mature = week_end[None, :] + wait[:, None] <= days_left / 86_400.0
    test = rate_test(k, n, mature, trailing=cfg.trailing_weeks, min_history=cfg.min_history)
    thr = _thresholds(m.keys, cfg)[:, None]
    n2 = n + _shift(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, k / n, np.nan)
        cols = {
            "value": rate,
            "expected": test.expected,
            "low": np.clip(test.expected - thr * test.sd, 0, 1),
            "high": np.clip(test.expected + thr * test.sd, 0, 1),
            "score": test.z,
            "change": rate - test.expected,
            "value2": test.rate2,
            "expected2": test.expected,
            "low2": np.clip(test.expected - thr * test.sd2, 0, 1),
            "high2": np.clip(test.expected + thr * test.sd2, 0, 1),
            "score2": test.z2,
            "change2": test.rate2 - test.expected,
            "volume_ok": (n >= max(cfg.min_entrants, 1)).astype(float),
            "volume_ok2": ((n2 >= max(cfg.min_entrants, 1)) & _shift_bool(mature)).astype(float),
            "entrants": n,
            "entrants2": n2,
            "threshold": np.broadcast_to(thr, k.shape).astype(float),
        }
    return _frame(m.keys, weeks, cols).with_columns(
        pl.Series("provisional", ~mature.reshape(-1)), pl.lit("rate").alias("stat")
    )


def _shift_bool(a: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros((a.shape[0], 1), dtype=bool), a[:, :-1]], axis=1)


#: A spend table by month has one value a month: its weekly series repeats it, so its spread
#: is learnt from a handful of months and pooled with the other channels' (a prior worth
#: this many months), against this many weeks of history.
SPEND_PRIOR_MONTHS = 12.0
WEEKS_PER_MONTH = 52.0 / 12.0
#: A spend series' spread is learnt twice: the second time without the weeks beyond this
#: many spreads of the first, so a changed month (four or five weeks of one value, or two
#: months) does not widen the yardstick it is measured by.
REJECT_Z = 2.0
#: Channels up to which a channel's common factor leaves the channel itself out (beyond,
#: one channel moves the median of all of them little; the leave-one-out array grows as
#: channels squared).
MAX_LEAVE_ONE_OUT = 64


def monthly_threshold(threshold: float) -> float:
    """The z a series that moves once a month must reach to get, a year, the chances of a
    false alert a weekly series gets at ``threshold``: a weekly series is tested twice a
    week (the week, and the two weeks pooled), 104 times a year, one that moves monthly 12
    times; so its one-sided tail may be 104 / 12 times the weekly one (3.5 -> 2.88)."""
    nd = NormalDist()
    p = (1.0 - nd.cdf(threshold)) * 2.0 * 52.0 / 12.0
    return float(nd.inv_cdf(1.0 - min(p, 0.5)))


def common_factor(y: np.ndarray, overall: np.ndarray) -> np.ndarray:
    """Per channel series and week, the move every other channel's spend shares: the
    robust mean (:func:`~attribution.b2b._alerts_stats.robust_mean`) over the other
    channels (leave one out, the overall series not counted) of their log spend less their
    own median level. A season or a budget cycle most channels follow is in it; one
    channel's own swing (an events calendar) or spike is not (values far from the other
    channels' median are left out), and a channel's spike never moves its own factor (with
    up to :data:`MAX_LEAVE_ONE_OUT` channels; more, and the robust mean of all). A robust
    mean rather than the median: each channel's month carries its own noise, and the
    factor's noise is part of every test's. NaN where no other channel has a value."""
    channels = y[~overall]
    centred = channels - _nanmedian_rows(channels)[:, None]
    c = centred.shape[0]
    out = np.full(y.shape, np.nan)
    if c < 2:
        return out
    with warnings.catch_warnings():  # a week no other channel covers
        warnings.simplefilter("ignore", RuntimeWarning)
        if c > MAX_LEAVE_ONE_OUT:
            out[~overall] = robust_mean(centred, 0)[None, :]
            return out
        others = np.broadcast_to(centred, (c, *centred.shape)).copy()  # channel, other, week
        others[np.arange(c), np.arange(c), :] = np.nan
        out[~overall] = robust_mean(others, 1)
    return out


def _nanmedian_rows(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out: np.ndarray = np.nanmedian(a, axis=1)
    return out


def _monthly_variance(amounts: pl.DataFrame, shape: tuple[int, ...]) -> np.ndarray:
    """Per spend series and week, the variance (log scale) the spend-by-month test allows
    a month: its spread; where it has no baseline yet, the series' median spread (0 with
    none)."""
    sd = (
        amounts.select(
            ((pl.col("high") + 1.0).log() - (pl.col("expected") + 1.0).log()) / pl.col("threshold")
        )
        .to_series()
        .fill_null(float("nan"))
        .to_numpy()
        .reshape(shape)
    )
    with warnings.catch_warnings():  # a series without any baseline
        warnings.simplefilter("ignore", RuntimeWarning)
        typical = np.nanmedian(sd, axis=1, keepdims=True)
    out: np.ndarray = np.nan_to_num(np.where(np.isnan(sd), typical, sd), nan=0.0) ** 2
    return out


def _own_months(
    keys: pl.DataFrame,
    weeks: pl.Series,
    x: np.ndarray,
    y: np.ndarray,
    y2: np.ndarray,
    cfg: AlertSettings,
    funded: np.ndarray,
    read_monthly: np.ndarray,
    inside: np.ndarray,
) -> pl.DataFrame:
    """The spend test of the channels whose rows are by month inside a daily table
    (``read_monthly``; new-user report 16, M2): their weekly series is each month spread over
    its days, so each is tested as a spend table by month is, against its own months alone
    (no other channel's move: the daily channels move by the week), its spread pooled with
    the other such channels', at :func:`monthly_threshold`, over
    ``max(trailing_weeks, spend_trailing_weeks)`` weeks, no two-week pooling. The other
    series' rows are returned untested (``volume_ok`` 0)."""
    thr = np.array([monthly_threshold(t) for t in _thresholds(keys, cfg)])
    trailing = max(cfg.trailing_weeks, cfg.spend_trailing_weeks)
    window = (trailing, max(cfg.min_history, trailing // 3))
    zero = np.zeros_like(y)
    tested = funded & read_monthly[:, None]
    return _level(keys, weeks, np.where(inside, x, np.nan), y, y2, zero, zero, cfg, 1.0,
                  tested, None, None, MIN_SPEND_LOG_SD, thr, window,
                  read_monthly).with_columns(pl.lit(0.0).alias("volume_ok2"))  # fmt: skip


def cost_series(
    spend: pl.DataFrame,
    counts: pl.DataFrame,
    steps: list[str],
    weeks: pl.Series,
    cfg: AlertSettings,
    settling: np.ndarray,
) -> list[pl.DataFrame]:
    spend, by_month = as_read_for_alerts(spend)  # monthly rows in a daily table (report 16)
    weekly, (lo, hi) = spend_weekly(spend, by_month)
    funded = weekly.group_by("channel").agg(pl.col("a").sum()).filter(pl.col("a") > 0)
    weekly = weekly.join(funded.select("channel"), on="channel")
    covered = (weeks >= lo) & (weeks + timedelta(days=6) <= hi)
    inside = covered.to_numpy()[None, :]
    m = matrix(weekly, weeks, ["a"])
    x = m.values["a"]
    x2 = x + _shift(x)
    y = np.where(inside, np.log(x + 1.0), np.nan)
    y2 = np.where(
        inside & _shift_bool(np.broadcast_to(inside, x.shape)), np.log(x2 / 2 + 1.0), np.nan
    )
    own = level_test(y, np.zeros_like(y), y2, np.zeros_like(y), trailing=cfg.trailing_weeks,
                     min_history=cfg.min_history, trend=cfg.trend)  # fmt: skip
    funded_ok = np.exp(own.expected) - 1 >= cfg.min_spend
    read_monthly = m.keys.get_column("channel").is_in(by_month).to_numpy()
    ok = funded_ok & ~read_monthly[:, None]  # a channel by month: its months' test below
    overall = (m.keys.get_column("channel") == ALL).to_numpy()
    base = (  # a channel against the move the other channels share; overall on its own
        np.where(overall[:, None], 0.0, common_factor(y, overall)),
        np.where(overall[:, None], 0.0, common_factor(y2, overall)),
    )
    thr, window, pool = None, None, None
    monthly = "date" not in spend.columns
    if monthly:  # one value a month: months of baseline, the other channels' spread, a
        # month's share of the false-alert chances, and no two-week pooling (no new value)
        thr = np.array([monthly_threshold(t) for t in _thresholds(m.keys, cfg)])
        trailing = max(cfg.trailing_weeks, cfg.spend_trailing_weeks)
        window, pool = (trailing, max(cfg.min_history, trailing // 3)), ~overall
    amounts = _level(m.keys, weeks, np.where(inside, x, np.nan), y, y2, np.zeros_like(y),
                     np.zeros_like(y), cfg, 1.0, ok, None, base, MIN_SPEND_LOG_SD, thr, window,
                     pool).with_columns(pl.lit("amount").alias("stat"))  # fmt: skip
    spend_var = np.zeros_like(x)
    if monthly:
        amounts = amounts.with_columns(pl.lit(0.0).alias("volume_ok2"))
        spend_var = _monthly_variance(amounts, x.shape)
    elif by_month:  # its months against its own months, as a table by month is tested
        months = _own_months(m.keys, weeks, x, y, y2, cfg, funded_ok, read_monthly, inside)
        amounts = amounts.with_columns(
            pl.when(pl.Series(np.repeat(read_monthly, len(weeks))))
            .then(months.get_column(c))
            .otherwise(pl.col(c))
            .alias(c)
            for c in amounts.columns
            if c not in ("metric", "channel", "week", "stat")
        )
    parts = [amounts]
    channel_row = {c: i for i, c in enumerate(m.keys.get_column("channel").to_list())}
    for stage in steps[:2]:
        ratio = weekly.join(
            counts.filter(pl.col("metric") == f"{stage}_volume").select(
                "channel", "week", pl.col("a").alias("b")
            ),
            on=["channel", "week"],
            how="left",
        ).with_columns(pl.lit(f"cost_per_{stage}").alias("metric"), pl.col("b").fill_null(0.0))
        r = matrix(ratio, weeks, ["a", "b"])
        s, c = r.values["a"], r.values["b"]
        s2, c2 = s + _shift(s), c + _shift(c)
        with np.errstate(divide="ignore", invalid="ignore"):
            live = inside & ~settling
            yr = np.where(live & (c > 0) & (s > 0), np.log(s / c), np.nan)
            yr2 = np.where(live & _shift_bool(np.broadcast_to(live, c.shape)) & (c2 > 0) & (s2 > 0),
                           np.log(s2 / c2), np.nan)  # fmt: skip
            er, er2 = 1.0 / np.maximum(c, 1.0), 1.0 / np.maximum(c2, 1.0)
        parted = None
        if monthly:  # the spend part moves once a month, the count part every week: each
            # judged by its own test's spread (their errors taken as independent), as the
            # ratio's weekly errors (three weeks in four with the spend unchanged) would
            # understate the spend's moves and call every ordinary budget month a spike
            rows = [channel_row.get(ch, -1) for ch in r.keys.get_column("channel").to_list()]
            v = np.where(np.array(rows)[:, None] >= 0, spend_var[rows], np.nan)
            with np.errstate(divide="ignore", invalid="ignore"):
                yc = np.where(live, np.log(c + 0.5), np.nan)
                yc2 = np.where(live & _shift_bool(np.broadcast_to(live, c.shape)),
                               np.log(c2 / 2 + 0.5), np.nan)  # fmt: skip
            part = level_test(yc, er, yc2, er2, trailing=cfg.trailing_weeks,
                              min_history=cfg.min_history, trend=cfg.trend)  # fmt: skip
            parted = (np.sqrt(part.sd**2 + v), np.sqrt(part.sd2**2 + v))
        weekly_read = ~r.keys.get_column("channel").is_in(by_month).to_numpy()[:, None]
        ok_r = (c >= cfg.min_volume / 2) & weekly_read
        parts.append(
            _level(
                r.keys,
                weeks,
                s / np.where(c > 0, c, np.nan),
                yr,
                yr2,
                er,
                er2,
                cfg,
                0.0,
                ok_r,
                settling,
                spread=parted,
            ).with_columns(  # fmt: skip
                pl.lit("ratio").alias("stat"),
                pl.Series("volume_ok2",
                          ((c2 >= cfg.min_volume) & weekly_read).astype(float).reshape(-1)),
                pl.Series("entrants", c.reshape(-1)),
            )
        )
    return parts
