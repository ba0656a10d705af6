"""Item 1 of fix19: the experiments table is priced (``MONEY_COLUMNS``: a pipeline test's
``incremental_pipeline``) like every other table with money: its ``currency`` column is read,
several currencies without rates are an error naming the lines, and the run's rates convert
a pipeline test's measure and its standard error (same unit); a conversions test is left as
it is. ``B2BInputs.with_rates`` takes its list of priced tables from ``MONEY_COLUMNS``."""

from __future__ import annotations

from pathlib import Path

import pytest

import attribution
from attribution.b2b._analysis_inputs import B2BInputs
from attribution.exceptions import InputError
from attribution.inputs._experiments import load_experiments
from attribution.inputs._money import MONEY_COLUMNS
from attribution.inputs._sources import Source

HEADER = "channel,start,end,incremental_pipeline,incremental_conversions,standard_error,test_type"


def _files(tmp_path: Path, currencies: tuple[str, str, str]) -> tuple[Path, Path]:
    rows = (
        ("linkedin", "1000", "", "200"),
        ("google", "2000", "", "300"),
        ("email", "", "4", "2"),  # a conversions test: no money, its currency ignored
    )
    body = "".join(
        f"{c},2025-03-01,2025-03-31,{pipe},{conv},{se},geo,{cur}\n"
        for (c, pipe, conv, se), cur in zip(rows, currencies, strict=True)
    )
    experiments = tmp_path / "experiments.csv"
    experiments.write_text(f"{HEADER},Currency Code\n{body}")
    rates = tmp_path / "rates.csv"
    rates.write_text("currency,rate\nUSD,1\nEUR,1.5\n")
    return experiments, rates


def test_with_rates_covers_every_priced_table(tmp_path: Path) -> None:
    experiments, rates = _files(tmp_path, ("USD", "EUR", ""))
    tables = {name: experiments for name in MONEY_COLUMNS}
    wrapped = B2BInputs(**tables).with_rates(rates)  # type: ignore[arg-type]
    for name in MONEY_COLUMNS:
        held = getattr(wrapped, name)
        assert isinstance(held, Source), name
        assert held.currency_rates == str(rates), name


def test_rates_convert_a_pipeline_test_and_its_standard_error(tmp_path: Path) -> None:
    experiments, rates = _files(tmp_path, ("USD", " eur", "EUR"))
    held = B2BInputs(experiments=experiments).read(attribution.RunOptions(currency_rates=rates))
    loaded = load_experiments(held.experiments)  # type: ignore[arg-type]
    frame = loaded.frame.sort("_row")
    assert frame["incremental"].to_list() == pytest.approx([1000.0, 3000.0, 4.0])
    assert frame["standard_error"].to_list() == pytest.approx([200.0, 450.0, 2.0])
    assert any("converted to USD with the rates of" in note for note in held.notes)


def test_several_currencies_without_rates_name_the_lines(tmp_path: Path) -> None:
    experiments, _ = _files(tmp_path, ("USD", "EUR", ""))
    with pytest.raises(InputError) as caught:
        B2BInputs(experiments=experiments).read(attribution.RunOptions())
    text = str(caught.value)
    assert "2 currencies (EUR 1, USD 1)" in text  # was read as one sum: 1000 + 2000
    assert "'Currency Code'" in text
    assert "lines: 2)" in text  # the row not in EUR, the first of the ties by code
