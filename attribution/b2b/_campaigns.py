"""Campaign-level credit: campaign economics (CAC, ROI) and the CRM campaign-influence export.

Both start from touch credit a run has already computed (no model runs again):

- **campaign credit** (``AttributionResult.campaign_credit``, ``campaign_credit.parquet``):
  per model, channel and campaign, the summed touch credit (credited customers) and credited
  value. :func:`campaign_economics` adds spend per campaign from a spend table with a
  ``campaign`` column: ``cac`` = spend / credited customers, ``roi`` = (credited revenue -
  spend) / spend, with statuses as the channel economics have them (``paid``, ``unpaid``,
  ``no_customers``, ``not_measured``; never dropped).
- **campaign influence** (``AttributionResult.campaign_influence``, ``campaign_influence.csv``
  and, under ``influence_layout="long"``, ``campaign_influence.parquet``): one row per
  opportunity, model and campaign, in the shape CRMs import (Salesforce's Customizable
  Campaign Influence: OpportunityId, CampaignId, ModelId, Influence %): ``credit_share`` sums
  to 1 per opportunity and model and ``revenue_share`` = ``credit_share`` x the opportunity's
  amount. Built in :mod:`attribution.b2b._influence`, with the wide layout the run
  directory holds by default (a ``credit_share:<model>`` column per model).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from attribution.b2b._influence import CAMPAIGN_INFLUENCE_SCHEMA, campaign_influence
from attribution.b2b._reconcile import reconciled_to_channels
from attribution.b2b._shared import chosen_models, jsonable, money, num, rows_error
from attribution.engine._files import (
    RunFiles,
    write_csv_atomic,
    write_json_atomic,
    write_parquet_atomic,
)
from attribution.engine._result import CAMPAIGN_CREDIT_SCHEMA
from attribution.inputs._campaigns import NO_CAMPAIGN, campaign_values
from attribution.inputs._channels import check_channel_aliases, normalise_channels
from attribution.inputs._formats import resolve_formats
from attribution.inputs._schema import SPEND, load
from attribution.typing import TableLike

if TYPE_CHECKING:  # only annotations: the engine imports the b2b room, not the other way
    from attribution import AttributionResult

__all__ = [
    "CAMPAIGN_ECONOMICS_COLUMNS",
    "CAMPAIGN_INFLUENCE_SCHEMA",
    "CampaignEconomics",
    "InfluenceCsv",
    "campaign_economics",
    "campaign_influence",
]

CAMPAIGN_ECONOMICS_COLUMNS = (
    "model",
    "channel",
    "campaign",
    "status",
    "conversions",
    "value",
    "share",
    "channel_share",
    "spend",
    "cac",
    "roi",
)


@dataclass
class InfluenceCsv:
    """``campaign_influence.csv`` beside the Parquet file: the influence rows as CSV, for a
    CRM's import tool (an extra of :meth:`AttributionResult.write`)."""

    influence: pl.DataFrame

    def write(self, directory: str | Path) -> Path:
        """Write ``campaign_influence.csv`` into ``directory`` (atomically)."""
        path = Path(directory) / RunFiles.CAMPAIGN_INFLUENCE_CSV
        write_csv_atomic(path, self.influence)
        return path

    def summary(self) -> str:
        crm = self.influence.filter(pl.col("crm_opportunity"))
        return (
            f"Campaign influence: {self.influence.height:,} row(s) in "
            f"{RunFiles.CAMPAIGN_INFLUENCE_CSV} ({crm.get_column('opportunity_id').n_unique():,}"
            " CRM opportunities; rows of conversions without an opportunity_id have "
            "crm_opportunity false)"
        )


