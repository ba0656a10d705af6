"""Pieces both importers use: value mappings (roles, stage names, campaign types), the
mapping report of a column, contacts' roles across deals, and the self-reported answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from attribution.exceptions import ColumnNotFoundError, InputError, SchemaError, did_you_mean
from attribution.importers._read import LINE, Export, find_column
from attribution.importers._result import ImportReport
from attribution.inputs._limits import MAX_TEXT_CHARS, truncate_text
from attribution.inputs._sources import Source

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
#: A contact's e-mail in the contact exports (HubSpot labels and API names, Salesforce's
#: ``Email``): kept in ``contacts.parquet`` so survey answers keyed by e-mail join.
EMAIL_COLUMNS = ["Email", "email", "E-mail", "Email Address", "hs_email"]
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


def _roles(column: str) -> pl.Expr:
    """A role cell's roles, folded: a multi-select cell (HubSpot's Buying Role is a
    multiple-checkbox property, exported ``Champion;Decision maker``) holds several."""
    return pl.col(column).str.split(";").list.eval(
        folded(pl.element()).filter(folded(pl.element()) != "")
    )


def role_expr(column: str) -> pl.Expr:
    """A CRM role -> ours (unlisted roles, and a blank cell, -> ``unknown``). A cell of
    several ``;``-separated roles is its highest in :data:`ROLE_PRIORITY`, as a contact
    holding several roles on several deals keeps its highest (new-user report 22, S2)."""
    rank = {r: i for i, r in enumerate(ROLE_PRIORITY)}
    ranks = {name: rank[role] for name, role in ROLE_MAP.items()}
    best = _roles(column).list.eval(
        pl.element().replace_strict(ranks, default=rank["unknown"], return_dtype=pl.Int64)
    ).list.min()
    return best.replace_strict(
        {i: r for r, i in rank.items()}, default="unknown", return_dtype=pl.String
    )


def note_unknown_roles(
    report: ImportReport, label: str, frame: pl.DataFrame, raw: str, column: str
) -> None:
    """Count (``counts.roles_not_recognised``) and note the rows of ``frame`` whose role
    cell ``raw`` (the user's ``column``) holds a role :data:`ROLE_MAP` does not know (read
    as ``unknown``, or beside a known role of the cell), with the commonest such values."""
    unknown = _roles(raw).list.eval(pl.element().filter(~pl.element().is_in(list(ROLE_MAP))))
    rows = frame.select(pl.col(raw), unknown.alias("_unknown")).filter(
        pl.col("_unknown").list.len() > 0
    )
    report.counts["roles_not_recognised"] = rows.height
    if rows.height:
        values = (
            rows.get_column(raw).value_counts(sort=True, name="n").head(3).iter_rows()
        )
        shown = ", ".join(f"{v!r} ({n:,})" for v, n in values)
        report.notes.append(
            f"{label}: {rows.height:,} role(s) in '{column}' name a role not recognised, e.g. "
            f"{shown}: read as 'unknown' (a cell's recognised role, if any, is kept); the "
            "roles read: decision maker, champion / executive sponsor, economic buyer / "
            "budget holder / finance, technical buyer / evaluator / influencer / blocker, "
            "end user / business user, other"
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


def role_rank() -> pl.Expr:
    """A role's place in :data:`ROLE_PRIORITY` (0 highest; unknown and null roles last)."""
    return pl.col("role").replace_strict(
        {r: i for i, r in enumerate(ROLE_PRIORITY)}, default=len(ROLE_PRIORITY)
    )


