"""Joining coded survey answers to the conversions they are about, and counting the joins.

The key is the most specific one both sides carry (``opportunity_id``, else ``contact_id``,
else ``account_id``); see :func:`join_answers`.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from attribution.exceptions import ModelParameterError
from attribution.inputs._schema import ROW
from attribution.journeys._contacts import attach_accounts
from attribution.surveys._ids import match_salesforce_ids
from attribution.surveys._rules import OTHER

__all__ = [
    "DEFAULT_POST_PURCHASE_DAYS",
    "JOIN_KEYS",
    "JOIN_RULES",
    "MAX_POST_PURCHASE_DAYS",
    "accounts_from_contacts",
    "check_post_purchase_days",
    "drop_duplicate_answers",
    "empty_reason",
    "join_answers",
    "join_counts",
]

JOIN_KEYS: tuple[str, ...] = ("opportunity_id", "contact_id", "account_id")
#: How an answer was placed among its key's conversions (``join_rule``), in order of
#: precedence (see :func:`join_answers`).
JOIN_RULES: tuple[str, ...] = (
    "after_conversion",
    "next_conversion",
    "previous_conversion",
    "untimed",
)
#: An answer at most this many days after a conversion is about that conversion (a
#: post-purchase or onboarding survey), unless set otherwise.
DEFAULT_POST_PURCHASE_DAYS = 30
#: The longest post-purchase window (ten years).
MAX_POST_PURCHASE_DAYS = 3650
_MICROS_PER_DAY = 86_400_000_000


def join_answers(
    coded: pl.DataFrame,
    conversions: pl.DataFrame,
    *,
    post_purchase_days: int = DEFAULT_POST_PURCHASE_DAYS,
) -> pl.DataFrame:
    """Add ``conversion_id``, ``joined_on``, ``join_rule`` and ``id_15`` to each answer.

    The key is the most specific one that both the answer row (non-null) and the conversions
    carry: ``opportunity_id``, else ``contact_id``, else ``account_id``; there is no fallback to
    a broader key when the specific one finds nothing (an answer about a lost opportunity
    must not land on another, won one).

    When a key matches several conversions (a contact or an account with two deals), the
    answer's time chooses, and ``join_rule`` says how (:data:`JOIN_RULES`):

    - ``after_conversion``: the latest conversion at most ``post_purchase_days`` days before
      the answer (a post-purchase or onboarding survey is about the deal just closed);
    - ``next_conversion``: else the first conversion at or after the answer (asked during
      the buying journey);
    - ``previous_conversion``: else the last conversion before it (asked more than
      ``post_purchase_days`` after it, with no later conversion);
    - ``untimed``: the answer has no timestamp: the key's first conversion.

    An answer whose key matches one conversion joins it, under the rule its time gives.
    Answers without a match keep a null ``conversion_id`` and ``join_rule``.

    Salesforce ids meet in either form: an answer's 18-character id (a survey tool's) joins
    the conversion with its 15-character form (a report's, or ``attribution import``'s),
    and the other way round, where the id as it is meets nothing
    (:func:`attribution.surveys._ids.match_salesforce_ids`); ``id_15`` is True for those.
    """
    check_post_purchase_days(post_purchase_days, "post_purchase_days")
    keys = [k for k in JOIN_KEYS if k in coded.columns and k in conversions.columns]
    key_expr: Any = None
    for k in keys:
        cond = pl.col(k).is_not_null()
        key_expr = (
            pl.when(cond).then(pl.lit(k))
            if key_expr is None
            else key_expr.when(cond).then(pl.lit(k))
        )
    base = coded.with_columns(
        (
            key_expr.otherwise(pl.lit(None, dtype=pl.String))
            if key_expr is not None
            else pl.lit(None, dtype=pl.String)
        ).alias("joined_on")
    )
    no_time = pl.lit(None, dtype=pl.Datetime("us", "UTC"))
    answer_ts = pl.col("timestamp") if "timestamp" in base.columns else no_time
    conv_ts = pl.col("timestamp") if "timestamp" in conversions.columns else no_time
    candidates = []
    for k in keys:
        answers, targets = match_salesforce_ids(
            base.filter(pl.col("joined_on") == k).select(
                ROW, pl.col(k).cast(pl.String), answer_ts.cast(pl.Datetime("us", "UTC"))
                .alias("_answer_ts")
            ),
            conversions.select(
                pl.col(k).cast(pl.String),
                "conversion_id",
                conv_ts.cast(pl.Datetime("us", "UTC")).alias("_conv_ts"),
            ).filter(pl.col(k).is_not_null()),
            k,
        )  # fmt: skip
        candidates.append(
            answers.join(targets, on=k, how="inner", suffix="_conv").select(
                ROW,
                "conversion_id",
                "_conv_ts",
                "_answer_ts",
                (pl.col("_id15") | pl.col("_id15_conv")).alias("id_15"),
            )
        )
    if candidates:
        cand = pl.concat(candidates, how="vertical_relaxed")
        # microseconds from the conversion to the answer (> 0: the answer came after it)
        delta = (pl.col("_answer_ts") - pl.col("_conv_ts")).dt.total_microseconds()
        window = post_purchase_days * _MICROS_PER_DAY
        rule = (
            pl.when(delta.is_null())
            .then(pl.lit("untimed"))
            .when(delta < 0)
            .then(pl.lit("next_conversion"))
            .when(delta <= window)
            .then(pl.lit("after_conversion"))
            .otherwise(pl.lit("previous_conversion"))
        )
        priority = {"after_conversion": 0, "next_conversion": 1, "previous_conversion": 2,
                    "untimed": 3}  # fmt: skip
        # within a rule: the nearest conversion (the earliest one when untimed)
        nearest = (
            pl.when(delta.is_null())
            .then(pl.col("_conv_ts").dt.epoch("us"))
            .otherwise(delta.abs())
            .fill_null(0)
        )
        chosen = (
            cand.with_columns(rule.alias("join_rule"))
            .with_columns(
                pl.col("join_rule").replace_strict(priority, return_dtype=pl.Int8).alias("_p"),
                nearest.alias("_near"),
            )
            .sort([ROW, "_p", "_near", "conversion_id"])
            .unique(subset=ROW, keep="first", maintain_order=True)
            .select(ROW, "conversion_id", "join_rule", "id_15")
        )
    else:
        chosen = pl.DataFrame(
            schema={ROW: pl.Int64, "conversion_id": pl.String, "join_rule": pl.String,
                    "id_15": pl.Boolean}
        )  # fmt: skip
    return base.join(chosen, on=ROW, how="left")


def check_post_purchase_days(days: object, name: str) -> int:
    """``days`` if it is a whole number of days in [0, :data:`MAX_POST_PURCHASE_DAYS`], else
    the error naming ``name`` (the option or parameter)."""
    if (
        not isinstance(days, int)
        or isinstance(days, bool)
        or not 0 <= days <= MAX_POST_PURCHASE_DAYS
    ):
        raise ModelParameterError(
            f"{name} must be a whole number of days in [0, {MAX_POST_PURCHASE_DAYS}]; "
            f"got {days!r}"
        )
    return days


def drop_duplicate_answers(coded: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The answers with each exact repeat left out (the same ids, ``timestamp``, ``response``
    and pick-list ``channel`` as an earlier row: a form submitted twice, an export appended
    to itself), and how many were left out. Two different answers of one contact are both
    kept (each weighs ``1 / k`` on its conversion)."""
    same = [
        c
        for c in (*JOIN_KEYS, "email", "timestamp", "response", "pick_list")
        if c in coded.columns
    ]
    kept = coded.unique(subset=same, keep="first", maintain_order=True) if same else coded
    return kept, coded.height - kept.height


