"""The input contract's table specs: each table's canonical columns and their kinds, the
required columns and the groups of which one is needed (:mod:`attribution.inputs._schema`
reads and checks a table against its spec)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

STRING, FLOAT, TIMESTAMP, DATE, INT = "string", "float", "timestamp", "date", "int"


@dataclass(frozen=True)
class TableSpec:
    """The contract of one input table (product.md, input contract)."""

    name: str
    columns: Mapping[str, str]  # canonical column -> kind
    required: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()  # each group: at least one column present
    not_null: tuple[str, ...] = ()
    hints: Mapping[str, str] = field(default_factory=dict)
    #: rows equal in every column are one row: the repeats are dropped (``Table.duplicates``)
    unique_rows: bool = False


TOUCHES = TableSpec(
    "touches",
    {
        "touch_id": STRING,
        "timestamp": TIMESTAMP,
        "channel": STRING,
        "contact_id": STRING,
        "account_id": STRING,
        "campaign": STRING,
        "touch_type": STRING,
        "cost": FLOAT,
        "currency": STRING,  # the cost's currency (attribution.inputs._currency_column)
        "utm_source": STRING,
        "utm_medium": STRING,
        "owner_team": STRING,  # the sales team of a sales touch: SLAs per team
        # a touch without UTM tags takes its channel from its referrer's host; the page's
        # own URL tells the user's own site (attribution.inputs._referrers)
        "referrer": STRING,
        "page_url": STRING,
    },
    required=("timestamp",),
    one_of=(("contact_id", "account_id"), ("channel", "utm_source", "utm_medium", "referrer")),
    not_null=("timestamp",),
    hints={"channel": "give a 'channel' column, or 'utm_source' / 'utm_medium' (and "
           "'referrer') to derive it"},
)
STAGES = TableSpec(
    "stages",
    {
        "timestamp": TIMESTAMP,
        "stage": STRING,
        "contact_id": STRING,
        "account_id": STRING,
        "opportunity_id": STRING,
        "value": FLOAT,
        "currency": STRING,  # the value's currency (attribution.inputs._currency_column)
        "lead_source": STRING,  # the CRM's own source of the deal: crm_sourced pipeline
        "owner_team": STRING,  # the team owning the lead at this stage: SLAs per team
    },
    required=("timestamp", "stage"),
    one_of=(("contact_id", "account_id"),),
    not_null=("timestamp", "stage"),
)
CONTACTS = TableSpec(
    "contacts",
    {"contact_id": STRING, "account_id": STRING, "role": STRING},
    required=("contact_id", "account_id"),
    not_null=("contact_id",),
)
#: Spend: ``amount`` per channel and month or day; optional ``impressions`` and ``clicks``
#: (what the ad platform reports for the same rows) give the channel's CPM, CPC and CTR.
SPEND = TableSpec(
    "spend",
    {"channel": STRING, "date": DATE, "month": DATE, "amount": FLOAT, "campaign": STRING,
     "impressions": FLOAT, "clicks": FLOAT, "currency": STRING},  # fmt: skip
    required=("channel", "amount"),
    one_of=(("date", "month"),),
    not_null=("channel", "amount"),
    unique_rows=True,  # an export appended twice must not double a channel's spend
)
#: Accounts: one row per account, with what a RevOps lead slices by (segment, metro...);
#: checked further by :func:`attribution.inputs._account_inputs.load_accounts`.
ACCOUNTS = TableSpec(
    "accounts",
    {
        "account_id": STRING,
        "segment": STRING,
        "metro": STRING,
        "region": STRING,
        "industry": STRING,
        "employees": FLOAT,
    },
    required=("account_id",),
    not_null=("account_id",),
)
#: Recurring revenue by account and month (``mrr``, or ``arr`` divided by 12); checked
#: further by :func:`attribution.inputs._account_inputs.load_subscriptions`.
SUBSCRIPTIONS = TableSpec(
    "subscriptions",
    {"account_id": STRING, "month": DATE, "mrr": FLOAT, "arr": FLOAT, "currency": STRING},
    required=("account_id", "month"),
    one_of=(("mrr", "arr"),),
    not_null=("account_id", "month"),
    hints={"mrr": "give the monthly recurring revenue as 'mrr' (USD) or the annual as 'arr'"},
)
SURVEYS = TableSpec(
    "surveys",
    {
        "response": STRING,
        "channel": STRING,
        "contact_id": STRING,
        "account_id": STRING,
        "opportunity_id": STRING,
        "timestamp": TIMESTAMP,
    },
    one_of=(("response", "channel"), ("contact_id", "account_id", "opportunity_id")),
)
PATHS = TableSpec(
    "paths",
    {"path": STRING, "conversions": FLOAT, "nulls": FLOAT, "value": FLOAT},
    required=("path", "conversions"),
    not_null=("path", "conversions"),
)
#: Lift tests (account holdouts, geo and time-split tests): what each measured a channel to
#: add in a window; checked further by :func:`attribution.inputs._experiments.load_experiments`.
EXPERIMENTS = TableSpec(
    "experiments",
    {
        "channel": STRING,
        "start": DATE,
        "end": DATE,
        "incremental_conversions": FLOAT,
        "incremental_pipeline": FLOAT,
        "standard_error": FLOAT,
        "test_type": STRING,
        "currency": STRING,  # a pipeline test's currency (attribution.inputs._currency_column)
    },
    required=("channel", "start", "end", "standard_error", "test_type"),
    one_of=(("incremental_conversions", "incremental_pipeline"),),
    not_null=("channel", "start", "end", "standard_error", "test_type"),
    hints={
        "incremental_conversions": "give what the test measured as 'incremental_conversions' "
        "(conversions) or 'incremental_pipeline' (USD)"
    },
)
#: The unified single log: touch rows and stage rows told apart by ``event_type``.
EVENTS = TableSpec(
    "events",
    {**TOUCHES.columns, **STAGES.columns, "event_type": STRING},
    required=("timestamp", "event_type"),
    one_of=TOUCHES.one_of,  # the touch rows need a channel, as in the touches table
    not_null=("timestamp", "event_type"),
    hints=TOUCHES.hints,
)
_ALL = (TOUCHES, STAGES, CONTACTS, SPEND, ACCOUNTS, SUBSCRIPTIONS, SURVEYS, PATHS, EVENTS,
        EXPERIMENTS)  # fmt: skip
SPECS = {s.name: s for s in _ALL}
