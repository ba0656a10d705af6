"""New-user report 14 (a German marketing-ops manager's Excel exports): whole-euro amounts
with thousands dots (``4.744``) in a ``;``-separated file (S1: read 1000x too small, exit 0),
the decimal-comma option of a run (minor 1) and the ``;`` note (minor 2), German and other
languages' total rows in a spend sheet (S2), a spend row without its month (S3), and the
input-side minors 6, 7 and 11. Small files shaped like hers: BOM, ``;``, CRLF, German
headers, ``01.01.2025`` months."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import attribution
from attribution.cli import app
from attribution.inputs._config import load_config
from attribution.inputs._schema import SPEND, load

CONTACTS = ("K1", "K2", "K3", "K4")
TOUCHES = "Kontakt-ID;Datum;Kanal\r\n" + "".join(
    f"{c};0{i + 1}.03.2025 10:00;{'LinkedIn' if i % 2 else 'E-Mail'}\r\n"
    for i, c in enumerate(CONTACTS)
)
STAGE_COLUMNS = {"contact_id": "Kontakt-ID", "timestamp": "Datum", "stage": "Phase",
                 "value": "Betrag"}  # fmt: skip
TOUCH_COLUMNS = {"contact_id": "Kontakt-ID", "timestamp": "Datum", "channel": "Kanal"}
SPEND_COLUMNS = {"channel": "Kanal", "month": "Monat", "amount": "Kosten"}
FORMATS = {"*": ["%d.%m.%Y %H:%M", "%d.%m.%Y"]}


def _write(path: Path, text: str) -> Path:
    path.write_bytes(("\ufeff" + text).encode())  # Excel's "CSV UTF-8": a BOM
    return path


def _stages(tmp_path: Path, values: tuple[str, ...]) -> Path:
    rows = "".join(
        f"{c};20.03.2025;Gewonnen;{v}\r\n" for c, v in zip(CONTACTS, values, strict=True)
    )
    return _write(tmp_path / "stages_de.csv", "Kontakt-ID;Datum;Phase;Betrag\r\n" + rows)


def _run(
    tmp_path: Path, values: tuple[str, ...], partitions: int = 0, **options: object
) -> attribution.RunResult:
    """The library's run of her shapes: in memory, or split in ``partitions``."""
    touches = _write(tmp_path / "touches_de.csv", TOUCHES)
    stages = _stages(tmp_path, values)
    given = {"models": ["linear"], "stage_names": {"closed_won": "Gewonnen"},
             "columns": {"touches": TOUCH_COLUMNS, "stages": STAGE_COLUMNS},
             "timestamp_formats": FORMATS, **options}  # fmt: skip
    if partitions:
        return attribution.attribute_partitioned(touches, stages, partitions=partitions,
                                                 **given)  # fmt: skip
    return attribution.attribute(touches, stages, **given)


def _spend(tmp_path: Path, rows: str, name: str = "spend_de.csv") -> Path:
    return _write(tmp_path / name, "Monat;Kanal;Kosten\r\n" + rows)


def _load_spend(path: Path, decimal_comma: bool = False) -> pl.DataFrame:
    formats: dict[str, tuple[str, ...]] = {"month": ("%d.%m.%Y",)}
    if decimal_comma:
        formats["@decimal_comma"] = ("true",)
    return load(path, SPEND, columns=SPEND_COLUMNS, formats=formats).frame


# ------------------------------------------------ S1: '4.744' in a ';' file is refused
@pytest.mark.parametrize("partitions", [0, 2])
def test_whole_euro_amounts_with_thousands_dots_are_refused_not_read_1000x_small(
    tmp_path: Path, partitions: int
) -> None:
    values = ("4.744", "71.322", "912", "12.500")  # '912' tells nothing
    with pytest.raises(attribution.SchemaError) as caught:  # was exit 0: 4.744, ..., 12.5
        _run(tmp_path, values, partitions=partitions)
    exc = caught.value
    assert exc.source is not None
    assert exc.source.endswith("stages_de.csv")
    assert (exc.their_column, exc.column) == ("Betrag", "value")
    assert "read either way" in str(exc)
    assert "--decimal-comma" in str(exc)
    if not partitions:  # a partition names its own lines
        assert exc.lines == [2, 3, 5]
        assert "3 amount(s) such as '4.744'" in str(exc)