def best_role(frame: pl.DataFrame) -> pl.DataFrame:
    """One role per contact (``contact_id``, ``role``): the highest in :data:`ROLE_PRIORITY`."""
    return (
        frame.drop_nulls("contact_id")
        .drop_nulls("role")
        .sort(role_rank(), "role")
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
    """Note rows repeating an id: the first non-blank value of each column is kept. With
    some, the file's entry in the report gives the ids kept (``ids_kept``: one record each)
    and ``rows_merged``, so the summary says how many records the kept rows make."""
    ids = frame.get_column(column).n_unique()
    extra = frame.height - ids
    if extra:
        report.files[label].update(ids_kept=int(ids), rows_merged=int(extra))
        report.notes.append(
            f"{label}: {extra} row(s) repeat an id in '{column}'; per id the first non-blank "
            "value of each column is kept"
        )


def repeated_deals(
    report: ImportReport, label: str, frame: pl.DataFrame, column: str, values: Sequence[str]
) -> None:
    """Count and note deal ids on several rows (``frame``'s ``opportunity_id``; ``column`` is
    the user's header): ``counts.<label>_ids_repeated`` and, of those, the ids whose rows
    differ in ``values`` (stage, dates, amount, company): two deals under one id, e.g. ids
    Excel rounded, or an export appended twice. Every row's events are kept."""
    ids = frame.get_column("opportunity_id")
    repeated = frame.filter(ids.is_duplicated())
    differ = (
        repeated.select("opportunity_id", *values)
        .unique()
        .group_by("opportunity_id")
        .len()
        .filter(pl.col("len") > 1)
        .sort("opportunity_id")
    )
    report.counts[f"{label}_ids_repeated"] = repeated.get_column("opportunity_id").n_unique()
    report.counts[f"{label}_ids_repeated_with_other_values"] = differ.height
    if differ.height:
        shown = ", ".join(map(repr, differ.get_column("opportunity_id").head(3)))
        report.notes.append(
            f"{label}: {differ.height:,} id(s) in '{column}' are on several rows with different "
            f"values (stage, dates, amount or company; e.g. {shown}): each row's events are "
            "kept under the one id, so they may be different deals sharing it (check the "
            "export)"
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
        if blank:  # the rows are kept (contacts, deals): only no survey answer is written
            report.counts[f"{export.label}_without_self_reported_answer"] = int(blank)
            report.notes.append(
                f"{export.label}: {blank:,} of {answers.height:,} row(s) have no answer in "
                f"'{found}': no survey answer for them (the rows themselves are kept)"
            )
        frames.append(_cut_long_answers(report, export, found, answers.drop_nulls("response")))
    if not frames:
        columns = sorted({c for e, _ in sources for c in e.frame.columns if c != LINE})
        raise ColumnNotFoundError(
            f"the self-reported column is in none of {', '.join(e.name for e, _ in sources)}",
            table="surveys",
            column=column,
            hint=did_you_mean(column, columns),
        )
    return pl.concat(frames, how="diagonal_relaxed")


def _cut_long_answers(
    report: ImportReport, export: Export, column: str, answers: pl.DataFrame
) -> pl.DataFrame:
    """``answers`` without ``_line``, each answer longer than :data:`MAX_TEXT_CHARS` cut to
    it and counted (``counts.self_reported_answers_cut``) with a note naming the longest and
    the file lines: the run's own limit and behaviour on a survey answer
    (:func:`attribution.inputs._limits.truncate_text`), so an imported answer is never
    longer than a run would keep it."""
    where = Source(frame=pl.LazyFrame(), name=export.name, numbering=("lines", 0))
    answers, cut = truncate_text(answers, ["response"], where, LINE)
    if "response" in cut:
        info = cut["response"]
        n = int(info["values"])  # type: ignore[call-overload]
        report.counts["self_reported_answers_cut"] = (
            report.counts.get("self_reported_answers_cut", 0) + n
        )
        report.notes.append(
            f"{export.label}: {n:,} answer(s) in '{column}' longer than {MAX_TEXT_CHARS:,} "
            f"characters cut to their first {MAX_TEXT_CHARS:,} (the longest "
            f"{info['longest']:,}; lines {', '.join(map(str, info['lines']))})"  # type: ignore[call-overload]
        )
    return answers.drop(LINE)


def closed_by_stage(
    export: Export,
    column: str,
    won_stages: Sequence[str] = (),
    lost_stages: Sequence[str] = (),
    open_stages: Sequence[str] = (),
) -> pl.Expr:
    """A deal's stage name -> ``closed_won`` / ``closed_lost``, null when open.

    The stages given as won / lost / open (``--won-stage`` / ``--lost-stage`` /
    ``--open-stage``; compared in lower case, letters and digits only) first; then ``Closed
    Won`` / ``closedwon`` and ``Closed Lost``; then a name holding the word ``won`` or
    ``lost``. A name holding both words (``Won/Lost Review``) or a negation of one (``Not
    won``, ``No-Lost``, ``Unwon``) is read neither way: an error naming the file, the
    column, the stage and its lines, unless the stage is given."""
    name = folded(pl.col(column))
    text = pl.col(column).str.to_lowercase()
    won_given = [str(pl.select(folded(pl.lit(s))).item()) for s in won_stages]
    lost_given = [str(pl.select(folded(pl.lit(s))).item()) for s in lost_stages]
    open_given = [str(pl.select(folded(pl.lit(s))).item()) for s in open_stages]
    twice = (
        (set(won_given) & set(lost_given))
        | (set(won_given) & set(open_given))
        | (set(lost_given) & set(open_given))
    )
    if twice:
        raise InputError(f"stage(s) given as two of won, lost and open: {sorted(twice)}")
    word_won, word_lost = text.str.contains(r"\bwon\b"), text.str.contains(r"\blost\b")
    negated = text.str.contains(r"\b(not|no|non|never)\b[\s_-]*(won|lost)\b|\bun-?(won|lost)\b")
    given = name.is_in(won_given + lost_given + open_given)
    unclear = ~given & ~name.is_in(["closedwon", "closedlost"]) & ((word_won & word_lost) | negated)
    if export.frame.select(unclear.fill_null(False).any()).item():
        bad = export.frame.filter(unclear)
        stages = bad.get_column(column).unique(maintain_order=True).head(5).to_list()
        raise SchemaError(
            f"deal stage(s) {', '.join(map(repr, stages))} read neither as won nor as lost "
            f"(both words, or a negation) at file line(s) "
            f"{', '.join(map(str, export.lines(unclear)))}",
            table=export.label,
            source=export.name,
            column=column,
            hint=f"say which they are: --won-stage {stages[0]!r}, --lost-stage "
            f"{stages[0]!r} or --open-stage {stages[0]!r} (won_stages= / lost_stages= / "
            "open_stages= in Python)",
        )
    return (
        pl.when(name.is_in(won_given))
        .then(pl.lit("closed_won"))
        .when(name.is_in(lost_given))
        .then(pl.lit("closed_lost"))
        .when(name.is_in(open_given))
        .then(pl.lit(None, pl.String))
        .when(name == "closedwon")
        .then(pl.lit("closed_won"))
        .when(name == "closedlost")
        .then(pl.lit("closed_lost"))
        .when(word_won)
        .then(pl.lit("closed_won"))
        .when(word_lost)
        .then(pl.lit("closed_lost"))
    )


def note_open_with_close_date(report: ImportReport, frame: pl.DataFrame, label: str) -> None:
    """Note the deals read as open (no won / lost in their stage's name) that carry a close
    date, by stage: a custom or localised won stage (``Contract Signed``, ``Abgeschlossen
    und gewonnen``) reads as open pipeline unless given (``--won-stage``). An open deal's
    close date is its expected one, usually ahead of the closed deals' (CRMs give every deal
    one), so the stages come in order of their deals dated no later than the last won or
    lost deal (said beside the stage), the likeliest closed stage first. ``frame`` has
    ``_stage_raw``, ``_outcome`` and ``_closed``."""
    open_closed = frame.filter(pl.col("_outcome").is_null() & pl.col("_closed").is_not_null())
    if open_closed.height == 0:
        return
    last = frame.filter(pl.col("_outcome").is_not_null()).get_column("_closed").max()
    past = pl.lit(0) if last is None else (pl.col("_closed") <= pl.lit(last)).sum()
    by_stage = (
        open_closed.group_by("_stage_raw", maintain_order=True)
        .agg(pl.len().alias("n"), past.alias("past"))
        .sort("past", descending=True, maintain_order=True)
        .head(5)
    )
    shown = ", ".join(
        f"'{s}' ({n:,}" + (f"; {k:,} dated no later than the last closed deal)" if k else ")")
        for s, n, k in by_stage.iter_rows()
    )
    report.notes.append(
        f"{label}: {open_closed.height:,} deal(s) carry a close date but read as open (no won "
        f"or lost in their stage's name): {shown}; if a stage is closed, give it with "
        "--won-stage / --lost-stage (an open deal's close date is its expected one)"
    )


def uncreated(report: ImportReport, label: str, column: str, count: int) -> None:
    """Count (``counts.<label>_without_create_date``) and note the deals kept without a
    create date: they have no opportunity event, their won / lost event is kept (not a
    dropped row: the deal is in ``rows_kept``)."""
    report.counts[f"{label}_without_create_date"] = int(count)
    if count:
        report.notes.append(
            f"{label}: {count:,} deal(s) without a create date in '{column}': no opportunity "
            "event for them (their won / lost event is kept)"
        )


def closed_without_date(
    report: ImportReport, label: str, frame: pl.DataFrame, closed: str, column: str
) -> None:
    """Count (``counts.<label>_closed_without_close_date``) and note the won / lost deals
    of ``frame`` (``_outcome``, ``closed``, ``opportunity_id``, ``_line``) without a close
    date in the user's ``column``: the row is kept (its ``opportunity`` event), only its won
    / lost event is not made, so it is no dropped row (new-user report 22, M12: "285 kept"
    then "dropped 1"). The note names the first deals and their file lines, and how many
    won deals that leaves out of the conversions."""
    rows = frame.filter(pl.col("_outcome").is_not_null() & pl.col(closed).is_null())
    report.counts[f"{label}_closed_without_close_date"] = rows.height
    if rows.height == 0:
        return
    won = rows.filter(pl.col("_outcome") == "closed_won").height
    shown = ", ".join(
        f"{i!r}" + (f" (file line {n})" if n is not None else "")
        for i, n in rows.select(
            "opportunity_id",
            pl.col(LINE) if LINE in rows.columns else pl.lit(None, pl.Int64),
        ).head(3).iter_rows()
    )  # fmt: skip
    report.notes.append(
        f"{label}: {rows.height:,} won / lost deal(s) without a close date in '{column}' "
        f"(e.g. {shown}): kept as opportunities, with no won / lost event, so {won:,} won "
        "deal(s) are not conversions: give their close dates in the CRM and export again"
    )
