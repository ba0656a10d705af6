"""One piece: :class:`RunOptions`, the one description of a run (every run option is a field here).

Every executor (in memory, partitioned, Spark, HTTP scoring) takes a ``RunOptions``; the
public functions build one from their keyword arguments, the CLI from its flags, the config
loader from a TOML file and the service from a request. The options are validated once, when
the object is made, with errors that name the option. Adding an option means one field here
and the stage that reads it: a field with an :class:`OptionFlag` in its metadata is also a
flag of ``attribution run`` and of the Spark job, and every field but the four with their own
config section (``columns``, ``stage_names``, ``milestones``, ``channel_rules``) is a key of
a config file's ``[run]`` table.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

from attribution.b2b._accounts import DEFAULT_REQUIRED_ROLES, check_required_roles
from attribution.b2b._engagement import check_as_of
from attribution.b2b._segment_aliases import check_segment_aliases
from attribution.exceptions import (
    ColumnNotFoundError,
    InputError,
    ModelNotFoundError,
    ModelParameterError,
    did_you_mean,
)
from attribution.inputs._campaigns import Key, check_key
from attribution.inputs._channels import check_channel_aliases
from attribution.inputs._column_map import mappable
from attribution.inputs._durations import parse_duration
from attribution.inputs._formats import check_timestamp_formats, check_timezone, formats_for
from attribution.inputs._numbers import DECIMAL_COMMA_KEY
from attribution.inputs._reading import TIMEZONE_KEY
from attribution.inputs._schema import SPECS
from attribution.inputs._stage_names import canonical_stage, check_milestones
from attribution.inputs._validate import check_touch_types
from attribution.journeys._cap import DEFAULT_MAX_TOUCHES_PER_JOURNEY, check_max_touches
from attribution.journeys._conversions import DEFAULT_MILESTONES
from attribution.journeys._journeys import CONTACT_SCOPES, PARALLEL_DEALS
from attribution.journeys._segment_windows import check_lookback
from attribution.models._channel_params import with_aliases
from attribution.models._registry import ModelRun, default_models, resolve_all
from attribution.models._rules import DEFAULT_ROLE_MULTIPLIERS, check_role_multipliers
from attribution.typing import ContactScope, Duration, Level, ModelLike, ParallelDeals

__all__ = [
    "DEFAULT_LOOKBACK",
    "MAX_BOOTSTRAP_DRAWS",
    "OptionFlag",
    "RunOptions",
    "option_flags",
    "read_flags",
]

#: How ``touch_credit.parquet`` holds the models' credit (see ``touch_credit_layout``).
TouchCreditLayout = Literal["wide", "long"]
TOUCH_CREDIT_LAYOUTS: tuple[str, ...] = ("wide", "long")
#: How ``campaign_influence.parquet`` holds the models' shares (see ``influence_layout``).
InfluenceLayout = Literal["wide", "long"]
INFLUENCE_LAYOUTS: tuple[str, ...] = ("wide", "long")

#: Journey window when none is given, by level.
DEFAULT_LOOKBACK: Mapping[str, str] = {"contact": "90d", "account": "180d"}
#: The most bootstrap draws a run takes (``bootstrap``): time and memory grow linearly with
#: the draws (README, "Uncertainty"), and 1,000 is what percentile intervals need.
MAX_BOOTSTRAP_DRAWS = 1000


@dataclass(frozen=True)
class OptionFlag:
    """How a run option is written on a command line (``attribution run``, the Spark job).

    Attributes
    ----------
    flags
        The flag and its aliases, e.g. ``("--model", "-m")``; the first names the option in
        error messages.
    help
        The help text.
    kind
        ``"text"`` (one value), ``"path"`` (a file), ``"switch"`` (on when given) or
        ``"repeat"`` (given once a value, read as a list).
    parse
        Text (as the shell gives it) -> the option's value; ``None``: the text is the value.
    """

    flags: tuple[str, ...]
    help: str
    kind: Literal["text", "path", "switch", "repeat"] = "text"
    parse: Callable[[Any], Any] | None = None


def _flag(*flags: str, **spelling: Any) -> dict[str, OptionFlag]:
    return {"flag": OptionFlag(flags, **spelling)}


def _whole_number(text: str) -> int:
    """A flag's text -> an int (the option's own check then holds it to its range)."""
    try:
        return int(text)
    except ValueError:
        raise InputError(f"takes a whole number; got {text!r}") from None


def _number(text: str) -> float:
    """A flag's text -> a float (the option's own check then holds it to its range)."""
    try:
        return float(text)
    except ValueError:
        raise InputError(f"takes a number; got {text!r}") from None


def parse_role_multipliers(text: str) -> dict[str, float]:
    """``"default"`` or ``"decision_maker=2|user=0.5"`` -> a role multiplier map (the flag's
    text, also a config's ``[run] role_multipliers`` written as text)."""
    if text == "default":
        return dict(DEFAULT_ROLE_MULTIPLIERS)
    try:
        return {k: float(v) for k, v in (i.split("=", 1) for i in text.split("|") if i)}
    except ValueError:
        raise InputError(f"takes role=number|... or 'default'; got {text!r}") from None


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """Everything that describes an attribution run, validated once.

    Parameters
    ----------
    models
        Registry names or ``(name, params)`` pairs, e.g.
        ``["linear", ("time_decay", {"half_life": "1d"})]``; default (``None``): every model
        of :func:`attribution.default_models`. See :func:`attribution.available_models`.
    level
        ``"contact"`` or ``"account"`` (journeys of all the account's contacts).
    conversion_stage
        The stage that counts as a conversion (after ``stage_names`` mapping).
    lookback
        Journey window, e.g. ``"90d"`` or a ``timedelta`` (a number without a unit is an
        error). Default 90 days (contact), 180 days (account); see :attr:`window`. Or a
        window per account segment: a mapping such as ``{"smb": "90d", "enterprise":
        "365d"}`` (text ``"smb=90d,enterprise=365d"``; ``"segments"`` for the defaults),
        over the documented defaults (smb 90 days, mid_market 180, enterprise 365,
        strategic 540); the key ``default`` is the window of an entity without a listed
        segment (else the level's default). It needs the accounts table (``accounts=``);
        see :attr:`segment_windows`.
    milestones
        Milestone role -> stage names; default lead = lead/mql, opportunity, closed_won.
    stage_names
        Our stage name -> the name(s) used in the data, e.g. ``{"closed_won": "Closed Won"}``.
    columns
        Per table, our column name -> the data's, e.g. ``{"touches": {"timestamp": "ts"}}``.
    channel_rules
        Rules file used to derive ``channel`` from UTM columns when it is absent.
    select_markov_order
        Also compare Markov orders 1-4 by held-out ROC AUC of predicting conversion (seeded
        70/30 split of journeys); not additive, so in-memory runs only.
    contact_scope
        Account level: whose touches make an account's journey. ``"account"`` (default) every
        contact of the account; ``"opportunity_roles"`` only contacts on the conversion's
        opportunity (contacts on any stage event with its ``opportunity_id``); ``"primary"``
        only the contact on the conversion's own stage event. A conversion with no such
        contact falls back to account scope (counted as ``conversions_scope_fallback``);
        touches left out are counted as ``touches_dropped.outside_contact_scope``.
    parallel_deals
        Deals of one entity that overlap in time (an expansion opened while the new-business
        deal was open). ``"earliest"`` (default): a touch belongs to the earliest conversion
        at or after it, so no touch is credited twice and a parallel deal gets only the
        touches after the previous conversion (counted as
        ``conversions_parallel_without_touches`` when that leaves none). ``"share"``: a
        conversion whose own opportunity was created before its entity's previous conversion
        also takes, within its lookback, the touches since the entity's last conversion at or
        before that creation, which are then credited in each such deal (counted as
        ``journey_touches_shared`` and ``conversions_sharing_touches``).
    role_multipliers
        Account level: buying-committee weighting, role -> multiplier (e.g.
        ``attribution.DEFAULT_ROLE_MULTIPLIERS``: decision_maker 2, champion 1.5, user 0.5).
        Each touch's rule-based weight is multiplied by its contact's role multiplier (role
        from ``contacts``; missing or unlisted roles take ``"unknown"``, default 1) and the
        journey renormalised. The data-driven models (Markov, Shapley, counterfactual) credit
        channels from path statistics and do not use it (noted in the manifest).
    required_roles
        Account level: the roles a deal's buying committee needs; coverage ("3 of 4") in
        ``accounts`` and ``conversions`` is counted against them. A role that no contact
        holds is an error naming this option (with the roles the contacts table has).
    as_of
        Account level: the time the engagement scores and tiers are measured at (ISO 8601
        text, a ``date`` or a ``datetime``; a date alone is the end of that day; naive = UTC).
        Default: the latest touch or stage time not after the run's own time. Touches after
        it weigh nothing in the engagement and are counted and named (manifest note).
    max_touches_per_journey
        The most touches one journey keeps (default 5,000; ``None`` or ``"none"``: no cap).
        A longer journey keeps its last touches (those closest to the conversion; for a
        non-converting path the most recent); the rest are dropped and counted as
        ``touches_dropped.journey_too_long``, the journeys cut as ``journeys_too_long`` and
        the longest of them listed in ``journeys_too_long_list`` of the reconciliation.
    channel_aliases
        Our channel -> the names the data also uses for it, e.g. ``{"linkedin": ["LinkedIn
        Ads", "li"]}`` (``[channels]`` in a config). Applied after every channel value is
        put in its one spelling (trimmed, whitespace folded, lower case: ``LinkedIn `` ->
        ``linkedin``), to touches and spend alike; the values renamed are in the manifest's
        reconciliation (``channel_values_renamed``).
    segment_aliases
        Account segments: the published segment -> your names of it, e.g. ``{"smb":
        ["Kleinkunden"], "enterprise": ["Schlüsselkunden"]}`` (a config's ``[economics]
        segment_aliases``), over the built-in names (``KMU``, ``Konzern``, ...). The lookback
        per segment gives such an account its published segment's window unless it names
        the segment itself, and the B2B stage reads the benchmark ranges so (README,
        "Segment names").
    exclude_touch_types
        Touches whose ``touch_type`` is one of these (compared trimmed and lower case) are
        left out of the journeys and counted as ``touches_dropped.excluded_touch_type`` in
        the reconciliation, e.g. ``["sales_call", "sales_email", "meeting"]`` for marketing
        attribution without the sales team's follow-ups (the SLA step still reads them from
        the touches file). Default: none. The touches need a ``touch_type`` column.
    allow_empty
        Accept a run that attributes no conversion. Without it the CLI stops such a run with
        exit code 3 and the reason (the stage names found, a did-you-mean against the
        conversion stage, the touches outside the lookback), and
        :meth:`AttributionResult.require_conversions` raises :class:`EmptyResultError`; the
        reason is in the manifest's notes either way.
    timezone
        The IANA time zone (``America/New_York``) that timestamps written without an offset
        are in; they are converted to UTC. Default ``None``: UTC. A HubSpot UI export writes
        the portal's local time without an offset, its API and engagement exports UTC with
        ``Z``; values with an offset (or ``Z``) keep it. Dates alone are midnight in that
        zone.
    timestamp_formats
        strftime patterns for timestamps and dates written as text, tried in order before
        ISO 8601 (which is always tried last). A list applies to every timestamp and date
        column; a mapping gives them per column: ``{"timestamp": [...]}`` (that column in
        every table), ``{"stages.timestamp": "%m/%d/%Y"}`` (one table's) or ``{"*": [...]}``
        (every column); the most specific key wins. E.g. ``["%m/%d/%Y %I:%M %p",
        "%m/%d/%Y"]`` for US exports ("2/21/2025 1:19 PM").
    decimal_comma
        Read the numbers written as text (spend ``amount``, a stage's ``value``, a touch's
        ``cost``, every number column) with a decimal comma, as a comma-decimal locale
        (German, French, ...) writes them: ``1.414,27`` is 1414.27, ``4.744`` is 4744,
        ``1,5`` is 1.5, as ``attribution import --decimal-comma`` reads an amount; a value
        of the other form (``1,414.27``) is an error naming its lines. Default ``False``: a
        decimal point, and in a ``;``-separated file a column of values such as ``4.744``
        (read either way) is an error whose hint names this option.
    write_to
        A database URI (``duckdb:///results.duckdb``, ``postgresql://user@host/db``): the
        command line also appends the run's channel credit, touch credit and economics to
        tables there, one transaction per run, the run id a column (README, "Nightly on
        your warehouse"). Never written into the manifest (it may hold a password).
    state
        A directory of incremental state (:func:`attribution.attribute_incremental`): the
        run reads only the rows after the last run's watermark and re-opens the journeys
        of the entities they touch; the first run with an empty directory is a full run
        that fills it.
    late_window
        Incremental runs: how late a row may arrive (its timestamp before the watermark of
        the previous run), e.g. ``"3d"``; default ``"0s"``. The run reads the rows after
        ``watermark - late_window``; rows it had already read are recognised and skipped.
    key
        The unit credited: ``"channel"`` (default), ``"campaign"`` or ``"channel/campaign"``
        (``linkedin/spring``; ``<channel>/(none)`` without a campaign), put in the touches'
        ``channel`` by the journeys stage, so outputs naming a channel name the unit (see
        :mod:`attribution.inputs._campaigns`).
    touch_credit_layout
        How ``touch_credit.parquet`` holds the credit of the run's models. ``"wide"``
        (default): one row per journey touch, the columns naming it (``conversion_id``,
        ``touch_id``, ``contact_id``, ``account_id``, ``channel``, ``timestamp``),
        ``conversion_value``, then one column ``credit:<model>`` per model (a touch's
        credited value is its credit x ``conversion_value``). ``"long"``: one row per touch
        and model (``model``, ``credit``, ``value``), the layout of ``touch_credit`` in
        memory; it repeats the touch's columns once per model (13 models: 13 times the
        rows, about 8x the CPU time to write). Only the file changes: in memory
        :attr:`AttributionResult.touch_credit` is the long layout and
        :attr:`AttributionResult.touch_credit_wide` the wide one, whichever is written.
    influence_layout
        How ``campaign_influence.parquet`` (touches with a campaign column) holds the
        models' shares. ``"wide"`` (default): one row per opportunity and campaign
        (``opportunity_id``, ``crm_opportunity``, ``campaign_id``, ``channel``,
        ``opportunity_amount``, ``conversions``), then one column ``credit_share:<model>``
        per model (``influence_percent`` = 100 x share, ``revenue_share`` = share x
        ``opportunity_amount``). ``"long"``: one row per opportunity, model and campaign
        with ``model``, ``credit_share``, ``influence_percent`` and ``revenue_share``, the
        layout of :attr:`AttributionResult.campaign_influence` in memory and of
        ``campaign_influence.csv`` (the CRM import file), whichever is written; with 13
        models it has 13x the rows (6.2M against 477k at 10M touches) and took about 6x the
        CPU time to build and write (README, "Campaign-level credit").
    decision_model
        The model the economics, the plan check and the report decide with (one of the
        run's); default: the survey benchmark's best, else the best against a truth file,
        else ``linear``.
    bootstrap
        Bootstrap draws (0: none, the default; at most :data:`MAX_BOOTSTRAP_DRAWS`). Each
        draw weighs every journey (every account at ``level="account"``, its conversions and
        non-converting path together) by a Poisson(1) count and refits every model of the
        run exactly on the reweighted journeys; the draws give 90% intervals (5th-95th
        percentile) of channel credit and of the unit economics, and the probability that a
        channel breaches the guardrail (README, "Uncertainty"). In-memory runs only.
    bootstrap_seed
        The seed of the draws (default 0): the same seed and data give the same draws.
    survey_min_proba
        The survey classifier's probability floor (default 0.5, in [0, 1]): an answer the
        classifier (``--survey-labels``) codes with a top-class probability below it stays
        ``other`` (unmatched, counted) instead of entering the survey benchmark with a guess
        (``#VALUE!`` or ``0`` coded word of mouth at 0.10, "saw an ad" LinkedIn at 0.30).
    survey_post_purchase_days
        A survey answer at most this many days after one of its contact's (or account's)
        conversions is about that conversion (a post-purchase or onboarding survey), else it
        joins the next conversion (default 30, a whole number in [0, 3650]; 0: always the
        next one unless at the same moment). ``join_rule`` in ``survey_coded.parquet`` says
        which rule joined each answer.
    currency_rates
        A CSV of ``currency,rate`` (the file ``attribution import --currency-rates`` takes:
        the value of one unit of each currency in the reporting currency, the one at rate
        1). Money columns (stages ``value``, spend ``amount``, touches ``cost``,
        subscriptions ``mrr`` / ``arr``) beside a ``currency`` column are converted by it,
        counted and said; without it, several currencies in a table are an error naming
        its lines (never summed as one). See :mod:`attribution.inputs._currency_column`.
    currency
        The currency the amounts are written in, an ISO 4217 code (``EUR``), for data with
        no currency column: a label for the report's money (``€600,000``), never a
        conversion. The run's reporting currency is the rates' currency at rate 1, else the
        data's one currency, else this, else USD; one that contradicts the rates or the
        data is an error naming both (:mod:`attribution._reporting_currency`).

    Raises
    ------
    ModelNotFoundError, ModelParameterError
        An unknown model or a bad model parameter.
    InputError
        An option out of its range, named in the message.

    Examples
    --------
    >>> from attribution import RunOptions
    >>> options = RunOptions(models=["linear", "markov:order=2"], lookback="30d")
    >>> [run.label for run in options.runs], options.window.days
    (['linear', 'markov(order=2)'], 30)
    >>> RunOptions(level="account").window.days  # the account-level default window
    180
    >>> RunOptions(level="acount")
    Traceback (most recent call last):
    ...
    attribution.exceptions.InputError: level must be 'contact' or 'account'; got 'acount'
    """

    # the order of the fields is that of the flags in ``attribution run --help``
    models: Sequence[ModelLike] | None = field(
        default=None,
        metadata=_flag(
            "--model",
            "-m",
            help="Model, e.g. linear or time_decay:half_life=3d "
            "(repeat for several; default: every registered model that fits the input)",
            kind="repeat",
        ),
    )
    level: Level = field(default="contact", metadata=_flag("--level", help="contact or account"))
    conversion_stage: str = field(
        default="closed_won",
        metadata=_flag("--conversion-stage", help="Stage counted as conversion"),
    )
    lookback: Duration | Mapping[str, Duration] | None = field(
        default=None,
        metadata=_flag(
            "--lookback",
            help="Journey window, e.g. 90d; or per account segment (needs --accounts), e.g. "
            "smb=90d,mid_market=180d,enterprise=365d,default=90d, or 'segments' for the "
            "defaults",
        ),
    )
    milestones: Mapping[str, str | Sequence[str]] | None = None
    stage_names: Mapping[str, str | Sequence[str]] | None = None
    columns: Mapping[str, Mapping[str, str]] | None = None
    channel_rules: str | Path | None = field(
        default=None,
        metadata=_flag("--channel-rules", help="Channel taxonomy rules", kind="path"),
    )
    select_markov_order: bool = field(
        default=False,
        metadata=_flag(
            "--select-order",
            help="Compare Markov orders 1-4 by held-out ROC AUC",
            kind="switch",
        ),
    )
    contact_scope: ContactScope = field(
        default="account",
        metadata=_flag(
            "--contact-scope", help="Account level: account, opportunity_roles or primary"
        ),
    )
    parallel_deals: ParallelDeals = field(
        default="earliest",
        metadata=_flag(
            "--parallel-deals",
            help="Deals of one entity open at once: earliest (a touch joins the earliest "
            "conversion at or after it) or share (a deal opened before the previous "
            "conversion also takes that one's touches)",
        ),
    )
    role_multipliers: Mapping[str, float] | None = field(
        default=None,
        metadata=_flag(
            "--role-multipliers",
            help="Account level: role=multiplier|... or 'default' "
            "(decision_maker 2, champion 1.5, user 0.5)",
            parse=parse_role_multipliers,
        ),
    )
    required_roles: Sequence[str] = field(
        default=DEFAULT_REQUIRED_ROLES,
        metadata=_flag(
            "--required-roles",
            help="Account level: roles a deal needs, '|'-separated",
            parse=lambda text: text.split("|"),
        ),
    )
    as_of: datetime | date | str | None = field(
        default=None,
        metadata=_flag(
            "--as-of",
            help="Account level: the time engagement is measured at (ISO 8601; a date alone is "
            "the end of that day; default: the latest timestamp not after the run's time)",
        ),
    )
    max_touches_per_journey: int | None = field(
        default=DEFAULT_MAX_TOUCHES_PER_JOURNEY,
        metadata=_flag(
            "--max-touches-per-journey",
            help="Touches one journey keeps: its last ones, the rest dropped and counted "
            f"(default {DEFAULT_MAX_TOUCHES_PER_JOURNEY:,}; 'none': no cap)",
        ),
    )
    channel_aliases: Mapping[str, str | Sequence[str]] | None = None
    segment_aliases: Mapping[str, str | Sequence[str]] | None = None
    exclude_touch_types: Sequence[str] = field(
        default=(),
        metadata=_flag(
            "--exclude-touch-types",
            help="Leave touches of these touch_type values out of the journeys, "
            "comma-separated, e.g. sales_call,sales_email,meeting (counted in the "
            "reconciliation)",
            parse=lambda text: [part for part in text.split(",") if part.strip()],
        ),
    )
    allow_empty: bool = field(
        default=False,
        metadata=_flag(
            "--allow-empty",
            help="Accept a run that attributes no conversion (else exit code 3, saying why)",
            kind="switch",
        ),
    )
    timestamp_formats: Sequence[str] | Mapping[str, str | Sequence[str]] | None = None
    timezone: str | None = field(
        default=None,
        metadata=_flag(
            "--timezone",
            help="IANA time zone of timestamps written without an offset, e.g. "
            "America/New_York for a HubSpot UI export (default: UTC); converted to UTC",
        ),
    )
    decimal_comma: bool = field(
        default=False,
        metadata=_flag(
            "--decimal-comma",
            help="Numbers written with a decimal comma (1.414,27 = 1414.27; 4.744 = 4744), as "
            "Excel writes them in a German or French locale; config: [formats] decimal_comma",
            kind="switch",
        ),
    )
    write_to: str | None = field(
        default=None,
        repr=False,  # a URI may hold a password
        metadata=_flag(
            "--write-to",
            help="Also append the credit and economics to this database, one transaction "
            "per run (duckdb:///file.duckdb or postgresql://user@host/db)",
        ),
    )
    state: str | Path | None = field(
        default=None,
        metadata=_flag(
            "--state",
            help="Incremental run: read only rows after the last run's watermark, keeping "
            "what the next run needs in this directory",
            kind="path",
        ),
    )
    late_window: Duration = field(
        default="0s",
        metadata=_flag(
            "--late-window",
            help="Incremental run: how late a row may arrive, e.g. 3d (default 0s)",
        ),
    )
    key: Key = field(
        default="channel",
        metadata=_flag(
            "--key", help="Unit credited: channel, campaign or channel/campaign (default channel)"
        ),
    )
    touch_credit_layout: TouchCreditLayout = field(
        default="wide",
        metadata=_flag(
            "--touch-credit-layout",
            help="touch_credit.parquet: wide (default: one row per touch, a credit:<model> "
            "column per model) or long (one row per touch and model)",
        ),
    )
    influence_layout: InfluenceLayout = field(
        default="wide",
        metadata=_flag(
            "--influence-layout",
            help="campaign_influence.parquet: wide (default: one row per opportunity and "
            "campaign, a credit_share:<model> column per model) or long (one row per "
            "opportunity, model and campaign; campaign_influence.csv is always long)",
        ),
    )
    decision_model: str | None = field(
        default=None,
        metadata=_flag(
            "--decision-model",
            help="The model the economics, the plan check and the report decide with (one of "
            "the run's; default: the best by survey agreement, else by truth MAE, else linear)",
        ),
    )
    bootstrap: int = field(
        default=0,
        metadata=_flag(
            "--bootstrap",
            help="Bootstrap draws for 90% intervals of credit and unit economics and the "
            f"probability of a guardrail breach (0: off; at most {MAX_BOOTSTRAP_DRAWS:,})",
            parse=_whole_number,
        ),
    )
    bootstrap_seed: int = field(
        default=0,
        metadata=_flag(
            "--bootstrap-seed", help="Seed of the bootstrap draws (default 0)", parse=_whole_number
        ),
    )
    survey_min_proba: float = field(
        default=0.5,
        metadata=_flag(
            "--survey-min-proba",
            help="Survey classifier (--survey-labels): answers it codes with a probability "
            "below this stay unmatched (default 0.5)",
            parse=_number,
        ),
    )
    survey_post_purchase_days: int = field(
        default=30,  # attribution.surveys._join.DEFAULT_POST_PURCHASE_DAYS
        metadata=_flag(
            "--survey-post-purchase-days",
            help="A survey answer at most this many days after a conversion of its contact or "
            "account is about that conversion, else the next one (default 30)",
            parse=_whole_number,
        ),
    )
    currency_rates: str | Path | None = field(
        default=None,
        metadata=_flag(
            "--currency-rates",
            help="A CSV of currency,rate (one unit in the reporting currency, which has rate "
            "1): money columns with a currency column are converted by it",
            kind="path",
        ),
    )
    currency: str | None = field(
        default=None,
        metadata=_flag(
            "--currency",
            help="The ISO 4217 code your amounts are written in (EUR), for data without a "
            "currency column: the report's money sign, no conversion (default: the rates' "
            "currency at rate 1, else the data's, else USD)",
        ),
    )
    _checked: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the order of the checks is that of the error a caller sees first
        models = self.models
        if isinstance(models, str) or (
            isinstance(models, tuple)
            and len(models) == 2
            and isinstance(models[0], str)
            and (models[1] is None or isinstance(models[1], Mapping))
        ):
            models = [cast(ModelLike, models)]  # one model given bare
        requests = tuple(default_models() if models is None else models)
        object.__setattr__(self, "models", requests)
        runs = resolve_all(requests)
        if self.currency_rates is not None:  # a bad rates file fails before any work
            from attribution.importers._currency import read_rates

            with _option("currency_rates"):
                read_rates(self.currency_rates)
        if self.currency is not None:  # a label of the amounts; never against the rates
            from attribution._reporting_currency import check_currency_code, decide_currency

            with _option("currency"):
                object.__setattr__(self, "currency", check_currency_code(self.currency))
            decide_currency(option=self.currency, rates_file=self.currency_rates, found={})
        with _option("level"):
            if self.level not in DEFAULT_LOOKBACK:
                raise InputError(f"level must be 'contact' or 'account'; got {self.level!r}")
        with _option("role_multipliers"):
            if self.level != "account" and self.role_multipliers is not None:
                raise InputError(
                    "role_multipliers need level='account' (a contact's journey has one "
                    "contact, so they would change nothing)"
                )
        with _option("contact_scope"):
            if self.contact_scope not in CONTACT_SCOPES:
                raise InputError(
                    f"contact_scope must be one of {', '.join(map(repr, CONTACT_SCOPES))}; "
                    f"got {self.contact_scope!r}"
                )
        with _option("parallel_deals"):
            if self.parallel_deals not in PARALLEL_DEALS:
                raise InputError(
                    f"parallel_deals must be one of {', '.join(map(repr, PARALLEL_DEALS))}; "
                    f"got {self.parallel_deals!r}"
                )
        for name in ("milestones", "stage_names", "columns", "role_multipliers"):
            value = getattr(self, name)
            with _option(name):
                if value is not None and not isinstance(value, Mapping):
                    raise InputError(f"{name} must be a mapping; got {type(value).__name__}")
            if value is not None:  # a private copy: the options cannot change under a run
                object.__setattr__(self, name, copy.deepcopy(dict(value)))
        with _option("columns"):
            check_columns(self.columns)
        with _option("role_multipliers"):
            multipliers = (
                check_role_multipliers(self.role_multipliers) if self.role_multipliers else None
            )
        with _option("required_roles"):
            required = check_required_roles(self.required_roles)
        with _option("as_of"):
            as_of = check_as_of(self.as_of)
            if as_of is not None and self.level != "account":
                raise InputError(
                    "as_of needs level='account' (it is when the account engagement is "
                    "measured)"
                )
        with _option("segment_aliases"):
            given_aliases = check_segment_aliases(self.segment_aliases or {})
        if self.segment_aliases is not None:
            object.__setattr__(self, "segment_aliases", given_aliases)
        with _option("lookback"):
            window, by_segment = check_lookback(
                self.lookback, DEFAULT_LOOKBACK[self.level], aliases=given_aliases
            )
        if isinstance(self.lookback, Mapping):
            object.__setattr__(self, "lookback", dict(self.lookback))
        with _option("conversion_stage"):
            if not isinstance(self.conversion_stage, str) or not self.conversion_stage:
                raise InputError(
                    f"conversion_stage must be a stage name; got {self.conversion_stage!r}"
                )
        # stage names the run is given, spelled as the data's stage values are compared
        stage = canonical_stage(self.conversion_stage, self.stage_names)
        object.__setattr__(self, "conversion_stage", stage)
        with _option("milestones"):
            object.__setattr__(self, "milestones", check_milestones(self.milestones,
                                                                    self.stage_names))
        with _option("max_touches_per_journey"):
            cap = check_max_touches(self.max_touches_per_journey)
        object.__setattr__(self, "max_touches_per_journey", cap)
        object.__setattr__(self, "required_roles", tuple(self.required_roles))
        with _option("channel_aliases"):
            aliases = check_channel_aliases(self.channel_aliases)
        if self.channel_aliases is not None:
            object.__setattr__(self, "channel_aliases", copy.deepcopy(dict(self.channel_aliases)))
        self._checked["aliases"] = aliases
        runs = with_aliases(runs, aliases)  # model parameters naming channels, as the data's
        with _option("exclude_touch_types"):
            excluded = check_touch_types(self.exclude_touch_types)
        object.__setattr__(self, "exclude_touch_types", excluded)
        for switch in ("allow_empty", "select_markov_order", "decimal_comma"):  # bools
            with _option(switch):
                if not isinstance(getattr(self, switch), bool):
                    raise InputError(
                        f"{switch} must be True or False; got {getattr(self, switch)!r}"
                    )
        with _option("timestamp_formats"):
            formats = check_timestamp_formats(self.timestamp_formats)
        with _option("timezone"):
            zone = check_timezone(self.timezone)
        # the zone travels with the formats to every reader of a timestamp column
        formats.pop(TIMEZONE_KEY, None)
        if zone is not None:
            formats[TIMEZONE_KEY] = (zone,)
        formats.pop(DECIMAL_COMMA_KEY, None)  # and the decimal comma (inputs/_numbers.py)
        if self.decimal_comma:
            formats[DECIMAL_COMMA_KEY] = ("true",)
        object.__setattr__(self, "timestamp_formats", formats or None)
        with _option("write_to"):
            if self.write_to is not None:
                _check_uri(self.write_to)
        with _option("state"):
            if self.state is not None and not isinstance(self.state, str | Path):
                raise InputError(f"state must be a directory path; got {self.state!r}")
        with _option("late_window"):
            late = parse_duration(self.late_window, name="late_window", allow_zero=True)
        self._checked["late"] = late
        with _option("key"):
            check_key(self.key)
        with _option("touch_credit_layout"):
            if self.touch_credit_layout not in TOUCH_CREDIT_LAYOUTS:
                raise InputError(
                    "touch_credit_layout must be one of "
                    f"{', '.join(map(repr, TOUCH_CREDIT_LAYOUTS))}; got "
                    f"{self.touch_credit_layout!r}"
                )
        with _option("influence_layout"):
            if self.influence_layout not in INFLUENCE_LAYOUTS:
                raise InputError(
                    "influence_layout must be one of "
                    f"{', '.join(map(repr, INFLUENCE_LAYOUTS))}; got {self.influence_layout!r}"
                )
        with _option("decision_model"):
            labels = [run.label for run in runs]
            if self.decision_model is not None and self.decision_model not in labels:
                raise InputError(
                    f"decision_model {self.decision_model!r} is not a model of this run; "
                    f"it has {labels}"
                )
        with _option("bootstrap"):
            _check_draws(self.bootstrap)
        with _option("bootstrap_seed"):
            seed = self.bootstrap_seed
            if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
                raise InputError(f"bootstrap_seed must be a whole number >= 0; got {seed!r}")
        with _option("survey_min_proba"):
            floor = self.survey_min_proba
            if (
                not isinstance(floor, int | float)
                or isinstance(floor, bool)
                or not 0 <= floor <= 1  # NaN fails too
            ):
                raise InputError(f"survey_min_proba must be a number in [0, 1]; got {floor!r}")
        object.__setattr__(self, "survey_min_proba", float(floor))
        with _option("survey_post_purchase_days"):
            from attribution.surveys._join import check_post_purchase_days

            try:
                check_post_purchase_days(
                    self.survey_post_purchase_days, "survey_post_purchase_days"
                )
            except ModelParameterError as exc:
                raise InputError(str(exc)) from None
        self._checked.update(
            runs=runs,
            window=window,
            segment_windows=by_segment,
            multipliers=multipliers,
            required=required,
            as_of=as_of,
        )

    # --- what the stages read ---------------------------------------------------------------

    @property
    def runs(self) -> list[ModelRun]:
        """The resolved models, in the order requested (labels are unique)."""
        return list(self._checked["runs"])

    @property
    def data_driven(self) -> list[str]:
        """Labels of the data-driven models (registry family ``"data"``): those fitted on a
        path table."""
        return [run.label for run in self.runs if run.spec.family == "data"]

    @property
    def aliases(self) -> dict[str, str]:
        """``channel_aliases`` checked: the data's spelling -> ours (both in the one
        spelling of channel names)."""
        if "aliases" not in self._checked:
            self._checked["aliases"] = check_channel_aliases(self.channel_aliases)
        return dict(self._checked["aliases"])

    @property
    def window(self) -> timedelta:
        """The journey window: ``lookback``, or the level's default; with a window per
        segment, that of an entity without a listed segment (``default``)."""
        window: timedelta = self._checked["window"]
        return window

    @property
    def late(self) -> timedelta:
        """``late_window`` as a duration."""
        if "late" not in self._checked:
            self._checked["late"] = parse_duration(
                self.late_window, name="late_window", allow_zero=True
            )
        late: timedelta = self._checked["late"]
        return late

    @property
    def segment_windows(self) -> dict[str, timedelta] | None:
        """The journey window of each account segment (the documented defaults updated by
        ``lookback``), or None for one window for every journey (:attr:`window`)."""
        found = self._checked.get("segment_windows")
        return dict(found) if found is not None else None

    @property
    def multipliers(self) -> dict[str, float] | None:
        """``role_multipliers`` checked and with normalised role names, or None."""
        if "multipliers" not in self._checked:
            self._checked["multipliers"] = (
                check_role_multipliers(self.role_multipliers) if self.role_multipliers else None
            )
        value = self._checked["multipliers"]
        return dict(value) if value is not None else None

    @property
    def required(self) -> tuple[str, ...]:
        """``required_roles`` normalised (as contact roles are) and de-duplicated."""
        if "required" not in self._checked:
            self._checked["required"] = check_required_roles(self.required_roles)
        return tuple(self._checked["required"])

    @property
    def as_of_time(self) -> datetime | None:
        """``as_of`` as an aware UTC datetime, or None (README, Account level)."""
        if "as_of" not in self._checked:
            self._checked["as_of"] = check_as_of(self.as_of)
        return cast("datetime | None", self._checked["as_of"])

    @property
    def all_milestones(self) -> dict[str, str | Sequence[str]]:
        """The milestone roles with their stage names: the defaults updated by ``milestones``."""
        return {**DEFAULT_MILESTONES, **(self.milestones or {})}

    @property
    def progress_stages(self) -> tuple[str, ...]:
        """The stages :func:`attribution.attribute` reports to its ``progress`` callback, in
        order (the executor calls it once more with ``"done"`` when it returns)."""
        runs = self.runs
        stages = ["load", "validate", "journeys"]
        if any(run.spec.family == "rule" for run in runs):
            stages.append("models:rule-based")
        stages += [f"model:{run.label}" for run in runs if run.spec.family == "data"]
        if self.select_markov_order:
            stages.append("markov order selection")
        stages.append("collect")
        if self.level == "account":
            stages.append("accounts")
        if self.bootstrap:
            stages.append("bootstrap")
        return tuple(stages)

    def table_formats(self, table: str) -> dict[str, tuple[str, ...]]:
        """Our timestamp / date column -> its strftime patterns, for one input table."""
        return formats_for(table, cast(Mapping[str, Sequence[str]], self.timestamp_formats))

    def table_columns(self, table: str) -> dict[str, str] | None:
        """The column mapping of one input table (``events`` falls back to ``touches``)."""
        columns = self.columns or {}
        if table == "events":
            return dict(columns.get("events") or columns.get("touches") or {}) or None
        found = columns.get(table)
        return dict(found) if found is not None else None

    # --- making options ---------------------------------------------------------------------

    def replace(self, **changes: Any) -> RunOptions:
        """A copy with ``changes`` applied, validated again."""
        _check_names(changes)
        values = {f.name: getattr(self, f.name) for f in _FIELDS}
        return RunOptions(**{**values, **changes})

    @classmethod
    def of(cls, options: RunOptions | None = None, /, **keywords: Any) -> RunOptions:
        """``options`` updated by ``keywords``, or new options from ``keywords`` alone: how
        every public function turns its arguments into one :class:`RunOptions`."""
        _check_names(keywords)
        if options is None:
            return cls(**keywords)
        if not isinstance(options, RunOptions):
            raise InputError(f"options must be a RunOptions; got {type(options).__name__}")
        return options.replace(**keywords) if keywords else options

    @classmethod
    def written(cls, values: Mapping[str, tuple[Any, str]]) -> RunOptions:
        """Options from values as a user wrote them: option name -> (value, where it was
        written, e.g. ``"--level"`` or ``"config 'run.toml': [run] level"``). A bad value is
        the error of the option (``InputError.option`` its name), its message led by where
        the value was written; how the command line and config files make options."""
        try:
            return cls.of(**{name: value for name, (value, _) in values.items()})
        except (InputError, ModelNotFoundError, ModelParameterError) as exc:
            name = exc.option if isinstance(exc, InputError) else "models"
            if name is not None and name in values:
                _written_at(exc, values[name][1])
            raise

    @staticmethod
    def names() -> tuple[str, ...]:
        """The option names, in the order of the class's fields."""
        return tuple(f.name for f in _FIELDS)

    def __getstate__(self) -> dict[str, Any]:
        # the resolved models travel as they are (a ModelSpec pickles by its name): the
        # process that unpickles the options (a Spark task) does not resolve them again
        return {**{f.name: getattr(self, f.name) for f in _FIELDS}, "_checked": self._checked}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)


