"""The per-touch outputs of a partitioned run, kept on disk: never the whole run in memory.

What grows with the whole log rather than with one partition is written partition by
partition and read back in pieces:

- **touch credit**: each partition's wide table (a row per journey touch, a
  ``credit:<model>`` column per model, :mod:`attribution.engine._credit_table`) is one work
  file; ``touch_credit.parquet`` is a streaming concatenation of them (the long layout is
  streamed from them model by model).
- **campaign influence** (one row per opportunity, model and campaign: about 60M rows at
  100M touches): each partition's campaign rows (:class:`CampaignRows`) go to work files by
  *range* of the run's sorted opportunity ids (:class:`InfluenceBuckets`); each range is
  then built on its own with the library's :func:`campaign_influence` (or its wide layout,
  ``RunOptions.influence_layout``). The ranges are
  contiguous in the sorted ids, so their outputs one after the other are in the order of
  the in-memory export (by opportunity, model, campaign). Several conversions of one
  opportunity (at contact level, the contacts on a deal) may be in different partitions:
  they meet in their range.

Peak memory is then that of one partition (or one range), plus the merged path table and
one row per conversion. The work files (:func:`write_work`) are Arrow IPC without
compression, as the split's partitions: read back whole once, they cost least that way
(10M touches in 8 partitions: pass 2 1.58-1.75 -> 1.25-1.35 s of CPU against Parquet with
lz4, the campaign influence 0.53-0.62 -> 0.44-0.46).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from attribution.b2b._influence import (
    CAMPAIGN_INFLUENCE_SCHEMA,
    empty_wide_influence,
    influence_codes,
    long_influence,
)
from attribution.engine._campaign_credit import CampaignRows
from attribution.engine._credit_table import credit_column, empty_table
from attribution.engine._files import RunFiles
from attribution.engine._partition_pool import in_order
from attribution.engine._result import TOUCH_CREDIT_SCHEMA
from attribution.journeys._journeys import TOUCH_KEY_COLUMNS

__all__ = [
    "InfluenceBuckets",
    "StreamedOutputs",
    "read_wide",
    "read_work",
    "write_work",
]

#: Conversions per opportunity range of the influence export (at 100M touches about 4M
#: influence rows a range).
CONVERSIONS_PER_RANGE = 50_000
_INDEX = pl.UInt32()


def write_work(frame: pl.DataFrame, path: Path) -> Path:
    """A work file (``path`` with the suffix ``.arrow``): read back whole once, so Arrow IPC
    without compression, as the split's partition files."""
    path = path.with_suffix(".arrow")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_ipc(path, compression="uncompressed")
    return path


def read_work(files: Path | Sequence[Path]) -> pl.DataFrame:
    """Work files written by :func:`write_work`, one after the other."""
    return scan_work(files).collect()


def scan_work(files: Path | Sequence[Path]) -> pl.LazyFrame:
    """Work files written by :func:`write_work`, one after the other, as a query."""
    return pl.scan_ipc(files if isinstance(files, Path) else list(files), hive_partitioning=False)


def read_wide(files: Sequence[Path], labels: Sequence[str]) -> pl.DataFrame:
    """The wide touch credit of every partition, one after the other."""
    if not files:
        return empty_table(labels)
    return read_work(files)


def _long_scan(files: Sequence[Path], labels: Sequence[str]) -> pl.LazyFrame:
    """The long layout of the wide work files, model after model (each over every
    partition in turn), as :func:`~attribution.engine._credit_table.long_touch_credit`."""
    scan = scan_work(files)
    return pl.concat(
        [
            scan.select(
                *TOUCH_KEY_COLUMNS,
                pl.lit(label).alias("model"),
                pl.col(credit_column(label)).alias("credit"),
                (pl.col(credit_column(label)) * pl.col("conversion_value")).alias("value"),
            ).cast(TOUCH_CREDIT_SCHEMA)
            for label in labels
        ]
    )


