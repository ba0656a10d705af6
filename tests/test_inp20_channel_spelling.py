"""inp20 item 2 (a German user): touches written `Google Ads` were the channel `google ads`
while `attribution import` and the taxonomy write `google_ads`, so a spend sheet of one
spelling met touches of the other and no spend met a touch. A channel's words are joined by
one `_` whatever separates them (spaces, hyphens, underscores), in touches, spend and the
channel aliases, in memory and per partition (one function); stage names keep theirs."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import attribution
from attribution.cli import app
from attribution.inputs._channels import check_channel_aliases, spell_channel

TOUCHES = """\
contact_id;channel;timestamp
c1;Google Ads;2025-02-01T09:00:00Z
c1;LinkedIn;2025-02-03T09:00:00Z
c2;google-ads;2025-02-02T09:00:00Z
c3;Paid  Social;2025-02-02T09:00:00Z
c4;E-Mail;2025-02-05T09:00:00Z
"""
STAGES = """\
contact_id;stage;timestamp;value
c1;closed_won;2025-03-01T12:00:00Z;1000
c2;closed_won;2025-03-02T12:00:00Z;2000
c3;closed_won;2025-03-02T12:00:00Z;3000
c4;closed_won;2025-03-03T12:00:00Z;500
"""
SPEND = """\
channel,month,amount
google_ads,2025-02,1000
linkedin,2025-02,500
paid_social,2025-02,300
"""


@pytest.mark.parametrize(
    ("written", "spelled"),
    [("Google Ads", "google_ads"), ("google-ads", "google_ads"), ("Google_Ads ", "google_ads"),
     ("Paid \u00a0- Social", "paid_social"), ("linkedin", "linkedin"), ("E-Mail", "e_mail")],
)  # fmt: skip
def test_one_spelling_whatever_joins_the_words(written: str, spelled: str) -> None:
    assert spell_channel(written) == spelled


def test_aliases_are_spelled_alike() -> None:
    assert check_channel_aliases({"Google Ads": ["AdWords", "google-adwords"]}) == {
        "adwords": "google_ads", "google_adwords": "google_ads"}  # fmt: skip


@pytest.mark.parametrize("partitions", [None, "2"])
def test_spend_of_import_spelling_meets_touches_of_a_german_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, partitions: str | None
) -> None:
    for name, text in (("t.csv", TOUCHES), ("s.csv", STAGES), ("spend.csv", SPEND)):
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    args = ["run", "--touches", "t.csv", "--stages", "s.csv", "--spend", "spend.csv",
            "-m", "linear", "--out", "runs"]  # fmt: skip
    if partitions:
        args += ["--partitions", partitions]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    rec = json.loads((run / "manifest.json").read_text())["reconciliation"]
    assert rec["touch_channels"] == ["e_mail", "google_ads", "linkedin", "paid_social"]
    econ = pl.read_parquet(run / "economics.parquet").filter(
        (pl.col("model") == "linear") & (pl.col("segment") == "all"))  # fmt: skip
    status = dict(econ.select("channel", "status").iter_rows())
    assert status["google_ads"] == status["paid_social"] == "paid"  # the spend met its touches
    assert "no_touches" not in status.values()
    customers = dict(econ.select("channel", "customers").iter_rows())
    assert customers["google_ads"] == pytest.approx(1.5)  # c1's half and c2's whole


def test_stage_names_keep_their_spaces() -> None:
    touches = pl.DataFrame({"contact_id": ["c1"], "channel": ["Google Ads"],
                            "timestamp": ["2025-02-01T09:00:00Z"]})  # fmt: skip
    stages = pl.DataFrame({"contact_id": ["c1"], "stage": ["Closed Won"],
                           "timestamp": ["2025-03-01T09:00:00Z"]})  # fmt: skip
    with pytest.raises(attribution.EmptyResultError):  # 'Closed Won' is not closed_won
        attribution.attribute(touches, stages, models=["linear"])
