"""B2B: accounts and buying committees, unit economics, retention, the funnel, the plan check.

The B2B stage of a run, after its attribution, is :func:`analyse` (``_analysis``; its inputs
and settings :class:`B2BInputs` in ``_analysis_inputs``): one copy for the command line and
the service, calling the modules below in a fixed order.

Accounts (``_accounts``: the account outputs of an account-level run, built from
``_engagement``, ``_committee``, ``_account_table``, ``_account_credit`` and ``_deals``); unit
economics by channel, segment, metro, region and month (``_economics``, with
``_economics_metrics``, ``_economics_slices`` and ``_economics_summary``); retention and NRR
from the subscriptions table (``_retention``; :func:`nrr` is the KPI the funnel lists); the
funnel (``_funnel``, with ``_funnel_stages`` and ``_funnel_velocity``) and its weekly alerts
(``_alerts``, with ``_alerts_settings``, ``_alerts_series``, ``_alerts_weekly`` and
``_alerts_stats``); campaign credit, CAC and ROI and the CRM influence export
(``_campaigns``); the plan check (``_plan``, with ``_plan_file``, ``_plan_options``,
``_plan_flags``, ``_plan_reallocation``, ``_plan_verdict`` and ``_plan_risk``) and the
readout of the channels a plan tests (``_plan_tests``); the sales and marketing SLAs
(``_sla``, with ``_sla_metrics`` and ``_sla_targets``); credit calibrated with lift tests and
what to test next (``_calibration``, with ``_calibration_credit`` and ``_experiments_next``);
helpers the modules share (``_shared``).
"""

# The account names first: the engine imports them, and the modules below import from the
# engine package, so a partly imported room must already hold them.
from attribution.b2b._accounts import (
    ACCOUNT_CREDIT_SCHEMA,
    ACCOUNTS_SCHEMA,
    COLD_Z,
    DEFAULT_REQUIRED_ROLES,
    ENGAGEMENT_HALF_LIFE,
    HOT_Z,
    PIPELINE_SCHEMA,
    AccountOutputs,
    account_outputs,
    check_required_roles,
    engagement_z_expr,
    pipeline_table,
    tier_expr,
)
from attribution.b2b._alerts import AlertSettings
from attribution.b2b._campaigns import CampaignEconomics, campaign_economics, campaign_influence
from attribution.b2b._economics import UnitEconomics, unit_economics
from attribution.b2b._funnel import Funnel, funnel
from attribution.b2b._plan import Plan, PlanCheck, check_plan, read_plan
from attribution.b2b._plan_tests import ChannelTests, channel_tests
from attribution.b2b._retention import Retention, nrr, retention
from attribution.b2b._sla import SLA, SLA_DEFAULTS, sla

__all__ = [
    "ACCOUNTS_SCHEMA",
    "ACCOUNT_CREDIT_SCHEMA",
    "COLD_Z",
    "DEFAULT_REQUIRED_ROLES",
    "ENGAGEMENT_HALF_LIFE",
    "HOT_Z",
    "PIPELINE_SCHEMA",
    "AccountOutputs",
    "AlertSettings",
    "Funnel",
    "Plan",
    "PlanCheck",
    "Retention",
    "SLA",
    "SLA_DEFAULTS",
    "UnitEconomics",
    "CampaignEconomics",
    "ChannelTests",
    "campaign_economics",
    "campaign_influence",
    "channel_tests",
    "account_outputs",
    "check_plan",
    "check_required_roles",
    "engagement_z_expr",
    "funnel",
    "nrr",
    "pipeline_table",
    "read_plan",
    "retention",
    "sla",
    "tier_expr",
    "unit_economics",
]
