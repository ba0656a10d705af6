"""Anomalies injected on purpose into a synthetic world, so the weekly alerts can be scored.

An anomaly is a ``metric``, a ``channel`` (the sourced channel: the channel of a contact's
first touch; ``None``: every channel), a ``week`` (its Monday), a ``size`` and a duration
in ``weeks`` (default 2). What each metric changes in the tables:

- ``lead_volume`` / ``mql_volume`` (size < 0, a share): that share of the contacts who
  became a lead (an MQL) in the weeks, at random, lose that stage and every later one (and
  their survey answers).
- ``lead_to_mql`` / ``mql_to_sql`` / ``sql_to_opportunity`` (size < 0, in rate points):
  of the contacts entering the first stage in the weeks, ``|size| x entrants`` of those who
  advanced, at random, lose the next stage and every later one.
- ``touches`` (size < 0, a share; -1: the channel goes silent): that share of the
  channel's touches in the weeks are removed.
- ``spend`` (size > 0, a share): the channel's spend rises by that share. Spend given by
  month changes for whole months: every month the weeks touch; the anomaly's ``week`` is
  then the Monday of the week holding the first such month's first day.

Every draw comes from its own random stream, seeded from ``(seed, anomaly index)``. The
injected list is written to ``truth.json`` under ``anomalies``.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from attribution.engine._files import write_json_atomic
from attribution.exceptions import InputError

__all__ = [
    "INJECTABLE",
    "Anomaly",
    "inject_anomalies",
    "largest_channels",
    "random_anomalies",
    "read_anomalies",
    "target_anomalies",
    "with_anomalies",
]

#: metric -> (family of the alert that should find it, sign of its size)
INJECTABLE: dict[str, tuple[str, int]] = {
    "lead_volume": ("pipeline", -1),
    "mql_volume": ("pipeline", -1),
    "lead_to_mql": ("pipeline", -1),
    "mql_to_sql": ("pipeline", -1),
    "sql_to_opportunity": ("pipeline", -1),
    "touches": ("channel", -1),
    "spend": ("channel", 1),
}
_DEPTH = {"lead": 0, "mql": 1, "sql": 2, "opportunity": 3, "closed_lost": 3, "closed_won": 4}
_TAG = 4242  # the anomalies' own random streams: (seed, _TAG, index)
#: Weeks between two random anomalies of one family (a baseline's length plus the change).
SPACING = 5


@dataclass(frozen=True)
class Anomaly:
    """One injected change (see the module docstring)."""

    metric: str
    channel: str | None
    week: date
    size: float
    weeks: int = 2

    def __post_init__(self) -> None:
        if self.metric not in INJECTABLE:
            raise InputError(f"anomaly metric {self.metric!r}: use one of {sorted(INJECTABLE)}")
        sign = INJECTABLE[self.metric][1]
        if not (isinstance(self.size, int | float) and self.size * sign > 0):
            raise InputError(
                f"anomaly {self.metric}: size must be {'> 0' if sign > 0 else '< 0'}, got "
                f"{self.size!r}"
            )
        if sign < 0 and self.size < -1:
            raise InputError(f"anomaly {self.metric}: size must be >= -1, got {self.size!r}")
        if not isinstance(self.weeks, int) or self.weeks < 1:
            raise InputError(f"anomaly {self.metric}: weeks must be an int >= 1")
        monday = self.week - timedelta(days=self.week.weekday())
        object.__setattr__(self, "week", monday)

    def truth(self) -> dict[str, Any]:
        """The ``truth.json`` entry."""
        return {
            "family": INJECTABLE[self.metric][0],
            "metric": self.metric,
            "channel": self.channel,
            "week": self.week.isoformat(),
            "size": self.size,
            "kind": "spike" if self.size > 0 else "drop",
            "weeks": self.weeks,
        }


def read_anomalies(path: str | Path) -> list[Anomaly]:
    """The ``[[anomaly]]`` tables of a TOML file (``metric``, ``channel`` (optional),
    ``week`` (a date), ``size``, ``weeks`` (optional))."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"anomalies file '{p}': {exc}") from exc
    out = []
    for i, row in enumerate(data.get("anomaly", []), start=1):
        unknown = set(row) - {"metric", "channel", "week", "size", "weeks"}
        if unknown or not {"metric", "week", "size"} <= set(row):
            raise InputError(
                f"anomalies file '{p}': [[anomaly]] {i} needs metric, week and size (channel "
                f"and weeks optional); got {sorted(row)}"
            )
        week = row["week"]
        if isinstance(week, str):
            try:
                week = date.fromisoformat(week)
            except ValueError as exc:
                raise InputError(f"anomalies file '{p}': [[anomaly]] {i} week: {exc}") from exc
        if not isinstance(week, date):
            raise InputError(f"anomalies file '{p}': [[anomaly]] {i} week must be a date")
        try:
            out.append(Anomaly(row["metric"], row.get("channel"), week, row["size"],
                               row.get("weeks", 2)))  # fmt: skip
        except InputError as exc:
            raise InputError(f"anomalies file '{p}': [[anomaly]] {i}: {exc}") from None
    if not out:
        raise InputError(f"anomalies file '{p}' has no [[anomaly]] table")
    return out


