"""No silent empty answer in Python (new-user report 5, defects 3, 4 and 5): attribute()
raises as the command line exits 3, an empty frame is an error naming its table, write()
of an empty run needs allow_empty, the ids of each side are named when none meet, and a
typo in ``columns`` is an error with a did-you-mean."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import attribution
from attribution.cli import app

COLS = {
    "touches": {"touch_id": "tid", "contact_id": "person", "channel": "src", "timestamp": "ts"},
    "stages": {"contact_id": "person", "timestamp": "when", "stage": "event"},
}


def _touches() -> pl.DataFrame:
    return pl.DataFrame({
        "tid": [f"t{i}" for i in range(8)],
        "person": [1, 1, 2, 2, 3, 3, 4, 4],
        "src": ["linkedin", "email"] * 4,
        "ts": [f"2025-01-{i + 1:02d}" for i in range(8)],
    })


def _stages() -> pl.DataFrame:
    return pl.DataFrame({
        "person": [1, 2, 3, 4],
        "event": ["closed_won", "closed_won", "closed_won", "lead"],
        "when": ["2025-02-01"] * 4,
        "deal_amount": [1000.0, 2000.0, 3000.0, None],
    })


def test_a_run_with_conversions_is_returned() -> None:
    result = attribution.attribute(_touches(), _stages(), columns=COLS, models=["linear"])
    assert result.channel_credit.get_column("conversions").sum() == pytest.approx(3.0)


@pytest.mark.parametrize("empty", ["touches", "stages"])
def test_an_empty_frame_is_an_error_naming_its_table(empty: str) -> None:
    touches, stages = _touches(), _stages()
    touches, stages = (touches.clear(), stages) if empty == "touches" else (touches, stages.clear())
    with pytest.raises(attribution.InputError, match="the frame has no rows") as caught:
        attribution.attribute(touches, stages, columns=COLS, models=["linear"])
    assert caught.value.table == empty
    assert "allow_empty=True" in str(caught.value)
    # allowed: the empty run, its reason in the notes
    result = attribution.attribute(touches, stages, columns=COLS, models=["linear"],
                                   allow_empty=True)
    assert result.channel_credit.height == 0
    assert result.manifest["notes"]


def test_ids_read_as_floats_raise_naming_the_ids_of_each_side(tmp_path: Path) -> None:
    floats = _stages().with_columns(pl.col("person").cast(pl.Float64))  # pandas with a NaN
    with pytest.raises(attribution.EmptyResultError) as caught:
        attribution.attribute(_touches(), floats, columns=COLS, models=["linear"])
    message = str(caught.value)
    assert "no conversion was attributed" in message
    assert "the stages' contact_id are e.g. '1.0', '2.0', '3.0'" in message
    assert "the touches' '1', '2', '3'" in message
    assert "whole numbers read as floats ('1.0' where the touches have '1')" in message
    assert "--allow-empty accepts an empty run" in message
    # allow_empty: the empty result, the same reason in its notes; written only if allowed
    result = attribution.attribute(_touches(), floats, columns=COLS, models=["linear"],
                                   allow_empty=True)
    assert result.channel_credit.get_column("conversions").sum() == 0
    assert any("none with a touch in its journey" in n for n in result.manifest["notes"])
    with pytest.raises(attribution.EmptyResultError, match="none with a touch"):
        result.write(tmp_path / "refused", allow_empty=False)
    assert not (tmp_path / "refused").exists() or not any((tmp_path / "refused").iterdir())
    assert result.write(tmp_path / "runs").is_dir()  # the run's own allow_empty


def test_ids_that_differ_are_named_without_the_float_hint() -> None:
    other = _stages().with_columns(pl.format("SF-{}", pl.col("person")).alias("person"))
    with pytest.raises(attribution.EmptyResultError) as caught:
        attribution.attribute(_touches(), other, columns=COLS, models=["linear"])
    assert "the stages' contact_id are e.g. 'SF-1', 'SF-2', 'SF-3'" in str(caught.value)
    assert "floats" not in str(caught.value)


def test_a_misspelt_conversion_stage_raises_with_a_did_you_mean() -> None:
    with pytest.raises(attribution.EmptyResultError, match="Did you mean 'closed_won'"):
        attribution.attribute(_touches(), _stages(), columns=COLS, models=["linear"],
                              conversion_stage="closed_wn")


def test_an_empty_path_table_raises_unless_allowed(tmp_path: Path) -> None:
    paths = pl.DataFrame({"path": ["a > b"], "conversions": [0], "nulls": [3]})
    with pytest.raises(attribution.EmptyResultError, match="the path table holds 1 path"):
        attribution.attribute_paths(paths, models=["linear"])
    result = attribution.attribute_paths(paths, models=["linear"], allow_empty=True)
    assert result.write(tmp_path).is_dir()


def test_the_command_line_still_exits_3_naming_the_ids(tmp_path: Path) -> None:
    _touches().write_csv(tmp_path / "t.csv")
    _stages().with_columns(pl.col("person").cast(pl.Float64)).write_csv(tmp_path / "s.csv")
    config = tmp_path / "c.toml"
    config.write_text(
        "[columns.touches]\ntouch_id = 'tid'\ncontact_id = 'person'\nchannel = 'src'\n"
        "timestamp = 'ts'\n[columns.stages]\ncontact_id = 'person'\ntimestamp = 'when'\n"
        "stage = 'event'\n"
    )
    args = ["run", "-c", str(config), "--touches", str(tmp_path / "t.csv"), "--stages",
            str(tmp_path / "s.csv"), "-m", "linear", "--out", str(tmp_path / "runs")]
    out = CliRunner().invoke(app, args, env={"COLUMNS": "400"})
    assert out.exit_code == 3, out.output
    assert "read as floats ('1.0' where the touches have '1')" in out.output
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    out = CliRunner().invoke(app, [*args, "--allow-empty"], env={"COLUMNS": "400"})
    assert out.exit_code == 0, out.output


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ({"stage": {"value": "deal_amount"}}, "unknown table 'stage'; did you mean 'stages'?"),
        ({"touchs": {"timestamp": "ts"}}, "unknown table 'touchs'; did you mean 'touches'?"),
        ({"stages": {"valu": "deal_amount"}}, "unknown column 'valu'"),
        ({"stages": "deal_amount"}, "must map our column names"),
    ],
)
def test_a_typo_in_columns_is_an_error(columns: dict[str, object], expected: str) -> None:
    with pytest.raises(attribution.InputError, match=expected) as caught:
        attribution.RunOptions(columns=columns)
    assert caught.value.option == "columns"
    with pytest.raises(attribution.InputError, match=expected):
        attribution.attribute(_touches(), _stages(), models=["linear"],
                              columns={**COLS, **columns})


def test_columns_of_every_table_and_the_event_log_are_accepted() -> None:
    options = attribution.RunOptions(columns={
        "touches": {"event_type": "kind", "stage": "event"},  # an event log reads these
        "spend": {"amount": "cost"},
        "contacts": {"role": "title"},
    })
    assert options.table_columns("events") == {"event_type": "kind", "stage": "event"}
