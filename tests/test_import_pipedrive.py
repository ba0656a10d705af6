"""``attribution import pipedrive``: Pipedrive's one-row-per-deal export -> stage events
(opportunity at creation, closed_won / closed_lost at the won / lost time), contacts keyed by
the lower-cased e-mail, accounts from the organization, times in ``--timezone``, currencies
through ``--currency-rates``; errors name the file, the user's column and the 1-based lines;
drops are counted. Fixtures are written as Pipedrive writes its exports (a BOM, CRLF, the
``Deal - `` headers, or the same headers without the prefix)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from attribution import ColumnNotFoundError, SchemaError, import_pipedrive
from attribution.cli._app import app
from attribution.inputs._reading import naive_zone

HEADER = [
    "Deal - ID", "Deal - Title", "Deal - Value", "Deal - Currency", "Deal - Stage",
    "Deal - Status", "Deal - Won time", "Deal - Lost time", "Deal - Deal created",
    "Deal - Owner", "Person - Email", "Person - Name", "Organization - Name",
]  # fmt: skip
ROWS = [
    ["1001", "Acme deal", "20000", "USD", "Closed Won", "won", "2025-03-21 19:26:15", "",
     "2025-01-26 22:22:11", "Maria K", "Ann.Lee@Acme.com", "Ann Lee", "Acme Inc"],
    ["1002", "Globex deal", "10000", "EUR", "Proposal Made", "lost", "", "2025-04-02 09:00:00",
     "2025-02-01 10:00:00", "Lee W", "bo@globex.com", "Bo", "Globex"],
    ["1003", "Initech deal", "5000", "USD", "Qualified", "open", "", "", "2025-05-05 08:00:00",
     "Lee W", "cy@initech.com", "Cy", "Initech"],
    ["1004", "Hooli deal", "7000", "EUR", "Closed Won", "Won", "2025-06-30 12:00:00", "",
     "2025-05-01 12:00:00", "Jonas B", " dee@hooli.com ", "Dee", "Hooli"],
]  # fmt: skip


def export(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """A CSV as Pipedrive writes it: a BOM, CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    return path


def rates(tmp_path: Path) -> Path:
    path = tmp_path / "rates.csv"
    path.write_text("currency,rate\nUSD,1\nEUR,1.08\n", encoding="utf-8")
    return path


def test_deals_become_stage_events_keyed_by_lower_cased_email(tmp_path: Path) -> None:
    deals = export(tmp_path / "deals.csv", HEADER, ROWS)
    result = import_pipedrive(deals, currency_rates=rates(tmp_path))
    stages = result.stages
    assert stages.group_by("stage").len().sort("stage").rows() == [
        ("closed_lost", 1), ("closed_won", 2), ("opportunity", 4),
    ]  # fmt: skip
    won = stages.filter(pl.col("stage") == "closed_won").sort("opportunity_id")
    assert won.get_column("contact_id").to_list() == ["ann.lee@acme.com", "dee@hooli.com"]
    assert won.get_column("account_id").to_list() == ["Acme Inc", "Hooli"]
    assert won.get_column("value").to_list() == pytest.approx([20000.0, 7000 * 1.08])
    # times without an offset are read as UTC by default, and the report says so
    assert won.get_column("timestamp").item(0) == datetime(2025, 3, 21, 19, 26, 15, tzinfo=UTC)
    report = result.report
    assert report["options"]["timezone"] == "UTC"
    assert any("read as UTC" in n and "--timezone" in n for n in report["notes"])
    assert report["counts"]["emails_lower_cased"] == 1
    assert report["currency"]["converted_from"] == {"USD": 2, "EUR": 2}
    assert report["value_mappings"]["deal_status"] == {
        "Won": "closed_won", "lost": "closed_lost", "open": "open", "won": "closed_won",
    }  # fmt: skip
    contacts = dict(result.contacts.select("contact_id", "account_id").iter_rows())
    assert contacts == {
        "ann.lee@acme.com": "Acme Inc", "bo@globex.com": "Globex", "cy@initech.com": "Initech",
        "dee@hooli.com": "Hooli",
    }  # fmt: skip
    assert result.touches.height == 0  # the touches come from a web-analytics import


