"""HubSpot engagements and form submissions -> touches.

An activities export names its contacts by id (``Associated Contact IDs``). A form-submission
export (Marketing > Forms > Export: ``Conversion Date``, ``Page URL``, ``Email``, the form's
fields, sometimes UTM columns) names them by e-mail: the e-mail is looked up in the contacts
export's ``Email`` (trimmed, case-folded); a submission whose e-mail no contact has is
dropped and counted, as is one without an e-mail. Where the UTM cells are blank or absent,
the UTM parameters of the page URL (``?utm_source=...&utm_medium=...``) are used.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from attribution.exceptions import ColumnNotFoundError
from attribution.importers._emails import email_key
from attribution.importers._hubspot_companies import (
    COMPANY_IDS,
    CONTACT_IDS,
    CREATE_DATE,
    ID,
    first_id,
)
from attribution.importers._read import Export, parse_timestamps, split_ids
from attribution.importers._result import ImportReport
from attribution.importers._shared import EMAIL_COLUMNS, record_mapping, row_ids, snake
from attribution.inputs._taxonomy import channel_expr, load_rules

ENGAGEMENT_CONTACTS = CONTACT_IDS + ["Contact ID", "contact_id", "hs_contact_id"]
EMAIL = EMAIL_COLUMNS  # the contacts export's e-mail column, as the contacts read it


#: HubSpot's activity types of a rep's own work (snake case) -> the sales touch type and
#: channel they are imported as (without UTM fields)
SALES_ACTIVITIES = {
    "email": "sales_email",
    "incoming_email": "sales_email",
    "call": "sales_call",
    "meeting": "meeting",
}

def _utm(column: str | None, page: str | None, name: str) -> pl.Expr:
    """A UTM field: its column, else (blank or no column) the page URL's ``name`` parameter."""
    own = pl.col(column) if column else pl.lit(None, pl.String)
    if page is None:
        return own
    found = pl.col(page).str.extract(rf"[?&]{name}=([^&#]*)").str.replace_all(r"\+", " ")
    return pl.coalesce(own, found.replace("", None))


def _by_email(
    eng: Export, email: str | None, contacts: tuple[Export, str], report: ImportReport
) -> pl.Expr:
    """Each row's contact (a list of one id, or empty) by its e-mail in the contacts export.
    An e-mail on several contacts takes the first in the contacts file (counted in
    ``counts.emails_on_several_contacts`` and noted)."""
    assert email is not None
    con, cid = contacts
    their = con.column(EMAIL, required=False)
    if their is None:
        raise ColumnNotFoundError(
            f"the engagements {eng.name} name their contacts by e-mail ('{email}'), and the "
            "contacts export has no e-mail column to look them up",
            table="contacts",
            source=con.name,
            column="Email",
            hint="export the contacts with their Email property",
        )
    pairs = con.frame.select(
        email_key(pl.col(their)).alias("key"), pl.col(cid).alias("id")
    ).drop_nulls()
    # a contact's rows repeated (an export appended) are one contact: ids counted, not rows
    several = pairs.group_by("key").agg(pl.col("id").n_unique()).filter(pl.col("id") > 1).height
    report.counts["emails_on_several_contacts"] = several
    if several:
        report.notes.append(
            f"contacts: {several:,} e-mail(s) in '{their}' are on several contacts: a "
            "submission with one is the first such contact's"
        )
    lookup = pairs.unique("key", keep="first", maintain_order=True)
    report.files["engagements"]["columns"]["contact_id"] = (
        f"{email} -> contacts '{their}' -> '{cid}'"
    )
    found = email_key(pl.col(email)).replace_strict(
        lookup.get_column("key"), lookup.get_column("id"), default=None, return_dtype=pl.String
    )
    return pl.concat_list(found).list.drop_nulls()


