"""Runs: per-group positions and boundaries on rows already sorted by the group key.

On sorted rows a window such as ``int_range(len()).over(key)`` needs no hashing of the key:
comparing each row with its neighbour finds the runs. Over 67k conversion ids (strings) the
windows took 0.1 s; runs take a few milliseconds, and over 10M touches the gap is wider.
"""

from __future__ import annotations

import polars as pl

__all__ = ["position_in_run", "run_end", "run_start"]


def run_start(expr: pl.Expr) -> pl.Expr:
    """True where a run of equal values starts, for rows sorted by ``expr``."""
    return (expr != expr.shift(1)).fill_null(True)


def run_end(expr: pl.Expr) -> pl.Expr:
    """True where a run of equal values ends, for rows sorted by ``expr``."""
    return (expr != expr.shift(-1)).fill_null(True)


def position_in_run(start: pl.Expr) -> pl.Expr:
    """0-based position of each row in its run (``start`` from :func:`run_start`): on rows
    sorted by the key, ``int_range(len()).over(key)``."""
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    return row - pl.when(start).then(row).forward_fill()
