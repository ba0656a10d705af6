"""The inputs and settings of the B2B stage (:class:`B2BInputs`), checked once when made:
the settings (``economics``, ``alerts``, ``sla``) by the same checks a config file's sections
go through, a bad value an :class:`~attribution.InputError` naming the setting
(``exc.option``) and its key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attribution.exceptions import ConfigError, InputError, ModelParameterError, did_you_mean
from attribution.typing import TableLike

if TYPE_CHECKING:
    from attribution.inputs._benchmarks import Benchmarks
    from attribution.inputs._sources import Source
    from attribution.options import RunOptions

#: ``economics`` keys taking a number -> the keywords of :func:`attribution.unit_economics`
ECONOMICS_NUMBERS = frozenset(
    {
        "monthly_lag_months",
        "gross_margin",
        "annual_churn",
        "arpa",
        "ltv",
        "value_period_months",
        "guardrail_limit",
        "ltv_to_cac_target",
        "payback_target_months",
        "max_lifetime_years",
    }
)
#: ``economics`` keys that take one of a few words -> those words
ECONOMICS_CHOICES: Mapping[str, tuple[str, ...]] = {
    "allocation": ("customers", "spend"),
    "guardrail_basis": (
        "lifetime_gross_profit",
        "first_year_gross_profit",
        "period_gross_profit",
    ),
    "segment_spend": ("touches", "customers"),
}
#: every ``economics`` key (a config's ``[economics]``)
ECONOMICS_KEYS = ECONOMICS_NUMBERS | set(ECONOMICS_CHOICES) | {"costs", "segment_aliases"}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_economics(section: Mapping[str, Any]) -> dict[str, Any]:
    """``economics`` settings (the keywords of :func:`attribution.unit_economics`) checked
    for their keys and types (ranges are checked there); an InputError names the key."""
    for key in section:
        if key not in ECONOMICS_KEYS:
            raise InputError(f"unknown key '{key}'; {did_you_mean(key, sorted(ECONOMICS_KEYS))}")
    for key in ECONOMICS_NUMBERS & set(section):
        value = section[key]
        per_segment = isinstance(value, Mapping) and all(map(_number, value.values()))
        if key == "gross_margin" and per_segment:
            continue  # a margin per segment: gross_margin = {smb = 0.7, all = 0.8}
        if not _number(value):
            raise InputError(
                f"{key} must be a number"
                + (" (or, gross_margin, a table segment = margin)" if key == "gross_margin" else "")
                + f", got {value!r}"
            )
    for key, words in ECONOMICS_CHOICES.items():
        if key in section and section[key] not in words:
            raise InputError(
                f"{key} must be "
                + " or ".join(f"'{w}'" for w in words)
                + f"; {did_you_mean(str(section[key]), list(words))}"
            )
    costs = section.get("costs", {})
    if not isinstance(costs, Mapping) or not all(_number(v) and v >= 0 for v in costs.values()):
        raise InputError(f"costs maps a cost name = amount >= 0, got {costs!r}")
    if "segment_aliases" in section:  # the benchmark ranges' segments, not a unit_economics key
        from attribution.b2b._segment_aliases import check_segment_aliases

        check_segment_aliases(section["segment_aliases"])
    _check_ranges({k: v for k, v in section.items() if k != "segment_aliases"})
    return dict(section)


def _check_ranges(section: Mapping[str, Any]) -> None:
    """The ranges :func:`attribution.unit_economics` checks (a margin in (0, 1], a target
    > 0...), checked now, with the other settings at their defaults: a bad value is an error
    when the settings are given (a config read, a request made), not after the run's
    attribution, and also when the run has no spend to compute economics with."""
    import inspect

    from attribution.b2b._economics import unit_economics
    from attribution.b2b._economics_metrics import check_economics as check_ranges
    from attribution.exceptions import ModelParameterError

    defaults = {
        name: p.default
        for name, p in inspect.signature(unit_economics).parameters.items()
        if name in inspect.signature(check_ranges).parameters
    }
    try:
        check_ranges(**{**defaults, "costs": {}, **section})
    except ModelParameterError as exc:
        text = str(exc).replace("The '", "", 1).replace("' parameter of unit_economics", "", 1)
        raise InputError(text) from None


def _named(name: str, error: Exception) -> InputError:
    """``error`` as the InputError of the setting ``name``."""
    out = InputError(f"{name}: {error}")
    out.option = name
    return out


@dataclass(frozen=True, kw_only=True)
class B2BInputs:
    """The inputs and settings of the B2B steps of a run (see :func:`analyse`).

    Every table is anything the library reads as one (a path, a Polars frame, an Arrow table,
    an :class:`~attribution.SqlTable`); column names, stage names and timestamp formats are
    those of the run's :class:`~attribution.RunOptions`.

    Parameters
    ----------
    touches, stages
        The touch log and the CRM stage events of the run (the funnel, the segment exposure,
        the channel tests and the SLAs read them).
    events
        The unified event log instead of both (then only the SLAs read it).
    contacts
        Contact -> account: the segment exposure of touches at contact level.
    spend
        Spend by channel and month: unit economics, the funnel and the plan check.
    accounts
        Accounts (``account_id``; segment, metro, region...): economics by segment.
    subscriptions
        Subscriptions (``account_id``, ``month``, ``mrr`` or ``arr``): retention, NRR and the
        observed churn in LTV.
    surveys
        Survey answers: the survey benchmark, and the decision model it ranks first.
    survey_labels
        Labelled answers (``response``, ``channel``) to fit a survey classifier on.
    truth
        A synthetic dataset's ``truth.json``: models scored against it, the injected
        anomalies scored, the calibration scored.
    experiments
        Lift tests: credit calibrated with them.
    plan
        A plan TOML: the plan check (needs spend and stages) and its channel tests.
    economics
        The keywords of :func:`attribution.unit_economics` (a config's ``[economics]``).
    alerts
        The fields of :class:`attribution.AlertSettings` (a config's ``[alerts]``).
    sla
        Measure the SLAs: ``True`` with the defaults, or their settings (a config's
        ``[sla]``); ``False`` (default): not measured.
    benchmarks
        The benchmark table the economics, the funnel and the plan check compare with
        (default: the shipped one).
    influence_csv
        Also write ``campaign_influence.csv`` (touches with campaigns).
    experiments_next
        With spend, rank the channels by the value of a lift test even without experiments
        (default); ``attribution plan`` turns it off.

    Examples
    --------
    >>> from attribution import B2BInputs
    >>> B2BInputs(spend="spend.parquet", sla=True).sla
    True
    >>> B2BInputs(economics={"gross_margin": "high"})
    Traceback (most recent call last):
    ...
    attribution.exceptions.InputError: economics: gross_margin must be a number (or, \
gross_margin, a table segment = margin), got 'high'
    """

    touches: TableLike | None = None
    stages: TableLike | None = None
    events: TableLike | None = None
    contacts: TableLike | None = None
    spend: TableLike | None = None
    accounts: TableLike | None = None
    subscriptions: TableLike | None = None
    surveys: TableLike | None = None
    survey_labels: TableLike | None = None
    truth: str | Path | None = None
    experiments: TableLike | None = None
    plan: str | Path | None = None
    economics: Mapping[str, Any] | None = None
    alerts: Mapping[str, Any] | None = None
    sla: bool | Mapping[str, Any] = False
    benchmarks: Benchmarks | None = None
    influence_csv: bool = False
    experiments_next: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.sla, bool | Mapping):
            raise _named("sla", InputError(f"takes True, False or SLA settings; got {self.sla!r}"))
        for name in ("economics", "alerts"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Mapping):
                raise _named(name, InputError(f"takes a mapping; got {type(value).__name__}"))
        if self.economics is not None:
            try:
                check_economics(self.economics)
            except InputError as exc:
                raise _named("economics", exc) from None
        if self.alerts is not None:
            from attribution.b2b._alerts_settings import AlertSettings

            try:
                AlertSettings.of(self.alerts)
            except (ModelParameterError, TypeError) as exc:
                raise _named("alerts", exc) from None
        if isinstance(self.sla, Mapping):
            from attribution.b2b._sla_targets import check_sla_settings

            try:
                check_sla_settings(self.sla)
            except InputError as exc:
                raise _named("sla", exc) from None

    def check(self, options: RunOptions | None = None) -> None:
        """Read and check the small tables given (spend, accounts, subscriptions,
        experiments, surveys and their labels) and the plan as the B2B stage reads them
        (see :meth:`read`), under the run's column names and timestamp formats: a bad table
        is the error naming the file, the user's column and the 1-based lines before any
        work starts (the service answers it as a 422); the touch log and the stages are the
        run's to check.

        >>> import polars as pl
        >>> spend = pl.DataFrame({"channel": ["ads"], "month": ["2025-01-01"],
        ...                       "amount": ["lots"]})
        >>> from attribution import SchemaError
        >>> try:
        ...     B2BInputs(spend=spend).check()
        ... except SchemaError as exc:
        ...     print(exc.table, exc.column, exc.rows)
        spend amount [0]
        """
        self.read(options)

    def read(self, options: RunOptions | None = None) -> B2BInputs:
        """:meth:`check`, returning these inputs with each table given as a file (or a
        query) held as it was read: in memory, under its file's name and line numbering, so
        the B2B stage checks it again from there (a later error still names the file and its
        lines) without reading the file a second time. ``attribution run`` and ``attribution
        plan`` call it before the attribution starts: a spend typo costs seconds, not a run.
        """
        from attribution.inputs._account_inputs import load_accounts, load_subscriptions
        from attribution.inputs._experiments import load_experiments
        from attribution.inputs._formats import formats_for
        from attribution.inputs._schema import SPEND, load

        columns = dict(options.columns or {}) if options is not None else {}
        given = options.timestamp_formats if options is not None else None
        formats: dict[str, Any] = dict(given) if isinstance(given, Mapping) else {}
        rates = options.currency_rates if options is not None else None
        if (wrapped := self.with_rates(rates)) is not self:  # every read converts alike
            return wrapped.read(options)
        held: dict[str, Any] = {}
        if self.spend is not None:
            spend = load(
                self.spend,
                SPEND,
                columns=columns.get("spend"),
                formats=formats_for("spend", formats),
            )
            held["spend"] = _held(self.spend, spend.source)
        if self.accounts is not None:
            accounts = load_accounts(
                self.accounts,
                columns=columns.get("accounts"),
                formats=formats_for("accounts", formats),
            )
            held["accounts"] = _held(self.accounts, accounts.table.source)
        if self.subscriptions is not None:
            subscriptions = load_subscriptions(
                self.subscriptions,
                columns=columns.get("subscriptions"),
                formats=formats_for("subscriptions", formats),
            )
            held["subscriptions"] = _held(self.subscriptions, subscriptions.table.source)
        if self.experiments is not None:
            experiments = load_experiments(
                self.experiments,
                columns=columns.get("experiments"),
                formats=formats_for("experiments", formats),
            )
            held["experiments"] = _held(self.experiments, experiments.table.source)
        if self.surveys is not None:
            from attribution.surveys._emails import SURVEYS_WITH_EMAIL

            surveys = load(  # answers may be keyed by e-mail (attribution.surveys._emails)
                self.surveys,
                SURVEYS_WITH_EMAIL,
                columns=columns.get("surveys"),
                formats=formats_for("surveys", formats),
            )
            held["surveys"] = _held(self.surveys, surveys.source)
        if self.survey_labels is not None:  # the classifier's labelled answers
            from attribution.surveys._classifier import LABELS

            labels = load(self.survey_labels, LABELS)
            held["survey_labels"] = _held(self.survey_labels, labels.source)
        if self.plan is not None:
            self._check_plan(options)
        if self.truth is not None:
            self._check_truth()
        return replace(self, **held) if held else self

    def with_rates(self, rates: str | Path | None) -> B2BInputs:
        """These inputs with the run's currency rates kept with each table with money (the
        tables of :data:`~attribution.inputs._money.MONEY_COLUMNS`, as a
        :class:`~attribution.inputs._sources.Source`, opened lazily), so every step that
        reads one converts its amounts alike (:mod:`attribution.inputs._currency_column`);
        as they are without rates."""
        from attribution.inputs._money import MONEY_COLUMNS
        from attribution.inputs._sources import read_source

        if rates is None:
            return self
        given = {name: getattr(self, name) for name in MONEY_COLUMNS}  # the priced tables
        wrapped: dict[str, Any] = {
            name: replace(source, currency_rates=str(rates))
            for name, data in given.items()
            if data is not None
            and (source := read_source(data, table=name)).currency_rates is None
        }
        return replace(self, **wrapped) if wrapped else self

    @property
    def notes(self) -> list[str]:
        """What reading the tables said (inputs as :meth:`read` holds them; none before):
        one NOTE line per money column whose amounts were written as money (``$7,880.74``
        in a spend sheet, read without the ``$`` and the thousands commas), and one per file
        read below a report's title lines (an ad platform's export)."""
        from attribution.inputs._sources import Source

        return [
            note
            for name in ("spend", "accounts", "subscriptions", "experiments", "surveys",
                         "survey_labels")
            if isinstance(held := getattr(self, name), Source)
            for note in held.notes(name)
        ]

    def _check_truth(self) -> None:
        """The truth file read as the B2B stage reads it: JSON with ``incremental_share``
        (the models scored against it), its ``anomalies`` entries (the alerts scored) and,
        with experiments, what the calibration's truth needs; a ConfigError naming the file
        and what it lacks, before the attribution starts."""
        from attribution.b2b._analysis import _injected_anomalies
        from attribution.b2b._calibration import truth_shares
        from attribution.surveys._truth import read_truth

        assert self.truth is not None
        read_truth(self.truth)
        _injected_anomalies(self.truth)
        if self.experiments is None:
            return
        try:
            truth_shares(self.truth)
        except (KeyError, TypeError, ValueError, AttributeError, ZeroDivisionError):
            raise ConfigError(
                f"truth '{self.truth}': scoring the calibration needs 'expected' "
                "{'closed_won': conversions > 0} and 'channels' {channel: "
                "{'expected_conversions_lost_if_removed': number}} (as synth writes them)"
            ) from None

    def _check_plan(self, options: RunOptions | None) -> None:
        """The plan file read and checked, and the inputs its check needs given (spend,
        the stages, the touches for its [tests]; won deals as the conversions)."""
        from attribution.b2b._funnel import DEFAULT_STEPS
        from attribution.b2b._plan_file import read_plan

        assert self.plan is not None
        plan = read_plan(self.plan)
        if self.spend is None:
            raise missing_input("the plan check needs a spend table", "spend")
        if self.stages is None:
            raise missing_input(
                "the plan check needs a stages table, not only the unified event log", "stages"
            )
        if plan.tests and self.touches is None:
            raise missing_input(
                f"plan '{self.plan}': its [tests] need the touch log for the channel that "
                "sourced each MQL",
                "touches",
            )
        stage = options.conversion_stage if options is not None else None
        if stage in DEFAULT_STEPS[:-1]:  # the run's conversions are not customers
            raise ConfigError(
                f"the plan check needs won deals as the run's conversions: this run's "
                f"conversion stage is {stage!r} (--conversion-stage); run the plan with "
                "the won stage, closed_won (the default)"
            )


def _held(given: Any, source: Source) -> Any:
    """A table given as a file or a query, as it was read (its rows in memory, its name,
    path and numbering kept: :func:`attribution.inputs._schema.load` reads a
    :class:`Source` as it is); a frame as given."""
    if source.path is None and source.sql is None and not source.money:
        return given  # a frame (one whose amounts were read as money: held, to say it)
    return replace(source, frame=source.frame.collect().lazy())


def missing_input(message: str, name: str) -> ConfigError:
    """A :class:`ConfigError` for a B2B input the step needs and was not given, naming it
    as every interface knows it: ``input 'spend'`` (``B2BInputs(spend=...)``, the run
    request's ``spend``; the command line shows its flag, ``--spend``) and as ``exc.option``
    (the HTTP error's ``field``)."""
    exc = ConfigError(f"{message} (input '{name}')")
    exc.option = name
    return exc