_FIELDS = tuple(f for f in dataclasses.fields(RunOptions) if f.init)


@contextmanager
def _option(name: str) -> Iterator[None]:
    """Name the option at fault on the InputError its check raises (``exc.option``)."""
    try:
        yield
    except InputError as exc:
        exc.option = name
        raise


def check_columns(columns: Mapping[str, Any] | None) -> None:
    """``columns``: each key a table of :data:`~attribution.inputs._schema.SPECS` (as a
    config's ``[columns]``), mapping our column names (of that table; ``touches`` also
    those of the unified event log, which reads its mapping) to the data's: a typo is an
    error with a did-you-mean, not a mapping dropped in silence."""
    for table, mapping in (columns or {}).items():
        if table not in SPECS:
            raise InputError(
                f"columns: unknown table {table!r}; {did_you_mean(str(table), sorted(SPECS))}"
            )
        if not isinstance(mapping, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
        ):
            raise InputError(
                f"columns[{table!r}] must map our column names to the data's, e.g. "
                f"{{'timestamp': 'ts'}}; got {mapping!r}"
            )
        ours = mappable(table, SPECS["events" if table == "touches" else table].columns)
        for name in mapping:
            if name not in ours:  # the loader raised this class for it before this check
                raise ColumnNotFoundError(
                    f"columns[{table!r}]: unknown column {name!r} (the keys are our names, "
                    f"the values the data's); {did_you_mean(name, sorted(ours))}"
                )


