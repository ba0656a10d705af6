"""The benchmark table: published B2B ranges (funnel step rates, pipeline shares, segment
KPIs, unit-economics targets, channel costs) the funnel, the plan check and the economics
judge the data against. Shipped as ``attribution/data/benchmarks.csv``; a user's own file and
their ``[targets]`` override it row by row.

Shape of the file (CSV, header on line 1, one row per metric and scope)::

    metric,segment,channel,low,high,unit,better,source
    mql_to_sql,,,0.15,0.25,rate,higher,B2B performance playbook: MQL -> SQL 15-25%
    cac_payback_months,smb,,3,9,months,lower,...
    ltv_to_cac,,,3,,ratio,higher,...

- ``metric``: the name (funnel steps are ``<from>_to_<to>`` in the funnel's stage names:
  ``mql_to_sql``, ``sql_to_opportunity``, ``opportunity_to_closed_won``).
- ``segment`` / ``channel``: the scope, blank for every segment / channel. Segments are the
  accounts table's (``smb``, ``mid_market``, ``enterprise``, ``strategic``), channels the
  data's channel names (lower case). A lookup for a segment or channel takes the row of that
  scope, else the row with the blank scope.
- ``low``, ``high``: the range; one of them may be blank (``ltv_to_cac`` has ``low`` 3 only).
  A point target has ``low`` = ``high``.
- ``unit``: ``rate`` (a fraction, 0.15 = 15%; must lie in [0, 1]), ``ratio`` (a multiple:
  NRR 1.10 = 110%, pipeline per $ 5 = 5x), ``days``, ``months`` or ``usd``.
- ``better``: ``higher`` (a value below ``low`` falls short: rates, shares, NRR),
  ``lower`` (a value above ``high`` falls short: costs, payback, cycle length), or blank (a
  setting such as ``consideration_window_days``, never judged).
- ``source``: where the range comes from (free text, shown beside the figure).

**Gap** (:func:`gap`): how far a value lies beyond the end of the range it falls short of,
as a share of that end; negative on the worse side, positive on the better side, 0 inside.
For ``better = higher``: ``value / low - 1`` below ``low``, ``value / high - 1`` above
``high``. For ``better = lower``: ``1 - value / high`` above ``high`` and ``1 - value / low``
below ``low``. So MQL -> SQL at 12% against 15-25% has a gap of -20%, and payback of 27
months against 12-18 a gap of -50%.

**Overrides**, in order, each replacing the row of the same ``(metric, segment, channel)``
and adding new ones: the shipped table, the user's file (``[benchmarks] file`` in the run
config, or ``path``), then ``[targets]`` of the config (``metric = value`` for a point
target or ``metric = [low, high]``; ``[targets.segment.smb]`` and
``[targets.channel.linkedin]`` for a scope). A target's metric must be in the table (its
``unit`` and ``better`` come from there). Every row says where it came from (``origin``).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from attribution._reporting_currency import money_text
from attribution.exceptions import ConfigError, InputError, did_you_mean

__all__ = [
    "BENCHMARK_SCHEMA",
    "BenchmarkRange",
    "Benchmarks",
    "default_benchmarks_path",
    "format_range",
    "format_value",
    "gap",
    "gap_expr",
    "load_benchmarks",
]

UNITS = ("rate", "ratio", "days", "months", "usd")
BETTER = ("higher", "lower")
_REQUIRED = ("metric", "low", "high", "unit")
_COLUMNS = ("metric", "segment", "channel", "low", "high", "unit", "better", "source")

BENCHMARK_SCHEMA = pl.Schema(
    {
        "metric": pl.String(),
        "segment": pl.String(),
        "channel": pl.String(),
        "low": pl.Float64(),
        "high": pl.Float64(),
        "unit": pl.String(),
        "better": pl.String(),
        "source": pl.String(),
        "origin": pl.String(),
    }
)


class BenchmarkRange(NamedTuple):
    """One row of the table: a range for a metric in a scope."""

    metric: str
    segment: str | None
    channel: str | None
    low: float | None
    high: float | None
    unit: str
    better: str | None
    source: str
    origin: str

    def gap(self, value: float | None) -> float | None:
        """:func:`gap` of ``value`` against this range."""
        return gap(value, self.low, self.high, self.better)

    def text(self) -> str:
        """The range as a reader writes it: ``15-25%``, ``>= 3x``, ``$50-200``."""
        return format_range(self.low, self.high, self.unit, self.metric)


@dataclass(frozen=True)
class Benchmarks:
    """The benchmark table (:data:`BENCHMARK_SCHEMA`: the file's columns and ``origin``, where
    each row came from) and its lookups."""

    table: pl.DataFrame

    def get(
        self, metric: str, *, segment: str | None = None, channel: str | None = None
    ) -> BenchmarkRange | None:
        """The row of ``metric`` for ``segment`` / ``channel`` (that scope's row, else the row
        with the blank scope); ``None`` when the table has none."""
        rows = self.table.filter(pl.col("metric") == metric)
        scopes = [(segment, channel), (segment, None), (None, channel), (None, None)]
        for seg, ch in dict.fromkeys(scopes):
            hit = rows.filter(_scope("segment", seg) & _scope("channel", ch))
            if hit.height:
                return BenchmarkRange(**hit.row(0, named=True))
        return None

    def step(self, from_stage: str, to_stage: str, **scope: str | None) -> BenchmarkRange | None:
        """The range of the funnel step ``from_stage -> to_stage`` (metric
        ``<from>_to_<to>``)."""
        return self.get(f"{from_stage}_to_{to_stage}", **scope)

    def chain(
        self, stages: Sequence[str], **scope: str | None
    ) -> tuple[float, float, list[BenchmarkRange]] | None:
        """The range of going from ``stages[0]`` to ``stages[-1]``: the product of the step
        ranges in between (``mql -> sql -> opportunity -> closed_won``: 15-25% x 40-60% x
        20-30% = 1.2-4.5%), with the rows used; ``None`` unless every step has both ends."""
        rows = [self.step(a, b, **scope) for a, b in zip(stages, stages[1:], strict=False)]
        if not rows or any(r is None or r.low is None or r.high is None for r in rows):
            return None
        ranges = [r for r in rows if r is not None]
        return (
            math.prod(r.low for r in ranges if r.low is not None),
            math.prod(r.high for r in ranges if r.high is not None),
            ranges,
        )

    def metrics(self) -> list[str]:
        """Every metric name in the table, sorted."""
        return sorted(self.table.get_column("metric").unique().to_list())

    def with_ranges(
        self,
        ranges: Mapping[str, tuple[float | None, float | None]],
        *,
        unit: str = "rate",
        better: str = "higher",
        source: str = "given",
    ) -> Benchmarks:
        """This table with ``metric -> (low, high)`` rows (every scope) over its own."""
        rows = [
            dict(metric=m, segment=None, channel=None, low=lo, high=hi, unit=unit,
                 better=better, source=source, origin=source)
            for m, (lo, hi) in ranges.items()
        ]  # fmt: skip
        return Benchmarks(_override(self.table, pl.DataFrame(rows, schema=BENCHMARK_SCHEMA)))

    def attach(
        self,
        frame: pl.DataFrame,
        metric: pl.Expr,
        *,
        segment: pl.Expr | None = None,
        channel: pl.Expr | None = None,
        prefix: str = "benchmark_",
    ) -> pl.DataFrame:
        """``frame`` with the range of each row: ``<prefix>low``, ``high``, ``unit``,
        ``better`` and ``source`` of the row of ``metric`` for the row's ``segment`` /
        ``channel`` (expressions; null for none), falling back as :meth:`get` does (that
        scope, the segment's, the channel's, then every scope's). Joins, no row loop."""
        t = self.table
        fields = ("low", "high", "unit", "better", "source")
        out = frame.with_columns(
            metric.cast(pl.String).alias("_bm"),
            (segment if segment is not None else pl.lit(None)).cast(pl.String).alias("_bs"),
            (channel if channel is not None else pl.lit(None)).cast(pl.String).alias("_bc"),
        )
        levels = ((True, True), (True, False), (False, True), (False, False))
        for i, (by_seg, by_ch) in enumerate(levels):
            scope = _scope_is(by_seg, "segment") & _scope_is(by_ch, "channel")
            keys = ["_bm", *(["_bs"] if by_seg else []), *(["_bc"] if by_ch else [])]
            part = t.filter(scope).select(
                pl.col("metric").alias("_bm"),
                *([pl.col("segment").alias("_bs")] if by_seg else []),
                *([pl.col("channel").alias("_bc")] if by_ch else []),
                pl.lit(True).alias(f"_b{i}_hit"),
                *[pl.col(f).alias(f"_b{i}_{f}") for f in fields],
            )
            out = out.join(part, on=keys, how="left", maintain_order="left")
        picks = []
        for f in fields:
            expr: Any = pl.when(pl.col("_b0_hit")).then(pl.col(f"_b0_{f}"))
            for i in range(1, len(levels)):
                expr = expr.when(pl.col(f"_b{i}_hit")).then(pl.col(f"_b{i}_{f}"))
            picks.append(expr.alias(prefix + f))
        helper = [c for c in out.columns if c.startswith("_b") and c[2:3].isdigit()]
        return out.with_columns(picks).drop("_bm", "_bs", "_bc", *helper)


def _scope_is(given: bool, column: str) -> pl.Expr:
    return pl.col(column).is_not_null() if given else pl.col(column).is_null()


def _scope(column: str, value: str | None) -> pl.Expr:
    return pl.col(column).is_null() if value is None else pl.col(column) == value


def default_benchmarks_path() -> Path:
    """Path of the shipped table (copy it to make your own)."""
    return Path(str(resources.files("attribution") / "data" / "benchmarks.csv"))


def load_benchmarks(
    path: str | os.PathLike[str] | None = None,
    *,
    targets: Mapping[str, Any] | None = None,
    where: str = "[targets]",
) -> Benchmarks:
    """The benchmark table: the shipped rows, overridden by the rows of ``path`` and then by
    ``targets`` (the ``[targets]`` section of a config; ``where`` names it in errors).

    A bad file is an :class:`~attribution.InputError` naming the file, the column and the
    1-based line; a bad target a :class:`~attribution.ConfigError` naming the key.

    Examples
    --------
    >>> from attribution import load_benchmarks
    >>> b = load_benchmarks(targets={"mql_to_sql": [0.18, 0.22]})
    >>> r = b.get("mql_to_sql")
    >>> (r.low, r.high, r.text(), r.gap(0.09))
    (0.18, 0.22, '18-22%', -0.5)
    >>> b.get("cac_payback_months", segment="smb").text()
    '3-9 months'
    >>> low, high, _ = load_benchmarks().chain(["mql", "sql", "opportunity", "closed_won"])
    >>> round(low, 4), round(high, 4)
    (0.012, 0.045)
    """
    table = _read(default_benchmarks_path(), "shipped")
    if path is not None:
        table = _override(table, _read(Path(path), None))
    if targets:
        table = _override(table, _targets(table, targets, where))
    return Benchmarks(table=table)


def _override(base: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    key = ["metric", "segment", "channel"]
    new = new.unique(subset=key, keep="last", maintain_order=True)
    kept = base.join(new.select(key), on=key, how="anti", nulls_equal=True)
    return pl.concat([kept, new]).select(BENCHMARK_SCHEMA.names())


def _read(path: Path, origin: str | None) -> pl.DataFrame:
    """Read and check one benchmark file (CSV with the header on line 1)."""
    name = str(path)

    def error(message: str, line: int | None = None, column: str | None = None) -> InputError:
        return InputError(
            message,
            table="benchmarks",
            source=name,
            column=column,
            rows=[line - 2] if line is not None else [],
            numbering=("lines", 2),
            hint="see the shipped table, attribution/data/benchmarks.csv, for the shape",
        )

    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise error(f"cannot read the file ({exc.strerror or exc})") from None
    with handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [c for c in _REQUIRED if c not in header]
        if missing:
            raise error(f"the header (line 1) lacks the column(s) {missing}; it has {header}")
        unknown = [c for c in header if c not in _COLUMNS]
        if unknown:
            raise error(
                f"unknown column '{unknown[0]}' in the header (line 1); "
                + did_you_mean(unknown[0], list(_COLUMNS)),
                column=unknown[0],
            )
        rows: list[dict[str, Any]] = []
        seen: dict[tuple[Any, ...], int] = {}
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                raise error(f"{len(record)} fields where the header has {len(header)}", line)
            raw = {c: v.strip() for c, v in zip(header, record, strict=True)}
            rows.append(_row(raw, line, error, origin or f"file '{name}' line {line}"))
            key = (rows[-1]["metric"], rows[-1]["segment"], rows[-1]["channel"])
            if key in seen:
                raise error(
                    f"metric '{key[0]}' for segment '{key[1] or ''}' and channel "
                    f"'{key[2] or ''}' is on line {seen[key]} already",
                    line,
                    "metric",
                )
            seen[key] = line
    if not rows:
        raise error("no benchmark rows below the header")
    return pl.DataFrame(rows, schema=BENCHMARK_SCHEMA)


def _row(raw: dict[str, str], line: int, error: Any, origin: str) -> dict[str, Any]:
    metric = raw["metric"].lower()
    if not metric:
        raise error("the metric is blank", line, "metric")
    bounds: dict[str, float | None] = {}
    for end in ("low", "high"):
        text = raw[end]
        if text == "":
            bounds[end] = None
            continue
        try:
            value = float(text)
        except ValueError:
            raise error(f"'{text}' is not a number", line, end) from None
        if not math.isfinite(value) or value < 0:
            raise error(f"{end} must be a finite number >= 0, got '{text}'", line, end)
        bounds[end] = value
    low, high = bounds["low"], bounds["high"]
    if low is None and high is None:
        raise error("low and high are both blank; give at least one", line, "low")
    if low is not None and high is not None and low > high:
        raise error(f"low {low:g} is above high {high:g}", line, "low")
    unit = raw["unit"].lower()
    if unit not in UNITS:
        raise error(f"unit '{raw['unit']}' is not one of {list(UNITS)}", line, "unit")
    if unit == "rate" and any(v is not None and v > 1 for v in (low, high)):
        raise error(
            "a rate is a fraction in [0, 1] (15% is 0.15); use unit 'ratio' for a multiple",
            line,
            "high" if high is not None and high > 1 else "low",
        )
    better = raw.get("better", "").lower() or None
    if better is not None and better not in BETTER:
        raise error(f"better '{raw['better']}' is not 'higher', 'lower' or blank", line, "better")
    return {
        "metric": metric,
        "segment": raw.get("segment", "").lower() or None,
        "channel": " ".join(raw.get("channel", "").split()).lower() or None,
        "low": low,
        "high": high,
        "unit": unit,
        "better": better,
        "source": raw.get("source", ""),
        "origin": origin,
    }


def _targets(table: pl.DataFrame, targets: Mapping[str, Any], where: str) -> pl.DataFrame:
    """``[targets]`` as table rows: ``metric = value | [low, high]``, and the same under
    ``segment.<name>`` / ``channel.<name>``."""
    known = table.group_by("metric").agg(pl.col("unit").first(), pl.col("better").first())
    kinds = {r["metric"]: (r["unit"], r["better"]) for r in known.iter_rows(named=True)}
    rows: list[dict[str, Any]] = []

    def add(items: Iterable[tuple[str, Any]], segment: str | None, channel: str | None) -> None:
        scope = f".segment.{segment}" if segment else f".channel.{channel}" if channel else ""
        for metric, value in items:
            key = f"{where}{scope} {metric}"
            if metric not in kinds:
                raise ConfigError(
                    f"{key}: no such metric in the benchmark table; "
                    + did_you_mean(metric, sorted(kinds))
                )
            unit, better = kinds[metric]
            pair = value if isinstance(value, list) else [value, value]
            if len(pair) != 2 or not all(_number(v) and v >= 0 for v in pair):
                raise ConfigError(
                    f"{key} must be a number >= 0 (a point target) or [low, high], got {value!r}"
                )
            low, high = float(pair[0]), float(pair[1])
            if low > high:
                raise ConfigError(f"{key}: low {low:g} is above high {high:g}")
            if unit == "rate" and high > 1:
                raise ConfigError(f"{key}: a rate is a fraction in [0, 1] (15% is 0.15)")
            rows.append(
                dict(
                    metric=metric,
                    segment=segment,
                    channel=channel,
                    low=low,
                    high=high,
                    unit=unit,
                    better=better,
                    source="your target",
                    origin=key,
                )
            )

    plain = []
    for key, value in targets.items():
        if key in ("segment", "channel") and isinstance(value, Mapping):
            for name, section in value.items():
                if not isinstance(section, Mapping):
                    raise ConfigError(f"{where}.{key}.{name} must be a table of metric = target")
                scope = " ".join(str(name).split()).lower()
                add(
                    section.items(),
                    scope if key == "segment" else None,
                    scope if key == "channel" else None,
                )
        else:
            plain.append((key, value))
    add(plain, None, None)
    return pl.DataFrame(rows, schema=BENCHMARK_SCHEMA)


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def gap(
    value: float | None, low: float | None, high: float | None, better: str | None
) -> float | None:
    """How far ``value`` lies beyond the range ``[low, high]``, as a share of the end it
    passes: negative on the worse side (``better`` says which side is better), positive on
    the better side, 0 inside; ``None`` when there is no value or nothing to judge.

    Examples
    --------
    >>> gap(0.12, 0.15, 0.25, "higher"), gap(0.20, 0.15, 0.25, "higher")
    (-0.19999999999999996, 0.0)
    >>> gap(27, 12, 18, "lower"), gap(3, None, 24, "lower")
    (-0.5, 0.0)
    """
    if value is None or better is None or (isinstance(value, float) and math.isnan(value)):
        return None
    sign = 1.0 if better == "higher" else -1.0
    if low is not None and value < low:
        return sign * (value / low - 1) if low > 0 else None
    if high is not None and value > high:
        return sign * (value / high - 1) if high > 0 else None
    return 0.0


def gap_expr(value: pl.Expr, low: pl.Expr, high: pl.Expr, better: pl.Expr) -> pl.Expr:
    """:func:`gap` as a Polars expression over columns."""
    sign = pl.when(better == "higher").then(1.0).otherwise(-1.0)
    return (
        pl.when(value.is_null() | value.is_nan() | better.is_null())
        .then(None)
        .when(low.is_not_null() & (value < low))
        .then(pl.when(low > 0).then(sign * (value / low - 1)))
        .when(high.is_not_null() & (value > high))
        .then(pl.when(high > 0).then(sign * (value / high - 1)))
        .otherwise(0.0)
    )


def format_value(value: float | None, unit: str, metric: str = "") -> str:
    """A value in its unit: ``12%``, ``3.2x``, ``$77``, ``45 days``; ``-`` when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "rate" or metric == "nrr":
        return f"{value * 100:.3g}%"
    if unit == "ratio":
        return f"{value:.3g}x"
    if unit == "usd":
        return money_text(value, 2 if value < 1000 else 0).replace(".00", "")
    return f"{value:,.3g} {unit}"


def format_range(low: float | None, high: float | None, unit: str, metric: str = "") -> str:
    """A range in its unit: ``15-25%``, ``>= 3x``, ``<= 24 months``, ``$50-200``."""
    if low is None:
        return "<= " + format_value(high, unit, metric)
    if high is None:
        return ">= " + format_value(low, unit, metric)
    if low == high:
        return format_value(low, unit, metric)
    a, b = format_value(low, unit, metric), format_value(high, unit, metric)
    suffix = next((s for s in ("%", "x", f" {unit}") if a.endswith(s) and b.endswith(s)), "")
    return f"{a[: len(a) - len(suffix)] if suffix else a}-{b}"
