"""Joining coded survey answers to the conversions they are about, and counting the joins.

The key is the most specific one both sides carry (``opportunity_id``, else ``contact_id``,
else ``account_id``); see :func:`join_answers`.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from attribution.inputs._schema import ROW
from attribution.surveys._rules import OTHER

__all__ = ["JOIN_KEYS", "empty_reason", "join_answers", "join_counts"]

JOIN_KEYS: tuple[str, ...] = ("opportunity_id", "contact_id", "account_id")


def join_answers(coded: pl.DataFrame, conversions: pl.DataFrame) -> pl.DataFrame:
    """Add ``conversion_id`` and ``joined_on`` to each answer.

    The key is the most specific one that both the answer row (non-null) and the conversions
    carry: ``opportunity_id``, else ``contact_id``, else ``account_id``; there is no fallback to
    a broader key when the specific one finds nothing (an answer about a lost opportunity
    must not land on another, won one). When a key matches several conversions (an account
    with two deals), the answer goes to the first conversion at or after it, else the last
    one before it (the answer is asked before the deal closes). Answers without a match keep
    a null ``conversion_id``.
    """
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
    conv_time = "timestamp" if "timestamp" in conversions.columns else None
    candidates = []
    for k in keys:
        conv = conversions.select(
            pl.col(k).cast(pl.String),
            "conversion_id",
            (
                pl.col(conv_time) if conv_time else pl.lit(None, dtype=pl.Datetime("us", "UTC"))
            ).alias("_conv_ts"),
        ).filter(pl.col(k).is_not_null())
        candidates.append(
            base.filter(pl.col("joined_on") == k)
            .select(ROW, k, *(["timestamp"] if "timestamp" in base.columns else []))
            .join(conv, on=k, how="inner")
            .select(
                ROW,
                "conversion_id",
                "_conv_ts",
                *(["timestamp"] if "timestamp" in base.columns else []),
            )
        )
    if candidates:
        cand = pl.concat(candidates, how="diagonal_relaxed")
        if "timestamp" in cand.columns:
            after = (pl.col("_conv_ts") >= pl.col("timestamp")).fill_null(True)
            gap = (pl.col("_conv_ts") - pl.col("timestamp")).abs().fill_null(pl.duration(days=0))
        else:
            after, gap = pl.lit(True), pl.lit(0)
        chosen = (
            cand.with_columns(after.alias("_after"), gap.alias("_gap"))
            .sort(
                [ROW, "_after", "_gap", "_conv_ts", "conversion_id"],
                descending=[False, True, False, False, False],
                nulls_last=True,
            )
            .unique(subset=ROW, keep="first", maintain_order=True)
            .select(ROW, "conversion_id")
        )
    else:
        chosen = pl.DataFrame(schema={ROW: pl.Int64, "conversion_id": pl.String})
    return base.join(chosen, on=ROW, how="left")


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
    return {
        "answers": coded.height,
        "answers_joined": joined.height,
        "answers_without_conversion": coded.height - joined.height,
        "answers_without_key": no_key,
        "joined_on": {k: int(v) for k, v in joined_on.items() if k is not None},
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


def empty_reason(coded: pl.DataFrame, joined: pl.DataFrame, conversions: pl.DataFrame) -> str:
    """Why no answer was compared (the benchmark is empty), in one line: no answer joined a
    conversion (the join tried: each id column, its answers, examples from both sides), or
    the joined answers name no tracked channel (how many are ``other`` or untracked)."""
    if coded.height == 0:
        return "the survey table has no answer"
    if joined.height == 0:
        tried = []
        for k in JOIN_KEYS:
            in_answers, in_conversions = k in coded.columns, k in conversions.columns
            if not in_answers:
                continue
            if not in_conversions:
                tried.append(f"{k}: in the answers, not in the conversions")
                continue
            with_key = coded.filter(pl.col("joined_on") == k)
            convs = conversions.get_column(k)
            tried.append(
                f"{k}: {with_key.height:,} answer(s), e.g. "
                f"{_examples(with_key.get_column(k)) or 'none'}, none among the "
                f"{convs.n_unique():,} conversions' (e.g. {_examples(convs) or 'none'})"
            )
        absent = [k for k in JOIN_KEYS if k not in coded.columns]
        no_key = int(coded.get_column("joined_on").is_null().sum())
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
