"""Seeded synthetic B2B data with a known ground truth.

The world: a logistics-software SaaS company selling a TMS to shippers. Accounts
(shippers) have contacts with buying-committee roles; contacts are touched by marketing
channels over weeks; some move through the CRM funnel (lead -> mql -> sql -> opportunity ->
closed_won | closed_lost); the company spends a monthly budget per channel; buyers answer
"How did you hear about us?" in free text.

How a contact converts is known exactly: ``logit P(closed_won) = b_won + role effect +
intent_coef * intent + sum of lift_c over the tracked channels c the contact was exposed to
+ sum of lift_d over the untracked ("dark funnel") channels d it was exposed to``. Intent
also makes ``direct`` and ``organic_search`` touches more likely, so those channels look
good in observational data while adding little; ``partner_referral`` and ``g2_capterra``
are rare but strongly incremental. ``truth`` holds each channel's incremental share.

Data are generated in independent **blocks** of a fixed size (36,000 touches, 2,000
accounts, 6,000 contacts), each seeded from ``(seed, block index)``; identifiers are
numbered from fixed block offsets. The rows therefore do not depend on how blocks are
grouped into chunks for writing: :func:`write_synthetic` with any ``chunk_touches`` and
:func:`synthesize` produce the same set of rows, and exactly ``n_touches`` touches.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = [
    "DARK_CHANNELS",
    "GENERATOR_VERSION",
    "STAGES",
    "TRACKED_CHANNELS",
    "SyntheticData",
    "synthesize",
    "write_synthetic",
]

#: Bumped whenever the same seed would produce different rows.
GENERATOR_VERSION = 1

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
)
#: Channels that drive conversions but are never tracked; they show up only in surveys.
DARK_CHANNELS: tuple[str, ...] = ("podcast", "word_of_mouth", "community", "freight_broker")
#: CRM lifecycle stages in funnel order.
STAGES: tuple[str, ...] = ("lead", "mql", "sql", "opportunity", "closed_won", "closed_lost")

TABLES: tuple[str, ...] = ("accounts", "contacts", "touches", "stages", "spend", "surveys")

# --- block geometry ------------------------------------------------------------------------
_TOUCHES_PER_CONTACT = 6
_CONTACTS_PER_ACCOUNT = 3
_BLOCK_ACCOUNTS = 2_000
_BLOCK_CONTACTS = _BLOCK_ACCOUNTS * _CONTACTS_PER_ACCOUNT
_BLOCK_TOUCHES = _BLOCK_CONTACTS * _TOUCHES_PER_CONTACT
_ORPHAN_SHARE = 0.01  # contacts that belong to no account

# Random streams: (seed, tag, index) -> independent generators.
_TAG_BLOCK = 0
_TAG_SHUFFLE = 1
_TAG_SPEND = 2
_CALIBRATION_ENTROPY = (20250101, 99)  # fixed: calibration depends on conversion_rate only
_CALIBRATION_BLOCKS = 8

_US_PER_DAY = 86_400_000_000

# --- the world --------------------------------------------------------------------------------
_INDUSTRIES = (
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
_METROS = (
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
_NAME_FIRST = (
    "Summit", "Prairie", "Great Lakes", "Blue Ridge", "Gulf Coast", "Pioneer", "Keystone",
    "Harbor", "Redwood", "Ironclad", "Silver Creek", "Lone Star", "Cascade", "Heartland",
    "Atlas", "Meridian", "Granite", "Sierra", "Evergreen", "Liberty", "Northstar", "Coastal",
    "Riverbend", "Frontier", "Pacific", "Midwest", "Bluegrass", "Magnolia", "Copper", "Tri-State",
)  # fmt: skip
_NAME_CORE = (
    "Foods", "Manufacturing", "Industries", "Distribution", "Supply", "Brands", "Components",
    "Plastics", "Beverage", "Pharma", "Auto Parts", "Logistics", "Paper", "Steel", "Home Goods",
    "Apparel", "Farms", "Chemicals", "Packaging", "Electronics",
)  # fmt: skip
_NAME_SUFFIX = ("Inc.", "LLC", "Co.", "Group", "Corp.", "Holdings", "& Sons", "Partners", "", "")

_SEGMENTS = ("smb", "mid_market", "enterprise")
_SEGMENT_CUM = np.array([0.55, 0.90])  # smb 55%, mid-market 35%, enterprise 10%
_SEGMENT_CONTACT_WEIGHT = np.array([0.7, 1.2, 2.2])  # bigger accounts, more contacts
_SEGMENT_TOUCH_WEIGHT = np.array([0.9, 1.05, 1.3])
_DEAL_MEDIAN = np.array([9_000.0, 35_000.0, 140_000.0])  # ARR by segment
_DEAL_SIGMA = np.array([0.28, 0.33, 0.33])

_ROLES = ("decision_maker", "champion", "influencer", "user", "finance", "unknown")
_ROLE_P = np.array([0.12, 0.15, 0.20, 0.28, 0.08, 0.17])
_ROLE_EFFECT = np.array([0.30, 0.40, 0.05, -0.25, 0.0, -0.35])  # logit scale
_TITLES: dict[str, tuple[str | None, ...]] = {
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
_CHANNEL_BASE_P = np.array([0.22, 0.15, 0.04, 0.05, 0.03, 0.05, 0.14, 0.16, 0.04, 0.03, 0.09])
_CHANNEL_LIFT = np.array([0.35, 0.45, 1.30, 1.00, 0.50, 0.25, 0.10, 0.20, 0.60, 0.70, 0.05])
_CHANNEL_POS = np.array([-0.6, 0.2, -0.5, -0.3, -0.4, -1.0, 0.3, 0.5, 0.2, -0.2, 1.2])
_CHANNEL_BUDGET = np.array([54.0, 36.0, 25.0, 20.0, 10.0, 5.0, 0.0, 1.2, 2.0, 6.0, 0.0])
# Position in the journey (0 first touch .. 1 last) in bins; effect at each bin's centre.
_POSITION_BINS = 8
_POSITION_EFFECT = np.exp(
    _CHANNEL_POS[:, None] * ((np.arange(_POSITION_BINS) + 0.5) / _POSITION_BINS - 0.5)[None, :]
)
_CHANNEL_PREF_SIGMA = 1.0  # log-sd of a contact's channel preferences (higher: pickier)
_INTENT_CHANNELS = np.array([6, 10])  # organic_search, direct
_INTENT_COEF = 1.0
_MEDIA_SHARE = 0.85  # share of spend booked on campaigns; the rest (fees, tools) has none
_PAID_PER_TOUCH = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], dtype=bool)

_DARK_RATE = np.array([0.08, 0.10, 0.06, 0.05])
_DARK_LIFT = np.array([0.60, 0.90, 0.50, 1.10])

# Survey: how memorable a channel is when a buyer answers "How did you hear about us?".
_MEMORABILITY = np.array(
    [1.0, 0.6, 3.0, 2.0, 1.5, 0.8, 0.8, 0.4, 1.2, 2.0, 0.1]  # tracked
    + [3.0, 4.0, 2.5, 4.0]  # dark
)
_SURVEY_UNKNOWN_P = 0.13
_SURVEY_WON_P = 0.70
_SURVEY_OPEN_P = 0.30
_SURVEY_PICKLIST_NULL_P = 0.40
_SURVEY_TEXT_NULL_P = 0.08  # of answers with a pick-list value, share without free text

# (channel, campaign, utm_source, utm_medium, weight within channel)
_CAMPAIGNS: tuple[tuple[str, str, str, str, float], ...] = (
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
)  # fmt: skip

# (channel, touch_type, probability within channel, cost multiplier)
_TOUCH_TYPES: tuple[tuple[str, str, float, float], ...] = (
    ("linkedin", "view", 0.60, 0.15),
    ("linkedin", "click", 0.35, 2.2),
    ("linkedin", "form_fill", 0.05, 2.2),
    ("google_ads", "click", 0.90, 1.0),
    ("google_ads", "form_fill", 0.10, 1.0),
    ("partner_referral", "referral", 0.70, 1.3),
    ("partner_referral", "meeting", 0.30, 0.3),
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
    ("events", "meeting", 0.30, 0.0),
    ("direct", "visit", 0.85, 0.0),
    ("direct", "form_fill", 0.15, 0.0),
)
# The touch that creates a lead becomes a form fill on these channels.
_LEAD_FORM_P = 0.6
_FORM_CHANNELS = np.array([1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1], dtype=bool)

_SURVEY_TEXT: dict[str, tuple[str, ...]] = {
    "linkedin": (
        "Saw an ad on LinkedIn", "linkedin", "LinkedIn ad", "linkdin", "a LinkedIn post",
        "saw your posts on linked in", "LinkedIn sponsored post about freight audit",
        "Linkedin",
    ),
    "google_ads": (
        "Google", "googled TMS software", "google search", "google ad",
        "searched for transportation management software", "found you on googel",
        "Google ads",
    ),
    "partner_referral": (
        "our ERP partner recommended you", "referred by our 3PL", "partner referral",
        "NetSuite consultant told us about you", "referral from a partner",
        "our implementation partner",
    ),
    "g2_capterra": (
        "G2 reviews", "g2", "Capterra", "compared vendors on G2", "review sites",
        "capterra listing", "G2 crowd", "read reviews on g2",
    ),
    "direct_mail": (
        "got a box in the mail", "the mailer you sent", "direct mail",
        "received a package with a QR code", "postcard", "you sent us cookies lol",
    ),
    "industry_publications": (
        "FreightWaves article", "read about you in Supply Chain Dive", "DC Velocity",
        "an article in Logistics Management", "trade magazine", "freightwaves",
    ),
    "organic_search": (
        "googled you", "Google search", "searched online", "bing", "internet search",
        "found your blog when searching freight rates", "web search", "googling",
    ),
    "email": (
        "email", "your newsletter", "got an email from your team", "emails",
        "e-mail newsletter", "Email",
    ),
    "webinar": (
        "attended a webinar", "webinar on rate volatility", "your webinar", "webinar",
        "Webinar", "the TMS ROI webinar",
    ),
    "events": (
        "met you at the Manifest conference", "MODEX booth", "trade show", "TPM conference",
        "saw your booth at a conference", "event", "Manifest Vegas",
    ),
    "direct": (
        "your website", "already knew the brand", "just went to your website", "website",
    ),
    "podcast": (
        "heard you on the FreightWaves podcast", "podcast", "a supply chain podcast",
        "Podcast ad", "the Logistics of Logistics podcast", "podcst", "Podcast",
    ),
    "word_of_mouth": (
        "a colleague at my last company", "word of mouth", "friend recommended",
        "my boss told me", "coworker used you before", "peer recommendation",
        "Word of mouth from another shipper", "wom",
    ),
    "community": (
        "Reddit r/logistics", "a Slack community for supply chain folks", "LinkedIn group",
        "online forum", "reddit", "a shippers' community group",
    ),
    "freight_broker": (
        "my freight broker recommended you", "our broker uses you", "freight broker",
        "recommended by our carrier rep", "Broker recommendation",
    ),
    "other": (
        "don't remember", "not sure", "N/A", "idk", "ChatGPT suggested you",
        "AI search (Perplexity)", "other", "-", "Dont remember",
    ),
}  # fmt: skip
_SURVEY_CATEGORIES: tuple[str, ...] = (*TRACKED_CHANNELS, *DARK_CHANNELS, "other")

# Funnel: share of contacts with a lead event, and how the log of (won rate / lead rate) is
# split over the four steps lead->mql, mql->sql, sql->opportunity, opportunity->won.
_LEAD_RATE = 0.85
_STEP_SPLIT = np.array([0.20, 0.25, 0.20, 0.35])
_OPEN_OPPORTUNITY_P = 0.20  # opportunities neither won nor lost at export time
_SLACK_DAYS = 12.0  # room kept after a journey for stage events and survey answers


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SyntheticData:
    """The tables of a synthetic world and its ground truth.

    Attributes
    ----------
    accounts, contacts, touches, stages, spend, surveys : polars.DataFrame
        The tables (schemas in ``sample_data/README.md``).
    truth : dict
        JSON-serialisable ground truth: per channel its lift and true incremental share,
        the dark funnel, the calibration and realised counts.
    """

    accounts: pl.DataFrame
    contacts: pl.DataFrame
    touches: pl.DataFrame
    stages: pl.DataFrame
    spend: pl.DataFrame
    surveys: pl.DataFrame
    truth: dict[str, Any]

    def tables(self) -> dict[str, pl.DataFrame]:
        """The six tables by name."""
        return {name: getattr(self, name) for name in TABLES}


# --- parameters and calibration ------------------------------------------------------------
@dataclass(frozen=True)
class _Params:
    seed: int
    n_touches: int
    start_us: int
    start: datetime
    days: int
    conversion_rate: float
    thresholds: np.ndarray  # logit intercepts for lead, mql, sql, opportunity, closed_won


def _params(n_touches: int, seed: int, start: str, days: int, conversion_rate: float) -> _Params:
    if isinstance(n_touches, bool) or not isinstance(n_touches, int | np.integer) or n_touches < 1:
        raise ValueError(f"n_touches must be a positive int. Got {n_touches!r} instead.")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int. Got {seed!r} instead.")
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 30:
        raise ValueError(f"days must be an int >= 30. Got {days!r} instead.")
    rate = float(conversion_rate)
    if not 0.0 < rate <= 0.5:
        raise ValueError(f"conversion_rate must be in (0, 0.5]. Got {conversion_rate!r} instead.")
    try:
        when = datetime.fromisoformat(str(start))
    except ValueError as exc:
        raise ValueError(f"start must be an ISO 8601 date or datetime. Got {start!r}.") from exc
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    start_us = round(when.timestamp() * 1_000_000)
    return _Params(
        seed=int(seed),
        n_touches=int(n_touches),
        start_us=start_us,
        start=when,
        days=int(days),
        conversion_rate=rate,
        thresholds=_calibrate(rate),
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _stage_targets(conversion_rate: float) -> np.ndarray:
    """Marginal share of contacts reaching lead, mql, sql, opportunity, closed_won."""
    log_ratio = math.log(conversion_rate / _LEAD_RATE)
    cumulative = np.concatenate([[0.0], np.cumsum(_STEP_SPLIT * log_ratio)])
    return _LEAD_RATE * np.exp(cumulative)


@lru_cache(maxsize=1)
def _calibration_sample() -> tuple[np.ndarray, np.ndarray]:
    """Conversion logits of a fixed sample of contacts, and its share of touches per channel.

    Neither depends on ``seed``, ``start`` or ``days``: they are drawn once, from fixed
    entropy, and shared by every call.
    """
    blocks = [
        _draw_block(np.random.default_rng([*_CALIBRATION_ENTROPY, i]), i, _BLOCK_TOUCHES, None)
        for i in range(_CALIBRATION_BLOCKS)
    ]
    counts = np.sum([np.asarray(b.channel_counts) for b in blocks], axis=0)
    return np.concatenate([b.eta for b in blocks]), counts / counts.sum()


@lru_cache(maxsize=32)
def _calibrate(conversion_rate: float) -> np.ndarray:
    """Intercepts b_k with mean(sigmoid(b_k + eta)) equal to each stage's target share.

    Solved by bisection on expected rates (not draws) over the calibration sample.
    """
    eta, _ = _calibration_sample()
    targets = _stage_targets(conversion_rate)
    lo = np.full(targets.size, -30.0)
    hi = np.full(targets.size, 30.0)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        rate = _sigmoid(mid[:, None] + eta[None, :]).mean(axis=1)
        too_high = rate > targets
        hi = np.where(too_high, mid, hi)
        lo = np.where(too_high, lo, mid)
    return 0.5 * (lo + hi)


# --- blocks -------------------------------------------------------------------------------------
def _block_sizes(n_touches: int) -> list[int]:
    full, rest = divmod(n_touches, _BLOCK_TOUCHES)
    return [_BLOCK_TOUCHES] * full + ([rest] if rest else [])


def _block_shape(n_touches: int) -> tuple[int, int, int]:
    """(accounts, contacts, orphan contacts) of a block with ``n_touches`` touches."""
    contacts = max(1, min(n_touches, round(n_touches / _TOUCHES_PER_CONTACT)))
    orphans = round(contacts * _ORPHAN_SHARE)
    if contacts - orphans < 1:
        orphans = 0
    accounts = max(1, min(round(contacts / _CONTACTS_PER_ACCOUNT), contacts - orphans))
    return accounts, contacts, orphans


def _pick(rng: np.random.Generator, group: np.ndarray, cum: np.ndarray) -> np.ndarray:
    """Draw a row of a grouped table for each group number in ``group`` (see _grouped_table)."""
    u = group + rng.random(group.size) * (1.0 - 1e-12)
    return np.minimum(np.searchsorted(cum, u, side="right"), cum.size - 1)


def _grouped_table(groups: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """Cumulative weights, normalised within each group and offset by the group number.

    Rows must be grouped contiguously in group order; group ``g`` then spans exactly
    ``(g, g + 1]``, which :func:`_pick` relies on.
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