@dataclass
class CampaignEconomics:
    """What :func:`campaign_economics` returns.

    Attributes
    ----------
    table : pl.DataFrame
        One row per model, channel and campaign (the columns of
        :data:`CAMPAIGN_ECONOMICS_COLUMNS`): credit (``conversions`` = credited customers,
        ``value`` = credited revenue, ``share``, ``channel_share``), and with campaign spend
        ``spend``, ``cac``, ``roi`` and ``status``.
    parameters : dict
        Where spend came from, the campaigns with spend and no credit, and the method notes.
    """

    table: pl.DataFrame
    parameters: dict[str, Any] = field(default_factory=dict)
    #: the run's file this one writes in its place (:meth:`AttributionResult.write` then
    #: leaves it to this one: written once)
    replaces: tuple[str, ...] = field(default=(RunFiles.CAMPAIGN_CREDIT,), init=False, repr=False)

    def write(self, directory: str | Path) -> Path:
        """Write ``campaign_credit.parquet`` (with the spend columns) and
        ``campaign_credit.json`` (parameters and notes) into ``directory``."""
        out = Path(directory)
        write_parquet_atomic(out / RunFiles.CAMPAIGN_CREDIT, self.table)
        write_json_atomic(out / RunFiles.CAMPAIGN_CREDIT_JSON, jsonable(self.parameters))
        return out

    def summary(self, model: str | None = None, *, top: int = 8) -> str:
        """The top campaigns by credited customers under ``model`` (default: the run's
        decision model in ``parameters``, else ``linear`` if present, else the first model),
        with spend, CAC and ROI when known."""
        if self.table.height == 0:
            return "Campaign credit: no credited campaign."
        models = self.table.get_column("model").unique(maintain_order=True).to_list()
        decided = self.parameters.get("decision_model")
        model = model or (decided if decided in models else None)
        model = model or ("linear" if "linear" in models else models[0])
        rows = self.table.filter(pl.col("model") == model)
        touched = self.parameters.get("campaigns_in_touches")
        if touched is None:  # a table built otherwise: the campaigns that are credit rows
            touched = rows.filter(
                (pl.col("campaign") != NO_CAMPAIGN)
                & ~pl.col("status").is_in(["no_customers", NOT_MEASURED])
            ).height > 0
        reason = self.parameters.get("campaigns_not_measured")
        if not touched:
            # the touches' campaign column is empty: every credited row is a channel's
            # "(none)", which is no campaign to list (new-user report 2: a header and no
            # campaign); the spend's campaigns match no touch (report 16, S2)
            text = (
                "Campaign credit: no campaigns in the touches (their campaign column is "
                "empty), so no campaign is credited; the channel credit above is the run's."
            )
            if reason:
                text += (
                    f"\nCampaign CAC and ROI: not measured: {reason} (status "
                    f"'{NOT_MEASURED}' in {RunFiles.CAMPAIGN_CREDIT}); give the touches their "
                    "campaign (e.g. the UTM campaign) to measure them."
                )
            return text
        with_spend = self.parameters.get("spend_by_campaign", False)
        lines = [
            f"Top campaigns under {model} (credited customers; "
            + (
                "CAC = campaign spend / credited customers, ROI = (credited revenue - spend) / "
                "spend):"
                if with_spend
                else "no campaign spend given: --spend with a campaign column adds CAC and ROI):"
            ),
            f"  {'channel':<18} {'campaign':<30} {'customers':>9} {'revenue':>11}"
            + (f" {'spend':>10} {'CAC':>9} {'ROI':>7}  status" if with_spend else ""),
        ]
        credited = rows.filter(pl.col("conversions") > 0).sort(
            "conversions", "channel", "campaign", descending=[True, False, False]
        )
        for r in credited.head(top).iter_rows(named=True):
            line = (
                f"  {r['channel']:<18} {r['campaign']:<30} {r['conversions']:>9.1f} "
                f"{money(r['value']):>11}"
            )
            if with_spend:
                line += (
                    f" {money(r['spend']):>10} {money(r['cac']):>9} "
                    f"{num(r['roi'], '.1f'):>7}  {r['status']}"
                )
            lines.append(line)
        lines.append(
            f"  ({credited.height} credited campaign(s) in {RunFiles.CAMPAIGN_CREDIT}; "
            f"the CRM influence rows in {RunFiles.CAMPAIGN_INFLUENCE})"
        )
        if reason:
            lines.append(f"Campaign CAC and ROI not measured ('{NOT_MEASURED}'): {reason}.")
        loose = self.parameters.get("spend_without_campaign") or 0.0
        if loose:
            lines.append(
                f"Spend without a campaign: {money(loose)} (channel-level; in the channel "
                "economics, not in any campaign's CAC)"
            )
        unsold = rows.filter(pl.col("status") == "no_customers").sort("channel", "campaign")
        if unsold.height:
            shown = ", ".join(f"{c}/{k}" for c, k in unsold.select("channel", "campaign").rows())
            lines.append(
                f"Campaigns with spend and no customer credited by {model} ({unsold.height}): "
                + shown
            )
        return "\n".join(lines)


