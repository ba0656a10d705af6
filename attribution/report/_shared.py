"""The line beside the answers when conversions share an opportunity id (a buying committee
at contact level: one deal, several contacts, each counted as a customer), read from the
manifest's ``shared_opportunities`` (new-user report 4, defect 15): the customer counts, CAC
and LTV/CAC of the answers then count such a deal once per contact, and the page says so
where those figures are, not only in the folded run details.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from attribution.b2b._analysis import ECONOMICS_NOT_COMPUTED
from attribution.report._format import e, fmt_num
from attribution.report._labels import money


def shared_deals(manifest: Mapping[str, Any]) -> str:
    """``<p class="callout" id="shared-deals">`` naming the shared deals and what to do, or
    ``""`` when no two conversions share an opportunity id.

    >>> shared_deals({})
    ''
    >>> html = shared_deals({"parameters": {"level": "contact"}, "shared_opportunities":
    ...     {"opportunities": 20, "conversions": 60, "value_counted_more_than_once": 4e5}})
    >>> "60</b> conversions share <b>20</b> deals" in html, "--level account" in html
    (True, True)
    """
    shared = manifest.get("shared_opportunities")
    if not isinstance(shared, Mapping) or not shared.get("conversions"):
        return ""
    params = manifest.get("parameters")
    level = params.get("level") if isinstance(params, Mapping) else None
    counts = (
        f"<b>{e(fmt_num(shared.get('conversions')))}</b> conversions share "
        f"<b>{e(fmt_num(shared.get('opportunities')))}</b> deals"
    )
    extra = money(shared.get("value_counted_more_than_once"))
    value = f", and {e(extra)} of deal value more than once" if extra != "–" else ""
    if level == "account":
        text = (
            f"<b>Deals counted more than once:</b> {counts} (the same opportunity id on "
            "several accounts, or closed at several times), so the customers, CAC and LTV/CAC "
            f"below count each such deal once per conversion{value}. Check those "
            "opportunities' stage events."
        )
    else:
        text = (
            f"<b>Customers counted once per contact:</b> {counts} (the same opportunity id on "
            "several contacts: a buying committee), so the customers, CAC and LTV/CAC below "
            f"count each such deal once per contact{value}. Run with "
            '<code>--level account</code> (<code>level="account"</code>) to count each deal '
            "once."
        )
    return f'<p class="callout" id="shared-deals" role="note">{text}</p>'


def no_answers(manifest: Mapping[str, Any]) -> str:
    """Where a run has no answers (no spend was given): the line saying what gives them;
    ``""`` for a run of path counts or one whose economics were left out on purpose."""
    inputs = manifest.get("inputs")
    if manifest.get(ECONOMICS_NOT_COMPUTED) or (isinstance(inputs, Mapping) and "paths" in inputs):
        return ""
    return (
        '<p class="callout muted" id="no-answers">No answers on cost in this run: CAC by '
        "channel, the guardrail, payback and the funnel's leak need the media spend. Give "
        "the spend by channel and month (<code>--spend SPEND</code>; <code>spend=</code> in "
        "Python and in an HTTP run), and a plan (<code>--plan PLAN.toml</code>) for what to "
        "change.</p>"
    )