_CH_INDEX = {c: i for i, c in enumerate(TRACKED_CHANNELS)}
_CAMPAIGN_GROUP = np.array([_CH_INDEX[c[0]] for c in _CAMPAIGNS])
_CAMPAIGN_CUM = _grouped_table(_CAMPAIGN_GROUP, [c[4] for c in _CAMPAIGNS])
_TYPE_GROUP = np.array([_CH_INDEX[t[0]] for t in _TOUCH_TYPES])
_TYPE_CUM = _grouped_table(_TYPE_GROUP, [t[2] for t in _TOUCH_TYPES])
_TYPE_NAMES = tuple(dict.fromkeys(t[1] for t in _TOUCH_TYPES))
_TYPE_CODE = np.array([_TYPE_NAMES.index(t[1]) for t in _TOUCH_TYPES])
_FORM_FILL = _TYPE_NAMES.index("form_fill")
_TITLE_LIST: tuple[str | None, ...] = tuple(t for r in _ROLES for t in _TITLES[r])
_TITLE_LEN = np.array([len(_TITLES[r]) for r in _ROLES])
_TITLE_OFF = np.concatenate([[0], np.cumsum(_TITLE_LEN)[:-1]])
_SURVEY_LIST = tuple(t for c in _SURVEY_CATEGORIES for t in _SURVEY_TEXT[c])
_SURVEY_LEN = np.array([len(_SURVEY_TEXT[c]) for c in _SURVEY_CATEGORIES])
_SURVEY_OFF = np.concatenate([[0], np.cumsum(_SURVEY_LEN)[:-1]])


