"""The world of the synthetic data: its channels, stages and every parameter of how it is drawn.

A logistics-software SaaS company selling a TMS to shippers (see :mod:`attribution.datasets.
_synth` for the model). Everything here is a constant: the block geometry, the random-stream
tags, the firmographics, the buying-committee roles, per channel its share of touches, its lift
on the conversion logit (the ground truth), its position in the journey and its budget, the
campaigns and touch types, the funnel's stage rates, the sales follow-up and the subscriptions'
churn and expansion; then the lookup tables derived from them once, at import.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: Bumped whenever the same seed would produce different rows.
GENERATOR_VERSION = 3

#: Channels that appear as touches, in this order everywhere (truth, exposures...).
TRACKED_CHANNELS: tuple[str, ...] = (
    "linkedin",
    "google_ads",
    "partner_referral",
    "g2_capterra",
    "direct_mail",
    "industry_publications",
    "organic_search",
    "email",
    "webinar",
    "events",
    "direct",
    "outbound",
)
#: The channel of the sales team's follow-up touches after an MQL (calls, emails, meetings).
#: Not a tracked marketing channel: the follow-up is a consequence of the MQL and causes nothing
#: in this world, so its true incremental share is 0 (see ``_truth``).
SALES_CHANNEL = "sales"
#: Touch types of the sales follow-up touches (the sales touches of the SLA contract).
SALES_TYPES: tuple[str, ...] = ("sales_call", "sales_email", "meeting")
#: Owner teams of SDR / sales touches (null on marketing touches): SDRs by region, AEs by segment.
OWNER_TEAMS: tuple[str, ...] = (
    "sdr_east",
    "sdr_central",
    "sdr_west",
    "ae_smb",
    "ae_mid_market",
    "ae_enterprise",
)
#: Channels that drive conversions but are never tracked; they show up only in surveys.
DARK_CHANNELS: tuple[str, ...] = ("podcast", "word_of_mouth", "community", "freight_broker")
#: CRM lifecycle stages in funnel order.
STAGES: tuple[str, ...] = ("lead", "mql", "sql", "opportunity", "closed_won", "closed_lost")

TABLES: tuple[str, ...] = (
    "accounts",
    "contacts",
    "touches",
    "stages",
    "spend",
    "surveys",
    "subscriptions",
)

# --- block geometry ------------------------------------------------------------------------
TOUCHES_PER_CONTACT = 6
CONTACTS_PER_ACCOUNT = 3
BLOCK_ACCOUNTS = 2_000
BLOCK_CONTACTS = BLOCK_ACCOUNTS * CONTACTS_PER_ACCOUNT
BLOCK_TOUCHES = BLOCK_CONTACTS * TOUCHES_PER_CONTACT
ORPHAN_SHARE = 0.01  # contacts that belong to no account

# Random streams: (seed, tag, index) -> independent generators.
TAG_BLOCK = 0
TAG_SHUFFLE = 1
TAG_SPEND = 2
CALIBRATION_ENTROPY = (20250101, 99)  # fixed: calibration depends on conversion_rate only
CALIBRATION_BLOCKS = 8

US_PER_DAY = 86_400_000_000

# --- the world --------------------------------------------------------------------------------
INDUSTRIES = (
    ("manufacturing", 0.22),
    ("retail", 0.14),
    ("3PL", 0.10),
    ("food & beverage", 0.12),
    ("automotive", 0.08),
    ("pharma", 0.05),
    ("chemicals", 0.06),
    ("consumer goods", 0.09),
    ("building materials", 0.05),
    ("e-commerce", 0.06),
    ("agriculture", 0.03),
)
METROS = (
    ("Chicago", 0.12),
    ("Dallas", 0.10),
    ("Atlanta", 0.09),
    ("Los Angeles", 0.10),
    ("Memphis", 0.06),
    ("Newark", 0.06),
    ("Houston", 0.08),
    ("Columbus", 0.05),
    ("Indianapolis", 0.05),
    ("Louisville", 0.04),
    ("Kansas City", 0.04),
    ("Savannah", 0.03),
    ("Seattle", 0.05),
    ("Charlotte", 0.05),
    ("Phoenix", 0.04),
    ("Detroit", 0.04),
)
#: Sales regions (the SDR teams are organised by them): each metro's region, in METROS order.
REGIONS = ("east", "central", "west")
METRO_REGION = np.array([1, 1, 0, 2, 1, 0, 1, 0, 0, 0, 1, 0, 2, 0, 2, 0])
NAME_FIRST = (
    "Summit", "Prairie", "Great Lakes", "Blue Ridge", "Gulf Coast", "Pioneer", "Keystone",
    "Harbor", "Redwood", "Ironclad", "Silver Creek", "Lone Star", "Cascade", "Heartland",
    "Atlas", "Meridian", "Granite", "Sierra", "Evergreen", "Liberty", "Northstar", "Coastal",
    "Riverbend", "Frontier", "Pacific", "Midwest", "Bluegrass", "Magnolia", "Copper", "Tri-State",
)  # fmt: skip
NAME_CORE = (
    "Foods", "Manufacturing", "Industries", "Distribution", "Supply", "Brands", "Components",
    "Plastics", "Beverage", "Pharma", "Auto Parts", "Logistics", "Paper", "Steel", "Home Goods",
    "Apparel", "Farms", "Chemicals", "Packaging", "Electronics",
)  # fmt: skip
NAME_SUFFIX = ("Inc.", "LLC", "Co.", "Group", "Corp.", "Holdings", "& Sons", "Partners", "", "")

SEGMENTS = ("smb", "mid_market", "enterprise")
SEGMENT_CUM = np.array([0.72, 0.94])  # smb 72%, mid-market 22%, enterprise 6%
SEGMENT_CONTACT_WEIGHT = np.array([0.7, 1.4, 2.6])  # bigger accounts, more contacts
SEGMENT_TOUCH_WEIGHT = np.array([0.6, 1.05, 1.4])
# On the conversion logit: small companies decide faster and on fewer touches.
SEGMENT_EFFECT = np.array([0.9, 0.0, -0.5])
# Deals are subscriptions: the opportunity's value is its ARR = 12 x MRR, MRR lognormal by
# segment and rounded to $5 (SMB ~$100 a month, mid-market ~$450, enterprise ~$1,800).
DEAL_MRR_MEDIAN = np.array([98.0, 450.0, 1_800.0])
DEAL_SIGMA = np.array([0.30, 0.35, 0.40])

ROLES = ("decision_maker", "champion", "influencer", "user", "finance", "unknown")
ROLE_P = np.array([0.12, 0.15, 0.20, 0.28, 0.08, 0.17])
ROLE_EFFECT = np.array([0.30, 0.40, 0.05, -0.25, 0.0, -0.35])  # logit scale
TITLES: dict[str, tuple[str | None, ...]] = {
    "decision_maker": (
        "VP of Logistics", "Director of Supply Chain", "COO", "Head of Transportation",
        "VP Operations", "Director of Distribution",
    ),
    "champion": (
        "Transportation Manager", "Logistics Manager", "Senior Manager, Transportation",
        "Shipping Manager", "Supply Chain Manager",
    ),
    "influencer": (
        "Supply Chain Analyst", "IT Director", "Procurement Manager", "Operations Analyst",
        "Solutions Architect",
    ),
    "user": (
        "Shipping Coordinator", "Dispatcher", "Warehouse Supervisor", "Logistics Coordinator",
        "Freight Specialist", "Traffic Clerk",
    ),
    "finance": ("Controller", "CFO", "Freight Audit Manager", "Accounts Payable Manager"),
    "unknown": (None, None, None, "", "Manager", "Operations"),
}  # fmt: skip

# Per tracked channel: share of touches (before contact-level dispersion), lift on the
# conversion logit (the ground truth), position coefficient (negative: early in the journey),
# and annual budget per account in dollars (the sample's 5,000 accounts spend ~$796K).
# The last channel, outbound, is the SDR team's prospecting (cold emails and calls before any
# lead); its budget is the outbound program's data, tools and sequencing agency.
CHANNEL_BASE_P = np.array(
    [0.21, 0.15, 0.04, 0.05, 0.03, 0.05, 0.14, 0.15, 0.04, 0.03, 0.09, 0.05]
)
CHANNEL_LIFT = np.array([0.35, 0.45, 1.30, 1.00, 0.50, 0.25, 0.10, 0.20, 0.60, 0.70, 0.05, 0.30])
CHANNEL_POS = np.array([-0.6, 0.2, -0.5, -0.3, -0.4, -1.0, 0.3, 0.5, 0.2, -0.2, 1.2, -0.8])
CHANNEL_BUDGET = np.array(
    [48.0, 20.0, 6.0, 9.0, 8.0, 5.0, 0.0, 1.2, 2.0, 6.0, 0.0, 30.0]
)
# How much each segment's contacts lean to each channel (multiplies their preferences): SMB
# buyers search and read reviews, enterprise buyers meet at events and get prospected.
SEGMENT_CHANNEL_WEIGHT = np.array(
    [
        [0.6, 1.3, 1.2, 1.4, 0.6, 0.9, 1.1, 1.0, 0.9, 0.6, 1.0, 0.3],  # smb
        [1.1, 0.9, 0.9, 0.8, 1.2, 1.0, 1.0, 1.0, 1.1, 1.2, 1.0, 1.5],  # mid_market
        [1.5, 0.6, 0.7, 0.4, 1.8, 1.2, 0.8, 1.0, 1.2, 1.8, 1.0, 2.0],  # enterprise
    ]
)
# Position in the journey (0 first touch .. 1 last) in bins; effect at each bin's centre.
POSITION_BINS = 8
POSITION_EFFECT = np.exp(
    CHANNEL_POS[:, None] * ((np.arange(POSITION_BINS) + 0.5) / POSITION_BINS - 0.5)[None, :]
)
CHANNEL_PREF_SIGMA = 1.0  # log-sd of a contact's channel preferences (higher: pickier)
INTENT_CHANNELS = np.array([6, 10])  # organic_search, direct
INTENT_COEF = 1.0
MEDIA_SHARE = 0.85  # share of spend booked on campaigns; the rest (fees, tools) has none
PAID_PER_TOUCH = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1], dtype=bool)

DARK_RATE = np.array([0.08, 0.10, 0.06, 0.05])
DARK_LIFT = np.array([0.60, 0.90, 0.50, 1.10])

# (channel, campaign, utm_source, utm_medium, weight within channel)
CAMPAIGNS: tuple[tuple[str, str, str, str, float], ...] = (
    ("linkedin", "li_tms_demo_request", "linkedin", "paid_social", 0.35),
    ("linkedin", "li_thought_leadership", "linkedin", "paid_social", 0.25),
    ("linkedin", "li_retargeting", "linkedin", "paid_social", 0.20),
    ("linkedin", "li_abm_enterprise", "linkedin", "paid_social", 0.20),
    ("google_ads", "gads_brand", "google", "cpc", 0.30),
    ("google_ads", "gads_tms_software", "google", "cpc", 0.40),
    ("google_ads", "gads_freight_audit", "google", "cpc", 0.15),
    ("google_ads", "gads_competitor", "google", "cpc", 0.15),
    ("partner_referral", "partner_erp_integrations", "partner", "referral", 0.45),
    ("partner_referral", "partner_3pl_alliance", "partner", "referral", 0.35),
    ("partner_referral", "partner_consultants", "partner", "referral", 0.20),
    ("g2_capterra", "g2_category_tms", "g2", "review", 0.45),
    ("g2_capterra", "g2_buyer_intent", "g2", "review", 0.20),
    ("g2_capterra", "capterra_ppc", "capterra", "review", 0.35),
    ("direct_mail", "dm_enterprise_box", "sendoso", "direct_mail", 0.40),
    ("direct_mail", "dm_postcard_peak_season", "postcard", "print", 0.60),
    ("industry_publications", "pub_freightwaves_sponsored", "freightwaves", "native", 0.40),
    ("industry_publications", "pub_scdive_newsletter", "supplychaindive", "publication", 0.35),
    ("industry_publications", "pub_dcvelocity_native", "dcvelocity", "native", 0.25),
    ("organic_search", "(organic)", "google", "organic", 0.85),
    ("organic_search", "(organic)", "bing", "organic", 0.15),
    ("email", "nurture_welcome", "hubspot", "email", 0.30),
    ("email", "nurture_mid_funnel", "hubspot", "email", 0.30),
    ("email", "newsletter_monthly", "newsletter", "email", 0.40),
    ("webinar", "webinar_rate_volatility", "on24", "webinar", 0.40),
    ("webinar", "webinar_tms_roi", "on24", "webinar", 0.35),
    ("webinar", "webinar_peak_season", "zoom", "webinar", 0.25),
    ("events", "event_manifest", "manifest", "event", 0.35),
    ("events", "event_modex", "modex", "event", 0.25),
    ("events", "event_tpm", "tpm", "event", 0.20),
    ("events", "event_cscmp_edge", "cscmp", "conference", 0.20),
    ("direct", "(direct)", "(direct)", "(none)", 1.0),
    ("outbound", "sdr_outbound_midmarket", "outreach", "outbound", 0.50),
    ("outbound", "sdr_outbound_smb", "outreach", "outbound", 0.30),
    ("outbound", "sdr_outbound_enterprise", "apollo", "outbound", 0.20),
)
#: The sales follow-up touches' campaign and UTM pair (no spend: the team is a non-media cost).
SALES_CAMPAIGN = ("(sales)", "crm", "sales")  # fmt: skip

# (channel, touch_type, probability within channel, cost multiplier)
TOUCH_TYPES: tuple[tuple[str, str, float, float], ...] = (
    ("linkedin", "view", 0.60, 0.15),
    ("linkedin", "click", 0.35, 2.2),
    ("linkedin", "form_fill", 0.05, 2.2),
    ("google_ads", "click", 0.90, 1.0),
    ("google_ads", "form_fill", 0.10, 1.0),
    ("partner_referral", "referral", 0.70, 1.3),
    ("partner_referral", "partner_intro", 0.30, 0.3),
    ("g2_capterra", "view", 0.50, 0.3),
    ("g2_capterra", "click", 0.50, 1.7),
    ("direct_mail", "mail", 0.80, 1.2),
    ("direct_mail", "click", 0.20, 0.2),
    ("industry_publications", "view", 0.60, 0.5),
    ("industry_publications", "click", 0.40, 1.75),
    ("organic_search", "click", 0.80, 0.0),
    ("organic_search", "form_fill", 0.20, 0.0),
    ("email", "open", 0.70, 0.0),
    ("email", "click", 0.30, 0.0),
    ("webinar", "form_fill", 0.40, 0.0),
    ("webinar", "attend", 0.60, 0.0),
    ("events", "attend", 0.70, 0.0),
    ("events", "booth_visit", 0.30, 0.0),
    ("direct", "visit", 0.85, 0.0),
    ("direct", "form_fill", 0.15, 0.0),
    ("outbound", "prospecting_email", 0.75, 0.8),
    ("outbound", "prospecting_call", 0.25, 1.6),
)
# The touch that creates a lead becomes a form fill on these channels.
LEAD_FORM_P = 0.6
FORM_CHANNELS = np.array([1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 0], dtype=bool)

# Funnel: share of contacts with a lead event, and how the log of (won rate / lead rate) is
# split over the four steps lead->mql, mql->sql, sql->opportunity, opportunity->won.
# The split gives, at the sample's conversion_rate of 0.035, lead->mql 65%, mql->sql 55%,
# sql->opportunity 60% (so mql->opportunity 33%) and opportunity->won 19%, below the published
# 20-30%: the funnel's biggest gap.
LEAD_RATE = 0.85
STEP_SPLIT = np.array([0.1350, 0.1874, 0.1603, 0.5173])
OPEN_OPPORTUNITY_P = 0.20  # opportunities neither won nor lost at export time
SLACK_DAYS = 12.0  # room kept after a journey for stage events and survey answers
#: Contacts whose first touch is a partner referral are pre-qualified: of those reaching MQL,
#: this share reaches the opportunity stage (and SQL; P(closed_won) is unchanged).
PARTNER_MQL_TO_OPP = 0.65

# Sales follow-up after an MQL: an SDR of the account's region calls or emails first (speed to
# lead: lognormal hours, median by team; the west team is short-staffed), tries again when
# there is no answer, books a discovery meeting for the SQL; an AE of the account's segment
# runs the opportunity (demo meeting, calls, emails) until the close.
SDR_MEDIAN_HOURS = np.array([2.0, 4.0, 20.0])  # sdr_east, sdr_central, sdr_west
SDR_SIGMA = 1.5
NO_FOLLOW_UP_P = 0.05  # MQLs that never reach SQL and are never followed up
SDR_RETRIES = 0.6  # mean extra SDR attempts (Poisson) on an MQL that goes no further
SDR_RETRY_DAYS = 21.0
AE_TOUCHES = 0.8  # mean extra AE touches (Poisson) on an opportunity, beside the demo
MAX_SALES_TOUCHES = 8  # per contact (bounds the per-block identifier range)
SALES_TYPE_P = np.array([0.45, 0.55])  # an SDR attempt: sales_call, sales_email
AE_TYPE_P = np.array([0.30, 0.45, 0.25])  # an AE touch: sales_call, sales_email, meeting

# Subscriptions: every won deal is a subscription line from its close month; lines churn and
# expand month by month. SMB customers are on monthly contracts (churn any month); mid-market
# and enterprise sign annual contracts (churn only at an anniversary).
MONTHLY_CHURN = np.array([0.040, 0.0, 0.0])  # smb: 1 - 0.96**12 = 39% a year
RENEWAL_CHURN = np.array([0.0, 0.14, 0.07])  # mid-market, enterprise: at each anniversary
EXPANSION_P = np.array([0.170, 0.085, 0.055])  # a month's chance of an upsell
EXPANSION_GAIN = np.array([[0.10, 0.40], [0.05, 0.35], [0.05, 0.30]])  # MRR x (1 + U(lo, hi))
CONTRACTION_P = np.array([0.010, 0.006, 0.004])
CONTRACTION_CUT = (0.10, 0.35)  # MRR x (1 - U(lo, hi))
#: The customer base before the window: an account is already a customer with this chance by
#: segment, from a month uniformly in the BASE_MONTHS before the window's first month.
BASE_P = np.array([0.08, 0.14, 0.22])
BASE_MONTHS = 24


def stage_targets(conversion_rate: float) -> np.ndarray:
    """Marginal share of contacts reaching lead, mql, sql, opportunity, closed_won."""
    log_ratio = math.log(conversion_rate / LEAD_RATE)
    cumulative = np.concatenate([[0.0], np.cumsum(STEP_SPLIT * log_ratio)])
    targets: np.ndarray = LEAD_RATE * np.exp(cumulative)
    return targets


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, via ``tanh`` (no overflow for large ``|x|``)."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


# --- grouped lookup tables -------------------------------------------------------------------
def pick_rows(rng: np.random.Generator, group: np.ndarray, cum: np.ndarray) -> np.ndarray:
    """Draw a row of a grouped table for each group number in ``group`` (see grouped_table)."""
    u = group + rng.random(group.size) * (1.0 - 1e-12)
    return np.minimum(np.searchsorted(cum, u, side="right"), cum.size - 1)


def grouped_table(groups: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """Cumulative weights, normalised within each group and offset by the group number.

    Rows must be grouped contiguously in group order; group ``g`` then spans exactly
    ``(g, g + 1]``, which :func:`pick_rows` relies on.
    """
    g = np.asarray(groups)
    w = np.asarray(weights, dtype=float)
    if np.any(np.diff(g) < 0) or np.any(np.diff(np.unique(g)) != 1) or g[0] != 0:
        raise AssertionError("table rows must be grouped by channel, in channel order")
    cum = np.empty(w.size)
    for k in np.unique(g):  # a dozen groups, once at import
        rows = np.flatnonzero(g == k)
        within = np.cumsum(w[rows]) / w[rows].sum()
        within[-1] = 1.0
        cum[rows] = k + within
    return cum


CH_INDEX = {c: i for i, c in enumerate(TRACKED_CHANNELS)}
CAMPAIGN_GROUP = np.array([CH_INDEX[c[0]] for c in CAMPAIGNS])
CAMPAIGN_CUM = grouped_table(CAMPAIGN_GROUP, [c[4] for c in CAMPAIGNS])
TYPE_GROUP = np.array([CH_INDEX[t[0]] for t in TOUCH_TYPES])
TYPE_CUM = grouped_table(TYPE_GROUP, [t[2] for t in TOUCH_TYPES])
TYPE_NAMES = (*dict.fromkeys(t[1] for t in TOUCH_TYPES), *SALES_TYPES)
SALES_TYPE_CODE = np.array([TYPE_NAMES.index(t) for t in SALES_TYPES])
TYPE_CODE = np.array([TYPE_NAMES.index(t[1]) for t in TOUCH_TYPES])
FORM_FILL = TYPE_NAMES.index("form_fill")
TITLE_LIST: tuple[str | None, ...] = tuple(t for r in ROLES for t in TITLES[r])
TITLE_LEN = np.array([len(TITLES[r]) for r in ROLES])
TITLE_OFF = np.concatenate([[0], np.cumsum(TITLE_LEN)[:-1]])
