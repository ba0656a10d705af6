"""A lookback per segment meets a Data Loader accounts table (18-character Salesforce ids)
from an import's touches and stages (15-character ids), as the rest of the run does
(Accounts.lookup): the segment's window is applied, not the default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

import attribution

START = datetime(2024, 1, 1, tzinfo=UTC)
ENTERPRISE, SMB = "0015g00000AbCdE", "0015g00000XyZwV"  # an import's 15-character ids


def at(day: float) -> datetime:
    return START + timedelta(days=day)


@pytest.mark.parametrize("partitions", [None, 2])
def test_a_segment_lookback_meets_18_character_account_ids(partitions: int | None) -> None:
    # two contacts converting on day 400, touched 50, 150 and 300 days before
    rows = [
        (f"t{c}{i}", c, account, ch, at(400 - back))
        for c, account in (("e", ENTERPRISE), ("s", SMB))
        for i, (ch, back) in enumerate((("email", 50), ("webinar", 150), ("linkedin", 300)))
    ]
    touches = pl.DataFrame(
        rows, schema=["touch_id", "contact_id", "account_id", "channel", "timestamp"],
        orient="row",
    )  # fmt: skip
    stages = pl.DataFrame(
        {"contact_id": ["e", "s"], "account_id": [ENTERPRISE, SMB],
         "stage": ["closed_won"] * 2, "timestamp": [at(400)] * 2, "value": [100.0] * 2}
    )  # fmt: skip
    # Data Loader's Account.csv: the same accounts under their 18-character ids
    accounts = pl.DataFrame(
        {"account_id": [ENTERPRISE + "AAA", SMB + "AAB"], "segment": ["enterprise", "smb"]}
    )
    kwargs = {"partitions": partitions} if partitions else {}
    run = attribution.attribute_partitioned if partitions else attribution.attribute
    result = run(
        touches,
        stages,
        models=["linear"],
        accounts=accounts,
        lookback={"enterprise": "365d", "smb": "100d", "default": "200d"},
        **kwargs,
    )
    credit = result.touch_credit
    got = {
        cid: set(group.get_column("channel"))
        for (cid,), group in credit.partition_by("conversion_id", as_dict=True).items()
    }
    assert got["e#1"] == {"email", "webinar", "linkedin"}  # enterprise: 365 days (default: 200)
    assert got["s#1"] == {"email"}  # smb: 100 days (default: 200 would keep the webinar)
