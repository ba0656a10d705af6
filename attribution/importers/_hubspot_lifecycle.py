"""HubSpot lifecycle dates: the contacts export's "became a stage" columns -> stage events,
one column per stage.

A portal that went through HubSpot's lifecycle-stage properties v2 exports several columns
for one stage: ``Became a Lead Date`` (API ``hs_lifecyclestage_lead_date``) and ``Date
entered "Lead (Lifecycle Stage Pipeline)"`` (API ``hs_v2_date_entered_lead``). *Decision*
(README, "From your CRM"): per stage the first present of, in this order, ``Became a <stage>
Date``, ``hs_lifecyclestage_<stage>_date``, ``Date entered "<stage> (Lifecycle Stage
Pipeline)"``, ``hs_v2_date_entered_<stage>`` is the stage's column; where its cell is blank
the next column's date is used. A contact whose columns hold different dates for one stage
is counted (``lifecycle_dates_disagree``) and noted; the preferred column's date stands.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

from attribution.importers._read import Export, parse_timestamps, timestamp_expr
from attribution.importers._result import ImportReport

#: lifecycle stage (folded label or internal name) -> our stage name
LIFECYCLE = {
    "lead": "lead",
    "marketingqualifiedlead": "mql",
    "salesqualifiedlead": "sql",
    "opportunity": "opportunity",
    "customer": "customer",
    "subscriber": "subscriber",
    "evangelist": "evangelist",
    "other": "other",
}
#: The lifecycle-date column forms, in order of preference for one stage
LIFECYCLE_COLUMNS = [
    re.compile(r"^became an? (.+?) date$", re.IGNORECASE),
    re.compile(r"^hs_lifecyclestage_(.+)_date$"),
    re.compile(r'^date entered ["\'](.+?) \(lifecycle stage pipeline\)["\']$', re.IGNORECASE),
    re.compile(r"^hs_v2_date_entered_(.+)$"),
]
_EVENTS: dict[str, pl.DataType] = {
    "contact_id": pl.String(),
    "timestamp": pl.Datetime("us", "UTC"),
    "stage": pl.String(),
}


def lifecycle_columns(export: Export) -> dict[str, list[str]]:
    """Our stage name -> the export's lifecycle-date columns for it, preferred first."""
    found: dict[str, list[tuple[int, int, str]]] = {}
    for position, column in enumerate(export.frame.columns):
        for rank, pattern in enumerate(LIFECYCLE_COLUMNS):
            match = pattern.match(column.strip())
            if match:
                key = "".join(ch for ch in match.group(1).lower() if ch.isalnum())
                name = re.sub(r"[^a-z0-9]+", "_", match.group(1).lower()).strip("_")
                found.setdefault(LIFECYCLE.get(key, name), []).append((rank, position, column))
                break
    return {stage: [c for *_, c in sorted(cols)] for stage, cols in found.items()}


def lifecycle_events(
    con: Export,
    people: pl.DataFrame,
    cid: str,
    lifecycle: dict[str, list[str]],
    report: ImportReport,
    formats: Sequence[str],
) -> pl.DataFrame:
    """One stage event per contact and stage (``contact_id``, ``timestamp``, ``stage``): the
    preferred column's date, else the next column's; every column's dates are checked (an
    unreadable one is an error naming the file, the column and the lines). Counts
    ``lifecycle_dates_disagree`` and ``lifecycle_dates_from_other_columns``, with notes."""
    columns = report.files["contacts"]["columns"]
    for stage, cols in lifecycle.items():
        columns[f"stage:{stage}"] = cols[0]
        if len(cols) > 1:
            columns[f"stage:{stage}:where_blank"] = "; ".join(cols[1:])
        for col in cols:
            parse_timestamps(con, col, formats, "timestamp")
    report.mapped("stage", {col: stage for stage, cols in lifecycle.items() for col in cols})
    if not lifecycle:
        return pl.DataFrame(schema=_EVENTS)
    several = {stage: cols for stage, cols in lifecycle.items() if len(cols) > 1}
    parsed = people.select(
        pl.col(cid).alias("contact_id"),
        *[
            timestamp_expr(col, formats).alias(f"{stage}\x00{i}")
            for stage, cols in lifecycle.items()
            for i, col in enumerate(cols)
        ],
    )
    _count_disagreements(parsed, several, report)
    return (
        parsed.select(
            "contact_id",
            *[
                pl.coalesce([f"{stage}\x00{i}" for i in range(len(cols))]).alias(stage)
                for stage, cols in lifecycle.items()
            ],
        )
        .unpivot(index="contact_id", variable_name="stage", value_name="timestamp")
        .drop_nulls("timestamp")
        .select("contact_id", "timestamp", "stage")
    )


