"""The B2B stage: what a run computes after the attribution itself, in one copy for every
executor (``attribution run``, ``demo`` and ``plan``, the service's batch runs).

:func:`analyse` takes an :class:`~attribution.AttributionResult`, the B2B inputs
(:class:`B2BInputs`) and the run's :class:`~attribution.RunOptions`, records the decision
model in the result's manifest and returns an :class:`Analysis`: the extras to write into
the run directory, in this order (that of their summaries too):

1. the survey benchmark (with surveys); the decision model chosen from it, else from a
   truth file, else the default (``decision_model`` of the options wins);
2. campaign economics (touches with campaigns) and the CRM influence export as CSV;
3. unit economics (with spend; by segment, metro and region with accounts), retention and
   NRR (with subscriptions), the funnel with its weekly alerts (with stages), the plan check
   and the readout of the channels it tests (with a plan);
4. calibrated credit (with experiments) and what to test next (with spend);
5. the sales and marketing SLAs (``sla``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attribution.b2b._analysis_inputs import B2BInputs, missing_input
from attribution.exceptions import ConfigError, InputError
from attribution.inputs._formats import formats_for
from attribution.inputs._toml import read_json

if TYPE_CHECKING:
    from attribution.engine._result import AttributionResult
    from attribution.options import RunOptions
    from attribution.surveys._benchmark import SurveyBenchmark

__all__ = ["ECONOMICS_NOT_COMPUTED", "Analysis", "B2BInputs", "analyse"]

#: the manifest's key for why a run with spend has no unit economics (the report says it)
ECONOMICS_NOT_COMPUTED = "unit_economics_not_computed"


@dataclass
class Analysis:
    """What :func:`analyse` returns: the B2B extras of a run, in their order.

    Attributes
    ----------
    survey_benchmark
        The survey benchmark (with surveys), else ``None``.
    extras
        The other extras (economics, funnel, plan check, calibration, SLAs...): each has
        ``.write(directory)`` and ``.summary()``.
    """

    survey_benchmark: SurveyBenchmark | None = None
    extras: list[Any] = field(default_factory=list)
    #: the run's reporting currency (its summaries' money sign): the manifest's currency
    currency: str = "USD"

    @property
    def outputs(self) -> list[Any]:
        """Everything to write into the run directory (``AttributionResult.write(also=)``),
        the survey benchmark first."""
        bench = [self.survey_benchmark] if self.survey_benchmark is not None else []
        return [*bench, *self.extras]

    def summaries(self) -> list[str]:
        """The summary of each output, in order."""
        from attribution._reporting_currency import money_in

        with money_in(self.currency):
            return [extra.summary() for extra in self.outputs]


@dataclass
class Said:
    """A step that did not run, and why: its summary is that sentence; it writes nothing
    (the sentence is in the manifest's notes too)."""

    sentence: str

    def summary(self) -> str:
        return f"Note: {self.sentence}."

    def write(self, directory: str | Path) -> Path:
        return Path(directory)


def analyse(
    result: AttributionResult,
    inputs: B2BInputs | None = None,
    *,
    options: RunOptions | None = None,
) -> Analysis:
    """The B2B steps of a run, after its attribution: decision model, survey benchmark,
    campaign and unit economics, retention, the funnel and its alerts, the plan check and
    channel tests, calibration, SLAs (see :mod:`attribution.b2b._analysis` for the order).

    The decision model (``options.decision_model``, else the survey benchmark's best, else
    the best against ``truth``, else the default) is written into ``result.manifest``
    (``decision_model``, ``decision_model_source``). Each step runs when its inputs are
    given; a step missing an input it needs (a plan without spend) is a
    :class:`~attribution.ConfigError`, bad input the error naming the file, the column and
    the lines.

    Parameters
    ----------
    result
        From :func:`attribution.attribute` (or any executor).
    inputs
        The B2B inputs and settings; default: none (only the decision model).
    options
        The run's options: ``decision_model``, ``columns``, ``stage_names``,
        ``conversion_stage`` and ``timestamp_formats`` are read from them; default: those
        the result was made with (``result.options``), so the B2B steps read the inputs as
        the run did.

    Returns
    -------
    Analysis
        The extras; write them with ``result.write(runs_dir, also=analysis.outputs)``.

    Examples
    --------
    >>> import polars as pl
    >>> from attribution import attribute, analyse
    >>> touches = pl.DataFrame({"contact_id": ["c1", "c1"], "channel": ["ads", "email"],
    ...     "timestamp": ["2025-01-01", "2025-01-05"]})
    >>> stages = pl.DataFrame({"contact_id": ["c1"], "stage": ["closed_won"],
    ...     "timestamp": ["2025-01-10"], "value": [100.0]})
    >>> result = attribute(touches, stages, models=["linear", "last_touch"])
    >>> analyse(result).extras, result.manifest["decision_model"]
    ([], 'linear')
    """
    inputs = inputs or B2BInputs()
    notes = result.manifest.setdefault("notes", [])  # what reading the B2B inputs said
    notes.extend(n for n in inputs.notes if n not in notes)  # ('$7,880.74' read as money)
    if options is None:  # the run's own: its mappings, stage names and conversion stage
        options = result.options
    if options is not None:  # each table with money converted alike (--currency-rates)
        inputs = inputs.with_rates(options.currency_rates)
    # the run's reporting currency, decided once (the money sign of every text below)
    from attribution._reporting_currency import money_in, run_currency

    currency = run_currency(
        result.manifest, {"spend": inputs.spend, "subscriptions": inputs.subscriptions}, options
    )
    result.manifest["currency"] = currency
    with money_in(currency["code"]):
        bench = _decide(result, inputs, options)
        extras = _economics(result, inputs, options)
        extras += _calibration(result, inputs, options, extras)
        if inputs.sla is not False:
            extras.append(_sla(inputs, options))
    from attribution.engine._manifest import add_b2b_inputs

    add_b2b_inputs(result.manifest, inputs)  # the spend, accounts... read: in its inputs
    return Analysis(survey_benchmark=bench, extras=extras, currency=currency["code"])


def _columns(options: RunOptions | None) -> dict[str, dict[str, str]] | None:
    columns = options.columns if options is not None else None
    return {k: dict(v) for k, v in columns.items()} if columns is not None else None


def _stage_names(options: RunOptions | None) -> dict[str, Any] | None:
    """The run's stage names (ours -> the data's) as the B2B steps read the stages: with a
    conversion stage that is none of ours (``--conversion-stage "Closed Won"``) and no name
    given for ``closed_won``, the conversion stage is the funnel's won stage too."""
    from attribution.b2b._funnel import DEFAULT_STEPS, LOST_STAGE

    names = dict(options.stage_names or {}) if options is not None else {}
    won = options.conversion_stage if options is not None else DEFAULT_STEPS[-1]
    if won not in (*DEFAULT_STEPS, LOST_STAGE) and DEFAULT_STEPS[-1] not in names:
        names[DEFAULT_STEPS[-1]] = won
    return names or None


def _earlier_conversion(options: RunOptions | None) -> str | None:
    """The run's conversion stage when it is a funnel step before the won stage
    (``opportunity``...): its conversions are not customers."""
    from attribution.b2b._funnel import DEFAULT_STEPS

    stage = options.conversion_stage if options is not None else None
    return stage if stage in DEFAULT_STEPS[:-1] else None


def _formats(options: RunOptions | None) -> dict[str, tuple[str, ...]] | None:
    formats = options.timestamp_formats if options is not None else None
    return dict(formats) if isinstance(formats, Mapping) and formats else None  # type: ignore[arg-type]


def _contacts(inputs: B2BInputs, options: RunOptions | None) -> Any:
    """The contacts table's frame (a contact's account: the funnel's key at account level,
    a contact's segment at either), else None."""
    if inputs.contacts is None:
        return None
    from attribution.inputs._schema import CONTACTS, load

    return load(inputs.contacts, CONTACTS, columns=(_columns(options) or {}).get("contacts")).frame


def _decide(
    result: AttributionResult, inputs: B2BInputs, options: RunOptions | None
) -> SurveyBenchmark | None:
    """Choose the run's decision model (:mod:`attribution.b2b._decision`) and record it in
    the manifest; return the survey benchmark (with surveys)."""
    from attribution.b2b._decision import decide

    given = options.decision_model if options is not None else None
    bench = truth_scores = None
    if inputs.surveys is not None:
        from attribution.inputs._formats import formats_for
        from attribution.surveys._benchmark import compare_surveys
        from attribution.surveys._join import DEFAULT_POST_PURCHASE_DAYS

        bench = compare_surveys(
            result,
            inputs.surveys,
            truth=inputs.truth,
            classifier=inputs.survey_labels,
            columns=(options.columns or {}).get("surveys") if options is not None else None,
            formats=formats_for("surveys", _formats(options)),
            min_proba=options.survey_min_proba if options is not None else None,
            # a contact's answer: its account; an e-mail's: its contact (or the touches')
            contacts=inputs.contacts,
            touches=inputs.touches if inputs.touches is not None else inputs.events,
            table_columns=_columns(options),
            post_purchase_days=(
                options.survey_post_purchase_days
                if options is not None
                else DEFAULT_POST_PURCHASE_DAYS
            ),
        )
        truth_scores = bench.truth  # the next yardstick when the survey cannot choose
    elif given is None and inputs.truth is not None:
        from attribution.surveys._truth import score_against_truth

        truth_scores = score_against_truth(result, inputs.truth)
    models = result.channel_credit.get_column("model").unique(maintain_order=True).to_list()
    if not models and given is None:  # an empty run (allow_empty): nothing to decide with
        return bench
    model, source, reason = decide(
        models,
        given=given,
        given_by="decision_model",
        leaderboard=bench.leaderboard if bench is not None and given is None else None,
        truth=truth_scores,
        survey_unusable=bench.unusable if bench is not None and given is None else None,
    )
    result.manifest["decision_model"] = model
    result.manifest["decision_model_source"] = source
    result.manifest["decision_model_reason"] = reason  # why the survey did not choose
    return bench


def _decision(result: AttributionResult) -> tuple[str | None, str | None]:
    """The decision model recorded in the manifest and its source (``None``: a run without
    any credit)."""
    model = result.manifest.get("decision_model")
    if not isinstance(model, str):
        return None, None
    return model, result.manifest.get("decision_model_source")


def _injected_anomalies(truth: str | Path | None) -> list[dict[str, Any]] | None:
    """The ``anomalies`` a synthetic truth file lists (``synth --anomalies``), if any."""
    if truth is None:
        return None
    data = read_json(truth, "truth")
    listed = data.get("anomalies") if isinstance(data, dict) else None
    if not isinstance(listed, list) or not listed:
        return None
    need = {"family", "metric", "channel", "week", "size"}
    for i, entry in enumerate(listed, start=1):
        if not isinstance(entry, dict) or not need <= set(entry):
            raise ConfigError(
                f"truth '{truth}': anomalies entry {i} needs {sorted(need)} (as synth "
                "--anomalies writes them)"
            )
    return listed


def _account_tables(
    inputs: B2BInputs, options: RunOptions | None
) -> tuple[Any | None, Any | None]:
    """The accounts and subscriptions tables, read and checked whenever given: other steps
    slice by them too, and a bad file is an error even in a run without spend."""
    from attribution.inputs._account_inputs import load_accounts, load_subscriptions

    columns, formats = _columns(options) or {}, _formats(options) or {}
    accounts = (
        load_accounts(
            inputs.accounts,
            columns=columns.get("accounts"),
            formats=formats_for("accounts", formats),
        )
        if inputs.accounts is not None
        else None
    )
    subscriptions = (
        load_subscriptions(
            inputs.subscriptions,
            columns=columns.get("subscriptions"),
            formats=formats_for("subscriptions", formats),
        )
        if inputs.subscriptions is not None
        else None
    )
    return accounts, subscriptions


def _economics(
    result: AttributionResult, inputs: B2BInputs, options: RunOptions | None
) -> list[Any]:
    """Campaign credit (touches with campaigns; CAC and ROI with campaign spend, the
    influence export as CSV with ``influence_csv``), unit economics (needs spend; by segment,
    metro and region with accounts, observed churn from subscriptions), retention and NRR
    (subscriptions, with or without spend), the funnel (needs stages) and the plan check."""
    from attribution.b2b._campaigns import InfluenceCsv, campaign_economics
    from attribution.b2b._economics import unit_economics
    from attribution.b2b._economics_accountless import accountless_finding, drop_accountless
    from attribution.b2b._economics_heavy import bound_heavy_contacts
    from attribution.b2b._economics_slices import touch_exposure
    from attribution.b2b._retention import close_months, retention
    from attribution.b2b._retention_units import record_amount_check
    from attribution.b2b._segment_aliases import KEY, one_alias_setting, segment_benchmarks

    columns, stage_names, formats = _columns(options), _stage_names(options), _formats(options)
    spend, stages, touches = inputs.spend, inputs.stages, inputs.touches
    channel_aliases = (result.manifest.get("parameters") or {}).get("channel_aliases")
    extras: list[Any] = []
    account_table, subscription_table = _account_tables(inputs, options)
    kept = (
        retention(
            subscription_table,
            account_table,
            close_months=close_months(result.touch_credit, result.conversions),
        )
        if subscription_table
        else None
    )
    if kept is not None and subscription_table is not None:  # amounts in cents? (a warning)
        value = ((columns or {}).get("stages") or {}).get("value", "value")
        record_amount_check(kept, subscription_table, result, stages_column=value)
    decision = _decision(result)
    earlier = _earlier_conversion(options)
    if result.campaign_credit.width:
        by_campaign = campaign_economics(
            result,
            spend if earlier is None else None,  # no CAC of conversions that are not customers
            columns=(columns or {}).get("spend"),
            timestamp_formats=formats,
        )
        by_campaign.parameters["decision_model"] = decision[0]
        extras.append(by_campaign)
        if inputs.influence_csv:
            extras.append(InfluenceCsv(result.campaign_influence))
    if spend is None:  # economics and the funnel come with spend (a plan needs it too)
        if inputs.plan is not None:
            raise missing_input("the plan check needs a spend table", "spend")
        return [*extras, kept] if kept is not None else extras
    economics = dict(inputs.economics or {})
    given = one_alias_setting(economics.pop(KEY, None), options)
    bench, aliases = segment_benchmarks(inputs.benchmarks, given, account_table)
    flow = None
    if stages is not None:
        from attribution.b2b._funnel import funnel

        flow = funnel(
            stages,
            touches,
            spend,
            columns=columns,
            stage_names=stage_names,
            timestamp_formats=formats,
            channel_aliases=channel_aliases,
            alerts=dict(inputs.alerts) if inputs.alerts is not None else None,
            benchmarks=bench,
            accounts=account_table,
            nrr=kept,
            contacts=_contacts(inputs, options),
            level=options.level if options is not None else None,
            channel_rules=options.channel_rules if options is not None else None,
        )
        injected = _injected_anomalies(inputs.truth)
        if injected is not None:
            flow.score_injected(injected)
    if earlier is not None:  # the run's conversions are not customers: no CAC
        if inputs.plan is not None:
            raise ConfigError(
                f"the plan check needs won deals as the run's conversions: this run's "
                f"conversion stage is {earlier!r} (--conversion-stage); run the plan with "
                "the won stage, closed_won (the default)"
            )
        note = (
            f"unit economics (CAC, LTV/CAC, payback, the CAC guardrail) are not computed: "
            f"this run's conversions are {earlier!r} events, not won deals, so spend per "
            f"credited conversion would be a cost per {earlier}, and their values pipeline, "
            "not revenue; run with the won stage, closed_won (the default conversion "
            "stage), for them"
        )
        result.manifest.setdefault("notes", []).append(note)
        result.manifest[ECONOMICS_NOT_COMPUTED] = note  # the report's answers say it
        extras.append(Said(note))
        return [*extras, *(x for x in (kept, flow) if x is not None)]
    exposure = None  # the spend split by segment weighs every touch of the log
    if (
        account_table is not None
        and touches is not None
        and economics.get("segment_spend", "touches") == "touches"
    ):
        exposure = touch_exposure(
            touches,
            inputs.contacts,
            columns=columns,
            formats=formats,
            channel_aliases=channel_aliases,
        )
    heavy = None  # a bot-like contact weighs like the busiest real one in the split
    if exposure is not None:
        exposure, heavy = bound_heavy_contacts(exposure)
    accountless = None  # at account level a touch without an account reaches no segment
    if exposure is not None and options is not None and options.level == "account":
        exposure, accountless = drop_accountless(exposure)
    econ = unit_economics(
        result,
        spend,
        exposure=exposure,
        columns=(columns or {}).get("spend"),
        timestamp_formats=formats,
        accounts=account_table,
        subscriptions=kept,
        benchmarks=bench,
        pipeline=flow.pipeline if flow is not None else None,
        **economics,
    )
    econ.parameters.update(decision_model=decision[0], decision_model_source=decision[1])
    econ.parameters[KEY] = aliases  # the accounts' segments read as published ones
    if accountless is not None:
        econ.parameters["touches_without_account"] = accountless_finding(accountless, econ.table)
    if heavy is not None:
        econ.parameters["contacts_bounded"] = heavy
    extras.append(econ)
    if flow is not None:  # the economics' input warnings are alerts too (econfix)
        from attribution.b2b._alerts_data import with_data_alerts

        flow.alerts = with_data_alerts(flow.alerts, econ.parameters, flow.weekly)
    if kept is not None:
        extras.append(kept)
    if flow is not None:
        extras.append(flow)
    if inputs.plan is not None:
        extras += _plan(result, inputs, options, flow, decision)
    return extras


def _plan(
    result: AttributionResult,
    inputs: B2BInputs,
    options: RunOptions | None,
    flow: Any,
    decision: tuple[str | None, str | None],
) -> list[Any]:
    """The plan check and the readout of the channels the plan tests."""
    from attribution.b2b._plan import check_plan, read_plan
    from attribution.b2b._plan_tests import channel_tests
    from attribution.b2b._plan_touch_types import plan_touch_types

    plan = inputs.plan
    assert plan is not None
    if flow is None:
        raise missing_input(
            "the plan check needs a stages table, not only the unified event log", "stages"
        )
    columns, stage_names, formats = _columns(options), _stage_names(options), _formats(options)
    check = check_plan(
        plan,
        result,
        inputs.spend,
        flow,
        model=decision[0],
        decision_source=decision[1],
        columns=columns,
        stage_names=stage_names,
        timestamp_formats=formats,
        benchmarks=inputs.benchmarks,
    )
    left_out = check.summary_data.get("touch_types_left_out")
    if isinstance(left_out, dict) and not left_out.get("types") and inputs.touches is not None:
        # every touch credited: its note names the sales follow-ups only when there are some
        left_out["sales_types_in_data"] = list(
            plan_touch_types(
                inputs.touches,
                column=((columns or {}).get("touches") or {}).get("touch_type", "touch_type"),
            )
        )
    extras: list[Any] = [check]
    if read_plan(plan).tests:  # go / no-go readouts of the channels the plan tests
        if inputs.touches is None:
            raise missing_input(
                f"plan '{plan}': its [tests] need the touch log for the channel that sourced "
                "each MQL",
                "touches",
            )
        extras.append(
            channel_tests(
                plan,
                inputs.stages,
                inputs.touches,
                inputs.spend,
                columns=columns,
                stage_names=stage_names,
                timestamp_formats=formats,
                channel_aliases=(result.manifest.get("parameters") or {}).get(
                    "channel_aliases"
                ),
                steps=flow.parameters["steps"],
                lost_stage=flow.parameters["lost_stage"],
                channel_rules=options.channel_rules if options is not None else None,
            )
        )
    return extras


def _calibration(
    result: AttributionResult,
    inputs: B2BInputs,
    options: RunOptions | None,
    extras: list[Any],
) -> list[Any]:
    """Calibrated credit (with experiments; scored against the truth when given) and what to
    test next (with the unit economics among ``extras``: its spend), as one extra."""
    from attribution.b2b._calibration import calibrate
    from attribution.b2b._economics import UnitEconomics

    econ = next((e for e in extras if isinstance(e, UnitEconomics)), None)
    if not inputs.experiments_next:
        econ = None
    if inputs.experiments is None and econ is None:
        return []
    return [
        calibrate(
            result,
            inputs.experiments,
            economics=econ,
            truth=inputs.truth if inputs.experiments is not None else None,
            columns=_columns(options),
            timestamp_formats=_formats(options),
        )
    ]


def _sla(inputs: B2BInputs, options: RunOptions | None) -> Any:
    """The SLAs, from the stages and the touch log, or from the unified event log split
    into both."""
    from attribution.b2b._sla import sla

    columns, stage_names, formats = _columns(options), _stage_names(options), _formats(options)
    stages, touches = inputs.stages, inputs.touches
    if (stages is None or touches is None) and inputs.events is not None:
        from attribution.inputs._schema import EVENTS, load
        from attribution.inputs._split_events import split_events

        log = load(
            inputs.events,
            EVENTS,
            columns=(columns or {}).get("events") or (columns or {}).get("touches"),
            formats=formats_for("events", formats or {}),
        )
        try:
            touches, stages = split_events(log.frame, log.source)
        except InputError as exc:
            raise log.error(exc) from None
        columns, formats = None, None  # the split tables have our names and types
    if stages is None or touches is None:
        raise ConfigError("the SLAs need the stages and the touch log (or the event log)")
    settings = dict(inputs.sla) if isinstance(inputs.sla, Mapping) else None
    return sla(
        stages,
        touches,
        settings=settings,
        columns=columns,
        stage_names=stage_names,
        timestamp_formats=formats,
        as_of=options.as_of_time if options is not None else None,  # the run's as-of time
    )
