"""New-user report 13, S1 and S2: a survey keyed by e-mail beside touches keyed by their
``email`` column; amounts in several currencies on a run's own tables (never summed as
one: an error naming the lines, or converted by the run's currency rates)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.exceptions import InputError
from attribution.inputs._schema import SPEND, load
from attribution.surveys._emails import email_contacts

TOUCHES = (
    "timestamp,contact_id,channel\n"
    "2025-01-01T10:00:00Z,a,linkedin\n"
    "2025-01-02T10:00:00Z,b,google\n"
    "2025-01-03T10:00:00Z,c,google\n"
)


def _stages(tmp_path: Path, currencies: tuple[str, str, str], column: str = "currency") -> Path:
    rows = "".join(
        f"2025-01-05T10:00:00Z,{c},closed_won,{v},{cur}\n"
        for c, v, cur in zip("abc", (100, 200, 300), currencies, strict=True)
    )
    path = tmp_path / "stages.csv"
    path.write_text(f"timestamp,contact_id,stage,value,{column}\n{rows}")
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "touches.csv").write_text(TOUCHES)
    (tmp_path / "rates.csv").write_text("currency,rate\nUSD,1\nEUR,1.5\n")
    return tmp_path / "touches.csv", tmp_path / "rates.csv"


def test_several_currencies_without_rates_name_the_column_and_lines(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    stages = _stages(tmp_path, ("USD", "EUR", "USD"), column="Deal - Currency")
    with pytest.raises(InputError) as caught:
        attribution.attribute(files[0], stages, models=["linear"])
    text = str(caught.value)
    assert "column 'Deal - Currency' (ours: 'currency')" in text  # found by its name
    assert "2 currencies (USD 2, EUR 1)" in text
    assert "lines: 3)" in text
    assert "--currency-rates" in text


def test_rates_convert_each_amount_by_its_currency(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    stages = _stages(tmp_path, ("USD", " eur", "USD"))
    result = attribution.attribute(files[0], stages, models=["linear"], currency_rates=files[1])
    assert result.manifest["totals"]["conversions_value"] == pytest.approx(100 + 300 + 300)
    found = result.manifest["inputs"]["stages"]["currency"]
    assert found["currency"] == "USD"
    assert found["converted"] == {"USD": 2, "EUR": 1}


def test_one_currency_is_named_and_a_missing_rate_is_refused(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    stages = _stages(tmp_path, ("EUR", "EUR", ""))  # a blank cell: the one currency
    result = attribution.attribute(files[0], stages, models=["linear"])
    assert result.manifest["totals"]["conversions_value"] == 600
    assert result.manifest["inputs"]["stages"]["currency"]["currency"] == "EUR"
    stages = _stages(tmp_path, ("EUR", "GBP", "USD"))
    with pytest.raises(InputError, match=r"in GBP, a currency the rates file .* lines: 3\)"):
        attribution.attribute(files[0], stages, models=["linear"], currency_rates=files[1])


def test_spend_with_a_mapped_currency_column(tmp_path: Path, files: tuple[Path, Path]) -> None:
    spend = tmp_path / "spend.csv"
    spend.write_text("channel,month,amount,Cur\nads,2025-01-01,100,USD\nads,2025-02-01,10,EUR\n"
                     "ads,2025-03-01,1,USD\n")
    with pytest.raises(InputError, match=r"'Cur' \(ours: 'currency'\).*lines: 3\)"):
        load(spend, SPEND, columns={"currency": "Cur"})
    table = load(spend, SPEND, columns={"currency": "Cur"}, currency_rates=files[1])
    assert table.frame.get_column("amount").to_list() == [100.0, 15.0, 1.0]
    assert "converted to USD" in table.source.notes("spend")[0]


def test_an_amount_column_named_in_one_currency_is_taken_as_converted(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    stages = tmp_path / "stages.csv"
    stages.write_text(
        "timestamp,contact_id,stage,Deal - Value,value_usd,Deal - Currency\n"
        "2025-01-05T10:00:00Z,a,closed_won,100,100,USD\n"
        "2025-01-05T10:00:00Z,b,closed_won,100,150,EUR\n"
    )
    result = attribution.attribute(
        files[0], stages, models=["linear"], columns={"stages": {"value": "value_usd"}}
    )
    assert result.manifest["totals"]["conversions_value"] == 250


def test_survey_emails_join_touches_keyed_by_their_email_column() -> None:
    """S1: the touches' ``email`` column is their contact id: one column read as both."""
    touches = pl.DataFrame({"email": ["A@x.com", "b@x.com"], "channel": ["x", "y"]})
    pairs = email_contacts({"touches": touches}, {"touches": {"contact_id": "email"}})
    assert pairs is not None
    assert sorted(pairs[0].rows()) == [("a@x.com", "A@x.com"), ("b@x.com", "b@x.com")]
