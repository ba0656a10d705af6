"""Contacts at account level: their buying-committee roles and their accounts."""

from __future__ import annotations

import polars as pl

from attribution.exceptions import DuplicateKeyError
from attribution.inputs._schema import ROW

__all__ = ["UNKNOWN_ROLE", "attach_accounts", "contact_roles", "normalise_role"]

UNKNOWN_ROLE = "unknown"


def normalise_role(expr: pl.Expr) -> pl.Expr:
    """``" Decision Maker"`` -> ``"decision_maker"``; null or blank -> ``"unknown"``."""
    text = (
        expr.cast(pl.String).str.strip_chars().str.to_lowercase().str.replace_all(r"[\s\-]+", "_")
    )
    return pl.when(text.is_null() | (text == "")).then(pl.lit(UNKNOWN_ROLE)).otherwise(text)


def contact_roles(contacts: pl.DataFrame | None) -> pl.DataFrame:
    """One row per contact with a known role: ``contact_id``, ``role`` (normalised).

    A contact listed twice with the same role (or once without one) is fine; two different
    roles for one contact are an error, as two accounts are.
    """
    empty = pl.DataFrame(schema={"contact_id": pl.String, "role": pl.String})
    if contacts is None or "role" not in contacts.columns:
        return empty
    # normalise each distinct role text once, not once per contact
    names = contacts.select(pl.col("role").drop_nulls().unique()).with_columns(
        normalise_role(pl.col("role")).alias("_normalised")
    )
    rows = contacts.join(names, on="role", how="left").select(
        "contact_id",
        pl.col("_normalised").fill_null(UNKNOWN_ROLE).alias("role"),
        pl.col(ROW) if ROW in contacts.columns else pl.int_range(pl.len()).alias(ROW),
    ).filter(pl.col("contact_id").is_not_null() & (pl.col("role") != UNKNOWN_ROLE))
    per_contact = rows.unique(["contact_id", "role"])
    if per_contact.height > per_contact.get_column("contact_id").n_unique():
        raise _conflict(
            rows,
            pl.col("role").n_unique().over("contact_id") > 1,
            "contacts have several roles",
            column="role",
            hint="give each contact_id one role (blank and 'unknown' count as none)",
        )
    return per_contact.select("contact_id", "role")


def attach_accounts(
    frame: pl.DataFrame, contacts: pl.DataFrame | None, table: str, *, strict: bool = True
) -> pl.DataFrame:
    """Fill ``account_id`` from the contacts table where the row has a contact but no
    account. A contact listed under two accounts is an error (``strict``), else it fills
    nothing (a contact-level run that reads no account: its journeys do not need one)."""
    if contacts is None or "contact_id" not in frame.columns:
        return frame
    known = contacts.filter(pl.col("account_id").is_not_null())
    # picking one of several accounts would depend on the row order of the contacts table
    conflict = pl.col("account_id").n_unique().over("contact_id") > 1
    if not strict:
        known = known.filter(~conflict)
    elif known.select(conflict.any()).item():
        raise _conflict(
            known,
            conflict,
            "contacts belong to several accounts",
            column="contact_id",
            hint="give each contact_id one account_id",
        )
    mapping = known.select("contact_id", pl.col("account_id").alias("_acct")).unique("contact_id")
    joined = frame.join(mapping, on="contact_id", how="left")
    if "account_id" in frame.columns:
        joined = joined.with_columns(pl.coalesce("account_id", "_acct").alias("account_id"))
    else:
        joined = joined.rename({"_acct": "account_id"})
    return joined.drop("_acct", strict=False)


def _conflict(
    rows: pl.DataFrame, conflict: pl.Expr, message: str, *, column: str, hint: str
) -> DuplicateKeyError:
    """The error for contacts listed twice with different values: the first five
    contacts table rows (``ROW``) where ``conflict`` holds."""
    return DuplicateKeyError(
        message,
        table="contacts",
        column=column,
        rows=rows.filter(conflict).sort(ROW).get_column(ROW).head(5).to_list(),
        hint=hint,
    )
