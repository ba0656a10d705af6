"""Request and response bodies (pydantic), as published at ``/openapi.json`` (and ``/docs``
with ``ATTRIBUTION_DOCS=true``).

Journeys are ``TypedDict``s so that a validated body is already the plain data that
:func:`attribution.score_journeys` takes, with no model-to-dict copy per touch.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, model_validator
from typing_extensions import TypedDict

from attribution.inputs import (
    END_OF_DAY,
    MAX_AMOUNT,
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    warehouse_iso,
)

from ..core.errors import CLEAN_TEXT

_EXAMPLE = "e.g. 2025-01-31T09:00:00Z"
_ISO_HINT = f"must be an ISO 8601 timestamp string, {_EXAMPLE}"
_SECONDS = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _iso_text(value: Any) -> Any:
    # JSON has no datetime type: a timestamp is ISO 8601 text, never a number of seconds,
    # not even one sent as text ("1700000000", which pydantic would read as Unix time)
    if value is None:  # a CRM record without the date (Apex serialises it as null)
        raise ValueError(f"is missing (null) and required: send an ISO 8601 timestamp "
                         f"string, {_EXAMPLE}")
    if not isinstance(value, str | datetime) or (
            isinstance(value, str) and _SECONDS.fullmatch(value)):
        raise ValueError(f"{_ISO_HINT}; a number (seconds or milliseconds since the epoch) "
                         "is not accepted")
    return warehouse_iso(value) if isinstance(value, str) else value


Timestamp = Annotated[datetime, BeforeValidator(_iso_text)]
_DATE_ONLY = re.compile(r"\s*\d{4}-\d{2}-\d{2}\s*")


def _conversion_text(value: Any) -> Any:
    # a conversion sent as a date alone (Salesforce's CloseDate) is the end of that day, as
    # the library reads it: the day's touches come before it
    value = _iso_text(value)
    if isinstance(value, str) and _DATE_ONLY.fullmatch(value):
        return f"{value.strip()}T{END_OF_DAY.isoformat()}"
    return value


ConversionTimestamp = Annotated[datetime, BeforeValidator(_conversion_text)]
# ids and names: no control character (NUL, tab, newline, ...), not blank
# the library's limits of an input cell (attribution.inputs), one set for files and requests
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS, pattern=CLEAN_TEXT)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS, pattern=CLEAN_TEXT)]
Stage = Annotated[str, Field(min_length=1, max_length=64, pattern=CLEAN_TEXT)]
Amount = Annotated[float, Strict(), Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False)]
RunIdField = Annotated[str, Field(min_length=1, max_length=128,
                                  pattern=r"^[A-Za-z0-9][A-Za-z0-9_=.-]*$")]
SnapshotIdField = RunIdField  # snapshot ids are made like run ids
FilePath = Annotated[str, Field(min_length=1, max_length=1024,
                                description="relative to the data directory")]


class Conversion(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    id: Annotated[Id, Field(description="your id (e.g. the opportunity id); echoed back")]
    timestamp: Annotated[ConversionTimestamp, Field(
        description="ISO 8601; naive = UTC; a date alone is the end of that day "
                    f"({END_OF_DAY.isoformat()})")]
    value: NotRequired[Annotated[Amount | None, Field(description="deal amount")]]
    stage: NotRequired[Annotated[Stage | None, Field(
        description="the deal's stage, default (omitted or null) closed_won (a won deal: its "
                    "last touch is the "
                    "closed-won touch); one of lead, mql, sql, opportunity, closed_won, "
                    "closed_lost, or a name the snapshot's run maps in stage_names (case and "
                    "spaces folded); any other is a 422")]]


class Touch(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    touch_id: NotRequired[Annotated[Id | None, Field(description="default touches[<index>]")]]
    timestamp: Timestamp
    channel: Annotated[Name, Field(
        description="as the snapshot's run read its channels: trimmed, lower case, then its "
                    "channel_aliases (LinkedIn is the run's paid_social when it mapped it "
                    "so); a missing-value token (N/A, -, null, ...) is a 422")]
    contact_id: NotRequired[Id | None]
    role: NotRequired[Annotated[Name | None, Field(
        description="buying-committee role; weighs rule-based credit when the snapshot's "
                    "run is an account-level run with role_multipliers")]]
    campaign: NotRequired[Annotated[Name | None, Field(
        description="the touch's campaign: the unit credited when the snapshot's run has "
                    "key campaign or channel/campaign (without one: <channel>/(none))")]]


class Milestones(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    lead: NotRequired[Timestamp | None]
    opportunity: NotRequired[Timestamp | None]


class Journey(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    conversion: Conversion
    touches: Annotated[list[Touch], Field(description="exactly the touches to credit, "
                                                      "at or before the conversion")]
    milestones: NotRequired[Milestones | None]


class ModelWithParams(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    name: Name
    params: NotRequired[dict[str, Any]]


ModelRequest = Annotated[
    Name | ModelWithParams,
    Field(description="a registry name ('linear', 'time_decay:half_life=3d') or "
                      "{'name': ..., 'params': {...}}; see GET /v1/models"),
]


class AttributeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "models": ["linear", {"name": "time_decay", "params": {"half_life": "14d"}}],
        "journeys": [{
            "conversion": {"id": "opp-42", "timestamp": "2025-03-01T12:00:00Z",
                           "value": 48000, "stage": "closed_won"},
            "touches": [
                {"touch_id": "t1", "timestamp": "2025-01-05T09:00:00Z", "channel": "linkedin",
                 "contact_id": "c1"},
                {"touch_id": "t2", "timestamp": "2025-02-10T15:30:00Z", "channel": "webinar",
                 "contact_id": "c2"},
            ],
            "milestones": {"lead": "2025-01-06T00:00:00Z"},
        }],
    }]})

    models: Annotated[list[ModelRequest], Field(min_length=1, max_length=32)]
    journeys: Annotated[list[Journey], Field(min_length=1)]
    snapshot: SnapshotIdField | None = Field(
        None, description="published model snapshot that data-driven models are fitted on; "
                          "default the current one (GET /v1/models/snapshots)")

    @model_validator(mode="before")
    @classmethod
    def _no_run_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and "run_id" in data:
            raise ValueError(
                "'run_id' is not accepted: data-driven models are fitted on a published "
                'snapshot; publish the run (POST /v1/models/snapshots {"run_id": ...}) and '
                "name the snapshot in 'snapshot', or leave it out for the current one")
        return data


class TouchCreditRow(BaseModel):
    conversion_id: str
    touch_id: str
    campaign: str | None = Field(description="the touch's campaign as sent (null when not "
                                             "sent): a campaign's credit is a sum of rows")
    contact_id: str | None
    account_id: str | None
    channel: str
    timestamp: datetime
    model: str
    credit: float
    value: float


class ChannelCreditRow(BaseModel):
    model: str
    channel: str
    conversions: float
    value: float
    share: float


class AttributeResponse(BaseModel):
    models: list[str] = Field(description="model labels, as in the rows' model column")
    snapshot: str | None = Field(description="snapshot the data-driven models were fitted on "
                                             "(null without data-driven models)")
    run_id: str | None = Field(description="the run that snapshot was published from")
    unseen_channels: list[str] = Field(
        description="channels sent that the snapshot never saw; data-driven models give them "
                    "no credit of their own (see the README)")
    notes: list[str] = Field(
        description="what the snapshot's run did that a journey sent cannot carry, and "
                    "requested models the run ran with other parameters (see the README)")
    unattributed: list[str] = Field(
        description="conversion ids without a touch to credit: none sent, or all dropped")
    touches_dropped: dict[str, int] = Field(
        description="touches sent and not credited, by reason, as a batch run counts them: "
                    "exact_duplicate (equal in every field to an earlier touch of its "
                    "journey); with a snapshot, outside_lookback and journey_too_long under "
                    "its run's lookback and max_touches_per_journey")
    touch_credit: list[TouchCreditRow]
    channel_credit: list[ChannelCreditRow]


class ParamInfo(BaseModel):
    name: str
    kind: str
    default: Any
    doc: str
    choices: list[str] | None = None
    range: list[float | None] | None = None


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "run_id": "20250131T120000Z-1a2b3c4d"}]})

    run_id: Annotated[RunIdField, Field(description="a succeeded run in the runs directory")]


class RunSummary(BaseModel):
    created_at: str | None = None
    parameters: dict[str, Any]
    models: list[str | None]


class SnapshotInfo(BaseModel):
    snapshot_id: str
    run_id: str
    published_at: str
    channels: list[str] = Field(description="every channel the snapshot saw")
    conversions: float
    paths: int = Field(description="distinct paths in its path table")
    run: RunSummary
    current: bool


class SnapshotsResponse(BaseModel):
    current: str | None = Field(description="the snapshot used when a request names none")
    snapshots: list[SnapshotInfo] = Field(description="newest first")
    warnings: list[str] = Field(default_factory=list, description=(
        "why current is null although snapshots are listed: the store's pointer to the "
        "current one is damaged (scoring with data-driven models answers 503 until a "
        "publication repairs it)"))


class ModelInfo(BaseModel):
    name: str
    family: Literal["rule", "data"]
    summary: str
    needs_timestamps: bool
    needs_milestones: bool
    params: list[ParamInfo]


class ModelsResponse(BaseModel):
    models: list[ModelInfo]


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "touches": "touches.parquet", "stages": "stages.parquet",
        "contacts": "contacts.parquet", "models": ["linear", "w_shaped", "markov"],
    }, {
        "touches": "touches.parquet", "stages": "stages.parquet",
        "contacts": "contacts.parquet", "spend": "spend.parquet",
        "accounts": "accounts.parquet", "surveys": "surveys.parquet",
        "plan": "plan.toml", "economics": {"gross_margin": 0.8}, "sla": True,
    }]})

    touches: FilePath | None = None
    stages: FilePath | None = None
    contacts: FilePath | None = None
    events: FilePath | None = Field(None, description="unified log instead of touches + stages")
    models: Annotated[list[ModelRequest] | None, Field(
        None, min_length=1, max_length=32,
        description="default: every registered model except custom")]
    level: Literal["contact", "account"] = "contact"
    conversion_stage: Stage = "closed_won"
    accounts: FilePath | None = Field(
        None, description="accounts table (account_id, segment): for a lookback per segment")
    lookback: Annotated[
        Annotated[str, Field(max_length=200)]
        | Annotated[dict[str, Annotated[str, Field(max_length=32)]], Field(max_length=32)]
        | None,
        Field(None, description="e.g. 90d; or per account segment (needs accounts), e.g. "
              "{\"smb\": \"90d\", \"enterprise\": \"365d\", \"default\": \"90d\"} or "
              "'smb=90d,enterprise=365d'; 'segments' for the defaults")]
    max_touches_per_journey: Annotated[int | str | None, Field(
        None, description="touches one journey keeps, its last ones (default 5000; 'none': "
        "no cap); the rest are dropped and counted (touches_dropped.journey_too_long)")]
    allow_empty: bool = Field(
        False, description="a run that attributes no conversion succeeds (empty) instead of "
        "failing with error type 'empty_result' and the reason")
    # the other run options (attribution.RunOptions, as a config's [run] keys); absent: the
    # library's default. Not taken: write_to, state and late_window (server-side state)
    decision_model: Name | None = Field(
        None, description="the model the economics, the plan check and the report decide "
        "with (one of the run's); default: the survey benchmark's best, else by truth, else "
        "linear")
    columns: Annotated[dict[Name, Annotated[dict[Name, Name], Field(max_length=64)]] | None,
                       Field(None, max_length=16, description="per table, our column -> "
                             "yours, e.g. {\"touches\": {\"timestamp\": \"event_time\"}}")]
    stage_names: Annotated[dict[Name, Name | Annotated[list[Name], Field(max_length=32)]]
                           | None, Field(None, max_length=32, description="our stage -> "
                                         "yours, e.g. {\"closed_won\": \"Closed Won\"}")]
    milestones: Annotated[dict[Name, Name | Annotated[list[Name], Field(max_length=32)]]
                          | None, Field(None, max_length=8)]
    timestamp_formats: Annotated[
        Annotated[list[Name], Field(max_length=16)]
        | Annotated[dict[Name, Name | Annotated[list[Name], Field(max_length=16)]],
                    Field(max_length=64)] | None,
        Field(None, description="strftime patterns for dates written as text, tried before "
              "ISO 8601; a list, or per column ({\"stages.timestamp\": \"%m/%d/%Y\"})")]
    channel_aliases: Annotated[dict[Name, Name | Annotated[list[Name], Field(max_length=64)]]
                               | None, Field(None, max_length=256)]
    segment_aliases: Annotated[dict[Name, Name | Annotated[list[Name], Field(max_length=64)]]
                               | None, Field(None, max_length=16, description="published "
                                             "segment -> your names of it, e.g. {\"smb\": "
                                             "[\"KMU\"]}: the lookback per segment and the "
                                             "benchmark ranges (economics' segment_aliases "
                                             "gives it too)")]
    channel_rules: FilePath | None = Field(None, description="channel taxonomy rules (TOML)")
    currency_rates: FilePath | None = Field(
        None, description="currency,rate CSV: money beside a currency column converted")
    currency: Name | None = Field(
        None, description="ISO 4217 code the amounts are written in (EUR), for data without a "
        "currency column: the report's money sign, no conversion (default: the rates' "
        "currency at rate 1, else the data's, else USD)")
    exclude_touch_types: Annotated[list[Name] | None, Field(None, max_length=64)]
    select_markov_order: bool | None = None
    contact_scope: Literal["account", "opportunity_roles", "primary"] | None = None
    parallel_deals: Literal["earliest", "share"] | None = Field(
        None, description="a deal opened while another deal of its entity was open: earliest "
        "(default; a touch joins the earliest conversion at or after it) or share (it also "
        "takes the earlier deal's touches, credited in each deal)")
    role_multipliers: Annotated[dict[Name, float] | None, Field(None, max_length=32)]
    required_roles: Annotated[list[Name] | None, Field(None, max_length=32)]
    timezone: Name | None = Field(
        None, description="IANA time zone (America/New_York) of timestamps written without an "
        "offset; default UTC")
    decimal_comma: bool | None = Field(
        None, description="numbers written with a decimal comma (1.414,27 = 1414.27, 4.744 = "
        "4744), as a comma-decimal locale's Excel writes them; default false")
    as_of: Name | None = Field(
        None, description="account level: the time engagement is measured at (ISO 8601; a "
        "date alone is the end of that day; default: the latest timestamp not after now)")
    key: Literal["channel", "campaign", "channel/campaign"] | None = None
    touch_credit_layout: Literal["wide", "long"] | None = None
    influence_layout: Literal["wide", "long"] | None = None
    bootstrap: int | None = Field(None, description="bootstrap draws (0-1,000)")
    bootstrap_seed: int | None = None
    survey_min_proba: float | None = Field(
        None, description="survey classifier's probability floor (0-1, default 0.5): answers "
        "it codes less surely stay unmatched")
    survey_post_purchase_days: int | None = Field(
        None, description="a survey answer at most this many days after a conversion is about "
        "it, else the next conversion (0-3650, default 30)")
    # the B2B inputs (files under the data directory, as touches and stages) and settings,
    # the same as the command line's: attribution.B2BInputs
    spend: FilePath | None = Field(
        None, description="spend table (channel, month, amount): unit economics, the funnel "
        "and its weekly alerts, the plan check")
    subscriptions: FilePath | None = Field(
        None, description="subscriptions (account_id, month, mrr or arr): retention and NRR")
    surveys: FilePath | None = Field(
        None, description="survey answers: the survey benchmark and the decision model")
    survey_labels: FilePath | None = Field(
        None, description="labelled answers (response, channel) for a survey classifier")
    truth: FilePath | None = Field(None, description="truth.json of synthetic data")
    experiments: FilePath | None = Field(None, description="lift tests: calibrated credit")
    plan: FilePath | None = Field(
        None, description="plan TOML: the plan check (needs spend, and touches + stages)")
    benchmarks: FilePath | None = Field(
        None, description="your benchmark table (CSV), over the shipped ranges")
    targets: Annotated[dict[Name, Any] | None, Field(
        None, max_length=64, description="your targets over the benchmark table, as a "
        "config's [targets]")]
    economics: Annotated[dict[Name, Any] | None, Field(
        None, max_length=32, description="unit economics settings, as a config's [economics] "
        "(gross_margin, annual_churn, costs, guardrail_limit...)")]
    alerts: Annotated[dict[Name, Any] | None, Field(
        None, max_length=32, description="weekly alert settings, as a config's [alerts]")]
    sla: Annotated[bool | dict[Name, Any], Field(
        False, description="measure the SLAs: true (defaults) or settings, as a config's "
        "[sla]")]
    influence_csv: bool = Field(False, description="also write campaign_influence.csv")

    @model_validator(mode="after")
    def _inputs(self) -> RunRequest:
        if self.events is None and (self.touches is None or self.stages is None):
            raise ValueError("give 'touches' and 'stages', or 'events'")
        if self.events is not None and (self.touches is not None or self.stages is not None):
            raise ValueError("give either 'events' or 'touches' and 'stages', not both")
        return self


class Progress(BaseModel):
    stage: str
    completed: int | None = None
    total: int | None = None
    fraction: float


class RunError(BaseModel):
    type: str
    message: str
    field: str | None = None


class RunStatus(BaseModel):
    run_id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    progress: Progress | None = None
    request: dict[str, Any] | None = None
    manifest: dict[str, Any] | None = Field(None, description="when succeeded")
    error: RunError | None = Field(None, description="when failed; on a succeeded run whose "
                                   "directory was removed since, type 'gone'")
    request_id: str | None = Field(None, description="the X-Request-ID of the request that "
                                   "started it, also in the run's lines of the server log")
    write_back: dict[str, Any] | None = Field(
        None, description="a run written by `attribution run --write-to`: the database "
        "(redacted), run_id, status (committed, failed, unknown, not_attempted, pending: "
        "killed while writing) and, once committed, the rows per table; a run whose status "
        "is not committed is not in the database")
    snapshots: list[str] = Field(
        default_factory=list, description="ids of the model snapshots published from this "
        "run, newest first (GET /v1/models/snapshots describes them); [] when never published")
    current: bool = Field(
        False, description="the current snapshot (the one scoring uses when a request names "
        "none) was published from this run")


class RunListQuery(BaseModel):
    """The query of GET /v1/runs (an unknown parameter is a 422)."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["queued", "running", "succeeded", "failed"] | None = Field(
        None, description="only the runs of this status (succeeded: those to publish)")
    limit: int = Field(100, ge=1, le=1000, description="at most this many runs")


