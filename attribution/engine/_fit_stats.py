"""The data-driven models' sufficient statistics, kept in the incremental state
(:mod:`attribution.engine._incremental`) so a night refits them from what changed.

Markov and Shapley fit on sums over paths: the Markov chain on its transition counts and the
conversions and value ending in each state (:func:`~attribution.models._markov_chain.
transition_counts`), Shapley on the conversions, nulls and value per set of channels (its
coalitions). Both are additive, so the state keeps them, coded into the state's channel list
(a state code's base is ``len(channels) + 1``; a coalition's bit ``i`` is channel ``i``), and
a night adds those of the changed paths (``after - before``, signed). The fit then reads a
few thousand rows instead of exploding every distinct path (10M touches: ~680k paths) --
what it solves is the same: transition and exit counts are sums of whole journeys (exact in
floating point), the value sums differ from a full run's only in the order of addition.

The statistics are rebuilt from the whole path table when the state's channel list grows (a
new channel renumbers the codes). A model is fitted on the path table as before when its
channels are not exactly the state's (a channel left without a journey: the models number
only the channels they see), for a subclass or a custom model, and for Shapley past 64
channels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from attribution._runs import run_start
from attribution.models._allocation import check_path_numbers
from attribution.models._estimator import PathModel
from attribution.models._registry import ModelRun
from attribution.options import RunOptions

if TYPE_CHECKING:  # imported when used: the Markov model loads SciPy
    from attribution.models._markov import MarkovModel

__all__ = ["STATISTICS", "prefit", "statistics", "update_statistics"]

#: the file name prefix of the statistics in the state
STATISTICS = "fit-"
_SUMS = ["conversions", "nulls", "value"]
_MASK_BITS = 64


def _estimator(run: ModelRun) -> PathModel | None:
    from attribution.models._markov import MarkovModel
    from attribution.models._shapley import ShapleyModel

    if run.spec.family == "rule":
        return None
    try:
        estimator = run.build()
        if isinstance(estimator, PathModel):
            estimator._validate_params()
    except Exception:  # noqa: BLE001 - its own fit reports it, as without statistics
        return None
    return estimator if type(estimator) in (MarkovModel, ShapleyModel) else None


def _markov_name(model: MarkovModel) -> str:
    flags = (int(model.order), int(bool(model.collapse_repeats)), int(bool(model.use_nulls)))
    return "markov-{}-{}-{}".format(*flags)


def _names(options: RunOptions) -> dict[str, PathModel]:
    """The statistics the run's models fit on, by name (``presence`` always)."""
    from attribution.models._markov import MarkovModel
    from attribution.models._shapley import ShapleyModel

    out: dict[str, PathModel] = {}
    for run in options.runs:
        estimator = _estimator(run)
        if isinstance(estimator, MarkovModel):
            out[_markov_name(estimator)] = estimator
        elif isinstance(estimator, ShapleyModel):
            out["shapley"] = estimator
    return out


