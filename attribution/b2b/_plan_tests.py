"""Go / no-go for channel tests: the readout of each ``[tests.<channel>]`` of a plan at its
monthly checkpoints, and the call at the end of its validation window.

Method (also written to ``tests.json``):

- **The test's cohort**: the MQLs the channel sourced (the channel of the contact's first
  touch, as the funnel's channel rows) whose MQL date falls in the window, from
  ``start`` to ``start + validation_days``. At a checkpoint, what the cohort did before the
  checkpoint's day counts: MQLs so far, SQLs among them (MQL quality: the MQL -> SQL rate),
  customers (reached closed won). Spend = the channel's spend from ``start`` to the day
  before the checkpoint (monthly amounts spread evenly over their days). When the spend
  table does not cover those days (its first day is after ``start``, or its last before the
  checkpoint's eve), the spend, cost per MQL and CAC are not measured (null, ``no data``):
  a window the spend table does not reach is not a window without spend.
- **Checkpoints**: each month after ``start`` (same day of the month) before the window
  ends, then the window's end; only those on or before the data's last stage event.
- **Intervals** (90%, as the bootstrap's): counts (MQLs, customers) get the exact Poisson
  interval (Garwood: Gamma quantiles); rates (MQL -> SQL) the exact binomial one
  (Clopper-Pearson: Beta quantiles). Cost per MQL = spend / MQLs and CAC = spend /
  customers take their bounds from the count's (the spend is known). The MQL volume is
  projected to the whole window at the pace so far (MQLs x validation_days / days so far),
  with the count's interval scaled the same way.
- **Closed deals**: customers and CAC are read out only from the first checkpoint at least
  the data's median days from MQL to closed won after ``start`` (before that, no deal of the
  cohort has typically had time to close: ``too early``). They count deals won so far, so
  with deals still open CAC reads high; give a CAC target a window at least as long as the
  sales cycle (the readout states the median).
- **Against each target** (``cost_per_mql``, ``cac``: at most; ``mqls``: at least):
  ``met`` when the whole interval is on the target's side, ``missed`` when the whole
  interval is on the wrong side, else ``on track`` (the estimate meets it) or ``behind``;
  ``no data`` with neither spend nor MQLs yet.
  ``on_track`` = every target readable so far is met or on track (``too early`` does not
  count against it).
- **The rule** at the window's end: ``go`` when every target is met with its interval;
  ``no-go`` when any is missed beyond its interval; else ``extend`` (an interval straddles
  its target, or the CAC cannot be read yet). Earlier checkpoints say ``pending``, as does
  the last one when the data ends before the window does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from attribution.b2b._alerts_series import daily_spend
from attribution.b2b._funnel import DEFAULT_STEPS
from attribution.b2b._funnel_channels import sourced_channels
from attribution.b2b._funnel_stages import entities
from attribution.b2b._plan_file import Plan, read_plan
from attribution.b2b._plan_options import ChannelTest
from attribution.b2b._shared import jsonable, load_spend, load_stage_events, money, num, pct
from attribution.engine._files import RunFiles, write_json_atomic, write_parquet_atomic
from attribution.inputs._channels import check_channel_aliases, normalise_channels
from attribution.inputs._formats import resolve_formats
from attribution.typing import TableLike

__all__ = ["TEST_COLUMNS", "ChannelTests", "channel_tests", "poisson_interval", "rate_interval"]

#: the intervals' level: 5th to 95th percentile, as the bootstrap's
LEVEL = 0.90
_LO, _HI = (1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2

TEST_COLUMNS = (
    "channel",
    "start",
    "checkpoint",
    "day",
    "final",
    "spend",
    "mqls",
    "mqls_low",
    "mqls_high",
    "sqls",
    "mql_to_sql",
    "mql_to_sql_low",
    "mql_to_sql_high",
    "cost_per_mql",
    "cost_per_mql_low",
    "cost_per_mql_high",
    "projected_mqls",
    "projected_mqls_low",
    "projected_mqls_high",
    "customers",
    "customers_low",
    "customers_high",
    "cac",
    "cac_low",
    "cac_high",
    "target_cost_per_mql",
    "target_cac",
    "target_mqls",
    "cost_per_mql_status",
    "cac_status",
    "mqls_status",
    "on_track",
    "decision",
)


def poisson_interval(count: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval of a Poisson mean from observed counts.

    Examples
    --------
    >>> import numpy as np
    >>> low, high = poisson_interval(np.array([0, 10]))
    >>> [round(float(x), 2) for x in low], [round(float(x), 2) for x in high]
    ([0.0, 5.43], [3.0, 16.96])
    """
    from scipy import stats  # here: importing attribution does not load SciPy

    k = np.asarray(count, dtype=float)
    a = (1 - level) / 2
    low = np.where(k > 0, stats.gamma.ppf(a, np.maximum(k, 1e-12)), 0.0)
    high = stats.gamma.ppf(1 - a, k + 1)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def rate_interval(
    hits: np.ndarray, n: np.ndarray, level: float = LEVEL
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper-Pearson) interval of a binomial rate; NaN where ``n`` is 0.

    Examples
    --------
    >>> import numpy as np
    >>> low, high = rate_interval(np.array([0, 5]), np.array([10, 10]))
    >>> [round(float(x), 3) for x in low], [round(float(x), 3) for x in high]
    ([0.0, 0.222], [0.259, 0.778])
    """
    from scipy import stats

    x, m = np.asarray(hits, dtype=float), np.asarray(n, dtype=float)
    a = (1 - level) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x > 0, stats.beta.ppf(a, np.maximum(x, 1e-12), m - x + 1), 0.0)
        high = np.where(x < m, stats.beta.ppf(1 - a, x + 1, np.maximum(m - x, 1e-12)), 1.0)
    empty = m <= 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


@dataclass
class ChannelTests:
    """What :func:`channel_tests` returns.

    Attributes
    ----------
    table : pl.DataFrame
        One row per test and checkpoint: :data:`TEST_COLUMNS`.
    parameters : dict
        The tests as the plan gives them, the data's last day, the median days from MQL to
        closed won and the interval level.
    notes : dict
        The method, in parts.
    """

    table: pl.DataFrame
    parameters: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def write(self, directory: str | Path) -> Path:
        """Write ``tests.parquet`` and ``tests.json``."""
        out = Path(directory)
        write_parquet_atomic(out / RunFiles.TESTS, self.table)
        write_json_atomic(
            out / RunFiles.TESTS_JSON,
            jsonable({"parameters": self.parameters, "notes": self.notes, "calls": self.calls()}),
        )
        return out

    def calls(self) -> dict[str, str]:
        """Each test's latest call: ``go``, ``no-go``, ``extend`` or ``pending``."""
        last = self.table.group_by("channel", maintain_order=True).last()
        return dict(zip(last.get_column("channel"), last.get_column("decision"), strict=True))

    def summary(self) -> str:
        """One block per test: its checkpoints and the call."""
        p = self.parameters
        lines = [
            f"Channel tests ({len(p['tests'])}; data to {p['data_end']}, 90% intervals; "
            f"customers and CAC from {num(p['median_days_mql_to_won'])} days, the median "
            "MQL -> closed won):"
        ]
        for ch, spec in p["tests"].items():
            rows = self.table.filter(pl.col("channel") == ch)
            targets = ", ".join(f"{k} {_fmt(k, v)}" for k, v in spec["targets"].items())
            lines.append(
                f"  {ch}: from {spec['start']} for {spec['validation_days']} days, target {targets}"
            )
            if not spec["in_data"]:
                lines.append(
                    f"    ! no spend and no sourced MQL of '{ch}' in the data: is the name the "
                    "data's channel name?"
                )
            if rows.height == 0:
                lines.append(f"    no checkpoint yet: the data ends {p['data_end']}")
                continue
            lines.extend(f"    {_row_line(r)}" for r in rows.iter_rows(named=True))
            last = rows.row(rows.height - 1, named=True)
            lines.append(f"    call: {last['decision'].upper()}{_why(last)}")
        return "\n".join(lines)