class InfluenceBuckets:
    """The campaign influence export built by ranges of the run's sorted opportunity ids.

    ``conversions``: the run's conversions (``conversion_id``, ``value``, and
    ``opportunity_id`` when the stages had one); ``labels``: the run's models in order (the
    ``_model`` codes of the campaign rows); ``pairs``: the (``channel``, ``campaign``) pairs
    of the run's journey touches (any repeats, from every partition); ``directory``: where
    the work files go. The work files hold codes only: the conversion's row in
    ``conversions``, the model and the pair (coded in the order of the campaign, then the
    channel, as :class:`CampaignRows` codes them), and the credit."""

    def __init__(
        self,
        conversions: pl.DataFrame,
        labels: Sequence[str],
        pairs: pl.DataFrame,
        directory: Path,
    ) -> None:
        self.conversions, self.labels, self.directory = conversions, list(labels), directory
        self.layout = "long"
        opportunity = (
            pl.col("opportunity_id").cast(pl.String)
            if "opportunity_id" in conversions.columns
            else pl.lit(None, pl.String)
        )
        keyed = conversions.select(
            "conversion_id", pl.coalesce(opportunity, pl.col("conversion_id")).alias("_key")
        )
        names = keyed.select("_key").unique().sort("_key")
        self.ranges = max(1, -(-conversions.height // CONVERSIONS_PER_RANGE))
        per_range = max(1, -(-names.height // self.ranges))
        ranges = names.with_columns((pl.int_range(pl.len()) // per_range).cast(_INDEX).alias("_r"))
        #: each conversion's range and global number (its row in ``conversions``)
        self.of_conversion = (
            keyed.with_row_index("_g")
            .join(ranges, on="_key", how="left")
            .select("conversion_id", pl.col("_g").cast(_INDEX), "_r")
        )
        self.pairs = (
            pairs.select("channel", "campaign")
            .unique()
            .sort("campaign", "channel")
            .with_row_index("_pair")
            .with_columns(pl.col("_pair").cast(_INDEX))
        )
        self.outputs: list[Path] = []

    def add(self, rows: CampaignRows, part: int) -> None:
        """One partition's campaign rows, written to the work files of their ranges (its
        conversion and pair codes made the run's). The rows are kept wide: one per
        conversion and pair, a credit column ``c<i>`` per model (13x fewer rows than one per
        model at 13 models)."""
        wide = rows.wide if rows.wide is not None else _wide_of_codes(rows.codes, self.labels)
        if wide.height == 0:
            return
        # the partition's codes are 0..n-1: each one's run-wide code by position
        located = rows.conversions.sort("_conv").join(
            self.of_conversion, on="conversion_id", how="left", maintain_order="left"
        )
        pair_of = (
            rows.pairs.sort("_pair")
            .join(self.pairs, on=["channel", "campaign"], how="left", maintain_order="left",
                  nulls_equal=True)
            .get_column("_pair_right")
        )  # fmt: skip
        conv = wide.get_column("_conv")
        frame = pl.DataFrame(
            [
                located.get_column("_r").gather(conv).alias("_r"),
                located.get_column("_g").gather(conv).alias("_g"),
                pair_of.gather(wide.get_column("_pair")).alias("_pair"),
                *(wide.get_column(f"c{i}") for i in range(len(self.labels))),
            ]
        )
        for (r,), piece in frame.partition_by("_r", as_dict=True, include_key=False).items():
            write_work(piece, self.directory / "rows" / f"{r:05d}" / f"{part:05d}.arrow")

    def build(self, layout: str = "long") -> list[Path]:
        """Each range's influence rows in ``layout`` (``RunOptions.influence_layout``: the
        file's), written to a work file; the files in order (at least one: without rows, an
        empty one of the layout's columns)."""
        self.layout = layout
        models = pl.DataFrame(
            {"_model": range(len(self.labels)), "model": self.labels},
            schema={"_model": _INDEX, "model": pl.String},
        )
        conversion_ids = self.conversions.get_column("conversion_id")

        def one(r: int) -> Path | None:
            folder = self.directory / "rows" / f"{r:05d}"
            files = sorted(folder.glob("*.arrow")) if folder.is_dir() else []
            if not files:
                return None
            frame = read_work(files)
            # the range's conversions numbered 0..n-1 in the order of their run-wide
            # number; rows by conversion, then pair, as CampaignRows.wide has them
            wide = frame.select(
                (pl.col("_g").rank("dense") - 1).cast(_INDEX).alias("_conv"),
                "_pair",
                *(f"c{i}" for i in range(len(self.labels))),
            ).sort("_conv", "_pair", maintain_order=True)
            numbers = frame.get_column("_g").unique().sort()
            del frame
            rows = CampaignRows(
                None,
                models,
                pl.DataFrame(
                    {
                        "_conv": pl.int_range(numbers.len(), dtype=_INDEX, eager=True),
                        "conversion_id": conversion_ids.gather(numbers),
                    }
                ),
                self.pairs,
                wide=wide,
            )
            codes = influence_codes(rows, self.conversions)
            influence = codes.wide() if layout == "wide" else codes.long()
            del rows, wide, codes
            return write_work(influence, self.directory / "out" / f"{r:05d}.arrow")

        # two ranges at a time (threads), the files in range order
        self.outputs = [path for path in in_order(one, self.ranges) if path is not None]
        if not self.outputs:  # no row: the file still has the layout's columns
            empty = (
                empty_wide_influence(self.labels)
                if layout == "wide"
                else pl.DataFrame(schema=CAMPAIGN_INFLUENCE_SCHEMA)
            )
            self.outputs.append(write_work(empty, self.directory / "out" / "empty.arrow"))
        return self.outputs

    def read(self) -> pl.DataFrame:
        """The whole export (for :func:`attribute_partitioned`, which returns it in memory)."""
        if not self.outputs:
            return pl.DataFrame(schema=CAMPAIGN_INFLUENCE_SCHEMA)
        if self.layout == "wide":  # the long rows of each range, in turn
            return pl.concat(
                [long_influence(read_work(f)) for f in self.outputs], how="vertical"
            )
        return read_work(self.outputs)


def _wide_of_codes(codes: pl.DataFrame, labels: Sequence[str]) -> pl.DataFrame:
    """Long campaign codes (a row per model, conversion and pair) as wide rows."""
    model = pl.col("_model")
    return (
        codes.group_by("_conv", "_pair")
        .agg(
            pl.col("credit").filter(model == i).sum().alias(f"c{i}") for i in range(len(labels))
        )
        .sort("_conv", "_pair")
    )


class StreamedOutputs:
    """Writes ``touch_credit.parquet`` (wide or long) and ``campaign_influence.parquet`` of a
    partitioned run from its work files, streaming (``also=`` of
    :meth:`AttributionResult.write`, which writes neither itself)."""

    def __init__(
        self,
        wide: Sequence[Path],
        labels: Sequence[str],
        layout: str,
        influence: Sequence[Path] | None,
    ) -> None:
        self.wide, self.labels, self.layout = list(wide), list(labels), layout
        self.influence = None if influence is None else list(influence)

    def write(self, directory: Path) -> None:
        target = directory / RunFiles.TOUCH_CREDIT
        if not self.wide:
            empty = empty_table(self.labels)
            if self.layout == "long":
                empty = pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA)
            empty.write_parquet(target)
        else:
            scan = (
                scan_work(self.wide)
                if self.layout == "wide"
                else _long_scan(self.wide, self.labels)
            )
            scan.sink_parquet(target, compression="zstd", compression_level=1)
        if self.influence is None:  # the touches carry no campaign: no file, as in memory
            return
        target = directory / RunFiles.CAMPAIGN_INFLUENCE
        if self.influence:
            scan_work(self.influence).sink_parquet(
                target, compression="zstd", compression_level=1
            )
        else:
            pl.DataFrame(schema=CAMPAIGN_INFLUENCE_SCHEMA).write_parquet(target)
