"""Conversions sharing an opportunity id (one deal, several contacts at contact level): the
run counts them and the value counted more than once, says so in the manifest's notes and
the command line's summary, and suggests the account level (newuser report 8)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import attribution

TOUCHES = pl.DataFrame(
    {
        "timestamp": ["2025-02-01", "2025-02-03", "2025-02-05", "2025-02-07", "2025-02-09"],
        "channel": ["linkedin", "email", "webinar", "google_ads", "events"],
        "contact_id": ["c1", "c2", "c3", "c4", "c5"],
    }
)
# deal 5001 ($24,000) closes for c1 and c2, deal 5002 ($10,000) for c3 alone; c4 and c5
# close deal 5003 at different amounts (12,000 and 8,000)
STAGES = pl.DataFrame(
    {
        "timestamp": ["2025-03-01", "2025-03-01", "2025-03-02", "2025-03-03", "2025-03-03"],
        "stage": ["closed_won"] * 5,
        "contact_id": ["c1", "c2", "c3", "c4", "c5"],
        "opportunity_id": ["5001", "5001", "5002", "5003", "5003"],
        "value": [24000.0, 24000.0, 10000.0, 12000.0, 8000.0],
    }
)
CONTACTS = pl.DataFrame(
    {
        "contact_id": ["c1", "c2", "c3", "c4", "c5"],
        "account_id": ["a1", "a1", "a2", "a3", "a3"],
    }
)


def test_contact_level_counts_the_shared_deals_and_warns() -> None:
    result = attribution.attribute(TOUCHES, STAGES, models=["linear"])
    shared = result.manifest["shared_opportunities"]
    assert shared["opportunities"] == 2
    assert shared["conversions"] == 4
    assert shared["value_counted_more_than_once"] == pytest.approx(24000.0 + 8000.0)
    assert shared["value_credited_more_than_once"] == pytest.approx(24000.0 + 8000.0)
    assert shared["warning"] in result.manifest["notes"]
    assert "--level account" in shared["warning"]
    # the credit itself is unchanged: each contact's conversion carries the deal's value
    credited = result.channel_credit.get_column("value").sum()
    assert credited == pytest.approx(24000.0 * 2 + 10000.0 + 12000.0 + 8000.0)
    # less the value counted more than once: each deal once, at its largest amount
    assert credited - shared["value_credited_more_than_once"] == pytest.approx(
        24000.0 + 10000.0 + 12000.0
    )


def test_unattributed_conversions_count_but_are_not_credited() -> None:
    stages = STAGES.with_columns(
        pl.when(pl.col("contact_id") == "c2").then(pl.lit("nobody")).otherwise("contact_id")
        .alias("contact_id")
    )  # fmt: skip
    shared = attribution.attribute(TOUCHES, stages, models=["linear"]).manifest[
        "shared_opportunities"
    ]
    assert shared["value_counted_more_than_once"] == pytest.approx(24000.0 + 8000.0)
    assert shared["value_credited_more_than_once"] == pytest.approx(8000.0)


def test_no_shared_ids_no_warning_and_account_level_counts_deals_once() -> None:
    single = STAGES.filter(pl.col("contact_id").is_in(["c1", "c3"]))
    result = attribution.attribute(TOUCHES, single, models=["linear"])
    assert "shared_opportunities" not in result.manifest
    accounts = attribution.attribute(
        TOUCHES, STAGES.filter(pl.col("opportunity_id") != "5003"), contacts=CONTACTS,
        level="account", models=["linear"],
    )  # fmt: skip
    assert "shared_opportunities" not in accounts.manifest
    assert accounts.channel_credit.get_column("value").sum() == pytest.approx(34000.0)


def test_partitioned_run_says_the_same(tmp_path: Path) -> None:
    memory = attribution.attribute(TOUCHES, STAGES, models=["linear"])
    parted = attribution.attribute_partitioned(
        TOUCHES, STAGES, partitions=3, models=["linear"], workdir=tmp_path
    )
    assert parted.manifest["shared_opportunities"] == memory.manifest["shared_opportunities"]


@pytest.mark.slow
def test_cli_prints_the_warning(tmp_path: Path) -> None:
    TOUCHES.write_csv(tmp_path / "t.csv")
    STAGES.write_csv(tmp_path / "s.csv")
    proc = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "run", "--touches", "t.csv", "--stages",
         "s.csv", "-m", "linear", "--out", "runs"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, COLUMNS="200"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (
        "warning: 4 conversions share 2 opportunity id(s): each counts its deal's value, so "
        "32,000.00 of value is counted more than once (32,000.00 of it in the channel credit)"
    ) in proc.stdout
    (run,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["shared_opportunities"]["conversions"] == 4


def test_incremental_night_says_the_same(tmp_path: Path) -> None:
    # night 1 without c2's conversion; night 2 adds it (after the watermark): deal 5001 is
    # then shared by c1 (not re-opened) and c2 (re-opened), which the night must still see
    touches, stages = tmp_path / "t.parquet", tmp_path / "s.parquet"
    before = STAGES.filter(pl.col("contact_id") != "c2")
    after = pl.concat(
        [
            before,
            STAGES.filter(pl.col("contact_id") == "c2").with_columns(
                timestamp=pl.lit("2025-03-04")
            ),
        ]
    )
    TOUCHES.write_parquet(touches)
    before.write_parquet(stages)
    first = attribution.attribute_incremental(
        touches, stages, models=["linear"], state=tmp_path / "state"
    )
    assert first.manifest["shared_opportunities"]["opportunities"] == 1  # 5003
    after.write_parquet(stages)
    night = attribution.attribute_incremental(
        touches, stages, models=["linear"], state=tmp_path / "state"
    )
    assert night.manifest["parameters"]["incremental"]["mode"] != "full"
    full = attribution.attribute(TOUCHES, after, models=["linear"])
    assert full.manifest["shared_opportunities"]["opportunities"] == 2
    assert night.manifest["shared_opportunities"] == full.manifest["shared_opportunities"]
    assert full.manifest["shared_opportunities"]["warning"] in night.manifest["notes"]
