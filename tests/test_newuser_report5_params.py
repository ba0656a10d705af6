"""New-user report 5: model parameters naming channels (#27) and the path table's value
(#11, #12) -- no option changes nothing in silence, no bad value is credited."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution import InputError, ModelParameterError
from tests.test_no_silent_empty import _cli, _error_line

TOUCHES = pl.DataFrame(
    {
        "contact_id": ["c1", "c1", "c1", "c2", "c2"],
        "channel": ["linkedin", "Email", "direct", "email", "Direct"],
        "timestamp": ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-01", "2025-03-02"],
    }
)
STAGES = pl.DataFrame(
    {
        "contact_id": ["c1", "c2"],
        "stage": ["closed_won", "closed_won"],
        "timestamp": ["2025-03-05", "2025-03-05"],
        "value": [100.0, 50.0],
    }
)


def _credit(result: attribution.AttributionResult) -> dict[str, float]:
    return dict(result.channel_credit.select("channel", "conversions").iter_rows())


# ------------------------------------------------------------------- #27 channel parameters
def test_direct_channels_are_spelled_like_the_data() -> None:
    model = ("last_non_direct", {"direct_channels": ["Direct"]})
    credit = _credit(attribution.attribute(TOUCHES, STAGES, models=[model]))
    # both journeys end on a direct touch: the last non-direct touch is email in each
    assert credit["email"] == pytest.approx(2.0)
    assert credit["direct"] == 0.0
    run = attribution.RunOptions(models=[model]).runs[0]
    assert run.label == "last_non_direct(direct_channels=direct)"
    assert run.params["direct_channels"] == ("direct",)


def test_a_direct_channel_the_data_lacks_is_an_error_with_a_did_you_mean() -> None:
    with pytest.raises(ModelParameterError, match="'drect', which is no channel of the data.*"
                       "did you mean 'direct'"):
        attribution.attribute(
            TOUCHES, STAGES, models=[("last_non_direct", {"direct_channels": ["drect"]})]
        )


def test_channel_multipliers_are_spelled_and_checked() -> None:
    tiny = ("custom", {"others": 1.0, "channel_multipliers": {"Email": 1e-6}})
    credit = _credit(attribution.attribute(TOUCHES, STAGES, models=[tiny]))
    assert credit["email"] < 1e-5  # the multiplier applies to the data's 'email'
    typo = ("custom", {"others": 1.0, "channel_multipliers": {"emial": 1e-6}})
    with pytest.raises(ModelParameterError, match="'emial'.*did you mean 'email'"):
        attribution.attribute(TOUCHES, STAGES, models=[typo])
    clash = ("custom", {"others": 1.0, "channel_multipliers": {"Email": 2, "email": 3}})
    with pytest.raises(ModelParameterError, match="two multipliers"):
        attribution.RunOptions(models=[clash])


def test_a_channel_the_data_does_not_hold_is_a_note_not_an_error() -> None:
    # close to no channel of the data (a month without webinars): it changes nothing, said
    model = ("custom", {"others": 1.0, "channel_multipliers": {"webinar": 3.0}})
    result = attribution.attribute(TOUCHES, STAGES, models=[model])
    assert any("names 'webinar', which is no channel of the data" in n
               and "changes nothing here" in n for n in result.manifest["notes"])
    plain = attribution.attribute(TOUCHES, STAGES, models=[("custom", {"others": 1.0})])
    assert _credit(result) == pytest.approx(_credit(plain))


def test_channel_parameters_go_through_the_channel_aliases() -> None:
    model = ("last_non_direct", {"direct_channels": ["Direct Traffic"]})
    result = attribution.attribute(
        TOUCHES, STAGES, models=[model], channel_aliases={"direct": ["direct traffic"]}
    )
    assert _credit(result)["email"] == pytest.approx(2.0)


def test_the_default_direct_channel_missing_from_the_data_is_a_note() -> None:
    no_direct = TOUCHES.filter(pl.col("channel").str.to_lowercase() != "direct")
    result = attribution.attribute(no_direct, STAGES, models=["last_non_direct"])
    assert any("'direct' is no channel of the data" in n for n in result.manifest["notes"])
    plain = attribution.attribute(TOUCHES, STAGES, models=["last_non_direct"])
    assert not any("no channel of the data" in n for n in plain.manifest["notes"])


def test_the_cli_and_paths_check_channel_parameters_too(tmp_path: Path) -> None:
    TOUCHES.write_csv(tmp_path / "t.csv")
    STAGES.write_csv(tmp_path / "s.csv")
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv",
                "-m", "last_non_direct:direct_channels=drect", "-o", "runs")
    assert proc.returncode == 2, proc.stderr
    assert "did you mean 'direct'" in _error_line(proc)
    paths = pl.DataFrame({"path": ["a > Direct", "b"], "conversions": [1, 1]})
    credit = _credit(attribution.attribute_paths(
        paths, models=[("last_non_direct", {"direct_channels": ["DIRECT"]})]
    ))
    assert credit["a"] == pytest.approx(1.0)
    with pytest.raises(ModelParameterError, match="did you mean 'direct'"):
        attribution.attribute_paths(
            paths, models=[("last_non_direct", {"direct_channels": ["drect"]})]
        )


def test_scoring_spells_channel_parameters_and_checks_them_against_a_path_table() -> None:
    journey = {
        "conversion": {"id": "o1", "timestamp": "2025-03-05T12:00:00"},
        "touches": [
            {"timestamp": "2025-03-01", "channel": "email"},
            {"timestamp": "2025-03-02", "channel": "Direct"},
        ],
    }
    model = ("last_non_direct", {"direct_channels": ["DIRECT"]})
    scores = attribution.score_journeys([journey], models=[model])
    credit = scores.channel_credit.filter(pl.col("channel") == "email")
    assert credit["conversions"].sum() == pytest.approx(1.0)
    paths = pl.DataFrame({"path": [["email", "direct"]], "conversions": [1.0], "nulls": [0.0],
                          "value": [0.0]})
    with pytest.raises(ModelParameterError, match="did you mean 'direct'"):
        attribution.JourneyScorer(
            models=[("last_non_direct", {"direct_channels": ["drect"]})]
        ).fit(paths)


# ----------------------------------------------------------------- #11, #12 path values
def test_a_negative_path_value_is_an_input_error_for_every_model(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text(
        "path,conversions,nulls,value\na > b,2,1,10\nb,1,2,-1\na,0,2,0\nc > a > b,1,0,5\n"
    )
    for model in ("linear", "first_touch", "markov", "shapley"):
        with pytest.raises(InputError) as caught:
            attribution.attribute_paths(tmp_path / "p.csv", models=[model])
        err = caught.value
        assert (err.table, err.column, err.lines) == ("paths", "value", [3]), model
        assert "p.csv" in str(err)
    proc = _cli(tmp_path, "paths", "p.csv", "-m", "linear", "-o", "runs")
    assert proc.returncode == 2
    assert "column 'value'" in _error_line(proc)
    assert "lines: 3" in _error_line(proc)


def test_a_nan_path_value_names_the_users_column_and_row() -> None:
    paths = pl.DataFrame(
        {
            "route": ["a > b", "b", "a", "c > a > b"],
            "conversions": [2, 1, 0, 1],
            "nulls": [1, 2, 2, 0],
            "amount": [10.0, math.nan, 0.0, 5.0],
        }
    )
    with pytest.raises(InputError) as caught:
        attribution.attribute_paths(
            paths, models=["linear", "first_touch"], columns={"path": "route", "value": "amount"}
        )
    assert "column 'amount'" in str(caught.value)
    assert caught.value.rows == [1]
    assert "This is a bug" not in str(caught.value)


def test_non_finite_conversions_are_refused() -> None:
    paths = pl.DataFrame({"path": ["a", "b"], "conversions": [1.0, math.nan]})
    with pytest.raises(InputError, match="conversions must be finite"):
        attribution.attribute_paths(paths, models=["linear"])


def test_a_blank_path_value_is_counted_like_a_stage_without_value(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("path,conversions,nulls,value\na > b,2,1,10\nb,3,2,\na,0,2,\n")
    rec = attribution.attribute_paths(tmp_path / "p.csv", models=["linear"]).manifest[
        "reconciliation"
    ]
    assert rec["conversions_without_value"] == 3.0
    assert rec["value"] == 10.0