def test_timezone_reads_pipedrive_times_in_the_users_zone(tmp_path: Path) -> None:
    deals = export(tmp_path / "deals.csv", HEADER, ROWS)
    with naive_zone("America/New_York"):
        result = import_pipedrive(deals, currency_rates=rates(tmp_path))
    won = result.stages.filter(pl.col("opportunity_id") == "1001", pl.col("stage") == "closed_won")
    # 19:26:15 in New York (EDT, UTC-4 on 21 March) is 23:26:15 UTC
    assert won.get_column("timestamp").item() == datetime(2025, 3, 21, 23, 26, 15, tzinfo=UTC)
    assert result.report["options"]["timezone"] == "America/New_York"
    assert not any("read as UTC" in n for n in result.report["notes"])


def test_export_without_the_deal_prefix_and_a_persons_export(tmp_path: Path) -> None:
    """Pipedrive's list export without the entity prefix, naming the person by id and name;
    the persons export gives the e-mail (by id, else by a name only one person has)."""
    deals = export(
        tmp_path / "deals.csv",
        ["ID", "Title", "Value", "Currency", "Status", "Won time", "Lost time", "Deal created",
         "Contact person", "Contact person ID", "Organization"],
        [["7", "A", "100", "USD", "won", "2025-02-01 10:00:00", "", "2025-01-01 10:00:00",
          "Ann Lee", "501", "Acme"],
         ["8", "B", "200", "USD", "won", "2025-02-02 10:00:00", "", "2025-01-02 10:00:00",
          "Bo Kim", "", "Globex"]],
    )  # fmt: skip
    persons = export(
        tmp_path / "persons.csv",
        ["Person - ID", "Person - Name", "Person - Email - Work", "Person - Organization"],
        [["501", "Ann Lee", "ANN@acme.com", "Acme"],
         ["502", "Bo Kim", "bo@globex.com", "Globex"],
         ["503", "Eve", "", "Globex"]],
    )  # fmt: skip
    result = import_pipedrive(deals, persons=persons)
    won = result.stages.filter(pl.col("stage") == "closed_won").sort("opportunity_id")
    assert won.get_column("contact_id").to_list() == ["ann@acme.com", "bo@globex.com"]
    assert result.report["counts"]["deals_email_from_persons"] == 2
    assert result.report["files"]["deals"]["columns"]["opportunity_id"] == "ID"
    assert result.report["drops"] == [
        {"file": "persons", "reason": "no e-mail in 'Person - Email - Work'", "count": 1}
    ]
    assert set(result.contacts.get_column("contact_id")) == {"ann@acme.com", "bo@globex.com"}


def test_drops_are_counted(tmp_path: Path) -> None:
    rows = [
        *ROWS[:1],
        ["", "no id", "1", "USD", "", "open", "", "", "2025-01-01 00:00:00", "", "x@y.com", "", ""],
        ["1010", "gone", "1", "USD", "", "deleted", "", "", "2025-01-01 00:00:00", "", "z@y.com",
         "", ""],
        ["1011", "nobody", "1", "USD", "", "open", "", "", "2025-01-01 00:00:00", "", "", "", ""],
        ["1012", "won, no time", "1", "USD", "", "won", "", "", "2025-01-01 00:00:00", "",
         "w@y.com", "", ""],
        ["", "", "", "", "", "", "", "", "", "", "", "", ""],
    ]  # fmt: skip
    result = import_pipedrive(export(tmp_path / "deals.csv", HEADER, rows))
    drops = {d["reason"]: d["count"] for d in result.report["drops"]}
    assert drops == {
        "blank row (every cell empty)": 1,
        "no deal id in 'Deal - ID'": 1,
        "deleted deal ('Deal - Status' deleted)": 1,
        "no person e-mail and no organization": 1,
    }
    # a won deal without a close time keeps its row (its opportunity event): counted and
    # noted, no dropped row (new-user report 22, M12), so read = kept + dropped
    assert result.report["counts"]["deals_closed_without_close_date"] == 1
    assert any("'1012'" in n for n in result.report["notes"])
    files = result.report["files"]["deals"]
    assert (files["rows_read"], files["rows_kept"]) == (6, 2)
    assert result.report["conversions_closed_won"] == 1


