"""Are the subscriptions' amounts and the won deals' in one unit? A billing export's amounts
left in cents (Stripe writes ``4900`` for $49) make every money figure of retention 100x
(MRR, churned MRR, contraction, expansion, new MRR; the rates are ratios and stay right),
with nothing else to show it. The check (README, "Retention and NRR", *decision*):

- per account with both: its MRR x 12 (the median of its months with MRR > 0) over its
  won-deal value (the median of its won deals with a value > 0; deal values are ARR by
  default), then the **median** of those ratios over the accounts compared;
- a median in ``CENTS_BAND`` (30-300, around 100: a plan billed monthly, yearly or with
  expansion stays within 0.3-12x) says the subscriptions are in cents; one in 1/300-1/30
  says the deals are; either is a warning naming the file, the user's amount column, the
  ratio, the accounts compared and how many of them fall in the band, and the fix (no
  option gives an amount's unit: divide the column by 100). Fewer than ``MIN_ACCOUNTS``
  accounts compared: no verdict.

Nothing is changed: the check warns (the retention summary, ``retention.json``
``amount_check``, the manifest's ``subscriptions_amount_check`` and ``notes``). A run checks
always; :func:`attribution.retention` called alone checks when given the run
(``result=``), else it has no deals to compare and says so (:data:`NOT_CHECKED`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import polars as pl

from attribution.b2b._economics_slices import conversion_accounts

if TYPE_CHECKING:
    from attribution.b2b._retention import Retention
    from attribution.engine._result import AttributionResult
    from attribution.inputs._account_inputs import Subscriptions

__all__ = [
    "CENTS_BAND",
    "MIN_ACCOUNTS",
    "account_deal_values",
    "amount_check",
    "NOT_CHECKED",
    "record_amount_check",
    "run_amount_check",
]

#: the median ratio (subscriptions' MRR x 12 / won-deal value) read as amounts in cents
CENTS_BAND: Final = (30.0, 300.0)
#: the fewest accounts with both a subscription and a won deal to judge the unit on
MIN_ACCOUNTS: Final = 3
#: ``amount_check`` of :func:`attribution.retention` called without a run: no won deals
NOT_CHECKED: Final = {
    "verdict": "not_checked",
    "warning": None,
    "reason": "no won deals to compare the subscriptions' amounts with: pass the run "
    "(retention(..., result=...)) to check that they are not in cents",
}


def account_deal_values(touch_credit: pl.DataFrame, conversions: pl.DataFrame) -> pl.DataFrame:
    """``account_id`` -> ``value``: the median of the account's won deals with a value > 0
    (the account of a conversion: its own ``account_id``, else its credited touches')."""
    empty = pl.DataFrame(schema={"account_id": pl.String, "value": pl.Float64})
    if "value" not in conversions.columns or not conversions.height:
        return empty
    owners = []
    if "account_id" in conversions.columns:
        owners.append(conversions.select("conversion_id", "account_id"))
    if touch_credit.height and "account_id" in touch_credit.columns:
        owners.append(conversion_accounts(touch_credit))
    if not owners:
        return empty
    owner = (
        pl.concat([o.drop_nulls("account_id") for o in owners])
        .unique("conversion_id", keep="first", maintain_order=True)
    )
    return (
        conversions.select("conversion_id", "value")
        .filter(pl.col("value") > 0)
        .join(owner, on="conversion_id")
        .group_by("account_id")
        .agg(pl.col("value").median())
    )


def _named(source: str | None, column: str) -> str:
    return f"{source}, column '{column}'" if source else f"column '{column}'"


def amount_check(
    subscriptions: pl.DataFrame,
    deals: pl.DataFrame,
    *,
    subscriptions_source: str | None,
    subscriptions_column: str,
    amount: str = "mrr",
    stages_source: str | None = None,
    stages_column: str = "value",
) -> dict[str, Any] | None:
    """The check of the module docstring on ``subscriptions`` (``account_id``, ``month``,
    ``mrr``) against ``deals`` (:func:`account_deal_values`); ``amount`` is the column the
    MRR came from (``arr``: divided by 12). None without an account on both sides."""
    mrr = (
        subscriptions.filter(pl.col("mrr") > 0)
        .group_by("account_id")
        .agg((pl.col("mrr").median() * 12).alias("arr"))
    )
    both = mrr.join(deals, on="account_id").with_columns(
        (pl.col("arr") / pl.col("value")).alias("ratio")
    )
    if not both.height:
        return None
    low, high = CENTS_BAND
    ratio = float(both.get_column("ratio").median())  # type: ignore[arg-type]
    ratios = both.get_column("ratio")
    judged = both.height >= MIN_ACCOUNTS
    verdict = (
        "subscriptions_in_cents"
        if judged and low <= ratio <= high
        else "deals_in_cents"
        if judged and 1 / high <= ratio <= 1 / low
        else "same_unit"
        if judged
        else "too_few_accounts"
    )
    in_band = (
        int(((ratios >= 1 / high) & (ratios <= 1 / low)).sum())
        if verdict == "deals_in_cents"
        else int(((ratios >= low) & (ratios <= high)).sum())
    )
    found: dict[str, Any] = {
        "accounts_compared": both.height,
        "median_ratio": ratio,
        "band": [low, high],
        "accounts_in_band": in_band,
        "min_accounts": MIN_ACCOUNTS,
        "verdict": verdict,
        "subscriptions_source": subscriptions_source,
        "subscriptions_column": subscriptions_column,
        "stages_source": stages_source,
        "stages_column": stages_column,
    }
    found["warning"] = _warning(found, amount)
    return found


def _warning(f: dict[str, Any], amount: str) -> str | None:
    subs = _named(f["subscriptions_source"], f["subscriptions_column"])
    deals = _named(f["stages_source"], f["stages_column"])
    per = "MRR x 12" if amount == "mrr" else "ARR"
    low, high = f["band"]
    compared = (
        f"{f['accounts_compared']:,} accounts with both compared, {f['accounts_in_band']:,} "
        "of them"
    )
    if f["verdict"] == "subscriptions_in_cents":
        return (
            f"WARNING: the subscriptions' amounts look like cents: their {per} ({subs}) is a "
            f"median {f['median_ratio']:,.1f}x the same accounts' won-deal values ({compared} "
            f"{low:g}-{high:g}x). Retention's money figures (MRR, churned MRR, contraction, "
            "expansion, new MRR) are then 100x; its rates (NRR, GRR, churn) are not. No "
            f"option gives an amount's unit: divide the column '{f['subscriptions_column']}' "
            "by 100 (Stripe exports amounts in cents) and run again; nothing was changed."
        )
    if f["verdict"] == "deals_in_cents":
        return (
            f"WARNING: the won deals' amounts look like cents: the subscriptions' {per} "
            f"({subs}) is a median {f['median_ratio']:.3g}x (1/{1 / f['median_ratio']:,.0f}) of "
            "the same accounts' "
            f"won-deal values ({deals}; {compared} 1/{high:g}-1/{low:g}). Revenue, ARPA, "
            "LTV, LTV/CAC, payback and pipeline are then 100x. No option gives an amount's "
            f"unit: divide the column '{f['stages_column']}' by 100 and run again; nothing "
            "was changed."
        )
    return None


def run_amount_check(
    subscriptions: Subscriptions, result: AttributionResult, stages_column: str | None = None
) -> dict[str, Any] | None:
    """:func:`amount_check` of ``subscriptions`` against the won deals of the run ``result``;
    ``stages_column``: the user's name of the stages' value column (default: the run's
    ``[columns.stages] value``, else ``value``)."""
    stages = (result.manifest.get("inputs") or {}).get("stages") or {}
    if stages_column is None:
        columns = (result.options.columns if result.options is not None else None) or {}
        stages_column = (columns.get("stages") or {}).get("value", "value")
    return amount_check(
        subscriptions.frame.select("account_id", "month", "mrr"),
        account_deal_values(result.touch_credit, result.conversions),
        subscriptions_source=subscriptions.source,
        subscriptions_column=subscriptions.table.names.get(
            subscriptions.amount, subscriptions.amount
        ),
        amount=subscriptions.amount,
        stages_source=stages.get("source") if isinstance(stages, dict) else None,
        stages_column=stages_column,
    )


def record_amount_check(
    kept: Retention,
    subscriptions: Subscriptions,
    result: AttributionResult,
    stages_column: str = "value",
) -> dict[str, Any] | None:
    """Run :func:`amount_check` for a run: the subscriptions against the run's won deals;
    the finding goes into ``kept.notes`` (``retention.json``, the retention summary) and
    ``result.manifest`` (``subscriptions_amount_check``; its warning in ``notes``)."""
    found = run_amount_check(subscriptions, result, stages_column)
    kept.notes["amount_check"] = found
    result.manifest["subscriptions_amount_check"] = found
    if found is not None and found["warning"]:
        notes = result.manifest.setdefault("notes", [])
        if found["warning"] not in notes:
            notes.append(found["warning"])
    return found
