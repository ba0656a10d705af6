"""A run's currency rates where the currency column is blank: on every priced row (no
currency anywhere: the amounts are taken as they are, never nulled), and on the rows of a
partition of a one-currency file (a blank cell is the file's one currency); a bad rates file
in an HTTP run request (a 422 naming the request's field, no server path)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import attribution
from service import Settings, create_app

CONTACTS = "abcdef"
VALUES = (100, 200, 300, 400, 500, 600)


def _files(tmp_path: Path, currencies: tuple[str, ...]) -> tuple[Path, Path, Path]:
    touches, stages, rates = (tmp_path / n for n in ("touches.csv", "stages.csv", "rates.csv"))
    touches.write_text("timestamp,contact_id,channel\n" + "".join(
        f"2025-01-01T10:00:00Z,{c},{'google' if i % 2 else 'linkedin'}\n"
        for i, c in enumerate(CONTACTS)))  # fmt: skip
    stages.write_text("timestamp,contact_id,stage,value,currency\n" + "".join(
        f"2025-01-05T10:00:00Z,{c},closed_won,{v},{cur}\n"
        for c, v, cur in zip(CONTACTS, VALUES, currencies, strict=True)))  # fmt: skip
    rates.write_text("currency,rate\nUSD,1\nEUR,1.5\n")
    return touches, stages, rates


def _in_memory(touches: Path, stages: Path, **options: object) -> attribution.RunResult:
    return attribution.attribute(touches, stages, models=["linear"], **options)


def _partitioned(touches: Path, stages: Path, **options: object) -> attribution.RunResult:
    return attribution.attribute_partitioned(touches, stages, partitions=2, models=["linear"],
                                             **options)  # fmt: skip


@pytest.mark.parametrize("run", [_in_memory, _partitioned])
def test_rates_beside_a_currency_column_blank_everywhere_take_the_amounts_as_they_are(
    tmp_path: Path, run: Callable[..., attribution.RunResult]
) -> None:
    touches, stages, rates = _files(tmp_path, ("",) * len(CONTACTS))
    plain = run(touches, stages).manifest["totals"]["conversions_value"]
    result = run(touches, stages, currency_rates=rates)
    assert plain == sum(VALUES)
    assert result.manifest["totals"]["conversions_value"] == plain  # was 0: every value null
    found = result.manifest["inputs"]["stages"]["currency"]
    assert found["currency"] is None  # said: no amount has a currency
    assert not found.get("converted")


@pytest.mark.parametrize("rates", [False, True])
def test_a_one_currency_file_with_blank_cells_split_across_partitions(
    tmp_path: Path, rates: bool
) -> None:
    # only contact a's deal names its currency: a partition without a holds blanks only
    touches, stages, rates_file = _files(tmp_path, ("EUR",) + ("",) * (len(CONTACTS) - 1))
    options = {"currency_rates": rates_file} if rates else {}
    expected = sum(VALUES) * (1.5 if rates else 1)
    memory = _in_memory(touches, stages, **options).manifest["totals"]["conversions_value"]
    split = _partitioned(touches, stages, **options).manifest["totals"]["conversions_value"]
    assert memory == pytest.approx(expected)
    assert split == pytest.approx(expected)


def test_a_bad_rates_file_in_a_run_request_names_the_field_not_the_server_path(
    tmp_path: Path,
) -> None:
    _files(tmp_path, ("USD",) * len(CONTACTS))
    (tmp_path / "rates.csv").write_text("currency,rate\nUSD,1\nEUR,abc\n")
    settings = Settings(api_keys=("k-0123456789abcdef",), data_dir=tmp_path,
                        runs_dir=tmp_path / "runs")  # fmt: skip
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/v1/runs", headers={"Authorization": "Bearer k-0123456789abcdef"},
            json={"touches": "touches.csv", "stages": "stages.csv",
                  "currency_rates": "rates.csv"},
        )  # fmt: skip
    assert response.status_code == 422, response.text
    error = response.json()
    text = response.text
    assert str(tmp_path) not in text
    assert "source 'rates.csv', column 'rate'" in text
    assert "'abc', at file line(s) 3" in text
    assert error["error"]["field"] == "currency_rates", error
