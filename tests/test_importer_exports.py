"""CRM importers on exports as real users make them (new-user report 2): European amounts,
custom and localised deal stages, ids Excel turned into scientific notation, date-only close
dates, company names spelled several ways, source values without their dates. Each test
writes a small export shaped like the real one and checks the import's answer or error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from attribution import InputError, import_hubspot, import_salesforce

ROOT = Path(__file__).resolve().parents[1]
SF = ROOT / "tests" / "fixtures" / "salesforce"

#: a Salesforce Opportunity report (amounts as a German / French Excel writes them)
_OPP_HEADER = "Opportunity ID,Account ID,Stage,Amount,Close Date,Created Date,Won,Closed\n"
#: a HubSpot deals export's header
_DEALS = "Record ID,Deal Stage,Create Date,Close Date,Amount,Associated Contact IDs\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _opportunities(tmp_path: Path, amounts: list[str]) -> Path:
    rows = [
        f'006A{i:011d},001A{i:011d},Closed Won,"{a}",2025-07-01,2025-05-01 09:00,1,1\n'
        for i, a in enumerate(amounts)
    ]
    return _write(tmp_path / "Opp.csv", _OPP_HEADER + "".join(rows))


def _sf_amounts(tmp_path: Path, amounts: list[str], **kw: object) -> list[float]:
    result = import_salesforce(
        SF / "CampaignMember.csv",
        _opportunities(tmp_path, amounts),
        campaigns=SF / "Campaign.csv",
        **kw,  # type: ignore[arg-type]
    )
    won = result.stages.filter(pl.col("stage") == "closed_won").sort("opportunity_id")
    return won.get_column("value").to_list()


# ---------------------------------------------------------------- amounts (defect 2)
def test_amounts_with_a_decimal_point_and_comma_groups_are_read(tmp_path: Path) -> None:
    got = _sf_amounts(tmp_path, ["24,000.00", "$1,500.50", "1,000,000", "700", "12 000", "0.99"])
    assert got == [24000.0, 1500.5, 1000000.0, 700.0, 12000.0, 0.99]


@pytest.mark.parametrize("amount", ["24.000,00", "1,5", "0,99", "1,50", "12 000,00", "12,345,6"])
def test_a_decimal_comma_is_an_error_by_default_never_a_misread_amount(
    tmp_path: Path, amount: str
) -> None:
    with pytest.raises(InputError) as caught:
        _sf_amounts(tmp_path, ["100", amount])
    text = str(caught.value)
    assert "Opp.csv" in text
    assert "column 'Amount'" in text
    assert "cannot be read as an amount" in text
    assert "line(s) 3" in text
    assert "--decimal-comma" in text


def test_decimal_comma_reads_european_amounts(tmp_path: Path) -> None:
    got = _sf_amounts(
        tmp_path,
        ["24.000,00", "1,5", "0,99", "12 000,00", "1.234", "1.000.000,5", "700"],
        decimal_comma=True,
    )
    assert got == [24000.0, 1.5, 0.99, 12000.0, 1234.0, 1000000.5, 700.0]


@pytest.mark.parametrize("amount", ["24,000.00", "12,345,6", "1.5", "1.23.456"])
def test_decimal_comma_refuses_a_dot_decimal_amount(tmp_path: Path, amount: str) -> None:
    with pytest.raises(InputError, match=r"line\(s\) 3.*without --decimal-comma"):
        _sf_amounts(tmp_path, ["100", amount], decimal_comma=True)


def test_a_dot_before_three_digits_is_ambiguous_unless_the_column_says(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"'1\.234'.*read either way.*line\(s\) 3"):
        _sf_amounts(tmp_path, ["100", "1.234"])
    # another amount with a decimal point (or comma groups) says the dot is a decimal point
    assert _sf_amounts(tmp_path, ["100.50", "1.234"]) == [100.5, 1.234]
    assert _sf_amounts(tmp_path, ["1,000", "1.234"]) == [1000.0, 1.234]


def test_decimal_comma_on_the_command_line(tmp_path: Path) -> None:
    opp = _opportunities(tmp_path, ["24.000,00", "1,5"])
    base = [sys.executable, "-m", "attribution.cli", "import", "salesforce"]
    args = ["--campaign-members", str(SF / "CampaignMember.csv"), "--opportunities", str(opp)]
    args += ["--campaigns", str(SF / "Campaign.csv")]
    bad = subprocess.run(
        [*base, *args, "--out", str(tmp_path / "a")], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 2, bad.stderr
    assert "Traceback" not in bad.stderr
    assert "--decimal-comma" in bad.stderr
    good = subprocess.run(
        [*base, *args, "--decimal-comma", "--out", str(tmp_path / "b")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert good.returncode == 0, good.stderr
    stages = pl.read_parquet(tmp_path / "b" / "stages.parquet")
    won = stages.filter(pl.col("stage") == "closed_won").sort("opportunity_id")
    assert won.get_column("value").to_list() == [24000.0, 1.5]


# --------------------------------------------- HubSpot source values without a date (defect 29)
def test_source_values_without_their_date_are_counted_and_noted(tmp_path: Path) -> None:
    contacts = _write(
        tmp_path / "c.csv",
        "Record ID,Create Date,Original Source,Latest Source,Latest Source Date\n"
        "51001,3/1/2025 7:41 AM,Paid Search,Email Marketing,\n"
        "51002,,Paid Search,,\n"
        "51003,3/1/2025 7:41 AM,,,\n",
    )
    deals = _write(
        tmp_path / "d.csv",
        "Record ID,Deal Stage,Create Date,Close Date,Amount,Associated Contact IDs\n"
        "7000,Closed Won,3/6/2025 10:00 AM,3/9/2025,1000,51001\n"
        "7001,Closed Won,,3/9/2025,1000,51002\n",
    )
    result = import_hubspot(contacts, deals)
    assert result.touches.height == 1  # 51001's original source: the only dated source
    report = result.report
    assert report["counts"]["original_source_without_date"] == 1  # 51002
    assert report["counts"]["latest_source_without_date"] == 1  # 51001
    notes = " | ".join(report["notes"])
    assert "1 original source value(s) in 'Original Source' have no date in 'Create Date'" in notes
    assert (
        "1 latest source value(s) in 'Latest Source' have no date in 'Latest Source Date'" in notes
    )
    # a deal without a create date is kept (its close too): said so, not counted as dropped
    assert report["counts"]["deals_without_create_date"] == 1
    assert "1 deal(s) without a create date in 'Create Date': no opportunity event" in notes
    assert not [d for d in report["drops"] if "create date" in d["reason"]]
    won = result.stages.filter(pl.col("stage") == "closed_won")
    assert sorted(won.get_column("opportunity_id").to_list()) == ["7000", "7001"]


def test_a_source_column_without_a_date_column_is_counted(tmp_path: Path) -> None:
    contacts = _write(
        tmp_path / "c.csv",
        "Record ID,Create Date,Original Source,Latest Source\n"
        "51001,3/1/2025 7:41 AM,Paid Search,Email Marketing\n"
        "51002,3/1/2025 7:41 AM,Paid Search,Referrals\n",
    )
    deals = _write(
        tmp_path / "d.csv", _DEALS + "7000,Closed Won,3/6/2025 10:00 AM,3/9/2025,1,51001\n"
    )
    report = import_hubspot(contacts, deals).report
    assert report["counts"]["latest_source_without_date"] == 2
    assert any(
        "2 latest source value(s) in 'Latest Source' have no date column" in n
        for n in report["notes"]
    )


# ----------------------------------------------- HubSpot company names as accounts (defect 20)
def _named(tmp_path: Path, deal_company: str) -> dict[str, object]:
    contacts = _write(
        tmp_path / "c.csv",
        "Record ID,Create Date,Original Source,Associated Company\n"
        "51001,3/1/2025 7:41 AM,Paid Search,Acme Inc\n"
        "51002,3/2/2025 7:41 AM,Email Marketing,acme inc \n"
        "51003,3/2/2025 7:41 AM,Referrals,Globex GmbH\n",
    )
    deals = _write(
        tmp_path / "d.csv",
        _DEALS.replace("\n", ",Associated Company\n")
        + f'7000,Closed Won,3/6/2025 10:00 AM,3/9/2025,1000,51001,"{deal_company}"\n'
        + "7001,Closed Won,3/6/2025 10:00 AM,3/19/2025,1000,51003,GLOBEX\n",
    )
    result = import_hubspot(contacts, deals)
    return {
        "contacts": dict(result.contacts.select("contact_id", "account_id").iter_rows()),
        "deals": dict(
            result.stages.filter(pl.col("stage") == "closed_won")
            .select("opportunity_id", "account_id")
            .iter_rows()
        ),
        "report": result.report,
    }


def test_company_names_spelled_differently_are_one_account(tmp_path: Path) -> None:
    got = _named(tmp_path, "ACME, Inc.")
    assert got["contacts"] == {"51001": "Acme Inc", "51002": "Acme Inc", "51003": "Globex GmbH"}
    assert got["deals"] == {"7000": "Acme Inc", "7001": "Globex GmbH"}
    report = got["report"]
    assert isinstance(report, dict)
    assert report["counts"]["company_name_spellings_merged"] == 3  # acme inc, ACME, Inc., GLOBEX
    assert report["counts"]["deal_companies_without_contacts"] == 0
    assert report["counts"]["deals_with_contacts_of_other_companies"] == 0
    notes = " | ".join(report["notes"])
    assert "3 company name spelling(s) are read as another's company" in notes
    assert "'ACME, Inc.' = 'Acme Inc'" in notes


def test_a_deal_company_no_contact_has_is_counted_and_noted(tmp_path: Path) -> None:
    got = _named(tmp_path, "Acme Holdings")
    assert got["deals"] == {"7000": "Acme Holdings", "7001": "Globex GmbH"}
    report = got["report"]
    assert isinstance(report, dict)
    assert report["counts"]["deal_companies_without_contacts"] == 1
    # its contact 51001 is of Acme Inc: at account level its touches miss the deal
    assert report["counts"]["deals_with_contacts_of_other_companies"] == 1
    notes = " | ".join(report["notes"])
    assert "1 deal company name(s) match no contact's company ('Acme Holdings')" in notes
    assert "deal '7000' of 'Acme Holdings', contact '51001' of 'Acme Inc'" in notes


def test_the_companies_file_maps_names_compared_folded(tmp_path: Path) -> None:
    contacts = _write(
        tmp_path / "c.csv",
        "Record ID,Create Date,Original Source,Associated Company\n"
        "51001,3/1/2025 7:41 AM,Paid Search,ACME Inc.\n",
    )
    deals = _write(
        tmp_path / "d.csv",
        _DEALS.replace("\n", ",Associated Company\n")
        + "7000,Closed Won,3/6/2025 10:00 AM,3/9/2025,1000,51001,acme\n",
    )
    companies = _write(tmp_path / "co.csv", 'Record ID,Company name\n900,"Acme, Inc"\n')
    result = import_hubspot(contacts, deals, companies=companies)
    assert result.contacts.get_column("account_id").to_list() == ["900"]
    won = result.stages.filter(pl.col("stage") == "closed_won")
    assert won.get_column("account_id").to_list() == ["900"]


# ----------------------------------------------- date-only close dates, counted (defect 13)
def test_date_only_close_dates_and_closes_before_creation_are_counted(tmp_path: Path) -> None:
    contacts = _write(
        tmp_path / "c.csv",
        "Record ID,Create Date,Original Source\n51001,3/1/2025 7:41 AM,Paid Search\n",
    )
    deals = _write(
        tmp_path / "d.csv",
        _DEALS
        + "7000,Closed Won,3/6/2025 10:00 AM,3/6/2025,1000,51001\n"  # date only: end of 3/6
        + "7001,Closed Won,3/6/2025 10:00 AM,3/7/2025 9:00 AM,1000,51001\n"  # has a time
        + "7002,Closed Lost,3/6/2025 10:00 AM,3/2/2025,1000,51001\n",  # before its creation
    )
    result = import_hubspot(contacts, deals)
    counts = result.report["counts"]
    assert counts["close_dates_end_of_day"] == 2
    assert counts["deals_closed_before_created"] == 1
    notes = " | ".join(result.report["notes"])
    assert "deals: 2 close date(s) in 'Close Date' have no time of day" in notes
    assert "deals: 1 won / lost deal(s) close before their own create date" in notes
    won = result.stages.filter(pl.col("opportunity_id") == "7000").sort("timestamp")
    assert won.get_column("stage").to_list() == ["opportunity", "closed_won"]


def test_salesforce_close_dates_are_counted(tmp_path: Path) -> None:
    result = import_salesforce(
        SF / "CampaignMember.csv",
        _opportunities(tmp_path, ["100", "200"]),
        campaigns=SF / "Campaign.csv",
    )
    assert result.report["counts"]["close_dates_end_of_day"] == 2
    assert result.report["counts"]["deals_closed_before_created"] == 0


# ------------------------------------------- a deal id on several rows (defect 14, second half)
def test_a_deal_id_repeated_with_other_values_is_counted_and_noted(tmp_path: Path) -> None:
    contacts = _write(
        tmp_path / "c.csv",
        "Record ID,Create Date,Original Source\n51001,3/1/2025 7:41 AM,Paid Search\n",
    )
    deals = _write(
        tmp_path / "d.csv",
        _DEALS
        + "45678,Closed Won,3/6/2025 10:00 AM,3/9/2025,1000,51001\n"
        + "45678,Closed Won,3/7/2025 10:00 AM,3/10/2025,2000,51001\n"
        + "7001,Closed Won,3/6/2025 10:00 AM,3/9/2025,1000,51001\n"
        + "7001,Closed Won,3/6/2025 10:00 AM,3/9/2025,1000,51001\n",  # the same row twice
    )
    report = import_hubspot(contacts, deals).report
    assert report["counts"]["deals_ids_repeated"] == 2
    assert report["counts"]["deals_ids_repeated_with_other_values"] == 1
    notes = " | ".join(report["notes"])
    assert "deals: 1 id(s) in 'Record ID' are on several rows with different values" in notes
    assert "'45678'" in notes


def test_salesforce_repeated_opportunity_ids_are_counted(tmp_path: Path) -> None:
    opp = _opportunities(tmp_path, ["100", "200"])
    text = opp.read_text().replace("006A00000000001", "006A00000000000")
    result = import_salesforce(
        SF / "CampaignMember.csv", _write(opp, text), campaigns=SF / "Campaign.csv"
    )
    assert result.report["counts"]["opportunities_ids_repeated_with_other_values"] == 1