def _fmt(key: str, value: float | None) -> str:
    return num(value) if key == "mqls" else money(value)


def _span(low: float | None, high: float | None, key: str) -> str:
    """``$49-$63``; ``$49 or more`` without an upper bound (no MQL yet: never ``inf``)."""
    if low is None:
        return "not measured"
    return f"{_fmt(key, low)}-{_fmt(key, high)}" if high is not None else (
        f"{_fmt(key, low)} or more"
    )


def _cost(label: str, r: Mapping[str, Any], key: str) -> str:
    if r[key] is None and r[f"{key}_low"] is None:
        return f"{label} not measured"
    return f"{label} {money(r[key])} ({_span(r[f'{key}_low'], r[f'{key}_high'], key)})"


def _row_line(r: Mapping[str, Any]) -> str:
    spent = (
        money(r["spend"]) if r["spend"] is not None
        else "not in the spend table (it does not cover these days)"
    )  # fmt: skip
    parts = [
        f"{r['checkpoint']} (day {r['day']}): spend {spent}",
        f"MQLs {r['mqls']} ({_span(r['mqls_low'], r['mqls_high'], 'mqls')})",
        f"MQL->SQL {pct(r['mql_to_sql'])}"
        + (
            f" ({pct(r['mql_to_sql_low'])}-{pct(r['mql_to_sql_high'])})"
            if r["mql_to_sql_low"] is not None
            else ""
        ),
        _cost("cost/MQL", r, "cost_per_mql"),
    ]
    if r["cac_status"] != "too early" and r["customers"] is not None:
        parts.append(
            f"customers {r['customers']}, {_cost('CAC', r, 'cac')}"
        )
    status = [
        f"{k.replace('_', ' ')} {r[f'{k}_status']}"
        for k in ("cost_per_mql", "cac", "mqls")
        if r[f"{k}_status"] is not None
    ]
    track = "on track" if r["on_track"] else "not on track"
    return "; ".join(parts) + f" -> {track} ({', '.join(status)})"