def accounts_from_contacts(
    coded: pl.DataFrame, conversions: pl.DataFrame, contacts: pl.DataFrame | None
) -> tuple[pl.DataFrame, dict[str, int]]:
    """At account level (conversions with ``account_id`` and no ``contact_id``), each answer
    keyed by contact alone gets its contact's account from ``contacts`` (the run's contacts
    table, mapped as the journeys map touches: :func:`attach_accounts`), so it joins its
    account's conversions. Returns the answers and the counts ``answers_account_from_contact``
    (answers given an account) and ``answers_contact_without_account`` (answers keyed by a
    contact the table does not place in an account, or every such answer without a table);
    empty counts when the run is not at account level or no answer has a ``contact_id``."""
    if (
        "contact_id" not in coded.columns
        or "contact_id" in conversions.columns
        or "account_id" not in conversions.columns
    ):
        return coded, {}
    own = pl.col("account_id").is_not_null() if "account_id" in coded.columns else pl.lit(False)
    by_opportunity = (
        pl.col("opportunity_id").is_not_null()
        if "opportunity_id" in coded.columns and "opportunity_id" in conversions.columns
        else pl.lit(False)
    )
    needs = (pl.col("contact_id").is_not_null() & ~own & ~by_opportunity).alias("_needs")
    frame = coded.with_columns(needs)
    if contacts is not None:
        frame = attach_accounts(frame, contacts.select("contact_id", "account_id"), "surveys")
    placed = pl.col("account_id").is_not_null() if "account_id" in frame.columns else pl.lit(False)
    counted = frame.select(
        (pl.col("_needs") & placed).sum().alias("mapped"),
        (pl.col("_needs") & ~placed).sum().alias("without"),
    ).row(0)
    return frame.drop("_needs"), {
        "answers_account_from_contact": int(counted[0]),
        "answers_contact_without_account": int(counted[1]),
    }