def largest_channels(tables: dict[str, pl.DataFrame], n: int = 4) -> tuple[list[str], list[str]]:
    """The ``n`` channels that source the most leads, and the two with the most spend."""
    leads = (
        tables["stages"].filter(pl.col("stage") == "lead").select("contact_id").unique()
        .join(_sourced(tables["touches"]), on="contact_id")
        .group_by("channel").len().sort("len", "channel", descending=[True, False])
    )  # fmt: skip
    paid = (
        tables["spend"].group_by("channel").agg(pl.col("amount").sum())
        .sort("amount", "channel", descending=[True, False])
    )  # fmt: skip
    return leads.get_column("channel").head(n).to_list(), paid.get_column("channel").head(
        2
    ).to_list()


def random_anomalies(
    n: int, seed: int, start: str | date, days: int, channels: list[str], paid: list[str]
) -> list[Anomaly]:
    """``n`` anomalies drawn at random (seeded) of the sizes the alerts are meant to find:
    a metric; the overall funnel or one of ``channels`` (a spend anomaly: one of ``paid``,
    see :func:`largest_channels`); a week between the
    24th week of the window and 17 weeks before its end (room for a baseline before it and
    for mature outcomes after it); a size of 30-60% for a volume, touches or spend (spend
    up, the others down) or 10-20 points for a step rate (drawn on the overall funnel); two
    anomalies of one family on one channel (or overall) at least :data:`SPACING` weeks
    apart (fewer than ``n`` when the window has no room for more)."""
    rng = np.random.default_rng([seed, _TAG, 10**6])
    first = date.fromisoformat(start) if isinstance(start, str) else start
    lo, hi = 24, max(25, days // 7 - 17)
    metrics = sorted(INJECTABLE)
    out: list[Anomaly] = []
    for _ in range(50 * n):  # a handful of anomalies, not rows
        if len(out) == n:
            break
        metric = metrics[int(rng.integers(len(metrics)))]
        week = first + timedelta(weeks=int(rng.integers(lo, hi)))
        # the overall funnel a third of the time, else a channel
        named = paid if metric == "spend" else channels
        pool: list[str | None] = [*([None] * max(1, len(named) // 2)), *named]
        channel = pool[int(rng.integers(len(pool)))]
        if "_to_" in metric:
            channel, size = None, -round(float(rng.uniform(0.10, 0.20)), 3)
        elif metric == "spend":
            size = round(float(rng.uniform(0.30, 0.60)), 3)
        else:
            size = -round(float(rng.uniform(0.30, 0.60)), 3)
        # one change at a time per metric family and channel (the overall funnel shares
        # every channel's): the next needs a clean baseline again
        family = INJECTABLE[metric][0]
        if any(
            INJECTABLE[a.metric][0] == family
            and (a.channel is None or channel is None or a.channel == channel)
            and abs((a.week - week).days) < 7 * SPACING
            for a in out
        ):
            continue
        out.append(Anomaly(metric, channel, week, size))
    return out


def target_anomalies(
    seed: int, channels: list[str], paid: list[str], start: date = date(2025, 1, 6)
) -> list[Anomaly]:
    """Changes of the sizes the alerts' targets name (issue 18), on the series they are
    about, for a one-year world starting at ``start``: the overall MQL volume (30-50% down),
    the touches of the largest channel that is not ``paid[0]`` (30-60% down), the overall
    lead -> MQL rate (10-20 points down), the spend of ``paid[0]`` (30-60% up) and the
    overall lead volume (30-50% down); weeks 22-33 of the window (room for a baseline before
    and mature outcomes after), sizes drawn from their own seeded stream. Meant to be
    injected one at a time, each into a world of its own (see ``channels``, ``paid``:
    :func:`largest_channels`)."""
    rng = np.random.default_rng([seed, 18])

    def week(n: int) -> date:
        return start + timedelta(weeks=n + int(rng.integers(0, 2)))

    # the touches on a channel other than the spend's: one alert must not find both
    unpaid = next(c for c in channels if c != paid[0])
    return [
        Anomaly("mql_volume", None, week(22), -float(rng.uniform(0.30, 0.50))),
        Anomaly("touches", unpaid, week(24), -float(rng.uniform(0.30, 0.60))),
        Anomaly("lead_to_mql", None, week(27), -float(rng.uniform(0.10, 0.20))),
        Anomaly("spend", paid[0], week(27), float(rng.uniform(0.30, 0.60))),
        Anomaly("lead_volume", None, week(31), -float(rng.uniform(0.30, 0.50))),
    ]


def inject_anomalies(
    tables: dict[str, pl.DataFrame], anomalies: list[Anomaly], seed: int
) -> tuple[dict[str, pl.DataFrame], list[dict[str, Any]]]:
    """The ``tables`` (``touches``, ``stages``, ``spend``, ``surveys``) with ``anomalies``
    injected in turn, and their ``truth.json`` entries."""
    out = dict(tables)
    truth = []
    for i, anomaly in enumerate(anomalies):
        rng = np.random.default_rng([seed, _TAG, i])
        lo = datetime.combine(anomaly.week, datetime.min.time())
        hi = lo + timedelta(weeks=anomaly.weeks)
        entry = anomaly.truth()
        if anomaly.metric == "spend":
            out["spend"], entry = _spend(out["spend"], anomaly, entry, lo, hi)
        elif anomaly.metric == "touches":
            out["touches"] = _touches(out["touches"], anomaly, rng, lo, hi)
        else:
            out = _funnel(out, anomaly, rng, lo, hi)
        truth.append(entry)
    return out, truth


def _in(col: str, lo: datetime, hi: datetime) -> pl.Expr:
    t = pl.col(col).dt.replace_time_zone(None)
    return (t >= lo) & (t < hi)


def _pick(frame: pl.DataFrame, share: float, rng: np.random.Generator) -> pl.DataFrame:
    """A random ``share`` of ``frame``'s rows (exactly round(share x rows))."""
    k = round(share * frame.height)
    if k == 0 or frame.height == 0:
        return frame.head(0)
    return frame[np.sort(rng.choice(frame.height, size=min(k, frame.height), replace=False))]


def _sourced(touches: pl.DataFrame) -> pl.DataFrame:
    return touches.group_by("contact_id").agg(
        pl.col("channel").sort_by("timestamp", "touch_id").first()
    )


def _funnel(
    tables: dict[str, pl.DataFrame],
    anomaly: Anomaly,
    rng: np.random.Generator,
    lo: datetime,
    hi: datetime,
) -> dict[str, pl.DataFrame]:
    stages = tables["stages"]
    first = anomaly.metric.split("_")[0]
    entered = (
        stages.filter((pl.col("stage") == first) & _in("timestamp", lo, hi))
        .select("contact_id")
        .unique()
        .sort("contact_id")
    )
    if anomaly.channel is not None:
        entered = (
            entered.join(
                _sourced(tables["touches"]).filter(pl.col("channel") == anomaly.channel),
                on="contact_id",
            )
            .select("contact_id")
            .sort("contact_id")
        )  # a join's row order is not fixed
    if "_to_" in anomaly.metric:  # a rate: remove the next stage of |size| x entrants
        nxt = anomaly.metric.split("_to_")[1]
        advanced = entered.join(
            stages.filter(pl.col("stage") == nxt).select("contact_id").unique(), on="contact_id"
        ).sort("contact_id")
        share = min(1.0, abs(anomaly.size) * entered.height / max(advanced.height, 1))
        chosen, cut = _pick(advanced, share, rng), _DEPTH[nxt]
    else:  # a volume: that share loses this stage and the later ones
        chosen, cut = _pick(entered, abs(anomaly.size), rng), _DEPTH[first]
    ids = chosen.get_column("contact_id").implode()
    drop = pl.col("contact_id").is_in(ids) & (
        pl.col("stage").replace_strict(_DEPTH, default=-1) >= cut
    )
    out = dict(tables)
    out["stages"] = stages.filter(~drop)
    if cut <= _DEPTH["opportunity"] and "surveys" in tables:  # answers come with deals
        out["surveys"] = tables["surveys"].filter(~pl.col("contact_id").is_in(ids))
    return out


def _touches(
    touches: pl.DataFrame, anomaly: Anomaly, rng: np.random.Generator, lo: datetime, hi: datetime
) -> pl.DataFrame:
    rows = touches.with_row_index("_r").filter(_in("timestamp", lo, hi))
    if anomaly.channel is not None:
        rows = rows.filter(pl.col("channel") == anomaly.channel)
    gone = _pick(rows.select("_r"), abs(anomaly.size), rng).get_column("_r").implode()
    return touches.with_row_index("_r").filter(~pl.col("_r").is_in(gone)).drop("_r")


def _spend(
    spend: pl.DataFrame, anomaly: Anomaly, entry: dict[str, Any], lo: datetime, hi: datetime
) -> tuple[pl.DataFrame, dict[str, Any]]:
    which = pl.lit(True) if anomaly.channel is None else pl.col("channel") == anomaly.channel
    factor = 1.0 + anomaly.size
    if "date" in spend.columns:
        day = pl.col("date").cast(pl.Date)
        hit = which & (day >= lo.date()) & (day < hi.date())
        return spend.with_columns(
            pl.when(hit).then(pl.col("amount") * factor).otherwise(pl.col("amount"))
        ), entry
    month = pl.col("month").cast(pl.Date)
    first_month = lo.date().replace(day=1)
    hit = which & (month >= first_month) & (month < hi.date())
    touched = spend.filter(hit).get_column("month").cast(pl.Date).unique().sort()
    if touched.len():
        starts = touched[0]
        monday = starts - timedelta(days=starts.weekday())
        last = touched[-1]
        end = date(last.year + last.month // 12, last.month % 12 + 1, 1)
        entry = entry | {"week": monday.isoformat(), "weeks": -(-(end - monday).days // 7)}
    return spend.with_columns(
        pl.when(hit).then((pl.col("amount") * factor).round(2)).otherwise(pl.col("amount"))
    ), entry


#: The tables an injection can change (the others are written as generated).
CHANGED = ("touches", "stages", "spend", "surveys")


def with_anomalies(
    files: dict[str, Path],
    anomalies: int | str | Path | list[Anomaly],
    *,
    seed: int,
    start: str,
    days: int,
) -> list[dict[str, Any]]:
    """Inject anomalies into a written synthetic world (``files``: table name -> path, as
    :func:`attribution.datasets.write_synthetic` returns): ``anomalies`` random ones (an
    int), those of a TOML file, or a list. The changed tables are rewritten in place (each through
    a temporary file), then ``truth.json`` gains the ``anomalies`` list; returns it. The
    four tables are read into memory: a world of a few million touches at most."""
    from attribution.datasets._write import TableWriter

    fmt = files["touches"].suffix.lstrip(".")
    read = pl.read_parquet if fmt == "parquet" else pl.read_csv
    tables = {name: read(files[name]) for name in CHANGED}
    if fmt == "csv":  # the injection compares times: the CSV's text back to UTC datetimes
        tables = {
            name: frame.with_columns(
                pl.col(c).str.to_datetime(time_zone="UTC")
                for c in ("timestamp",) if c in frame.columns
            ).with_columns(pl.col(c).str.to_date() for c in ("month", "date") if c in frame.columns)
            for name, frame in tables.items()
        }  # fmt: skip
    if isinstance(anomalies, int):
        chosen = random_anomalies(anomalies, seed, start, days, *largest_channels(tables))
    elif isinstance(anomalies, list):
        chosen = anomalies
    else:
        chosen = read_anomalies(anomalies)
    changed, truth = inject_anomalies(tables, chosen, seed)
    for name in CHANGED:
        path = files[name]
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        writer = TableWriter(tmp, fmt)
        try:
            writer.write(changed[name])
            writer.close()
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    summary = json.loads(files["truth"].read_text())
    write_json_atomic(files["truth"], {**summary, "anomalies": truth})
    return truth