@lru_cache(maxsize=1)
def _type_cost() -> np.ndarray:
    """Mean media cost of a touch for each touch-type row.

    A channel's media budget per account, divided by its expected touches per account (from
    the calibration sample), so the touches' ``cost`` adds up to about the media part of
    the spend table (the rest of the spend is fees and tools, with no campaign).
    """
    _, share = _calibration_sample()
    per_channel = (
        _MEDIA_SHARE
        * _CHANNEL_BUDGET
        / (_CONTACTS_PER_ACCOUNT * _TOUCHES_PER_CONTACT * np.maximum(share, 1e-9))
        * _PAID_PER_TOUCH
    )
    probs = np.array([t[2] for t in _TOUCH_TYPES])
    mult = np.array([t[3] for t in _TOUCH_TYPES])
    mean_mult = np.bincount(_TYPE_GROUP, weights=probs * mult, minlength=len(TRACKED_CHANNELS))
    norm = np.where(mean_mult > 0, mean_mult, 1.0)
    return np.asarray(per_channel[_TYPE_GROUP] * mult / norm[_TYPE_GROUP])


@dataclass
class _Block:
    """Numeric arrays of one block (global ids are integers, strings come later)."""

    index: int
    eta: np.ndarray
    channel_counts: np.ndarray | None = None
    # accounts
    acc_id: np.ndarray | None = None
    acc_industry: np.ndarray | None = None
    acc_metro: np.ndarray | None = None
    acc_employees: np.ndarray | None = None
    acc_segment: np.ndarray | None = None
    acc_name: np.ndarray | None = None  # (n, 3)
    # contacts
    con_id: np.ndarray | None = None
    con_acc: np.ndarray | None = None  # global account number, -1 for none
    con_role: np.ndarray | None = None
    con_title: np.ndarray | None = None
    # touches (contact then time order)
    t_id: np.ndarray | None = None
    t_contact: np.ndarray | None = None
    t_account: np.ndarray | None = None
    t_us: np.ndarray | None = None
    t_channel: np.ndarray | None = None
    t_campaign: np.ndarray | None = None
    t_type: np.ndarray | None = None
    t_cost: np.ndarray | None = None
    # stages
    s_contact: np.ndarray | None = None
    s_account: np.ndarray | None = None
    s_opp: np.ndarray | None = None  # -1 for none
    s_stage: np.ndarray | None = None
    s_us: np.ndarray | None = None
    s_value: np.ndarray | None = None  # nan for none
    # surveys
    q_contact: np.ndarray | None = None
    q_account: np.ndarray | None = None
    q_opp: np.ndarray | None = None
    q_us: np.ndarray | None = None
    q_text: np.ndarray | None = None
    q_case: np.ndarray | None = None
    q_pick: np.ndarray | None = None  # category index, -1 for null
    # truth accumulators
    stats: dict[str, Any] | None = None


