"""Shared plumbing of the data-driven models: path-table checks and per-touch allocation.

Two things live here because the Markov, Shapley and counterfactual models all need them:

- :func:`validate_paths` checks a pre-aggregated path table (``path``, ``conversions``,
  ``nulls``, ``value``) once and returns it in canonical dtypes;
- :func:`allocate_by_channel_weights` splits each conversion's credit over its touches
  from per-channel weights (Markov removal effects, Shapley values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, cast

import numpy as np
import polars as pl

__all__ = [
    "PathSequences",
    "allocate_by_channel_weights",
    "check_frame",
    "eager_frame",
    "check_touch_table",
    "validate_paths",
]

PATH_COLUMNS: Final = ("path", "conversions", "nulls", "value")
_MAX_ROWS_SHOWN: Final = 5


def _rows(mask: pl.Series) -> str:
    """Name the first offending row indices of a boolean mask, for error messages."""
    idx = mask.arg_true().head(_MAX_ROWS_SHOWN).to_list()
    more = " ..." if mask.sum() > _MAX_ROWS_SHOWN else ""
    return f"{idx}{more}"


#: the tables the models are given, and what one row of each is, for error messages
_ROWS: Final = {"path": "paths", "journey": "journeys", "touch": "touches"}


def check_frame(
    frame: object, caller: str, table: str, required: Sequence[str], needs: str = ""
) -> list[str]:
    """The column names of the ``table`` (``"path"``, ``"journey"``, ``"touch"``) frame
    given to ``caller``.

    Raises ``TypeError`` for anything but a DataFrame or LazyFrame, and ``ValueError`` naming
    the ``required`` columns that are missing and the available ones, followed by ``needs``
    (what the table should hold).
    """
    if isinstance(frame, pl.LazyFrame):
        names = frame.collect_schema().names()
    elif isinstance(frame, pl.DataFrame):
        names = frame.columns
    else:
        raise TypeError(
            f"{caller} expects a polars DataFrame or LazyFrame of {_ROWS[table]}. "
            f"Got {type(frame).__name__} instead."
        )
    missing = [c for c in required if c not in names]
    if missing:
        raise ValueError(
            f"The {table} table given to {caller} lacks the column(s) {missing}. "
            f"Available columns: {names}.{needs}"
        )
    return names


def eager_frame(
    frame: object, caller: str, table: str, required: Sequence[str], needs: str = ""
) -> pl.DataFrame:
    """:func:`check_frame`, then the frame collected."""
    check_frame(frame, caller, table, required, needs)
    return frame.collect() if isinstance(frame, pl.LazyFrame) else cast(pl.DataFrame, frame)


def validate_paths(
    paths: pl.DataFrame | pl.LazyFrame, *, model: str
) -> tuple[pl.DataFrame, list[str]]:
    """Check a path table and return it with canonical dtypes, plus notes.

    Parameters
    ----------
    paths
        Columns ``path`` (``list[str]``, channels in time order) and ``conversions``;
        optional ``nulls`` (non-converting journeys) and ``value`` (total conversion
        value), both 0 when absent. Rows may repeat a path.
    model
        Class name used in error messages.

    Returns
    -------
    (DataFrame, list of str)
        ``path: list[str]``, ``conversions, nulls, value: f64``, without rows whose path is
        empty (a conversion with no touch cannot be credited: such rows are dropped and
        counted in the notes).

    Raises
    ------
    TypeError
        ``paths`` is not a Polars frame.
    ValueError
        A column is missing or has the wrong type, holds nulls (a null ``value`` is taken
        as 0 and noted), negative or non-finite numbers, or ``value`` is positive where
        ``conversions`` is 0.
    """
    needs = " Required: 'path' (list[str]) and 'conversions'; optional: 'nulls', 'value'."
    paths = eager_frame(paths, f"{model}.fit", "path", ("path", "conversions"), needs)
    dtype = paths.schema["path"]
    if not (isinstance(dtype, pl.List) and dtype.inner in (pl.String, pl.Categorical)) and not (
        isinstance(dtype, pl.List) and isinstance(dtype.inner, (pl.Enum, pl.Null))
    ):
        raise ValueError(
            f"The 'path' column given to {model}.fit must be list[str] (channels in time "
            f"order). Got {dtype} instead. A string path such as 'a > b' can be split "
            "with pl.col('path').str.split(' > ')."
        )
    exprs: list[pl.Expr] = [pl.col("path").cast(pl.List(pl.String))]
    for name in ("conversions", "nulls", "value"):
        if name in paths.columns:
            if not paths.schema[name].is_numeric():
                raise ValueError(
                    f"The '{name}' column given to {model}.fit must be numeric. "
                    f"Got {paths.schema[name]} instead."
                )
            exprs.append(pl.col(name).cast(pl.Float64))
        else:
            exprs.append(pl.lit(0.0, dtype=pl.Float64).alias(name))
    out = paths.select(exprs)

    if out["path"].null_count():
        raise ValueError(
            f"The 'path' column given to {model}.fit holds nulls at rows "
            f"{_rows(out['path'].is_null())}."
        )
    # the flattened channels know their null count: no per-row pass unless there are some
    if out["path"].explode(empty_as_null=False, keep_nulls=False).null_count():
        null_channel = out["path"].list.len() != out["path"].list.drop_nulls().list.len()
        raise ValueError(
            f"The 'path' column given to {model}.fit has null channels in rows "
            f"{_rows(null_channel)}; map missing channels to a named channel first."
        )
    out, notes = check_path_numbers(out, where=f"given to {model}.fit")

    empty = out["path"].list.len() == 0
    if empty.any():
        dropped = out.filter(empty)
        notes.append(
            f"{dropped.height} path row(s) with no touch were dropped "
            f"({dropped['conversions'].sum():g} conversions, {dropped['nulls'].sum():g} "
            "nulls): a conversion without touches is unattributed, never credited."
        )
        out = out.filter(~empty)
    return out, notes


def check_path_numbers(out: pl.DataFrame, *, where: str) -> tuple[pl.DataFrame, list[str]]:
    """The numeric checks of :func:`validate_paths` on ``conversions``, ``nulls``, ``value``
    (f64 columns, one row per path); a null ``value`` becomes 0, with a note. ``where``
    names the table in messages ("given to MarkovModel.fit")."""
    notes: list[str] = []
    missing_value = out["value"].null_count()
    if missing_value:
        # Deal amounts are optional upstream: a conversion without one carries no value.
        notes.append(f"{missing_value} path row(s) with a null 'value' were given value 0.")
        out = out.with_columns(pl.col("value").fill_null(0.0))
    for name in ("conversions", "nulls", "value"):
        col = out[name]
        if col.null_count():
            raise ValueError(
                f"The '{name}' column {where} holds nulls at rows {_rows(col.is_null())}."
            )
        bad = ~col.is_finite() | (col < 0)
        if bad.any():
            raise ValueError(
                f"The '{name}' column {where} must hold finite, non-negative "
                f"numbers; rows {_rows(bad)} do not."
            )
    orphan_value = (out["value"] > 0) & (out["conversions"] == 0)
    if orphan_value.any():
        raise ValueError(
            f"The path table {where} has a positive 'value' with zero "
            f"'conversions' at rows {_rows(orphan_value)}; value belongs to conversions."
        )
    return out, notes


@dataclass(frozen=True)
class PathSequences:
    """Journeys as integer codes: what the Markov and Shapley models fit on.

    A path table and the engine's journeys both become this, so the models share one fit
    whichever they are given (:meth:`from_table`, or :func:`attribution.engine._memory.
    journey_sequences` straight from the journeys, without building path lists and
    strings: 0.5 s of the 10M-touch run).

    Attributes
    ----------
    touches
        ``pid`` (u32, the path: 0 to n - 1, rows in ``pid`` order, each path's rows in time
        order, every path with at least one row) and ``ch`` (u32, the index of the channel
        in ``channels``), one row per touch.
    paths
        One row per ``pid`` (row ``i`` is path ``i``): ``conversions``, ``nulls``, ``value``
        (f64). Identical paths may appear several times: every statistic the models take
        is a sum over paths.
    channels
        Channel names, sorted; each is used by some touch.
    notes
        Caveats from the checks (dropped empty paths, null values taken as 0).
    """

    touches: pl.DataFrame
    paths: pl.DataFrame
    channels: list[str]
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # the layout the models rely on, in one lazy pass over the integer columns (an eager
        # select took 0.13 s at 10M touches, the lazy one 0.03 s)
        n = self.paths.height
        pid = pl.col("pid")
        first, last, steps_ok, top, rows = (
            self.touches.lazy()
            .select(
                pid.first().alias("first"),
                pid.last().alias("last"),
                pid.diff().is_between(0, 1).all().alias("steps"),
                pl.col("ch").max(),
                pl.len(),
            )
            .collect()
            .row(0)
        )
        if rows:
            ok = first == 0 and last == n - 1 and steps_ok and top < len(self.channels)
        else:
            ok = n == 0
        if not ok:
            raise ValueError(
                "PathSequences needs pid 0..n-1 in order, each path with a row, and channel "
                f"codes below {len(self.channels)}; got {rows} rows for {n} paths."
            )

    def touches_of(self, keep: pl.Series) -> pl.DataFrame:
        """The touches of the paths where ``keep`` (one bool per path) holds, in order."""
        return self.touches.filter(keep.gather(self.touches.get_column("pid")))

    @classmethod
    def from_table(cls, paths: pl.DataFrame | pl.LazyFrame, *, model: str) -> PathSequences:
        """Check a path table (:func:`validate_paths`) and encode it."""
        table, notes = validate_paths(paths, model=model)
        channels = table.select(pl.col("path").explode().unique().sort()).to_series().to_list()
        touches = (
            table.select(pl.col("path").cast(pl.List(pl.Enum(channels))))
            .with_row_index("pid")
            .explode("path")
            .select("pid", pl.col("path").to_physical().cast(pl.UInt32).alias("ch"))
        )
        return cls(touches, table.select("conversions", "nulls", "value"), channels, notes)

    @classmethod
    def from_codes(
        cls,
        touches: pl.DataFrame,
        paths: pl.DataFrame,
        categories: list[str],
        *,
        where: str,
    ) -> PathSequences:
        """From ``pid`` / ``ch`` codes into ``categories`` (sorted), keeping only the
        categories some touch uses, and per-path numbers (checked as in a path table;
        ``where`` names them in errors)."""
        used = touches.lazy().select(pl.col("ch").unique().sort()).collect().to_series()
        channels = [categories[i] for i in used.to_list()]
        if len(channels) < len(categories):  # renumber densely, keeping the sorted order
            lookup = pl.Series("ch", [0] * len(categories), dtype=pl.UInt32).scatter(
                used, pl.int_range(used.len(), dtype=pl.UInt32, eager=True)
            )
            touches = touches.with_columns(lookup.gather(touches.get_column("ch")).alias("ch"))
        checked, notes = check_path_numbers(
            paths.select(pl.col("conversions", "nulls", "value").cast(pl.Float64)), where=where
        )
        return cls(touches, checked, channels, notes)


def _check_weights(weights: Mapping[str, float]) -> tuple[list[str], list[float]]:
    keys = [str(k) for k in weights]
    values = [float(v) for v in weights.values()]
    arr = np.asarray(values, dtype=np.float64)
    if arr.size and not (np.isfinite(arr).all() and (arr >= 0).all()):
        bad = [k for k, v in zip(keys, values, strict=True) if not (np.isfinite(v) and v >= 0)]
        raise ValueError(
            f"Channel weights must be finite and non-negative. Got invalid weights for {bad}."
        )
    return keys, values


# Weights below this share of the largest weight count as 0. Credit only depends on
# ratios of weights, and without the cut a subnormal weight (say 5e-324) divided by a
# touch count or by a per-conversion total can flush to 0 in vectorised kernels and
# turn a credit into 0/0 = NaN. A channel 1e-200 times weaker than the strongest
# one carries no credit that a float could show anyway.
_NEGLIGIBLE_RELATIVE_WEIGHT = 1e-200


def _relative_weights(keys: list[str], values: list[float]) -> tuple[list[str], list[float]]:
    """Weights divided by the largest one, with negligible ones set to exactly 0."""
    top = max(values, default=0.0)
    if top <= 0.0:
        return keys, [0.0] * len(values)
    scaled = [v / top for v in values]
    return keys, [v if v >= _NEGLIGIBLE_RELATIVE_WEIGHT else 0.0 for v in scaled]


def check_touch_table(
    touches: pl.DataFrame | pl.LazyFrame, required: tuple[str, ...]
) -> pl.LazyFrame:
    """The input check every ``allocate`` shares: a frame with ``required``, no ``credit``."""
    names = check_frame(touches, "allocate", "touch", required)
    if isinstance(touches, pl.DataFrame):
        touches = touches.lazy()
    if "credit" in names:
        raise ValueError(
            "The touch table given to allocate already has a 'credit' column; "
            "drop or rename it first."
        )
    return touches


def allocate_by_channel_weights(
    touches: pl.LazyFrame | pl.DataFrame, weights: Mapping[str, float]
) -> pl.DataFrame:
    """Split each conversion's credit (1) over its touches from per-channel weights.

    A conversion's credit goes to its distinct channels in proportion to their weights,
    then equally over that channel's touches. Channels absent from ``weights`` weigh 0,
    and so does a weight below 1e-200 times the largest (it could not show in a float
    credit, and subnormal weights would otherwise risk 0/0).
    When every channel of a conversion weighs 0 (unknown channels only, or a model whose
    weights are all zero), the credit is split equally over its distinct channels, then
    over their touches, so every conversion's credit still sums to 1.

    Parameters
    ----------
    touches
        One row per touch with ``conversion_id`` and ``channel``; ``position`` and any
        other columns are carried through unchanged.
    weights
        Channel -> non-negative weight, e.g. ``MarkovModel().fit(paths).channel_weights_``.

    Returns
    -------
    DataFrame
        The input rows, in input order, plus ``credit`` (f64).

    Examples
    --------
    >>> import polars as pl
    >>> t = pl.DataFrame({"conversion_id": [1, 1, 1], "position": [0, 1, 2],
    ...                   "channel": ["a", "b", "a"]})
    >>> allocate_by_channel_weights(t, {"a": 1.0, "b": 3.0})["credit"].round(6).to_list()
    [0.125, 0.75, 0.125]
    """
    checked = check_touch_table(touches, ("conversion_id", "channel"))
    frame = touches if isinstance(touches, pl.DataFrame) else checked.collect()
    keys, values = _relative_weights(*_check_weights(weights))
    channel = pl.col("channel").cast(pl.String)
    conversion = pl.col("conversion_id")
    # Windows over an integer per conversion instead of the ids: when each conversion's rows
    # are contiguous (as the engine's journeys are), its run number, checked in one pass
    # (0.12 s instead of 0.19 s for 686k journey touches).
    contiguous = frame.select(conversion.rle_id().max() + 1 == conversion.n_unique()).item()
    key = conversion.rle_id() if contiguous else conversion
    # Each touch of channel c in conversion k carries w_c / n_touches(k, c), so summing
    # over a conversion's rows gives the sum of weights over its distinct channels, and
    # summing 1 / n_touches(k, c) counts them (rounded: exact, and cheaper than n_unique).
    # Temporary columns get a prefix no input column starts with, so none is overwritten.
    tmp = "__alloc"
    while any(c.startswith(tmp) for c in frame.columns):
        tmp += "_"
    k, w, n, total, n_channels = (f"{tmp}_{s}" for s in ("k", "w", "n", "total", "n_channels"))
    out = (
        frame.lazy()
        .with_columns(key.alias(k))
        .with_columns(
            channel.replace_strict(keys, values, default=0.0, return_dtype=pl.Float64).alias(w),
            pl.len().over(k, "channel").cast(pl.Float64).alias(n),
        )
        .with_columns(
            (pl.col(w) / pl.col(n)).sum().over(k).alias(total),
            (1.0 / pl.col(n)).sum().over(k).round().alias(n_channels),
        )
        .with_columns(
            pl.when(pl.col(total) > 0)
            .then(pl.col(w) / pl.col(total))
            .otherwise(1.0 / pl.col(n_channels))
            .truediv(pl.col(n))
            .alias("credit")
        )
        .drop(k, w, n, total, n_channels)
    )
    return out.collect()
