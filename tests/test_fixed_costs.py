"""Fixed costs of a run that do not grow with the log: the library imports no optional
package on its way (pandas, where installed, took 0.3-0.5 s of every run from Parquet)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

_PROBE = """
import importlib.abc, sys
import attribution
tried = []
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "pandas" or name == "pyarrow.compute":
            tried.append(name)
sys.meta_path.insert(0, Watch())
sys.modules.pop("pandas", None)
res = attribution.attribute(sys.argv[1], sys.argv[2], models=["linear", "markov"])
assert res.channel_credit.height > 0
assert res.paths.get_column("path").list.len().max() == 20  # the long path's list
print("TRIED", sorted(set(tried)))
"""


def test_a_run_from_parquet_imports_neither_pandas_nor_pyarrow_compute(tmp_path: Path) -> None:
    """A log with a journey longer than a path key (20 touches of 13 channels) and one
    short, read from Parquet (timestamps as datetimes: their statistics are in the file),
    through every stage and the path table: no import of pandas or pyarrow.compute is even
    attempted."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    channels = [f"ch{i:02d}" for i in range(13)]
    touches = pl.DataFrame(
        {
            "touch_id": [f"t{i}" for i in range(23)],
            "contact_id": ["long"] * 20 + ["short"] * 3,
            "channel": [channels[i % 13] for i in range(20)] + ["ch00", "ch01", "ch02"],
            "timestamp": [start + timedelta(hours=i) for i in range(23)],
        }
    )
    stages = pl.DataFrame(
        {
            "contact_id": ["long", "short"],
            "stage": ["closed_won", "closed_won"],
            "timestamp": [start + timedelta(days=3), start + timedelta(days=3)],
            "value": [100.0, 50.0],
        }
    )
    touches.write_parquet(tmp_path / "touches.parquet")
    stages.write_parquet(tmp_path / "stages.parquet")
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path / "touches.parquet"),
         str(tmp_path / "stages.parquet")],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    assert "TRIED []" in done.stdout, done.stdout + done.stderr