def campaign_economics(
    result: AttributionResult,
    spend: TableLike | None = None,
    *,
    models: Iterable[str] | None = None,
    columns: Mapping[str, str] | None = None,
    timestamp_formats: Sequence[str] | Mapping[str, str | Sequence[str]] | None = None,
) -> CampaignEconomics:
    """Campaign credit with spend, CAC and ROI per model, channel and campaign.

    Parameters
    ----------
    result
        From :func:`attribute` on touches with a ``campaign`` column (its
        ``campaign_credit``; empty without campaigns).
    spend
        Spend table (``channel``, ``month`` or ``date``, ``amount``, and ``campaign`` for
        spend per campaign). Rows without a campaign are the channel's ``(none)`` campaign,
        as touches without one are. Without a spend table, or without its ``campaign``
        column, the spend columns are null and ``status`` is ``no_campaign_spend``.
    models
        Models of ``result`` to include (default: all).
    columns, timestamp_formats
        As :func:`attribution.unit_economics` takes them.

    Statuses: ``paid`` (credited customers and spend), ``unpaid`` (customers, no spend: CAC
    0), ``no_customers`` (spend, no credited customer: CAC null, ROI -1; never dropped),
    ``no_campaign`` (the spend rows without a campaign where no touch without one is credited:
    channel-level spend, counted in the channel economics; ROI null, not -1),
    ``no_credit`` (a campaign of the journeys this model credits nothing, without spend),
    ``not_measured`` (campaign CAC and ROI cannot be measured, ``cac`` and ``roi`` null:
    the touches carry no campaign while the channel's spend does, a ``(none)`` row of
    credited touches in a channel with spend and no spend rows without a campaign, or a
    campaign with spend and no credited customer in a channel some of whose credit is on
    touches without a campaign: its customers may be among them, so not ROI -1;
    ``parameters["campaigns_not_measured"]`` says which, with that share of the credit).
    """
    credit = result.campaign_credit
    if credit.width == 0:
        credit = pl.DataFrame(schema=CAMPAIGN_CREDIT_SCHEMA)
    chosen = chosen_models(credit, models, "the result's campaign credit")
    credit = credit.filter(pl.col("model").is_in(chosen))
    key = str((result.manifest.get("parameters") or {}).get("key") or "channel")
    credit, reconciled = reconciled_to_channels(credit, result.channel_credit, key)
    parameters: dict[str, Any] = {
        "models": chosen,
        "campaigns_in_touches": credit.filter(pl.col("campaign") != NO_CAMPAIGN).height > 0,
        "spend_by_campaign": False,
        "reconciled_to_channel_credit": reconciled,
    }
    notes = {
        "conversions": "credited customers of the campaign: the sum of its touches' credit "
        "under the model (touch credit the run computed, summed by channel and campaign); "
        "under a model whose touch credit does not sum per channel to its channel credit "
        "(Markov, Shapley: they split each journey by channel weights fitted on all "
        "journeys; listed in reconciled_to_channel_credit), the channel's credit split over "
        "its campaigns in proportion to their touch credit, so that campaign CAC and ROI "
        "are on the customers of the channel economics",
        "campaign": "trimmed, whitespace folded, case kept; '(none)': touches (and spend rows) "
        "without a campaign",
    }
    by_campaign = None
    if spend is not None:
        spend_table = load(
            spend, SPEND, columns=columns, formats=resolve_formats(timestamp_formats, "spend")
        )
        frame = spend_table.frame
        parameters["spend_source"] = spend_table.source.name
        if "campaign" in frame.columns:
            negative = frame.filter(pl.col("amount") < 0)
            if negative.height:
                raise rows_error(
                    f"{negative.height} negative amount(s)",
                    spend_table,
                    negative,
                    column="amount",
                    hint="spend is money paid out; record refunds as lower positive amounts",
                )
            aliases = (result.manifest.get("parameters") or {}).get("channel_aliases") or {}
            frame, _, _, _ = normalise_channels(frame, check_channel_aliases(aliases))
            by_campaign = (
                frame.with_columns(campaign_values(pl.col("campaign")))
                .group_by("channel", "campaign")
                .agg(pl.col("amount").sum().alias("spend"))
            )
            parameters["spend_by_campaign"] = True
    if by_campaign is None:
        out = credit.with_columns(
            pl.lit("no_campaign_spend").alias("status"),
            *(pl.lit(None, pl.Float64).alias(c) for c in ("spend", "cac", "roi")),
        )
        parameters["notes"] = {
            **notes,
            "spend": "no spend table with a campaign column: spend, CAC and ROI are null",
        }
    else:
        grid = (
            pl.DataFrame({"model": chosen}, schema={"model": pl.String})
            .join(by_campaign, how="cross")
            .join(credit, on=["model", "channel", "campaign"], how="full", coalesce=True)
            .with_columns(
                pl.col("spend").fill_null(0.0),
                pl.col("conversions").fill_null(0.0),
                pl.col("value").fill_null(0.0),
                pl.col("share").fill_null(0.0),
                pl.col("channel_share").fill_null(0.0),
            )
        )
        out, reason = _measured(grid, credit, by_campaign)
        parameters["campaigns_not_measured"] = reason
        unsold = (
            out.filter(pl.col("status") == "no_customers")
            .select("channel", "campaign")
            .unique()
            .sort("channel", "campaign")
        )
        parameters["spend_campaigns_without_credit"] = [list(r) for r in unsold.iter_rows()]
        parameters["spend_without_campaign"] = float(
            by_campaign.filter(pl.col("campaign") == NO_CAMPAIGN).get_column("spend").sum()
        )
        parameters["notes"] = {
            **notes,
            "spend": "the spend table's amount summed by channel and campaign over every row "
            "given (rows without a campaign: the channel's '(none)'); channels spelled as the "
            "touches' (trimmed, folded, lower case, the run's [channels] aliases)",
            "not_measured": "status 'not_measured': campaign CAC and ROI cannot be measured "
            "for the row (campaigns_not_measured says why): the touches carry no campaign "
            "while the channel's spend does (every row of such a channel: the spend rows "
            "keep their spend with conversions, value and shares null; the '(none)' row "
            "keeps its customers with spend null), or a '(none)' row of credited touches "
            "without a campaign in a channel with spend and no spend rows without a campaign "
            "(their spend is in some campaign's, unknown which), or a campaign with spend and "
            "no credited customer in a channel whose touches without a campaign hold some of "
            "its credit under the model (its customers may be among them: not ROI -1; its "
            "spend kept, conversions, value and shares null); cac and roi null. The other "
            "campaigns of such a channel keep their CAC and ROI, counted on the touches with a "
            "campaign: the CAC an upper bound, the ROI a lower one",
            "cac": "spend / credited customers; 0 with status 'unpaid' (customers, no spend); "
            "null with status 'no_customers' (spend, no credited customer: kept, not dropped), "
            "'no_campaign' (the spend rows without a campaign, when no touch without one is "
            "credited: channel-level spend, in the channel economics) and 'no_credit' (a "
            "touched campaign this model credits nothing, without spend)",
            "roi": "(credited revenue - spend) / spend, revenue = credited deal value (as the "
            "deals state it, e.g. ARR; not gross profit); null without spend and on "
            "'no_campaign' rows (channel-level spend: no campaign's customers to set against "
            "it, so not -1)",
        }
    order = {m: i for i, m in enumerate(chosen)}
    table = out.select(*CAMPAIGN_ECONOMICS_COLUMNS).sort(
        pl.col("model").replace_strict(order, default=len(order)),
        "conversions",
        "channel",
        "campaign",
        descending=[False, True, False, False],
    )
    return CampaignEconomics(table=table, parameters=parameters)


