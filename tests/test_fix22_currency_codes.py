"""``GBP 2,750.00``: an ISO 4217 code in the amount cell, as some CRM exports write money,
is read as the signs are (inputs/_money.py): the code before or after the amount, the run's
currency the code's (one currency per table; a code and the sign of its currency are one:
``£`` is ``GBP``), a mix of currencies an error naming the file, the user's column and the
lines. It was refused by ``attribution run`` ("cannot be read as float")."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
from typer.testing import CliRunner

import attribution
from attribution.cli._app import app
from attribution.inputs._schema import SPEND, load
from tests.test_fix21_money_signs import _run_files, _sheet


def test_a_code_before_or_after_the_amount_reads_and_names_the_currency(tmp_path: Path) -> None:
    table = load(_sheet(tmp_path, ["GBP 2,750.00", "GBP1,500.00", "-GBP 10", "5 GBP"]), SPEND,
                 columns={"amount": "Cost"})  # fmt: skip
    assert table.frame.get_column("amount").to_list() == [2750.0, 1500.0, -10.0, 5.0]
    assert table.source.currency is not None
    assert table.source.currency["currency"] == "GBP"
    # a decimal comma's locale writes the code after the amount
    euro = load(_sheet(tmp_path, ["2.750,00 EUR", "1.500,00 EUR"]), SPEND,
                columns={"amount": "Cost"}, formats={"@decimal_comma": ("1",)})  # fmt: skip
    assert euro.frame.get_column("amount").to_list() == [2750.0, 1500.0]
    assert euro.source.currency is not None
    assert euro.source.currency["currency"] == "EUR"
    # a code and its currency's sign are one currency
    both = load(_sheet(tmp_path, ["GBP 2,750.00", "£1,500.00"]), SPEND, columns={"amount": "Cost"})
    assert both.source.currency is not None
    assert both.source.currency["currency"] == "GBP"


def test_three_capitals_that_are_no_currency_are_not_read(tmp_path: Path) -> None:
    with pytest.raises(attribution.SchemaError, match="cannot be read"):
        load(_sheet(tmp_path, ["ABC 2,750.00"]), SPEND, columns={"amount": "Cost"})


@pytest.mark.parametrize(
    "cells", [["GBP 2,750.00", "EUR 1,500.00", "GBP 10"], ["GBP 2,750.00", "€1,500.00", "£10"]]
)
def test_two_currencies_in_a_table_are_an_error_naming_the_lines(
    tmp_path: Path, cells: list[str]
) -> None:
    with pytest.raises(attribution.SchemaError) as caught:
        load(_sheet(tmp_path, cells), SPEND, columns={"amount": "Cost"})
    text = str(caught.value)
    assert "spend.csv" in text
    assert "'Cost'" in text
    assert "1 amount(s) written with another currency sign" in text
    assert caught.value.lines == [3]


def test_a_code_beside_another_currency_cell_is_an_error(tmp_path: Path) -> None:
    sheet = _sheet(tmp_path, ["GBP 2,750.00", "GBP 1,500.00"], ["GBP", "EUR"])
    with pytest.raises(attribution.SchemaError, match="beside another currency") as caught:
        load(sheet, SPEND, columns={"amount": "Cost"})
    assert caught.value.lines == [3]


@pytest.mark.parametrize("partitions", [0, 2, 3])
def test_the_runs_currency_is_the_codes_and_a_mix_is_the_whole_files_error(
    tmp_path: Path, partitions: int
) -> None:
    run = (
        partial(attribution.attribute_partitioned, partitions=partitions)
        if partitions
        else attribution.attribute
    )
    values = ["GBP 100", "GBP 200", "300", "GBP 400", "500 GBP", "GBP 600"]
    result = run(*_run_files(tmp_path, values), models=["linear"])
    assert result.manifest["totals"]["conversions_value"] == 2100
    assert result.manifest["inputs"]["stages"]["currency"]["currency"] == "GBP"
    mixed = ["GBP 100", "GBP 200", "GBP 300", "USD 400", "USD 500", "GBP 600"]
    with pytest.raises(attribution.SchemaError) as caught:
        run(*_run_files(tmp_path, mixed), models=["linear"])
    assert "stages.csv" in str(caught.value)
    assert caught.value.lines == [5, 6]


def test_attribution_run_reads_a_crm_export_in_gbp(tmp_path: Path) -> None:
    touches, stages = _run_files(
        tmp_path, ["GBP 2,750.00", "GBP 1,000.00", "GBP 250.00", "GBP 3", "GBP 4", "GBP 5"]
    )
    base = ["run", "--touches", str(touches), "--stages", str(stages), "-m", "linear"]
    done = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "r")])
    assert done.exit_code == 0, done.output
    (run,) = (tmp_path / "r").glob("2*")
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["currency"] == {"code": "GBP", "sign": "£", "from": "data"}
    assert manifest["totals"]["conversions_value"] == 4012.0
    wrong = CliRunner().invoke(app, [*base, "--currency", "EUR", "--out", str(tmp_path / "w")])
    assert wrong.exit_code == 2, wrong.output
    assert "contradicts the data" in wrong.output
    assert "Traceback" not in wrong.output


def test_the_hint_names_what_is_no_currency_code(tmp_path: Path) -> None:
    with pytest.raises(attribution.SchemaError) as caught:
        load(_sheet(tmp_path, ["ABC 2,750.00"]), SPEND, columns={"amount": "Cost"})
    assert "'ABC' is no ISO 4217 currency code" in str(caught.value)
    assert "or ISO 4217 code" in str(caught.value)
