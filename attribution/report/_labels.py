"""What a reader sees in place of a file's column names and raw numbers: human labels
(``loaded_cac`` -> ``Loaded CAC``, ``payback_months`` -> ``Payback (months)``), the unit each
known column carries, and the format its cells get in every table of the page.

Data values (channel, model and segment names) are shown as the run spells them: they are
the names a user types in a config or a ``--decision-model``; stage and metric names, which
the engine spells, read as words (``closed_won`` -> ``closed won``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Final

from attribution._reporting_currency import money_text, sign

Formatter = Callable[[Any], str]

#: words written in capitals (or their own way) wherever a label is built from a name
_WORDS: Final = {
    "cac": "CAC", "ltv": "LTV", "mql": "MQL", "mqls": "MQLs", "sql": "SQL", "sqls": "SQLs",
    "roi": "ROI", "nrr": "NRR", "grr": "GRR", "arpa": "ARPA", "id": "ID", "p90": "P90",
    "p75": "P75", "ci": "CI", "gp": "GP", "sha256": "SHA-256", "utm": "UTM", "auc": "AUC",
    "tvd": "TVD", "jsd": "JSD", "mae": "MAE", "sra": "survey", "crm": "CRM", "usd": "$",
    "pct": "%", "vs": "vs", "to": "to", "of": "of", "per": "per", "and": "and",
}  # fmt: skip

#: columns whose label is not just their words
LABELS: Final = {
    "cac": "CAC",
    "loaded_cac": "Loaded CAC",
    "cac_ci_low": "CAC, 90% low",
    "cac_ci_high": "CAC, 90% high",
    "loaded_cac_ci_low": "Loaded CAC, 90% low",
    "loaded_cac_ci_high": "Loaded CAC, 90% high",
    "ltv": "LTV",
    "ltv_to_cac": "LTV/CAC (×)",
    "ltv_to_cac_ok": "LTV/CAC on target",
    "payback_months": "Payback (months)",
    "payback_target_months": "Payback target (months)",
    "payback_ok": "Payback within target",
    "gross_profit_per_customer": "Gross profit per customer",
    "guardrail_share": "Loaded CAC as % of gross profit",
    "guardrail_limit": "Guardrail limit",
    "guardrail_basis": "Guardrail basis",
    "breach": "Over the guardrail",
    "breach_probability": "Breach probability",
    "low_confidence": "Low confidence",
    "non_media_cost": "Non-media cost",
    "annual_churn": "Annual churn",
    "arpa": "ARPA (a year)",
    "pipeline_per_dollar": "Pipeline per $",
    "marketing_roi": "Marketing ROI",
    "customers": "Customers",
    "share": "Share of conversions",
    "ci_low": "Share, 90% low",
    "ci_high": "Share, 90% high",
    "value": "Value",
    "from_stage": "From stage",
    "to_stage": "To stage",
    "rate": "Rate",
    "entered": "Entered",
    "advanced": "Advanced",
    "median_days_in_stage": "Median days in stage",
    "p75_days_in_stage": "P75 days in stage",
    "benchmark_low": "Target low",
    "benchmark_high": "Target high",
    "benchmark_gap": "Gap to target",
    "benchmark_source": "Target source",
    "models_agreeing": "Models agreeing",
    "agreement": "Agreement",
    "draw_agreement": "Bootstrap draws agreeing",
    "decision_action": "Decision model's action",
    "actions": "Actions by model",
    "measured_cac": "Measured CAC",
    "measured_spend": "Measured spend",
    "measured_customers": "Measured customers",
    "projected_customers": "Projected customers",
    "projected_cac": "Plan CAC (budget / projected customers)",
    "projected_mqls": "Projected MQLs",
    "target_customers": "Target customers",
    "target_mqls": "Target MQLs",
    "implied_cac": "Implied CAC",
    "reallocated_budget": "Reallocated budget",
    "reallocated_customers": "Customers after reallocation",
    "change": "Budget change",
    "plan_value": "Plan assumes",
    "data_value": "Data shows",
    "ratio": "Plan ÷ data",
    "range_low": "Range low",
    "range_high": "Range high",
    "compliance_share": "Within target",
    "owner_team": "Owner team",
    "target_rule": "Target",
    "not_judged": "Not judged",
    "sra_share": "Survey share (tracked)",
    "sra_share_incl_dark": "Survey share (with dark funnel)",
    "dark_funnel_rate": "Dark funnel rate",
    "p_best": "Probability best",
    "mean_credit": "Mean credit",
    "nulls": "Non-converting paths",
    "conversion_value": "Conversion value",
    "contacts_engaged": "Contacts engaged",
    "missing_roles": "Missing roles",
    "engagement_score": "Engagement score",
    "pipeline_share": "Share of pipeline",
    "removal_effect": "Removal effect",
    "phi": "Shapley value",
    "n_states": "States",
    "nrr": "NRR",
    "grr": "GRR",
    "expansion": "Expansion revenue",
    "accounts": "Accounts",
    "week": "Week",
    "score": "z-score",
    "provisional": "Provisional",
    "cac_payback_low": "CAC recovery range low (months)",
    "cac_payback_high": "CAC recovery range high (months)",
    "cac_payback_judgement": "CAC recovery vs range",
    "pipeline_created": "Pipeline created",
    "created_pipeline_per_dollar": "Pipeline created per $",
    "pipeline_per_dollar_low": "Pipeline per $ range low",
    "pipeline_per_dollar_high": "Pipeline per $ range high",
    "pipeline_per_dollar_judgement": "Pipeline per $ vs range",
}

MONEY_COLUMNS: Final = frozenset({
    "spend", "revenue", "cac", "loaded_cac", "ltv", "arpa", "gross_profit_per_customer",
    "non_media_cost", "budget", "measured_cac", "measured_spend", "implied_cac", "cap", "floor",
    "projected_cac",
    "reallocated_budget", "change", "pipeline", "conversion_value", "expansion", "average_deal",
    "cac_ci_low", "cac_ci_high", "loaded_cac_ci_low", "loaded_cac_ci_high", "amount",
    "pipeline_created",
})  # fmt: skip
SHARE_COLUMNS: Final = frozenset({
    "share", "ci_low", "ci_high", "rate", "guardrail_share", "guardrail_limit", "agreement",
    "draw_agreement", "breach_probability", "compliance_share", "nrr", "grr", "annual_churn",
    "marketing_roi", "pipeline_share", "dark_funnel_rate", "sra_share", "sra_share_incl_dark",
    "p_best", "benchmark_low", "benchmark_high", "benchmark_gap", "removal_effect",
    "guardrail_share_ci_low", "guardrail_share_ci_high", "agreement_low", "agreement_high",
})  # fmt: skip
ONE_DECIMAL_COLUMNS: Final = frozenset({
    "customers", "ltv_to_cac", "payback_months", "payback_target_months", "projected_customers",
    "target_customers", "reallocated_customers", "measured_customers", "gap",
    "median_days_in_stage", "p75_days_in_stage", "engagement_score", "customers_ci_low",
    "customers_ci_high", "ltv_to_cac_ci_low", "ltv_to_cac_ci_high", "payback_months_ci_low",
    "payback_months_ci_high",
})  # fmt: skip


def words(name: Any) -> str:
    """An engine-spelled name as words: ``closed_won`` -> ``closed won``, ``mql`` -> ``MQL``.

    >>> words("closed_won"), words("mql_to_sql"), words("cost_per_lead")
    ('closed won', 'MQL to SQL', 'cost per lead')
    """
    parts = str(name).replace("-", " ").split("_")
    return " ".join(_WORDS.get(p.lower(), p) for p in parts if p)


def label(column: str) -> str:
    """The header a reader sees for ``column``.

    >>> label("loaded_cac"), label("payback_months"), label("models_agreeing"), label("x_y")
    ('Loaded CAC', 'Payback (months)', 'Models agreeing', 'X y')
    """
    if column in LABELS:  # "Pipeline per $": the sign of the run's reporting currency
        return LABELS[column].replace(" $", f" {sign()}")
    text = words(column)
    return text[:1].upper() + text[1:]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def money(value: Any, digits: int = 0) -> str:
    """``$1,786``; ``-$40,000``; ``–`` when missing (the sign: the run's reporting currency,
    :func:`attribution._reporting_currency.money_text`).

    >>> money(1785.7), money(-40000.0), money(None), money(12.345, 2)
    ('$1,786', '-$40,000', '–', '$12.35')
    """
    if _missing(value) or isinstance(value, bool) or not isinstance(value, int | float):
        return "–" if _missing(value) else str(value)
    return money_text(value, digits)  # the sign of the run's reporting currency


#: what the plan section's measured CAC is, beside the answers' loaded CAC
PLAN_CAC = (
    "media spend / credited customers, without the non-media costs the answers' loaded CAC "
    "adds (so a channel reads lower here than in the answers). The (total) row's measured "
    "CAC is the plan's channels as the data spent on them; the plan CAC is the budget / the "
    "customers it buys at those CACs."
)
