"""What a run returns: :class:`AttributionResult`, its table schemas, and the run directory
it writes."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import networkx as nx
import polars as pl

from attribution.engine._empty import require_conversions
from attribution.engine._files import RunFiles, atomic_directory, write_json_atomic
from attribution.inputs._separator import STORED_SEPARATOR

__all__ = [
    "CAMPAIGN_CREDIT_SCHEMA",
    "CAMPAIGN_SUMS_SCHEMA",
    "CHANNEL_CREDIT_SCHEMA",
    "CONVERSION_CAMPAIGNS_SCHEMA",
    "PATH_TABLE_SCHEMA",
    "SUMS_SCHEMA",
    "TOUCH_CREDIT_SCHEMA",
    "AttributionResult",
    "empty",
]

CHANNEL_CREDIT_SCHEMA = pl.Schema(
    {
        "model": pl.String(),
        "channel": pl.String(),
        "conversions": pl.Float64(),
        "value": pl.Float64(),
        "share": pl.Float64(),
    }
)
TOUCH_CREDIT_SCHEMA = pl.Schema(
    {
        "conversion_id": pl.String(),
        "touch_id": pl.String(),
        "contact_id": pl.String(),
        "account_id": pl.String(),
        "channel": pl.String(),
        "timestamp": pl.Datetime("us", "UTC"),
        "model": pl.String(),
        "credit": pl.Float64(),
        "value": pl.Float64(),
    }
)
PATH_TABLE_SCHEMA = pl.Schema(
    {
        "path": pl.List(pl.String()),
        "conversions": pl.Float64(),
        "nulls": pl.Float64(),
        "value": pl.Float64(),
    }
)
#: Credit per model, channel and campaign (``campaign_credit.parquet``): ``conversions`` the
#: summed touch credit, ``share`` within the model, ``channel_share`` within the channel.
CAMPAIGN_CREDIT_SCHEMA = pl.Schema(
    {
        "model": pl.String(),
        "channel": pl.String(),
        "campaign": pl.String(),
        "conversions": pl.Float64(),
        "value": pl.Float64(),
        "share": pl.Float64(),
        "channel_share": pl.Float64(),
    }
)
#: Touch credit per conversion, model, channel and campaign (what campaign credit and the
#: campaign influence export aggregate).
CONVERSION_CAMPAIGNS_SCHEMA = pl.Schema(
    {
        "conversion_id": pl.String(),
        "model": pl.String(),
        "channel": pl.String(),
        "campaign": pl.String(),
        "credit": pl.Float64(),
        "value": pl.Float64(),
    }
)
#: An additive partial of campaign credit (partitions and Spark tasks sum these).
CAMPAIGN_SUMS_SCHEMA = pl.Schema(
    {
        "model": pl.String(),
        "channel": pl.String(),
        "campaign": pl.String(),
        "credit": pl.Float64(),
        "value": pl.Float64(),
    }
)
#: An additive partial of rule-based channel credit: per model and channel, the sums of the
#: touch ``credit`` and ``value`` (partitioned and Spark runs merge these).
SUMS_SCHEMA = pl.Schema(
    {"model": pl.String(), "channel": pl.String(), "credit": pl.Float64(), "value": pl.Float64()}
)


def empty(schema: pl.Schema) -> pl.DataFrame:
    """An empty frame of ``schema``."""
    return pl.DataFrame(schema=schema)


@dataclass
class AttributionResult:
    """What :func:`attribute` and :func:`attribute_paths` return.

    Attributes
    ----------
    channel_credit : pl.DataFrame
        ``model``, ``channel``, ``conversions``, ``value``, ``share`` (share of the model's
        attributed conversions).
    touch_credit : pl.DataFrame
        ``conversion_id``, ``touch_id``, ``contact_id``, ``account_id``, ``channel``,
        ``timestamp``, ``model``, ``credit``, ``value`` (credit x conversion value). Empty for
        path tables.
    manifest : dict
        Run id, inputs, parameters, models, timings and reconciliation counts.
    conversions : pl.DataFrame
        One row per conversion, with ``n_touches`` (0 = unattributed) and milestone times.
    paths : pl.DataFrame
        The path table (``path`` as a list of channels, ``conversions``, ``nulls``, ``value``):
        the journeys the data-driven models are fitted on, identical paths summed. From
        :func:`attribute` it is built on first access (the models fit on the same journeys,
        coded as integers); until then the result holds the journeys.
    extras : dict of str to pl.DataFrame
        Model extras (e.g. removal effects), written to the run directory as Parquet.
    graphs : dict of str to networkx.DiGraph
        Fitted transition graphs (Markov), written as GraphML and node-link JSON.
    accounts : pl.DataFrame
        Account level only (else empty): one row per account with contacts engaged,
        buying-committee coverage, engagement score and hot / warm / cold tier, and its
        conversions. See :mod:`attribution.b2b._accounts` for every column.
    account_credit : pl.DataFrame
        Account level only: per account, conversion (opportunity) and model, credit and value
        by ``dimension`` (``channel``, ``contact``, ``role``) and ``key``, in long form.
    pipeline : pl.DataFrame
        Account level only: sourced vs influenced deals, pipeline and revenue by channel
        (``measure`` = ``sourced`` sums to 100%; ``influenced`` does not, and says so).
    campaign_credit : pl.DataFrame
        When the touches carry a ``campaign`` column (else empty), under every ``key``: per
        model, channel and campaign the summed touch credit (``conversions``), credited
        ``value``, ``share`` of the model's conversions and ``channel_share`` of its
        channel's; ``(none)`` holds the touches without a campaign. Its ``conversions`` sum
        to the model's attributed conversions.
    campaign_influence : pl.DataFrame
        With campaigns (not on Spark): the CRM campaign-influence rows, one per opportunity,
        model and campaign (``credit_share`` sums to 1 per opportunity and model,
        ``revenue_share`` to the opportunity's amount); see
        :func:`attribution.b2b._campaigns.campaign_influence`.
    """

    channel_credit: pl.DataFrame
    touch_credit: pl.DataFrame
    manifest: dict[str, Any]
    conversions: pl.DataFrame = field(default_factory=pl.DataFrame)
    # the path table; may be given as a function that builds it (see _get_paths below)
    paths: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=PATH_TABLE_SCHEMA), repr=False
    )
    extras: dict[str, pl.DataFrame] = field(default_factory=dict)
    graphs: dict[str, Any] = field(default_factory=dict)
    accounts: pl.DataFrame = field(default_factory=pl.DataFrame)
    account_credit: pl.DataFrame = field(default_factory=pl.DataFrame)
    pipeline: pl.DataFrame = field(default_factory=pl.DataFrame)
    campaign_credit: pl.DataFrame = field(default_factory=pl.DataFrame)
    campaign_influence: pl.DataFrame = field(default_factory=pl.DataFrame)

    def require_conversions(self) -> AttributionResult:
        """This result, or :class:`~attribution.EmptyResultError` saying why no conversion
        was attributed (the stage names found, a did-you-mean against the conversion stage,
        the touches outside the lookback) unless the run's options allow it
        (``allow_empty``)."""
        require_conversions(self.manifest)
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_paths"] = self.paths  # a pending builder does not pickle: build it first
        return state

    def write(
        self,
        runs_dir: str | Path,
        *,
        run_id: str | None = None,
        also: Sequence[Any] = (),
        report: bool = True,
    ) -> Path:
        """Write the run directory ``runs_dir/<run_id>`` atomically and return its path.

        Files: ``manifest.json``, ``channel_credit.parquet``, ``touch_credit.parquet``,
        ``conversions.parquet``, ``paths.parquet``, one Parquet file per extra, at account
        level ``accounts.parquet``, ``account_credit.parquet`` and ``pipeline.parquet``,
        ``campaign_credit.parquet`` and ``campaign_influence.parquet`` when the touches carry
        campaigns, and
        whatever the objects in ``also`` write (each has ``.write(directory)``, e.g. a survey
        benchmark), and last ``report.html``, the self-contained report of everything written
        (``report=False`` skips it: about 0.6 s and 1 MB, half of it the packed plotly.js).
        """
        run_id = run_id or self.manifest["run_id"]
        final = Path(runs_dir) / run_id
        with atomic_directory(final) as tmp:
            self.channel_credit.write_parquet(tmp / RunFiles.CHANNEL_CREDIT)
            # the largest file (8.9M rows at 10M touches, 13 models): zstd level 1 writes it
            # in 1.14 s instead of 1.30 s (level 3) for a file 3% larger
            self.touch_credit.write_parquet(
                tmp / RunFiles.TOUCH_CREDIT, compression="zstd", compression_level=1
            )
            if self.conversions.width:
                self.conversions.write_parquet(tmp / RunFiles.CONVERSIONS)
            self.paths.with_columns(pl.col("path").list.join(STORED_SEPARATOR)).write_parquet(
                tmp / RunFiles.PATHS
            )
            for file, frame in (
                (RunFiles.ACCOUNTS, self.accounts),
                (RunFiles.ACCOUNT_CREDIT, self.account_credit),
                (RunFiles.PIPELINE, self.pipeline),
                (RunFiles.CAMPAIGN_CREDIT, self.campaign_credit),
                (RunFiles.CAMPAIGN_INFLUENCE, self.campaign_influence),
            ):
                if frame.width:
                    frame.write_parquet(tmp / file)
            for name, frame in self.extras.items():
                frame.write_parquet(tmp / f"{name}.parquet")
            for extra in also:  # e.g. a SurveyBenchmark: anything with .write(directory)
                extra.write(tmp)
            for name, graph in self.graphs.items():
                nx.write_graphml(graph, tmp / f"{name}.graphml")
                (tmp / f"{name}.json").write_text(
                    json.dumps(nx.node_link_data(graph, edges="links"), default=str)
                )
            written = [p.name for p in tmp.iterdir()] + [RunFiles.MANIFEST]
            manifest = dict(
                self.manifest,
                run_id=run_id,
                files=sorted(written + [RunFiles.REPORT] if report else written),
            )
            if report:  # last: it reads every other file of the run
                from attribution.report._page import (
                    write_report,  # plotly loads only when a report is written
                )

                write_report(tmp, manifest=manifest)
            write_json_atomic(tmp / RunFiles.MANIFEST, manifest)
        return final


def _get_paths(self: AttributionResult) -> pl.DataFrame:
    """The path table (see the class docstring). :func:`attribute` gives a function and the
    table is built on first use (0.5 s at 10M touches; the data-driven models fit on coded
    journeys), which keeps the journeys in memory until then."""
    value = self.__dict__["_paths"]
    if callable(value):
        value = self.__dict__["_paths"] = value()
    return cast(pl.DataFrame, value)


def _set_paths(self: AttributionResult, value: pl.DataFrame | Callable[[], pl.DataFrame]) -> None:
    self.__dict__["_paths"] = value


# After the dataclass is made, so that ``__init__`` and ``dataclasses.replace`` keep the
# ``paths`` keyword and pass through the setter.
AttributionResult.paths = property(_get_paths, _set_paths)  # type: ignore[assignment]
