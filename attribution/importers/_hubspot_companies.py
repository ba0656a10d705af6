"""HubSpot company columns: a row's company id from an id column, else from a name (mapped
through the companies export when given, else the name is the account id)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from attribution.exceptions import ColumnNotFoundError
from attribution.importers._read import Export, split_ids
from attribution.importers._result import ImportReport

ID = ["Record ID", "hs_object_id", "id"]
COMPANY_IDS = [
    "Primary Associated Company ID",
    "Associated Company IDs",
    "Associated Company ID",
    "associatedcompanyid",
    "associatedcompanyids",
    "Company ID",
]
COMPANY_NAMES = ["Associated Company", "Company Name", "company"]


def first_id(column: str | None) -> pl.Expr:
    if column is None:
        return pl.lit(None, pl.String)
    return split_ids(column).list.first()


def companies_expr(
    export: Export, companies: Export | None, report: ImportReport, others: Sequence[Export]
) -> tuple[pl.Expr, str | None]:
    """The expression giving a row's company id, and the column it came from: an id column,
    else a name column (mapped to the id through the companies file when given; without it,
    names where ``others`` use ids could never meet, so that is an error)."""
    ids = export.column(COMPANY_IDS, required=False)
    if ids is not None:
        return first_id(ids), ids
    names = export.column(COMPANY_NAMES, required=False)
    if names is None:
        return pl.lit(None, pl.String), None
    if companies is None and any(
        other.label != export.label and other.column(COMPANY_IDS, required=False)
        for other in others
    ):
        raise ColumnNotFoundError(
            f"companies are named ('{names}') here but given by id in "
            + ", ".join(o.name for o in others if o.label != export.label),
            table=export.label,
            source=export.name,
            column=names,
            hint="give the companies export (--companies companies.csv) to map names to ids, "
            "or export the 'Associated Company IDs' column",
        )
    if companies is None:
        report.notes.append(
            f"{export.label}: no company id column; the company name in '{names}' is the "
            "account id (give --companies to map names to ids)"
        )
        return pl.col(names), names
    lookup = company_lookup(companies)
    mapped = pl.col(names).replace_strict(
        lookup.get_column("name"), lookup.get_column("id"), default=pl.col(names)
    )
    return mapped, names


def company_lookup(companies: Export) -> pl.DataFrame:
    cid = companies.require(ID + ["Company ID"])
    name = companies.require(["Company name", "Name", "name"])
    # a name held by several companies cannot be told apart: it is not mapped
    return (
        companies.frame.select(pl.col(name).alias("name"), pl.col(cid).alias("id"))
        .drop_nulls()
        .filter(pl.col("name").is_unique())
    )