def join_counts(
    coded: pl.DataFrame, joined: pl.DataFrame, conversions: pl.DataFrame, compared: pl.DataFrame
) -> dict[str, Any]:
    answered = joined.get_column("conversion_id").unique()
    n_conv = conversions.height
    with_answer = int(conversions.get_column("conversion_id").is_in(answered.implode()).sum())
    per_conv = joined.group_by("conversion_id").agg(
        pl.len().alias("k"),
        (pl.col("compare_channel") == OTHER).all().alias("all_other"),
        (~pl.col("tracked") & (pl.col("compare_channel") != OTHER)).any().alias("any_dark"),
        pl.col("n_touches").first(),
    )
    by_key = coded.filter(pl.col("conversion_id").is_not_null()).group_by("joined_on").len()
    joined_on = dict.fromkeys(JOIN_KEYS, 0) | dict(by_key.iter_rows())
    no_key = int(coded.get_column("joined_on").is_null().sum())
    rules = coded.filter(pl.col("conversion_id").is_not_null()).group_by("join_rule").len()
    join_rules = dict.fromkeys(JOIN_RULES, 0) | dict(rules.iter_rows())
    return {
        "answers": coded.height,
        "answers_joined": joined.height,
        "answers_without_conversion": coded.height - joined.height,
        "answers_without_key": no_key,
        "joined_on": {k: int(v) for k, v in joined_on.items() if k is not None},
        "join_rules": {k: int(v) for k, v in join_rules.items() if k is not None},
        "answers_joined_by_15_character_id": int(coded.get_column("id_15").fill_null(False).sum())
        if "id_15" in coded.columns
        else 0,
        "conversions": n_conv,
        "conversions_with_answer": with_answer,
        "conversions_without_answer": n_conv - with_answer,
        "conversions_with_several_answers": int((per_conv.get_column("k") > 1).sum()),
        "conversions_answer_other_only": int(per_conv.get_column("all_other").sum()),
        "conversions_answer_dark": int(per_conv.get_column("any_dark").sum()),
        "conversions_unattributed_with_answer": int(
            (per_conv.get_column("n_touches").fill_null(0) == 0).sum()
        ),
        "conversions_compared": compared.get_column("conversion_id").n_unique(),
    }


def _examples(values: pl.Series, n: int = 2) -> str:
    shown = values.drop_nulls().unique(maintain_order=True).head(n).to_list()
    return ", ".join(repr(v) for v in shown)


def empty_reason(
    coded: pl.DataFrame,
    joined: pl.DataFrame,
    conversions: pl.DataFrame,
    contact_accounts: dict[str, int] | None = None,
    *,
    with_contacts: bool = False,
) -> str:
    """Why no answer was compared (the benchmark is empty), in one line: no answer joined a
    conversion (the join tried: each id column, its answers, examples from both sides; at
    account level, the answers keyed by a contact without an account,
    ``contact_accounts`` of :func:`accounts_from_contacts`, ``with_contacts``: a contacts
    table was given), or the joined answers name no
    tracked channel (how many are ``other`` or untracked)."""
    if coded.height == 0:
        return "the survey table has no answer"
    if joined.height == 0:
        tried = []
        for k in JOIN_KEYS:
            in_answers, in_conversions = k in coded.columns, k in conversions.columns
            if not in_answers:
                continue
            if not in_conversions:
                without = (contact_accounts or {}).get("answers_contact_without_account", 0)
                tried.append(
                    f"{k}: in the answers, not in the conversions"
                    + (
                        f" (account-level conversions): {without:,} answer(s) keyed by a "
                        + (
                            "contact the contacts table places in no account, e.g. "
                            f"{_examples(coded.filter(pl.col('joined_on').is_null()).get_column(k))}"
                            if with_contacts
                            else "contact alone; give their account_id, or the contacts table "
                            "(--contacts) to map each contact to its account"
                        )
                        if k == "contact_id" and without
                        else ""
                    )
                )
                continue
            with_key = coded.filter(pl.col("joined_on") == k)
            convs = conversions.get_column(k)
            tried.append(
                f"{k}: {with_key.height:,} answer(s), e.g. "
                f"{_examples(with_key.get_column(k)) or 'none'}, none among the "
                f"{convs.n_unique():,} conversions' (e.g. {_examples(convs) or 'none'})"
            )
        absent = [k for k in JOIN_KEYS if k not in coded.columns]
        no_key = int(coded.get_column("joined_on").is_null().sum()) - (
            contact_accounts or {}
        ).get("answers_contact_without_account", 0)
        return (
            "no survey answer joined a conversion (by the most specific id both carry: "
            "opportunity_id, else contact_id, else account_id): "
            + "; ".join(
                [
                    *tried,
                    *([f"{no_key:,} answer(s) have no id"] if no_key else []),
                    *([f"the answers have no {' or '.join(absent)}"] if absent else []),
                ]
            )
            + ". Check that the survey export's ids are the CRM's (a survey tool's own "
            "respondent ids do not join)"
        )
    other = int((joined.get_column("compare_channel") == OTHER).sum())
    dark = int((~joined.get_column("tracked") & (joined.get_column("compare_channel") != OTHER))
               .sum())  # fmt: skip
    untouched = int((joined.get_column("n_touches").fill_null(0) == 0).sum())
    return (
        f"none of the {joined.height:,} answer(s) joined to a conversion names a tracked "
        f"channel of an attributed conversion: {other:,} name none (other: don't know, blank, "
        f"unmatched), {dark:,} name a channel the touches never record, {untouched:,} belong "
        "to conversions without touches"
    )
