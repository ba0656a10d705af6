"""The plan file: a TOML file or mapping with a budget by channel, targets, caps, floors and
assumptions, read into a checked :class:`Plan` (what the plan check reads)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from attribution.b2b._plan_options import ChannelTest, RiskSettings, read_risk, read_tests
from attribution.b2b._shared import is_number
from attribution.exceptions import ConfigError, did_you_mean
from attribution.inputs._channels import check_channel_aliases, spell_channel
from attribution.inputs._toml import read_toml

__all__ = [
    "MONEY_ASSUMPTIONS",
    "PLAN_SHAPE",
    "Plan",
    "assumed_range",
    "read_plan",
    "require_budget_channels",
    "with_aliases",
]

_SECTIONS = {"plan", "budget", "targets", "caps", "floors", "assumptions", "tests", "risk"}
_PLAN_KEYS = {"name", "model", "period_months", "flag_factor", "cap_multiple", "tolerance"}
_TARGETS = {"customers", "cac", "mqls"}
#: The largest figure a plan may give ([budget], [caps], [floors], [targets]): a trillion
#: dollars (or customers, MQLs), far above any plan, far below where sums lose their cents
#: (a budget of 1e300 is a typo, not a plan)
MAX_PLAN_FIGURE = 1e12
#: [assumptions] in money (USD > 0); every other key but ``cac`` is a rate in (0, 1]
MONEY_ASSUMPTIONS = ("cost_per_mql", "ltv")
#: the rates of the default funnel, for a did-you-mean beside an unknown assumption
_DEFAULT_RATES = (
    "lead_to_mql", "mql_to_sql", "sql_to_opportunity", "opportunity_to_closed_won",
    "mql_to_customer", "lead_to_customer",
)  # fmt: skip


#: files a plan is not (a spreadsheet's plan): refused with :data:`PLAN_SHAPE`
_NOT_TOML = frozenset({".csv", ".tsv", ".xlsx", ".xls", ".xlsm", ".ods", ".json"})
#: the shape of a plan file, shown when a plan is not one
PLAN_SHAPE = """\
  [plan]
  name = "FY27 plan"
  period_months = 12          # the months the budget covers (3: one quarter)
  [budget]                    # the period's budget by channel, the data's channel names
  linkedin = 500_000
  google_ads = 240_000
  [targets]
  customers = 1_800
  cac = 500"""
#: the rule for an amount written as text: what the TOML parse error says too
#: (attribution.inputs._toml.read_toml)
_PLAIN_NUMBERS = "amounts are plain numbers, 750000 or 750_000, not 750k, $750,000 or 750,000"


def _shown(value: object) -> str:
    """A value of the plan that is not the number it should be, as the message shows it: a
    table by its keys (no Python dict repr), text with the rule for amounts."""
    if isinstance(value, Mapping):
        return f"a table ({', '.join(map(str, value))})"
    if isinstance(value, str):
        return f"the text {value!r}: {_PLAIN_NUMBERS}, without quotes (a value in quotes is text)"
    return repr(value)


def _sub_table(section: str, key: str) -> str:
    """The message of a table inside ``[section]`` (``[budget."2027-Q1"]``): a plan is one
    period, its amounts one per channel."""
    if section == "budget":
        return (
            f'[budget] "{key}" is a table ([budget."{key}"]), not an amount: a plan\'s budget '
            "is one period, one amount per channel (linkedin = 500_000). Sum the quarters (or "
            "months) per channel into [budget] and set [plan] period_months to the months they "
            "cover (12 for a year), or check one quarter: its budget in [budget] with "
            "period_months = 3"
        )
    return f'[{section}] "{key}" is a table ([{section}."{key}"]), not a number: [{section}] ' + (
        "holds customers, cac and mqls" if section == "targets" else "holds channel = amount"
    ) + " for the plan's one period"


def assumed_range(value: float | list[float]) -> tuple[float, float]:
    """An assumption as (low, high): a number is both ends, ``[low, high]`` a range.

    Examples
    --------
    >>> assumed_range(77.5), assumed_range([75, 80])
    ((77.5, 77.5), (75.0, 80.0))
    """
    if isinstance(value, list):
        return float(value[0]), float(value[1])
    return float(value), float(value)


@dataclass
class Plan:
    """A marketing plan: budget by channel (the data's channel names), targets, limits.

    Attributes
    ----------
    budget : dict of str to float
        Budget per channel for the plan's period.
    targets : dict
        Any of ``customers``, ``cac``, ``mqls``.
    caps, floors : dict of str to float
        The most and least each channel may get when reallocating.
    assumptions : dict
        Rates the plan assumes (``mql_to_customer``, ``<from>_to_<to>`` for each funnel
        step), money (``cost_per_mql``, ``ltv`` per customer), each a number or
        ``[low, high]``, and ``cac`` per channel; each is checked against the data and the
        benchmark table, and against the plan's own arithmetic.
    tolerance : float
        How far two figures of the plan's own arithmetic may differ before they are flagged
        (default 0.05: 5%).
    tests : dict of str to ChannelTest
        The channels the plan tests (``[tests.<channel>]``): start, validation window and
        targets, read out by :func:`attribution.b2b._plan_tests.channel_tests`.
    risk : RiskSettings
        How the plan risk draws (``[risk]``): cost inflation, draws, seed, scenarios.
    """

    budget: dict[str, float]
    targets: dict[str, float] = field(default_factory=dict)
    caps: dict[str, float] = field(default_factory=dict)
    floors: dict[str, float] = field(default_factory=dict)
    assumptions: dict[str, Any] = field(default_factory=dict)
    name: str = "plan"
    model: str | None = None
    period_months: float = 12.0
    flag_factor: float = 2.0
    cap_multiple: float = 2.0
    source: str = "<memory>"
    tolerance: float = 0.05
    tests: dict[str, ChannelTest] = field(default_factory=dict)
    risk: RiskSettings = field(default_factory=RiskSettings)


def read_plan(plan: str | os.PathLike[str] | Mapping[str, Any] | Plan) -> Plan:
    """Read a plan from a TOML file or a mapping of the same shape, and check it.

    Examples
    --------
    >>> from attribution import read_plan
    >>> p = read_plan({"budget": {"linkedin": 1000}, "targets": {"customers": 10, "cac": 100}})
    >>> p.budget, p.targets["cac"]
    ({'linkedin': 1000.0}, 100.0)
    """
    if isinstance(plan, Plan):
        return plan
    if isinstance(plan, Mapping):
        data, where = dict(plan), "<memory>"
    else:
        path = Path(plan)
        where = str(path)
        if path.suffix.lower() in _NOT_TOML:
            # a CFO's plan is a spreadsheet: its TOML parse error said nothing of the shape
            # (new-user report 16, M4)
            raise ConfigError(
                f"plan '{where}': a plan is a TOML file; a {path.suffix.lower()} file is not "
                "read as one. Write the budget of one period by channel and the targets in a "
                f".toml file, e.g. plan.toml:\n{PLAN_SHAPE}"
            )
        data = read_toml(path, "plan")

    def fail(message: str) -> ConfigError:
        return ConfigError(f"plan '{where}': {message}")

    for key in data:
        if key not in _SECTIONS:
            raise fail(f"unknown section [{key}]; {did_you_mean(key, sorted(_SECTIONS))}")

    def amounts(section: str, *, positive: bool = False) -> dict[str, float]:
        value = data.get(section, {})
        if not isinstance(value, Mapping):
            raise fail(f"[{section}] must be a table of channel = amount")
        out = {}
        for k, v in value.items():
            if isinstance(v, Mapping):  # [budget."2027-Q1"]: a table where a number goes
                raise fail(_sub_table(section, str(k)))
            if not is_number(v) or v < 0 or (positive and v == 0) or v > MAX_PLAN_FIGURE:
                rule = "> 0" if positive else ">= 0"
                raise fail(f"[{section}] {k} must be a number {rule} and at most "
                           f"{MAX_PLAN_FIGURE:,.0f}, got {_shown(v)}")  # fmt: skip
            out[str(k)] = float(v)
        return out if section == "targets" else channels(section, out)

    def channels(section: str, table: Mapping[str, Any]) -> dict[str, Any]:
        """``table`` keyed by the channels' one spelling, as the touches and the spend are
        (``LinkedIn`` is ``linkedin``); two keys of one channel are an error."""
        out: dict[str, Any] = {}
        written: dict[str, str] = {}
        for k, v in table.items():
            name = spell_channel(str(k))
            if name in out:
                raise fail(
                    f"[{section}] names channel '{name}' twice ('{written[name]}' and '{k}': "
                    "channel names are compared trimmed and lower-cased)"
                )
            out[name], written[name] = v, str(k)
        return out

    budget = amounts("budget")
    if not budget or sum(budget.values()) <= 0:
        raise fail("[budget] needs at least one channel with an amount > 0")
    targets = amounts("targets", positive=True)
    for k in targets:
        if k not in _TARGETS:
            raise fail(f"unknown target '{k}'; {did_you_mean(k, sorted(_TARGETS))}")
    head = data.get("plan", {})
    if not isinstance(head, Mapping):
        raise fail("[plan] must be a table")
    for k in head:
        if k not in _PLAN_KEYS:
            raise fail(f"unknown key '{k}' in [plan]; {did_you_mean(k, sorted(_PLAN_KEYS))}")
    for k in ("period_months", "flag_factor", "cap_multiple"):
        if k in head and not (is_number(head[k]) and head[k] > 0):
            raise fail(f"[plan] {k} must be a number > 0, got {_shown(head[k])}")
    if "flag_factor" in head and head["flag_factor"] <= 1:
        raise fail(f"[plan] flag_factor must be > 1 (a ratio), got {head['flag_factor']!r}")
    if "cap_multiple" in head and head["cap_multiple"] < 1:
        # a default cap below the budget would make the reallocation cut every channel and
        # call it narrowing the gap (new-user report 5, defect 32)
        raise fail(
            f"[plan] cap_multiple must be at least 1, got {head['cap_multiple']!r} (a "
            "channel's default cap is cap_multiple x its budget: 1 holds every channel at its "
            "budget, 1.5 lets each grow by half)"
        )
    assumptions = data.get("assumptions", {})
    if not isinstance(assumptions, Mapping):
        raise fail("[assumptions] must be a table")
    for k, v in assumptions.items():
        if k == "cac":
            if not isinstance(v, Mapping) or not all(is_number(x) and x > 0 for x in v.values()):
                raise fail("[assumptions.cac] must map channel = CAC > 0")
            assumptions = {**assumptions, "cac": channels("assumptions.cac", v)}
            continue
        if k not in MONEY_ASSUMPTIONS and "_to_" not in k:  # a rate is <from>_to_<to>
            raise fail(
                f"unknown assumption '{k}'; "
                + did_you_mean(k, sorted({*MONEY_ASSUMPTIONS, "cac", *_DEFAULT_RATES}))
                + " (rates are <from>_to_<to> of the funnel's steps, e.g. mql_to_customer)"
            )
        pair = v if isinstance(v, list) else [v]
        money = k in MONEY_ASSUMPTIONS
        ok = len(pair) in (1, 2) and all(is_number(x) and x > 0 and (money or x <= 1) for x in pair)
        if not ok or (len(pair) == 2 and pair[0] > pair[1]):
            kind = "an amount > 0" if money else "a rate in (0, 1]"
            raise fail(f"[assumptions] {k} must be {kind} or [low, high] of them, got {_shown(v)}")
    if "tolerance" in head and not (is_number(head["tolerance"]) and 0 <= head["tolerance"] < 1):
        raise fail(f"[plan] tolerance must be a share in [0, 1), got {head['tolerance']!r}")
    floors, caps = amounts("floors"), amounts("caps")
    for ch, low in floors.items():
        if ch in caps and caps[ch] < low:
            raise fail(f"channel '{ch}': floor {low:,.0f} is above its cap {caps[ch]:,.0f}")
    # the plan's own split must keep its caps and floors: a reallocation from a split that
    # breaks them would move money to keep them and call it narrowing the gap, buying fewer
    # customers (new-user report 5, defect 32)
    for ch, high in caps.items():
        if ch in budget and budget[ch] > high:
            raise fail(
                f"channel '{ch}': budget {budget[ch]:,.0f} is above its cap {high:,.0f} "
                "([caps] is the most the channel can absorb: raise the cap or lower the budget)"
            )
    for ch, low in floors.items():
        if ch in budget and budget[ch] < low:
            raise fail(
                f"channel '{ch}': floor {low:,.0f} is above its budget {budget[ch]:,.0f} "
                "([floors] is a commitment the budget must keep: raise the budget or lower "
                "the floor)"
            )
    if sum(floors.values()) > sum(budget.values()):
        raise fail("the floors add up to more than the budget")
    model = head.get("model")
    if model is not None and not isinstance(model, str):
        raise fail(f"[plan] model must be a model name, got {model!r}")
    return Plan(
        budget=budget,
        targets=targets,
        caps=caps,
        floors=floors,
        assumptions=dict(assumptions),
        name=str(head.get("name", "plan")),
        model=model,
        period_months=float(head.get("period_months", 12.0)),
        flag_factor=float(head.get("flag_factor", 2.0)),
        cap_multiple=float(head.get("cap_multiple", 2.0)),
        source=where,
        tolerance=float(head.get("tolerance", 0.05)),
        tests={
            name: replace(test, channel=name)
            for name, test in channels("tests", read_tests(data.get("tests"), fail)).items()
        },
        risk=read_risk(data.get("risk"), fail),
    )


def require_budget_channels(p: Plan) -> None:
    """Every ``[floors]`` and ``[caps]`` channel is one of ``[budget]`` (after the spelling
    and the run's aliases): another name is a ConfigError with a did-you-mean, never a floor
    or cap silently ignored."""
    for section, table in (("floors", p.floors), ("caps", p.caps)):
        for ch in table:
            if ch not in p.budget:
                raise ConfigError(
                    f"plan '{p.source}': [{section}] {ch}: no such channel in [budget]; "
                    f"{did_you_mean(ch, sorted(p.budget))} (a channel the plan may move money "
                    "into is listed in [budget], with 0 if it has none yet)"
                )


def with_aliases(p: Plan, aliases: Mapping[str, Any] | None) -> Plan:
    """``p`` with its channels under the run's ``channel_aliases`` (``[channels]``: ours =
    theirs), as the touches and the spend are: a plan may name a channel as the ads account
    does. Two plan channels that become one are an error."""
    mapping = check_channel_aliases(aliases) if aliases else {}
    if not mapping:
        return p

    def table(section: str, values: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in values.items():
            ours = mapping.get(name, name)
            if ours in out:
                raise ConfigError(
                    f"plan '{p.source}': [{section}] names channel '{ours}' twice (through "
                    f"[channels] aliases: '{name}' is '{ours}')"
                )
            out[ours] = value
        return out

    assumptions = dict(p.assumptions)
    if isinstance(assumptions.get("cac"), Mapping):
        assumptions["cac"] = table("assumptions.cac", assumptions["cac"])
    return replace(
        p,
        budget=table("budget", p.budget),
        caps=table("caps", p.caps),
        floors=table("floors", p.floors),
        assumptions=assumptions,
        tests={n: replace(t, channel=n) for n, t in table("tests", p.tests).items()},
    )
