"""New-user report 16, M3: ``£2,750.00`` in a money column was refused where ``$2,750.00``
was read, even in a GBP run, and ``run``'s hint did not name the sign as ``import``'s did.
Now one rule (inputs/_money.py) for ``run``, the library and ``import``: a money column
reads one sign of $, £, €, ¥ before or after the amount; ``£`` names GBP and ``€`` EUR, read
as a currency column is (the run's currency, checked against the option and a currency
column); two signs in a table, or a sign beside a currency cell naming another, are errors
naming the file, the user's column and the lines."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

import attribution
from attribution.importers import import_salesforce
from attribution.inputs._schema import SPEND, load
from tests.test_importers_crm_exports import OPP_REPORT, SF_MULTI, _members, export

CONTACTS = "abcdef"


def _run_files(tmp_path: Path, values: list[str]) -> tuple[Path, Path]:
    touches, stages = tmp_path / "touches.csv", tmp_path / "stages.csv"
    touches.write_text("timestamp,contact_id,channel\n" + "".join(
        f"2025-01-01T10:00:00Z,{c},{'google' if i % 2 else 'linkedin'}\n"
        for i, c in enumerate(CONTACTS)))  # fmt: skip
    stages.write_text("timestamp,contact_id,stage,value\n" + "".join(
        f'2025-01-05T10:00:00Z,{c},closed_won,"{v}"\n'
        for c, v in zip(CONTACTS, values, strict=True)))  # fmt: skip
    return touches, stages


def _sheet(tmp_path: Path, cells: list[str], currency: list[str] | None = None) -> Path:
    sheet = tmp_path / "spend.csv"
    head = "month,channel,Cost" + (",Currency" if currency else "")
    rows = [f'2026-0{i + 1}-01,g2,"{c}"' + (f",{currency[i]}" if currency else "")
            for i, c in enumerate(cells)]  # fmt: skip
    sheet.write_text("\n".join([head, *rows]) + "\n")
    return sheet


def test_a_pound_amount_reads_and_names_gbp(tmp_path: Path) -> None:
    sheet = _sheet(tmp_path, ["£2,750.00", "£1,500.00", "£ 10"])
    table = load(sheet, SPEND, columns={"amount": "Cost"})
    assert table.frame.get_column("amount").to_list() == [2750.0, 1500.0, 10.0]
    assert table.source.currency is not None
    assert table.source.currency["currency"] == "GBP"
    assert table.source.currency["sign"] == "£"
    # a trailing sign, as a comma-decimal locale writes it
    euro = _sheet(tmp_path, ["2.750,00 €", "1.500,00 €"])
    table = load(euro, SPEND, columns={"amount": "Cost"}, formats={"@decimal_comma": ("1",)})
    assert table.frame.get_column("amount").to_list() == [2750.0, 1500.0]
    assert table.source.currency is not None
    assert table.source.currency["currency"] == "EUR"
    # '$' names no currency (USD, CAD, AUD ...): as before
    dollar = load(_sheet(tmp_path, ["$2,750.00"]), SPEND, columns={"amount": "Cost"})
    assert dollar.source.currency is None


def test_two_signs_in_a_table_are_an_error_naming_the_lines(tmp_path: Path) -> None:
    sheet = _sheet(tmp_path, ["£2,750.00", "€1,500.00", "£10", "$5", "£1"])
    with pytest.raises(attribution.SchemaError) as caught:
        load(sheet, SPEND, columns={"amount": "Cost"})
    text = str(caught.value)
    assert "spend.csv" in text
    assert "'Cost'" in text
    assert "2 amount(s) written with another currency sign" in text
    assert caught.value.lines == [3, 5]


def test_a_sign_beside_another_currency_cell_is_an_error(tmp_path: Path) -> None:
    sheet = _sheet(tmp_path, ["£2,750.00", "£1,500.00", "£3"], ["GBP", "EUR", ""])
    with pytest.raises(attribution.SchemaError) as caught:
        load(sheet, SPEND, columns={"amount": "Cost"})
    assert "written with '£' (GBP) beside another currency in 'Currency'" in str(caught.value)
    assert caught.value.lines == [3]
    agreeing = load(_sheet(tmp_path, ["£2,750.00", "£3"], ["GBP", ""]), SPEND,
                    columns={"amount": "Cost"})  # fmt: skip
    assert agreeing.source.currency is not None
    assert agreeing.source.currency["counts"] == {"GBP": 2}


def test_an_unread_sign_is_named_by_the_hint(tmp_path: Path) -> None:
    with pytest.raises(attribution.SchemaError) as caught:
        load(_sheet(tmp_path, ["₹2,750.00"]), SPEND, columns={"amount": "Cost"})
    assert "'₹' is a currency sign" in str(caught.value)


@pytest.mark.parametrize("partitions", [0, 2])
def test_the_runs_currency_is_the_signs_in_every_executor(tmp_path: Path, partitions: int) -> None:
    touches, stages = _run_files(tmp_path, ["£100", "£200", "300", "£400", "£500", "£600"])

    def run(**options: object) -> attribution.RunResult:
        if partitions:
            return attribution.attribute_partitioned(
                touches, stages, partitions=partitions, models=["linear"], **options
            )
        return attribution.attribute(touches, stages, models=["linear"], **options)

    result = run()
    assert result.manifest["totals"]["conversions_value"] == 2100
    assert result.manifest["inputs"]["stages"]["currency"]["currency"] == "GBP"
    assert run(currency="GBP").manifest["inputs"]["stages"]["currency"]["currency"] == "GBP"


@pytest.mark.parametrize("partitions", [0, 2, 3])
def test_two_signs_across_partitions_are_the_whole_files_error(
    tmp_path: Path, partitions: int
) -> None:
    touches, stages = _run_files(tmp_path, ["£100", "£200", "£300", "€400", "€500", "£600"])
    run = (
        partial(attribution.attribute_partitioned, partitions=partitions)
        if partitions
        else attribution.attribute
    )
    with pytest.raises(attribution.SchemaError) as caught:
        run(touches, stages, models=["linear"])
    assert "stages.csv" in str(caught.value)
    assert "'value'" in str(caught.value)
    assert caught.value.lines == [5, 6]


def test_a_sign_that_contradicts_the_run_currency_is_an_error(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from attribution.cli._app import app

    touches, stages = _run_files(tmp_path, ["€100", "€200", "300", "€400", "€500", "€600"])
    base = ["run", "--touches", str(touches), "--stages", str(stages), "-m", "linear"]
    cli = CliRunner().invoke(app, [*base, "--currency", "GBP", "--out", str(tmp_path / "r1")])
    assert cli.exit_code == 2, cli.output
    assert "currency = 'GBP' contradicts the data" in cli.output
    assert "in EUR" in cli.output
    assert "Traceback" not in cli.output
    ok = CliRunner().invoke(app, [*base, "--out", str(tmp_path / "r2")])
    assert ok.exit_code == 0, ok.output
    (run,) = (tmp_path / "r2").glob("2*")
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["currency"] == {"code": "EUR", "sign": "€", "from": "data"}


def test_the_import_reads_a_deals_sign_as_its_currency(tmp_path: Path) -> None:
    row = ["0065g00000Oz7a1", "Acme", "0015g00000Mn3a1", "Closed Won", "£48,000.00",
           "3/20/2025", "2/5/2025", "1", "1", "0035g00000Xk9p2"]  # fmt: skip
    plain = import_salesforce(_members(tmp_path), export(tmp_path / "o.csv", OPP_REPORT, [row]))
    assert plain.report["currency"]["currency"] == "GBP"
    won = plain.stages.filter(plain.stages.get_column("stage") == "closed_won")
    assert won.get_column("value").to_list() == [48000.0]
    # a sign that contradicts the currency column beside it: the lines
    multi = [[f"0065g00000Oz7b{i}", f"Opp {i}", "0015g00000Mn3a1", "Closed Won", code, amount,
              "3/20/2025", "2/5/2025", "1", "1", "0035g00000Xk9p2"]
             for i, (code, amount) in enumerate([("GBP", "£10"), ("EUR", "£20")])]  # fmt: skip
    with pytest.raises(attribution.SchemaError, match=r"code or sign other than .* line\(s\) 3"):
        import_salesforce(_members(tmp_path), export(tmp_path / "m.csv", SF_MULTI, multi))
    # two signs in one column: never one currency
    mixed = [[*row[:4], amount, *row[5:]] for amount in ("£10", "$20", "£30")]
    mixed = [[f"0065g00000Oz7c{i}", *r[1:]] for i, r in enumerate(mixed)]
    with pytest.raises(attribution.SchemaError, match=r"another currency sign .* line\(s\) 3"):
        import_salesforce(_members(tmp_path), export(tmp_path / "x.csv", OPP_REPORT, mixed))
