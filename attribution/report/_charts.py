"""Chart pieces the sections share: the palette, which models a crowded chart shows, and the
figures drawn the same way in several sections."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import plotly.graph_objects as go
import polars as pl

from attribution.models._registry import available_models
from attribution.report._context import Context
from attribution.report._format import fmt_pct

# One palette for the page: the first colour is "the measured thing", red marks a problem.
BLUE, RED, GREY, ORANGE, GREEN = "#3b6ea8", "#c8372d", "#9aa3ad", "#e08a1e", "#2e8b57"
PALETTE = (
    "#3b6ea8", "#e08a1e", "#2e8b57", "#c8372d", "#7b5ea7", "#8c6d31", "#d36fa8", "#5f6b77",
    "#a5b82f", "#1fa1b5", "#f2b134", "#6a8fd0", "#b35806", "#4daf4a", "#984ea3", "#999999",
)  # fmt: skip
DEFAULT_VISIBLE = 5


def preferred_models() -> list[str]:
    """The models shown at first in the crowded charts: the registry's ``headline`` and
    ``shown`` models, in its order; the others sit in the legend, one click away."""
    return [name for name, spec in available_models().items() if spec.prominence != "legend"]


def color(i: int) -> str:
    """The ``i``-th colour of the palette, cycling."""
    return PALETTE[i % len(PALETTE)]


def col(frame: pl.DataFrame, name: str) -> list[Any]:
    """A column as a Python list (what plotly takes)."""
    return frame.get_column(name).to_list()


def visible_models(models: Sequence[str], keep: Sequence[str] = ()) -> set[str]:
    """The models a chart shows at first: all of a few, else ``keep`` and the preferred ones
    up to :data:`DEFAULT_VISIBLE`.

    >>> sorted(visible_models(["a", "linear", "b", "c", "d", "markov"]))
    ['a', 'b', 'c', 'linear', 'markov']
    """
    if len(models) <= DEFAULT_VISIBLE:
        return set(models)
    chosen = [m for m in keep if m in models]
    chosen += [m for m in preferred_models() if m in models and m not in chosen]
    chosen += [m for m in models if m not in chosen]
    return set(chosen[:DEFAULT_VISIBLE])


def model_order(ctx: Context, present: Iterable[str]) -> list[str]:
    """The ``present`` models in the manifest's order, any others after them."""
    present = list(dict.fromkeys(present))
    labels = [m.get("label") for m in ctx.manifest.get("models", []) if isinstance(m, dict)]
    ordered = [m for m in labels if m in present]
    return ordered + [m for m in present if m not in ordered]


def share_heatmap(
    z: list[list[Any]],
    x: list[Any],
    y: list[Any],
    *,
    colorscale: str,
    hovertemplate: str,
    colorbar: dict[str, Any],
) -> go.Figure:
    """A heatmap of shares, each cell labelled with its percentage, first row on top."""
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=x,
            y=y,
            colorscale=colorscale,
            text=[[fmt_pct(v, 0) if v is not None else "" for v in row] for row in z],
            texttemplate="%{text}",
            hovertemplate=hovertemplate,
            colorbar=colorbar,
        )
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def ranked_bars(
    frame: pl.DataFrame, value: str, *, yaxis: dict[str, Any], hovertemplate: str | None = None
) -> go.Figure:
    """One bar per channel, highest ``value`` first."""
    rows = frame.sort(value, descending=True)
    fig = go.Figure(
        go.Bar(
            x=col(rows, "channel"), y=col(rows, value), marker_color=BLUE,
            hovertemplate=hovertemplate,
        )
    )  # fmt: skip
    fig.update_layout(yaxis=yaxis)
    return fig


def grouped_bars(
    frame: pl.DataFrame,
    *,
    group: str,
    x: str,
    y: str,
    groups: Iterable[tuple[Any, str]],
    order: Sequence[Any],
) -> go.Figure:
    """One bar trace per ``(value of group, colour)``, its bars at the ``x`` values in
    ``order`` (none where that group has no row)."""
    fig = go.Figure()
    for name, colour in groups:
        rows = frame.filter(pl.col(group) == name)
        value = dict(zip(col(rows, x), col(rows, y), strict=True))
        fig.add_bar(name=name, x=order, y=[value.get(k) for k in order], marker_color=colour)
    return fig
