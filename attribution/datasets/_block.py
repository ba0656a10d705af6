"""One block of the synthetic world, drawn from its own random stream.

A block is a fixed number of touches (``BLOCK_TOUCHES``; the last block of a world holds the
rest) with its accounts, contacts, stage events and survey answers; it is drawn from
``(seed, TAG_BLOCK, block index)`` alone, and its identifiers are numbered from fixed block
offsets, so the rows do not depend on how blocks are grouped into chunks. The draws run in one
fixed order on one generator (accounts, contacts, journeys, funnel, touch attributes,
answers, sales follow-up touches, subscriptions): reordering them would change every row after
the first moved draw. ``BLOCK_TOUCHES`` counts the marketing touches; the sales follow-up
touches come on top, numbered after them in the block's identifier range.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from attribution.datasets._accounts import Accounts, Contacts, draw_accounts, draw_contacts
from attribution.datasets._answers import draw_answers
from attribution.datasets._deals import Funnel, draw_funnel, stage_rows
from attribution.datasets._holdout import TAG_HOLDOUT, BlockHoldout, Holdout, assign, readout
from attribution.datasets._sales import draw_sales_touches
from attribution.datasets._subscriptions import draw_subscriptions
from attribution.datasets._touches import Journeys, draw_journeys, draw_touch_attributes
from attribution.datasets._truth import block_stats
from attribution.datasets._world import (
    BLOCK_ACCOUNTS,
    BLOCK_CONTACTS,
    BLOCK_TOUCHES,
    CAMPAIGNS,
    CH_INDEX,
    CHANNEL_LIFT,
    CONTACTS_PER_ACCOUNT,
    DARK_LIFT,
    INTENT_COEF,
    MAX_SALES_TOUCHES,
    ORPHAN_SHARE,
    ROLE_EFFECT,
    SEGMENT_EFFECT,
    STAGES,
    TAG_BLOCK,
    TOUCHES_PER_CONTACT,
    TRACKED_CHANNELS,
    US_PER_DAY,
)

if TYPE_CHECKING:
    from attribution.datasets._calibration import Params

_OPPORTUNITY = STAGES.index("opportunity")
#: Identifiers of a block's touches: marketing touches first, then its sales touches.
TOUCH_ID_STRIDE = BLOCK_TOUCHES + BLOCK_CONTACTS * MAX_SALES_TOUCHES
_SALES_CHANNEL_CODE = len(TRACKED_CHANNELS)  # one past the tracked channels
_SALES_CAMPAIGN_CODE = len(CAMPAIGNS)  # one past the campaigns
_NO_OWNER = -1
#: The window length of the calibration draws (which have no parameters).
_CALIBRATION_DAYS = 365.0


@dataclass(frozen=True)
class Block:
    """Numeric arrays of one block (global ids are integers, strings come later)."""

    # accounts
    acc_id: np.ndarray
    acc_industry: np.ndarray
    acc_metro: np.ndarray
    acc_region: np.ndarray
    acc_employees: np.ndarray
    acc_segment: np.ndarray
    acc_name: np.ndarray  # (n, 3)
    # contacts
    con_id: np.ndarray
    con_acc: np.ndarray  # global account number, -1 for none
    con_role: np.ndarray
    con_title: np.ndarray
    # touches (contact then time order)
    t_id: np.ndarray
    t_contact: np.ndarray
    t_account: np.ndarray
    t_us: np.ndarray
    t_channel: np.ndarray
    t_campaign: np.ndarray
    t_type: np.ndarray
    t_cost: np.ndarray
    t_owner: np.ndarray  # row of OWNER_TEAMS, -1 for none
    # stages
    s_contact: np.ndarray
    s_account: np.ndarray
    s_opp: np.ndarray  # -1 for none
    s_stage: np.ndarray
    s_us: np.ndarray
    s_value: np.ndarray  # nan for none
    # surveys
    q_contact: np.ndarray
    q_account: np.ndarray
    q_opp: np.ndarray
    q_us: np.ndarray
    q_text: np.ndarray
    q_case: np.ndarray
    q_pick: np.ndarray  # category index, -1 for null
    # subscriptions (account then month order)
    sub_account: np.ndarray
    sub_month: np.ndarray  # months since 1970-01
    sub_mrr: np.ndarray
    # truth accumulators (additive over blocks)
    stats: dict[str, Any]


def block_sizes(n_touches: int) -> list[int]:
    """Touches of each block of a world of ``n_touches``."""
    full, rest = divmod(n_touches, BLOCK_TOUCHES)
    return [BLOCK_TOUCHES] * full + ([rest] if rest else [])


def block_shape(n_touches: int) -> tuple[int, int, int]:
    """(accounts, contacts, orphan contacts) of a block with ``n_touches`` touches."""
    contacts = max(1, min(n_touches, round(n_touches / TOUCHES_PER_CONTACT)))
    orphans = round(contacts * ORPHAN_SHARE)
    if contacts - orphans < 1:
        orphans = 0
    accounts = max(1, min(round(contacts / CONTACTS_PER_ACCOUNT), contacts - orphans))
    return accounts, contacts, orphans


def draw_exposures(
    rng: np.random.Generator, nt: int, days: float = _CALIBRATION_DAYS
) -> tuple[Accounts, Contacts, Journeys, np.ndarray]:
    """The first draws of a block: its accounts, contacts, their touches, and the contacts'
    conversion logits ``eta`` (all but the stage intercept). The calibration stops here."""
    na, nc, n_orphan = block_shape(nt)
    accounts = draw_accounts(rng, na)
    contacts = draw_contacts(rng, accounts, nc, n_orphan)
    journeys = draw_journeys(rng, contacts, nt, days)
    eta = (
        SEGMENT_EFFECT[contacts.segment]
        + ROLE_EFFECT[contacts.role]
        + INTENT_COEF * contacts.intent
        + journeys.exposed @ CHANNEL_LIFT
        + contacts.dark @ DARK_LIFT
    )
    return accounts, contacts, journeys, eta


def draw_block(rng: np.random.Generator, index: int, nt: int, params: Params) -> Block:
    """Draw block number ``index`` (``nt`` touches) from ``rng``; with ``params.holdout``,
    the account holdouts applied, or only read out (:mod:`attribution.datasets._holdout`)."""
    na, nc, n_orphan = block_shape(nt)
    accounts, contacts, journeys, eta = draw_exposures(rng, nt, float(params.days))
    held = test_funnel = None
    if params.holdout is not None:
        held = assign(
            params.holdout,
            np.random.default_rng([params.seed, TAG_HOLDOUT, index]),
            contacts.account,
            contacts.has_account,
            journeys.tc,
            journeys.channel,
            journeys.t_day,
            journeys.exposed,
        )
        if params.holdout.applied:
            eta = eta - held.eta_loss
            journeys = replace(journeys, exposed=held.exposed)
        else:  # the test's world, drawn with the same random numbers, for its readout only
            twin = np.random.Generator(type(rng.bit_generator)())
            twin.bit_generator.state = rng.bit_generator.state
            test_funnel = draw_funnel(
                twin,
                params.thresholds,
                eta - held.eta_loss,
                replace(journeys, exposed=held.exposed),
                contacts.segment,
            )
    funnel = draw_funnel(rng, params.thresholds, eta, journeys, contacts.segment)
    touch = draw_touch_attributes(
        rng, journeys.channel, funnel.k_lead, funnel.level >= 1, params.type_cost
    )
    answers = draw_answers(rng, funnel.won, funnel.level == 4, journeys.exposed, contacts.dark)
    sales = draw_sales_touches(
        rng, funnel, contacts.region, contacts.segment, float(params.days)
    )
    stages = stage_rows(funnel)
    first_month = np.datetime64(params.start_us, "us").astype("datetime64[M]")

    def month_of(days: np.ndarray) -> np.ndarray:
        at = (params.start_us + np.round(days * US_PER_DAY).astype(np.int64)).astype("M8[us]")
        months: np.ndarray = (at.astype("M8[M]") - first_month).astype(np.int64)
        return months

    won = np.flatnonzero(funnel.won & contacts.has_account)
    subs = draw_subscriptions(
        rng,
        accounts.segment,
        contacts.account[won],
        month_of(funnel.t_close[won]),
        funnel.final[won] / 12.0,
        int(month_of(np.array([params.days - 1e-6]))[0]),
    )

    # Global ids from fixed block offsets: independent of chunking, dense, unique.
    acc_off = index * BLOCK_ACCOUNTS
    con_acc = np.where(contacts.has_account, contacts.account + acc_off + 1, -1)
    con_id = np.arange(nc) + index * BLOCK_CONTACTS + 1
    q = answers.contact
    # Outbound prospecting touches are the SDR team of the account's region.
    outbound = journeys.channel == CH_INDEX["outbound"]
    owner = np.where(outbound, contacts.region[journeys.tc], _NO_OWNER)
    t_contact = np.concatenate([journeys.tc, sales.contact])

    def us(days: np.ndarray) -> np.ndarray:
        return params.start_us + np.round(days * US_PER_DAY).astype(np.int64)

    block = Block(
        acc_id=np.arange(na) + acc_off + 1,
        acc_industry=accounts.industry,
        acc_metro=accounts.metro,
        acc_region=accounts.region,
        acc_employees=accounts.employees,
        acc_segment=accounts.segment,
        acc_name=accounts.name,
        con_id=con_id,
        con_acc=con_acc,
        con_role=contacts.role,
        con_title=contacts.title,
        t_id=np.concatenate(
            [np.arange(nt), BLOCK_TOUCHES + np.arange(sales.contact.size)]
        )
        + index * TOUCH_ID_STRIDE
        + 1,
        t_contact=con_id[t_contact],
        t_account=con_acc[t_contact],
        t_us=np.concatenate([params.start_us + journeys.t_us_rel, us(sales.day)]),
        t_channel=np.concatenate(
            [journeys.channel, np.full(sales.contact.size, _SALES_CHANNEL_CODE)]
        ),
        t_campaign=np.concatenate(
            [touch.campaign, np.full(sales.contact.size, _SALES_CAMPAIGN_CODE)]
        ),
        t_type=np.concatenate([touch.touch_type, sales.touch_type]),
        t_cost=np.concatenate([touch.cost, np.zeros(sales.contact.size)]),
        t_owner=np.concatenate([owner, sales.owner]),
        s_contact=con_id[stages.contact],
        s_account=con_acc[stages.contact],
        s_opp=np.where(stages.stage >= _OPPORTUNITY, con_id[stages.contact], -1),
        s_stage=stages.stage,
        s_us=us(stages.day),
        s_value=stages.value,
        q_contact=con_id[q],
        q_account=con_acc[q],
        q_opp=con_id[q],
        q_us=us(funnel.t_survey[q]),
        q_text=answers.text,
        q_case=answers.case,
        q_pick=answers.pick,
        sub_account=subs.account + acc_off + 1,
        sub_month=subs.month + first_month.astype(np.int64),
        sub_mrr=subs.mrr,
        stats=block_stats(
            thresholds=params.thresholds,
            eta=eta,
            exposed=journeys.exposed,
            dark=contacts.dark,
            reached=funnel.reached(),
            shape=(na, nc, n_orphan, nt),
            touches_by_channel=np.bincount(journeys.channel, minlength=len(TRACKED_CHANNELS)),
            surveys=int(q.size),
            sales_touches=int(sales.contact.size),
            base_customers=subs.base_accounts,
            subscription_rows=int(subs.account.size),
        ),
    )
    if held is None or params.holdout is None:
        return block
    if test_funnel is not None:  # the shipped world is the one without the test
        stats = dict(block.stats)
        stats["holdout"] = readout(
            params.holdout,
            held,
            account=contacts.account,
            has_account=contacts.has_account,
            won=test_funnel.won,
            t_close=test_funnel.t_close,
            days=params.days,
            logit=params.thresholds[4] + eta,
            exposed=journeys.exposed,
            channel=journeys.channel,
        )
        return replace(block, stats=stats)
    return _held_out(block, held, params.holdout, contacts, funnel, eta, params, journeys)


def _held_out(
    block: Block,
    held: BlockHoldout,
    holdout: Holdout,
    contacts: Contacts,
    funnel: Funnel,
    eta: np.ndarray,
    params: Params,
    journeys: Journeys,
) -> Block:
    """``block`` without the touches its holdouts removed, with the tests' readout and the
    touch counts of what is left in its statistics."""
    keep = np.concatenate([~held.removed, np.ones(block.t_id.size - held.removed.size, bool)])
    touches = {name: getattr(block, name)[keep] for name in _TOUCH_FIELDS}
    stats = dict(block.stats)
    stats["touches"] = int(stats["touches"] - held.removed.sum())
    stats["touches_by_channel"] = np.bincount(
        journeys.channel[~held.removed], minlength=len(TRACKED_CHANNELS)
    )
    stats["holdout"] = readout(
        holdout,
        held,
        account=contacts.account,
        has_account=contacts.has_account,
        won=funnel.won,
        t_close=funnel.t_close,
        days=params.days,
        logit=params.thresholds[4] + eta,
        exposed=held.exposed,
        channel=journeys.channel,
    )
    return replace(block, stats=stats, **touches)


_TOUCH_FIELDS = (
    "t_id",
    "t_contact",
    "t_account",
    "t_us",
    "t_channel",
    "t_campaign",
    "t_type",
    "t_cost",
    "t_owner",
)


def draw_blocks(params: Params, first: int, count: int, sizes: list[int]) -> list[Block]:
    """Blocks ``first`` to ``first + count - 1`` of the world of ``params``."""
    return [
        draw_block(np.random.default_rng([params.seed, TAG_BLOCK, i]), i, sizes[i], params)
        for i in range(first, first + count)
    ]
