"""review20 #8: ``[inputs] import = DIR`` in a run config took an import directory's
touches, stages, contacts and surveys but not the ``spend.parquet`` of ``import ads``: every
table each import writes is now an input of the run."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from attribution.cli._app import app
from attribution.inputs._config import load_config
from tests.test_import_ads import GOOGLE, write
from tests.test_import_ga4 import EVENTS
from tests.test_import_ga4 import export as ga4_export
from tests.test_import_pipedrive import HEADER, ROWS
from tests.test_import_pipedrive import export as pipedrive_export


def test_a_config_importing_a_directory_takes_every_table_written_there(tmp_path: Path) -> None:
    """review20 #8: ``[inputs] import = "ads"`` left out the ``spend.parquet`` of ``import
    ads``. Each import's directory: every table it wrote is an input of the run."""
    runner = CliRunner()
    deals = pipedrive_export(tmp_path / "deals.csv", HEADER, ROWS)
    rates = write(tmp_path / "rates.csv", "currency,rate\nUSD,1\nEUR,1.08\n")
    commands = {
        "ads": ["ads", "--google-ads", str(write(tmp_path / "g.csv", GOOGLE))],
        "crm": ["pipedrive", "--deals", str(deals), "--currency-rates", str(rates),
                "--self-reported", "Deal - Title"],
        "web": ["ga4", "--events", str(ga4_export(tmp_path / "events.csv", EVENTS))],
    }  # fmt: skip
    for name, command in commands.items():
        result = runner.invoke(app, ["import", *command, "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        config = tmp_path / f"{name}.toml"
        config.write_text(f'[inputs]\nimport = "{name}"\n', encoding="utf-8")
        written = {p.stem: p for p in (tmp_path / name).glob("*.parquet")}
        inputs = load_config(config).inputs
        assert {k: inputs.get(k) for k in written} == written, name
    assert "spend" in load_config(tmp_path / "ads.toml").inputs
