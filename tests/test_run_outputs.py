"""Run outputs of the data-driven models: extras, transition graph files, order selection."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import networkx as nx
import polars as pl
import pytest

import attribution

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


@pytest.fixture(scope="module")
def sample_result() -> attribution.AttributionResult:
    return attribution.attribute(
        SAMPLE / "touches.parquet",
        SAMPLE / "stages.parquet",
        models=["markov", "shapley", "linear"],
        select_markov_order=True,
    )


def test_order_selection_is_seeded_and_complete(sample_result) -> None:
    table = sample_result.extras["markov_order_selection"]
    assert table.get_column("order").to_list() == [1, 2, 3, 4]
    assert table.get_column("auc").is_between(0, 1).all()
    again = attribution.attribute(
        SAMPLE / "touches.parquet",
        SAMPLE / "stages.parquet",
        models=["linear"],
        select_markov_order=True,
    )
    assert again.extras["markov_order_selection"].equals(table)
    assert any("suggested order" in n for n in sample_result.manifest["notes"])


def test_run_directory_holds_graph_and_extras(sample_result, tmp_path: Path) -> None:
    run_dir = sample_result.write(tmp_path)
    files = {p.name for p in run_dir.iterdir()}
    assert {
        "markov_removal_effects.parquet",
        "markov_transition_matrix.parquet",
        "markov_transition_graph.graphml",
        "markov_transition_graph.json",
        "shapley_shapley_values.parquet",
        "markov_order_selection.parquet",
    } <= files
    graph = nx.read_graphml(run_dir / "markov_transition_graph.graphml")
    for node in graph.nodes:
        out = [d["probability"] for _, _, d in graph.out_edges(node, data=True)]
        if out:  # every non-absorbing state's exits sum to 1
            assert sum(out) == pytest.approx(1.0, abs=1e-9)
    data = json.loads((run_dir / "markov_transition_graph.json").read_text())
    assert len(data["nodes"]) == graph.number_of_nodes()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert set(manifest["files"]) == files


def test_markov_channel_credit_sums_to_conversions(sample_result) -> None:
    rec = sample_result.manifest["reconciliation"]
    for model in ("markov", "shapley"):
        total = sample_result.channel_credit.filter(pl.col("model") == model)["conversions"].sum()
        assert total == pytest.approx(rec["conversions_attributed"], rel=1e-9)


@pytest.mark.parametrize(("umask", "directory", "file"), [(0o022, 0o755, 0o644),
                                                           (0o027, 0o750, 0o640),
                                                           (0o077, 0o700, 0o600)])
def test_run_directory_follows_the_process_umask(sample_result, tmp_path: Path, umask: int,
                                                 directory: int, file: int) -> None:
    """A run directory is readable as the umask allows (a BI user or a web server in the
    owner's group), as files written by ``mkdir`` and ``open`` would be; not ``mkdtemp``'s
    owner-only 0700 / 0600."""
    before = os.umask(umask)
    try:
        run_dir = sample_result.write(tmp_path / "runs")
    finally:
        os.umask(before)
    assert stat.S_IMODE(run_dir.stat().st_mode) == directory
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in run_dir.iterdir()}
    assert "channel_credit.parquet" in modes
    assert "report.html" in modes
    assert {name: mode for name, mode in modes.items() if mode != file} == {}


def test_paths_file_is_the_path_table_joined(tmp_path: Path) -> None:
    """paths.parquet of a fresh result (built from the paths' keys, in a thread started by
    build_in_background, without the lists) holds the path table's rows, each path joined
    by the stored separator (' > '), as when the lists are built first."""
    from attribution.inputs._separator import STORED_SEPARATOR

    def run() -> attribution.AttributionResult:
        return attribution.attribute(SAMPLE / "touches.parquet", SAMPLE / "stages.parquet",
                                     models=["markov", "linear"])

    fresh = run()
    fresh.build_in_background()
    assert "_stored_paths" in fresh.__dict__  # the written form, building
    written = pl.read_parquet(fresh.write(tmp_path / "a", report=False) / "paths.parquet")
    lists_first = run()
    expected = lists_first.paths.with_columns(pl.col("path").list.join(STORED_SEPARATOR))
    again = pl.read_parquet(lists_first.write(tmp_path / "b", report=False) / "paths.parquet")
    assert written.height == expected.height > 0
    assert written.schema["path"] == pl.String
    assert written.sort(pl.all()).equals(expected.sort(pl.all()))
    assert again.sort(pl.all()).equals(expected.sort(pl.all()))
    assert fresh.paths.sort("conversions", "nulls", "value").height == expected.height
