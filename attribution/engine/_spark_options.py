"""Run options on Spark: each is honoured or refused, never left out silently.

:data:`attribution.engine._spark.NOT_ON_SPARK` lists the options the job has no flag for;
:data:`SPARK_LIMITS` those Spark honours only in part (:func:`refuse_on_spark` refuses the
values it cannot honour, saying why and what to do); :data:`SPARK_HONOURS` every other one,
applied as by :func:`attribution.attribute`. A test (tests/test_spark_options.py) fails when
a run option is in none of them.
"""

from __future__ import annotations

from collections.abc import Iterable

from attribution.exceptions import ConfigError
from attribution.options import RunOptions, option_flags

__all__ = ["SPARK_HONOURS", "SPARK_LIMITS", "refuse_on_spark"]

_FLAGS = dict(option_flags())
_DEFAULT_ROLES = tuple(RunOptions().required_roles)

#: Run options the job has a flag for that Spark honours only in part: when it cannot
#: honour the value given, :func:`refuse_on_spark` says so (why, and what to do) instead of
#: leaving it out. Every other run option is honoured as by :func:`attribution.attribute`
#: (``bootstrap`` is refused by :func:`~attribution.engine._memory.refuse_bootstrap`).
SPARK_LIMITS: dict[str, str] = {
    "required_roles": "the buying-committee coverage it sets is part of the account outputs "
    "(accounts, pipeline, account credit), which Spark does not compute; leave it out, or "
    "run `attribution run --level account` (--partitions for bounded memory) for them",
    "as_of": "the account engagement it dates is not computed on Spark (the SLAs are: with "
    "--sla / B2BInputs(sla=...) it sets the SLAs' as-of time); leave it out, add the SLAs, "
    "or run `attribution run --level account` for the engagement",
    "decision_model": "the decision model is chosen by the B2B stage, which runs on Spark "
    "only with a B2B input (--spend, --surveys, --subscriptions, --experiments, --plan or "
    "--sla; attribute_spark(..., b2b=B2BInputs(...))); give one, or leave it out",
    "touch_credit_layout": "Spark writes touch_credit.parquet in the long layout (one row per "
    "touch and model); leave it out, or give 'long'",
    "influence_layout": "campaign_influence.parquet is not written on Spark (it is an account "
    "output); leave it out",
    "currency_rates": "the Spark tasks do not convert amounts by a currency column; convert "
    "them to one currency before, or run `attribution run --currency-rates` "
    "(--partitions for bounded memory)",
}


#: Run options Spark honours as :func:`attribution.attribute` does (the tasks build the
#: journeys with the library's own code and the run's options; the B2B stage is
#: :func:`attribution.analyse` on the driver). With :data:`NOT_ON_SPARK`,
#: :data:`SPARK_LIMITS` and ``bootstrap`` (refused) this lists every run option: a new one
#: must be placed (tests/test_spark_options.py).
SPARK_HONOURS = (
    "models", "level", "conversion_stage", "lookback", "milestones", "stage_names",
    "channel_rules", "contact_scope", "parallel_deals", "role_multipliers",
    "max_touches_per_journey", "channel_aliases", "exclude_touch_types", "allow_empty",
    "timestamp_formats", "timezone", "decimal_comma", "key", "bootstrap_seed",
    "survey_min_proba", "survey_post_purchase_days", "currency", "segment_aliases",
)  # fmt: skip


def refuse_on_spark(
    options: RunOptions, *, given: Iterable[str], b2b: bool, sla: bool
) -> None:
    """A :class:`ConfigError` naming the first run option of ``options`` that Spark cannot
    honour (:data:`SPARK_LIMITS`: why, and what to do), never an option left out silently.
    ``given``: the option names the user gave (flags, keywords: a layout is refused only
    when asked for, its default being the in-memory one); ``b2b``: the B2B stage runs;
    ``sla``: the SLAs are measured."""
    named = set(given)
    refused = {
        "required_roles": tuple(options.required_roles) != _DEFAULT_ROLES,
        "as_of": options.as_of is not None and not sla,
        "decision_model": options.decision_model is not None and not b2b,
        "touch_credit_layout": "touch_credit_layout" in named
        and options.touch_credit_layout != "long",
        "influence_layout": "influence_layout" in named,
        "currency_rates": options.currency_rates is not None,
    }
    for name, refuse in refused.items():
        if refuse:
            flag = _FLAGS[name].flags[0] if name in _FLAGS else name
            exc = ConfigError(f"{name} ({flag}) is not available on Spark: {SPARK_LIMITS[name]}")
            exc.option = name
            raise exc