def _why(r: Mapping[str, Any]) -> str:
    statuses = {k: r[f"{k}_status"] for k in ("cost_per_mql", "cac", "mqls")}
    given = {k: v for k, v in statuses.items() if v is not None}
    if r["decision"] == "go":
        return " (every target met with its interval)"
    if r["decision"] == "no-go":
        missed = [k for k, v in given.items() if v == "missed"]
        return f" ({', '.join(missed)} missed beyond the interval)"
    if r["decision"] == "extend":
        open_ = [f"{k} {v}" for k, v in given.items() if v != "met"]
        return f" (the interval straddles the target or cannot be read yet: {', '.join(open_)})"
    return " (the validation window has not ended in the data)"


def _checkpoints(test: ChannelTest, data_end: date) -> list[tuple[date, bool]]:
    """Each month after the start before the window's end, then the end: those on or
    before ``data_end`` + 1 day (a checkpoint counts the days before it)."""
    end = test.start + timedelta(days=test.validation_days)
    out: list[tuple[date, bool]] = []
    k = 1
    while True:
        month = test.start.month - 1 + k
        year = test.start.year + month // 12
        day = min(test.start.day, _days_in(year, month % 12 + 1))
        point = date(year, month % 12 + 1, day)
        if point >= end:
            break
        out.append((point, False))
        k += 1
    out.append((end, True))
    return [(d, final) for d, final in out if d <= data_end + timedelta(days=1)]


def _days_in(year: int, month: int) -> int:
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