def _draw_block(rng: np.random.Generator, index: int, nt: int, params: _Params | None) -> _Block:
    """Draw one block; with ``params=None`` stop once the conversion logits are known."""
    na, nc, n_orphan = _block_shape(nt)
    n_ch = len(TRACKED_CHANNELS)

    # Accounts.
    industry_p = np.array([p for _, p in _INDUSTRIES])
    metro_p = np.array([p for _, p in _METROS])
    industry = rng.choice(industry_p.size, na, p=industry_p / industry_p.sum())
    metro = rng.choice(metro_p.size, na, p=metro_p / metro_p.sum())
    segment = np.searchsorted(_SEGMENT_CUM, rng.random(na), side="right")
    log_emp = np.select(
        [segment == 0, segment == 1],
        [
            rng.uniform(math.log(10), math.log(200), na),
            rng.uniform(math.log(200), math.log(2000), na),
        ],
        math.log(2000) + rng.exponential(1.1, na),
    )
    employees = np.minimum(np.exp(log_emp), 250_000).astype(np.int64)
    name = np.stack(
        [
            rng.integers(0, len(_NAME_FIRST), na),
            rng.integers(0, len(_NAME_CORE), na),
            rng.integers(0, len(_NAME_SUFFIX), na),
        ],
        axis=1,
    )
    acc_intent = rng.standard_normal(na)

    # Contacts: every account has at least one; orphans (no account) come last.
    n_assigned = nc - n_orphan
    acc_w = _SEGMENT_CONTACT_WEIGHT[segment] * rng.gamma(2.0, 0.5, na)
    per_acc = 1 + rng.multinomial(n_assigned - na, acc_w / acc_w.sum())
    con_acc_local = np.concatenate([np.repeat(np.arange(na), per_acc), np.full(n_orphan, -1)])
    has_acc = con_acc_local >= 0
    con_segment = np.where(has_acc, segment[np.maximum(con_acc_local, 0)], 0)
    role = rng.choice(len(_ROLES), nc, p=_ROLE_P)
    title = _TITLE_OFF[role] + rng.integers(0, 1 << 30, nc) % _TITLE_LEN[role]
    intent = 0.6 * np.where(has_acc, acc_intent[np.maximum(con_acc_local, 0)], 0.0)
    intent = intent + 0.8 * rng.standard_normal(nc)
    dark = rng.random((nc, len(DARK_CHANNELS))) < _DARK_RATE
    dark_any = dark.any(axis=1)

    # Touches per contact: at least one; overdispersed, more for intent and big accounts.
    tw = rng.gamma(1.5, 1.0, nc) * np.exp(0.25 * intent) * _SEGMENT_TOUCH_WEIGHT[con_segment]
    n_t = 1 + rng.multinomial(nt - nc, tw / tw.sum())
    first = np.concatenate([[0], np.cumsum(n_t)[:-1]])
    tc = np.repeat(np.arange(nc), n_t)

    # Journey timing (days from start): duration, close gap, start with room to finish.
    days = float(params.days) if params is not None else 365.0
    duration = np.clip(rng.lognormal(math.log(70.0), 0.45, nc), 3.0, 200.0)
    gap = np.minimum(0.5 + rng.exponential(10.0, nc), 60.0)
    squeeze = np.minimum(1.0, (days - 1.0 - _SLACK_DAYS) / (duration + gap))
    duration, gap = duration * squeeze, gap * squeeze
    need = duration + gap + _SLACK_DAYS
    start = rng.random(nc) * np.maximum(days - need, 0.0)
    day0 = np.floor(start)
    raw = (start - day0)[tc] + duration[tc] * rng.random(nt)  # days after the contact's day0
    # B2B touches happen in US business hours (~15:00 UTC), some at any time.
    tod = np.where(
        rng.random(nt) < 0.85, np.clip(rng.normal(15.0, 2.5, nt), 0.0, 23.99) / 24, rng.random(nt)
    )
    # Sort within contact on one integer key: contact number, then microseconds after day0
    # (a journey spans under 2**44 us = 203 days: durations are capped at 200).
    rel_us = np.round((np.floor(raw) + tod) * _US_PER_DAY).astype(np.int64)
    key = np.sort((tc.astype(np.int64) << 44) | rel_us)
    t_us_rel = (key & ((1 << 44) - 1)) + (day0.astype(np.int64) * _US_PER_DAY)[tc]
    t_day = t_us_rel / _US_PER_DAY
    pos = np.arange(nt) - first[tc]
    rel = pos / np.maximum(n_t[tc] - 1, 1)

    # Channels: a contact's own preferences, intent and dark-funnel exposure pull toward
    # organic search and direct, awareness channels come early, capture channels late.
    # Arrays are (channel, touch) so the cumulative sums run over contiguous rows.
    z = rng.standard_normal((n_ch, nc))
    z *= _CHANNEL_PREF_SIGMA
    z[_INTENT_CHANNELS] += 0.6 * intent + 0.7 * dark_any
    pref = _CHANNEL_BASE_P[:, None] * np.exp(z)
    cum = pref[:, tc]
    cum *= np.take(_POSITION_EFFECT, (rel * (_POSITION_BINS - 1e-9)).astype(np.intp), axis=1)
    for j in range(1, n_ch):
        cum[j] += cum[j - 1]
    draw = rng.random(nt) * cum[-1]
    channel = np.zeros(nt, dtype=np.intp)
    for j in range(n_ch - 1):
        channel += cum[j] < draw

    exposed = np.zeros((nc, n_ch), dtype=bool)
    exposed[tc, channel] = True
    eta = _ROLE_EFFECT[role] + _INTENT_COEF * intent + exposed @ _CHANNEL_LIFT + dark @ _DARK_LIFT
    block = _Block(index=index, eta=eta)
    block.channel_counts = np.bincount(channel, minlength=n_ch)
    if params is None:
        return block

    # Funnel: one uniform per contact against nested thresholds, so stages are nested and
    # P(closed_won) = sigmoid(b_won + eta) exactly.
    b = params.thresholds
    u = rng.random(nc)
    level = (u[:, None] < _sigmoid(b[None, :] + eta[:, None])).sum(axis=1)  # 0..5
    lost_draw = rng.random(nc)
    won = level == 5
    lost = (level == 4) & (lost_draw >= _OPEN_OPPORTUNITY_P)

    # Stage times anchored on touches: the lead is created by a touch early in the journey,
    # opportunities later, close after the last touch; touches go on after each milestone.
    last = first + n_t - 1
    f_lead = rng.uniform(0.0, 0.35, nc)
    f_mql = f_lead + rng.uniform(0.0, 0.25, nc)
    f_sql = f_mql + rng.uniform(0.0, 0.20, nc)
    f_opp = np.minimum(f_sql + rng.uniform(0.05, 0.25, nc), 0.999)

    def at(f: np.ndarray) -> np.ndarray:
        return first + np.minimum(np.floor(f * n_t).astype(np.int64), n_t - 1)

    k_lead = at(f_lead)
    hour = 1.0 / 24.0
    t_lead = t_day[k_lead] + rng.uniform(1.0, 30.0, nc) / 1440.0
    t_mql = np.maximum(t_day[at(f_mql)] + rng.uniform(0.01, 1.0, nc), t_lead + hour)
    t_sql = np.maximum(t_day[at(f_sql)] + rng.uniform(0.5, 5.0, nc), t_mql + hour)
    t_opp = np.maximum(t_day[at(f_opp)] + rng.uniform(0.1, 3.0, nc), t_sql + hour)
    t_close = np.maximum(t_day[last] + gap, t_opp + 1.0)
    t_survey = t_opp + rng.uniform(hour, 2.0, nc)

    amount_seg = con_segment
    amount = np.round(
        np.exp(
            np.log(_DEAL_MEDIAN[amount_seg]) + _DEAL_SIGMA[amount_seg] * rng.standard_normal(nc)
        ),
        -2,
    )
    final = np.round(amount * np.exp(0.1 * rng.standard_normal(nc)), -2)

    # Touch attributes.
    campaign = _pick(rng, channel, _CAMPAIGN_CUM)
    type_row = _pick(rng, channel, _TYPE_CUM)
    ttype = _TYPE_CODE[type_row]
    cost = np.round(_type_cost()[type_row] * rng.lognormal(-0.5 * 0.35**2, 0.35, nt), 2)
    # Most leads are created by a form fill (the rest by imports, badge scans, referrals).
    lead_touch = k_lead[(level >= 1) & (rng.random(nc) < _LEAD_FORM_P)]
    form = lead_touch[_FORM_CHANNELS[channel[lead_touch]]]
    ttype[form] = _FORM_FILL

    # Global ids from fixed block offsets: independent of chunking, dense, unique.
    acc_off = index * _BLOCK_ACCOUNTS
    con_off = index * _BLOCK_CONTACTS
    con_acc = np.where(has_acc, con_acc_local + acc_off + 1, -1)
    con_id = np.arange(nc) + con_off + 1
    block.acc_id = np.arange(na) + acc_off + 1
    block.acc_industry, block.acc_metro = industry, metro
    block.acc_employees, block.acc_segment, block.acc_name = employees, segment, name
    block.con_id, block.con_acc, block.con_role, block.con_title = con_id, con_acc, role, title

    block.t_id = np.arange(nt) + index * _BLOCK_TOUCHES + 1
    block.t_contact = con_id[tc]
    block.t_account = con_acc[tc]
    block.t_us = params.start_us + t_us_rel
    block.t_channel, block.t_campaign, block.t_type, block.t_cost = channel, campaign, ttype, cost

    # Stage rows: per stage the contacts that reached it, then ordered by contact, stage.
    reached = [level >= 1, level >= 2, level >= 3, level >= 4, won, lost]
    times = [t_lead, t_mql, t_sql, t_opp, t_close, t_close]
    values = [None, None, None, amount, final, amount]
    rows_c, rows_s, rows_t, rows_v = [], [], [], []
    for k, mask in enumerate(reached):
        idx = np.flatnonzero(mask)
        rows_c.append(idx)
        rows_s.append(np.full(idx.size, k, dtype=np.int8))
        rows_t.append(times[k][idx])
        v = values[k]
        rows_v.append(np.full(idx.size, np.nan) if v is None else v[idx])
    s_c = np.concatenate(rows_c)
    s_s = np.concatenate(rows_s)
    order = np.lexsort((s_s, s_c))
    s_c, s_s = s_c[order], s_s[order]
    block.s_contact = con_id[s_c]
    block.s_account = con_acc[s_c]
    block.s_opp = np.where(s_s >= 3, con_id[s_c], -1)
    block.s_stage = s_s
    block.s_us = params.start_us + np.round(np.concatenate(rows_t)[order] * _US_PER_DAY).astype(
        np.int64
    )
    block.s_value = np.concatenate(rows_v)[order]

    # Surveys: most winners and some other opportunities answer; what they name is drawn
    # from what they were exposed to (tracked or not), weighted by how memorable it is.
    asked = (won & (rng.random(nc) < _SURVEY_WON_P)) | (
        (level == 4) & (rng.random(nc) < _SURVEY_OPEN_P)
    )
    q = np.flatnonzero(asked)
    expo = np.concatenate([exposed[q], dark[q]], axis=1) * _MEMORABILITY
    qcum = np.cumsum(expo, axis=1)
    qdraw = rng.random(q.size) * qcum[:, -1]
    category = np.minimum((qcum < qdraw[:, None]).sum(axis=1), expo.shape[1] - 1)
    category = np.where(
        rng.random(q.size) < _SURVEY_UNKNOWN_P, len(_SURVEY_CATEGORIES) - 1, category
    )
    block.q_contact = con_id[q]
    block.q_account = con_acc[q]
    block.q_opp = con_id[q]
    block.q_us = params.start_us + np.round(t_survey[q] * _US_PER_DAY).astype(np.int64)
    block.q_text = _SURVEY_OFF[category] + rng.integers(0, 1 << 30, q.size) % _SURVEY_LEN[category]
    block.q_case = np.searchsorted(np.array([0.65, 0.85, 0.88, 0.95]), rng.random(q.size), "right")
    block.q_pick = np.where(rng.random(q.size) < _SURVEY_PICKLIST_NULL_P, -1, category)
    # Some buyers only tick the pick-list and leave the free text empty.
    text_only_pick = (block.q_pick >= 0) & (rng.random(q.size) < _SURVEY_TEXT_NULL_P)
    block.q_case = np.where(text_only_pick, 5, block.q_case)

    # Ground-truth accumulators (additive over blocks).
    p = _sigmoid(b[4] + eta)
    lift_t = exposed * _CHANNEL_LIFT
    lift_d = dark * _DARK_LIFT
    loss_t = (p[:, None] - _sigmoid(b[4] + eta[:, None] - lift_t)).sum(axis=0)
    loss_d = (p[:, None] - _sigmoid(b[4] + eta[:, None] - lift_d)).sum(axis=0)
    block.stats = {
        "accounts": na,
        "contacts": nc,
        "orphan_contacts": n_orphan,
        "touches": nt,
        "expected_won": float(p.sum()),
        "expected_won_without_tracked": float(_sigmoid(b[4] + eta - lift_t.sum(axis=1)).sum()),
        "expected_won_without_dark": float(_sigmoid(b[4] + eta - lift_d.sum(axis=1)).sum()),
        "expected_won_without_marketing": float(
            _sigmoid(b[4] + eta - lift_t.sum(axis=1) - lift_d.sum(axis=1)).sum()
        ),
        "loss_tracked": loss_t,
        "loss_dark": loss_d,
        "exposed_tracked": exposed.sum(axis=0),
        "exposed_dark": dark.sum(axis=0),
        "touches_by_channel": block.channel_counts,
        "stage_counts": np.array([m.sum() for m in reached]),
        "surveys": int(q.size),
    }
    return block


