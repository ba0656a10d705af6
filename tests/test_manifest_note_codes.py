"""A note a program acts on carries a code in the manifest (``note_codes``): the command
line prints an incremental run's held-watermark note by its code, never by its wording."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import polars as pl
import pytest

import attribution
from attribution.cli import _run
from attribution.engine._manifest import WATERMARK_HELD, add_coded_notes, coded_notes


def _result(manifest: dict[str, Any]) -> Any:
    return SimpleNamespace(manifest=manifest)


def test_coded_notes_are_notes_listed_under_their_code() -> None:
    manifest: dict[str, Any] = {"notes": ["first"]}
    add_coded_notes(manifest, WATERMARK_HELD, ["held a", "held b"])
    add_coded_notes(manifest, WATERMARK_HELD, [])
    assert manifest["notes"] == ["first", "held a", "held b"]
    assert coded_notes(manifest, WATERMARK_HELD) == ["held a", "held b"]
    assert coded_notes({"notes": ["held a"]}, WATERMARK_HELD) == []


def test_the_cli_selects_the_watermark_note_by_its_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reworded: dict[str, Any] = {"notes": [], "parameters": {}}
    add_coded_notes(reworded, WATERMARK_HELD, ["touches: 3 rows dated after this run"])
    wording_only = {  # the old wording, without the code: not selected
        "notes": ["incremental run: the touches watermark stays at 2025-01-01"],
        "parameters": {},
    }
    for manifest in (reworded, wording_only):
        _run._nightly(lambda m=manifest, **kw: _result(m), options=SimpleNamespace(state="s"))
    err = capsys.readouterr().err
    assert err.splitlines() == ["touches: 3 rows dated after this run"]


def test_an_incremental_run_codes_its_held_watermark_note(tmp_path: Path) -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    touches = pl.DataFrame(
        {"touch_id": ["t1", "t2"], "contact_id": ["c1", "c2"], "channel": ["ads", "email"],
         "timestamp": [t0, t0 + timedelta(days=1)]}
    )  # fmt: skip
    stages = pl.DataFrame(
        {"contact_id": ["c1", "c2"], "stage": ["closed_won"] * 2,
         "timestamp": [t0 + timedelta(days=5)] * 2}
    )  # fmt: skip
    ahead = pl.DataFrame(
        {"touch_id": ["t3"], "contact_id": ["c2"], "channel": ["ads"],
         "timestamp": [datetime.now(UTC) + timedelta(days=200)]}
    ).with_columns(pl.col("timestamp").dt.cast_time_unit("us"))  # fmt: skip
    state = tmp_path / "state"
    nights = [touches, pl.concat([touches, ahead])]
    got = [
        attribution.attribute_incremental(rows, stages, models=["linear"], state=state)
        for rows in nights
    ]
    assert coded_notes(got[0].manifest, WATERMARK_HELD) == []
    (note,) = coded_notes(got[1].manifest, WATERMARK_HELD)
    assert note in got[1].manifest["notes"]
    assert "1 row(s) read tonight are dated after this run's time" in note