class RunList(BaseModel):
    runs: list[RunStatus] = Field(description="newest first; without manifest and request")


class ChannelCreditResponse(BaseModel):
    run_id: str
    model: str | None
    rows: list[ChannelCreditRow]


class Health(BaseModel):
    status: Literal["ok"]
    snapshot: str | None = Field(
        None, description="/readyz: the current model snapshot data-driven scoring uses; absent "
        "when none is published")
    notes: list[str] | None = Field(
        None, description="/readyz: what the service answers in part, e.g. rule-based scoring "
        "only while no model snapshot is published")
    warnings: list[str] | None = Field(
        None, description="what works only in part, e.g. batch runs without a data directory "
        "(scoring still works); absent when nothing is wrong")


class ErrorBody(BaseModel):
    type: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error statuses a route can return."""
    return {code: {"model": ErrorResponse} for code in codes}


def errors_json(*codes: int) -> dict[int | str, dict[str, Any]]:
    """:func:`errors` for a route whose own responses are not JSON (the run's HTML report):
    its errors are still JSON, documented as such (FastAPI would give them the route's media
    type)."""
    schema = {"$ref": "#/components/schemas/ErrorResponse"}
    return {code: {"content": {"application/json": {"schema": schema}},
                   "description": "Error"} for code in codes}
