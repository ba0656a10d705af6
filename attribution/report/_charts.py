"""Chart pieces the sections share: the palette, which models a crowded chart shows, and the
figures drawn the same way in several sections."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import plotly.graph_objects as go
import polars as pl
from plotly.colors import sample_colorscale

from attribution.models._registry import available_models
from attribution.report._context import Context
from attribution.report._format import e, fmt_pct, is_missing

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


def shaded_table(
    z: Sequence[Sequence[Any]],
    columns: Sequence[Any],
    rows: Sequence[Any],
    *,
    colorscale: str,
    caption: str,
    corner: str = "",
    muted: Sequence[bool] = (),
) -> str:
    """Shares as an HTML table in place of a heatmap: each cell holds its percentage on a
    background from ``colorscale`` (plotly's scale of that name, spread over the smallest to
    the largest value, as a heatmap does), first row on top. A table is readable by a screen
    reader, searchable, printable, and needs no chart library. ``caption`` is HTML.

    >>> page = shaded_table([[0.25, None], [0.75, 0.5]], ["a", "b"], ["m<1>", "m2"],
    ...                     colorscale="Blues", caption="Shares")
    >>> page.count("<td"), "m&lt;1&gt;" in page, "75.0%" in page, "–</td>" in page
    (4, True, True, True)
    """
    quiet = [bool(m) for m in muted] + [False] * (len(z) - len(muted))
    # rows marked ``muted`` (provisional) show their values unshaded, outside the scale
    values = [v for row, q in zip(z, quiet, strict=True) if not q for v in row
              if not is_missing(v)]  # fmt: skip
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    span = high - low
    shades = dict(
        zip(
            values,
            sample_colorscale(
                colorscale, [(v - low) / span if span else 0.5 for v in values]
            ),
            strict=True,
        )
    )
    head = "".join(f'<th scope="col">{e(c)}</th>' for c in columns)
    body = []
    for name, row, q in zip(rows, z, quiet, strict=True):
        cells = []
        for v in row:
            if is_missing(v) or q:
                cells.append(f'<td class="num{" provisional" if q else ""}">{fmt_pct(v)}</td>')
                continue
            shade = readable(shades[v])
            cells.append(
                f'<td class="num" style="background:{shade};color:{ink_on(shade)}">'
                f"{fmt_pct(v)}</td>"
            )
        mark = ' <span class="lowconf">provisional</span>' if q else ""
        body.append(f'<tr><th scope="row">{e(name)}{mark}</th>{"".join(cells)}</tr>')
    return (
        f'<div class="table-wrap" tabindex="0"><table class="heat" '
        f'data-heat-table="{e(colorscale)}">'
        f'<caption>{caption}</caption><thead><tr><th scope="col">{e(corner)}</th>{head}'
        f'</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
    )


INK = "#1d2630"  # the page's text colour


def ink_on(rgb: str) -> str:
    """The text colour with the higher WCAG contrast on the ``rgb(r, g, b)`` background:
    the page's ink or white.

    >>> ink_on("rgb(247, 251, 255)"), ink_on("rgb(8, 48, 107)")
    ('#1d2630', '#fff')
    """
    background = _luminance(rgb)
    dark = (background + 0.05) / (_luminance("rgb(29, 38, 48)") + 0.05)
    light = 1.05 / (background + 0.05)
    return INK if dark >= light else "#fff"


MIN_CONTRAST = 4.5  # WCAG AA for text of normal size


def contrast(rgb: str) -> float:
    """The better WCAG contrast ratio of the page's ink or white on ``rgb``."""
    background = _luminance(rgb)
    return max(
        (background + 0.05) / (_luminance("rgb(29, 38, 48)") + 0.05), 1.05 / (background + 0.05)
    )


def readable(rgb: str) -> str:
    """``rgb`` itself when ink or white reads on it at WCAG AA (4.5:1), else the same hue
    mixed with white step by step until the ink does (mid-tones of a scale reach neither).

    >>> readable("rgb(8, 48, 107)"), round(contrast("rgb(52, 132, 191)"), 2)
    ('rgb(8, 48, 107)', 4.04)
    >>> readable("rgb(52, 132, 191)"), round(contrast(readable("rgb(52, 132, 191)")), 2)
    ('rgb(93, 157, 204)', 5.22)
    """
    r, g, b = (float(x) for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(","))
    shade, step = rgb, 0
    while contrast(shade) < MIN_CONTRAST and step < 10:
        step += 1
        mix = step / 10
        shade = "rgb({:.0f}, {:.0f}, {:.0f})".format(
            *(c + (255 - c) * mix for c in (r, g, b))
        )
    return shade


def _luminance(rgb: str) -> float:
    """The WCAG relative luminance (0 black to 1 white) of an ``rgb(r, g, b)`` colour."""
    channels = (float(x) / 255 for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(","))
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


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
