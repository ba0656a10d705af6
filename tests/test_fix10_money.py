"""Money written as a finance sheet writes it (``$7,880.74``) in the run's money columns:
read as ``attribution import`` reads it (new-user report 8 minor #11, report 9 minor #3),
only when no value of the column reads as a decimal comma; counted and said once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import attribution
from attribution import B2BInputs, SchemaError
from attribution.inputs._schema import SPEND, STAGES, load

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def _money(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """``frame`` with ``column`` written as a US finance sheet writes it: ``$7,880.74``."""
    return frame.with_columns(
        pl.col(column).map_elements(lambda v: f"${v:,.2f}", return_dtype=pl.String)
    )


def test_a_spend_sheet_in_dollars_reads_as_its_numbers(tmp_path: Path) -> None:
    sheet = tmp_path / "spend.csv"
    sheet.write_text(
        'Month,Channel,Spend\n2025-01-01,webinar,"$9,272.23"\n2025-02-01,webinar,"$7,880.74"\n'
        '2025-03-01,ads,120\n2025-04-01,ads,"-$ 1,000"\n'
    )
    table = load(sheet, SPEND, columns={"month": "Month", "channel": "Channel", "amount": "Spend"})
    assert table.frame.get_column("amount").to_list() == [9272.23, 7880.74, 120.0, -1000.0]
    assert dict(table.source.money) == {"amount": (3, "$9,272.23", "Spend")}
    note = table.source.notes("spend")
    assert note == [
        f"NOTE: spend '{sheet}', column 'Spend' (ours: 'amount'): 3 amount(s) written as "
        "money (e.g. '$9,272.23') were read without the currency sign and the thousands commas (no "
        "amount of the column reads as a decimal comma)"
    ]
    plain = tmp_path / "plain.csv"
    plain.write_text("month,channel,amount\n2025-01-01,ads,120.5\n")
    assert load(plain, SPEND).source.money == {}  # nothing read as money, nothing said


@pytest.mark.parametrize(
    ("cells", "message", "lines"),
    [
        # a decimal comma beside dollars: read neither way, the comma's lines named
        (['"$7,880.74"', '"1,5"', '"$2,000.00"', '"24.000,50"'], "read as a decimal comma", [3, 5]),
        # '$1.234' reads 1.234 or 1234 and nothing in the column tells which
        (["$1.234", "$24.000"], "read either way", [2, 3]),
    ],
)
def test_an_ambiguous_money_column_keeps_a_clear_error(
    tmp_path: Path, cells: list[str], message: str, lines: list[int]
) -> None:
    sheet = tmp_path / "spend.csv"
    sheet.write_text(
        "month,channel,Cost (USD)\n"
        + "".join(f"2025-0{i + 1}-01,ads,{cell}\n" for i, cell in enumerate(cells))
    )
    with pytest.raises(SchemaError, match=message) as caught:
        load(sheet, SPEND, columns={"amount": "Cost (USD)"})
    exc = caught.value
    assert exc.table == "spend"
    assert exc.source == str(sheet)
    assert exc.their_column == "Cost (USD)"
    assert "lines: " + ", ".join(map(str, lines)) in str(exc)


def test_another_currency_sign_says_what_a_money_column_reads(tmp_path: Path) -> None:
    sheet = tmp_path / "spend.csv"
    # £ and € are read now (tests/test_fix21_money_signs.py); another sign is named
    sheet.write_text('month,channel,amount\n2025-01-01,ads,"₹7,880.74"\n')
    with pytest.raises(SchemaError, match=r"'₹' is a currency sign.*also reads \$24,379\.07"):
        load(sheet, SPEND)


def test_the_importer_and_the_run_read_money_alike(tmp_path: Path) -> None:
    """One reading: the importer's amount parser and the run's money columns share
    attribution.inputs._money (a '$' with thousands commas; 1,5 never 15)."""
    from attribution.importers import _read
    from attribution.inputs import _money

    assert _read.dot_decimal is _money.dot_decimal
    assert _read.money_text is _money.money_text
    values = ["$24,000.00", "1,500", "$ 12 000", "-$500", "1e3"]
    stages = pl.DataFrame(
        {"contact_id": ["c"] * 5, "stage": ["closed_won"] * 5,
         "timestamp": ["2025-01-01"] * 5, "value": values}
    )  # fmt: skip
    read = load(stages, STAGES).frame.get_column("value").to_list()
    assert read == [24000.0, 1500.0, 12000.0, -500.0, 1000.0]


def test_b2b_inputs_read_a_dollar_spend_frame_and_say_it() -> None:
    """The Python API: B2BInputs.read holds the spend and its note; analyse records the note
    in the manifest."""
    spend = _money(pl.read_parquet(SAMPLE / "spend.parquet"), "amount")
    inputs = B2BInputs(spend=spend, stages=SAMPLE / "stages.parquet").read()
    (note,) = inputs.notes
    assert f"{spend.height:,} amount(s) written as money" in note
    result = attribution.attribute(
        SAMPLE / "touches.parquet", SAMPLE / "stages.parquet", models=["linear"]
    )
    plain = attribution.analyse(result, B2BInputs(spend=SAMPLE / "spend.parquet"))
    plain_text = next(x.summary() for x in plain.extras if type(x).__name__ == "UnitEconomics")
    money = attribution.analyse(result, inputs)
    money_text = next(x.summary() for x in money.extras if type(x).__name__ == "UnitEconomics")
    assert money_text == plain_text  # the same CAC, LTV/CAC, guardrail to the cent
    assert result.manifest["notes"].count(note) == 1


@pytest.mark.slow
def test_run_reads_a_finance_spend_sheet_and_dollar_deal_values(tmp_path: Path) -> None:
    """`attribution run` with a spend sheet and stage values in dollars: exit 0, each
    column's NOTE once, the same economics as the plain numbers; the manifest records
    both."""
    _money(pl.read_parquet(SAMPLE / "spend.parquet"), "amount").write_csv(tmp_path / "spend.csv")
    _money(pl.read_parquet(SAMPLE / "stages.parquet"), "value").write_csv(tmp_path / "stages.csv")
    env = dict(os.environ, COLUMNS="200")

    def run(stages: Path, spend: Path, out: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "attribution.cli", "run", "--touches",
             str(SAMPLE / "touches.parquet"), "--stages", str(stages), "--spend", str(spend),
             "-m", "linear", "--out", str(tmp_path / out)],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip

    money = run(tmp_path / "stages.csv", tmp_path / "spend.csv", "money")
    assert money.returncode == 0, money.stderr
    notes = [x for x in money.stderr.splitlines() if x.startswith("NOTE:")]
    assert len(notes) == 2, money.stderr
    assert notes[0].startswith(f"NOTE: spend '{tmp_path / 'spend.csv'}', column 'amount'")
    assert notes[1].startswith(f"NOTE: stages '{tmp_path / 'stages.csv'}', column 'value'")
    assert money.stderr.index(notes[0]) < money.stderr.index("[load]")  # before the run
    plain = run(SAMPLE / "stages.parquet", SAMPLE / "spend.parquet", "plain")
    assert plain.returncode == 0, plain.stderr

    def economics(out: str) -> pl.DataFrame:
        (run_dir,) = (tmp_path / out).iterdir()
        return pl.read_parquet(run_dir / "economics.parquet")

    assert_frame_equal(economics("money"), economics("plain"))
    (run_dir,) = (tmp_path / "money").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["inputs"]["stages"]["money_read"]["value"]["column"] == "value"
    assert notes[0] in manifest["notes"]


def test_a_semicolon_file_s_commas_are_decimal_commas(tmp_path: Path) -> None:
    """Excel in a comma-decimal locale writes ';' between cells: its '$1,500' is 1.5, so it
    is refused, never read as 1500; its '$2000' alone reads."""
    sheet = tmp_path / "spend.csv"
    sheet.write_text("month;channel;amount\n2025-01-01;ads;$1,500\n2025-02-01;ads;$2000\n")
    with pytest.raises(SchemaError, match=r"every comma is one.*lines: 2\)"):
        load(sheet, SPEND)
    sheet.write_text("month;channel;amount\n2025-01-01;ads;$1500\n2025-02-01;ads;$2000\n")
    assert load(sheet, SPEND).frame.get_column("amount").to_list() == [1500.0, 2000.0]
