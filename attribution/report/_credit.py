"""The sections on credit: channel credit by model, and what the data-driven models learned
(the Markov transition graph and matrix, removal effects, Shapley values, and as tables the
fitted tables of any other model: ``PathModel.extra_tables``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import networkx as nx
import plotly.graph_objects as go
import polars as pl

from attribution.engine._files import RunFiles
from attribution.engine._manifest import MODEL_CHANNELS, coded_notes
from attribution.report._charts import (
    BLUE,
    GREEN,
    col,
    color,
    model_order,
    ranked_bars,
    shaded_table,
    visible_models,
)
from attribution.report._context import Context, Section, read_json
from attribution.report._format import (
    details,
    e,
    fmt_num,
    fmt_pct,
    missing_columns,
    missing_note,
    note,
    table,
)

TOP_EDGES = 2  # per node in the Markov graph: more reads as a hairball
# Only Markov writes an order selection today (RunFiles.MARKOV_ORDER_SELECTION); the report
# shows any model's.
ORDER_SELECTION_SUFFIX = "_order_selection.parquet"


def channel_credit_section(ctx: Context) -> Section | None:
    credit = ctx.frame(RunFiles.CHANNEL_CREDIT)
    if credit is None:
        return None
    parts: list[str] = []
    if gap := missing_note("Channel credit", credit, ("model", "channel", "share")):
        parts.append(gap)
    elif credit.height == 0:
        parts.append(note("No channel credit: no conversion was attributed."))
    else:
        parts.extend(_credit_charts(ctx, credit))
    for said in coded_notes(ctx.manifest, MODEL_CHANNELS):  # last_non_direct is last_touch
        parts.insert(0, note(f"Note: {said}."))
        ctx.findings.append(e(f"{said}."))
    paths = ctx.top(RunFiles.PATHS, "conversions", 15)  # not the whole table: its top
    if paths is not None and not missing_columns(paths, ("path", "conversions")) and paths.height:
        cols = [c for c in ("path", "conversions", "nulls", "value") if c in paths.columns]
        top_paths = paths.sort("conversions", descending=True).head(15).select(cols)
        parts.append(details("Table: the 15 paths with the most conversions", table(top_paths)))
    return Section(
        "credit",
        "Channel credit by model",
        "\n".join(parts),
        "How each attribution model splits the credit for the same conversions.",
    )


def _credit_charts(ctx: Context, credit: pl.DataFrame) -> list[str]:
    models = model_order(ctx, col(credit, "model"))
    channels = col(
        credit.group_by("channel")
        .agg(pl.col("share").mean())
        .sort(["share", "channel"], descending=[True, False]),
        "channel",
    )
    share = {(r["model"], r["channel"]): r["share"] for r in credit.iter_rows(named=True)}
    # the bootstrap's 90% interval of each share, where the run has it (ci_low / ci_high)
    bounds = {
        (r["model"], r["channel"]): (r["ci_low"], r["ci_high"])
        for r in credit.iter_rows(named=True)
        if {"ci_low", "ci_high"} <= set(credit.columns)
        and r["ci_low"] is not None and r["ci_high"] is not None
    }  # fmt: skip
    decided = ctx.manifest.get("decision_model")
    if decided in models:  # the model every figure is under: shown, first
        models = [decided, *(m for m in models if m != decided)]
    visible = visible_models(models, keep=[decided] if decided in models else [])
    bars = go.Figure()
    for i, model in enumerate(models):
        y = [share.get((model, c)) for c in channels]
        whiskers = None
        if bounds:
            low = [bounds.get((model, c), (v, v))[0] for c, v in zip(channels, y, strict=True)]
            high = [bounds.get((model, c), (v, v))[1] for c, v in zip(channels, y, strict=True)]
            whiskers = {
                "type": "data", "symmetric": False, "color": "#444", "thickness": 1,
                "array": [None if v is None or h is None else h - v
                          for v, h in zip(y, high, strict=True)],
                "arrayminus": [None if v is None or lo is None else v - lo
                               for v, lo in zip(y, low, strict=True)],
            }  # fmt: skip
        bars.add_bar(
            name=model,
            x=channels,
            y=y,
            error_y=whiskers,
            marker_color=color(i),
            visible=True if model in visible else "legendonly",
            hovertemplate=f"{e(model)}<br>%{{x}}: %{{y:.1%}}<extra></extra>",
        )
    bars.update_layout(
        barmode="group",
        yaxis={"title": "share of attributed conversions", "tickformat": ".0%"},
        legend={"title": {"text": "model"}},
    )
    hidden = len(models) - len(visible)
    more = f" {hidden} more model(s) are in the legend: click one to show it." if hidden else ""
    parts = [
        ctx.chart(
            bars,
            caption="Share of attributed conversions each model gives each channel."
            + (" Whiskers: the bootstrap's 90% interval." if bounds else "")
            + more,
        )
    ]
    z = [[share.get((m, c)) for c in channels] for m in models]
    parts.append(
        shaded_table(
            z, channels, models, colorscale="Blues", corner="model \\ channel",
            caption="Share of attributed conversions by model (rows) and channel (columns), "
            "darker for a larger share: read across a row for one model, down a column to see "
            "how much the choice of model moves a channel.",
        )
    )  # fmt: skip
    top = credit.sort("share", descending=True).unique("model", keep="first", maintain_order=True)
    leaders = {r["channel"] for r in top.iter_rows(named=True)}
    if len(leaders) == 1:
        ctx.findings.append(
            f"<b>{e(next(iter(leaders)))}</b> gets the most credit under every model."
        )
    else:
        ctx.findings.append(
            f"The top channel depends on the model: {e(', '.join(sorted(leaders)))}."
        )
    return parts


def _extra_name(label: str, kind: str) -> str:
    # ``label`` comes from a file name already written with RunFiles.extra: it is file-safe
    # as it stands, so it is not passed through RunFiles.safe_label again.
    return f"{label}_{kind}.parquet"


def _extras(ctx: Context, kind: str) -> list[tuple[str, Path]]:
    """``(model label, path)`` of each model's extra ``kind`` in the run, by file name."""
    suffix = _extra_name("", kind)
    return [
        (path.name.removesuffix(suffix), path) for path in sorted(ctx.run_dir.glob(f"*{suffix}"))
    ]


