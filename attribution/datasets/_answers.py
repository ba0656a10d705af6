"""Survey answers of the synthetic world: who answers "How did you hear about us?", what they
name and the words they use.

Most winners and some open opportunities answer; the channel they name is drawn from what they
were exposed to (tracked or dark), weighted by how memorable it is; some answer "don't know",
some only tick the pick-list, and the free text is typed in every case.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attribution.datasets._world import DARK_CHANNELS, TRACKED_CHANNELS

# Survey: how memorable a channel is when a buyer answers "How did you hear about us?".
_MEMORABILITY = np.array(
    [1.0, 0.6, 3.0, 2.0, 1.5, 0.8, 0.8, 0.4, 1.2, 2.0, 0.1, 1.0]  # tracked
    + [3.0, 4.0, 2.5, 4.0]  # dark
)
_SURVEY_UNKNOWN_P = 0.13
_SURVEY_WON_P = 0.70
_SURVEY_OPEN_P = 0.40
_SURVEY_PICKLIST_NULL_P = 0.40
_SURVEY_TEXT_NULL_P = 0.08  # of answers with a pick-list value, share without free text

SURVEY_TEXT: dict[str, tuple[str, ...]] = {
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
    "outbound": (
        "a sales rep reached out", "your SDR", "cold call", "your rep called me",
        "a BDR reached out to us", "sales rep", "got a cold call from your team",
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
SURVEY_CATEGORIES: tuple[str, ...] = (*TRACKED_CHANNELS, *DARK_CHANNELS, "other")

#: Every phrase, category by category, and where each category's phrases start.
SURVEY_LIST = tuple(t for c in SURVEY_CATEGORIES for t in SURVEY_TEXT[c])
_SURVEY_LEN = np.array([len(SURVEY_TEXT[c]) for c in SURVEY_CATEGORIES])
_SURVEY_OFF = np.concatenate([[0], np.cumsum(_SURVEY_LEN)[:-1]])
#: Case codes of the free text (see the surveys frame): as typed, lower, upper, with a full
#: stop, with stray spaces; 5 = no free text, the pick-list only.
_CASE_CUM = np.array([0.65, 0.85, 0.88, 0.95])
_PICK_LIST_ONLY = 5


@dataclass(frozen=True)
class Answers:
    """Survey answers of one block: the answering contacts (block-local numbers) and codes."""

    contact: np.ndarray
    text: np.ndarray  # row of SURVEY_LIST
    case: np.ndarray
    pick: np.ndarray  # row of SURVEY_CATEGORIES, -1 for no pick-list value


def draw_answers(
    rng: np.random.Generator,
    won: np.ndarray,
    open_or_lost: np.ndarray,
    exposed: np.ndarray,
    dark: np.ndarray,
) -> Answers:
    """Who answers and what: ``won`` / ``open_or_lost`` contacts (opportunity reached, not won)
    answer with their own probabilities; ``exposed`` / ``dark`` are (contact, channel)."""
    nc = won.size
    asked = (won & (rng.random(nc) < _SURVEY_WON_P)) | (
        open_or_lost & (rng.random(nc) < _SURVEY_OPEN_P)
    )
    q = np.flatnonzero(asked)
    expo = np.concatenate([exposed[q], dark[q]], axis=1) * _MEMORABILITY
    qcum = np.cumsum(expo, axis=1)
    qdraw = rng.random(q.size) * qcum[:, -1]
    category = np.minimum((qcum < qdraw[:, None]).sum(axis=1), expo.shape[1] - 1)
    category = np.where(
        rng.random(q.size) < _SURVEY_UNKNOWN_P, len(SURVEY_CATEGORIES) - 1, category
    )
    text = _SURVEY_OFF[category] + rng.integers(0, 1 << 30, q.size) % _SURVEY_LEN[category]
    case = np.searchsorted(_CASE_CUM, rng.random(q.size), "right")
    pick = np.where(rng.random(q.size) < _SURVEY_PICKLIST_NULL_P, -1, category)
    # Some buyers only tick the pick-list and leave the free text empty.
    text_only_pick = (pick >= 0) & (rng.random(q.size) < _SURVEY_TEXT_NULL_P)
    case = np.where(text_only_pick, _PICK_LIST_ONLY, case)
    return Answers(contact=q, text=text, case=case, pick=pick)