def test_the_spend_and_a_count_column_are_refused_too(tmp_path: Path) -> None:
    path = _spend(tmp_path, "01.01.2025;LinkedIn;18.038\r\n01.02.2025;E-Mail;912\r\n")
    with pytest.raises(attribution.SchemaError) as caught:
        attribution.B2BInputs(spend=path).read(attribution.RunOptions(
            columns={"spend": SPEND_COLUMNS}, timestamp_formats={"month": "%d.%m.%Y"}))
    assert caught.value.their_column == "Kosten"
    assert caught.value.lines == [2]
    accounts = _write(tmp_path / "accounts.csv", "account_id;employees\r\nA1;1.200\r\nA2;45\r\n")
    with pytest.raises(attribution.SchemaError, match=r"1 value\(s\) such as '1.200'"):
        attribution.inputs.load_accounts(accounts)


def test_dots_that_are_decimal_points_and_comma_files_read_as_before(tmp_path: Path) -> None:
    # a value with 1-2 decimals shows the dots are decimal points: '4.744' is 4.744 then
    result = _run(tmp_path, ("4.744", "18.5", "912", "1.25"))
    assert result.manifest["totals"]["conversions_value"] == pytest.approx(4.744 + 18.5 + 913.25)
    path = tmp_path / "spend.csv"
    path.write_text("Monat,Kanal,Kosten\n01.01.2025,LinkedIn,18.038\n")
    assert _load_spend(path)["amount"].to_list() == [18.038]  # a comma file: a decimal point


# --------------------------------------- minor 1: the decimal comma, in every reader
def test_the_decimal_comma_option_reads_her_numbers(tmp_path: Path) -> None:
    values = ("4.744", "1.414,27", "912", "12.500,00")
    want = 4744 + 1414.27 + 912 + 12500
    result = _run(tmp_path, values, decimal_comma=True)
    assert result.manifest["totals"]["conversions_value"] == pytest.approx(want)
    assert result.manifest["inputs"]["stages"]["decimal_comma"] is True
    assert result.manifest["parameters"]["decimal_comma"] is True
    split = _run(tmp_path, values, partitions=2, decimal_comma=True)
    assert split.manifest["totals"]["conversions_value"] == pytest.approx(want)
    spend = _spend(tmp_path, "01.01.2025;LinkedIn;18.037,86\r\n01.02.2025;E-Mail;912\r\n")
    assert _load_spend(spend, decimal_comma=True)["amount"].to_list() == [18037.86, 912.0]
    with pytest.raises(attribution.SchemaError) as caught:  # the other form: an error
        _load_spend(_spend(tmp_path, "01.01.2025;LinkedIn;18037.86\r\n", "en.csv"), True)
    assert caught.value.lines == [2]
    assert "decimal comma" in str(caught.value)


