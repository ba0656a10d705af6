"""Accounts and contacts of one block: firmographics, buying-committee roles, intent and
exposure to the dark funnel.

Every account has at least one contact; a few contacts (``ORPHAN_SHARE``) belong to none and
come last. Intent is shared within an account (plus each contact's own), and raises both the
number of touches and the conversion logit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from attribution.datasets._world import (
    DARK_CHANNELS,
    DARK_RATE,
    INDUSTRIES,
    METRO_REGION,
    METROS,
    NAME_CORE,
    NAME_FIRST,
    NAME_SUFFIX,
    REGIONS,
    ROLE_P,
    ROLES,
    SEGMENT_CONTACT_WEIGHT,
    SEGMENT_CUM,
    TITLE_LEN,
    TITLE_OFF,
)


@dataclass(frozen=True)
class Accounts:
    """One block's accounts (codes into the world's tables)."""

    industry: np.ndarray
    metro: np.ndarray
    region: np.ndarray  # from the metro
    segment: np.ndarray
    employees: np.ndarray
    name: np.ndarray  # (n, 3): first word, core word, suffix
    intent: np.ndarray


@dataclass(frozen=True)
class Contacts:
    """One block's contacts; ``account`` is the block-local account number, -1 for none."""

    account: np.ndarray
    has_account: np.ndarray
    segment: np.ndarray  # their account's (smb for contacts without one)
    region: np.ndarray  # their account's (for contacts without one: by contact number)
    role: np.ndarray
    title: np.ndarray  # row of TITLE_LIST
    intent: np.ndarray
    dark: np.ndarray  # (contact, dark channel): exposed or not
    dark_any: np.ndarray


def draw_accounts(rng: np.random.Generator, na: int) -> Accounts:
    """``na`` accounts: industry, metro, segment, employees (by segment) and a name."""
    industry_p = np.array([p for _, p in INDUSTRIES])
    metro_p = np.array([p for _, p in METROS])
    industry = rng.choice(industry_p.size, na, p=industry_p / industry_p.sum())
    metro = rng.choice(metro_p.size, na, p=metro_p / metro_p.sum())
    segment = np.searchsorted(SEGMENT_CUM, rng.random(na), side="right")
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
            rng.integers(0, len(NAME_FIRST), na),
            rng.integers(0, len(NAME_CORE), na),
            rng.integers(0, len(NAME_SUFFIX), na),
        ],
        axis=1,
    )
    intent = rng.standard_normal(na)
    return Accounts(industry, metro, METRO_REGION[metro], segment, employees, name, intent)


def draw_contacts(rng: np.random.Generator, accounts: Accounts, nc: int, n_orphan: int) -> Contacts:
    """``nc`` contacts, ``n_orphan`` of them without an account; bigger accounts get more."""
    na = accounts.segment.size
    n_assigned = nc - n_orphan
    acc_w = SEGMENT_CONTACT_WEIGHT[accounts.segment] * rng.gamma(2.0, 0.5, na)
    per_acc = 1 + rng.multinomial(n_assigned - na, acc_w / acc_w.sum())
    account = np.concatenate([np.repeat(np.arange(na), per_acc), np.full(n_orphan, -1)])
    has_account = account >= 0
    segment = np.where(has_account, accounts.segment[np.maximum(account, 0)], 0)
    region = np.where(
        has_account, accounts.region[np.maximum(account, 0)], np.arange(nc) % len(REGIONS)
    )
    role = rng.choice(len(ROLES), nc, p=ROLE_P)
    title = TITLE_OFF[role] + rng.integers(0, 1 << 30, nc) % TITLE_LEN[role]
    intent = 0.6 * np.where(has_account, accounts.intent[np.maximum(account, 0)], 0.0)
    intent = intent + 0.8 * rng.standard_normal(nc)
    dark = rng.random((nc, len(DARK_CHANNELS))) < DARK_RATE
    return Contacts(
        account=account,
        has_account=has_account,
        segment=segment,
        region=region,
        role=role,
        title=title,
        intent=intent,
        dark=dark,
        dark_any=np.asarray(dark.any(axis=1)),
    )
