"""Account-level outputs of a run (b2b.md, "Account-level attribution").

Computed by :func:`attribute` when ``level="account"`` and stored on the result:

``accounts`` (``accounts.parquet``), one row per account
    Every account seen in the contacts table, the touches or the stage events.
    ``contacts`` (known contacts), ``contacts_engaged`` (contacts with at least one touch in
    the input), ``roles_engaged`` (their buying-committee roles, ``unknown`` left out) against
    the ``required_roles`` (``required_roles_covered``, ``coverage`` as ``"3 of 4"``,
    ``missing_roles``); ``touches`` and ``last_touch_at``; the engagement score and tier (below);
    the run's conversions of the account (``conversions``, ``conversions_attributed``,
    ``conversion_value``, ``opportunity_ids``).

``account_credit`` (``account_credit.parquet``), tidy long form
    Per account, conversion (opportunity) and model, the credit and value summed by
    ``dimension`` = ``channel``, ``contact`` or ``role``; ``key`` is the channel, the contact
    id or the role. Within one (conversion, model, dimension) the credit sums to 1. For the
    data-driven models this is their per-touch split (models.md), whose channel sums differ
    from their standard channel totals in ``channel_credit``.

``pipeline`` (``pipeline.parquet``), sourced vs influenced by channel (and CRM-sourced)
    Over the run's conversions (deals): ``sourced`` = the channel of the journey's first touch
    (``(no touches)`` for a deal without touches), one channel per deal, so it sums to 100%;
    ``influenced`` = every channel with a journey touch at or before the opportunity was
    created, each counted with the full deal value, so it does **not** sum to 100%
    (``sums_to_total`` and ``note`` say so on every row). The creation time
    (``opportunity_created_at``) is the first opportunity-milestone event with the deal's
    ``opportunity_id``, else the account's ``opportunity`` milestone of the journey, else the
    conversion time. ``pipeline`` is the opportunity amount (value on the opportunity event of
    the same ``opportunity_id``, else the conversion's value); ``revenue`` the won amount (the
    conversion's value when the run converts on a closed-won stage, else the closed-won event
    of the same ``opportunity_id``, else 0). Run with ``conversion_stage="opportunity"`` for
    all created pipeline, open and lost deals included; with ``closed_won`` (default) it
    covers won deals. When stage events carry the CRM's own ``lead_source`` (the importers
    write Opportunity.LeadSource / HubSpot's Original Source there), ``crm_sourced`` is each
    deal's source by the CRM (its earliest non-blank ``lead_source``; ``(not set)`` for a
    deal without one), one per deal, so it sums to 100%; its ``channel`` holds the CRM's
    values, which need not be channel names.

Per-deal columns added to ``conversions``: ``contacts_in_journey``, ``deal_contacts`` (the
contacts named on the deal's own conversion events: an import's contact roles),
``roles_in_journey``,
``required_roles_covered``, ``coverage``, ``sourced_channel``, ``crm_source`` (the CRM's
lead source, null without one), ``opportunity_created_at``, ``influencing_channels``,
``pipeline_value``, ``revenue``.

**Engagement.** The reference time ``R`` (the as-of time) is the ``as_of`` option when given,
else the latest timestamp in the data (touches and stage events) not after the run's own
(wall-clock) time, so a rerun on the same data gives the same scores, and a touch dated in the
future (a scheduled meeting, a mistyped year) cannot move every account's window: touches
after ``R`` weigh nothing, and are counted and named (:class:`EngagementClock`). A touch of age
``a = R - t`` weighs ``w(touch_type) * 2 ** (-a / 30 days)`` (:data:`DEFAULT_TOUCH_WEIGHTS`;
1 without ``touch_type``); ``engagement_30d`` / ``_60d`` / ``_90d`` sum it over the touches of
the last 30 / 60 / 90 days and ``engagement_score`` is the 90-day sum. ``engagement_z`` is
the z-score of ``log1p(engagement_score)`` over the run's accounts (population standard
deviation; 0 when all are equal): scores are counts with a long tail, and on raw scores every
account without a recent touch would sit near the mean. Tier: ``hot`` when z >= 1, ``cold``
when z <= -0.5 or the score is 0, ``warm`` otherwise.

Everything is group-bys and joins over the input and the run's frames; no per-account Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from attribution.b2b._account_credit import ACCOUNT_CREDIT_SCHEMA, account_credit
from attribution.b2b._account_table import ACCOUNTS_SCHEMA, account_table
from attribution.b2b._committee import DEFAULT_REQUIRED_ROLES, check_required_roles
from attribution.b2b._deals import (
    NO_TOUCH,
    NOTES,
    PIPELINE_SCHEMA,
    deal_scope,
    deal_table,
    pipeline_table,
)
from attribution.b2b._engagement import (
    COLD_Z,
    DEFAULT_TOUCH_WEIGHTS,
    ENGAGEMENT_HALF_LIFE,
    ENGAGEMENT_WINDOWS_DAYS,
    HOT_Z,
    EngagementClock,
    clock_part,
    engagement_clock,
    engagement_z_expr,
    tier_expr,
)
from attribution.journeys._contacts import attach_accounts, contact_roles

#: the former name of :func:`pipeline_table` (the partitioned executor imports it)
_pipeline = pipeline_table

__all__ = [
    "ACCOUNTS_SCHEMA",
    "ACCOUNT_CREDIT_SCHEMA",
    "COLD_Z",
    "DEFAULT_REQUIRED_ROLES",
    "DEFAULT_TOUCH_WEIGHTS",
    "ENGAGEMENT_HALF_LIFE",
    "ENGAGEMENT_WINDOWS_DAYS",
    "HOT_Z",
    "NOTES",
    "NO_TOUCH",
    "PIPELINE_SCHEMA",
    "AccountOutputs",
    "account_outputs",
    "check_required_roles",
    "engagement_z_expr",
    "pipeline_table",
    "tier_expr",
]


@dataclass(frozen=True)
class AccountOutputs:
    """What :func:`account_outputs` returns (see the module docstring for the columns)."""

    accounts: pl.DataFrame
    account_credit: pl.DataFrame
    pipeline: pl.DataFrame
    deals: pl.DataFrame
    clock: EngagementClock

    @property
    def reference_time(self) -> datetime | None:
        return self.clock.reference


def account_outputs(
    *,
    touches: pl.DataFrame,
    stages: pl.DataFrame,
    contacts: pl.DataFrame | None,
    journey_touches: pl.DataFrame,
    conversions: pl.DataFrame,
    touch_credit: pl.DataFrame,
    milestones: Mapping[str, Sequence[str]],
    conversion_stage: str,
    required_roles: Sequence[str] = DEFAULT_REQUIRED_ROLES,
    clock: EngagementClock | None = None,
    as_of: datetime | None = None,
    now: datetime | None = None,
    touch_weights: Mapping[str, float] = DEFAULT_TOUCH_WEIGHTS,
) -> AccountOutputs:
    """Build the account view, per-deal credit and sourced vs influenced pipeline.

    ``touches`` / ``stages`` / ``contacts`` are the validated inputs of the run (stage names
    already mapped); ``journey_touches`` and ``conversions`` come from the account-level
    journeys and ``touch_credit`` is the run's, every model. ``clock``: the run-wide
    engagement clock (a partitioned run's); else it is made here from ``as_of`` or ``now``
    (default: the current UTC time).
    """
    required = check_required_roles(required_roles)
    roles = contact_roles(contacts)
    stages = attach_accounts(stages, contacts, "stages")
    if clock is None:
        cutoff = as_of or now or datetime.now(UTC)
        clock = engagement_clock([clock_part(touches, stages, cutoff)], as_of=as_of, cutoff=cutoff)
    deals = deal_table(journey_touches, conversions, stages, milestones, conversion_stage, required)
    return AccountOutputs(
        accounts=account_table(
            touches, stages, contacts, conversions, roles, required, clock.reference, touch_weights
        ),
        account_credit=account_credit(touch_credit, conversions, roles),
        pipeline=pipeline_table(
            conversions.join(deals, on="conversion_id", how="left"),
            deal_scope(conversion_stage, milestones),
        ),
        deals=deals,
        clock=clock,
    )
