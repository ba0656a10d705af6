"""``attribution import ads``: Google Ads' "Campaign report" and LinkedIn Campaign Manager's
"Campaign Performance Report" (title lines above the header, ``Total:`` rows under the data,
no channel column) -> one spend table with the channel set by the importer; errors name the
file, the user's column and the lines; the total rows are counted drops."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from attribution import SchemaError, import_ads
from attribution.cli._app import app

GOOGLE = (
    "Campaign report\n"
    '"January 1, 2025 - January 2, 2025"\n'
    "Day,Campaign,Campaign state,Currency code,Cost,Impr.,Clicks,Conversions\n"
    "2025-01-01,gads_brand,Enabled,USD,68.90,324,12,0.66\n"
    '2025-01-02,gads_generic,Enabled,USD,"1,198.62","2,532",28,1.23\n'
    'Total: Account,,,USD,"1,267.52",,,\n'
    'Total: Campaigns,,,USD,"1,267.52",,,\n'
)
LINKEDIN = (
    "Campaign Performance Report (in UTC)\n"
    "Report Start: 01/01/2025, 12:00 AM\n"
    "Report End: 01/02/2025, 11:59 PM\n"
    "Date Generated: 01/05/2026, 9:14 AM\n"
    "Time Zone: UTC\n"
    "\n"
    "Start Date (in UTC),End Date (in UTC),Account Name,Currency,Campaign Name,Total Spent,"
    "Impressions,Clicks\n"
    "01/01/2025,01/01/2025,Acme SaaS,USD,li_abm,158.75,2041,13\n"
    "01/02/2025,01/02/2025,Acme SaaS,USD,li_demo,324.18,4602,26\n"
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_reports_become_one_spend_table_with_their_channels(tmp_path: Path) -> None:
    result = import_ads(
        google_ads=write(tmp_path / "g.csv", GOOGLE),
        linkedin_ads=write(tmp_path / "l.csv", LINKEDIN),
    )
    rows = result.spend.select("channel", "date", "campaign", "amount", "impressions").rows()
    assert rows == [
        ("google_ads", date(2025, 1, 1), "gads_brand", 68.90, 324),
        ("google_ads", date(2025, 1, 2), "gads_generic", 1198.62, 2532),
        ("linkedin", date(2025, 1, 1), "li_abm", 158.75, 2041),
        ("linkedin", date(2025, 1, 2), "li_demo", 324.18, 4602),
    ]
    drops = result.report["drops"]
    assert drops == [
        {"file": "google_ads", "reason": "the report's total row ('Total: ...')", "count": 2}
    ]
    assert result.report["files"]["google_ads"]["rows_read"] == 4
    assert result.report["spend"] == {"google_ads": 1267.52, "linkedin": 482.93}
    assert any("2 title line(s)" in n for n in result.report["notes"])
    assert any("6 title line(s)" in n for n in result.report["notes"])


def test_different_currencies_need_rates(tmp_path: Path) -> None:
    linkedin = write(tmp_path / "l.csv", LINKEDIN.replace(",USD,", ",EUR,"))
    google = write(tmp_path / "g.csv", GOOGLE)
    with pytest.raises(SchemaError, match=r"google_ads in USD, linkedin in EUR"):
        import_ads(google_ads=google, linkedin_ads=linkedin)
    rates = write(tmp_path / "rates.csv", "currency,rate\nUSD,1\nEUR,1.10\n")
    result = import_ads(google_ads=google, linkedin_ads=linkedin, currency_rates=rates)
    assert result.report["spend"]["linkedin"] == pytest.approx(482.93 * 1.10, abs=0.01)


def test_an_unreadable_cost_names_the_file_the_column_and_the_line(tmp_path: Path) -> None:
    google = write(tmp_path / "g.csv", GOOGLE.replace("68.90", "n/a spend"))
    with pytest.raises(SchemaError) as caught:
        import_ads(google_ads=google)
    text = str(caught.value)
    assert str(google) in text
    assert "'Cost'" in text
    assert "line(s) 4" in text  # the file's own line, title lines counted


def test_cli_writes_spend_that_a_run_reads(tmp_path: Path) -> None:
    out = tmp_path / "ads"
    result = CliRunner().invoke(
        app,
        ["import", "ads", "--google-ads", str(write(tmp_path / "g.csv", GOOGLE)),
         "--linkedin-ads", str(write(tmp_path / "l.csv", LINKEDIN)), "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"--spend {out / 'spend.parquet'}" in result.output
    assert json.loads((out / "import_report.json").read_text())["crm"] == "ads"
    spend = pl.read_parquet(out / "spend.parquet")
    assert spend.columns == [
        "channel", "date", "campaign", "amount", "impressions", "clicks", "currency"
    ]  # fmt: skip
    assert spend.get_column("currency").unique().to_list() == ["USD"]  # report 16 S1
    nothing = CliRunner().invoke(app, ["import", "ads", "--out", str(tmp_path / "x")])
    assert nothing.exit_code == 2
    assert "--google-ads" in nothing.output


def test_total_rows_are_dropped_whichever_column_holds_them(tmp_path: Path) -> None:
    """review19 #2: laid out Campaign first, Google's 'Total:' rows (their day blank) were
    kept as spend: google_ads 3,802.56 for 1,267.52, exit 0."""
    by_campaign = (
        "Campaign report\n"
        '"January 1, 2025 - January 2, 2025"\n'
        "Campaign,Day,Campaign state,Currency code,Cost,Impr.,Clicks\n"
        "gads_brand,2025-01-01,Enabled,USD,68.90,324,12\n"
        'gads_generic,2025-01-02,Enabled,USD,"1,198.62","2,532",28\n'
        'Total: Account,,,USD,"1,267.52",,\n'
        'Total: Campaigns,,,USD,"1,267.52",,\n'
        ',,,USD,"5.00",,\n'
    )
    result = import_ads(google_ads=write(tmp_path / "g.csv", by_campaign))
    assert result.spend.get_column("amount").sum() == pytest.approx(1267.52)
    drops = {d["reason"]: d["count"] for d in result.report["drops"]}
    assert drops["the report's total row ('Total: ...')"] == 2
    assert sum(c for r, c in drops.items() if "without a 'Day'" in r) == 1
