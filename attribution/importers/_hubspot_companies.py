"""HubSpot company columns: a row's company id from an id column, else from a name (mapped
through the companies export when given, else the name is the account id).

Names are compared folded (:func:`fold_company`: case, spaces, punctuation and a trailing
legal suffix ignored: ``ACME, Inc.`` = ``Acme Inc`` = ``acme inc``), so one company spelled
several ways is one account; the spellings merged and the deal companies no contact has are
counted and noted."""

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
#: the contact ids a deal or engagement is associated with (``;``-separated)
CONTACT_IDS = [
    "Associated Contact IDs",
    "Associated Contact ID",
    "associatedcontactids",
    "Contact IDs",
]
CREATE_DATE = ["Create Date", "createdate", "hs_createdate"]


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
        several = int(export.frame.select((split_ids(ids).list.len() > 1).sum()).item())
        if several:  # counted and said: the first company is the account, the others unused
            report.counts[f"{export.label}_on_several_companies"] = several
            report.notes.append(
                f"{export.label}: {several:,} row(s) name several companies in '{ids}'; the "
                "first is the account (the others are not used)"
            )
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
        spelling = _spellings([export, *others], report)
        mapped = fold_company(pl.col(names)).replace_strict(
            spelling.get_column("key"), spelling.get_column("name"), default=pl.col(names)
        )
        return mapped, names
    lookup = company_lookup(companies)
    mapped = fold_company(pl.col(names)).replace_strict(
        lookup.get_column("key"), lookup.get_column("id"), default=pl.col(names)
    )
    return mapped, names


#: Legal-form suffixes left out when company names are compared (``Acme Inc`` = ``Acme``)
_SUFFIXES = (
    "inc|incorporated|llc|llp|ltd|limited|corp|corporation|co|company|plc|gmbh|ag|kg|sa|sas"
    "|sarl|srl|spa|bv|nv|oy|ab|pty|pte|kk"
)


def fold_company(name: pl.Expr) -> pl.Expr:
    """A company name as compared: lower case, punctuation as spaces, runs of spaces as one,
    a trailing legal suffix (or several: ``Co. Ltd``) left out unless nothing else is left."""
    text = name.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars()
    bare = text.str.replace(rf"(\s+({_SUFFIXES}))+$", "")
    return pl.when(bare.str.len_chars() > 0).then(bare).otherwise(text)


def _spellings(exports: Sequence[Export], report: ImportReport) -> pl.DataFrame:
    """(``key``, ``name``): each folded company name with the spelling that stands for it,
    its first in the contacts file, else in the deals file. Counted once per import
    (``counts``): spellings merged into another (``company_name_spellings_merged``) and deal
    companies no contact's company matches (``deal_companies_without_contacts``), both
    noted."""
    found = []
    for export in sorted(exports, key=lambda e: e.label):  # contacts before deals
        column = export.column(COMPANY_NAMES, required=False)
        if column is not None:
            found.append(
                export.frame.select(
                    pl.col(column).alias("name"), pl.lit(export.label).alias("file")
                ).drop_nulls("name")
            )
    names = pl.concat(found).with_columns(fold_company(pl.col("name")).alias("key"))
    spelling = names.unique("key", keep="first", maintain_order=True).select("key", "name")
    if "company_name_spellings_merged" in report.counts:
        return spelling
    merged = names.unique(["key", "name"]).join(spelling, on="key", suffix="_as")
    merged = merged.filter(pl.col("name") != pl.col("name_as")).sort("key", "name")
    report.counts["company_name_spellings_merged"] = merged.height
    if merged.height:
        shown = ", ".join(
            f"{a!r} = {b!r}" for a, b in merged.select("name", "name_as").head(3).rows()
        )
        report.notes.append(
            f"{merged.height:,} company name spelling(s) are read as another's company "
            f"({shown}{', ...' if merged.height > 3 else ''}): names are compared ignoring "
            "case, spaces, punctuation and a legal suffix (Inc, LLC, Ltd, GmbH, ...)"
        )
    by_file = names.unique(["file", "key"])
    lonely = by_file.filter(pl.col("file") == "deals").join(
        by_file.filter(pl.col("file") == "contacts"), on="key", how="anti"
    )
    if by_file.get_column("file").n_unique() == 2:
        report.counts["deal_companies_without_contacts"] = lonely.height
        if lonely.height:
            shown = ", ".join(map(repr, lonely.sort("key").get_column("name").head(3)))
            report.notes.append(
                f"deals: {lonely.height:,} deal company name(s) match no contact's company "
                f"({shown}): the touches of those deals' contacts are in their own "
                "companies' accounts, not the deal's; give --companies to map names to ids"
            )
    return spelling


def company_lookup(companies: Export) -> pl.DataFrame:
    cid = companies.require(ID + ["Company ID"])
    name = companies.require(["Company name", "Name", "name"])
    # a name (folded) held by several companies cannot be told apart: it is not mapped
    return (
        companies.frame.select(fold_company(pl.col(name)).alias("key"), pl.col(cid).alias("id"))
        .drop_nulls()
        .unique()
        .filter(pl.col("key").is_unique())
    )


def note_other_companies(report: ImportReport, per_contact: pl.DataFrame) -> None:
    """Count (``counts.deals_with_contacts_of_other_companies``) and note the deals one of
    whose associated contacts belongs to another company (``_company`` is the deal's,
    ``_contact_account`` the contact's): at account level that contact's touches are in
    its own company's journey, not the deal's."""
    other = (
        pl.col("_company").is_not_null()
        & pl.col("_contact_account").is_not_null()
        & (pl.col("_company") != pl.col("_contact_account"))
    )
    deals = per_contact.filter(other).get_column("opportunity_id").n_unique()
    report.counts["deals_with_contacts_of_other_companies"] = deals
    if deals:
        example = per_contact.filter(other).sort("opportunity_id").row(0, named=True)
        report.notes.append(
            f"deals: {deals:,} deal(s) have an associated contact of another company (e.g. "
            f"deal {example['opportunity_id']!r} of {example['_company']!r}, contact "
            f"{example['contact_id']!r} of {example['_contact_account']!r}): at --level account "
            "that contact's touches are in its own company's journey, not the deal's"
        )