def _blocks(params: _Params, first: int, count: int, sizes: list[int]) -> list[_Block]:
    return [
        _draw_block(np.random.default_rng([params.seed, _TAG_BLOCK, i]), i, sizes[i], params)
        for i in range(first, first + count)
    ]


# --- assembling frames -------------------------------------------------------------------------
def _cat(blocks: list[_Block], name: str) -> np.ndarray:
    return np.concatenate([getattr(b, name) for b in blocks])


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Expr:
    """``prefix`` + zero-padded number; null where the number is negative."""
    # 10**width + n prints as "1" and the padded digits; swap the "1" for the prefix.
    series = pl.Series(numbers, dtype=pl.Int64)
    text = (pl.lit(series) + 10**width).cast(pl.String).str.replace("1", prefix, literal=True, n=1)
    if numbers.size and numbers.min() < 0:
        return pl.when(pl.lit(series) >= 0).then(text)
    return text


def _lookup(values: Sequence[str | None], codes: np.ndarray) -> pl.Series:
    return pl.Series(values=list(values), dtype=pl.String).gather(codes)


def _timestamps(us: np.ndarray) -> pl.Series:
    return pl.Series(us, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _id_frame(**cols: tuple[str, np.ndarray, int]) -> pl.DataFrame:
    return pl.select([_ids(*v).alias(k) for k, v in cols.items()])


def _assemble(
    blocks: list[_Block], params: _Params, chunk_index: int, shuffle: bool
) -> dict[str, pl.DataFrame]:
    """Turn a chunk's blocks into the five per-entity tables (spend is global)."""
    acc_name = _cat(blocks, "acc_name").reshape(-1, 3)
    accounts = pl.DataFrame(
        {
            "account_id": _id_frame(a=("A", _cat(blocks, "acc_id"), 7)).to_series(),
            "name": pl.select(
                pl.concat_str(
                    [
                        pl.lit(_lookup(_NAME_FIRST, acc_name[:, 0])),
                        pl.lit(_lookup(_NAME_CORE, acc_name[:, 1])),
                        pl.lit(_lookup(_NAME_SUFFIX, acc_name[:, 2])),
                    ],
                    separator=" ",
                ).str.strip_chars()
            ).to_series(),
            "industry": _lookup([n for n, _ in _INDUSTRIES], _cat(blocks, "acc_industry")),
            "metro": _lookup([n for n, _ in _METROS], _cat(blocks, "acc_metro")),
            "employees": pl.Series(_cat(blocks, "acc_employees"), dtype=pl.Int64),
            "segment": _lookup(_SEGMENTS, _cat(blocks, "acc_segment")),
        }
    )

    ids = _id_frame(c=("C", _cat(blocks, "con_id"), 8), a=("A", _cat(blocks, "con_acc"), 7))
    contacts = pl.DataFrame(
        {
            "contact_id": ids["c"],
            "account_id": ids["a"],
            "role": _lookup(_ROLES, _cat(blocks, "con_role")),
            "title": _lookup(_TITLE_LIST, _cat(blocks, "con_title")),
        }
    )

    # Touches: shuffle (or sort by time) the numeric arrays before building strings.
    t_us = _cat(blocks, "t_us")
    if shuffle:
        order = np.random.default_rng([params.seed, _TAG_SHUFFLE, chunk_index]).permutation(
            t_us.size
        )
    else:
        order = np.argsort(t_us, kind="stable")
    campaign = _cat(blocks, "t_campaign")[order]
    ids = _id_frame(
        t=("T", _cat(blocks, "t_id")[order], 10),
        c=("C", _cat(blocks, "t_contact")[order], 8),
        a=("A", _cat(blocks, "t_account")[order], 7),
    )
    touches = pl.DataFrame(
        {
            "touch_id": ids["t"],
            "contact_id": ids["c"],
            "account_id": ids["a"],
            "timestamp": _timestamps(t_us[order]),
            "channel": _lookup(TRACKED_CHANNELS, _cat(blocks, "t_channel")[order]),
            "campaign": _lookup([c[1] for c in _CAMPAIGNS], campaign),
            "touch_type": _lookup(_TYPE_NAMES, _cat(blocks, "t_type")[order]),
            "utm_source": _lookup([c[2] for c in _CAMPAIGNS], campaign),
            "utm_medium": _lookup([c[3] for c in _CAMPAIGNS], campaign),
            "cost": pl.Series(_cat(blocks, "t_cost")[order], dtype=pl.Float64),
        }
    )
    del order, campaign, t_us

    ids = _id_frame(
        c=("C", _cat(blocks, "s_contact"), 8),
        a=("A", _cat(blocks, "s_account"), 7),
        o=("O", _cat(blocks, "s_opp"), 8),
    )
    stages = pl.DataFrame(
        {
            "contact_id": ids["c"],
            "account_id": ids["a"],
            "opportunity_id": ids["o"],
            "stage": _lookup(STAGES, _cat(blocks, "s_stage")),
            "timestamp": _timestamps(_cat(blocks, "s_us")),
            "value": pl.Series(_cat(blocks, "s_value"), dtype=pl.Float64).fill_nan(None),
        }
    )

    ids = _id_frame(
        c=("C", _cat(blocks, "q_contact"), 8),
        a=("A", _cat(blocks, "q_account"), 7),
        o=("O", _cat(blocks, "q_opp"), 8),
    )
    pick = _cat(blocks, "q_pick")
    text = pl.col("response")
    surveys = (
        pl.DataFrame(
            {
                "contact_id": ids["c"],
                "account_id": ids["a"],
                "opportunity_id": ids["o"],
                "timestamp": _timestamps(_cat(blocks, "q_us")),
                "response": _lookup(_SURVEY_LIST, _cat(blocks, "q_text")),
                "case": pl.Series(_cat(blocks, "q_case"), dtype=pl.Int8),
                "channel": _lookup(_SURVEY_CATEGORIES, np.maximum(pick, 0)),
                "pick": pl.Series(pick, dtype=pl.Int64),
            }
        )
        .with_columns(
            # Buyers type in every case, with stray punctuation and spaces.
            response=pl.when(pl.col("case") == 1)
            .then(text.str.to_lowercase())
            .when(pl.col("case") == 2)
            .then(text.str.to_uppercase())
            .when(pl.col("case") == 3)
            .then(pl.concat_str([text, pl.lit(".")]))
            .when(pl.col("case") == 4)
            .then(pl.concat_str([pl.lit(" "), text, pl.lit("  ")]))
            .when(pl.col("case") == 5)
            .then(pl.lit(None, dtype=pl.String))
            .otherwise(text),
            channel=pl.when(pl.col("pick") >= 0).then(pl.col("channel")),
        )
        .drop("case", "pick")
    )
    return {
        "accounts": accounts,
        "contacts": contacts,
        "touches": touches,
        "stages": stages,
        "surveys": surveys,
    }


def _months(params: _Params) -> list[tuple[date, float]]:
    """(first of month, days of the window falling in it) for every month the window spans."""
    start_day = params.start_us / _US_PER_DAY
    end_day = start_day + params.days
    out = []
    cur = date(params.start.year, params.start.month, 1)
    epoch = date(1970, 1, 1)
    while (cur - epoch).days < end_day:
        nxt = date(cur.year + cur.month // 12, cur.month % 12 + 1, 1)
        lo = max((cur - epoch).days, start_day)
        hi = min((nxt - epoch).days, end_day)
        if hi > lo:
            out.append((cur, hi - lo))
        cur = nxt
    return out


# Events spend follows the conference calendar; the rest is nearly flat with a December dip.
_EVENT_SEASON = np.array([0.2, 0.4, 2.4, 0.6, 1.8, 1.2, 0.3, 0.3, 3.0, 2.4, 1.2, 0.2])
_FLAT_SEASON = np.array([1.0, 1.05, 1.1, 1.0, 1.0, 0.95, 0.9, 0.95, 1.05, 1.1, 1.05, 0.85])


def _spend(params: _Params, n_accounts: int) -> pl.DataFrame:
    """Monthly spend per channel and campaign, proportional to the number of accounts."""
    months = _months(params)
    rng = np.random.default_rng([params.seed, _TAG_SPEND])
    month_no = np.array([m.month - 1 for m, _ in months])
    in_window = np.array([d for _, d in months])
    ev = _EVENT_SEASON / _EVENT_SEASON.mean()
    flat = _FLAT_SEASON / _FLAT_SEASON.mean()
    funded = np.flatnonzero(_CHANNEL_BUDGET > 0)
    season = np.where(
        (np.arange(len(TRACKED_CHANNELS)) == _CH_INDEX["events"])[funded][:, None],
        ev[month_no][None, :],
        flat[month_no][None, :],
    )
    monthly = (
        _CHANNEL_BUDGET[funded][:, None]
        * n_accounts
        * (in_window / 365.0)[None, :]
        * season
        * rng.lognormal(0.0, 0.08, season.shape)
    )  # (channel, month)
    rows_m, rows_ch, rows_c, rows_a = [], [], [], []
    for j, ch in enumerate(funded):
        camps = [c for c in _CAMPAIGNS if c[0] == TRACKED_CHANNELS[ch]]
        names = list(dict.fromkeys(c[1] for c in camps))
        w = np.array([sum(c[4] for c in camps if c[1] == n) for n in names])
        shares = np.concatenate([_MEDIA_SHARE * w / w.sum(), [1.0 - _MEDIA_SHARE]])
        labels: list[str | None] = [*names, None]
        for i, (m, _) in enumerate(months):
            rows_m.extend([m] * len(labels))
            rows_ch.extend([TRACKED_CHANNELS[ch]] * len(labels))
            rows_c.extend(labels)
            rows_a.extend(np.round(monthly[j, i] * shares, 2).tolist())
    return pl.DataFrame(
        {"month": rows_m, "channel": rows_ch, "campaign": rows_c, "amount": rows_a},
        schema={
            "month": pl.Date,
            "channel": pl.String,
            "campaign": pl.String,
            "amount": pl.Float64,
        },
    ).sort("month", "channel", "campaign", nulls_last=True)


# --- truth -------------------------------------------------------------------------------------
class _Truth:
    """Adds block statistics in block order, so totals do not depend on chunking."""

    def __init__(self, params: _Params, n_blocks: int) -> None:
        self.params = params
        self.n_blocks = n_blocks
        self.sums: dict[str, Any] = {}

    def add(self, blocks: list[_Block]) -> None:
        for b in blocks:
            assert b.stats is not None
            for key, value in b.stats.items():
                self.sums[key] = self.sums[key] + value if key in self.sums else value

    def result(self, spend: pl.DataFrame, realised_won: int) -> dict[str, Any]:
        s, p = self.sums, self.params
        loss_t = np.asarray(s["loss_tracked"], dtype=float)
        loss_d = np.asarray(s["loss_dark"], dtype=float)
        all_loss = loss_t.sum() + loss_d.sum()
        spend_by = dict(spend.group_by("channel").agg(pl.col("amount").sum()).iter_rows())
        channels = {}
        for i, ch in enumerate(TRACKED_CHANNELS):
            channels[ch] = {
                "lift": float(_CHANNEL_LIFT[i]),
                "incremental_share": float(loss_t[i] / loss_t.sum()),
                "share_incl_dark": float(loss_t[i] / all_loss),
                "expected_conversions_lost_if_removed": float(loss_t[i]),
                "exposed_contacts": int(s["exposed_tracked"][i]),
                "touches": int(s["touches_by_channel"][i]),
                "spend": round(float(spend_by.get(ch, 0.0)), 2),
            }
        dark = {}
        for i, ch in enumerate(DARK_CHANNELS):
            dark[ch] = {
                "lift": float(_DARK_LIFT[i]),
                "exposure_rate": float(_DARK_RATE[i]),
                "share_incl_dark": float(loss_d[i] / all_loss),
                "expected_conversions_lost_if_removed": float(loss_d[i]),
                "exposed_contacts": int(s["exposed_dark"][i]),
            }
        counts = np.asarray(s["stage_counts"])
        return {
            "generator": "attribution.datasets._synth",
            "generator_version": GENERATOR_VERSION,
            "parameters": {
                "n_touches": p.n_touches,
                "seed": p.seed,
                "start": p.start.isoformat(),
                "days": p.days,
                "conversion_rate": p.conversion_rate,
                "block_touches": _BLOCK_TOUCHES,
                "blocks": self.n_blocks,
            },
            "conversion": "closed_won, per contact",
            "model": (
                "logit P(closed_won) = b_won + role_effect[role] + intent_coef * intent "
                "+ sum over tracked channels c of lift_c * exposed_c "
                "+ sum over dark channels d of lift_d * exposed_d; exposed_c = 1 when the "
                "contact has at least one touch of channel c. Intent also raises the share "
                "of organic_search and direct touches, so those channels correlate with "
                "conversion far more than they cause it."
            ),
            "method": (
                "For each channel, the expected closed_won conversions lost if the channel "
                "were removed (every contact's exposure to it set to 0, all else fixed) are "
                "summed over the generated contacts: L_c = sum_i P_i - P_i(without c). "
                "incremental_share = L_c / sum of L over the tracked channels, so it sums to "
                "1 over tracked channels; share_incl_dark = L_c / sum of L over tracked and "
                "dark channels, and dark_funnel.dark_share is the dark channels' part of that."
            ),
            "calibration": {
                "intercepts": dict(zip(STAGES[:5], [float(x) for x in p.thresholds], strict=True)),
                "target_stage_rates": dict(
                    zip(
                        STAGES[:5],
                        [float(x) for x in _stage_targets(p.conversion_rate)],
                        strict=True,
                    )
                ),
                "intent_coef": _INTENT_COEF,
                "role_effect": dict(zip(_ROLES, _ROLE_EFFECT.tolist(), strict=True)),
            },
            "incremental_share": {ch: v["incremental_share"] for ch, v in channels.items()},
            "channels": channels,
            "dark_funnel": {
                "dark_share": float(loss_d.sum() / all_loss),
                "channels": dark,
                "note": (
                    "Dark channels are never tracked as touches; they appear only in survey "
                    "answers. incremental_share covers tracked channels only."
                ),
            },
            "expected": {
                "closed_won": float(s["expected_won"]),
                "closed_won_without_tracked_marketing": float(s["expected_won_without_tracked"]),
                "closed_won_without_dark_funnel": float(s["expected_won_without_dark"]),
                "closed_won_without_any_marketing": float(s["expected_won_without_marketing"]),
            },
            "counts": {
                "accounts": int(s["accounts"]),
                "contacts": int(s["contacts"]),
                "contacts_without_account": int(s["orphan_contacts"]),
                "touches": int(s["touches"]),
                "stages": dict(zip(STAGES, [int(x) for x in counts], strict=True)),
                "closed_won": realised_won,
                "conversion_rate": realised_won / int(s["contacts"]),
                "surveys": int(s["surveys"]),
                "spend_total": round(float(spend["amount"].sum()), 2),
            },
        }


# --- public API --------------------------------------------------------------------------------
def synthesize(
    n_touches: int,
    *,
    seed: int = 7,
    shuffle: bool = True,
    start: str = "2025-01-01",
    days: int = 365,
    conversion_rate: float = 0.04,
) -> SyntheticData:
    """Generate a seeded synthetic B2B world in memory.

    Parameters
    ----------
    n_touches : int
        Exact number of touch rows (~6 per contact, ~3 contacts per account).
    seed : int, default 7
        Same seed, same rows (byte for byte once written).
    shuffle : bool, default True
        Touch rows in random order, as real exports come; ``False`` sorts them by timestamp.
    start : str, default "2025-01-01"
        ISO 8601 start of the window (naive means UTC).
    days : int, default 365
        Length of the window; every touch, stage event and survey answer falls inside it.
    conversion_rate : float, default 0.04
        Target share of contacts reaching ``closed_won``, in (0, 0.5].

    Returns
    -------
    SyntheticData
        The six tables and ``truth``. Holds everything in memory: for tens of millions of
        touches use :func:`write_synthetic`, which streams.

    Examples
    --------
    >>> data = synthesize(10_000, seed=1)
    >>> data.touches.height
    10000
    >>> round(sum(data.truth["incremental_share"].values()), 9)
    1.0
    """
    params = _params(n_touches, seed, start, days, conversion_rate)
    sizes = _block_sizes(params.n_touches)
    blocks = _blocks(params, 0, len(sizes), sizes)
    truth = _Truth(params, len(sizes))
    truth.add(blocks)
    frames = _assemble(blocks, params, 0, shuffle)
    del blocks
    spend = _spend(params, int(truth.sums["accounts"]))
    won = int(frames["stages"].get_column("stage").eq("closed_won").sum())
    return SyntheticData(spend=spend, truth=truth.result(spend, won), **frames)


_KWARGS = {"start", "days", "conversion_rate"}


def write_synthetic(
    out_dir: str | os.PathLike[str],
    n_touches: int,
    *,
    seed: int = 7,
    shuffle: bool = True,
    fmt: Literal["parquet", "csv"] = "parquet",
    chunk_touches: int = 5_000_000,
    **kwargs: Any,
) -> dict[str, Path]:
    """Generate a synthetic world and write it to ``out_dir`` with bounded memory.

    Blocks of accounts are generated independently (each seeded from ``(seed, block)``)
    and appended chunk by chunk (``chunk_touches`` touches at a time, rounded to whole
    blocks of 36,000) to one file per table. Files are written under temporary names in
    ``out_dir`` and renamed when all are complete.

    Parameters
    ----------
    out_dir : str or PathLike
        Directory to write to (created if missing); existing files of the same names are
        replaced.
    n_touches : int
        Exact number of touch rows.
    seed : int, default 7
        Same seed, byte-identical files.
    shuffle : bool, default True
        Touch rows in random order within each chunk; ``False`` sorts each chunk's touches
        by timestamp (so the whole file is sorted when there is a single chunk).
    fmt : {"parquet", "csv"}, default "parquet"
        File format of the six tables (``truth.json`` is always JSON).
    chunk_touches : int, default 5_000_000
        Touches per chunk (rounded to whole blocks). One chunk is generated while the
        previous one is written, so peak memory is about two chunks: ~1.8 GB at 5M, ~0.5 GB
        at 1M, whatever ``n_touches`` is. The set of rows does not depend on it; their order
        does (touches are shuffled, or sorted, within each chunk).
    **kwargs
        ``start``, ``days`` and ``conversion_rate``, as in :func:`synthesize`.

    Returns
    -------
    dict of str to Path
        ``accounts``, ``contacts``, ``touches``, ``stages``, ``spend``, ``surveys`` and
        ``truth`` paths.

    Examples
    --------
    >>> import tempfile
    >>> paths = write_synthetic(tempfile.mkdtemp(), 5_000, seed=3)
    >>> sorted(paths)
    ['accounts', 'contacts', 'spend', 'stages', 'surveys', 'touches', 'truth']
    """
    unknown = set(kwargs) - _KWARGS
    if unknown:
        raise TypeError(
            f"write_synthetic() got unexpected keyword arguments {sorted(unknown)}; "
            f"accepted: {sorted(_KWARGS)}"
        )
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv'. Got {fmt!r} instead.")
    if isinstance(chunk_touches, bool) or not isinstance(chunk_touches, int) or chunk_touches < 1:
        raise ValueError(f"chunk_touches must be a positive int. Got {chunk_touches!r} instead.")
    params = _params(
        n_touches,
        seed,
        kwargs.get("start", "2025-01-01"),
        kwargs.get("days", 365),
        kwargs.get("conversion_rate", 0.04),
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sizes = _block_sizes(params.n_touches)
    per_chunk = max(1, chunk_touches // _BLOCK_TOUCHES)
    truth = _Truth(params, len(sizes))
    final = {name: out / f"{name}.{fmt}" for name in TABLES}
    final["truth"] = out / "truth.json"
    tag = f"{os.getpid()}.{uuid.uuid4().hex[:8]}"
    tmp = {name: p.with_name(f".{p.name}.{tag}.tmp") for name, p in final.items()}
    writers = {name: _Writer(tmp[name], fmt) for name in TABLES}
    won = 0
    # One background thread writes chunk k (compression, I/O: the GIL is released) while
    # chunk k + 1 is generated; at most two chunks are in memory at once.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synth-writer")
    pending: Future[None] | None = None

    def write_all(frames: dict[str, pl.DataFrame]) -> None:
        for name, frame in frames.items():
            writers[name].write(frame)

    try:
        for chunk, first in enumerate(range(0, len(sizes), per_chunk)):
            blocks = _blocks(params, first, min(per_chunk, len(sizes) - first), sizes)
            truth.add(blocks)
            frames = _assemble(blocks, params, chunk, shuffle)
            del blocks
            won += int(frames["stages"].get_column("stage").eq("closed_won").sum())
            if pending is not None:
                pending.result()
            pending = pool.submit(write_all, frames)
            del frames
        if pending is not None:
            pending.result()
        spend = _spend(params, int(truth.sums["accounts"]))
        writers["spend"].write(spend)
        for w in writers.values():
            w.close()
        tmp["truth"].write_text(json.dumps(truth.result(spend, won), indent=2) + "\n")
        for name in final:  # truth.json last: its presence means the set is complete
            os.replace(tmp[name], final[name])
    except BaseException:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                pending.result()
        for w in writers.values():
            with contextlib.suppress(Exception):
                w.close()
        for path in tmp.values():
            path.unlink(missing_ok=True)
        raise
    finally:
        pool.shutdown(wait=True)
    return final


_UNIQUE_COLUMNS = frozenset({"touch_id", "timestamp", "cost", "value", "amount", "employees"})


class _Writer:
    """Appends frames to one Parquet or CSV file."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt = path, fmt
        self._pq: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._csv: Any = None

    def write(self, frame: pl.DataFrame) -> None:
        if self.fmt == "parquet":
            # String views convert from Polars without a copy; without the stored Arrow
            # schema, every reader sees plain strings (and UTC timestamps) in the file.
            table = frame.to_arrow(compat_level=pl.CompatLevel.newest())
            if self._pq is None:
                self._schema = table.schema
                self._pq = pq.ParquetWriter(
                    self.path,
                    self._schema,
                    compression="zstd",
                    store_schema=False,
                    use_dictionary=[c for c in table.column_names if c not in _UNIQUE_COLUMNS],
                )
            elif table.schema != self._schema:
                table = table.cast(self._schema)
            self._pq.write_table(table)
        else:
            if self._csv is None:
                self._csv = open(self.path, "wb")  # noqa: SIM115 - closed in close()
                frame.write_csv(self._csv, include_header=True)
            else:
                frame.write_csv(self._csv, include_header=False)

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
            self._pq = None
        if self._csv is not None:
            self._csv.close()
            self._csv = None
