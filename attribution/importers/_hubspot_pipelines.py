"""HubSpot deal pipelines and repeat wins (new-user report 22, S4): a deals export holds
every pipeline, renewals and upsells too, and a won renewal read as a conversion counts a
customer again when that customer touches a channel again.

*Decision* (README, "HubSpot", "Pipelines and repeat wins"): the import reports the deals
and won deals per ``Pipeline`` (``import_report.json`` ``pipelines``, printed when there are
several) and counts the accounts that win again after their first won deal (a note naming
the pipelines of those later wins); ``--pipeline NAME`` (repeatable, ``pipelines=`` in
Python) keeps only the deals of the pipelines named, the others a counted drop. Nothing is
left out by the name of a pipeline alone: which pipelines are new business is the user's
call, the note says which look like renewals.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import polars as pl

from attribution.exceptions import InputError
from attribution.importers._read import Export
from attribution.importers._result import ImportReport

PIPELINE = ["Pipeline", "pipeline", "hs_pipeline", "Deal Pipeline"]
#: how a deal without a pipeline is listed
_BLANK = "(no pipeline)"
#: a pipeline whose name says it holds existing customers' deals
_RENEWAL = re.compile(r"renew|upsell|up-sell|expan|upgrade|retention|existing|cross-?sell", re.I)


def _folded(expr: pl.Expr) -> pl.Expr:
    return expr.str.to_lowercase().str.replace_all(r"[^a-z0-9]", "")


def keep_pipelines(
    deal: Export, column: str | None, pipelines: Sequence[str], report: ImportReport
) -> Export:
    """``deal`` with only the deals of ``pipelines`` (compared ignoring case, spaces and
    punctuation); the others, and deals without a pipeline, a counted drop. A pipeline the
    export does not hold, or no pipeline column, is an error naming the file and the
    pipelines found."""
    if not pipelines:
        return deal
    if column is None:
        raise InputError(
            f"--pipeline {pipelines[0]!r}: the deals export has no pipeline column (looked "
            f"for {', '.join(map(repr, PIPELINE))})",
            table=deal.label,
            source=deal.name,
            column="Pipeline",
            hint="export the deals with their Pipeline property, or leave --pipeline out",
        )
    found = deal.frame.get_column(column).drop_nulls().unique(maintain_order=True)
    names = {str(pl.select(_folded(pl.lit(p))).item()): p for p in pipelines}
    have = set(pl.select(_folded(pl.lit(found))).to_series().to_list())
    missing = [p for f, p in names.items() if f not in have]
    if missing:
        raise InputError(
            f"--pipeline {missing[0]!r} names no pipeline of the deals export (its pipelines: "
            f"{', '.join(map(repr, found.sort().to_list())) or 'none'})",
            table=deal.label,
            source=deal.name,
            column=column,
            hint="give --pipeline once per pipeline to keep, as the export writes it",
        )
    keep = _folded(pl.col(column)).is_in(list(names))
    others = deal.frame.filter(~keep.fill_null(False))
    shown = ", ".join(
        f"'{p}' {n:,}" if p is not None else f"no pipeline {n:,}"
        for p, n in others.get_column(column).value_counts(sort=True).iter_rows()
    )
    report.drop(
        deal.label,
        f"a deal of another pipeline than --pipeline ({shown})" if shown else "",
        others.height,
    )
    report.counts["deals_of_other_pipelines"] = others.height
    return replace(deal, frame=deal.frame.filter(keep.fill_null(False)))


def note_pipelines(report: ImportReport, deals: pl.DataFrame, column: str | None) -> None:
    """Record the deals and won deals per pipeline (``report.pipelines``) and note the
    accounts that win again. ``deals``: one row per deal with ``opportunity_id``,
    ``account_id`` (the deal's, else its first contact's), ``won`` (a won event),
    ``_closed`` and ``_pipeline``."""
    if column is not None:
        by = (
            deals.group_by("_pipeline")
            .agg(pl.len().alias("deals"), pl.col("won").sum().alias("won"))
            .sort("deals", "_pipeline", descending=[True, False], nulls_last=True)
        )
        report.pipelines = {
            "column": column,
            "deals": {
                _BLANK if p is None else str(p): {"deals": int(n), "won": int(w)}
                for p, n, w in by.iter_rows()
            },
        }
    won = deals.filter(pl.col("won") & pl.col("account_id").is_not_null())
    order = won.sort("_closed", "opportunity_id", nulls_last=True)
    later = order.filter(pl.int_range(pl.len()).over("account_id") > 0)
    report.counts["accounts_winning_again"] = later.get_column("account_id").n_unique()
    report.counts["won_deals_after_the_accounts_first"] = later.height
    if later.height == 0:
        return
    where = ""
    if column is not None:
        pipes = later.get_column("_pipeline").value_counts(sort=True).iter_rows()
        where = " in " + ", ".join(f"'{_BLANK if p is None else p}' ({n:,})" for p, n in pipes)
    renewals = [p for p in report.pipelines.get("deals", {}) if _RENEWAL.search(p)]
    new = [p for p in report.pipelines.get("deals", {}) if p not in renewals and p != _BLANK]
    remedy = (
        f"pipeline(s) {', '.join(map(repr, renewals))} read as renewals / upsells: keep the "
        "new-business ones with " + " ".join(f"--pipeline {p!r}" for p in new)
        if renewals and new
        else "if they are renewals or upsells, keep the new-business pipeline(s) with "
        "--pipeline NAME"
    )
    report.notes.append(
        f"deals: {later.get_column('account_id').n_unique():,} account(s) win again after "
        f"their first won deal ({later.height:,} later won deal(s){where}, e.g. account "
        f"{later.get_column('account_id').item(0)!r}): a run counts each won deal as a "
        f"customer acquired, so a renewal or upsell counts its customer again; {remedy}"
    )
