"""Do the economics' inputs meet? Conversions without touches, subscriptions and accounts
keyed by other ids (README, "Unit economics", "Inputs that do not meet").

- **Conversions without touches**: above ``UNATTRIBUTED_LIMIT`` (20%) of the conversions,
  CAC divides the spend by the attributed customers only (a few of them when most
  conversions lost their touches), and the likely cause is that the stages and the touches
  key contacts differently (a CRM migration, 15- vs 18-character ids): a warning names the
  share and a few ids of each side.
- **Subscriptions**: the customers' accounts (the accounts of the attributed conversions)
  are looked up among the subscriptions' accounts. When fewer than ``USE_FLOOR`` (5%)
  match, the subscriptions describe other accounts (most likely other ids: a billing
  system's customer ids) and their churn is not the customers': LTV falls back to the
  default churn assumption, with the reason and the count matched. Under ``MATCH_FLOOR``
  (20%) the observed churn is kept and a warning says how few customers it covers.
- **Accounts**: the same share against the accounts table; under ``MATCH_FLOOR`` the
  segment, metro and region figures are (nearly) all ``unknown``, and a warning says so
  (and that the ids differ in length when they do). A customer's 15-character Salesforce
  id meets the table's 18-character one (``Accounts.lookup``), counted
  (``matched_by_15_character_id``) and said in a note.

Each finding goes into ``economics.json`` (``parameters.unattributed``,
``subscriptions_match``, ``accounts_match``) and the economics summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from attribution._reporting_currency import money_text
from attribution.b2b._economics_outliers import deal_value_outliers, outliers_line
from attribution.b2b._economics_repeats import blended_without, repeat_wins, repeat_wins_line
from attribution.b2b._economics_slices import conversion_accounts, observed_churns
from attribution.b2b._shared import money

if TYPE_CHECKING:
    from attribution.b2b._economics_window import SpendWindow
    from attribution.b2b._retention import Retention
    from attribution.inputs._account_inputs import Accounts

__all__ = [
    "MATCH_FLOOR",
    "NO_VALUE",
    "UNATTRIBUTED_LIMIT",
    "USE_FLOOR",
    "accounts_match",
    "join_findings",
    "join_items",
    "join_lines",
    "matched_churns",
    "unattributed",
]

#: what the economics say when no credited customer has a deal value (``not_measured``)
NO_VALUE = (
    "not measured: won deals carry no value (LTV, LTV/CAC, payback and the guardrail need "
    "the deal's value on its closed-won row or on its opportunity's earlier stage events)"
)

UNATTRIBUTED_LIMIT = 0.2
MATCH_FLOOR = 0.2
USE_FLOOR = 0.05
_SHOWN = 3


def _sample(ids: pl.Series) -> list[str]:
    return [str(x) for x in ids.drop_nulls().unique().sort().head(_SHOWN).to_list()]


def unattributed(conversions: pl.DataFrame, touch_credit: pl.DataFrame) -> dict[str, Any] | None:
    """The conversions without a touch, when more than ``UNATTRIBUTED_LIMIT`` of them."""
    if "n_touches" not in conversions.columns or conversions.height == 0:
        return None
    missing = conversions.filter(pl.col("n_touches") == 0)
    share = missing.height / conversions.height
    if share <= UNATTRIBUTED_LIMIT:
        return None
    key = "contact_id" if "contact_id" in conversions.columns else "conversion_id"
    empty = pl.Series(key, [], dtype=pl.String)
    touched = touch_credit.get_column(key) if key in touch_credit.columns else empty
    return {
        "conversions": conversions.height,
        "without_touches": missing.height,
        "share": share,
        "limit": UNATTRIBUTED_LIMIT,
        "id": key,
        "examples_without_touches": _sample(missing.get_column(key)),
        "examples_with_touches": _sample(touched),
    }


def _customer_accounts(touch_credit: pl.DataFrame) -> pl.Series | None:
    if touch_credit.height == 0 or "account_id" not in touch_credit.columns:
        return None
    ids = conversion_accounts(touch_credit).get_column("account_id").drop_nulls().unique()
    return ids if ids.len() else None


def _match(customers: pl.Series, others: pl.Series, name: str) -> dict[str, Any]:
    matched = int(customers.is_in(others.implode()).sum())
    return {
        "customer_accounts": customers.len(),
        "matched": matched,
        "share": matched / customers.len(),
        "floor": MATCH_FLOOR,
        "examples_customers": _sample(customers),
        f"examples_{name}": _sample(others),
    }


def matched_churns(
    given: float | None, kept: Retention | None, touch_credit: pl.DataFrame
) -> tuple[dict[str, float], str, dict[str, Any] | None]:
    """Annual churn by segment and its source (:func:`observed_churns`), the subscriptions'
    churn left out (default assumption) when under ``USE_FLOOR`` of the customers'
    accounts are in the subscriptions; and the match found."""
    customers = _customer_accounts(touch_credit)
    if kept is None or customers is None or kept.accounts.len() == 0:
        return (*observed_churns(given, kept), None)
    match = _match(customers, kept.accounts, "subscriptions")
    match["used"] = match["share"] >= USE_FLOOR
    if match["used"] or given is not None:
        return (*observed_churns(given, kept), match)
    churns, _ = observed_churns(given, None)
    return (
        churns,
        (
            f"default assumption: the subscriptions match {match['matched']:,} of "
            f"{match['customer_accounts']:,} customers' accounts, under {USE_FLOOR:.0%}"
        ),
        match,
    )


def accounts_match(accounts: Accounts | None, touch_credit: pl.DataFrame) -> dict[str, Any] | None:
    """The customers' accounts found in the accounts table."""
    customers = _customer_accounts(touch_credit)
    if accounts is None or customers is None:
        return None
    lookup = accounts.lookup()
    match = _match(customers, lookup.get_column("account_id"), "accounts")
    match["examples_accounts"] = _sample(accounts.frame.get_column("account_id"))
    by_15 = lookup.filter(pl.col("_id15")).get_column("account_id")
    match["matched_by_15_character_id"] = int(customers.is_in(by_15.implode()).sum())
    lengths = [_usual_length(customers), _usual_length(accounts.frame.get_column("account_id"))]
    match["id_lengths"] = lengths if lengths[0] != lengths[1] else None
    return match


