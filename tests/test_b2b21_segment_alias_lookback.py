"""The lookback per segment reads a user's segment names as the published ones, by the
economics' one rule (b2b/_segment_aliases.read_as): an accounts table segmented ``KMU`` /
``Konzern`` took the level's single window for every account under ``--lookback segments``,
and ``lookback = {enterprise = "365d"}`` was an error ('no account has') though every
Konzern account is an enterprise one."""

from __future__ import annotations

import polars as pl
import pytest
from conftest import at

import attribution
from attribution.exceptions import InputError

ACCOUNTS = pl.DataFrame(
    {"account_id": ["A", "B", "C"], "segment": ["KMU", "Konzern", "Großunternehmen"]}
)


def _world() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Contacts k (KMU), g (Konzern), u (Großunternehmen) convert on day 400; their touches
    50, 150 and 300 days before it."""
    rows = [
        (f"{c}{i}", c, a, ch, at(400 - back))
        for c, a in (("k", "A"), ("g", "B"), ("u", "C"))
        for i, (ch, back) in enumerate((("email", 50), ("webinar", 150), ("linkedin", 300)))
    ]
    touches = pl.DataFrame(
        rows, schema=["touch_id", "contact_id", "account_id", "channel", "timestamp"],
        orient="row",
    )  # fmt: skip
    stages = pl.DataFrame(
        {"contact_id": ["k", "g", "u"], "stage": ["closed_won"] * 3, "timestamp": [at(400)] * 3,
         "value": [100.0] * 3}
    )  # fmt: skip
    return touches, stages


def _journeys(lookback) -> dict[str, set[str]]:
    touches, stages = _world()
    result = attribution.attribute(
        touches, stages, models=["linear"], accounts=ACCOUNTS, lookback=lookback
    )
    tc = result.touch_credit
    return {
        cid: set(group.get_column("channel"))
        for (cid,), group in tc.partition_by("conversion_id", as_dict=True).items()
    }


def test_the_default_windows_read_the_users_segment_names() -> None:
    got = _journeys("segments")
    assert got["k#1"] == {"email"}  # KMU as smb: 90 days
    assert got["g#1"] == {"email", "webinar", "linkedin"}  # Konzern as enterprise: 365 days
    assert got["u#1"] == {"email", "webinar", "linkedin"}  # Großunternehmen likewise


def test_a_published_name_in_the_lookback_reaches_its_aliases() -> None:
    got = _journeys({"enterprise": "200d"})  # was: no account has the segment 'enterprise'
    assert got["g#1"] == {"email", "webinar"}
    assert got["u#1"] == {"email", "webinar"}
    assert got["k#1"] == {"email"}  # smb's default 90 days


def test_the_users_own_name_wins_over_its_published_one() -> None:
    got = _journeys({"kmu": "200d"})
    assert got["k#1"] == {"email", "webinar"}  # kmu's own 200 days, not smb's 90


def test_a_typo_is_still_an_error() -> None:
    with pytest.raises(InputError, match="no account has") as info:
        _journeys({"enterprize": "200d"})
    assert info.value.option == "lookback"
