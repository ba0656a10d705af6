"""Plan risk: the probability that the plan's budget reaches its customers and CAC targets,
drawn from the uncertainty of each channel's CAC and a stated cost inflation, and the
scenarios a plan's owner worries about.

Method (also in ``plan.json``: ``risk``):

- **CAC draws per channel.** When the run has the bootstrap's per-draw economics
  (``economics_draws.parquet``: ``draw``, ``model``, ``segment``, ``channel``, ``cac``), a
  draw of the plan risk takes one bootstrap draw (chosen uniformly, with replacement) and
  its CAC of every channel under the decision model (segment ``all``); a channel missing
  from a bootstrap draw, or with no finite CAC in it (no credited customer), buys nothing
  in that draw. Without them, each channel's credited customers are drawn from a Gamma
  (``customers + 1/2``, 1): the Jeffreys posterior of a Poisson count (a count of ``n``
  customers is known to about ``sqrt(n)``), independently per channel (a bootstrap draw
  keeps its channels together), and its CAC = its measured spend / the drawn customers. A
  channel without a measured CAC buys no customer in any draw, as in the
  projection.
- **Cost inflation**: one factor per draw, uniform in ``[risk] inflation`` (default
  15-20%), the same for every channel (costs move together); every CAC is multiplied by
  ``1 + inflation``.
- **Projection per draw**: customers = sum over channels of budget / drawn CAC; CAC =
  the budget of the channels with spend in the data / customers (a channel without any, not
  projected, is left out of the CAC, and the customers target is cut to the budget share of
  the rest). ``p_customers`` = share of draws reaching the customers
  target, ``p_cac`` = share at or under the CAC target, ``p_target`` = share meeting
  both (the targets given). Intervals are the 5th and 95th percentiles (90%).
- **Scenarios** (rows of ``plan_risk.parquet``, beside the plan table): ``as planned``;
  ``costs up a further 20%`` (``[risk] cost_shock``, on top of the inflation); and for each
  channel of the budget with a measured CAC, ``<channel> delivers half its projected
  customers`` (``[risk] shortfall``). Every scenario is computed on the same draws.

All draws are one seeded NumPy array (scenarios x draws x channels): the same plan, data
and ``[risk] seed`` give the same probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from attribution.b2b._plan_options import RiskSettings
from attribution.b2b._shared import money

__all__ = ["RISK_COLUMNS", "RISK_NOTE", "PlanRisk", "draws_of", "plan_risk", "risk_sentence"]

#: the interval of the draws: 5th to 95th percentile, as the bootstrap's
LEVEL = 0.90
AS_PLANNED = "as planned"

RISK_COLUMNS = (
    "scenario",
    "kind",
    "channel",
    "budget",
    "customers",
    "customers_low",
    "customers_high",
    "cac",
    "cac_low",
    "cac_high",
    "p_customers",
    "p_cac",
    "p_target",
)


@dataclass
class PlanRisk:
    """What :func:`plan_risk` returns.

    Attributes
    ----------
    table : pl.DataFrame
        One row per scenario (:data:`RISK_COLUMNS`): ``kind`` is ``planned``, ``costs`` or
        ``shortfall``; ``channel`` the channel a shortfall hits; customers and CAC as the
        median of the draws with their 90% interval; the probabilities of meeting the
        targets (null for a target the plan does not give).
    channels : pl.DataFrame
        Per channel, as planned: ``channel``, ``customers_low``, ``customers_high``.
    source : str
        ``bootstrap`` (the run's per-draw economics) or ``counts`` (Gamma on the credited
        customers).
    parameters : dict
        Draws, seed, inflation, cost shock, shortfall and the bootstrap draws used.
    """

    table: pl.DataFrame
    channels: pl.DataFrame
    source: str
    parameters: dict[str, Any] = field(default_factory=dict)


def _cac_draws(
    frame: pl.DataFrame,
    draws: pl.DataFrame | None,
    settings: RiskSettings,
    rng: np.random.Generator,
) -> tuple[np.ndarray, str, int]:
    """(draws x channels) CAC; inf where a channel buys nothing in a draw."""
    channels = frame.get_column("channel").to_list()
    spend = frame.get_column("measured_spend").fill_null(0.0).to_numpy().astype(float)
    customers = frame.get_column("measured_customers").fill_null(0.0).to_numpy().astype(float)
    measured = frame.get_column("measured_cac").is_not_null().to_numpy()
    n = settings.draws
    drawn = rng.gamma(customers + 0.5, 1.0, size=(n, len(channels)))
    cac = np.where(measured & (drawn > 0), spend / np.maximum(drawn, 1e-300), np.inf)
    if draws is None or draws.height == 0:
        return cac, "counts", 0
    wide = (
        draws.filter(pl.col("channel").is_in(channels))
        .select("draw", "channel", pl.col("cac").cast(pl.Float64))
        .group_by("draw", "channel")
        .agg(pl.col("cac").first())
        .pivot(on="channel", index="draw", values="cac")
        .sort("draw")
    )
    n_boot = wide.height
    if n_boot == 0:
        return cac, "counts", 0
    pick = rng.integers(0, n_boot, size=n)
    for j, ch in enumerate(channels):
        if ch not in wide.columns or not measured[j]:
            continue
        col = wide.get_column(ch).fill_null(np.inf).fill_nan(np.inf).to_numpy().astype(float)
        col = np.where(np.isfinite(col) & (col > 0), col, np.inf)
        cac[:, j] = col[pick]
    return cac, "bootstrap", n_boot


def plan_risk(
    frame: pl.DataFrame,
    targets: dict[str, float],
    settings: RiskSettings | None = None,
    draws: pl.DataFrame | None = None,
) -> PlanRisk:
    """Probabilities of meeting the plan's targets and the scenario rows.

    Parameters
    ----------
    frame
        The plan's channel rows under the decision model: ``channel``, ``budget``,
        ``measured_spend``, ``measured_customers``, ``measured_cac``.
    targets
        The plan's targets (``customers``, ``cac``; others are ignored).
    settings
        Draws, seed, inflation and scenario sizes (default :class:`RiskSettings`).
    draws
        The bootstrap's per-draw economics of the decision model, segment ``all``
        (``draw``, ``channel``, ``cac``); ``None``: count-based draws.

    Examples
    --------
    >>> import polars as pl
    >>> from attribution.b2b._plan_risk import plan_risk
    >>> frame = pl.DataFrame({"channel": ["a", "b"], "budget": [1000.0, 1000.0],
    ...     "measured_spend": [500.0, 800.0], "measured_customers": [50.0, 40.0],
    ...     "measured_cac": [10.0, 20.0]})
    >>> risk = plan_risk(frame, {"customers": 120, "cac": 20})
    >>> risk.table.get_column("scenario").to_list()
    ['as planned', 'costs up a further 20%', 'a delivers half its projected customers', \
'b delivers half its projected customers']
    >>> 0.0 <= risk.table.item(0, "p_target") <= 1.0
    True
    """
    s = settings or RiskSettings()
    rng = np.random.default_rng(s.seed)
    frame = frame.filter(pl.col("budget") > 0)
    channels = frame.get_column("channel").to_list()
    budget = frame.get_column("budget").to_numpy().astype(float)
    cac, source, n_boot = _cac_draws(frame, draws, s, rng)
    inflation = rng.uniform(s.inflation[0], s.inflation[1], size=s.draws)
    cost = cac * (1.0 + inflation)[:, None]  # draws x channels
    per_channel = np.where(np.isfinite(cost), budget / cost, 0.0)

    # scenarios: (name, kind, channel, cost factor, customer factor per channel)
    measured = frame.get_column("measured_cac").is_not_null().to_numpy()
    order = np.argsort(-budget, kind="stable")
    scen: list[tuple[str, str, str | None, float, np.ndarray]] = [
        (AS_PLANNED, "planned", None, 1.0, np.ones(len(channels))),
        (f"costs up a further {s.cost_shock:.0%}", "costs", None, 1 + s.cost_shock,
         np.ones(len(channels))),
    ]  # fmt: skip
    share = "half" if s.shortfall == 0.5 else f"{s.shortfall:.0%} of"
    for j in order[measured[order]]:
        factor = np.ones(len(channels))
        factor[j] = s.shortfall
        scen.append(
            (f"{channels[j]} delivers {share} its projected customers", "shortfall",
             channels[j], 1.0, factor)
        )  # fmt: skip
    cost_factor = np.array([x[3] for x in scen])
    cust_factor = np.stack([x[4] for x in scen])  # scenarios x channels
    # scenarios x draws: customers bought
    customers = np.einsum("dc,sc->sd", per_channel, cust_factor) / cost_factor[:, None]
    # the budget of channels without a CAC in the data (no spend) buys nothing in any draw,
    # and is left out of the CAC and of the customers target (its budget share), as in the
    # projection (new-user report 5, defect 7)
    paid = frame.get_column("measured_spend").fill_null(0.0).to_numpy() > 0
    whole = float(budget.sum())
    total = float(budget[paid].sum()) if paid.any() else whole
    with np.errstate(divide="ignore"):
        blended = np.where(customers > 0, total / np.maximum(customers, 1e-300), np.inf)
    lo, hi = (1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2
    t_cust, t_cac = targets.get("customers"), targets.get("cac")
    if t_cust and whole > 0:
        t_cust = t_cust * total / whole
    reach = customers >= t_cust if t_cust else None
    cheap = blended <= t_cac * (1 + 1e-12) if t_cac else None
    both = (
        reach & cheap
        if reach is not None and cheap is not None
        else (reach if reach is not None else cheap)
    )

    def q(a: np.ndarray, p: float) -> np.ndarray:
        return np.asarray(np.quantile(a, p, axis=1, method="inverted_cdf"))

    def finite(a: np.ndarray) -> list[float | None]:
        return [float(x) if np.isfinite(x) else None for x in a]

    table = pl.DataFrame(
        {
            "scenario": [x[0] for x in scen],
            "kind": [x[1] for x in scen],
            "channel": [x[2] for x in scen],
            "budget": [total] * len(scen),
            "customers": q(customers, 0.5),
            "customers_low": q(customers, lo),
            "customers_high": q(customers, hi),
            "cac": finite(q(blended, 0.5)),
            "cac_low": finite(q(blended, lo)),
            "cac_high": finite(q(blended, hi)),
            "p_customers": reach.mean(axis=1) if reach is not None else [None] * len(scen),
            "p_cac": cheap.mean(axis=1) if cheap is not None else [None] * len(scen),
            "p_target": both.mean(axis=1) if both is not None else [None] * len(scen),
        },
        schema={
            c: pl.String if c in ("scenario", "kind", "channel") else pl.Float64
            for c in RISK_COLUMNS
        },  # fmt: skip
    )
    intervals = pl.DataFrame(
        {
            "channel": channels,
            "customers_low": np.quantile(per_channel, lo, axis=0, method="inverted_cdf")
            if channels
            else [],
            "customers_high": np.quantile(per_channel, hi, axis=0, method="inverted_cdf")
            if channels
            else [],
        },
        schema={"channel": pl.String, "customers_low": pl.Float64, "customers_high": pl.Float64},
    )
    parameters = {
        "draws": s.draws,
        "seed": s.seed,
        "inflation": list(s.inflation),
        "cost_shock": s.cost_shock,
        "shortfall": s.shortfall,
        "level": LEVEL,
        "bootstrap_draws": n_boot,
        "budget": total,
        "budget_not_projected": whole - total,
        "customers_target": t_cust,
    }
    return PlanRisk(table=table, channels=intervals, source=source, parameters=parameters)


def risk_sentence(risk: PlanRisk, targets: dict[str, float]) -> str | None:
    """ "62% chance of reaching 5,000 customers at <= $150 CAC (...)", or ``None`` without a
    customers or CAC target."""
    t_cust, t_cac = targets.get("customers"), targets.get("cac")
    if not (t_cust or t_cac) or risk.table.height == 0:
        return None
    planned = risk.table.row(0, named=True)
    goal = " at ".join(
        x
        for x in (
            f"reaching {t_cust:,.0f} customers" if t_cust else "",
            f"<= {money(t_cac)} CAC" if t_cac else "",
        )
        if x
    )
    if not t_cust:
        goal = f"a CAC <= {money(t_cac)}"
    held = risk.parameters.get("budget_not_projected") or 0.0
    if held > 0:  # on the part of the budget with a measured CAC
        share = risk.parameters.get("customers_target")
        goal = (
            f"reaching {share:,.0f} customers (the {t_cust:,.0f} target's budget share)"
            + (f" at <= {money(t_cac)} CAC" if t_cac else "")
            if t_cust and share is not None
            else goal
        ) + (
            f" on the {money(risk.parameters['budget'])} with a measured CAC "
            f"({money(held)} not projected)"
        )
    low, high = risk.parameters["inflation"]
    inflation = f"{low:.0%}" if low == high else f"{low * 100:.0f}-{high:.0%}"
    basis = (
        f"the bootstrap's {risk.parameters['bootstrap_draws']:,} draws of each channel's CAC"
        if risk.source == "bootstrap"
        else "each channel's credited customers drawn as a Poisson count"
    )
    text = (
        f"{_chance(planned['p_target'])} chance of {goal} "
        f"({risk.parameters['draws']:,} draws from {basis}, costs up {inflation}; "
        f"median {planned['customers']:,.0f} customers"
        + (f" at {money(planned['cac'])}" if planned["cac"] is not None else "")
        + f", {1 - (1 - LEVEL) / 2:.0%} chance of at least {planned['customers_low']:,.0f})."
    )
    worst = risk.table.filter(pl.col("kind") != "planned").sort("p_target", nulls_last=True)
    if worst.height and planned["p_target"]:  # how a plan with a chance can lose it
        w = worst.row(0, named=True)
        text += f" If {w['scenario']}: {_chance(w['p_target'])}."
    return text


def _chance(p: float | None) -> str:
    if p is None:
        return "-"
    if 0 < p < 0.005:
        return "<1%"
    if 0.995 < p < 1:
        return ">99%"
    return f"{p:.0%}"


RISK_NOTE = (
    "each draw takes every channel's CAC from the bootstrap's per-draw economics of the "
    "decision model (a bootstrap draw picked uniformly; source 'bootstrap') or, without "
    "them, spend / credited customers drawn from Gamma(customers + 1/2, 1) (source "
    "'counts'), times 1 + a cost inflation drawn uniformly in [risk] inflation (the same "
    "for every channel); customers = sum of budget / CAC, CAC = budget / customers, on the "
    "channels with spend in the data (the budget of the others is not projected, and the "
    "customers target is cut to its budget share of the rest); "
    "p_customers, p_cac, p_target = share of draws meeting the customers target, the CAC "
    "target, both; intervals are the 5th-95th percentiles; scenarios (plan_risk.parquet): "
    "costs up a further [risk] cost_shock on top of the inflation, and each channel "
    "delivering [risk] shortfall of its customers, on the same draws"
)


def draws_of(*sources: Any, model: str) -> pl.DataFrame | None:
    """The bootstrap's per-draw economics of ``model``, segment ``all``: the first of
    ``sources`` that has them (a frame, or an object with ``draws`` or ``economics_draws``:
    the unit economics, the result), else ``None``."""
    draws = None
    for source in sources:
        found = source if isinstance(source, pl.DataFrame) else None
        for name in ("draws", "economics_draws"):
            if found is None and isinstance(getattr(source, name, None), pl.DataFrame):
                found = getattr(source, name)
        if found is not None and found.height:
            draws = found
            break
    if draws is None:
        return None
    if "model" in draws.columns:
        draws = draws.filter(pl.col("model") == model)
    if "segment" in draws.columns:
        draws = draws.filter(pl.col("segment") == "all")
    return draws