def engagement_touches(
    eng: Export,
    contacts: tuple[Export, str],
    accounts: pl.DataFrame,
    report: ImportReport,
    formats: Sequence[str],
    channel_rules: str | Path | None,
) -> pl.DataFrame:
    """Engagements / form submissions -> one touch per associated contact (``contacts``:
    the contacts export and its id column, for a form-submission export keyed by e-mail)."""
    eid = eng.column(["Activity ID", "Engagement ID", "Submission ID"] + ID, required=False)
    people = eng.column(ENGAGEMENT_CONTACTS, required=False)
    email = eng.column(EMAIL, required=False) if people is None else None
    if people is None and email is None:
        people = eng.require(ENGAGEMENT_CONTACTS)  # the error, with a did-you-mean
    when = eng.require(
        ["Activity date", "Timestamp", "hs_timestamp", "Conversion Date", "Submitted At"]
        + CREATE_DATE
    )
    kind = eng.column(
        ["Activity type", "Engagement Type", "hs_activity_type", "hs_engagement_type", "type"],
        required=False,
    )
    source = eng.column(["UTM Source", "utm_source", "hs_utm_source"], required=False)
    medium = eng.column(["UTM Medium", "utm_medium", "hs_utm_medium"], required=False)
    campaign = eng.column(
        ["UTM Campaign", "utm_campaign", "hs_utm_campaign", "Campaign"], required=False
    )
    company = eng.column(COMPANY_IDS, required=False)
    page = eng.column(["Page URL", "Conversion Page", "Page Url", "hs_page_url"], required=False)
    report.read(
        eng,
        {
            "touch_id": eid,
            "contact_id": people or (f"{email} (the contacts' e-mail)" if email else None),
            "timestamp": when,
            "touch_type": kind,
            "utm_source": source,
            "utm_medium": medium,
            "campaign": campaign,
            "account_id": company,
            "utm (from the URL where the UTM cells are blank)": page,
        },
    )
    text = pl.lit(None, pl.String)
    frame = eng.frame.select(
        row_ids(eid, "engagement").alias("_id"),
        (split_ids(people) if people else _by_email(eng, email, contacts, report)).alias(
            "contact_id"
        ),
        parse_timestamps(eng, when, formats, "timestamp").alias("timestamp"),
        (pl.col(kind) if kind else pl.lit("form_submission") if email else text).alias(
            "touch_type"
        ),
        _utm(source, page, "utm_source").alias("utm_source"),
        _utm(medium, page, "utm_medium").alias("utm_medium"),
        _utm(campaign, page, "utm_campaign").alias("campaign"),
        first_id(company).alias("_company"),
        (email_key(pl.col(email)) if email else text).alias("_email"),
    )
    no_time = frame.get_column("timestamp").null_count()
    report.drop("engagements", f"no date in '{when}'", no_time)
    frame = frame.filter(pl.col("timestamp").is_not_null())
    nobody = (pl.col("contact_id").list.len() == 0) & pl.col("_company").is_null()
    if email is not None:  # counted by why: no e-mail, or one no contact has
        no_email = frame.select((nobody & pl.col("_email").is_null()).sum()).item()
        report.drop("engagements", f"no e-mail in '{email}'", no_email)
        report.drop(
            "engagements",
            f"e-mail in '{email}' matches no contact of the contacts export",
            frame.select(nobody.sum()).item() - no_email,
        )
    else:
        report.drop(
            "engagements",
            f"no associated contact in '{people}'",
            frame.select(nobody.sum()).item(),
        )
    frame = frame.filter(~nobody)
    report.kept("engagements", frame.height)
    rules = load_rules(channel_rules)
    has_utm = pl.col("utm_source").is_not_null() | pl.col("utm_medium").is_not_null()
    # a rep's logged e-mail, call or meeting (no UTM) is a sales touch, never the marketing
    # `email` channel: its type and channel say so, and the plan's default sales exclusion
    # (sales_call, sales_email, meeting) leaves it out of the CAC
    activity = snake(pl.col("touch_type"))
    sales = pl.when(~has_utm).then(
        activity.replace_strict(SALES_ACTIVITIES, default=None, return_dtype=pl.String)
    )
    frame = frame.with_columns(
        pl.when(has_utm | pl.col("touch_type").is_null())
        .then(channel_expr(rules, {"utm_source", "utm_medium"}))
        .otherwise(pl.coalesce(sales, activity))
        .alias("channel"),
        pl.coalesce(sales, pl.col("touch_type")).alias("touch_type"),
    )
    utm = frame.filter(has_utm).select(
        pl.concat_str(
            pl.col("utm_source").fill_null(""), pl.col("utm_medium").fill_null(""), separator=" / "
        ).alias("utm"),
        "channel",
    )
    record_mapping(report, "channel (utm_source / utm_medium)", utm, "utm", "channel")
    record_mapping(
        report, "channel (activity type, no UTM)", frame.filter(~has_utm), "touch_type", "channel"
    )
    many = pl.col("contact_id").list.len() > 1
    return (
        frame.with_columns(many.alias("_many"))
        .explode("contact_id", empty_as_null=True)  # no contact: the company alone
        .join(accounts.rename({"account_id": "_contact_account"}), on="contact_id", how="left")
        .select(
            pl.when("_many")
            .then(pl.col("_id") + ":" + pl.col("contact_id"))
            .otherwise("_id")
            .alias("touch_id"),
            "timestamp",
            "channel",
            "contact_id",
            pl.coalesce("_company", "_contact_account").alias("account_id"),
            "campaign",
            "touch_type",
            "utm_source",
            "utm_medium",
        )
    )
