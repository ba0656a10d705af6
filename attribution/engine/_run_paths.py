"""A stored run read back: its path table, which the scorer's data-driven models fit on."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from attribution.engine._files import RunFiles
from attribution.engine._result import PATH_TABLE_SCHEMA
from attribution.exceptions import InputError
from attribution.inputs._separator import STORED_SEPARATOR

__all__ = ["read_run_paths"]


def read_run_paths(run_dir: str | Path) -> pl.DataFrame:
    """The path table of a stored run (``<run_dir>/paths.parquet``), ready to fit on.

    The run directory stores ``path`` as ``"a > b"`` text (channels joined by ``" > "``; no
    channel name holds ``>``); it is split on exactly that into ``list[str]``, so a channel's
    own spaces survive.

    Raises
    ------
    InputError
        The run has no readable ``paths.parquet``.
    """
    file = Path(run_dir) / RunFiles.PATHS
    try:
        frame = pl.read_parquet(file)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"cannot read the run's path table: {exc}", table="paths",
                         source=str(file)) from exc
    missing = [c for c in PATH_TABLE_SCHEMA if c not in frame.columns]
    if missing:
        raise InputError(f"the run's path table lacks {missing}", table="paths", source=str(file))
    return frame.select(
        pl.col("path").cast(pl.String).str.split(STORED_SEPARATOR),
        *(pl.col(c).cast(pl.Float64) for c in ("conversions", "nulls", "value")),
    )
