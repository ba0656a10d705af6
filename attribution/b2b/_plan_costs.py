"""What the published ranges imply a customer and an MQL cost, for the plan check without data.

The benchmark table has no CAC row: a CAC is a cost per MQL over an MQL-to-customer rate,
and the table has both parts. Per channel of the table:

- **cost per lead** = its ``cpl`` row, else its click cost (``cpc``; for paid search the brand
  and generic CPCs together, ``cpc_brand`` low to ``cpc_generic`` high) over its lead
  conversion (``lead_form_conversion``, else ``conversion_rate``);
- **cost per MQL** = cost per lead / its ``mql_rate`` (channels without one, such as paid
  search and programmatic in the shipped table, give none);
- **CAC** = cost per MQL / the MQL-to-customer rate (the product of the step ranges, 15-25% x
  40-60% x 20-30% = 1.2-4.5%).

Ranges carry through end to end: the low end divides the cheapest costs by the best rates
(LinkedIn: $5 CPC / 20% lead-form conversion / 40% MQL rate = $62.50 per MQL; / 4.5% = $1,389
per customer). The published range of a plan-wide figure spans every channel's: from the
lowest low end to the highest high end. Edit the table (``[benchmarks] file``) and these
follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from attribution._reporting_currency import DEFAULT_CURRENCY, money_in
from attribution.b2b._shared import money
from attribution.inputs._benchmarks import BenchmarkRange, Benchmarks

__all__ = ["Implied", "dollars", "published_costs"]


class Implied(NamedTuple):
    """A cost range the published rows imply for one channel, and how; ``usd``: its cost row
    is the shipped table's, published in US dollars (its figures are written in dollars in
    ``how``, and labelled where the run's currency is another: new-user report 16, M8)."""

    channel: str
    low: float
    high: float
    how: str
    usd: bool = False


def _both(r: BenchmarkRange | None) -> tuple[float, float] | None:
    if r is None or r.low is None or r.high is None or r.low <= 0:
        return None
    return r.low, r.high


def dollars(x: float, usd: bool = False) -> str:
    """``$62.50`` below $100, else ``$1,389`` (in the run's currency; ``usd``: in US
    dollars, whatever the run's currency)."""
    if usd:
        with money_in(DEFAULT_CURRENCY):
            return money(x, cents_below=100)
    return money(x, cents_below=100)


def _shipped(*rows: BenchmarkRange | None) -> bool:
    """Whether the money rows used are the shipped table's (published in USD)."""
    used = [r for r in rows if r is not None]
    return bool(used) and all(r.origin == "shipped" for r in used)


def _cost_per_lead(
    bench: Benchmarks, channel: str
) -> tuple[float, float, str, bool] | None:
    """The channel's cost per lead (low, high), how, and whether its money row is the
    shipped table's (USD)."""
    row = bench.get("cpl", channel=channel)
    cpl = _both(row)
    if cpl:
        usd = _shipped(row)
        return cpl[0], cpl[1], f"CPL {dollars(cpl[0], usd)}-{dollars(cpl[1], usd)}", usd
    row = bench.get("cpc", channel=channel)
    cpc, usd = _both(row), _shipped(row)
    what = "CPC"
    if cpc is None:
        rows = [bench.get(m, channel=channel) for m in ("cpc_brand", "cpc_generic")]
        brand, generic = (_both(r) for r in rows)
        if brand is None or generic is None:
            return None
        cpc, what, usd = (brand[0], generic[1]), "CPC (brand to generic)", _shipped(*rows)
    for metric, name in (("lead_form_conversion", "lead-form conversion"),
                         ("conversion_rate", "conversion rate")):  # fmt: skip
        conv = _both(bench.get(metric, channel=channel))
        if conv:
            return (
                cpc[0] / conv[1],
                cpc[1] / conv[0],
                f"{what} {dollars(cpc[0], usd)}-{dollars(cpc[1], usd)} / {name} "
                f"{conv[0]:.0%}-{conv[1]:.0%}",
                usd,
            )
    return None


def published_costs(
    bench: Benchmarks, steps: Sequence[str]
) -> tuple[list[Implied], list[Implied], tuple[float, float] | None]:
    """Per channel of the table (its channel-scoped rows): the cost per MQL and the CAC its
    published rows imply, and the published MQL-to-customer range (the product of the step
    ranges from ``steps[1]`` to the last step; ``None`` when a step has no range)."""
    channels = sorted(
        {c for c in bench.table.get_column("channel").to_list() if c is not None}
    )
    chain = bench.chain(list(steps[1:]))
    to_customer = (chain[0], chain[1]) if chain else None
    per_mql: list[Implied] = []
    cac: list[Implied] = []
    for channel in channels:
        lead = _cost_per_lead(bench, channel)
        mql = _both(bench.get("mql_rate", channel=channel))
        if lead is None or mql is None:
            continue
        low, high, usd = lead[0] / mql[1], lead[1] / mql[0], lead[3]
        how = f"{lead[2]} / MQL rate {mql[0]:.0%}-{mql[1]:.0%}"
        per_mql.append(Implied(channel, low, high, how, usd))
        if to_customer:
            cac.append(
                Implied(
                    channel,
                    low / to_customer[1],
                    high / to_customer[0],
                    f"{how} = {dollars(low, usd)}-{dollars(high, usd)} per MQL, / MQL to "
                    f"customer {to_customer[0]:.1%}-{to_customer[1]:.1%}",
                    usd,
                )
            )
    return per_mql, cac, to_customer