def test_a_closed_on_date_stands_in_for_a_blank_won_time(tmp_path: Path) -> None:
    deals = export(
        tmp_path / "deals.csv",
        ["Deal - ID", "Deal - Status", "Deal - Won time", "Deal - Deal closed on",
         "Deal - Deal created", "Person - Email", "Deal - Value"],
        [["1", "won", "", "2025-03-06", "2025-03-01 10:00:00", "a@b.com", "10"]],
    )  # fmt: skip
    won = import_pipedrive(deals).stages.filter(pl.col("stage") == "closed_won")
    # a date alone is the end of that day, as every importer reads a close date
    assert won.get_column("timestamp").item() == datetime(
        2025, 3, 6, 23, 59, 59, 999999, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("Deal - Status", "pending", "deal status(es) other than won, lost, open or deleted"),
        ("Deal - Won time", "next week", "cannot be read as a date/time"),
        ("Deal - Value", "12,5", "cannot be read as an amount"),
    ],
)
def test_errors_name_the_file_the_users_column_and_the_lines(
    tmp_path: Path, column: str, value: str, expected: str
) -> None:
    rows = [list(r) for r in ROWS]
    rows[2][HEADER.index(column)] = value  # file line 4 (the header is line 1)
    if column == "Deal - Won time":
        rows[2][HEADER.index("Deal - Status")] = "won"
    deals = export(tmp_path / "deals.csv", HEADER, rows)
    with pytest.raises(SchemaError) as caught:
        import_pipedrive(deals, currency_rates=rates(tmp_path))
    text = str(caught.value)
    assert expected in text
    assert str(deals) in text
    assert f"'{column}'" in text
    assert "line(s) 4" in text


def test_several_currencies_without_rates_name_the_lines(tmp_path: Path) -> None:
    with pytest.raises(SchemaError) as caught:
        import_pipedrive(export(tmp_path / "deals.csv", HEADER, ROWS))
    text = str(caught.value)
    assert "'Deal - Currency'" in text
    assert "(EUR 2, USD 2)" in text
    assert "rows not in EUR at file line(s) 2, 4" in text
    assert "--currency-rates" in text


def test_a_deals_file_without_ids_names_the_columns_looked_for(tmp_path: Path) -> None:
    deals = export(tmp_path / "deals.csv", ["Deal - Title", "Deal - Status"], [["A", "won"]])
    with pytest.raises(ColumnNotFoundError, match="no column for 'Deal - ID'"):
        import_pipedrive(deals)


def test_cli_writes_the_import_and_names_the_next_step(tmp_path: Path) -> None:
    deals = export(tmp_path / "deals.csv", HEADER, ROWS)
    out = tmp_path / "crm"
    args = ["import", "pipedrive", "--deals", str(deals), "--out", str(out)]
    result = CliRunner().invoke(
        app, [*args, "--currency-rates", str(rates(tmp_path)), "--timezone", "Europe/Berlin"]
    )
    assert result.exit_code == 0, result.output
    assert "closed-won deals: 2; next" in result.output
    assert "attribution import ga4" in result.output
    assert "--level account" in result.output
    report = json.loads((out / "import_report.json").read_text())
    assert report["crm"] == "pipedrive"
    assert report["options"]["timezone"] == "Europe/Berlin"
    assert pl.read_parquet(out / "stages.parquet").height == 7
    # several currencies without rates: exit 2, one line naming the file, no traceback
    failed = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "crm2")])
    assert failed.exit_code == 2
    assert "error:" in failed.output
    assert "Traceback" not in failed.output
    assert not (tmp_path / "crm2").exists()
    bad_zone = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "c3"), "--timezone", "NYC"])
    assert bad_zone.exit_code == 2
    assert "--timezone" in bad_zone.output


def _by_org_id(tmp_path: Path) -> Path:
    header = [*HEADER[:-1], "Deal - Organization ID"]
    rows = [[*row[:-1], oid] for row, oid in zip(ROWS, ["7", "8", "9", "7"], strict=True)]
    return export(tmp_path / "deals.csv", header, rows)


def test_an_organization_listed_twice_is_one_and_two_names_are_an_error(tmp_path: Path) -> None:
    """review19 #1: an organizations export listing one id twice was a Polars traceback."""
    deals = _by_org_id(tmp_path)
    orgs = export(tmp_path / "orgs.csv", ["Organization - ID", "Organization - Name"],
                  [["7", "Acme Inc"], ["8", "Globex"], ["7", "Acme Inc"], ["9", "Initech"]])
    result = import_pipedrive(deals, organizations=orgs, currency_rates=rates(tmp_path))
    assert set(result.contacts.get_column("account_id").drop_nulls()) == {
        "Acme Inc", "Globex", "Initech"}  # fmt: skip
    clash = export(tmp_path / "orgs2.csv", ["Organization - ID", "Organization - Name"],
                   [["7", "Acme Inc"], ["8", "Globex"], ["7", "Acme GmbH"]])
    with pytest.raises(SchemaError) as caught:
        import_pipedrive(deals, organizations=clash, currency_rates=rates(tmp_path))
    text = str(caught.value)
    assert "orgs2.csv" in text
    assert "two names" in text
    assert "2, 4" in text  # the file lines of id 7's rows