def test_the_option_from_a_config_the_flag_and_a_run_request(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text('[formats]\ntimestamp = "%d.%m.%Y"\ndecimal_comma = true\n')
    options = load_config(config).options()
    assert options.decimal_comma is True
    assert options.table_formats("spend")["@decimal_comma"] == ("true",)
    assert not attribution.RunOptions().decimal_comma
    with pytest.raises(attribution.InputError, match="decimal_comma must be True or False"):
        attribution.RunOptions(decimal_comma="yes")  # type: ignore[arg-type]
    from service.api.schemas import RunRequest

    assert "decimal_comma" in RunRequest.model_fields
    touches = _write(tmp_path / "touches_de.csv", TOUCHES)
    stages = _stages(tmp_path, ("4.744", "1.414,27", "912", "12.500,00"))
    cfg = tmp_path / "cli.toml"
    cfg.write_text(
        f'[inputs]\ntouches = "{touches}"\nstages = "{stages}"\n[run]\nmodels = ["linear"]\n'
        f'out = "{tmp_path / "runs"}"\n[stage_names]\nclosed_won = "Gewonnen"\n'
        '[columns.touches]\ncontact_id = "Kontakt-ID"\ntimestamp = "Datum"\nchannel = "Kanal"\n'
        '[columns.stages]\ncontact_id = "Kontakt-ID"\ntimestamp = "Datum"\nstage = "Phase"\n'
        'value = "Betrag"\n[formats]\ntimestamp = ["%d.%m.%Y %H:%M", "%d.%m.%Y"]\n'
    )
    refused = CliRunner().invoke(app, ["run", "-c", str(cfg)])
    assert refused.exit_code == 2, refused.output
    assert "read either way" in refused.output
    read = CliRunner().invoke(app, ["run", "-c", str(cfg), "--decimal-comma"])
    assert read.exit_code == 0, read.output
    assert "its numbers were read with a decimal comma, as asked" in read.output


# ------------------------------------------------- minor 2: the ';' note says the truth
def test_the_semicolon_note_says_how_numbers_were_read_for_every_table(tmp_path: Path) -> None:
    from attribution.inputs._read_errors import semicolon_note

    assert "never a misread number" in semicolon_note(False)
    assert "'4.744'" in semicolon_note(False)
    assert "--decimal-comma" in semicolon_note(False)
    assert "were read with a decimal comma" in semicolon_note(True)
    assert "is an error" not in semicolon_note(True)
    spend = _spend(tmp_path, "01.01.2025;LinkedIn;18037.86\r\n")
    accounts = _write(tmp_path / "accounts.csv", "account_id;segment\r\nA1;KMU\r\n")
    b2b = attribution.B2BInputs(spend=spend, accounts=accounts).read(attribution.RunOptions(
        columns={"spend": SPEND_COLUMNS}, timestamp_formats={"month": "%d.%m.%Y"}))
    said = [n for n in b2b.notes if "read as ';'-separated" in n]
    assert [n.split("'")[0] for n in said] == ["note: spend ", "note: accounts "]


def test_import_with_decimal_comma_says_so_and_without_refuses_a_comma(tmp_path: Path) -> None:
    from attribution.importers._read import parse_amounts, read_export
    from attribution.importers._result import ImportReport

    path = _write(tmp_path / "opps.csv", "Opportunity ID;Amount\r\nO1;1,500\r\nO2;4.744,40\r\n")
    export = read_export(path, "opportunities")
    with pytest.raises(attribution.InputError, match="cannot be read as an amount"):
        export.frame.select(parse_amounts(export, "Amount"))  # '1,500' was 1500
    read = export.frame.select(parse_amounts(export, "Amount", decimal_comma=True))
    assert read.to_series().to_list() == [1.5, 4744.4]
    report = ImportReport("salesforce", decimal_comma=True)
    report.read(export, {"value": "Amount"})
    assert any("were read with a decimal comma, as asked" in n for n in report.notes)


# -------------------------------------------------- S2: total rows in any language
@pytest.mark.parametrize(
    "total", ["Summe", "Gesamt", " gesamtsumme ", "Zwischensumme", "Gesamtergebnis",
              "Total général", "Suma", "Total general", "Totaal", "Totale complessivo",
              "Soma", "Total: Account", "合計"],
)  # fmt: skip
def test_a_total_row_in_any_language_is_refused(tmp_path: Path, total: str) -> None:
    path = _spend(tmp_path, f"01.01.2025;LinkedIn;100\r\n01.12.2025;{total};100\r\n")
    with pytest.raises(attribution.InputError, match="look like the export's total row") as e:
        _load_spend(path)
    assert e.value.their_column == "Kanal"
    assert e.value.lines == [3]


def test_a_channel_merely_like_a_total_is_a_channel_and_a_total_under_a_date_is_hinted(
    tmp_path: Path,
) -> None:
    path = _spend(tmp_path, "01.01.2025;Summer Sale;100\r\n01.01.2025;total_tv;50\r\n")
    assert _load_spend(path).height == 2
    with pytest.raises(attribution.SchemaError, match="'Gesamtergebnis' looks like the expo"):
        _load_spend(_spend(tmp_path, "01.01.2025;LinkedIn;100\r\nGesamtergebnis;;100\r\n"))


# --------------------------------------------------------------- S3: a blank month
def test_a_spend_row_without_a_month_is_an_error_and_a_total_row_says_so(tmp_path: Path) -> None:
    path = _spend(tmp_path, "01.01.2025;LinkedIn;100\r\n;LinkedIn;5000.00\r\n")
    with pytest.raises(attribution.NullValueError, match="a spend row needs its month") as e:
        _load_spend(path)  # was counted in the year's spend
    assert (e.value.their_column, e.value.lines) == ("Monat", [3])
    summe = _spend(tmp_path, "01.01.2025;LinkedIn;100\r\n;Summe;100\r\n", "summe.csv")
    with pytest.raises(attribution.InputError, match="total row"):
        _load_spend(summe)


# ------------------------------------------------------------------ minors 6, 7, 11
def test_the_month_hint_names_the_config_key(tmp_path: Path) -> None:
    from attribution.inputs._formats import config_formats_hint

    path = _spend(tmp_path, "01.01.2025;LinkedIn;100\r\n")
    with pytest.raises(attribution.SchemaError) as caught:
        load(path, SPEND, columns=SPEND_COLUMNS)
    hint = config_formats_hint(caught.value).hint
    assert hint is not None
    assert '[formats.spend] month = ["%d.%m.%Y %H:%M", "%d.%m.%Y"]' in hint
    assert config_formats_hint(ValueError("x")).args == ("x",)


def test_a_header_with_both_separators_is_said_and_counts_have_separators(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path / "sp.csv", "Monat;Kanal;Kosten (EUR, netto)\r\n01.01.2025;A;1\r\n")
    with pytest.raises(attribution.InputError, match="because its header holds both") as e:
        load(path, SPEND, columns=SPEND_COLUMNS)
    assert "'Kosten (EUR, netto)'" in str(e.value)
    many = _spend(tmp_path, "".join("x;LinkedIn;1\r\n" for _ in range(1_200)), "many.csv")
    with pytest.raises(attribution.SchemaError, match=r"1,200 value\(s\) cannot be read"):
        _load_spend(many)


def test_german_headers_are_suggested(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "Kontakt-ID;Datum;Kanal;Kosten\r\nK1;01.03.2025;A;1\r\n")
    with pytest.raises(attribution.InputError) as caught:
        attribution.attribute(path, _stages(tmp_path, ("1", "2", "3", "4")))
    assert "did you mean 'Datum'? map it in [columns.touches] (timestamp = \"Datum\")" in str(
        caught.value
    )
    spend = _write(tmp_path / "sp.csv", "Monat;Kanal;Betrag\r\n2025-01;A;1\r\n")
    with pytest.raises(attribution.InputError) as caught:
        load(spend, SPEND)
    assert "'Kanal'" in str(caught.value)


# ------------------------------------ S2's remark: spend on channels no touch has, said
def test_the_blended_row_says_what_spend_no_touch_has_it_includes(tmp_path: Path) -> None:
    result = _run(tmp_path, ("4744", "1414.27", "912", "12500"))
    spend = pl.DataFrame({"channel": ["LinkedIn", "E-Mail", "Plakat"],
                          "month": ["2025-03"] * 3, "amount": [400.0, 200.0, 1000.0]})
    text = attribution.unit_economics(result, spend).summary("linear")
    # 4 customers: blended 1,600 / 4 = $400, without the billboard 600 / 4 = $150
    assert ("(the blended row includes $1,000 of spend on channels no touch has: plakat; "
            "without it the blended CAC is $150)") in text
    spend = spend.filter(pl.col("channel") != "Plakat")
    assert "the blended row includes" not in attribution.unit_economics(result, spend).summary(
        "linear")