def statistics(
    coded: pl.DataFrame, channels: list[str], options: RunOptions, *, delta: bool = False
) -> dict[str, pl.DataFrame]:
    """The statistics of a coded path table (:mod:`attribution.engine._deltas`), by table
    name: ``presence`` (per channel code, the journeys whose path holds it), and per model
    ``<name>-edges`` / ``<name>-ends`` (Markov) or ``shapley`` (coalitions). ``delta``: the
    sums may be negative (paths taken away) and a row whose journeys net to zero is kept
    (its value may not: a conversion's value moved)."""
    from attribution.models._markov import MarkovModel
    from attribution.models._markov_chain import transition_counts

    models = _names(options)
    if not models:
        return {}
    coded = coded.filter(pl.col("codes").list.len() > 0)
    touches = (
        coded.select("codes")
        .with_row_index("pid")
        .explode("codes")
        .select(pl.col("pid").cast(pl.UInt32), pl.col("codes").alias("ch"))
    )
    weight = (pl.col("conversions") + pl.col("nulls")).alias("weight")
    numbers = coded.select(*_SUMS, weight)
    base = len(channels) + 1
    # each path's distinct channels: the (path, code) pairs as one integer, unique (a
    # frame's unique of two columns row-encodes them: 3x the time on a night's 835k touches)
    pair = (pl.col("pid").cast(pl.UInt64) * base + pl.col("ch").cast(pl.UInt64)).unique()
    pairs = touches.select(pair.alias("k")).select(
        (pl.col("k") // base).cast(pl.UInt32).alias("pid"),
        (pl.col("k") % base).cast(touches.schema["ch"]).alias("ch"),
    )
    out = {
        "presence": pairs.with_columns(
            pl.lit(numbers.get_column("weight")).gather(pl.col("pid")).alias("weight")
        )
        .group_by("ch")
        .agg(pl.col("weight").sum())
        .filter(pl.col("weight") != 0)
        .sort("ch")
    }
    for name, model in models.items():
        if isinstance(model, MarkovModel):
            mine = numbers.select(
                "conversions",
                (pl.col("nulls") if model.use_nulls else pl.lit(0.0)).alias("nulls"),
                "value",
            ).with_columns((pl.col("conversions") + pl.col("nulls")).alias("weight"))
            edges, ends = transition_counts(
                touches, mine, int(model.order), base, bool(model.collapse_repeats), signed=True
            )
            out[f"{name}-edges"] = edges
            out[f"{name}-ends"] = ends.sort("state") if delta else _ends(ends)
        elif len(channels) <= _MASK_BITS:
            out[name] = _coalitions(touches, numbers, delta)
    return out


def _ends(ends: pl.DataFrame) -> pl.DataFrame:
    # a state where no conversion ends holds no value either (value belongs to conversions)
    return ends.filter(pl.col("conv") != 0).sort("state")


def _coalitions(touches: pl.DataFrame, numbers: pl.DataFrame, delta: bool) -> pl.DataFrame:
    """Conversions, nulls and value per set of channels (``mask``: bit ``i`` = code ``i``)."""
    schema = {"mask": pl.UInt64, "conversions": pl.Float64, "nulls": pl.Float64,
              "value": pl.Float64}  # fmt: skip
    if not touches.height:
        return pl.DataFrame(schema=schema)
    starts = touches.select(pl.arg_where(run_start(pl.col("pid")))).to_series().to_numpy()
    bits = np.left_shift(np.uint64(1), touches.get_column("ch").to_numpy().astype(np.uint64))
    masks = np.bitwise_or.reduceat(bits, starts)  # each path's rows are contiguous
    return (
        numbers.select(_SUMS)
        .with_columns(pl.Series("mask", masks, dtype=pl.UInt64))
        .group_by("mask")
        .agg(pl.col(_SUMS).sum())
        .filter(pl.lit(delta) | (pl.col("conversions") != 0) | (pl.col("nulls") != 0))
        .select(list(schema))
        .sort("mask")
    )


def update_statistics(
    total: dict[str, pl.DataFrame], delta: dict[str, pl.DataFrame]
) -> dict[str, pl.DataFrame]:
    """``total + delta`` (both from :func:`statistics`, of the same models and channels);
    rows left at zero are gone, as in statistics built from scratch."""
    out = {}
    for name, frame in total.items():
        change = delta[name]
        if name == "presence":
            keys, sums, zero = ["ch"], ["weight"], pl.col("weight") == 0
        elif name.endswith("-edges"):
            keys, sums, zero = ["from", "to"], ["count"], pl.col("count") == 0
        elif name.endswith("-ends"):
            keys, sums, zero = ["state"], ["conv", "value"], pl.col("conv") == 0
        else:
            keys, sums = ["mask"], _SUMS
            zero = (pl.col("conversions") == 0) & (pl.col("nulls") == 0)
        out[name] = (
            pl.concat([frame, change.cast(frame.schema)])
            .group_by(keys)
            .agg(pl.col(sums).sum())
            .filter(~zero)
            .select(frame.columns)
            .sort(keys)
        )
    return out


def prefit(
    stats: Callable[[str], pl.DataFrame | None],
    totals: Mapping[str, float],
    channels: list[str],
) -> Callable[[ModelRun], PathModel | None]:
    """A fit from the statistics (``stats(name)``: the table, or None when the state has
    none) for the runs they serve; None for the others (fitted on the path table).
    ``totals``: the path table's conversions, nulls and value summed (kept in the state),
    checked as a fit on the path table checks its columns."""
    checked = check_path_numbers(
        pl.DataFrame({c: [float(totals[c])] for c in _SUMS}),
        where="of the incremental state's path table (summed)",
    )[0].row(0, named=True)

    def numbers() -> tuple[dict[str, float], list[str]]:
        return checked, []

    presence = stats("presence")
    # the models number the channels their paths use: the statistics' codes are theirs only
    # when every channel of the state is used
    every = presence is not None and presence.height == len(channels)

    def fit(run: ModelRun) -> PathModel | None:
        from attribution.models._markov import MarkovModel
        from attribution.models._shapley import ShapleyModel

        estimator = _estimator(run)
        if estimator is None or not every:
            return None
        if isinstance(estimator, MarkovModel):
            name = _markov_name(estimator)
            edges, ends = stats(f"{name}-edges"), stats(f"{name}-ends")
            if edges is None or ends is None:
                return None
            totals, notes = numbers()
            nulls = totals["nulls"] if estimator.use_nulls else 0.0
            weighted = edges.height > 0
            estimator._fit_counts(
                (edges, ends) if weighted else None,
                channels,
                conversions=float(totals["conversions"]),
                value=float(totals["value"]),
                nulls=float(nulls),
                notes=notes,
            )
            return estimator
        assert isinstance(estimator, ShapleyModel)
        coalitions = stats("shapley")
        if coalitions is None or len(channels) > _MASK_BITS:
            return None
        totals, notes = numbers()
        estimator._fit_coalitions(
            coalitions,
            channels,
            conversions=float(totals["conversions"]),
            value=float(totals["value"]),
            notes=notes,
        )
        return estimator

    return fit
