"""New-user report 22, import side: S1 (one '€' among unsigned amounts), S2 (HubSpot's
multi-select Buying Role), M3 ('TBD' in Amount), M16 (an amount typo 100,000x the median).
On copies of the HubSpot UI fixture with one cell edited."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import attribution
from attribution.cli import app

ROOT = Path(__file__).resolve().parents[1]
HS = ROOT / "tests" / "fixtures" / "hubspot_ui"


def _copy(tmp_path: Path, name: str, edit: Callable[[str], str]) -> Path:
    """The fixture's export ``name`` with its text edited."""
    path = tmp_path / name
    path.write_text(edit((HS / name).read_text()))
    return path


def _won(result: attribution.ImportResult) -> dict[str, float]:
    won = result.stages.filter(pl.col("stage") == "closed_won")
    return dict(won.select("opportunity_id", "value").unique().iter_rows())


# ---------------------------------------------------------------- S1: one '€' among plain
def test_one_signed_amount_among_unsigned_ones_is_an_error_naming_its_line(tmp_path) -> None:
    deals = _copy(tmp_path, "deals.csv", lambda t: t.replace(",8000,", ',"€8,000",'))
    with pytest.raises(attribution.SchemaError) as caught:
        attribution.import_hubspot(HS / "contacts.csv", deals)
    text = str(caught.value)
    assert "deals.csv" in text
    assert "'Amount'" in text
    assert "1 amount(s) written with a currency (EUR: e.g. '€8,000') among 4 written without" \
        in text
    assert "at file line(s) 3:" in text  # the € deal's file line
    assert "remove the sign" in text
    # the CLI: exit 2, one line, nothing written
    out = tmp_path / "crm"
    cli = CliRunner().invoke(app, ["import", "hubspot", "--contacts", str(HS / "contacts.csv"),
                                   "--deals", str(deals), "--out", str(out)])  # fmt: skip
    assert cli.exit_code == 2, cli.output
    assert "Traceback" not in cli.output
    assert not out.exists()


def test_one_unsigned_amount_among_signed_ones_names_the_unsigned_line(tmp_path) -> None:
    deals = _copy(tmp_path, "deals.csv", lambda t: re.sub(
        r",(\d+),(2025-)", r',"€\1",\2', t).replace('"€8000"', "8000"))  # fmt: skip
    with pytest.raises(attribution.SchemaError) as caught:
        attribution.import_hubspot(HS / "contacts.csv", deals)
    assert "1 amount(s) written without a currency among 4 written with one (EUR" \
        in str(caught.value)
    assert "at file line(s) 3:" in str(caught.value)


def test_signed_amounts_read_when_every_amount_or_a_currency_column_names_one(
    tmp_path,
) -> None:
    every = _copy(tmp_path, "deals.csv",
                  lambda t: re.sub(r",(\d+),(2025-)", r',"€\1",\2', t))  # fmt: skip
    result = attribution.import_hubspot(HS / "contacts.csv", every)
    assert result.report["currency"]["currency"] == "EUR"
    assert _won(result)["5001"] == 24000.0
    # a currency column names the unsigned amounts' currency: the rules of a currency
    # column (here two currencies without rates: an error naming them, not a misread)
    column = _copy(tmp_path, "deals.csv", lambda t: re.sub(
        r"^(.*)$", r"\1,Currency", t, count=1, flags=re.M,
    ).replace(",8000,", ',"€8,000",').replace("Sales Pipeline\n", "Sales Pipeline,USD\n")
        .replace("103,9002,Sales Pipeline,USD", "103,9002,Sales Pipeline,"))
    with pytest.raises(attribution.SchemaError, match=r"2 currencies by 'Currency'"):
        attribution.import_hubspot(HS / "contacts.csv", column)
    # a '$' names no currency: '$8,000' among plain amounts reads as before
    dollar = _copy(tmp_path, "deals.csv", lambda t: t.replace(",8000,", ',"$8,000",'))
    plain = attribution.import_hubspot(HS / "contacts.csv", dollar)
    assert plain.report["currency"]["currency"] is None
    assert "currency" not in plain.stages.columns


# ---------------------------------------------------------------- S2: multi-select roles
def test_a_multi_select_buying_role_reads_as_its_highest_role(tmp_path) -> None:
    contacts = _copy(tmp_path, "contacts.csv", lambda t: t.replace(
        ",Champion,", ',Champion;Decision maker,').replace(",End user,", ',"End user; Champion",')
        .replace(",Influencer,", ",Influencer;Growth hacker,"))  # fmt: skip
    result = attribution.import_hubspot(contacts, HS / "deals.csv")
    roles = dict(result.contacts.select("contact_id", "role").iter_rows())
    assert roles["102"] == "decision_maker"  # was 'unknown'
    assert roles["103"] == "champion"
    assert roles["104"] == "influencer"  # its recognised role kept
    assert roles["101"] == "decision_maker"
    mapping = result.report["value_mappings"]["role"]
    assert mapping["Champion;Decision maker"] == "decision_maker"
    # a role nothing maps is counted and named
    assert result.report["counts"]["roles_not_recognised"] == 1
    note = next(n for n in result.report["notes"] if "not recognised" in n)
    assert "'Influencer;Growth hacker' (1)" in note
    assert "'Buying Role'" in note
    clean = attribution.import_hubspot(HS / "contacts.csv", HS / "deals.csv")
    assert clean.report["counts"]["roles_not_recognised"] == 0
    assert not any("not recognised" in n for n in clean.report["notes"])


