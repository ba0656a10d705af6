"""The path-table separator ``>``: a channel name holding it is an input error (touch log,
path table, scoring request), path tables given as input accept ``a>b`` and ``a > b``, and a
stored path table reads back exactly what the run fitted on."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import attribution
from attribution.exceptions import InputError


def _log(make_touches, make_stages, channel: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    touches = make_touches(
        [
            ("t1", "c1", "email", 1),
            ("t2", "c1", channel, 2),
            ("t3", "c2", channel, 3),
            ("t4", "c3", "email", 4),
        ]
    )
    stages = make_stages([("c1", "closed_won", 5, 10.0), ("c3", "closed_won", 5, 5.0)])
    return touches, stages


def test_touch_log_channel_with_the_separator_is_an_error_naming_file_and_lines(
    make_touches, make_stages, tmp_path
) -> None:
    touches, stages = _log(make_touches, make_stages, "linked > in")
    file = tmp_path / "touches.csv"
    touches.rename({"channel": "Source"}).write_csv(file)
    stages.write_csv(tmp_path / "stages.csv")
    options = attribution.RunOptions(models=["linear"], columns={"touches": {"channel": "Source"}})
    with pytest.raises(InputError, match="contain '>', the separator of path tables") as e:
        attribution.attribute(file, tmp_path / "stages.csv", options=options)
    err = e.value
    assert (err.table, err.column, err.their_column) == ("touches", "channel", "Source")
    assert str(err.source).endswith("touches.csv")
    assert err.lines == [3, 4]  # header is line 1: t2 and t3
    assert "'linked > in'" in str(err)
    # the partitioned executor says the same
    with pytest.raises(InputError, match="separator of path tables") as e2:
        attribution.attribute_partitioned(
            file, tmp_path / "stages.csv", options=options, partitions=2
        )
    assert e2.value.lines == [3, 4]


def test_cli_refuses_it_in_one_line(make_touches, make_stages, tmp_path) -> None:
    touches, stages = _log(make_touches, make_stages, "a>b")
    touches.write_parquet(tmp_path / "t.parquet")
    stages.write_parquet(tmp_path / "s.parquet")
    cmd = [sys.executable, "-m", "attribution.cli", "run", "--touches", str(tmp_path / "t.parquet")]
    cmd += ["--stages", str(tmp_path / "s.parquet"), "-m", "linear", "--out", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    assert "separator of path tables" in done.stderr + done.stdout


def test_input_path_tables_accept_the_separator_with_or_without_spaces() -> None:
    spaced = pl.DataFrame({"path": ["a > b > c", "b"], "conversions": [2.0, 1.0]})
    tight = pl.DataFrame({"path": ["a>b>c", " b "], "conversions": [2.0, 1.0]})
    mixed = pl.DataFrame({"path": ["a>b  >c", "b"], "conversions": [2.0, 1.0]})
    runs = [
        attribution.attribute_paths(t, models=["linear", "markov"]) for t in (spaced, tight, mixed)
    ]
    assert runs[0].paths["path"].to_list() == runs[1].paths["path"].to_list()
    for run in runs[1:]:
        assert_frame_equal(
            run.channel_credit.sort("model", "channel"),
            runs[0].channel_credit.sort("model", "channel"),
            abs_tol=1e-12,
        )
    assert sorted(runs[0].channel_credit["channel"].unique().to_list()) == ["a", "b", "c"]


def test_input_path_table_with_another_separator_refuses_a_channel_holding_it() -> None:
    table = pl.DataFrame({"path": ["a|b", "x>y|b", "b"], "conversions": [1.0, 1.0, 1.0]})
    with pytest.raises(InputError, match="separator of path tables") as e:
        attribution.attribute_paths(table, sep="|", models=["linear"])
    assert (e.value.table, e.value.column, e.value.rows) == ("paths", "path", [1])
    ok = attribution.attribute_paths(table.slice(0, 1), sep="|", models=["linear"])
    assert ok.paths["path"].to_list() == [["a", "b"]]


def test_scoring_request_channel_with_the_separator_is_refused() -> None:
    journey = {
        "conversion": {"id": "o1", "timestamp": "2025-02-01", "value": 1.0},
        "touches": [{"timestamp": "2025-01-01", "channel": "linked > in"}],
    }
    for engine in ("fast", "reference"):
        with pytest.raises(InputError, match=r"touches\[0\]\.channel.*separator of path tables"):
            attribution.score_journeys([journey], models=["linear"], engine=engine)  # type: ignore[arg-type]


def test_stored_path_table_reads_back_what_the_run_fitted(make_touches, make_stages, tmp_path):
    # channel names with their own spaces survive the round trip: inside as one '_', at the
    # ends trimmed (a channel has one spelling: issue 14), in the run and in scoring alike
    touches, stages = _log(make_touches, make_stages, " linked in ")
    result = attribution.attribute(touches, stages, models=["markov"])
    run_dir = result.write(tmp_path, report=False)
    stored = attribution.read_run_paths(run_dir)
    assert stored.sort("path").equals(
        result.paths.select(stored.columns).sort("path"), null_equal=True
    )
    scored = attribution.score_journeys(
        [
            {
                "conversion": {"id": "o1", "timestamp": "2025-02-01", "value": 1.0},
                "touches": [
                    {"timestamp": "2025-01-01", "channel": "email"},
                    {"timestamp": "2025-01-02", "channel": " linked in "},
                ],
            }
        ],
        models=["markov"],
        paths=stored,
    )
    credit = dict(scored.channel_credit.select("channel", "conversions").iter_rows())
    assert credit["linked_in"] > 0