def _check_draws(draws: object) -> None:
    """``bootstrap``: a whole number of draws in [0, MAX_BOOTSTRAP_DRAWS]."""
    if not isinstance(draws, int) or isinstance(draws, bool) or draws < 0:
        raise InputError(f"bootstrap must be a whole number of draws >= 0; got {draws!r}")
    if draws > MAX_BOOTSTRAP_DRAWS:
        raise InputError(
            f"bootstrap takes at most {MAX_BOOTSTRAP_DRAWS:,} draws (time and memory grow "
            f"with each draw; 1,000 is enough for 90% percentile intervals); got {draws:,}"
        )


def _check_uri(uri: object) -> None:
    """A database URI the library can write to (see :mod:`attribution.inputs._database`)."""
    from attribution.exceptions import ConfigError
    from attribution.inputs._database import database_kind

    if not isinstance(uri, str) or not uri.strip():
        raise InputError(f"write_to must be a database URI; got {uri!r}")
    try:
        database_kind(uri)
    except ConfigError as exc:
        raise InputError(str(exc)) from None


def _check_names(keywords: Iterable[str]) -> None:
    valid = [f.name for f in _FIELDS]
    for name in keywords:
        if name not in valid:
            raise TypeError(f"unknown run option '{name}'; {did_you_mean(name, valid)}")


