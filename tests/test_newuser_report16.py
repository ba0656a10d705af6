"""New-user report 16 (a UK growth lead: HubSpot deals and ad reports in GBP), S1: both imports
said "deal amounts in GBP", yet the run they print next, a config's ``[inputs] import = DIR``
and an HTTP run reported every CAC, LTV and revenue in dollars (manifest ``currency``: USD
from the default), exit 0. The imports now write the amounts' one currency beside them (a
``currency`` column in ``stages.parquet`` and ``spend.parquet``), so any run on them takes it
as the data's currency."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from attribution import import_ads, import_salesforce
from attribution.cli._app import app
from attribution.inputs._channels import unmatched_channels
from attribution.inputs._reading import naive_zone
from tests.test_import_ads import GOOGLE, LINKEDIN, write
from tests.test_importers_crm_exports import _members, _multi_opps


def _gbp_import(tmp_path: Path) -> Path:
    crm = tmp_path / "crm"
    import_salesforce(_members(tmp_path), _multi_opps(tmp_path, ("GBP", "gbp ")), out=crm)
    return crm


def test_a_crm_import_writes_its_one_currency_beside_the_amounts(tmp_path: Path) -> None:
    stages = pl.read_parquet(_gbp_import(tmp_path) / "stages.parquet")
    assert stages.get_column("currency").unique().to_list() == ["GBP"]
    # converted by the rates: the reporting currency (rate 1)
    rates = write(tmp_path / "rates.csv", "currency,rate\nUSD,1\nEUR,1.08\nGBP,1.27\n")
    usd = import_salesforce(_members(tmp_path), _multi_opps(tmp_path), currency_rates=rates)
    assert usd.stages.get_column("currency").unique().to_list() == ["USD"]
    # no currency column in the export: the currency is unknown, no column is made up
    plain = import_salesforce(_members(tmp_path), _multi_opps(tmp_path, ("",)))
    assert "currency" not in plain.stages.columns


def test_ad_reports_write_their_one_currency(tmp_path: Path) -> None:
    gbp = (GOOGLE.replace(",USD,", ",GBP,"), LINKEDIN.replace(",USD,", ",GBP,"))
    both = import_ads(google_ads=write(tmp_path / "g.csv", gbp[0]),
                      linkedin_ads=write(tmp_path / "l.csv", gbp[1]))  # fmt: skip
    assert both.spend.get_column("currency").unique().to_list() == ["GBP"]
    # a report without a currency column beside one with: the spend's currency is unknown
    bare = LINKEDIN.replace("Currency,", "").replace(",USD,", ",")
    mixed = import_ads(google_ads=write(tmp_path / "g2.csv", gbp[0]),
                       linkedin_ads=write(tmp_path / "l2.csv", bare))  # fmt: skip
    assert "currency" not in mixed.spend.columns


def test_runs_on_the_imports_report_in_their_currency(tmp_path: Path) -> None:
    crm = _gbp_import(tmp_path)
    ads = tmp_path / "ads"
    import_ads(
        google_ads=write(tmp_path / "g.csv", GOOGLE.replace(",USD,", ",GBP,")),
        linkedin_ads=write(tmp_path / "l.csv", LINKEDIN.replace(",USD,", ",GBP,")),
        out=ads,
    )
    cli = CliRunner().invoke(
        app,
        ["run", "--touches", str(crm / "touches.parquet"), "--stages", str(crm / "stages.parquet"),
         "--contacts", str(crm / "contacts.parquet"), "--level", "account",
         "--spend", str(ads / "spend.parquet"), "-m", "linear", "--out", str(tmp_path / "runs")],
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    config = tmp_path / "run.toml"
    config.write_text(
        f'[inputs]\nimport = "{crm}"\nspend = "{ads / "spend.parquet"}"\n'
        f'[run]\nmodels = ["linear"]\nout = "{tmp_path / "runs2"}"\n'
    )
    by_config = CliRunner().invoke(app, ["run", "-c", str(config)])
    assert by_config.exit_code == 0, by_config.output
    for runs, output in ((tmp_path / "runs", cli.output), (tmp_path / "runs2", by_config.output)):
        (run,) = runs.glob("2*")
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["currency"] == {"code": "GBP", "sign": "£", "from": "data"}
        assert re.search(r"£\d", output)
        # no amount written in dollars but the published (USD) ranges, labelled so (M8)
        dollars = [x for x in output.splitlines() if re.search(r"\$\d", x)]
        assert [x for x in dollars if "(published ranges, USD" not in x] == [], dollars


def test_the_end_of_day_note_names_the_zone_the_dates_were_read_in(tmp_path: Path) -> None:
    """M6: with --timezone Europe/London the close dates are London's end of day (a BST date
    is 22:59:59.999999 UTC), but the note said '23:59:59.999999 UTC'."""
    with naive_zone("Europe/London"):
        result = import_salesforce(_members(tmp_path), _multi_opps(tmp_path, ("GBP",)))
    (note,) = [n for n in result.report["notes"] if "no time of day" in n]
    assert "(23:59:59.999999 Europe/London)" in note
    won = result.stages.filter(pl.col("stage") == "closed_won").get_column("timestamp")
    assert won.dt.strftime("%H:%M").to_list() == ["23:59"]  # 20 March: GMT, no shift
    (utc,) = [n for n in import_salesforce(_members(tmp_path), _multi_opps(tmp_path, ("GBP",)))
              .report["notes"] if "no time of day" in n]  # fmt: skip
    assert "(23:59:59.999999 UTC)" in utc


def test_a_platforms_spend_is_offered_the_crms_channel_family() -> None:
    """M1: `import ads` spends on `linkedin`, HubSpot's sources file the same ads under
    `paid_social`: the unmatched spend channel said 'no touch has this channel' with no
    did-you-mean, and her biggest channel (57% of spend) judged nothing."""
    touches = ["paid_social", "paid_search", "organic_search", "organic_social", "direct"]
    hints = unmatched_channels(["linkedin", "google_ads", "Facebook Ads", "billboard"], touches)
    assert hints["linkedin"].startswith("did you mean 'paid_social'?")
    assert 'paid_social = ["linkedin"]' in hints["linkedin"]
    assert hints["google_ads"].startswith("did you mean 'paid_search'?")
    assert hints["Facebook Ads"].startswith("did you mean 'paid_social'?")
    assert "organic" not in hints["linkedin"]  # never an unpaid channel for paid money
    assert hints["billboard"].startswith("no touch has this channel")
    # the platform's own name still comes first when the touches have it
    assert unmatched_channels(["LinkedIn Ads"], ["linkedin", "paid_social"])[
        "LinkedIn Ads"
    ].startswith("did you mean 'linkedin' or 'paid_social'?")


def test_converted_reports_carry_the_reporting_currency_unless_one_is_unknown(
    tmp_path: Path,
) -> None:
    """With --currency-rates each report's amounts are in the reporting currency (rate 1);
    a report without a currency column stays unknown, whichever file comes last."""
    rates = write(tmp_path / "rates.csv", "currency,rate\nUSD,1\nEUR,1.10\n")
    google = write(tmp_path / "g.csv", GOOGLE)
    euros = write(tmp_path / "l.csv", LINKEDIN.replace(",USD,", ",EUR,"))
    converted = import_ads(google_ads=google, linkedin_ads=euros, currency_rates=rates)
    assert converted.spend.get_column("currency").unique().to_list() == ["USD"]
    bare = write(tmp_path / "g2.csv", GOOGLE.replace("Currency code,", "").replace(",USD,", ","))
    unknown = import_ads(google_ads=bare, linkedin_ads=euros, currency_rates=rates)
    assert "currency" not in unknown.spend.columns