def channel_tests(
    plan: str | Path | Mapping[str, Any] | Plan,
    stages: TableLike,
    touches: TableLike,
    spend: TableLike,
    *,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    stage_names: Mapping[str, str | list[str]] | None = None,
    timestamp_formats: Sequence[str] | Mapping[str, str | Sequence[str]] | None = None,
    channel_aliases: Mapping[str, str | Sequence[str]] | None = None,
    steps: Sequence[str] = DEFAULT_STEPS,
    lost_stage: str = "closed_lost",
    channel_rules: str | Path | None = None,
) -> ChannelTests:
    """Read out every ``[tests.<channel>]`` of ``plan`` at its monthly checkpoints.

    Parameters
    ----------
    plan
        Plan file, mapping or :class:`Plan` with ``[tests.<channel>]`` tables (``start``,
        ``validation_days``, ``cost_per_mql`` and / or ``cac``, optional ``mqls``).
    stages, touches, spend
        CRM stage events, the touch log (for each contact's sourced channel) and spend.
    columns, stage_names, timestamp_formats, channel_aliases, channel_rules
        As in the config file (:class:`attribution.RunOptions`; the rules derive the
        channels of a touch log without a ``channel`` column, as the run does).
    steps, lost_stage
        The funnel's steps (the second is the MQL, the third the SQL, the last the
        customer) and its lost stage, as :func:`attribution.b2b._funnel.funnel` takes them.

    Examples
    --------
    >>> import polars as pl
    >>> from attribution.b2b._plan_tests import channel_tests
    >>> stages = pl.DataFrame({"contact_id": ["c1", "c1", "c2", "c2", "c2"],
    ...     "stage": ["mql", "sql", "mql", "sql", "closed_won"],
    ...     "timestamp": ["2025-06-03", "2025-06-10", "2025-06-05", "2025-06-06",
    ...                   "2025-07-20"]})
    >>> touches = pl.DataFrame({"contact_id": ["c1", "c2"], "channel": ["webinar"] * 2,
    ...     "timestamp": ["2025-06-01", "2025-06-02"]})
    >>> spend = pl.DataFrame({"channel": ["webinar"] * 2,
    ...     "month": ["2025-06-01", "2025-07-01"], "amount": [300.0, 310.0]})
    >>> plan = {"budget": {"webinar": 1000},
    ...     "tests": {"webinar": {"start": "2025-06-01", "validation_days": 30,
    ...                           "cost_per_mql": 200}}}
    >>> t = channel_tests(plan, stages, touches, spend)
    >>> t.table.select("checkpoint", "spend", "mqls", "cost_per_mql", "decision").rows()
    [(datetime.date(2025, 7, 1), 300.0, 2, 150.0, 'extend')]
    """
    p = read_plan(plan)
    steps = list(steps)
    mql, sql, won = steps[1], steps[2], steps[-1]
    _, frame, key = load_stage_events(
        stages, stage_names=stage_names, columns=columns, timestamp_formats=timestamp_formats
    )
    frame = frame.filter(pl.col(key).is_not_null())
    wide = entities(frame, key, steps, lost_stage)
    sourced, _ = sourced_channels(
        touches,
        key,
        (columns or {}).get("touches"),
        resolve_formats(timestamp_formats, "touches"),
        channel_aliases,
        channel_rules=channel_rules,
    )
    assert sourced is not None
    wide = wide.join(sourced.select(key, "channel"), on=key, how="left")
    data_end = frame.get_column("timestamp").max()
    end_day: date = data_end.date() if data_end is not None else date.min  # type: ignore[union-attr]
    lag = (pl.col(f"{won}_at") - pl.col(f"{mql}_at")).dt.total_seconds() / 86_400
    median_lag = wide.select(lag.median()).item()
    median_days = float(median_lag) if median_lag is not None else None

    spend_frame = load_spend(spend, columns=columns, timestamp_formats=timestamp_formats)
    spend_frame = normalise_channels(spend_frame, check_channel_aliases(channel_aliases))[0]
    daily = daily_spend(spend_frame)

    points = pl.DataFrame(
        [
            {
                "channel": t.channel,
                "start": t.start,
                "window_end": t.start + timedelta(days=t.validation_days),
                "checkpoint": d,
                "final": final,
            }
            for t in p.tests.values()
            for d, final in _checkpoints(t, end_day)
        ],
        schema={
            "channel": pl.String,
            "start": pl.Date,
            "window_end": pl.Date,
            "checkpoint": pl.Date,
            "final": pl.Boolean,
        },
    )
    cohort = wide.select(
        "channel",
        *[pl.col(f"{s}_at").dt.date().alias(f"_{n}") for s, n in ((mql, "mql"), (sql, "sql"),
                                                                   (won, "won"))],
    ).filter(pl.col("_mql").is_not_null())  # fmt: skip
    counted = (
        points.join(cohort, on="channel", how="left")
        .with_columns(
            (
                (pl.col("_mql") >= pl.col("start"))
                & (pl.col("_mql") < pl.col("window_end"))
                & (pl.col("_mql") < pl.col("checkpoint"))
            )
            .fill_null(False)
            .alias("_in")
        )  # fmt: skip
        .group_by("channel", "checkpoint", maintain_order=True)
        .agg(
            pl.col("_in").sum().alias("mqls"),
            (pl.col("_in") & (pl.col("_sql") < pl.col("checkpoint")).fill_null(False))
            .sum()
            .alias("sqls"),
            (pl.col("_in") & (pl.col("_won") < pl.col("checkpoint")).fill_null(False))
            .sum()
            .alias("customers"),
        )
    )
    spent = (
        points.join(daily, on="channel", how="left")
        .filter((pl.col("day") >= pl.col("start")) & (pl.col("day") < pl.col("checkpoint")))
        .group_by("channel", "checkpoint")
        .agg(pl.col("amount").sum().alias("spend"))
    )
    # the days the spend table covers (every channel's): a checkpoint beyond them has no
    # spend figure, never a spend of $0 (a quarter's spend against a later test window)
    first_day, last_day = daily.get_column("day").min(), daily.get_column("day").max()
    covered = (
        (pl.lit(first_day, pl.Date) <= pl.col("start"))
        & (pl.col("checkpoint") - timedelta(days=1) <= pl.lit(last_day, pl.Date))
    ).fill_null(False)
    base = (
        points.join(counted, on=["channel", "checkpoint"], how="left")
        .join(spent, on=["channel", "checkpoint"], how="left")
        .with_columns(
            pl.when(covered).then(pl.col("spend").fill_null(0.0)).alias("spend"),
            (pl.col("checkpoint") - pl.col("start")).dt.total_days().alias("day"),
            pl.col("channel")
            .replace_strict({c: t.validation_days for c, t in p.tests.items()}, default=None)
            .cast(pl.Int64)
            .alias("_window"),
        )
    )
    targets = {
        k: pl.col("channel").replace_strict(
            {c: getattr(t, k) for c, t in p.tests.items()}, default=None, return_dtype=pl.Float64
        )
        for k in ("cost_per_mql", "cac", "mqls")
    }
    table = _readout(
        base.with_columns(**{f"target_{k}": v for k, v in targets.items()}), median_days
    )
    # a test channel with neither spend nor sourced MQLs anywhere is likely a misspelling
    known = set(cohort.get_column("channel").drop_nulls()) | set(
        daily.get_column("channel").drop_nulls()
    )
    parameters = {
        "tests": {
            c: {
                "start": t.start,
                "validation_days": t.validation_days,
                "targets": t.targets(),
                "in_data": c in known,
            }
            for c, t in p.tests.items()
        },
        "data_end": end_day,
        "median_days_mql_to_won": median_days,
        "level": LEVEL,
        "steps": {"mql": mql, "sql": sql, "customer": won},
    }
    return ChannelTests(table=table, parameters=parameters, notes=_notes())


