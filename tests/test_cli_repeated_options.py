"""An option that takes one value given twice is refused (new-user report 15, S1: the
parser kept the last value, so `--spend a.csv --spend b.csv` read b.csv alone with exit 0,
a blended CAC of $120 where it was $997); repeatable options (`--model`) are not."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from attribution.cli import app

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
RUN = ["run", "--touches", str(SAMPLE / "touches.parquet"),
       "--stages", str(SAMPLE / "stages.parquet")]  # fmt: skip


def test_a_table_given_twice_is_refused_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    result = CliRunner().invoke(
        app, [*RUN, "--spend", "a.csv", "--spend=b.csv", "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "'--spend'" in result.output
    assert "given 2 times ('a.csv', 'b.csv')" in result.output
    assert not out.exists()


def test_touches_twice_and_a_short_option_twice(tmp_path: Path) -> None:
    twice = CliRunner().invoke(app, [*RUN, "--touches", "x.parquet", "--out", str(tmp_path)])
    assert twice.exit_code == 2
    assert "'--touches'" in twice.output
    config = CliRunner().invoke(app, ["run", "-c", "a.toml", "--config", "b.toml"])
    assert config.exit_code == 2
    assert "given 2 times ('a.toml', 'b.toml')" in config.output
    # a short option's value attached, with or without '=' (review19 #4)
    for args in (["-c", "a.toml", "-cb.toml"], ["-c=a.toml", "-c", "b.toml"]):
        attached = CliRunner().invoke(app, ["run", *args])
        assert attached.exit_code == 2, args
        assert "given 2 times ('a.toml', 'b.toml')" in attached.output


def test_an_import_option_twice_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["import", "hubspot", "--contacts", "a.csv", "--contacts", "b.csv",
              "--out", str(tmp_path / "crm")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "'--contacts'" in result.output


def test_repeatable_options_are_left_alone(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, [*RUN, "-m", "linear", "-m", "first_touch", "--out", str(tmp_path / "runs")]
    )
    assert result.exit_code == 0, result.output
    assert "given 2 times" not in result.output