def option_flags() -> tuple[tuple[str, OptionFlag], ...]:
    """(option name, :class:`OptionFlag`) of every run option that has a command-line flag,
    in the order of the fields."""
    return tuple((f.name, f.metadata["flag"]) for f in _FIELDS if "flag" in f.metadata)


def read_flags(values: Mapping[str, Any]) -> dict[str, tuple[Any, str]]:
    """The run options given on a command line, for :meth:`RunOptions.written`.

    ``values`` maps option names to what the command-line parser gave (text, a list of texts,
    a switch; ``None``, ``False`` or empty: not given). Returns option name -> (value, the
    flag that gave it), the text read by the option's ``parse``; a text it cannot read is an
    InputError naming the flag.
    """
    given: dict[str, tuple[Any, str]] = {}
    for name, flag in option_flags():
        value = values.get(name)
        if not value:
            continue
        where = flag.flags[0]
        if flag.parse is not None:
            with _option(name):
                try:
                    value = flag.parse(value)
                except InputError as exc:
                    _written_at(exc, where)
                    raise
        given[name] = (value, where)
    return given


def _written_at(exc: Exception, where: str) -> None:
    """Lead the message of ``exc`` by where the bad value was written."""
    exc.args = (f"{where}: {exc}", *exc.args[1:])
