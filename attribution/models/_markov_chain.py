"""The Markov chain as data: coded states, their labels and the transition counts.

A state is the tuple of the last (up to) ``order`` channels of a path, coded as one int64
(lag ``j`` is digit ``j`` in base ``len(channels) + 1``), so the whole chain is built by Polars
queries over integer columns: no per-path or per-state Python loop. The absorption solve and
the removal effects on top of it are :mod:`attribution.models._markov`.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse import csgraph

from attribution._runs import run_end, run_start

START: Final = "start"
CONVERSION: Final = "conversion"
NULL: Final = "null"
SEPARATOR: Final = " > "

# Integer codes of the special states; channel states have codes >= 1.
START_CODE: Final = -1
CONVERSION_CODE: Final = -2
NULL_CODE: Final = -3
#: state codes stay below this (int64 with room for the digit arithmetic)
MAX_CODE: Final = 2**62


def check_channel_names(channels: list[str], order: int, owner: str) -> None:
    """Refuse channel names that would collide with the special states or the labels."""
    reserved = sorted({START, CONVERSION, NULL} & set(channels))
    if reserved:
        raise ValueError(
            f"{owner} reserves the state names {[START, CONVERSION, NULL]}; the paths use "
            f"{reserved} as channel names. Rename these channels first."
        )
    if order > 1:
        clash = [c for c in channels if SEPARATOR in c]
        if clash:
            raise ValueError(
                f"{owner} with order > 1 labels states by joining channels with "
                f"{SEPARATOR!r}; the channel names {clash[:5]} contain it. Rename them."
            )


def _collapse_and_flag(exploded: pl.LazyFrame, collapse: bool) -> pl.LazyFrame:
    """Drop consecutive repeats (optional) and flag each path's first and last touch.

    ``exploded`` holds ``pid`` and ``ch`` with each path's rows contiguous and in order,
    so row shifts compared on ``pid`` stand in for windows over paths.
    """
    if collapse:
        keep = run_start(pl.col("pid")) | (pl.col("ch") != pl.col("ch").shift(1))
        exploded = exploded.filter(keep)
    return exploded.with_columns(
        run_start(pl.col("pid")).alias("first"), run_end(pl.col("pid")).alias("last")
    )


def state_code(order: int, base: int) -> pl.Expr:
    """The tuple of the last (up to) ``order`` channels of each row as an int64.

    Lag ``j`` (0 = current channel) is digit ``j`` in base ``base``, holding ``channel + 1``
    (0 means "before the path started"), so shorter early-path tuples get distinct codes.
    Rows hold ``pid`` and ``ch`` with each path's rows contiguous and in order.
    """
    code = pl.col("ch").cast(pl.Int64) + 1
    for j in range(1, order):
        same_path = pl.col("pid").shift(j) == pl.col("pid")
        lag = pl.when(same_path).then(pl.col("ch").shift(j).cast(pl.Int64) + 1).otherwise(0)
        code = code + lag * (base**j)
    return code


def decode(codes: np.ndarray, order: int, base: int) -> np.ndarray:
    """Channel index per (state, slot), slots oldest first; -1 where the slot is empty."""
    digits = np.empty((codes.size, order), dtype=np.int64)
    positive = np.where(codes > 0, codes, 0)
    for j in range(order):
        digits[:, order - 1 - j] = (positive // base**j) % base - 1
    return digits


def state_labels(digits: np.ndarray, channels: list[str]) -> pl.DataFrame:
    """State label ('a > b') and channel list for decoded states, vectorised."""
    names = np.asarray(channels + [""], dtype=object)  # index -1 picks the blank
    cols = [
        pl.Series(f"s{j}", names[digits[:, j]], dtype=pl.String).replace("", None)
        for j in range(digits.shape[1])
    ]
    frame = pl.DataFrame(cols)
    return frame.select(
        pl.concat_str(pl.all(), separator=SEPARATOR, ignore_nulls=True).alias("state"),
        pl.concat_list(pl.all()).list.drop_nulls().alias("channels"),
    )


def reachable(adjacency: sp.csr_matrix, sources: np.ndarray) -> np.ndarray:
    """States from which some source state can be reached (sources included)."""
    n = adjacency.shape[0]
    if not sources.any():
        return np.zeros(n, dtype=bool)
    reverse = adjacency.T.tocsr()
    # A virtual root pointing at every source turns many-source search into one BFS.
    root = sp.csr_matrix(
        (
            np.ones(int(sources.sum())),
            (np.zeros(int(sources.sum()), dtype=np.int64), np.flatnonzero(sources)),
        ),
        shape=(1, n),
    )
    graph = sp.vstack(
        [sp.hstack([reverse, sp.csr_matrix((n, 1))]), sp.hstack([root, sp.csr_matrix((1, 1))])]
    ).tocsr()
    order = csgraph.breadth_first_order(graph, n, directed=True, return_predecessors=False)
    seen = np.zeros(n + 1, dtype=bool)
    seen[order] = True
    return seen[:n]


def transition_counts(
    touches: pl.DataFrame,
    numbers: pl.DataFrame,
    order: int,
    base: int,
    collapse: bool,
    *,
    signed: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Transition counts and per-state exits, from coded paths.

    ``touches`` holds ``pid``, ``ch`` (paths contiguous, in order; only paths of positive
    weight, which alone make states) and ``numbers`` one row per path: ``weight``
    (conversions + nulls), ``conversions``, ``nulls``, ``value``.
    Returns ``edges`` (``from``, ``to``, ``count`` > 0, state codes with the special codes of
    start / conversion / null) and ``ends`` (``state``, ``conv``, ``value``: the conversions
    and value of the paths ending in each state), all in Polars: at 10M touches NumPy
    temporaries of this size cost more than the work itself on the VMs here. ``signed``:
    the numbers may be negative (paths taken away, as the incremental state's updates do),
    so the edges kept are those with a count other than 0.
    """
    # One lazy query: Polars computes the flagged rows once and never materialises the
    # 8M-row parts (0.12 s instead of 0.25 s at 10M touches).
    rows = (
        _collapse_and_flag(touches.lazy(), collapse)
        .select("pid", "first", "last", state_code(order, base).alias("state"))
        .with_columns(pl.col("state").shift(-1).alias("next"))
    )
    inner = rows.filter(~pl.col("last"))
    firsts = rows.filter(pl.col("first"))
    lasts = rows.filter(pl.col("last"))

    def per_path(column: str, name: str = "count") -> pl.Expr:
        return pl.lit(numbers.get_column(column)).gather(pl.col("pid")).alias(name)

    i64 = pl.Int64
    parts = [
        inner.select(pl.col("state").alias("from"), pl.col("next").alias("to"), per_path("weight")),
        firsts.select(
            pl.lit(START_CODE, i64).alias("from"), pl.col("state").alias("to"), per_path("weight")
        ),
        lasts.select(
            pl.col("state").alias("from"),
            pl.lit(CONVERSION_CODE, i64).alias("to"),
            per_path("conversions"),
        ),
        lasts.select(
            pl.col("state").alias("from"), pl.lit(NULL_CODE, i64).alias("to"), per_path("nulls")
        ),
    ]
    edges = (
        pl.concat(parts)
        .group_by("from", "to")
        .agg(pl.col("count").sum())
        .filter(pl.col("count") != 0 if signed else pl.col("count") > 0)
        .sort("from", "to")
    )
    ends = (
        lasts.select("state", per_path("conversions", "conv"), per_path("value", "value"))
        .group_by("state")
        .agg(pl.col("conv").sum(), pl.col("value").sum())
    )
    edge_counts, exits = pl.collect_all([edges, ends])
    return edge_counts, exits


STATES_SCHEMA: Final[dict[str, Any]] = {
    "state": pl.String,
    "kind": pl.String,
    "channels": pl.List(pl.String),
    "conversion_probability": pl.Float64,
    "end_conversion_rate": pl.Float64,
}


def absorbing_states() -> pl.DataFrame:
    """The ``conversion`` and ``null`` rows of ``MarkovModel.states_``."""
    return pl.DataFrame(
        {
            "state": [CONVERSION, NULL],
            "kind": [CONVERSION, NULL],
            "channels": [[], []],
            "conversion_probability": [1.0, 0.0],
            "end_conversion_rate": [None, None],
        },
        schema=STATES_SCHEMA,
    )