def _usual_length(ids: pl.Series) -> int | None:
    """The most common length of ``ids`` (None without any)."""
    counts = ids.drop_nulls().cast(pl.String).str.len_chars().value_counts(sort=True)
    return int(counts.row(0)[0]) if counts.height else None


def _with_anonymous(
    found: dict[str, Any] | None, manifest: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """``found`` with ``anonymous_touches``: the run's touches dropped for no contact id."""
    if found is None:
        return None
    dropped = ((manifest or {}).get("reconciliation") or {}).get("touches_dropped") or {}
    return {**found, "anonymous_touches": int(dropped.get("missing_contact_id", 0) or 0)}


def join_findings(
    accounts: Accounts | None,
    window: SpendWindow,
    subscriptions: dict[str, Any] | None,
    blended: pl.DataFrame,
    manifest: Mapping[str, Any] | None = None,
    channels: pl.DataFrame | None = None,
) -> dict[str, Any]:
    """``economics.json`` ``parameters``' findings of this module (module docstring), and
    ``not_measured`` when the credited customers carry no value at all (inputs that miss;
    ``manifest``: the run's, whose touches without a contact the unattributed finding
    names, as anonymous visits are the other usual cause; ``channels``: the economics' rows
    by channel, for the repeat wins' CAC per channel)."""
    valued = blended.filter(pl.col("segment") == "all", pl.col("customers") > 0)
    no_value = valued.height > 0 and not valued.filter(pl.col("revenue") > 0).height
    return {
        "accounts_match": accounts_match(accounts, window.touch_credit),
        "subscriptions_match": subscriptions,
        "unattributed": _with_anonymous(
            unattributed(window.conversions, window.touch_credit), manifest
        ),
        "not_measured": NO_VALUE if no_value else None,
        "customers_at_zero_value": None
        if no_value
        else at_zero_value(window.conversions, blended, (manifest or {}).get("decision_model")),
        "deal_value_outliers": deal_value_outliers(window.conversions),
        "customers_repeat_wins": repeat_wins(window.conversions, window.touch_credit, blended,
                                             (manifest or {}).get("decision_model"), channels),
    }


def at_zero_value(
    conversions: pl.DataFrame, blended: pl.DataFrame | None = None, model: str | None = None
) -> dict[str, Any] | None:
    """How many of the credited customers (the conversions with touches) carry no deal
    amount (or 0): ARPA, and so LTV, LTV/CAC and payback, count them at $0, and CAC counts
    them as customers (a PLG trial's $0 invoice mapped as a won deal) -- none when none or
    all do (all: ``not_measured``). With the ``blended`` rows: the blended CAC and loaded
    CAC of ``model`` (the decision model; else the first) with them and without them (each
    credited conversion is one customer, shared out among channels, so leaving them out
    takes exactly their count off the blended customers; the spend stays)."""
    if "value" not in conversions.columns or not conversions.height:
        return None
    credited = (
        conversions.filter(pl.col("n_touches") > 0)
        if "n_touches" in conversions.columns
        else conversions
    )
    zero = credited.filter(pl.col("value").fill_null(0.0) <= 0).height
    if not 0 < zero < credited.height:
        return None
    found: dict[str, Any] = {
        "customers": credited.height, "at_zero": zero, "share": zero / credited.height
    }
    return {**found, **blended_without(blended, model, zero)}


def zero_value_line(z: Mapping[str, Any]) -> str:
    """The note of :func:`at_zero_value`'s finding ``z``: the count, what counts them (CAC
    as customers, ARPA at $0), the blended CAC with and without them, and the two ways out
    (README, "Won deals at $0")."""
    n, total, zero = z["at_zero"], z["customers"], money_text(0)
    cac = ""
    if z.get("blended_cac_without") is not None:
        loaded = (
            f"; loaded {money(z['blended_loaded_cac'])} with them, "
            f"{money(z['blended_loaded_cac_without'])} without"
            if z["blended_loaded_cac"] != z["blended_cac"]
            else ""
        )
        cac = (
            f" Blended CAC under {z['model']}: {money(z['blended_cac'])} with them "
            f"({z['blended_customers']:,.0f} customers), {money(z['blended_cac_without'])} "
            f"without them ({z['blended_customers'] - n:,.0f}){loaded}."
        )
    return (
        f"NOTE: {n:,} of {total:,} credited customers ({z['share']:.0%}) are won deals at "
        f"{zero} (no amount: a trial or free plan's {zero} invoice mapped as a won deal?): "
        "CAC counts them as customers, and ARPA, and so LTV, LTV/CAC and payback, counts "
        f"them at {zero}.{cac} If they are not customers, leave their won "
        "rows (amount 0 or blank) out of the stages (e.g. filter the export on Amount > 0); "
        "if they are, give their amounts, or read LTV as understated by up to that share."
    )


def _ids(xs: list[str]) -> str:
    return ", ".join(f"'{x}'" for x in xs) or "none"


def join_lines(p: dict[str, Any]) -> list[str]:
    """The summary's warnings for the findings in the economics ``parameters`` ``p``, and
    a note of the customers' accounts met by their 15-character Salesforce id."""
    a = p.get("accounts_match") or {}
    by_15 = (
        [
            f"NOTE: {a['matched_by_15_character_id']:,} of {a['customer_accounts']:,} "
            "customers' accounts met the accounts table by the 15-character form of its "
            "18-character Salesforce ids (a Data Loader export; reports and attribution "
            "import write 15)."
        ]
        if a.get("matched_by_15_character_id")
        else []
    )
    repeats = [repeat_wins_line(r)] if (r := p.get("customers_repeat_wins")) else []
    return by_15 + [text for _, text in join_items(p)] + repeats


def join_items(p: dict[str, Any]) -> list[tuple[str, str]]:
    """:func:`join_lines` with the name of each finding (the alerts' ``metric``)."""
    out: list[tuple[str, str]] = []
    if p.get("not_measured"):
        out.append(("deal_values", f"WARNING: {p['not_measured']}."))
    if z := p.get("customers_at_zero_value"):
        out.append(("deal_values_missing", zero_value_line(z)))
    if far := p.get("deal_value_outliers"):
        out.append(("deal_value_outliers", outliers_line(far)))
    if u := p.get("unattributed"):
        out.append(
            (
                "conversions_without_touches",
                f"WARNING: {u['without_touches']:,} of {u['conversions']:,} conversions "
                f"({u['share']:.0%}, over {u['limit']:.0%}) have no touch: CAC, LTV/CAC and the "
                f"guardrail are on the {u['conversions'] - u['without_touches']:,} with touches. "
                + (f"Anonymous visits? {u['anonymous_touches']:,} touches have no contact id "
                   "(a visitor who never logged in, dropped and counted in the reconciliation: "
                   "missing_contact_id), so a customer who browsed that way has no journey. "
                   if u.get("anonymous_touches") else "")
                + f"Do the stages and the touches key contacts alike? {u['id']} of conversions "
                f"without touches: {_ids(u['examples_without_touches'])}; of touches: "
                f"{_ids(u['examples_with_touches'])}.",
            )
        )
    if (s := p.get("subscriptions_match")) and s["share"] < s["floor"]:
        used = (
            "their churn is of other accounts than most customers'"
            if s["used"]
            else f"under {USE_FLOOR:.0%}, their churn is not used: LTV takes the default assumption"
        )
        out.append(
            (
                "subscriptions_match",
                f"WARNING: the subscriptions' accounts match {s['matched']:,} of "
                f"{s['customer_accounts']:,} customers' accounts ({s['share']:.0%}): {used}. "
                f"Customers' account_id: {_ids(s['examples_customers'])}; subscriptions': "
                f"{_ids(s['examples_subscriptions'])}.",
            )
        )
    if (a := p.get("accounts_match")) and a["share"] < MATCH_FLOOR:
        lengths = a.get("id_lengths")
        cause = (
            f" The ids differ in length ({lengths[0]} characters in the run, {lengths[1]} in "
            "the accounts table): give the accounts table the ids the touches and stages "
            "carry."
            if lengths and None not in lengths
            else ""
        )
        out.append(
            (
                "accounts_match",
                f"WARNING: {a['matched']:,} of {a['customer_accounts']:,} customers' accounts "
                f"are in the accounts table (under {a['floor']:.0%}): the segment, metro and "
                f"region figures are mostly 'unknown'. Customers' account_id: "
                f"{_ids(a['examples_customers'])}; accounts table's: "
                f"{_ids(a['examples_accounts'])}.{cause}",
            )
        )
    return out