def _per_model(
    ctx: Context,
    files: list[tuple[str, Path]],
    what: str,
    columns: tuple[str, ...],
    draw: Callable[[Context, str, pl.DataFrame], list[str]],
) -> list[str]:
    """``draw(ctx, label, frame)`` for each readable file of ``files``; a note instead for a
    file without ``columns``."""
    parts: list[str] = []
    for label, path in files:
        frame = ctx.frame(path.name)
        if frame is None:
            continue
        gap = missing_note(what, frame, columns)
        parts.extend([gap] if gap else draw(ctx, label, frame))
    return parts


def _graph_files(ctx: Context) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(ctx.run_dir.glob("*.json")):
        if path.name == RunFiles.MANIFEST:
            continue
        data = read_json(path)
        if data and isinstance(data.get("nodes"), list) and isinstance(data.get("links"), list):
            found.append((path.stem, data))
    return found


def markov_section(ctx: Context) -> Section | None:
    graphs = _graph_files(ctx)
    removal = _extras(ctx, RunFiles.REMOVAL_EFFECTS)
    if not graphs and not removal:
        return None
    parts: list[str] = []
    for stem, data in graphs:
        label = stem.removesuffix(f"_{RunFiles.TRANSITION_GRAPH}")
        parts.append(f"<h3>{e(label)}: transition graph</h3>")
        try:
            parts.append(_graph_chart(ctx, data))
        except (KeyError, TypeError, ValueError, nx.NetworkXException) as exc:
            parts.append(note(f"The graph in {stem}.json could not be drawn: {exc}"))
        matrix = ctx.frame(_extra_name(label, RunFiles.TRANSITION_MATRIX))
        if matrix is not None and not missing_columns(matrix, ("from", "to", "probability")):
            parts.append(_matrix_table(matrix))
    removal_columns = ("channel", "removal_effect")
    parts += _per_model(ctx, removal, "Removal effects", removal_columns, _removal_chart)
    for path in sorted(ctx.run_dir.glob(f"*{ORDER_SELECTION_SUFFIX}")):
        frame = ctx.frame(path.name)
        if frame is not None and frame.height:
            parts.append(details(f"Table: {path.name.removesuffix('.parquet')}", table(frame)))
    return Section(
        "markov",
        "Markov transition graph",
        "\n".join(parts),
        "How journeys move between channels, and how many conversions each channel holds up.",
    )