#: the status of a row whose campaign CAC and ROI cannot be measured (README "Campaign-level
#: credit"): the touches carry no campaign while the spend does, or a '(none)' row of
#: credited touches in a channel with spend and no spend rows without a campaign, or a
#: campaign with spend and no credited customer where touches without a campaign hold credit
NOT_MEASURED = "not_measured"


def _measured(
    grid: pl.DataFrame, credit: pl.DataFrame, by_campaign: pl.DataFrame
) -> tuple[pl.DataFrame, str | None]:
    """The grid of credit and spend with ``status``, ``cac`` and ``roi``, and why some rows
    are :data:`NOT_MEASURED` (``None``: none is).

    A CAC needs the spend and the customers of one campaign. When no touch carries a
    campaign, the spend's campaigns match no touch: every credited customer is on its
    channel's ``(none)`` row and every campaign of the spend would read ``no_customers``,
    ROI -1, beside ``(none)`` rows reading ``unpaid``, CAC 0 (new-user report 16, S2).
    Those rows, in each channel whose spend names a campaign, are not measured: a row of
    customers keeps them with ``spend`` null, a row of spend keeps it with ``conversions``,
    ``value`` and the shares null, and ``cac`` and ``roi`` are null. When some touches carry
    a campaign, a ``(none)`` row of credited touches in a channel with spend and no spend
    rows without a campaign is not measured either (its customers' spend is in some
    campaign's, unknown which): not ``unpaid`` with CAC 0. Nor is a campaign with spend and
    no credited customer in a channel where, under the model, touches without a campaign
    hold some of the credit: its customers may be among them, so its ROI is not -1 (a
    campaign with no customer in a channel whose every credited touch names its campaign
    stays ``no_customers``, ROI -1).
    """
    named = pl.col("campaign") != NO_CAMPAIGN
    customers = pl.col("conversions") > 0
    paid = pl.col("spend") > 0
    touched = credit.filter(named).height > 0
    channels = by_campaign.group_by("channel").agg(
        pl.col("spend").sum().alias("_channel_spend"),
        pl.col("spend").filter(named).sum().alias("_campaign_spend"),
    )
    grid = grid.join(channels, on="channel", how="left").with_columns(
        pl.col("_channel_spend", "_campaign_spend").fill_null(0.0)
    )
    # a channel's credited customers on touches without a campaign, under the model
    untagged = pl.col("conversions").filter(~named).sum().over("model", "channel")
    # customers of the touches' campaigns that no spend row names, in a channel whose spend
    # names other campaigns, none of them with a customer: the UTM campaign and the ad
    # report's differ (new-user report 22, M10: 'google_ads fy25 ... $0 unpaid' beside
    # 'Brand - US' with spend and no customer)
    paid_customers = pl.col("conversions").filter(named & paid).sum().over("model", "channel")
    orphan = (named & customers & ~paid & (pl.col("_campaign_spend") > 0)
              & (pl.col("_paid_customers") <= 0))
    grid = grid.with_columns(paid_customers.alias("_paid_customers")).with_columns(
        untagged.alias("_untagged"),
        pl.col("conversions").sum().over("model", "channel").alias("_credited"),
        pl.col("conversions").filter(orphan).sum().over("model", "channel").alias("_orphan"),
    )
    # a campaign with spend and no customer among the touches with a campaign, in a channel
    # some of whose customers' touches have none, or whose customers are on campaigns the
    # spend does not name: they may be its customers (not ROI -1)
    partial = named & paid & ~customers & ((pl.col("_untagged") > 0) | (pl.col("_orphan") > 0))
    blind = (
        (~named & customers & ~paid & (pl.col("_channel_spend") > 0)) | partial | orphan
        if touched
        else pl.col("_campaign_spend") > 0
    )
    out = grid.with_columns(
        pl.when(blind)
        .then(pl.lit(NOT_MEASURED))
        .when(customers & paid)
        .then(pl.lit("paid"))
        .when(customers)
        .then(pl.lit("unpaid"))
        .when(paid & ~named)
        .then(pl.lit("no_campaign"))
        .when(paid)
        .then(pl.lit("no_customers"))
        .otherwise(pl.lit("no_credit"))
        .alias("status"),
        pl.when(customers & ~blind).then(pl.col("spend") / pl.col("conversions")).alias("cac"),
        # channel-level spend (no_campaign) is no campaign's: no revenue to set against it
        pl.when(paid & ~blind & (named | customers))
        .then((pl.col("value") - pl.col("spend")) / pl.col("spend"))
        .alias("roi"),
        pl.when(blind & customers).then(None).otherwise(pl.col("spend")).alias("spend"),
        *(
            pl.when(blind & ~customers).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("conversions", "value", "share", "channel_share")
        ),
    )
    unmeasured = out.filter(pl.col("status") == NOT_MEASURED)
    out = out.drop("_channel_spend", "_campaign_spend", "_untagged", "_credited", "_orphan",
                   "_paid_customers")
    if unmeasured.height == 0:
        return out, None
    names = ", ".join(sorted(unmeasured.get_column("channel").unique().to_list()))
    if not touched:
        campaigns = by_campaign.filter(named)
        total = money(float(campaigns.get_column("spend").sum()))
        return out, (
            f"the touches carry no campaign (their campaign column is empty) while the spend "
            f"names {campaigns.height} campaign(s) ({total} on {names}): no campaign's "
            "customers are known, so no campaign CAC or ROI"
        )
    reasons = []
    priced = unmeasured.filter(pl.col("campaign") == NO_CAMPAIGN)
    if priced.height:
        where = ", ".join(sorted(priced.get_column("channel").unique().to_list()))
        reasons.append(
            f"touches without a campaign in channels with spend and no spend rows without a "
            f"campaign ({where}): their spend is in some campaign's, unknown which"
        )
    orphans = unmeasured.filter((pl.col("campaign") != NO_CAMPAIGN) & (pl.col("_orphan") > 0))
    if orphans.height:
        spent = by_campaign.filter(named & (pl.col("spend") > 0))
        said = "; ".join(
            f"{channel}: touches name {_listed(orphans.filter(pl.col('conversions') > 0), channel)}"
            f", the spend "
            f"{_listed(spent, channel)}"
            for channel in sorted(orphans.get_column("channel").unique().to_list())
        )
        reasons.append(
            f"campaign names of the touches and of the spend differ ({said}): the UTM "
            "campaign and the ad report's Campaign must match (or map one to the other) for "
            "a campaign's CAC"
        )
    unsold = unmeasured.filter((pl.col("campaign") != NO_CAMPAIGN) & (pl.col("_orphan") <= 0))
    if unsold.height:
        shares = (
            unsold.group_by("channel")
            .agg(
                pl.col("campaign").n_unique().alias("campaigns"),
                (pl.col("_untagged") / pl.col("_credited")).min().alias("low"),
                (pl.col("_untagged") / pl.col("_credited")).max().alias("high"),
            )
            .sort("channel")
        )
        said = "; ".join(
            f"{r['channel']}: {r['campaigns']} campaign(s), "
            + (f"{r['low']:.0%}" if round(r["low"], 2) == round(r["high"], 2)
               else f"{r['low']:.0%}-{r['high']:.0%}")  # fmt: skip
            + " of its customers' credit on touches without a campaign"
            for r in shares.iter_rows(named=True)
        )
        reasons.append(
            "campaigns with spend and no credited customer in channels where touches without "
            f"a campaign hold some of the credit ({said}): their customers may be among those "
            "touches, so no ROI -1; those channels' campaign CACs count only the customers of "
            "touches with a campaign (the true CAC is at most the one shown, the true ROI at "
            "least the one shown)"
        )
    return out, "; and ".join(reasons)


def _listed(rows: pl.DataFrame, channel: str, most: int = 3) -> str:
    """The campaigns of ``channel`` in ``rows``, quoted, the first ``most``."""
    names = sorted(rows.filter(pl.col("channel") == channel).get_column("campaign")
                   .unique().to_list())
    shown = ", ".join(f"'{n}'" for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")
