"""The run's reporting currency writes its money (new-user reports 13 and 14: a German user's
EUR data read "$600,000" everywhere): the rates' currency at rate 1, else the data's one
currency, else ``currency`` (``--currency``, ``[run] currency``, the HTTP request's field),
else USD; recorded in the manifest's ``currency``; a contradiction is an error naming both.
In-process runs of a 30-contact dataset (each about a second)."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import attribution
from attribution._reporting_currency import current_currency, money_in, money_text
from attribution.cli import app
from service import Settings, create_app

KEY = "k-0123456789abcdef"
#: an amount written with a dollar sign ('$1,234', '-$5'), not a '$' in a regex or a script
DOLLARS = re.compile(r"\$\d")
EUROS = re.compile(r"€\d")
#: what a figure of the published (USD) table is labelled with in a run in another currency
#: (new-user report 16, M8): written in dollars, and only there
USD_LABELS = ("published ranges, USD", "(USD)")


def _unlabelled_dollars(text: str) -> list[str]:
    """The dollar amounts of ``text`` outside a line, table cell or paragraph labelled as
    the published USD ranges."""
    parts = re.split(r"\n|<(?:td|th|p|li|div)\b", text)
    return [m for part in parts if not any(label in part for label in USD_LABELS)
            for m in DOLLARS.findall(part)]  # fmt: skip


def _data(folder: Path, *, currency: str | None, spend_currency: str | None = None) -> Path:
    """touches, stages (a ``currency`` column when ``currency``), spend and a plan."""
    channels = ("linkedin", "google", "email")
    touches = ["timestamp,contact_id,channel"]
    stages = ["timestamp,contact_id,stage,value" + (",currency" if currency else "")]
    for i in range(30):
        touches += [f"2025-0{1 + k}-0{1 + i % 8}T10:00:00Z,c{i},{channels[(i + k) % 3]}"
                    for k in range(3)]  # fmt: skip
        stages.append(f"2025-03-1{i % 8}T10:00:00Z,c{i},mql," + ("," if currency else ""))
        if i % 3 == 0:
            stages.append(f"2025-03-2{i % 8}T10:00:00Z,c{i},closed_won,{1000 + 10 * i}"
                          + (f",{currency}" if currency else ""))  # fmt: skip
    (folder / "touches.csv").write_text("\n".join(touches) + "\n")
    (folder / "stages.csv").write_text("\n".join(stages) + "\n")
    spend = ["channel,month,amount" + (",currency" if spend_currency else "")] + [
        f"{c},2025-0{m},{700 + 100 * m}" + (f",{spend_currency}" if spend_currency else "")
        for m in (1, 2, 3) for c in channels
    ]  # fmt: skip
    (folder / "spend.csv").write_text("\n".join(spend) + "\n")
    (folder / "plan.toml").write_text(
        "[budget]\nlinkedin = 600000\ngoogle = 100000\n[targets]\ncustomers = 5000\ncac = 150\n"
    )
    return folder


def _run(folder: Path, *extra: str, plan: bool = True) -> tuple[int, str, str, Path | None]:
    args = ["run", "--touches", str(folder / "touches.csv"), "--stages",
            str(folder / "stages.csv"), "--spend", str(folder / "spend.csv"), "-m", "linear",
            "--out", str(folder / "runs"), *(["--plan", str(folder / "plan.toml")] if plan
                                              else []), *extra]  # fmt: skip
    result = CliRunner().invoke(app, args)
    runs = sorted((folder / "runs").glob("2*")) if (folder / "runs").exists() else []
    return result.exit_code, result.stdout, result.stderr, runs[-1] if runs else None


def _report_text(run_dir: Path) -> str:
    """report.html without its scripts (the packed plotly.js and the charts' data)."""
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    return re.sub(r"<script.*?</script>", "", html, flags=re.DOTALL)


def _assert_in_euros(code: int, out: str, err: str, run_dir: Path | None) -> None:
    assert code == 0, err
    assert run_dir is not None
    assert EUROS.search(out), out
    assert _unlabelled_dollars(out) == [], out
    verdict = next(line for line in out.splitlines() if line.startswith("Verdict:"))
    assert "€700,000 budget" in verdict
    assert not DOLLARS.search(verdict)
    page = _report_text(run_dir)
    assert len(EUROS.findall(page)) > 20
    assert _unlabelled_dollars(page) == []
    assert "Pipeline per €" in page or "pipeline per €" in page


def test_eur_data_converted_with_eur_rates_is_written_in_euros(tmp_path: Path) -> None:
    folder = _data(tmp_path, currency="USD")  # deals in USD, the reporting currency EUR
    (folder / "rates.csv").write_text("currency,rate\nEUR,1\nUSD,0.92\n")
    code, out, err, run_dir = _run(folder, "--currency-rates", str(folder / "rates.csv"))
    _assert_in_euros(code, out, err, run_dir)
    assert run_dir is not None
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["currency"] == {"code": "EUR", "sign": "€", "from": "currency_rates"}


def test_a_config_currency_labels_data_without_a_currency_column(tmp_path: Path) -> None:
    folder = _data(tmp_path, currency=None)
    (folder / "run.toml").write_text('[run]\ncurrency = "EUR"\n')
    code, out, err, run_dir = _run(folder, "--config", str(folder / "run.toml"))
    _assert_in_euros(code, out, err, run_dir)
    assert run_dir is not None
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["currency"] == {"code": "EUR", "sign": "€", "from": "option"}
    # a label, no conversion: the amounts of the run without the option
    plain = attribution.attribute(folder / "touches.csv", folder / "stages.csv",
                                  models=["linear"]).manifest["totals"]  # fmt: skip
    assert manifest["totals"]["conversions_value"] == plain["conversions_value"] == 11_350


def test_one_currency_column_decides_and_a_usd_run_is_unchanged(tmp_path: Path) -> None:
    for name in ("eur", "usd"):
        (tmp_path / name).mkdir()
    _assert_in_euros(*_run(_data(tmp_path / "eur", currency="EUR")))
    code, out, err, run_dir = _run(_data(tmp_path / "usd", currency=None))
    assert code == 0, err
    assert run_dir is not None
    assert DOLLARS.search(out)
    assert "€" not in out
    assert "$700,000 budget" in out
    page = _report_text(run_dir)
    assert DOLLARS.search(page)
    assert "€" not in page
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["currency"] == {"code": "USD", "sign": "$", "from": "default"}


def test_an_option_contradicting_the_data_or_the_rates_is_an_error_naming_both(
    tmp_path: Path,
) -> None:
    folder = _data(tmp_path, currency="EUR")
    code, _, err, run_dir = _run(folder, "--currency", "GBP", plan=False)
    assert code == 2
    assert run_dir is None
    assert re.search(r"currency = 'GBP' contradicts the data: stages '\S*stages.csv' in EUR",
                     err), err
    (folder / "rates.csv").write_text("currency,rate\nUSD,1\nEUR,1.08\n")
    with pytest.raises(attribution.ConfigError, match="'EUR' contradicts the currency rates "
                       "file .*reporting currency \\(rate 1\\) is USD"):  # fmt: skip
        attribution.RunOptions(currency="EUR", currency_rates=folder / "rates.csv")
    with pytest.raises(attribution.InputError, match="ISO 4217 code .* got 'EURO'") as bad:
        attribution.RunOptions(currency="EURO")
    assert bad.value.option == "currency"
    assert attribution.RunOptions(currency=" eur ").currency == "EUR"


def test_two_tables_in_two_currencies_without_rates_are_an_error(tmp_path: Path) -> None:
    folder = _data(tmp_path, currency="EUR", spend_currency="USD")
    code, _, err, run_dir = _run(folder, plan=False)
    assert code == 2
    assert run_dir is None
    assert "2 currencies across the tables" in err
    assert re.search(r"stages '\S*stages.csv' in EUR, spend '\S*spend.csv' in USD", err), err


def test_a_plan_checked_without_data_is_written_in_its_currency(tmp_path: Path) -> None:
    folder = _data(tmp_path, currency=None)
    result = CliRunner().invoke(app, ["plan", str(folder / "plan.toml"), "--currency", "EUR",
                                      "--out", str(folder / "runs")])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "€150" in result.stdout
    assert _unlabelled_dollars(result.stdout) == []
    # the CAC the published ranges imply is theirs, in dollars, labelled (report 16, M8)
    assert "€150 is 9.3x below $1,389" in result.stdout


def test_the_http_run_request_takes_the_currency(tmp_path: Path) -> None:
    _data(tmp_path, currency=None)
    settings = Settings(api_keys=(KEY,), data_dir=tmp_path, runs_dir=tmp_path / "served")
    body = {"touches": "touches.csv", "stages": "stages.csv", "spend": "spend.csv",
            "models": ["linear"]}  # fmt: skip
    with TestClient(create_app(settings)) as client:
        auth = {"Authorization": f"Bearer {KEY}"}
        bad = client.post("/v1/runs", headers=auth, json={**body, "currency": "EURO"})
        assert bad.status_code == 422, bad.text
        assert bad.json()["error"]["field"] == "currency"
        started = client.post("/v1/runs", headers=auth, json={**body, "currency": "EUR"})
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        client.app.state.runs.wait(run_id, timeout=60)  # type: ignore[attr-defined]
        status = client.get(f"/v1/runs/{run_id}", headers=auth).json()
    assert status["status"] == "succeeded", status
    assert status["manifest"]["currency"] == {"code": "EUR", "sign": "€", "from": "option"}
    page = _report_text(tmp_path / "served" / run_id)
    assert EUROS.search(page)
    assert not DOLLARS.search(page)


def test_the_currency_in_force_is_reset_and_never_shared_between_threads() -> None:
    seen: list[str] = []
    with money_in("EUR"):
        thread = threading.Thread(target=lambda: seen.append(money_text(5)))
        thread.start()
        thread.join()
        assert money_text(-1234.5) == "-€1,234"
        with money_in("CHF"):
            assert money_text(1234) == "CHF 1,234"
        assert current_currency() == "EUR"
    assert seen == ["$5"]  # another thread (a service's run) starts at the default
    assert current_currency() == "USD"
    assert money_text(1) == "$1"
    with money_in({"currency": {"code": "GBP"}}):  # a manifest
        assert money_text(3) == "£3"


def test_a_library_run_without_the_b2b_stage_reports_in_its_currency_option(
    tmp_path: Path,
) -> None:
    folder = _data(tmp_path, currency=None)
    result = attribution.attribute(folder / "touches.csv", folder / "stages.csv",
                                   models=["linear"], currency="GBP")  # fmt: skip
    assert result.manifest["parameters"]["currency"] == "GBP"
    page = _report_text(result.write(tmp_path / "runs"))
    assert re.search(r"£\d", page)
    assert DOLLARS.findall(page) == []