def _readout(base: pl.DataFrame, median_days: float | None) -> pl.DataFrame:
    """Intervals, statuses and the call, vectorised over every test and checkpoint."""
    n = base.height
    mqls = base.get_column("mqls").fill_null(0).to_numpy().astype(float)
    sqls = base.get_column("sqls").fill_null(0).to_numpy().astype(float)
    won = base.get_column("customers").fill_null(0).to_numpy().astype(float)
    spend = base.get_column("spend").fill_null(np.nan).to_numpy().astype(float)
    days = base.get_column("day").to_numpy().astype(float)
    window = base.get_column("_window").to_numpy().astype(float)
    m_lo, m_hi = poisson_interval(mqls)
    c_lo, c_hi = poisson_interval(won)
    r_lo, r_hi = rate_interval(sqls, mqls)
    scale = window / np.maximum(days, 1.0)
    readable = days >= (median_days if median_days is not None else np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        cpm = np.where(mqls > 0, spend / mqls, np.where(spend > 0, np.inf, np.nan))
        cac = np.where(won > 0, spend / won, np.where(spend > 0, np.inf, np.nan))
        cols: dict[str, Any] = {
            "mqls_low": m_lo,
            "mqls_high": m_hi,
            "mql_to_sql": np.where(mqls > 0, sqls / np.maximum(mqls, 1), np.nan),
            "mql_to_sql_low": r_lo,
            "mql_to_sql_high": r_hi,
            "cost_per_mql": cpm,
            "cost_per_mql_low": spend / m_hi,
            "cost_per_mql_high": np.where(m_lo > 0, spend / m_lo, np.inf),
            "projected_mqls": mqls * scale,
            "projected_mqls_low": m_lo * scale,
            "projected_mqls_high": m_hi * scale,
            "customers_low": np.where(readable, c_lo, np.nan),
            "customers_high": np.where(readable, c_hi, np.nan),
            "cac": np.where(readable, cac, np.nan),
            "cac_low": np.where(readable, spend / c_hi, np.nan),
            "cac_high": np.where(readable, np.where(c_lo > 0, spend / c_lo, np.inf), np.nan),
        }
    statuses = {
        "cost_per_mql": _status(
            cols["cost_per_mql"], cols["cost_per_mql_low"], cols["cost_per_mql_high"],
            base.get_column("target_cost_per_mql"), lower_is_better=True,
        ),
        "cac": _status(
            cols["cac"], cols["cac_low"], cols["cac_high"], base.get_column("target_cac"),
            lower_is_better=True, readable=readable,
        ),
        "mqls": _status(
            cols["projected_mqls"], cols["projected_mqls_low"], cols["projected_mqls_high"],
            base.get_column("target_mqls"), lower_is_better=False,
        ),
    }  # fmt: skip
    given = np.stack([s != "" for s in statuses.values()])
    stat = np.stack(list(statuses.values()))
    on_track = np.all(~given | np.isin(stat, ["met", "on track", "too early"]), axis=0)
    all_met = np.all(~given | (stat == "met"), axis=0)
    any_missed = np.any(stat == "missed", axis=0)
    final = base.get_column("final").to_numpy()  # only when the data reach the window's end
    decision = np.where(
        final,
        np.where(all_met, "go", np.where(any_missed, "no-go", "extend")),
        "pending",
    )
    out = base.with_columns(
        *[pl.Series(k, _clean(v), dtype=pl.Float64) for k, v in cols.items()],
        pl.Series("customers", np.where(readable, won, np.nan), dtype=pl.Float64)
        .fill_nan(None)
        .cast(pl.Int64),
        *[
            pl.Series(f"{k}_status", v, dtype=pl.String).replace("", None)
            for k, v in statuses.items()
        ],  # fmt: skip
        pl.Series("on_track", on_track if n else [], dtype=pl.Boolean),
        pl.Series("decision", decision if n else [], dtype=pl.String),
    )
    return out.select(*TEST_COLUMNS).sort("channel", "checkpoint", maintain_order=True)


def _clean(a: np.ndarray) -> list[float | None]:
    """NaN and inf to null (no finite bound: e.g. a cost per MQL with no MQL yet)."""
    return [float(x) if np.isfinite(x) else None for x in np.asarray(a, dtype=float)]


def _status(
    point: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    target: pl.Series,
    *,
    lower_is_better: bool,
    readable: np.ndarray | None = None,
) -> np.ndarray:
    """``met`` / ``on track`` / ``behind`` / ``missed`` against the target; ``too early``
    where the figure cannot be read yet; "" without a target."""
    t = target.fill_null(np.nan).to_numpy().astype(float)
    has = np.isfinite(t)
    if lower_is_better:
        met, missed, meets = high <= t, low > t, point <= t
    else:
        met, missed, meets = low >= t, high < t, point >= t
    out = np.where(met, "met", np.where(missed, "missed", np.where(meets, "on track", "behind")))
    no_data = np.isnan(point) & ~missed
    out = np.where(no_data, "no data", out)
    if readable is not None:
        out = np.where(readable, out, "too early")
    return np.where(has, out, "").astype(object)


def _notes() -> dict[str, str]:
    doc = __doc__ or ""
    parts = [p.strip() for p in doc.split("- **")[1:]]
    return {p.split("**")[0].strip(" :"): " ".join(p.split("**", 1)[1].split()) for p in parts}