def _removal_chart(ctx: Context, label: str, frame: pl.DataFrame) -> list[str]:
    fig = ranked_bars(
        frame, "removal_effect",
        yaxis={"title": "conversions lost if removed", "tickformat": ".0%"},
        hovertemplate="%{x}: %{y:.1%}<extra></extra>",
    )  # fmt: skip
    caption = "Share of conversions the chain loses when the channel is removed."
    return [f"<h3>{e(label)}: removal effects</h3>", ctx.chart(fig, caption=caption, height=340)]


def _graph_chart(ctx: Context, data: dict[str, Any]) -> str:
    graph = cast(
        "nx.DiGraph[Any]",
        nx.node_link_graph(data, edges="links", directed=True, multigraph=False),
    )
    kinds = {n: str(graph.nodes[n].get("kind", "channel")) for n in graph.nodes}
    channels = sorted((n for n in graph.nodes if kinds[n] == "channel"), key=str)
    dropped = [n for n in graph.nodes if kinds[n] == "null"]
    pos: dict[Any, tuple[float, float]] = {}
    if channels:
        ring: nx.Graph[Any] = nx.Graph()
        ring.add_nodes_from(channels)  # in this order: the circle goes round the sorted channels
        pos.update({n: (float(x), float(y)) for n, (x, y) in nx.circular_layout(ring).items()})
    ends = [n for n in graph.nodes if kinds[n] not in ("channel", "start", "null")]
    for n in graph.nodes:
        if kinds[n] == "start":
            pos[n] = (-1.9, 0.0)
    for i, n in enumerate(sorted(ends, key=lambda n: 0 if kinds[n] == "conversion" else 1)):
        pos[n] = (1.9, 0.6 - 1.2 * i / max(1, len(ends) - 1) if len(ends) > 1 else 0.0)
    for n in graph.nodes:  # anything unexpected: placed by a seeded spring layout
        if n not in pos and n not in dropped:
            pos.update(
                {k: (float(x), float(y)) for k, (x, y) in nx.spring_layout(graph, seed=7).items()
                 if k not in pos}
            )  # fmt: skip
    # Keep each node's strongest outgoing edges (and every edge into a conversion): a full
    # graph of a dozen channels has ~150 edges and reads as a hairball.
    shown = []
    for n in graph.nodes:
        out = sorted(
            (t for t in graph.out_edges(n, data=True) if kinds[t[1]] != "null"),
            key=lambda t: -float(t[2].get("probability", 0)),
        )
        shown += [(a, b, d) for i, (a, b, d) in enumerate(out)
                  if i < TOP_EDGES or kinds[b] == "conversion"]  # fmt: skip
    shown = [(a, b, d) for a, b, d in shown if a != b]
    fig = go.Figure()
    top = max((float(d.get("probability", 0)) for _, _, d in shown), default=1.0) or 1.0
    annotations = []
    mid_x, mid_y, mid_text = [], [], []
    for a, b, d in shown:
        p = float(d.get("probability", 0))
        (x0, y0), (x1, y1) = pos[a], pos[b]
        colour = GREEN if kinds[b] == "conversion" else BLUE
        annotations.append(
            {
                "x": x0 + 0.8 * (x1 - x0), "y": y0 + 0.8 * (y1 - y0), "ax": x0, "ay": y0,
                "xref": "x", "yref": "y", "axref": "x", "ayref": "y", "text": "",
                "showarrow": True, "arrowhead": 2, "arrowsize": 1,
                "arrowwidth": 0.6 + 5 * p / top, "arrowcolor": colour, "opacity": 0.55,
            }
        )  # fmt: skip
        mid_x.append(x0 + 0.55 * (x1 - x0))
        mid_y.append(y0 + 0.55 * (y1 - y0))
        count = d.get("count")
        mid_text.append(
            f"{e(a)} → {e(b)}: {fmt_pct(p)}" + (f" ({fmt_num(count)} paths)" if count else "")
        )
    fig.add_scatter(x=mid_x, y=mid_y, mode="markers", marker={"size": 8, "opacity": 0},
                    hovertext=mid_text, hoverinfo="text", showlegend=False)  # fmt: skip
    colours = {"start": "#444", "conversion": GREEN}
    for kind in dict.fromkeys(kinds.values()):
        nodes = [n for n in graph.nodes if kinds[n] == kind and n not in dropped]
        if not nodes:
            continue
        conv = [graph.nodes[n].get("conversion_probability") for n in nodes]
        fig.add_scatter(
            x=[pos[n][0] for n in nodes], y=[pos[n][1] for n in nodes],
            mode="markers+text", text=[str(n) for n in nodes],
            textposition="top center", name=kind,
            marker={"size": 22 if kind != "channel" else 18,
                    "color": colours.get(kind, BLUE), "line": {"color": "white", "width": 1}},
            hovertext=[f"{e(n)}" + (f"<br>P(convert from here) {fmt_pct(c, 2)}" if c else "")
                       for n, c in zip(nodes, conv, strict=True)],
            hoverinfo="text",
        )  # fmt: skip
    fig.update_layout(
        annotations=annotations,
        xaxis={"visible": False, "range": [-2.3, 2.3]},
        yaxis={"visible": False, "range": [-1.35, 1.35], "scaleanchor": "x"},
        legend={"orientation": "h", "y": -0.05},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return ctx.chart(
        fig,
        caption=e(
            f"Each node's {TOP_EDGES} most likely next channels, and every step into a conversion "
            f"(green): {len(shown)} of {graph.number_of_edges()} transitions. Arrow width is "
            "the transition probability. Steps to 'null' (the journey ends without converting) "
            "are left out: they are in the matrix below. Hover a node for its conversion "
            "probability, an arrow's middle for its probability."
        ),
        height=560,
    )


def _matrix_table(matrix: pl.DataFrame) -> str:
    sources = list(dict.fromkeys(col(matrix, "from")))
    targets = list(dict.fromkeys(col(matrix, "to")))
    ends = [t for t in targets if t not in sources]
    targets = [t for t in sources if t in targets] + ends
    prob = {(r["from"], r["to"]): r["probability"] for r in matrix.iter_rows(named=True)}
    z = [[prob.get((s, t)) for t in targets] for s in sources]
    return shaded_table(
        z, [str(t) for t in targets], [str(s) for s in sources], colorscale="Blues",
        corner="from \\ to",
        caption="Transition matrix: the probability of each next step (row: from, column: "
        "to), darker for a likelier step.",
    )  # fmt: skip


def shapley_section(ctx: Context) -> Section | None:
    files = _extras(ctx, RunFiles.SHAPLEY_VALUES)
    if not files:
        return None
    parts = _per_model(ctx, files, "Shapley values", ("channel", "phi"), _shapley_chart)
    return Section("shapley", "Shapley values", "\n".join(parts))


def _shapley_chart(ctx: Context, label: str, frame: pl.DataFrame) -> list[str]:
    fig = ranked_bars(frame, "phi", yaxis={"title": "Shapley value (phi)"})
    caption = e(f"{label}: each channel's Shapley value.")
    return [ctx.chart(fig, caption=caption, height=320)]


#: the extra tables the sections above draw; any other model table is listed as a table
DRAWN_KINDS = frozenset(
    {RunFiles.REMOVAL_EFFECTS, RunFiles.TRANSITION_MATRIX, RunFiles.SHAPLEY_VALUES}
)


def model_tables_section(ctx: Context) -> Section | None:
    """The fitted tables (``<label>_<kind>.parquet``) of the run's models that no section
    draws: a new model's extra tables reach the page without a section of their own."""
    labels = sorted(
        (
            RunFiles.safe_label(str(m.get("label")))
            for m in ctx.manifest.get("models", [])
            if isinstance(m, dict) and m.get("label")
        ),
        key=len,
        reverse=True,  # the longest label first: ``markov_order=2_`` before ``markov``
    )
    parts: list[str] = []
    for path in sorted(ctx.run_dir.glob("*.parquet")):
        label = next((x for x in labels if path.name.startswith(f"{x}_")), None)
        kind = path.name.removesuffix(".parquet").removeprefix(f"{label}_")
        if label is None or kind in DRAWN_KINDS or path.name.endswith(ORDER_SELECTION_SUFFIX):
            continue
        frame = ctx.frame(path.name)
        if frame is not None:
            parts.append(details(f"Table: {label}: {kind.replace('_', ' ')}", table(frame)))
    if not parts:
        return None
    return Section(
        "model-tables",
        "What the other models learned",
        "\n".join(parts),
        "The fitted tables of the models that have no chart of their own.",
    )