# ---------------------------------------------------------------- M3: 'TBD' in Amount
def test_a_word_in_an_amount_is_not_called_a_currency_code(tmp_path) -> None:
    deals = _copy(tmp_path, "deals.csv", lambda t: t.replace(",8000,", ",TBD,"))
    with pytest.raises(attribution.SchemaError) as caught:
        attribution.import_hubspot(HS / "contacts.csv", deals)
    text = str(caught.value)
    assert "currency code" not in text
    assert "'TBD' is not a number: write the amount, or leave the cell blank" in text
    assert "at file line(s) 3." in text
    # a sign not read is still named as one (a code: the doctest of _amount_hints)
    rupee = _copy(tmp_path, "deals.csv", lambda t: t.replace(",8000,", ',"₹8,000",'))
    with pytest.raises(attribution.SchemaError, match="'₹' is a currency sign"):
        attribution.import_hubspot(HS / "contacts.csv", rupee)


# ---------------------------------------------------------------- M16: an amount typo
def test_an_amount_far_above_the_median_is_named_with_its_line(tmp_path) -> None:
    deals = _copy(tmp_path, "deals.csv", lambda t: t.replace(",12000,", ",1200000000,"))
    result = attribution.import_hubspot(HS / "contacts.csv", deals)
    assert result.report["counts"]["amounts_over_100x_median"] == 1
    note = next(n for n in result.report["notes"] if "median" in n)
    assert "'1200000000' (1,200,000,000.00) at file line(s) 4" in note
    assert "above 100x the median amount (8,000.00)" in note
    plain = attribution.import_hubspot(HS / "contacts.csv", HS / "deals.csv")
    assert plain.report["counts"]["amounts_over_100x_median"] == 0
    assert not any("median" in n for n in plain.report["notes"])


# ---------------------------------------------------------------- M1, M2, M7, M15: dates, lines
def test_a_day_no_month_has_is_named_not_a_pattern_to_try(tmp_path) -> None:
    contacts = _copy(tmp_path, "contacts.csv", lambda t: t.replace(
        "2025-01-15 08:00,2025-01-15 08:30", "8/32/2025 9:47 AM,2025-01-15 08:30"))  # fmt: skip
    with pytest.raises(attribution.SchemaError) as caught:
        attribution.import_hubspot(contacts, HS / "deals.csv")
    text = str(caught.value)
    assert "'8/32/2025 9:47 AM', at file line(s) 3" in text
    assert "32 is no day of August 2025 (it has 31): the value is not a date, correct it" in text
    assert "try --timestamp-format" not in text


def test_a_time_the_spring_forward_skips_is_named_as_such(tmp_path) -> None:
    from attribution.inputs._reading import naive_zone

    contacts = _copy(tmp_path, "contacts.csv", lambda t: t.replace(
        "2025-01-15 08:00,2025-01-15 08:30", "3/9/2025 2:30 AM,2025-01-15 08:30"))  # fmt: skip
    with naive_zone("America/New_York"), pytest.raises(attribution.SchemaError) as caught:
        attribution.import_hubspot(contacts, HS / "deals.csv")
    text = str(caught.value)
    assert "at file line(s) 3" in text
    assert "'3/9/2025 2:30 AM' reads as 2025-03-09 02:30, a local time that does not exist " \
        "in America/New_York: the clocks go forward by 1:00:00 that night" in text
    assert "this date reads either way" not in text
    # in UTC the time exists: read
    read = attribution.import_hubspot(contacts, HS / "deals.csv")
    assert read.report["files"]["contacts"]["rows_kept"] == 5


def test_a_year_outside_the_runs_range_is_an_import_error_naming_the_line(tmp_path) -> None:
    deals = _copy(tmp_path, "deals.csv", lambda t: t.replace(
        "2025-02-20 09:00,2025-03-20 17:00", "2025-02-20 09:00,2205-03-20 17:00"))  # fmt: skip
    with pytest.raises(attribution.SchemaError) as caught:
        attribution.import_hubspot(HS / "contacts.csv", deals)
    text = str(caught.value)
    assert "deals.csv" in text
    assert "'Close Date'" in text
    assert "1 date(s) before 1900 or from 2100 on, e.g. '2205-03-20 17:00', at file line(s) 3" \
        in text
    assert "a typo in the year" in text


def test_doubled_carriage_returns_are_said_whole(tmp_path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_bytes((HS / "contacts.csv").read_bytes().replace(b"\n", b"\r\r\n"))
    with pytest.raises(attribution.InputError) as caught:
        attribution.import_hubspot(contacts, HS / "deals.csv")
    text = str(caught.value)
    assert "contacts.csv" in text
    assert "two carriage returns and a line feed (\\r\\r\\n, from line 1" in text
    assert "tr -d '\\r'" in text
    assert "\r" not in text
