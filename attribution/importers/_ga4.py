"""GA4 events (the BigQuery export flattened to one row per event, CSV or Parquet) -> touches:
one touch per session, the visitor stitched to its logged-in user id.

Semantics (README, "From your CRM", "GA4"):

* ``event_timestamp`` is epoch **microseconds** (16 digits, BigQuery's INT64), or text
  (BigQuery's ``2025-06-20 17:46:41.532619 UTC``, ISO 8601, 13-digit epoch milliseconds);
* a row equal to an earlier one in every cell is an exact duplicate (an export appended
  twice for a day range): dropped and counted; rows without ``user_pseudo_id`` (consent-mode
  pings) or ``ga_session_id`` cannot be put in a session: dropped and counted;
* a **session** is ``(user_pseudo_id, ga_session_id)``: one touch at its first event, its
  channel from the session's first ``session_source`` / ``session_medium`` by the channel
  taxonomy, ``campaign`` its first ``session_campaign``;
* **identity**: a session whose events carry one ``user_id`` is that user's; otherwise a
  pseudo id seen with exactly one user id takes it for all its sessions, before and after the
  login (stitching); a pseudo id seen with several is not stitched (counted), and one never
  logged in stays anonymous: its touches have no ``contact_id`` and a run counts them as
  ``missing_contact_id``. A user id holding an ``@`` is an e-mail: trimmed and lower-cased,
  as the CRM importers key contacts by e-mail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import polars as pl

from attribution.exceptions import InputError, SchemaError
from attribution.importers._busy import BUSY
from attribution.importers._busy import busy as busy_keys
from attribution.importers._emails import email_key
from attribution.importers._read import LINE, Export, read_export, timestamp_expr
from attribution.importers._result import ImportReport, ImportResult, begin, finish
from attribution.importers._shared import record_mapping
from attribution.inputs._reading import blank_as_null
from attribution.inputs._taxonomy import channel_expr, load_rules

TIMESTAMP = ["event_timestamp", "event_time", "timestamp"]
PSEUDO_ID = ["user_pseudo_id", "client_id", "pseudo_id"]
USER_ID = ["user_id"]
SESSION_ID = ["ga_session_id", "event_params.ga_session_id", "session_id"]
EVENT_NAME = ["event_name"]
SOURCE = [
    "session_source", "source", "session_traffic_source_last_click.manual_campaign.source",
    "collected_traffic_source.manual_source", "utm_source",
]  # fmt: skip
MEDIUM = [
    "session_medium", "medium", "session_traffic_source_last_click.manual_campaign.medium",
    "collected_traffic_source.manual_medium", "utm_medium",
]  # fmt: skip
CAMPAIGN = [
    "session_campaign", "session_campaign_name", "campaign", "campaign_name",
    "session_traffic_source_last_click.manual_campaign.campaign_name",
    "collected_traffic_source.manual_campaign_name", "utm_campaign",
]  # fmt: skip
#: a pseudo id with this many events or more is named in a note (a bot, a QA login)
BUSY_PSEUDO_ID = BUSY


def import_ga4(
    events: str | Path,
    *,
    channel_rules: str | Path | None = None,
    timestamp_formats: Sequence[str] | None = None,
    out: str | Path | None = None,
) -> ImportResult:
    """Import a GA4 event export (BigQuery, flattened: one row per event) into touches, one
    per session; ``stages`` and ``contacts`` are empty (they come from a CRM import).

    Parameters
    ----------
    events
        CSV (or TSV) or Parquet with ``event_timestamp``, ``user_pseudo_id``,
        ``ga_session_id`` and, optionally, ``user_id``, ``event_name``, ``session_source``,
        ``session_medium``, ``session_campaign``.
    channel_rules
        Taxonomy rules for the session source / medium (default: the shipped rules).
    timestamp_formats
        strftime patterns tried before ISO 8601 for a timestamp written as text.
    out
        When given, the import is also written there (see :meth:`ImportResult.write`).
    """
    report, formats = begin("ga4", timestamp_formats or ["%Y-%m-%d %H:%M:%S%.f UTC"])
    path = Path(events)
    parquet = path.suffix.lower() == ".parquet"
    try:
        return _import(_read(path, parquet), report, formats, channel_rules, out)
    except SchemaError as exc:  # a Parquet file has rows, not lines
        if not parquet:
            raise
        raise type(exc)(
            exc.message.replace("at file line(s)", "at row(s)"),
            table=exc.table, source=exc.source, column=exc.column, hint=exc.hint,
            their_column=exc.their_column,
        ) from None  # fmt: skip


def _read(path: Path, parquet: bool) -> Export:
    """The events as text (blank cells null) with ``_line``: the file line of a CSV row, the
    1-based row of a Parquet file."""
    if not parquet:
        return read_export(path, "events")
    if not path.is_file():
        raise InputError("file not found", table="events", source=str(path))
    try:
        raw = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(
            f"cannot read the Parquet file: {exc}".splitlines()[0], table="events", source=str(path)
        ) from None
    nested = [c for c, t in raw.schema.items() if isinstance(t, pl.List | pl.Struct | pl.Array)]
    if nested:
        raise SchemaError(
            f"nested column(s) {', '.join(map(repr, nested))}: the raw BigQuery export keeps "
            "event parameters in arrays",
            table="events",
            source=str(path),
            column=nested[0],
            hint="flatten it to one row per event first, e.g. SELECT event_timestamp, "
            "user_pseudo_id, user_id, (SELECT value.int_value FROM UNNEST(event_params) WHERE "
            "key = 'ga_session_id') AS ga_session_id, ... FROM `project.analytics_N.events_*`",
        )
    frame = raw.select(
        (pl.int_range(pl.len(), dtype=pl.Int64) + 1).alias(LINE),
        *[blank_as_null(pl.col(c).cast(pl.String)).str.strip_chars().alias(c) for c in raw.columns],
    )
    if frame.height == 0:
        raise InputError("the file has no rows", table="events", source=str(path))
    return Export("events", path, frame)


def _timestamps(events: Export, column: str, formats: Sequence[str]) -> pl.Expr:
    """``column`` as UTC datetimes: 15-17 digits are epoch microseconds, other text is read
    as the importers read dates (the patterns, ISO 8601, 13-digit epoch milliseconds); a
    value neither reads is an error naming the file, the column and the lines."""
    text = pl.col(column)
    micros = text.str.contains(r"^\d{15,17}$")
    epoch = pl.from_epoch(text.cast(pl.Int64, strict=False), time_unit="us")
    epoch = epoch.dt.replace_time_zone("UTC")
    if events.frame.select((micros | text.is_null()).all()).item():
        parsed = epoch
    else:
        parsed = pl.when(micros).then(epoch).otherwise(timestamp_expr(column, formats))
    bad = text.is_not_null() & parsed.is_null()
    if n := events.frame.select(bad.sum()).item():
        example = events.frame.filter(bad).get_column(column).item(0)
        raise SchemaError(
            f"{n} value(s) cannot be read as a time, e.g. {example!r}, at file line(s) "
            f"{', '.join(map(str, events.lines(bad)))}",
            table="events",
            source=events.name,
            column=column,
            hint="GA4's event_timestamp is epoch microseconds (16 digits, as BigQuery exports "
            "it) or BigQuery's text form '2025-06-20 17:46:41.532619 UTC'; ISO 8601 and "
            "13-digit epoch milliseconds are read too",
        )
    return parsed


def _user_key(expr: pl.Expr) -> pl.Expr:
    """A user id as the contact key: an e-mail (holding ``@``) as the CRM importers key
    contacts (:func:`~attribution.importers._emails.email_key`); any other id as written."""
    text = expr.str.strip_chars()
    return pl.when(text.str.contains("@")).then(email_key(text)).otherwise(text)


def _import(
    events: Export,
    report: ImportReport,
    formats: Sequence[str],
    channel_rules: str | Path | None,
    out: str | Path | None,
) -> ImportResult:
    when = events.require(TIMESTAMP)
    pseudo = events.require(PSEUDO_ID)
    session = events.require(SESSION_ID)
    user = events.column(USER_ID, required=False)
    name = events.column(EVENT_NAME, required=False)
    source = events.column(SOURCE, required=False)
    medium = events.column(MEDIUM, required=False)
    campaign = events.column(CAMPAIGN, required=False)
    report.read(
        events,
        {
            "timestamp": when,
            "user_pseudo_id": pseudo,
            "session": session,
            "contact_id": user,
            "event_name": name,
            "utm_source": source,
            "utm_medium": medium,
            "campaign": campaign,
        },
    )
    cells = [c for c in events.frame.columns if c != LINE]
    repeat = ~pl.struct(cells).is_first_distinct()
    dups = events.frame.select(repeat.sum()).item()
    report.drop("events", "exact duplicate (every cell equal to an earlier row)", dups)
    frame = events.frame.filter(~repeat) if dups else events.frame
    events = replace(events, frame=frame)
    text = pl.lit(None, pl.String)
    rows = frame.select(
        pl.col(pseudo).alias("pseudo"),
        pl.col(session).alias("session"),
        _timestamps(events, when, formats).alias("timestamp"),
        (_user_key(pl.col(user)) if user else text).alias("user"),
        ((pl.col(name) == "session_start") if name else pl.lit(False)).alias("start"),
        (pl.col(source) if source else text).alias("utm_source"),
        (pl.col(medium) if medium else text).alias("utm_medium"),
        (pl.col(campaign) if campaign else text).alias("campaign"),
    )
    no_pseudo = rows.get_column("pseudo").null_count()
    report.drop("events", f"no user_pseudo_id in '{pseudo}'", no_pseudo)
    rows = rows.drop_nulls("pseudo")
    # every event of a pseudo id says who it is, in a session or not: a login event sent
    # without a ga_session_id still stitches the pseudo id's sessions to its user id
    identities = rows.select("pseudo", "user", pl.col("session").is_null().alias("sessionless"))
    sessionless = rows.get_column("session").null_count()
    report.counts["events_without_session_id"] = sessionless
    report.drop("events", f"no ga_session_id in '{session}'", sessionless)  # noted: stitches
    rows = rows.drop_nulls("session")
    report.drop("events", f"no time in '{when}'", rows.get_column("timestamp").null_count())
    rows = rows.drop_nulls("timestamp")
    report.kept("events", rows.height)
    touches = _sessions(rows, identities, report, channel_rules)
    _note_busy(rows, report)
    return finish(report, touches, pl.DataFrame(), pl.DataFrame(), None, out)


def _sessions(
    rows: pl.DataFrame,
    identities: pl.DataFrame,
    report: ImportReport,
    channel_rules: str | Path | None,
) -> pl.DataFrame:
    """One touch per ``(pseudo, session)`` at its first event, with its contact (see the
    module's identity rule: the user ids of every event with a pseudo id, ``identities``,
    the events without a session id too) and channel; counts into ``report.counts``."""
    ordered = rows.sort("pseudo", "session", "timestamp")
    sessions = ordered.group_by("pseudo", "session", maintain_order=True).agg(
        pl.col("timestamp").first(),
        pl.col("user").drop_nulls().n_unique().alias("own_users"),
        pl.col("user").drop_nulls().first().alias("own_user"),
        pl.col("start").any().alias("start"),
        *[pl.col(c).drop_nulls().first() for c in ("utm_source", "utm_medium", "campaign")],
    )
    people = (
        identities.drop_nulls("user")
        .join(rows.select("pseudo").unique(), on="pseudo", how="semi")  # those with a touch
        .group_by("pseudo")
        .agg(
            pl.col("user").n_unique().alias("users"),
            pl.col("user").first().alias("stitched"),
            pl.col("sessionless").all().alias("sessionless"),  # known by those events alone
        )
    )
    sessions = sessions.join(people, on="pseudo", how="left").with_columns(
        pl.col("users").fill_null(0)
    )
    own = pl.col("own_users") == 1
    stitched = ~own & (pl.col("users") == 1)
    sessions = sessions.with_columns(
        pl.when(own).then("own_user").when(stitched).then("stitched").alias("contact_id")
    )
    counts = sessions.select(
        pl.len().alias("sessions"),
        own.sum().alias("sessions_logged_in"),
        stitched.sum().alias("sessions_stitched"),
        (pl.col("users") == 0).sum().alias("sessions_anonymous"),
        (~own & (pl.col("users") > 1)).sum().alias("sessions_of_pseudo_ids_with_several_user_ids"),
        (pl.col("own_users") > 1).sum().alias("sessions_with_several_user_ids"),
        (~pl.col("start")).sum().alias("sessions_without_session_start"),
        (stitched & pl.col("sessionless").fill_null(False))
        .sum()
        .alias("sessions_stitched_by_events_without_session_id"),
    ).row(0, named=True)
    report.counts.update({k: int(v) for k, v in counts.items()})
    report.counts["pseudo_ids"] = rows.get_column("pseudo").n_unique()
    report.counts["pseudo_ids_stitched"] = people.filter(pl.col("users") == 1).height
    several = people.filter(pl.col("users") > 1)
    report.counts["pseudo_ids_with_several_user_ids"] = several.height
    users = identities.join(people, on="pseudo", how="semi").get_column("user")
    report.counts["user_ids"] = int(users.drop_nulls().n_unique())
    by_sessionless = people.filter((pl.col("users") == 1) & pl.col("sessionless")).height
    report.counts["pseudo_ids_stitched_by_events_without_session_id"] = by_sessionless
    _notes(report, several)
    rules = load_rules(channel_rules)
    sessions = sessions.with_columns(channel_expr(rules, {"utm_source", "utm_medium"}))
    pairs = sessions.select(
        pl.concat_str(
            pl.col("utm_source").fill_null(""), pl.col("utm_medium").fill_null(""), separator=" / "
        ).alias("utm"),
        "channel",
    )
    record_mapping(report, "channel (session source / medium)", pairs, "utm", "channel")
    return sessions.select(
        pl.concat_str("pseudo", "session", separator=":").alias("touch_id"),
        "timestamp",
        "channel",
        "contact_id",
        "campaign",
        pl.lit("session").alias("touch_type"),
        "utm_source",
        "utm_medium",
    )


def _notes(report: ImportReport, several: pl.DataFrame) -> None:
    c = report.counts
    report.notes.append(
        f"events: {c['sessions']:,} session(s) (user_pseudo_id + ga_session_id) are "
        f"{c['sessions']:,} touch(es), each at its first event: {c['sessions_logged_in']:,} "
        f"logged in, {c['sessions_stitched']:,} stitched to the one user id their pseudo id "
        f"logged in with ({c['pseudo_ids_stitched']:,} pseudo id(s)), "
        f"{c['sessions_anonymous']:,} anonymous (never logged in: a run counts them as "
        "missing_contact_id)"
    )
    if several.height:
        shown = ", ".join(map(repr, several.sort("pseudo").get_column("pseudo").head(3)))
        report.notes.append(
            f"events: {several.height:,} pseudo id(s) logged in with several user ids (e.g. "
            f"{shown}; a shared device): not stitched, so "
            f"{c['sessions_of_pseudo_ids_with_several_user_ids']:,} of their session(s) "
            "without a user id of their own stay anonymous"
        )
    if n := c["events_without_session_id"]:
        report.notes.append(
            f"events: {n:,} event(s) have no ga_session_id (e.g. a login sent outside a "
            "session, Measurement Protocol hits): no session, so no touch, but their user ids "
            f"stitch: {c['pseudo_ids_stitched_by_events_without_session_id']:,} pseudo id(s) "
            "known only by such events take their user id for "
            f"{c['sessions_stitched_by_events_without_session_id']:,} session(s)"
        )
    if n := c["sessions_without_session_start"]:
        report.notes.append(
            f"events: {n:,} session(s) have no session_start event (a session begun before "
            "the export's first day, or Measurement Protocol / bot traffic); each is a touch "
            "at its first event"
        )


def _note_busy(rows: pl.DataFrame, report: ImportReport) -> None:
    """Name the pseudo ids with :data:`BUSY_PSEUDO_ID` events or more (bots, QA logins):
    kept, counted in ``counts.busy_pseudo_ids``."""
    busy = busy_keys(
        rows, "pseudo", pl.col("session").n_unique().alias("sessions"),
        pl.col("user").drop_nulls().first().alias("user"),
    ).rename({"n": "events"})  # fmt: skip
    report.counts["busy_pseudo_ids"] = busy.height
    if busy.height:
        top = busy.row(0, named=True)
        who = f", logged in as {top['user']!r}" if top["user"] else ", never logged in"
        report.notes.append(
            f"events: {busy.height:,} pseudo id(s) have {BUSY_PSEUDO_ID:,} events or more (the "
            f"most: {top['pseudo']!r}, {top['events']:,} events in {top['sessions']:,} "
            f"session(s){who}): a bot or a QA login? They are kept; drop them from the export "
            "to leave them out"
        )
