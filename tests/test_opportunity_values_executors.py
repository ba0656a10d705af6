"""A won row without a value takes its deal's amount from an earlier stage event of the
same opportunity *and the same entity* (contact, or account at account level), so the
in-memory and partitioned runs agree however the entities fall into partitions (the
partitioned run holds one entity's stage events together, not one opportunity's)."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

import attribution


def _data(n: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    touches, stages, contacts = [], [], []
    for i in range(n):
        a, b = f"a{i}", f"b{i}"
        day = 1 + i % 20
        touches += [
            {"contact_id": a, "timestamp": datetime(2025, 1, day, 9), "channel": "linkedin"},
            {"contact_id": b, "timestamp": datetime(2025, 1, day, 10), "channel": "email"},
            {"contact_id": a, "timestamp": datetime(2025, 2, day, 9), "channel": "webinar"},
        ]
        # the amount is on b's opportunity event, the bare win on a's; deal i also has a
        # contact c whose own opportunity event carries the amount
        c = f"c{i}"
        touches.append(
            {"contact_id": c, "timestamp": datetime(2025, 1, day, 11), "channel": "events"}
        )
        stages += [
            {"contact_id": b, "timestamp": datetime(2025, 2, day + 1), "stage": "opportunity",
             "opportunity_id": f"O{i}", "value": 1000.0 + i},
            {"contact_id": a, "timestamp": datetime(2025, 3, day + 1), "stage": "closed_won",
             "opportunity_id": f"O{i}", "value": None},
            {"contact_id": c, "timestamp": datetime(2025, 2, day + 1), "stage": "opportunity",
             "opportunity_id": f"O{i}", "value": 1000.0 + i},
            {"contact_id": c, "timestamp": datetime(2025, 3, day + 1), "stage": "closed_won",
             "opportunity_id": f"O{i}", "value": None},
        ]
        contacts += [{"contact_id": x, "account_id": f"acc{i}"} for x in (a, b, c)]
    return (
        pl.DataFrame(touches),
        pl.DataFrame(stages, schema_overrides={"value": pl.Float64}),
        pl.DataFrame(contacts),
    )


def _values(result: attribution.AttributionResult, key: str) -> dict[str, float]:
    return dict(result.conversions.select(key, "value").iter_rows())


def test_contact_level_takes_only_the_contacts_own_opportunity_amount() -> None:
    touches, stages, _ = _data(3)
    res = attribution.attribute(touches, stages, models=["linear"])
    values = _values(res, "contact_id")
    # c has its own opportunity event: its amount; a's amount is on another contact's row
    assert values == {"a0": 0.0, "a1": 0.0, "a2": 0.0, "c0": 1000.0, "c1": 1001.0, "c2": 1002.0}
    rec = res.manifest["reconciliation"]
    assert rec["conversions_value_from_opportunity"] == 3
    assert rec["conversions_without_value"] == 3


@pytest.mark.parametrize("level", ["contact", "account"])
def test_partitioned_run_gives_the_in_memory_values(level: str) -> None:
    touches, stages, contacts = _data(40)
    kw = {"contacts": contacts, "level": level} if level == "account" else {}
    memory = attribution.attribute(touches, stages, models=["linear"], **kw)
    parted = attribution.attribute_partitioned(
        touches, stages, partitions=8, models=["linear"], **kw
    )
    key = "account_id" if level == "account" else "contact_id"
    assert _values(parted, key) == _values(memory, key)
    if level == "account":
        # at account level the amount on a colleague's opportunity event is the account's
        assert sum(_values(memory, key).values()) > 0
    got = parted.channel_credit.sort("model", "channel")
    want = memory.channel_credit.sort("model", "channel")
    assert got.get_column("value").to_list() == pytest.approx(want.get_column("value").to_list())
    for name in ("conversions_value_from_opportunity", "conversions_without_value"):
        assert parted.manifest["reconciliation"][name] == memory.manifest["reconciliation"][name]
