"""A German user's segments (new-user report, session 20): an accounts table segmented
``KMU`` / ``Mittelstand`` / ``Konzern`` got no published range (pipeline per $, CAC
recovery, payback target, sales cycle, NRR), so the guardrails were blank for every segment.
Now the published segments' common names in German, French and Spanish are read as them
(built in), a config's ``[economics] segment_aliases`` adds the user's own, and every table
keeps the user's names. The sample data's accounts, renamed as she names them."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import attribution
from attribution.cli import app

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
GERMAN = {"smb": "KMU", "mid_market": "Mittelstand", "enterprise": "Konzern"}
RANGES = ("payback_target_months", "pipeline_per_dollar_low", "pipeline_per_dollar_high",
          "cac_payback_low", "cac_payback_high", "cac_payback_judgement")  # fmt: skip


@pytest.fixture(scope="module")
def run() -> attribution.AttributionResult:
    return attribution.attribute(SAMPLE / "touches.parquet", SAMPLE / "stages.parquet",
                                 models=["linear"])  # fmt: skip


def _accounts(names: dict[str, str]) -> pl.DataFrame:
    accounts = pl.read_parquet(SAMPLE / "accounts.parquet")
    return accounts.with_columns(pl.col("segment").replace(names))


def _analyse(result: attribution.AttributionResult, accounts: pl.DataFrame,
             **economics: object) -> tuple[object, object]:  # fmt: skip
    inputs = attribution.B2BInputs(
        touches=SAMPLE / "touches.parquet", stages=SAMPLE / "stages.parquet",
        spend=SAMPLE / "spend.parquet", accounts=accounts,
        subscriptions=SAMPLE / "subscriptions.parquet", economics=economics or None,
    )  # fmt: skip
    extras = attribution.analyse(result, inputs).extras
    econ = next(x for x in extras if type(x).__name__ == "UnitEconomics")
    funnel = next(x for x in extras if type(x).__name__ == "Funnel")
    return econ, funnel


def _by_segment(econ: object, funnel: object, rename: dict[str, str]) -> tuple[dict, dict]:
    blended = econ.blended.filter(pl.col("segment") != "all")  # type: ignore[attr-defined]
    ranges = {
        rename.get(r["segment"], r["segment"]): tuple(r[c] for c in RANGES)
        for r in blended.iter_rows(named=True)
    }
    kpis = funnel.kpis.filter(pl.col("dimension") == "segment")  # type: ignore[attr-defined]
    bench = {
        (rename.get(r["group"], r["group"]), r["kpi"]): (r["benchmark_low"], r["benchmark_high"])
        for r in kpis.iter_rows(named=True)
    }
    return ranges, bench


def test_german_segment_names_get_the_published_ranges(run) -> None:
    published_econ, published_funnel = _analyse(run, _accounts({}))
    econ, funnel = _analyse(run, _accounts(GERMAN))
    # her names are kept, in every table
    segments = set(econ.blended.get_column("segment"))  # type: ignore[attr-defined]
    assert segments == {"all", "kmu", "mittelstand", "konzern", "unknown"}
    back = {v.lower(): k for k, v in GERMAN.items()}
    assert _by_segment(econ, funnel, back) == _by_segment(published_econ, published_funnel, {})
    ranges, _ = _by_segment(econ, funnel, back)
    assert ranges["smb"][1:3] == (15.0, 40.0)  # SMB's pipeline per $ range, for 'kmu'
    assert ranges["mid_market"][0] == 18.0  # mid-market's payback target: SMB's 18 months
    assert econ.parameters["segment_aliases"] == {  # type: ignore[attr-defined]
        "kmu": {"as": "smb", "source": "built-in"},
        "konzern": {"as": "enterprise", "source": "built-in"},
        "mittelstand": {"as": "mid_market", "source": "built-in"},
    }
    summary = econ.summary()  # type: ignore[attr-defined]
    assert "  kmu (as smb) pipeline per $ " in summary
    assert "  konzern (as enterprise) pipeline per $ " in summary


def test_before_the_aliases_her_segments_had_no_range(run) -> None:
    """The guard: names that are no alias stay without a range (the blank guardrails of
    the report), so the test above measures the aliases."""
    econ, _ = _analyse(run, _accounts({"smb": "Gruppe A", "mid_market": "Gruppe B",
                                       "enterprise": "Gruppe C"}))  # fmt: skip
    rows = econ.blended.filter(pl.col("segment").str.starts_with("gruppe"))  # type: ignore[attr-defined]
    assert rows.height == 3
    assert rows.get_column("cac_payback_low").null_count() == 3
    assert econ.parameters["segment_aliases"] == {}  # type: ignore[attr-defined]


def test_a_users_own_aliases_in_the_config(run, tmp_path: Path) -> None:
    accounts = _accounts({"smb": "Kleinkunden", "mid_market": "Gruppe B",
                          "enterprise": "Schlüsselkunden"})  # fmt: skip
    econ, _ = _analyse(run, accounts, segment_aliases={
        "smb": "Kleinkunden", "Mid-Market": ["Gruppe B"], "enterprise": ["Schlüsselkunden"]})
    aliases = econ.parameters["segment_aliases"]  # type: ignore[attr-defined]
    assert aliases["gruppe_b"] == {"as": "mid_market", "source": "given"}
    assert aliases["kleinkunden"] == {"as": "smb", "source": "given"}  # built in, and given
    ranges, _ = _by_segment(econ, _analyse(run, _accounts({}))[1], {})
    assert ranges["schlüsselkunden"][3:5] == (12.0, 24.0)  # enterprise's CAC recovery
    # the same through a run config's [economics]
    accounts.write_csv(tmp_path / "accounts.csv")
    config = tmp_path / "run.toml"
    config.write_text(
        f'[inputs]\ntouches = "{SAMPLE / "touches.parquet"}"\n'
        f'stages = "{SAMPLE / "stages.parquet"}"\nspend = "{SAMPLE / "spend.parquet"}"\n'
        'accounts = "accounts.csv"\n[run]\nmodels = ["linear"]\nout = "runs"\n'
        '[economics]\nsegment_aliases = {mid_market = ["Gruppe B"], '
        'enterprise = ["Schlüsselkunden"]}\n'
    )
    done = CliRunner().invoke(app, ["run", "-c", str(config)], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert "  gruppe_b (as mid_market) pipeline per $ " in done.output
    assert "  schlüsselkunden (as enterprise) pipeline per $ " in done.output


def test_a_users_own_rows_win_over_an_alias(run) -> None:
    own = {"segment": {"kmu": {"cac_payback_months": [2, 4]}}}  # [targets.segment.kmu]
    bench = attribution.load_benchmarks(targets=own)
    inputs = attribution.B2BInputs(spend=SAMPLE / "spend.parquet", accounts=_accounts(GERMAN),
                                   benchmarks=bench)  # fmt: skip
    econ = next(x for x in attribution.analyse(run, inputs).extras
                if type(x).__name__ == "UnitEconomics")  # fmt: skip
    kmu = econ.blended.filter(pl.col("segment") == "kmu").row(0, named=True)  # type: ignore[attr-defined]
    assert (kmu["cac_payback_low"], kmu["cac_payback_high"]) == (2.0, 4.0)
    assert "kmu" not in econ.parameters["segment_aliases"]  # type: ignore[attr-defined]
    konzern = econ.blended.filter(pl.col("segment") == "konzern").row(0, named=True)  # type: ignore[attr-defined]
    assert (konzern["cac_payback_low"], konzern["cac_payback_high"]) == (12.0, 24.0)


@pytest.mark.parametrize(
    ("aliases", "message"),
    [
        ({"smbb": ["KMU"]}, "'smbb' is no segment of the benchmark table .*did you mean 'smb'"),
        ({"smb": ["KMUs"]}, "no account has the segment 'kmus' .*did you mean 'kmu'"),
        ({"smb": ["KMU"], "enterprise": ["kmu"]}, "'kmu' is given for both smb and enterprise"),
    ],
)
def test_wrong_aliases_are_errors(run, aliases: dict, message: str) -> None:
    inputs = attribution.B2BInputs(spend=SAMPLE / "spend.parquet", accounts=_accounts(GERMAN),
                                   economics={"segment_aliases": aliases})  # fmt: skip
    with pytest.raises(attribution.ConfigError, match=message):
        attribution.analyse(run, inputs)


@pytest.mark.parametrize("value", ["KMU", {"smb": [1]}, {"smb": [""]}])
def test_a_misshapen_alias_setting_is_an_error_when_given(value: object) -> None:
    """B2BInputs (and so a config's [economics] and the run request's economics) checks
    the shape when made, before any work."""
    with pytest.raises(attribution.InputError, match="economics: segment_aliases"):
        attribution.B2BInputs(economics={"segment_aliases": value})