def _count_disagreements(
    parsed: pl.DataFrame, several: dict[str, list[str]], report: ImportReport
) -> None:
    """Per stage read from several columns: the contacts whose other columns hold a date
    different from the preferred one (``lifecycle_dates_disagree``) and those whose
    preferred cell is blank and another's is not (``lifecycle_dates_from_other_columns``)."""
    if not several:
        return
    counts = parsed.select(
        *[
            pl.any_horizontal(
                pl.col(f"{stage}\x00{i}").is_not_null()
                & pl.col(f"{stage}\x000").is_not_null()
                & (pl.col(f"{stage}\x00{i}") != pl.col(f"{stage}\x000"))
                for i in range(1, len(cols))
            )
            .sum()
            .alias(f"{stage}:differ")
            for stage, cols in several.items()
        ],
        *[
            (
                pl.col(f"{stage}\x000").is_null()
                & pl.any_horizontal(pl.col(f"{stage}\x00{i}").is_not_null()
                                    for i in range(1, len(cols)))
            )
            .sum()
            .alias(f"{stage}:filled")
            for stage, cols in several.items()
        ],
    ).row(0, named=True)
    differ = sum(int(counts[f"{s}:differ"]) for s in several)
    filled = sum(int(counts[f"{s}:filled"]) for s in several)
    report.counts["lifecycle_dates_disagree"] = differ
    report.counts["lifecycle_dates_from_other_columns"] = filled
    for stage, cols in several.items():
        n, blank = int(counts[f"{stage}:differ"]), int(counts[f"{stage}:filled"])
        others = ", ".join(f"'{c}'" for c in cols[1:])
        if n:
            report.notes.append(
                f"contacts: {n:,} contact(s) have a '{stage}' date in {others} that differs "
                f"from '{cols[0]}': '{cols[0]}' is used (one column per stage, in the order "
                "Became a ... Date, hs_lifecyclestage_..._date, Date entered ..., "
                "hs_v2_date_entered_...)"
            )
        if blank:
            report.notes.append(
                f"contacts: {blank:,} contact(s) have no '{stage}' date in '{cols[0]}': "
                f"taken from {others}"
            )


def customers_without_deals(
    deal: Export | None, contact_stages: pl.DataFrame, report: ImportReport
) -> pl.DataFrame:
    """A portal without deals (no deals export, or one with a header only: Marketing Hub
    users track customers by lifecycle stage): no deal events; the conversions are the
    contacts' ``customer`` events (``Became a Customer Date``), so the report's
    ``conversion_stage`` is ``customer`` and a note says how to run. Without customer dates
    either, the note says the import has no conversions."""
    if deal is not None:
        report.read(deal, {})
    what = "no deals export" if deal is None else f"the deals export {deal.name} has no rows"
    customers = contact_stages.filter(pl.col("stage") == "customer")
    if customers.height:
        report.conversion_stage = "customer"
        report.notes.append(
            f"{what}: the conversions are the contacts' customer dates "
            f"({report.files['contacts']['columns'].get('stage:customer')!r}: "
            f"{customers.get_column('contact_id').n_unique():,} customer(s)); run with "
            "--conversion-stage customer; without deal amounts revenue, ROI and LTV are not "
            "measured"
        )
    else:
        report.notes.append(
            f"{what}, and no contact has a customer date ('Became a Customer Date'): the "
            "import has no conversions; export the deals, or the contacts' Became a Customer "
            "Date"
        )
    return pl.DataFrame(schema=_EVENTS)
