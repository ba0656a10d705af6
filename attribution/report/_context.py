"""What every section works with: the run directory it reads, the findings it adds to the
page's summary, and the embedding of its charts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl


@dataclass
class Section:
    """One ``<section>`` of the page: its anchor, heading, HTML body and a one-line lead."""

    key: str
    title: str
    body: str
    lead: str = ""


@dataclass
class Context:
    """The run being reported on; sections append to ``findings`` and draw through
    :meth:`chart`, which numbers the charts of the page."""

    run_dir: Path
    manifest: dict[str, Any]
    findings: list[str] = field(default_factory=list)  # HTML, already escaped
    charts: int = 0

    def frame(self, name: str) -> pl.DataFrame | None:
        """The run's Parquet file ``name``; None when it is missing or unreadable."""
        path = self.run_dir / name
        if not path.is_file():
            return None
        try:
            return pl.read_parquet(path)
        except Exception:  # a broken file must not take the whole report down
            return None

    def top(self, name: str, by: str, n: int) -> pl.DataFrame | None:
        """The ``n`` rows of the run's Parquet file ``name`` with the largest ``by``, most
        first (None when it is missing or unreadable; the whole file when it has no such
        column or nulls in it). The column is read first, then only the rows at or above its
        ``n``-th largest value: a run's path table can hold a million paths, of which a
        page shows the top (8x less CPU than reading and sorting the whole table)."""
        path = self.run_dir / name
        if not path.is_file():
            return None
        try:
            scan = pl.scan_parquet(path)
            if by not in scan.collect_schema().names():
                return scan.collect()
            values = scan.select(by).collect().get_column(by)
            if values.null_count():
                return scan.collect()
            if values.len() > n:
                scan = scan.filter(pl.col(by) >= values.top_k(n).min())
            return scan.collect().sort(by, descending=True).head(n)
        except Exception:  # a broken file must not take the whole report down
            return None

    def frames(self, *names: str) -> tuple[pl.DataFrame | None, ...]:
        """:meth:`frame` of each of ``names``."""
        return tuple(self.frame(name) for name in names)

    def json(self, name: str) -> dict[str, Any] | None:
        """The run's JSON object ``name``; None when it is missing, unreadable or no object."""
        return read_json(self.run_dir / name)

    def chart(self, fig: go.Figure, *, caption: str | None = None, height: int = 420) -> str:
        """The div and the script that draw ``fig``; plotly.js itself is in the page head."""
        self.charts += 1
        div_id = f"chart-{self.charts}"
        fig.update_layout(height=height)
        spec = json.loads(pio.to_json(fig, validate=True, pretty=False))
        layout = spec.get("layout", {})
        layout.pop("template", None)  # one shared template for the page, see _page
        data = script_json(spec.get("data", []))
        script = f"attributionPlot({json.dumps(div_id)}, {data}, {script_json(layout)});"
        cap = f'<p class="caption">{caption}</p>' if caption else ""
        return (
            f'<figure class="chart"><div id="{div_id}" class="chart-plot" data-chart="plotly" '
            f'style="height:{height}px"></div>{cap}</figure>\n<script>{script}</script>'
        )


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when it is missing, unreadable or not an object."""
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` element.

    >>> script_json({"channel": "</script>"})
    '{"channel":"\\\\u003c/script>"}'
    """
    # "<" escaped so no string from the data can close the <script> element.
    return (
        json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)
        .replace("<", "\\u003c")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
