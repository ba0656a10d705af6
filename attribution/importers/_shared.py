"""Pieces both importers use: value mappings (roles, stage names, campaign types), the
mapping report of a column, contacts' roles across deals, and the self-reported answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from attribution.exceptions import ColumnNotFoundError, did_you_mean
from attribution.importers._read import LINE, Export, find_column
from attribution.importers._result import ImportReport

#: CRM buying / contact roles (folded: lower case, letters and digits only) -> our roles.
ROLE_MAP: dict[str, str] = {
    "decisionmaker": "decision_maker",
    "economicdecisionmaker": "decision_maker",
    "executivesponsor": "champion",
    "champion": "champion",
    "economicbuyer": "finance",
    "budgetholder": "finance",
    "finance": "finance",
    "technicalbuyer": "influencer",
    "evaluator": "influencer",
    "influencer": "influencer",
    "blocker": "influencer",
    "legalandcompliance": "influencer",
    "enduser": "user",
    "businessuser": "user",
    "user": "user",
    "other": "unknown",
    "unknown": "unknown",
}
#: When a contact holds several roles (on several deals), the first of these wins.
ROLE_PRIORITY = ("decision_maker", "champion", "finance", "influencer", "user", "unknown")

#: Campaign types (folded) whose channel has a name in the shipped taxonomy.
CAMPAIGN_CHANNELS: dict[str, str] = {
    "email": "email",
    "directmail": "direct_mail",
    "webinar": "webinar",
    "tradeshow": "events",
    "conference": "events",
    "seminarconference": "events",
    "event": "events",
    "events": "events",
    "partners": "partner_referral",
    "partner": "partner_referral",
    "referralprogram": "partner_referral",
    "paidsocial": "paid_social",
    "paidsearch": "google_ads",
}


def folded(expr: pl.Expr) -> pl.Expr:
    """Lower case, letters and digits only (``Decision Maker`` -> ``decisionmaker``)."""
    return expr.str.to_lowercase().str.replace_all(r"[^a-z0-9]", "")


def snake(expr: pl.Expr) -> pl.Expr:
    """Lower snake case (``Negotiation/Review`` -> ``negotiation_review``)."""
    return expr.str.to_lowercase().str.replace_all(r"[^a-z0-9]+", "_").str.strip_chars("_")


def role_expr(column: str) -> pl.Expr:
    """A CRM role -> ours (unlisted roles -> ``unknown``; null stays null)."""
    return folded(pl.col(column)).replace_strict(
        ROLE_MAP, default="unknown", return_dtype=pl.String
    )


def campaign_channel_expr(column: str) -> pl.Expr:
    """A campaign type -> its channel: a taxonomy name where one fits, else the type in
    snake case; a missing type -> ``other``."""
    c = pl.col(column)
    return (
        pl.coalesce(
            folded(c).replace_strict(CAMPAIGN_CHANNELS, default=None, return_dtype=pl.String),
            snake(c).replace("", None),
        )
        .fill_null("other")
        .alias("channel")
    )


def row_ids(column: str | None, kind: str) -> pl.Expr:
    """A row's id: the export's id ``column``, else ``<kind>-line-<file line>``."""
    if column is not None:
        return pl.col(column)
    return pl.lit(f"{kind}-line-") + pl.col(LINE).cast(pl.String)


def record_mapping(
    report: ImportReport, what: str, frame: pl.DataFrame, raw: str, mapped: str
) -> None:
    """Report the distinct ``raw`` -> ``mapped`` values of ``frame`` (one row per distinct
    value, so the report stays small)."""
    pairs = frame.select(raw, mapped).drop_nulls(raw).unique().sort(raw)
    report.mapped(what, dict(pairs.iter_rows()))


def best_role(frame: pl.DataFrame) -> pl.DataFrame:
    """One role per contact (``contact_id``, ``role``): the highest in :data:`ROLE_PRIORITY`."""
    rank = pl.col("role").replace_strict(
        {r: i for i, r in enumerate(ROLE_PRIORITY)}, default=len(ROLE_PRIORITY)
    )
    return (
        frame.drop_nulls("contact_id")
        .drop_nulls("role")
        .sort(rank, "role")
        .unique("contact_id", keep="first", maintain_order=True)
        .select("contact_id", "role")
    )


def one_account(contacts: pl.DataFrame) -> pl.DataFrame:
    """One row per contact: its account (first non-null in input order), role and source."""
    return (
        contacts.drop_nulls("contact_id")
        .group_by("contact_id", maintain_order=True)
        .agg(pl.col(c).drop_nulls().first() for c in contacts.columns if c != "contact_id")
    )


def repeated_ids(report: ImportReport, label: str, frame: pl.DataFrame, column: str) -> None:
    """Note rows repeating an id: the first non-blank value of each column is kept."""
    extra = frame.height - frame.get_column(column).n_unique()
    if extra:
        report.notes.append(
            f"{label}: {extra} row(s) repeat an id in '{column}'; per id the first non-blank "
            "value of each column is kept"
        )


def self_reported(
    report: ImportReport,
    column: str,
    sources: Sequence[tuple[Export, Mapping[str, pl.Expr]]],
) -> pl.DataFrame:
    """The answers in ``column`` of every source that has it, as survey rows.

    ``sources`` pairs an export with the expressions giving its ``contact_id`` /
    ``account_id`` / ``opportunity_id`` / ``timestamp``. Rows with a blank answer are not
    answers (counted). A column found in no file is an error naming the files.
    """
    frames = []
    for export, ids in sources:
        found = find_column(export, [column], required=False)
        if found is None:
            continue
        answers = export.frame.select(
            pl.col(found).alias("response"), *[e.alias(k) for k, e in ids.items()], LINE
        )
        report.files[export.label]["columns"]["self_reported"] = found
        blank = answers.get_column("response").null_count()
        report.drop(export.label, f"no self-reported answer in '{found}'", blank)
        frames.append(answers.drop_nulls("response").drop(LINE))
    if not frames:
        columns = sorted({c for e, _ in sources for c in e.frame.columns if c != LINE})
        raise ColumnNotFoundError(
            f"the self-reported column is in none of {', '.join(e.name for e, _ in sources)}",
            table="surveys",
            column=column,
            hint=did_you_mean(column, columns),
        )
    return pl.concat(frames, how="diagonal_relaxed")
