"""Writing a synthetic world to files with bounded memory.

Blocks are generated chunk by chunk and appended to one file per table (Parquet or CSV) under
temporary names; the files are renamed into place when all are complete, ``truth.json`` last.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from attribution.datasets._block import block_sizes, draw_blocks
from attribution.datasets._calibration import make_params
from attribution.datasets._frames import assemble
from attribution.datasets._holdout import experiments_table
from attribution.datasets._spend import spend_table
from attribution.datasets._truth import Truth
from attribution.datasets._world import BLOCK_TOUCHES, TABLES
from attribution.engine._files import write_json_atomic

__all__ = ["write_synthetic"]

_KWARGS = {"start", "days", "conversion_rate", "holdout", "holdout_share", "holdout_applied"}


def write_synthetic(
    out_dir: str | os.PathLike[str],
    n_touches: int,
    *,
    seed: int = 7,
    shuffle: bool = True,
    fmt: Literal["parquet", "csv"] = "parquet",
    chunk_touches: int = 5_000_000,
    **kwargs: Any,
) -> dict[str, Path]:
    """Generate a synthetic world and write it to ``out_dir`` with bounded memory.

    Blocks of accounts are generated independently (each seeded from ``(seed, block)``)
    and appended chunk by chunk (``chunk_touches`` touches at a time, rounded to whole
    blocks of 36,000) to one file per table. Files are written under temporary names in
    ``out_dir`` and renamed when all are complete.

    Parameters
    ----------
    out_dir : str or PathLike
        Directory to write to (created if missing); existing files of the same names are
        replaced.
    n_touches : int
        Exact number of marketing touch rows (sales follow-up touches come on top).
    seed : int, default 7
        Same seed, byte-identical files.
    shuffle : bool, default True
        Touch rows in random order within each chunk; ``False`` sorts each chunk's touches
        by timestamp (so the whole file is sorted when there is a single chunk).
    fmt : {"parquet", "csv"}, default "parquet"
        File format of the seven tables (``truth.json`` is always JSON).
    chunk_touches : int, default 5_000_000
        Touches per chunk (rounded to whole blocks). One chunk is generated while the
        previous one is written, so peak memory is about two chunks: ~1.8 GB at 5M, ~0.5 GB
        at 1M, whatever ``n_touches`` is. The set of rows does not depend on it; their order
        does (touches are shuffled, or sorted, within each chunk).
    **kwargs
        ``start``, ``days``, ``conversion_rate``, ``holdout``, ``holdout_share`` and
        ``holdout_applied``, as in :func:`synthesize`.

    Returns
    -------
    dict of str to Path
        ``accounts``, ``contacts``, ``touches``, ``stages``, ``spend``, ``surveys``,
        ``subscriptions`` and ``truth`` paths; with a holdout also ``experiments``
        (``experiments.csv``, always CSV: the experiments input table).

    Examples
    --------
    >>> import tempfile
    >>> from attribution.datasets import write_synthetic
    >>> paths = write_synthetic(tempfile.mkdtemp(), 5_000, seed=3)
    >>> sorted(paths)
    ['accounts', 'contacts', 'spend', 'stages', 'subscriptions', 'surveys', 'touches', 'truth']
    """
    unknown = set(kwargs) - _KWARGS
    if unknown:
        raise TypeError(
            f"write_synthetic() got unexpected keyword arguments {sorted(unknown)}; "
            f"accepted: {sorted(_KWARGS)}"
        )
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv'. Got {fmt!r} instead.")
    if isinstance(chunk_touches, bool) or not isinstance(chunk_touches, int) or chunk_touches < 1:
        raise ValueError(f"chunk_touches must be a positive int. Got {chunk_touches!r} instead.")
    params = make_params(
        n_touches,
        seed,
        kwargs.get("start", "2025-01-01"),
        kwargs.get("days", 365),
        kwargs.get("conversion_rate", 0.04),
        kwargs.get("holdout", ()),
        kwargs.get("holdout_share", 0.25),
        kwargs.get("holdout_applied", True),
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sizes = block_sizes(params.n_touches)
    per_chunk = max(1, chunk_touches // BLOCK_TOUCHES)
    truth = Truth(params, len(sizes))
    final = {name: out / f"{name}.{fmt}" for name in TABLES}
    final["truth"] = out / "truth.json"
    tag = f"{os.getpid()}.{uuid.uuid4().hex[:8]}"
    tmp = {name: final[name].with_name(f".{name}.{fmt}.{tag}.tmp") for name in TABLES}
    writers = {name: TableWriter(tmp[name], fmt) for name in TABLES}
    won = 0
    # One background thread writes chunk k (compression, I/O: the GIL is released) while
    # chunk k + 1 is generated; at most two chunks are in memory at once.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synth-writer")
    pending: Future[None] | None = None

    def write_all(frames: dict[str, pl.DataFrame]) -> None:
        for name, frame in frames.items():
            writers[name].write(frame)

    try:
        for chunk, first in enumerate(range(0, len(sizes), per_chunk)):
            blocks = draw_blocks(params, first, min(per_chunk, len(sizes) - first), sizes)
            truth.add(blocks)
            frames = assemble(blocks, params, chunk, shuffle)
            del blocks
            won += int(frames["stages"].get_column("stage").eq("closed_won").sum())
            if pending is not None:
                pending.result()
            pending = pool.submit(write_all, frames)
            del frames
        if pending is not None:
            pending.result()
        spend = spend_table(params, int(truth.sums["accounts"]))
        writers["spend"].write(spend)
        for w in writers.values():
            w.close()
        summary = truth.result(spend, won)
        if "experiments" in summary:
            final["experiments"] = out / "experiments.csv"
            tmp["experiments"] = out / f".experiments.csv.{tag}.tmp"
            experiments_table(summary["experiments"]).write_csv(tmp["experiments"])
        else:  # a world without tests must not leave an older world's tests beside it
            (out / "experiments.csv").unlink(missing_ok=True)
        for name in tmp:
            os.replace(tmp[name], final[name])
        # truth.json last: its presence means the set is complete
        write_json_atomic(final["truth"], summary)
    except BaseException:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                pending.result()
        for w in writers.values():
            with contextlib.suppress(Exception):
                w.close()
        for path in tmp.values():
            path.unlink(missing_ok=True)
        raise
    finally:
        pool.shutdown(wait=True)
    return final


_UNIQUE_COLUMNS = frozenset(
    {"touch_id", "timestamp", "cost", "value", "amount", "employees", "mrr"}
)


class TableWriter:
    """Appends frames to one Parquet or CSV file."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        self._pq: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._csv: Any = None

    def write(self, frame: pl.DataFrame) -> None:
        if self.fmt == "parquet":
            # String views convert from Polars without a copy; without the stored Arrow
            # schema, every reader sees plain strings (and UTC timestamps) in the file.
            table = frame.to_arrow(compat_level=pl.CompatLevel.newest())
            if self._pq is None:
                self._schema = table.schema
                self._pq = pq.ParquetWriter(
                    self.path,
                    self._schema,
                    compression="zstd",
                    store_schema=False,
                    use_dictionary=[c for c in table.column_names if c not in _UNIQUE_COLUMNS],
                )
            elif table.schema != self._schema:
                table = table.cast(self._schema)
            self._pq.write_table(table)
        else:
            if self._csv is None:
                self._csv = open(self.path, "wb")  # noqa: SIM115 - closed in close()
                frame.write_csv(self._csv, include_header=True)
            else:
                frame.write_csv(self._csv, include_header=False)

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
            self._pq = None
        if self._csv is not None:
            self._csv.close()
            self._csv = None
