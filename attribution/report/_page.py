"""A self-contained HTML report of a run directory.

:func:`write_report` reads whatever files a run directory holds (the manifest, channel
credit, model extras, the Markov graph, the survey benchmark, unit economics, the plan
check, the funnel, the account-level tables) and writes ``report.html`` beside them: one
page, charts drawn by plotly.js inlined once, no request to the network at view time.
A section appears only when its files exist; a chart whose columns are missing is replaced
by a visible note instead of failing the run.

Every string taken from the data is escaped: ``html.escape`` for the page, and ``<`` as
``\\u003c`` inside the chart JSON, so a channel called ``</script>`` stays text.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import networkx as nx
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from plotly.io.json import to_json_plotly
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from attribution._version import __version__

__all__ = ["REPORT_FILE", "Report", "write_report"]

REPORT_FILE = "report.html"

# One palette for the page: the first colour is "the measured thing", red marks a problem.
BLUE, RED, GREY, ORANGE, GREEN = "#3b6ea8", "#c8372d", "#9aa3ad", "#e08a1e", "#2e8b57"
PALETTE = (
    "#3b6ea8", "#e08a1e", "#2e8b57", "#c8372d", "#7b5ea7", "#8c6d31", "#d36fa8", "#5f6b77",
    "#a5b82f", "#1fa1b5", "#f2b134", "#6a8fd0", "#b35806", "#4daf4a", "#984ea3", "#999999",
)  # fmt: skip
ECONOMICS_COLUMNS = (
    "channel", "status", "spend", "customers", "revenue", "cac", "loaded_cac", "ltv",
    "ltv_to_cac", "payback_months", "gross_profit_per_customer", "guardrail_share",
    "guardrail_limit", "breach",
)  # fmt: skip
PLAN_COLUMNS = (
    "channel", "budget", "measured_cac", "projected_customers", "target_customers", "gap",
    "floor", "cap", "reallocated_budget", "reallocated_customers", "change", "action",
)  # fmt: skip
TOTAL_LABELS = frozenset({"total", "all", "(total)", "__total__", "sum"})
# Models shown at first in the crowded charts; the others sit in the legend, one click away.
PREFERRED_MODELS = ("first_touch", "last_touch", "linear", "w_shaped", "markov", "shapley")
DEFAULT_VISIBLE = 5
TOP_EDGES = 2  # per node in the Markov graph: more reads as a hairball


# --------------------------------------------------------------------------------------------
# public API


def write_report(run_dir: str | Path, *, manifest: Mapping[str, Any] | None = None) -> Path:
    """Write ``run_dir/report.html`` from the files of a run directory and return its path.

    Parameters
    ----------
    run_dir : str or Path
        A run directory as :meth:`AttributionResult.write` writes it (complete, or still
        being written: only the files that exist are read).
    manifest : mapping, optional
        The run's manifest; read from ``run_dir/manifest.json`` when not given.

    Returns
    -------
    Path
        The written ``report.html``.

    Examples
    --------
    >>> import tempfile
    >>> from attribution.report._page import write_report
    >>> path = write_report(tempfile.mkdtemp(), manifest={"run_id": "r1"})
    >>> path.name
    'report.html'
    """
    directory = Path(run_dir)
    if manifest is None:
        manifest = _read_json(directory / "manifest.json") or {}
    out = directory / REPORT_FILE
    tmp = out.with_name(f".{REPORT_FILE}.tmp")
    tmp.write_text(render_report(directory, manifest=manifest), encoding="utf-8")
    tmp.replace(out)
    return out


@dataclass
class Report:
    """Writes ``report.html`` as one of the ``also`` objects of :meth:`AttributionResult.write`.

    It must come last in ``also``, after every object whose files it shows. The manifest is
    passed in because ``manifest.json`` is written after the ``also`` objects.

    Examples
    --------
    >>> import tempfile
    >>> Report(manifest={"run_id": "r1"}).write(tempfile.mkdtemp()).name
    'report.html'
    """

    manifest: Mapping[str, Any] | None = None

    def write(self, directory: str | Path) -> Path:
        """Write ``directory/report.html`` and return its path."""
        return write_report(directory, manifest=self.manifest)


def render_report(run_dir: str | Path, *, manifest: Mapping[str, Any] | None = None) -> str:
    """Return the HTML of the report of ``run_dir`` (see :func:`write_report`)."""
    directory = Path(run_dir)
    if manifest is None:
        manifest = _read_json(directory / "manifest.json") or {}
    ctx = _Context(directory, dict(manifest))
    sections = [
        builder(ctx)
        for builder in (
            _channel_credit_section,
            _economics_section,
            _plan_section,
            _funnel_section,
            _account_section,
            _survey_section,
            _markov_section,
            _shapley_section,
        )
    ]
    present = [s for s in sections if s is not None]
    return _page(ctx, present)


# --------------------------------------------------------------------------------------------
# reading


@dataclass
class _Context:
    run_dir: Path
    manifest: dict[str, Any]
    findings: list[str] = field(default_factory=list)  # HTML, already escaped
    charts: int = 0

    def frame(self, name: str) -> pl.DataFrame | None:
        path = self.run_dir / name
        if not path.is_file():
            return None
        try:
            return pl.read_parquet(path)
        except Exception:  # a broken file must not take the whole report down
            return None

    def json(self, name: str) -> dict[str, Any] | None:
        return _read_json(self.run_dir / name)

    def chart(self, fig: go.Figure, *, caption: str | None = None, height: int = 420) -> str:
        """The div and the script that draw ``fig``; plotly.js itself is in the page head."""
        self.charts += 1
        div_id = f"chart-{self.charts}"
        fig.update_layout(height=height)
        spec = json.loads(pio.to_json(fig, validate=True, pretty=False))
        layout = spec.get("layout", {})
        layout.pop("template", None)  # one shared template for the page, see _TEMPLATE_JS
        data = _script_json(spec.get("data", []))
        script = f"attributionPlot({json.dumps(div_id)}, {data}, {_script_json(layout)});"
        cap = f'<p class="caption">{caption}</p>' if caption else ""
        return (
            f'<figure class="chart"><div id="{div_id}" class="chart-plot" data-chart="plotly" '
            f'style="height:{height}px"></div>{cap}</figure>\n<script>{script}</script>'
        )


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _script_json(value: Any) -> str:
    # "<" escaped so no string from the data can close the <script> element.
    return (
        json.dumps(value, separators=(",", ":"), allow_nan=False, default=str)
        .replace("<", "\\u003c")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _missing(frame: pl.DataFrame, columns: Iterable[str]) -> list[str]:
    return [c for c in columns if c not in frame.columns]


def _skip_note(what: str, missing: Sequence[str], frame: pl.DataFrame) -> str:
    return _note(
        f"{what} not drawn: column(s) {', '.join(missing)} missing "
        f"(the file has: {', '.join(frame.columns) or 'no columns'})."
    )


# --------------------------------------------------------------------------------------------
# formatting


def e(value: Any) -> str:
    """Escape anything for HTML text or attributes."""
    return html.escape(str(value), quote=True)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def fmt_num(value: Any, digits: int = 0) -> str:
    if _is_missing(value):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return str(value)


def fmt_pct(value: Any, digits: int = 1) -> str:
    if _is_missing(value) or isinstance(value, bool) or not isinstance(value, int | float):
        return fmt_num(value)
    return f"{100 * value:.{digits}f}%"


def _fmt_auto(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if _is_missing(value):
            return "–"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return "–" if value is None else str(value)


Formatter = Callable[[Any], str]


def _table(
    frame: pl.DataFrame,
    *,
    formats: Mapping[str, Formatter] | None = None,
    row_class: Callable[[dict[str, Any]], str] | None = None,
    headers: Mapping[str, str] | None = None,
    max_rows: int = 200,
) -> str:
    """A plain HTML table; every cell escaped. Numbers right-aligned."""
    formats = formats or {}
    headers = headers or {}
    numeric = {c for c, t in frame.schema.items() if t.is_numeric()}
    head = "".join(
        f'<th class="{"num" if c in numeric else ""}">{e(headers.get(c, c))}</th>'
        for c in frame.columns
    )
    rows = []
    for row in frame.head(max_rows).iter_rows(named=True):
        cls = row_class(row) if row_class else ""
        cells = "".join(
            f'<td class="{"num" if c in numeric else ""}">'
            f"{e(formats.get(c, _fmt_auto)(row[c]))}</td>"
            for c in frame.columns
        )
        rows.append(f'<tr class="{e(cls)}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    more = (
        f'<p class="note">First {max_rows} of {frame.height:,} rows.</p>'
        if frame.height > max_rows
        else ""
    )
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{more}"
    )


def _kv_table(items: Mapping[str, Any]) -> str:
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(_kv_value(v))}</td></tr>" for k, v in items.items())
    return f'<div class="table-wrap"><table class="kv"><tbody>{rows}</tbody></table></div>'


def _kv_value(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return _fmt_auto(value)


def _json_block(meta: Mapping[str, Any], *, skip: Iterable[str] = ()) -> str:
    """Render a JSON document of a run: scalars as one key/value table, a mapping as its own
    table under its key, a list of records as a table."""
    skip = set(skip)
    scalars = {k: v for k, v in meta.items() if k not in skip and not isinstance(v, dict | list)}
    parts = [_kv_table(scalars)] if scalars else []
    for key, value in meta.items():
        if key in skip or key in scalars:
            continue
        if isinstance(value, dict) and value:
            parts.append(f"<h4>{e(key)}</h4>{_kv_table(value)}")
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            try:
                frame = pl.DataFrame(value, infer_schema_length=None)
            except (TypeError, ValueError, pl.exceptions.PolarsError):
                parts.append(f"<h4>{e(key)}</h4>{_kv_table({key: value})}")
            else:
                parts.append(f"<h4>{e(key)}</h4>{_table(frame)}")
        elif isinstance(value, list) and value:
            parts.append(_kv_table({key: value}))
    return "".join(parts)


def _select(frame: pl.DataFrame, preferred: Sequence[str]) -> pl.DataFrame:
    """The preferred columns that exist, in that order (all columns if none does)."""
    cols = [c for c in preferred if c in frame.columns]
    return frame.select(cols) if cols else frame


def _note(text: str) -> str:
    return f'<p class="note">{e(text)}</p>'


def _details(summary: str, body: str) -> str:
    return f"<details><summary>{e(summary)}</summary>{body}</details>"


def _total_expr() -> pl.Expr:
    label = pl.col("channel").cast(pl.String).str.strip_chars().str.to_lowercase()
    return label.is_null() | label.is_in(list(TOTAL_LABELS))


def _is_total(label: Any) -> bool:
    return label is None or str(label).strip().lower() in TOTAL_LABELS


def _col(frame: pl.DataFrame, name: str) -> list[Any]:
    return frame.get_column(name).to_list()


def _visible_models(models: Sequence[str], keep: Sequence[str] = ()) -> set[str]:
    if len(models) <= DEFAULT_VISIBLE:
        return set(models)
    chosen = [m for m in keep if m in models]
    chosen += [m for m in PREFERRED_MODELS if m in models and m not in chosen]
    chosen += [m for m in models if m not in chosen]
    return set(chosen[:DEFAULT_VISIBLE])


def _model_order(ctx: _Context, present: Iterable[str]) -> list[str]:
    present = list(dict.fromkeys(present))
    labels = [m.get("label") for m in ctx.manifest.get("models", []) if isinstance(m, dict)]
    ordered = [m for m in labels if m in present]
    return ordered + [m for m in present if m not in ordered]


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


@dataclass
class _Section:
    key: str
    title: str
    body: str
    lead: str = ""


# --------------------------------------------------------------------------------------------
# sections


def _channel_credit_section(ctx: _Context) -> _Section | None:
    credit = ctx.frame("channel_credit.parquet")
    if credit is None:
        return None
    parts: list[str] = []
    missing = _missing(credit, ("model", "channel", "share"))
    if missing:
        parts.append(_skip_note("Channel credit", missing, credit))
    elif credit.height == 0:
        parts.append(_note("No channel credit: no conversion was attributed."))
    else:
        models = _model_order(ctx, _col(credit, "model"))
        channels = _col(
            credit.group_by("channel")
            .agg(pl.col("share").mean())
            .sort(["share", "channel"], descending=[True, False]),
            "channel",
        )
        share = {(r["model"], r["channel"]): r["share"] for r in credit.iter_rows(named=True)}
        visible = _visible_models(models)
        bars = go.Figure()
        for i, model in enumerate(models):
            bars.add_bar(
                name=model,
                x=channels,
                y=[share.get((model, c)) for c in channels],
                marker_color=_color(i),
                visible=True if model in visible else "legendonly",
                hovertemplate=f"{e(model)}<br>%{{x}}: %{{y:.1%}}<extra></extra>",
            )
        bars.update_layout(
            barmode="group",
            yaxis={"title": "share of attributed conversions", "tickformat": ".0%"},
            legend={"title": {"text": "model"}},
        )
        hidden = len(models) - len(visible)
        parts.append(
            ctx.chart(
                bars,
                caption="Share of attributed conversions each model gives each channel."
                + (
                    f" {hidden} more model(s) are in the legend: click one to show it."
                    if hidden
                    else ""
                ),
            )
        )
        z = [[share.get((m, c)) for c in channels] for m in models]
        heat = go.Figure(
            go.Heatmap(
                z=z,
                x=channels,
                y=models,
                colorscale="Blues",
                text=[[fmt_pct(v, 0) if v is not None else "" for v in row] for row in z],
                texttemplate="%{text}",
                hovertemplate="%{y} / %{x}: %{z:.1%}<extra></extra>",
                colorbar={"title": {"text": "share"}, "tickformat": ".0%"},
            )
        )
        heat.update_yaxes(autorange="reversed")
        parts.append(
            ctx.chart(
                heat,
                caption="The same shares as a heatmap: read across a row for one model, "
                "down a column to see how much the choice of model moves a channel.",
                height=max(300, 60 + 28 * len(models)),
            )
        )
        wide = pl.DataFrame(
            {"channel": channels, **{m: [share.get((m, c)) for c in channels] for m in models}}
        )
        parts.append(
            _details(
                "Table: share by channel and model",
                _table(wide, formats=dict.fromkeys(models, fmt_pct)),
            )
        )
        top = credit.sort("share", descending=True).unique(
            "model", keep="first", maintain_order=True
        )
        leaders = {r["channel"] for r in top.iter_rows(named=True)}
        if len(leaders) == 1:
            ctx.findings.append(
                f"<b>{e(next(iter(leaders)))}</b> gets the most credit under every model."
            )
        else:
            ctx.findings.append(
                f"The top channel depends on the model: {e(', '.join(sorted(leaders)))}."
            )
    paths = ctx.frame("paths.parquet")
    if paths is not None and not _missing(paths, ("path", "conversions")) and paths.height:
        cols = [c for c in ("path", "conversions", "nulls", "value") if c in paths.columns]
        top_paths = paths.sort("conversions", descending=True).head(15).select(cols)
        parts.append(_details("Table: the 15 paths with the most conversions", _table(top_paths)))
    return _Section(
        "credit",
        "Channel credit by model",
        "\n".join(parts),
        "How each attribution model splits the credit for the same conversions.",
    )


def _pick_model(ctx: _Context, models: Sequence[str], *hints: Any) -> str:
    for hint in hints:
        if isinstance(hint, str) and hint in models:
            return hint
    for model in ("markov", "shapley", "linear", "w_shaped"):
        if model in models:
            return model
    return models[0]


def _economics_section(ctx: _Context) -> _Section | None:
    econ = ctx.frame("economics.parquet")
    meta = ctx.json("economics.json")
    if econ is None and meta is None:
        return None
    parts: list[str] = []
    if econ is None:
        parts.append(_note("economics.parquet is missing: only the parameters are shown."))
    elif _missing(econ, ("model", "channel")):
        parts.append(_skip_note("The CAC chart", _missing(econ, ("model", "channel")), econ))
    elif econ.height == 0:
        parts.append(_note("The economics table is empty (no spend or no customers)."))
    else:
        models = _model_order(ctx, _col(econ, "model"))
        plan = ctx.json("plan.json") or {}
        chosen = _pick_model(
            ctx, models, (meta or {}).get("model"), (meta or {}).get("primary_model"),
            plan.get("model"),
        )  # fmt: skip
        currency = str((meta or {}).get("currency", "") or "")
        cac_col = "loaded_cac" if "loaded_cac" in econ.columns else "cac"
        if cac_col not in econ.columns:
            parts.append(_skip_note("The CAC chart", ["loaded_cac", "cac"], econ))
        else:
            parts.append(_cac_chart(ctx, econ, models, chosen, cac_col, currency))
        rows = econ.filter(pl.col("model") == chosen)
        if "breach" in econ.columns:
            breached = _col(rows.filter(pl.col("breach").fill_null(False)), "channel")
            total = rows.height
            if breached:
                ctx.findings.append(
                    f"<b>{len(breached)} of {total}</b> channels breach the CAC guardrail "
                    f"under {e(chosen)}: {e(', '.join(map(str, breached)))}."
                )
            else:
                ctx.findings.append(
                    f"All {total} channels are inside the CAC guardrail under {e(chosen)}."
                )
        if "ltv_to_cac" in econ.columns:
            weak = rows.filter(pl.col("ltv_to_cac") < 3)
            if weak.height:
                parts.append(
                    _note(
                        f"LTV/CAC below the target of 3 under {chosen}: "
                        + ", ".join(
                            f"{c} ({fmt_num(v, 1)})"
                            for c, v in zip(
                                _col(weak, "channel"), _col(weak, "ltv_to_cac"), strict=True
                            )
                        )
                        + "."
                    )
                )
        money = dict.fromkeys(
            ("spend", "revenue", "cac", "loaded_cac", "ltv", "gross_profit_per_customer"),
            lambda v: (currency + fmt_num(v)) if not _is_missing(v) else "–",
        )
        formats: dict[str, Formatter] = {
            **money,
            "customers": lambda v: fmt_num(v, 1),
            "ltv_to_cac": lambda v: fmt_num(v, 1),
            "payback_months": lambda v: fmt_num(v, 1),
            "guardrail_share": fmt_pct,
            "guardrail_limit": fmt_pct,
        }

        def breach_class(row: dict[str, Any]) -> str:
            return "bad" if row.get("breach") else ""

        parts.append(f"<h3>Unit economics under {e(chosen)}</h3>")
        parts.append(
            _table(_select(rows, ECONOMICS_COLUMNS), formats=formats, row_class=breach_class)
        )
        if len(models) > 1:
            parts.append(
                _details(
                    "Table: unit economics under every model",
                    _table(econ, formats=formats, row_class=breach_class, max_rows=500),
                )
            )
    if meta:
        parts.append(_details("Parameters, method notes and blended CAC", _json_block(meta)))
    return _Section(
        "economics",
        "CAC against the guardrail",
        "\n".join(parts),
        "Fully loaded CAC by channel against the guardrail (CAC as a share of gross profit "
        "per customer); channels over the line are in red.",
    )


def _cac_chart(
    ctx: _Context,
    econ: pl.DataFrame,
    models: Sequence[str],
    chosen: str,
    cac_col: str,
    currency: str,
) -> str:
    fig = go.Figure()
    buttons = []
    has_line = "guardrail_limit" in econ.columns and (
        "gross_profit_per_customer" in econ.columns or "guardrail_share" in econ.columns
    )
    traces_per_model = 2 if has_line else 1
    highest = ceiling = 0.0
    unpaid = econ.filter(pl.col("status") == "unpaid") if "status" in econ.columns else None
    paid = econ.filter(pl.col("status") != "unpaid") if unpaid is not None else econ
    for model in models:
        rows = paid.filter(pl.col("model") == model).sort(cac_col, descending=True, nulls_last=True)
        channels = _col(rows, "channel")
        cac = _col(rows, cac_col)
        breach = _col(rows, "breach") if "breach" in rows.columns else [False] * rows.height
        share = _col(rows, "guardrail_share") if "guardrail_share" in rows.columns else None
        fig.add_bar(
            name=f"{'loaded ' if cac_col == 'loaded_cac' else ''}CAC",
            x=channels,
            y=cac,
            text=[fmt_pct(v) + " of GP" for v in share] if share else None,
            textposition="outside",
            marker_color=[RED if b else BLUE for b in breach],
            visible=model == chosen,
            customdata=[["over the guardrail" if b else "inside"] for b in breach],
            hovertemplate=f"%{{x}}<br>CAC {e(currency)}%{{y:,.0f}}<br>%{{customdata[0]}}"
            "<extra></extra>",
        )
        if has_line:
            limit = _col(rows, "guardrail_limit")
            if "gross_profit_per_customer" in rows.columns:
                gp = _col(rows, "gross_profit_per_customer")
                line = [
                    None if _is_missing(lim) or _is_missing(g) else lim * g
                    for lim, g in zip(limit, gp, strict=True)
                ]
            else:
                share = _col(rows, "guardrail_share")
                line = [
                    None if _is_missing(c) or _is_missing(lim) or not s else c * lim / s
                    for c, lim, s in zip(cac, limit, share, strict=True)
                ]
            fig.add_scatter(
                name="guardrail",
                x=channels,
                y=line,
                mode="markers",
                marker={"symbol": "line-ew", "size": 36, "line": {"width": 3, "color": ORANGE}},
                visible=model == chosen,
                hovertemplate=f"%{{x}}<br>guardrail {e(currency)}%{{y:,.0f}}<extra></extra>",
            )
        highest = max(highest, *(v for v in cac if not _is_missing(v)), 0.0)
        if has_line:
            ceiling = max(ceiling, *(v for v in line if v is not None and not _is_missing(v)), 0.0)
        buttons.append(
            {
                "label": model,
                "method": "update",
                "args": [
                    {"visible": [m == model for m in models for _ in range(traces_per_model)]},
                    {"title": {"text": f"CAC by channel: {model}"}},
                ],
            }
        )
    fig.update_layout(
        title={"text": f"CAC by channel: {chosen}"},
        yaxis={"title": f"fully loaded CAC {currency}".strip(), "tickformat": ",.0f"},
        legend={"orientation": "h", "y": -0.25},
        bargap=0.35,
    )
    log_axis = highest > 0 and ceiling > 8 * highest
    if log_axis:  # the guardrail far above every bar: a linear axis would flatten the bars
        fig.update_yaxes(type="log", tickformat=",.0f")
    if len(models) > 1:
        fig.update_layout(
            updatemenus=[
                {
                    "buttons": buttons,
                    "active": list(models).index(chosen),
                    "x": 1.0,
                    "xanchor": "right",
                    "y": 1.18,
                    "yanchor": "top",
                }
            ]
        )
    caption = (
        "Bars: fully loaded CAC per channel (red = over the guardrail). Orange ticks: the "
        "guardrail, the most CAC the channel can cost at the guardrail share of gross profit "
        "per customer. Labels: CAC as a share of gross profit per customer (GP)."
        if has_line
        else "Bars: CAC per channel. The guardrail line is missing: the file has no "
        "guardrail_limit with gross_profit_per_customer or guardrail_share."
    )
    if log_axis:
        caption += " Log scale: the guardrail is far above every channel's CAC."
    if unpaid is not None and unpaid.height:
        names = sorted({str(c) for c in _col(unpaid, "channel")})
        caption += f" Channels without spend are left out: {', '.join(names)}."
    if len(models) > 1:
        caption += " Pick another model with the menu."
    return ctx.chart(fig, caption=e(caption), height=460)


def _plan_section(ctx: _Context) -> _Section | None:
    plan = ctx.frame("plan.parquet")
    flags = ctx.frame("plan_flags.parquet")
    meta = ctx.json("plan.json")
    if plan is None and flags is None and meta is None:
        return None
    parts: list[str] = []
    if meta:
        verdict = meta.get("verdict")
        if verdict:
            parts.append(f'<div class="callout"><b>Verdict.</b> {e(verdict)}</div>')
            first = str(verdict).split(". ")[0].rstrip(".")
            ctx.findings.append(f"Plan check: {e(first)}.")
        targets = meta.get("targets")
        if isinstance(targets, dict) and targets:
            parts.append(
                '<div class="kpis">'
                + "".join(
                    f'<div class="kpi"><span>{e(_fmt_auto(v))}</span>target {e(k)}</div>'
                    for k, v in targets.items()
                )
                + "</div>"
            )
    if plan is not None:
        need = ("channel", "budget", "reallocated_budget")
        missing = _missing(plan, need)
        channels = plan.filter(~_total_expr()) if "channel" in plan.columns else plan
        if missing:
            parts.append(_skip_note("The budget chart", missing, plan))
        elif channels.height:
            fig = make_subplots(
                rows=1,
                cols=2,
                subplot_titles=("Budget", "Customers"),
                horizontal_spacing=0.12,
            )
            names = _col(channels, "channel")
            fig.add_bar(name="plan", x=names, y=_col(channels, "budget"),
                        marker_color=GREY, legendgroup="plan", row=1, col=1)  # fmt: skip
            fig.add_bar(name="reallocated", x=names, y=_col(channels, "reallocated_budget"),
                        marker_color=BLUE, legendgroup="re", row=1, col=1)  # fmt: skip
            if not _missing(channels, ("projected_customers", "reallocated_customers")):
                fig.add_bar(name="plan", x=names, y=_col(channels, "projected_customers"),
                            marker_color=GREY, legendgroup="plan", showlegend=False,
                            row=1, col=2)  # fmt: skip
                fig.add_bar(name="reallocated", x=names,
                            y=_col(channels, "reallocated_customers"), marker_color=BLUE,
                            legendgroup="re", showlegend=False, row=1, col=2)  # fmt: skip
            fig.update_layout(barmode="group", legend={"orientation": "h", "y": -0.3})
            fig.update_yaxes(tickformat=",.0f")
            parts.append(
                ctx.chart(
                    fig,
                    caption="The plan's budget by channel and what it buys at the measured "
                    "CAC, against the budget reallocated toward the channels that buy "
                    "customers cheapest (within each channel's cap).",
                    height=440,
                )
            )
        money: dict[str, Formatter] = dict.fromkeys(
            ("budget", "measured_cac", "cap", "reallocated_budget"), fmt_num
        )
        counts: dict[str, Formatter] = dict.fromkeys(
            ("projected_customers", "gap", "reallocated_customers"), lambda v: fmt_num(v, 1)
        )
        parts.append(
            _table(
                _select(plan, PLAN_COLUMNS),
                formats={**money, **counts},
                row_class=lambda r: "total" if _is_total(r.get("channel")) else "",
            )
        )
    if flags is not None:
        parts.append("<h3>Assumptions against the data</h3>")
        if "flagged" in flags.columns:
            n = int(flags.get_column("flagged").fill_null(False).sum())
            if n:
                ctx.findings.append(
                    f"<b>{n}</b> plan assumption(s) are far from what the data shows: "
                    + e(", ".join(map(str, _col(flags.filter(pl.col("flagged")), "assumption")
                                      if "assumption" in flags.columns else [])))
                )  # fmt: skip
        else:
            parts.append(_note("plan_flags.parquet has no 'flagged' column: nothing marked."))
        ratio: dict[str, Formatter] = {"ratio": lambda v: fmt_num(v, 2) + "×"
                                       if not _is_missing(v) else "–"}  # fmt: skip
        if "flagged" in flags.columns:
            flags = flags.sort(pl.col("flagged").fill_null(False), descending=True,
                               maintain_order=True)  # fmt: skip
        parts.append(
            _table(flags, formats=ratio, row_class=lambda r: "bad" if r.get("flagged") else "")
        )
    if meta:
        parts.append(_details("Plan, measured rates, projection and method",
                              _json_block(meta, skip=("verdict",))))  # fmt: skip
    return _Section(
        "plan",
        "Plan check",
        "\n".join(parts),
        "Can the example budget reach its target at the CAC and conversion rates measured "
        "here, and which assumptions of the plan does the data contradict?",
    )


def _weakest(meta: Mapping[str, Any] | None, rows: pl.DataFrame) -> tuple[str, str] | None:
    """The (from_stage, to_stage) named weakest in funnel.json, else ``None``."""
    value = (meta or {}).get("weakest_stage", (meta or {}).get("weakest"))
    pairs = list(zip(_col(rows, "from_stage"), _col(rows, "to_stage"), strict=True))
    if isinstance(value, dict):
        frm = value.get("from_stage", value.get("from", value.get("stage")))
        to = value.get("to_stage", value.get("to"))
        for a, b in pairs:
            if a == frm and (to is None or b == to):
                return a, b
    elif isinstance(value, str):
        for a, b in pairs:
            if value in (a, f"{a} -> {b}", f"{a}->{b}", f"{a} → {b}", f"{a}_to_{b}"):
                return a, b
        for a, b in pairs:
            if value == b:
                return a, b
    return None


def _funnel_section(ctx: _Context) -> _Section | None:
    funnel = ctx.frame("funnel.parquet")
    weekly = ctx.frame("funnel_weekly.parquet")
    meta = ctx.json("funnel.json")
    if funnel is None and weekly is None and meta is None:
        return None
    parts: list[str] = []
    if funnel is not None:
        need = ("dimension", "from_stage", "to_stage", "rate")
        missing = _missing(funnel, need)
        if missing:
            parts.append(_skip_note("The funnel", missing, funnel))
        else:
            parts.extend(_funnel_charts(ctx, funnel, meta))
    if weekly is not None:
        parts.append("<h3>Weekly leading indicators</h3>")
        missing = _missing(weekly, ("week", "metric", "value"))
        if missing:
            parts.append(_skip_note("The weekly series", missing, weekly))
        elif weekly.height:
            parts.append(_weekly_chart(ctx, weekly))
    if meta:
        velocity = meta.get("pipeline_velocity")
        if isinstance(velocity, dict) and velocity.get("velocity_per_day") is not None:
            kpis = [
                ("pipeline velocity per day", fmt_num(velocity.get("velocity_per_day"))),
                ("open opportunities (avg)", fmt_num(velocity.get("opportunities"))),
                ("win rate", fmt_pct(velocity.get("win_rate"))),
                ("average deal", fmt_num(velocity.get("average_deal"))),
                ("cycle days", fmt_num(velocity.get("cycle_days"), 1)),
            ]
            parts.insert(
                0,
                '<div class="kpis">'
                + "".join(f'<div class="kpi"><span>{e(v)}</span>{e(k)}</div>' for k, v in kpis)
                + "</div>",
            )
        rest = {k: v for k, v in meta.items() if k not in ("weakest_stage", "weakest")}
        if rest:
            parts.append(_details("Pipeline velocity, alerts, alert rule and method",
                                  _json_block(rest)))  # fmt: skip
    return _Section(
        "funnel",
        "Funnel",
        "\n".join(parts),
        "Stage conversion rates, where the funnel is weakest, and the weekly series that "
        "warn early when a stage breaks from its trailing range.",
    )


def _funnel_charts(
    ctx: _Context, funnel: pl.DataFrame, meta: Mapping[str, Any] | None
) -> list[str]:
    parts: list[str] = []
    overall = funnel.filter(pl.col("dimension") == "all")
    if overall.height == 0:
        parts.append(_note("funnel.parquet has no dimension = 'all' rows: no overall funnel."))
        return parts
    weakest = _weakest(meta, overall)
    named = (meta or {}).get("weakest_stage")
    label = str(named.get("judged_against") or "as named in funnel.json") if isinstance(
        named, dict) else "as named in funnel.json"  # fmt: skip
    if weakest is None:
        low = overall.sort("rate", nulls_last=True).row(0, named=True)
        weakest = (low["from_stage"], low["to_stage"])
        label = "the lowest rate (funnel.json names no weakest stage)"
    steps = [f"{a} → {b}" for a, b in zip(_col(overall, "from_stage"),
                                           _col(overall, "to_stage"), strict=True)]  # fmt: skip
    is_weak = [
        (a, b) == weakest
        for a, b in zip(_col(overall, "from_stage"), _col(overall, "to_stage"), strict=True)
    ]
    weak_row = overall.filter(
        (pl.col("from_stage") == weakest[0]) & (pl.col("to_stage") == weakest[1])
    ).row(0, named=True)
    ctx.findings.append(
        f"Funnel: the weakest stage is <b>{e(weakest[0])} → {e(weakest[1])}</b> "
        f"({e(fmt_pct(weak_row['rate']))} advance)."
    )
    parts.append(
        f'<div class="callout">Weakest stage: <b>{e(weakest[0])} → {e(weakest[1])}</b>, '
        f"{e(fmt_pct(weak_row['rate']))} of those entering advance.<br>"
        f'<span class="muted">Judged against {e(label)}.</span></div>'
    )
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("Stage volumes", "Stage conversion rate"),
        horizontal_spacing=0.14, specs=[[{"type": "funnel"}, {"type": "xy"}]],
    )  # fmt: skip
    if not _missing(overall, ("entered", "advanced")):
        stages = [*_col(overall, "from_stage"), _col(overall, "to_stage")[-1]]
        volumes = [*_col(overall, "entered"), _col(overall, "advanced")[-1]]
        fig.add_trace(
            go.Funnel(y=stages, x=volumes, marker={"color": BLUE}, textinfo="value",
                      name="volume", showlegend=False),
            row=1, col=1,
        )  # fmt: skip
    fig.add_bar(
        x=steps,
        y=_col(overall, "rate"),
        marker_color=[RED if w else BLUE for w in is_weak],
        text=[fmt_pct(v) for v in _col(overall, "rate")],
        textposition="outside",
        name="rate",
        showlegend=False,
        hovertemplate="%{x}: %{y:.1%}<extra></extra>",
        row=1,
        col=2,
    )
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", row=1, col=2)
    parts.append(ctx.chart(fig, caption="Red: the weakest stage.", height=420))
    if "median_days_in_stage" in overall.columns:
        days = go.Figure(
            go.Bar(x=steps, y=_col(overall, "median_days_in_stage"), marker_color=GREY,
                   hovertemplate="%{x}: %{y:.1f} days<extra></extra>")
        )  # fmt: skip
        days.update_layout(yaxis={"title": "median days in stage"})
        parts.append(ctx.chart(days, caption="Median days from entering a stage to "
                                             "advancing.", height=320))  # fmt: skip
    for dim, title in (("channel", "by channel"), ("cohort", "by cohort")):
        rows = funnel.filter(pl.col("dimension") == dim)
        if rows.height == 0 or "group" not in rows.columns:
            continue
        rows = rows.with_columns(
            (pl.col("from_stage") + pl.lit(" → ") + pl.col("to_stage")).alias("_step")
        )
        groups = sorted({str(g) for g in _col(rows, "group")})
        rate = {(str(r["group"]), r["_step"]): r["rate"] for r in rows.iter_rows(named=True)}
        cols = [s for s in steps if s in set(_col(rows, "_step"))]
        z = [[rate.get((g, s)) for s in cols] for g in groups]
        heat = go.Figure(
            go.Heatmap(
                z=z, x=cols, y=groups, colorscale="RdYlGn",
                text=[[fmt_pct(v, 0) if v is not None else "" for v in row] for row in z],
                texttemplate="%{text}", colorbar={"tickformat": ".0%"},
                hovertemplate="%{y}: %{x} %{z:.1%}<extra></extra>",
            )
        )  # fmt: skip
        heat.update_yaxes(autorange="reversed", type="category")
        parts.append(
            ctx.chart(heat, caption=f"Stage conversion rate {title}.",
                      height=max(280, 80 + 26 * len(groups)))
        )  # fmt: skip
    parts.append(_details("Table: funnel", _table(funnel, formats={"rate": fmt_pct},
                                                  max_rows=500)))  # fmt: skip
    return parts


def _weekly_chart(ctx: _Context, weekly: pl.DataFrame) -> str:
    metrics = list(dict.fromkeys(_col(weekly, "metric")))
    fig = make_subplots(rows=len(metrics), cols=1, shared_xaxes=True, subplot_titles=metrics,
                        vertical_spacing=min(0.08, 0.3 / max(1, len(metrics))))  # fmt: skip
    alerts_total = 0
    for i, metric in enumerate(metrics, start=1):
        rows = weekly.filter(pl.col("metric") == metric).sort("week")
        weeks = [str(w) for w in _col(rows, "week")]
        first = i == 1
        fig.add_scatter(x=weeks, y=_col(rows, "value"), mode="lines+markers", name="value",
                        line={"color": BLUE}, marker={"size": 4}, legendgroup="value",
                        showlegend=first, row=i, col=1)  # fmt: skip
        if "baseline" in rows.columns:
            fig.add_scatter(x=weeks, y=_col(rows, "baseline"), mode="lines",
                            name="trailing baseline", line={"color": GREY, "dash": "dash"},
                            legendgroup="baseline", showlegend=first, row=i, col=1)  # fmt: skip
        if "alert" in rows.columns:
            hit = rows.filter(pl.col("alert").fill_null(False))
            alerts_total += hit.height
            z = _col(hit, "robust_z") if "robust_z" in hit.columns else [None] * hit.height
            fig.add_scatter(
                x=[str(w) for w in _col(hit, "week")], y=_col(hit, "value"), mode="markers",
                name="alert", marker={"color": RED, "size": 11, "symbol": "x"},
                customdata=[[v] for v in z], legendgroup="alert", showlegend=first,
                hovertemplate="%{x}: %{y:,.3g}<br>robust z %{customdata[0]:.1f}<extra></extra>",
                row=i, col=1,
            )  # fmt: skip
    fig.update_layout(legend={"orientation": "h", "y": 1.06, "yanchor": "bottom"})
    if alerts_total:
        ctx.findings.append(f"<b>{alerts_total}</b> weekly alert(s) in the funnel series.")
    return ctx.chart(
        fig,
        caption="Each metric against its trailing baseline; red crosses are alerts (the value "
        "broke from its trailing range).",
        height=max(320, 170 * len(metrics)),
    )


def _survey_section(ctx: _Context) -> _Section | None:
    shares = ctx.frame("survey_shares.parquet")
    board = ctx.frame("survey_leaderboard.parquet")
    bench = ctx.frame("survey_benchmark.parquet")
    summary_path = ctx.run_dir / "survey_summary.txt"
    if shares is None and board is None and bench is None and not summary_path.is_file():
        return None
    parts: list[str] = []
    best = None
    if board is not None and not _missing(board, ("model", "agreement")) and board.height:
        ranked = board.sort("agreement", descending=True)
        best = ranked.get_column("model")[0]
        has_ci = not _missing(ranked, ("agreement_low", "agreement_high"))
        models = _col(ranked, "model")
        agree = _col(ranked, "agreement")
        fig = go.Figure(
            go.Bar(
                x=agree,
                y=models,
                orientation="h",
                marker_color=[BLUE if m == best else GREY for m in models],
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": [h - a for a, h in zip(agree, _col(ranked, "agreement_high"),
                                                   strict=True)],
                    "arrayminus": [a - lo for a, lo in zip(agree, _col(ranked, "agreement_low"),
                                                          strict=True)],
                    "color": "#555",
                } if has_ci else None,
                hovertemplate="%{y}: %{x:.1%}<extra></extra>",
            )
        )  # fmt: skip
        fig.update_layout(xaxis={"title": "conversions whose reported channel is the model's "
                                          "top channel", "tickformat": ".0%"})  # fmt: skip
        fig.update_yaxes(autorange="reversed")
        parts.append(
            ctx.chart(
                fig,
                caption="Agreement with what buyers say (top-1), with 95% bootstrap intervals."
                if has_ci
                else "Agreement with what buyers say (top-1).",
                height=max(300, 60 + 26 * len(models)),
            )
        )
        ctx.findings.append(
            f"Survey benchmark: <b>{e(best)}</b> agrees best with what buyers report "
            f"({e(fmt_pct(agree[0]))} top-1 agreement)."
        )
    if shares is not None:
        missing = _missing(shares, ("channel", "sra_share"))
        if missing:
            parts.append(_skip_note("Survey vs model shares", missing, shares))
        else:
            fixed = {"channel", "tracked", "answers", "sra_share", "sra_share_incl_dark"}
            models = _model_order(
                ctx, [c for c, t in shares.schema.items() if c not in fixed and t.is_float()]
            )
            ordered = shares.sort("sra_share", descending=True, nulls_last=True)
            tracked = _col(ordered, "tracked") if "tracked" in ordered.columns else None
            labels = [
                f"{c} (untracked)" if tracked is not None and tracked[i] is False else str(c)
                for i, c in enumerate(_col(ordered, "channel"))
            ]
            fig = go.Figure()
            sra_col = "sra_share_incl_dark" if "sra_share_incl_dark" in ordered.columns else None
            fig.add_bar(name="survey (tracked channels)", x=labels,
                        y=_col(ordered, "sra_share"), marker_color="#222")  # fmt: skip
            if sra_col:
                fig.add_bar(name="survey incl. dark funnel", x=labels, y=_col(ordered, sra_col),
                            marker_color="#8a8f96")  # fmt: skip
            shown = {best, "linear"} if len(models) > 2 else set(models)
            for i, model in enumerate(models):
                fig.add_bar(name=model, x=labels, y=_col(ordered, model),
                            marker_color=_color(i),
                            visible=True if model in shown else "legendonly")  # fmt: skip
            fig.update_layout(barmode="group", yaxis={"tickformat": ".0%", "title": "share"})
            parts.append(
                ctx.chart(
                    fig,
                    caption="Channel shares from survey answers beside model credit. Models "
                    "are in the legend: click to compare. Untracked channels (podcasts, word "
                    "of mouth...) have no model credit: that is the dark funnel.",
                    height=460,
                )
            )
    dark = ctx.frame("survey_dark_funnel.parquet")
    if dark is not None and not _missing(dark, ("channel", "dark_funnel_rate")) and dark.height:
        parts.append(_details("Table: dark funnel by channel",
                              _table(dark, formats={"dark_funnel_rate": fmt_pct})))  # fmt: skip
    if board is not None and board.height:
        pct = {
            c: fmt_pct
            for c in board.columns
            if c.startswith(("agreement", "p_best", "mean_credit"))
        }
        parts.append(_details("Table: leaderboard", _table(board, formats=pct)))
    if summary_path.is_file():
        text = summary_path.read_text(encoding="utf-8", errors="replace")
        parts.append(_details("Survey benchmark summary", f"<pre>{e(text)}</pre>"))
    return _Section(
        "surveys",
        "Survey vs model shares",
        "\n".join(parts),
        'What buyers say brought them ("How did you hear about us?") against what each '
        "model credits.",
    )


def _graph_files(ctx: _Context) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(ctx.run_dir.glob("*.json")):
        if path.name in ("manifest.json",):
            continue
        data = _read_json(path)
        if data and isinstance(data.get("nodes"), list) and isinstance(data.get("links"), list):
            found.append((path.stem, data))
    return found


def _markov_section(ctx: _Context) -> _Section | None:
    graphs = _graph_files(ctx)
    removal = sorted(ctx.run_dir.glob("*_removal_effects.parquet"))
    if not graphs and not removal:
        return None
    parts: list[str] = []
    for stem, data in graphs:
        label = stem.removesuffix("_transition_graph")
        parts.append(f"<h3>{e(label)}: transition graph</h3>")
        try:
            parts.append(_graph_chart(ctx, data))
        except (KeyError, TypeError, ValueError, nx.NetworkXException) as exc:
            parts.append(_note(f"The graph in {stem}.json could not be drawn: {exc}"))
        matrix = ctx.frame(f"{label}_transition_matrix.parquet")
        if matrix is not None and not _missing(matrix, ("from", "to", "probability")):
            parts.append(_matrix_chart(ctx, matrix))
    for path in removal:
        label = path.name.removesuffix("_removal_effects.parquet")
        frame = ctx.frame(path.name)
        if frame is None:
            continue
        if _missing(frame, ("channel", "removal_effect")):
            parts.append(_skip_note("Removal effects", _missing(frame, ("channel",
                                                                         "removal_effect")),
                                    frame))  # fmt: skip
            continue
        rows = frame.sort("removal_effect", descending=True)
        fig = go.Figure(go.Bar(x=_col(rows, "channel"), y=_col(rows, "removal_effect"),
                               marker_color=BLUE,
                               hovertemplate="%{x}: %{y:.1%}<extra></extra>"))  # fmt: skip
        fig.update_layout(yaxis={"title": "conversions lost if removed", "tickformat": ".0%"})
        parts.append(f"<h3>{e(label)}: removal effects</h3>")
        parts.append(ctx.chart(fig, caption="Share of conversions the chain loses when the "
                                            "channel is removed.", height=340))  # fmt: skip
    for path in sorted(ctx.run_dir.glob("*_order_selection.parquet")):
        frame = ctx.frame(path.name)
        if frame is not None and frame.height:
            parts.append(_details(f"Table: {path.name.removesuffix('.parquet')}", _table(frame)))
    return _Section(
        "markov",
        "Markov transition graph",
        "\n".join(parts),
        "How journeys move between channels, and how many conversions each channel holds up.",
    )


def _graph_chart(ctx: _Context, data: dict[str, Any]) -> str:
    graph = nx.node_link_graph(data, edges="links", directed=True, multigraph=False)
    kinds = {n: str(graph.nodes[n].get("kind", "channel")) for n in graph.nodes}
    channels = sorted((n for n in graph.nodes if kinds[n] == "channel"), key=str)
    dropped = [n for n in graph.nodes if kinds[n] == "null"]
    pos: dict[Any, tuple[float, float]] = {}
    if channels:
        pos.update({n: (float(x), float(y)) for n, (x, y) in nx.circular_layout(channels).items()})
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
                "x": x0 + 0.9 * (x1 - x0), "y": y0 + 0.9 * (y1 - y0), "ax": x0, "ay": y0,
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


def _matrix_chart(ctx: _Context, matrix: pl.DataFrame) -> str:
    sources = list(dict.fromkeys(_col(matrix, "from")))
    targets = list(dict.fromkeys(_col(matrix, "to")))
    ends = [t for t in targets if t not in sources]
    targets = [t for t in sources if t in targets] + ends
    prob = {(r["from"], r["to"]): r["probability"] for r in matrix.iter_rows(named=True)}
    z = [[prob.get((s, t)) for t in targets] for s in sources]
    heat = go.Figure(
        go.Heatmap(z=z, x=[str(t) for t in targets], y=[str(s) for s in sources],
                   colorscale="Blues", colorbar={"tickformat": ".0%"},
                   hovertemplate="%{y} → %{x}: %{z:.1%}<extra></extra>")
    )  # fmt: skip
    heat.update_yaxes(autorange="reversed", title="from", type="category")
    heat.update_xaxes(title="to", type="category")
    return ctx.chart(heat, caption="Transition matrix: probability of the next step.",
                     height=max(360, 120 + 24 * len(sources)))  # fmt: skip


def _shapley_section(ctx: _Context) -> _Section | None:
    files = sorted(ctx.run_dir.glob("*_shapley_values.parquet"))
    if not files:
        return None
    parts = []
    for path in files:
        frame = ctx.frame(path.name)
        if frame is None:
            continue
        if _missing(frame, ("channel", "phi")):
            parts.append(_skip_note("Shapley values", _missing(frame, ("channel", "phi")), frame))
            continue
        rows = frame.sort("phi", descending=True)
        fig = go.Figure(go.Bar(x=_col(rows, "channel"), y=_col(rows, "phi"), marker_color=BLUE))
        fig.update_layout(yaxis={"title": "Shapley value (phi)"})
        label = path.name.removesuffix("_shapley_values.parquet")
        parts.append(ctx.chart(fig, caption=e(f"{label}: each channel's Shapley value."),
                               height=320))  # fmt: skip
    return _Section("shapley", "Shapley values", "\n".join(parts))


def _account_section(ctx: _Context) -> _Section | None:
    accounts = ctx.frame("accounts.parquet")
    pipeline = ctx.frame("pipeline.parquet")
    credit = ctx.frame("account_credit.parquet")
    if accounts is None and pipeline is None and credit is None:
        return None
    parts: list[str] = []
    if pipeline is not None:
        need = ("measure", "channel", "pipeline")
        missing = _missing(pipeline, need)
        if missing:
            parts.append(_skip_note("Sourced vs influenced pipeline", missing, pipeline))
        elif pipeline.height:
            order = _col(
                pipeline.filter(pl.col("measure") == "influenced").sort("pipeline",
                                                                         descending=True),
                "channel",
            )  # fmt: skip
            order += [c for c in dict.fromkeys(_col(pipeline, "channel")) if c not in order]
            fig = go.Figure()
            for measure, colour in (("sourced", BLUE), ("influenced", ORANGE)):
                rows = pipeline.filter(pl.col("measure") == measure)
                value = dict(zip(_col(rows, "channel"), _col(rows, "pipeline"), strict=True))
                fig.add_bar(name=measure, x=order, y=[value.get(c) for c in order],
                            marker_color=colour)  # fmt: skip
            fig.update_layout(barmode="group", yaxis={"title": "pipeline", "tickformat": ",.0f"})
            parts.append(
                ctx.chart(
                    fig,
                    caption="Sourced: the channel of the deal's first touch (sums to the total "
                    "pipeline). Influenced: every channel with a touch before the opportunity, "
                    "each counted with the full deal value, so it does NOT sum to 100%.",
                )
            )
            parts.append(_details("Table: sourced vs influenced", _table(
                pipeline, formats={c: fmt_pct for c in pipeline.columns if c.endswith("_share")}
            )))  # fmt: skip
    if credit is not None and not _missing(credit, ("model", "dimension", "key", "credit")):
        roles = credit.filter(pl.col("dimension") == "role")
        if roles.height:
            by_role = roles.group_by("model", "key").agg(pl.col("credit").sum())
            totals = by_role.group_by("model").agg(pl.col("credit").sum().alias("_t"))
            by_role = by_role.join(totals, on="model").with_columns(
                (pl.col("credit") / pl.col("_t")).alias("share")
            )
            fig = go.Figure()
            role_order = _col(
                by_role.group_by("key").agg(pl.col("share").mean()).sort("share",
                                                                          descending=True),
                "key",
            )  # fmt: skip
            for i, model in enumerate(_model_order(ctx, _col(by_role, "model"))):
                rows = by_role.filter(pl.col("model") == model)
                value = dict(zip(_col(rows, "key"), _col(rows, "share"), strict=True))
                fig.add_bar(name=model, x=role_order, y=[value.get(r) for r in role_order],
                            marker_color=_color(i))  # fmt: skip
            fig.update_layout(barmode="group", yaxis={"tickformat": ".0%", "title": "credit"})
            parts.append(ctx.chart(fig, caption="Credit by buying-committee role.", height=360))
    if accounts is not None:
        if "tier" in accounts.columns and accounts.height:
            tiers = accounts.group_by("tier").len().sort("tier")
            count = dict(zip(_col(tiers, "tier"), _col(tiers, "len"), strict=True))
            order = [t for t in ("hot", "warm", "cold") if t in count]
            order += [t for t in count if t not in order]
            fig = make_subplots(
                rows=1, cols=2, subplot_titles=("Engagement tier", "Buying-committee coverage")
            )
            fig.add_bar(x=order, y=[count[t] for t in order], showlegend=False,
                        marker_color=[{"hot": RED, "warm": ORANGE}.get(str(t), GREY)
                                      for t in order], row=1, col=1)  # fmt: skip
            if "coverage" in accounts.columns:
                cov = accounts.group_by("coverage").len().sort("coverage")
                fig.add_bar(x=_col(cov, "coverage"), y=_col(cov, "len"), showlegend=False,
                            marker_color=BLUE, row=1, col=2)  # fmt: skip
            fig.update_yaxes(title="accounts", row=1, col=1)
            parts.append(ctx.chart(fig, caption="Accounts by engagement tier (z-score of the "
                                                "engagement score) and by required roles "
                                                "engaged.", height=340))  # fmt: skip
        cols = [
            c
            for c in ("account_id", "contacts_engaged", "coverage", "missing_roles",
                      "engagement_score", "tier", "conversions", "conversion_value")
            if c in accounts.columns
        ]  # fmt: skip
        if cols and "engagement_score" in accounts.columns:
            top = accounts.sort("engagement_score", descending=True).head(15).select(cols)
            parts.append("<h3>Most engaged accounts</h3>")
            parts.append(_table(top))
    return _Section(
        "accounts",
        "Accounts and pipeline",
        "\n".join(parts),
        "Account-level view: sourced vs influenced pipeline, buying-committee coverage and "
        "engagement.",
    )


# --------------------------------------------------------------------------------------------
# the page


def _duration(seconds: Any) -> str | None:
    """``7776000`` -> ``"90 days"``; ``43200`` -> ``"12 hours"``; None when not a number."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
        return None
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds % size == 0 or unit == "second":
            n = seconds / size
            text = f"{n:g}"
            return f"{text} {unit}{'' if n == 1 else 's'}"
    return None  # pragma: no cover


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _header(ctx: _Context) -> tuple[str, str]:
    """The run's one-line description (for the title bar) and the summary block below it."""
    m = ctx.manifest
    params = _as_dict(m.get("parameters"))
    rec = _as_dict(m.get("reconciliation"))
    totals = _as_dict(m.get("totals"))
    parts: list[str] = []
    meta = [
        ("run", m.get("run_id", ctx.run_dir.name)),
        ("created", m.get("created_at")),
        ("level", params.get("level")),
        ("conversion", params.get("conversion_stage")),
        ("lookback", _duration(params.get("lookback_seconds")) or params.get("lookback")),
        ("package", (m.get("package") or {}).get("version") if isinstance(m.get("package"),
                                                                          dict) else None),
    ]  # fmt: skip
    line = (
        '<p class="meta">'
        + " · ".join(f"{e(k)} <b>{e(v)}</b>" for k, v in meta if v not in (None, ""))
        + "</p>"
    )
    kpis = [
        ("touches in", fmt_num(rec.get("touches_in"))),
        ("conversions", fmt_num(rec.get("conversions"))),
        ("attributed", fmt_num(rec.get("conversions_attributed"))),
        ("conversion value", fmt_num(totals.get("conversions_value"))),
        ("models", fmt_num(len(m.get("models", [])) if isinstance(m.get("models"), list)
                           else None)),
    ]  # fmt: skip
    kpis = [(k, v) for k, v in kpis if v != "–"]
    if kpis:
        parts.append(
            '<div class="kpis">'
            + "".join(f'<div class="kpi"><span>{e(v)}</span>{e(k)}</div>' for k, v in kpis)
            + "</div>"
        )
    if ctx.findings:
        parts.append(
            '<div class="findings"><h2>Key findings</h2><ul>'
            + "".join(f"<li>{f}</li>" for f in ctx.findings)
            + "</ul></div>"
        )
    if rec:
        parts.append(f'<p class="recon">{e(_reconciliation_sentence(rec))}</p>')
    inputs = _as_dict(m.get("inputs"))
    rows = [
        {
            "input": name,
            "source": info.get("source", ""),
            "rows": info.get("rows"),
            "sha256": str(info.get("sha256", ""))[:12],
        }
        for name, info in inputs.items()
        if isinstance(info, dict)
    ]
    detail = []
    if rows:
        detail.append("<h3>Inputs</h3>" + _table(pl.DataFrame(rows)))
    if rec:
        flat = {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in rec.items()}
        detail.append("<h3>Reconciliation</h3>" + _kv_table(flat))
    models = [x for x in m.get("models", []) if isinstance(x, dict)]
    if models:
        detail.append(
            "<h3>Models</h3>"
            + _table(
                pl.DataFrame(
                    {
                        "label": [str(x.get("label", "")) for x in models],
                        "model": [str(x.get("name", "")) for x in models],
                        "family": [str(x.get("family", "")) for x in models],
                        "parameters": [json.dumps(x.get("params", {})) for x in models],
                    }
                )
            )
        )
    notes = [str(n) for n in m.get("notes", []) or []]
    if notes:
        detail.append("<h3>Notes</h3><ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    if detail:
        parts.append(_details("Run details: inputs, reconciliation, models, notes",
                              "".join(detail)))  # fmt: skip
    if not m:
        parts.append(_note("No manifest: the run's inputs and counts are unknown."))
    return line, "\n".join(parts)


def _reconciliation_sentence(rec: Mapping[str, Any]) -> str:
    dropped = rec.get("touches_dropped")
    dropped_n = sum(dropped.values()) if isinstance(dropped, dict) else dropped
    text = ""
    if "touches_in" in rec:
        text = (
            f"Touches in {fmt_num(rec.get('touches_in'))} = in converting journeys "
            f"{fmt_num(rec.get('touches_in_journeys'))} + in non-converting paths "
            f"{fmt_num(rec.get('touches_in_null_paths'))} + dropped {fmt_num(dropped_n)}"
        )
        if isinstance(dropped, dict) and dropped:
            text += " (" + ", ".join(f"{k} {fmt_num(v)}" for k, v in dropped.items()) + ")"
        text += ". "
    if "conversions" in rec:
        text += (
            f"Conversions {fmt_num(rec.get('conversions'))}: attributed "
            f"{fmt_num(rec.get('conversions_attributed'))}, without touches "
            f"{fmt_num(rec.get('conversions_unattributed'))}."
        )
    return text.strip()


@cache
def _plotly_js() -> str:
    # A literal "</script" inside the bundle would end the element early.
    return get_plotlyjs().replace("</script", "<\\/script")


_TEMPLATE_JS = """
const ATTRIBUTION_TEMPLATE = {template};
const ATTRIBUTION_CONFIG = {{displaylogo: false, responsive: true,
  modeBarButtonsToRemove: ["lasso2d", "select2d"]}};
function attributionPlot(id, data, layout) {{
  layout.template = ATTRIBUTION_TEMPLATE;
  layout.autosize = true;
  Plotly.newPlot(id, data, layout, ATTRIBUTION_CONFIG);
}}
"""

_CSS = """
:root { --ink:#1d2630; --muted:#5f6b77; --line:#e3e7ec; --bad:#fbe3e1; --accent:#3b6ea8; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--ink); background:#f6f8fa; }
header.top { background:#1d2630; color:#fff; padding:20px 32px 12px; }
header.top h1 { margin:0 0 4px; font-size:24px; font-weight:600; }
header.top .meta { margin:0; color:#c9d1d9; font-size:13px; }
header.top .meta b { color:#fff; font-weight:600; }
nav { position:sticky; top:0; z-index:10; background:#fff; border-bottom:1px solid var(--line);
  padding:8px 32px; font-size:14px; }
nav a { color:var(--accent); text-decoration:none; margin-right:18px; white-space:nowrap; }
main { max-width:1280px; margin:0 auto; padding:16px 32px 48px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px;
  padding:16px 24px 20px; margin:20px 0; }
section h2 { margin:0 0 4px; font-size:20px; }
section .lead { margin:0 0 12px; color:var(--muted); }
h3 { font-size:16px; margin:20px 0 8px; }
.kpis { display:flex; flex-wrap:wrap; gap:12px; margin:8px 0 16px; }
.kpi { background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px 16px;
  min-width:140px; color:var(--muted); font-size:13px; }
.kpi span { display:block; color:var(--ink); font-size:22px; font-weight:600; }
.findings { background:#fff; border-left:4px solid var(--accent); border-radius:4px;
  padding:8px 20px; margin:8px 0 12px; }
.findings h2 { font-size:17px; margin:6px 0; }
.findings ul { margin:4px 0 8px; padding-left:20px; }
.recon { color:var(--muted); font-size:13px; }
.muted { color:var(--muted); font-size:13px; }
h4 { font-size:14px; margin:14px 0 4px; color:var(--muted); }
.callout { background:#fff7e6; border-left:4px solid #e08a1e; padding:10px 16px;
  margin:8px 0 12px; border-radius:4px; }
.note { color:#8a4b00; font-size:13px; font-style:italic; }
figure.chart { margin:8px 0 16px; }
.chart-plot { width:100%; }
.caption { color:var(--muted); font-size:13px; margin:4px 0 0; }
.table-wrap { overflow-x:auto; margin:8px 0; }
table { border-collapse:collapse; font-size:13px; }
th, td { border-bottom:1px solid var(--line); padding:4px 10px; text-align:left;
  vertical-align:top; }
thead th { background:#f0f3f6; position:sticky; top:0; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
table.kv th { font-weight:500; color:var(--muted); }
tr.bad td { background:var(--bad); }
tr.total td { font-weight:600; border-top:2px solid var(--ink); }
details { margin:8px 0; }
summary { cursor:pointer; color:var(--accent); }
pre { background:#f6f8fa; padding:12px; overflow-x:auto; font-size:12px; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:16px; }
"""


def _page(ctx: _Context, sections: Sequence[_Section]) -> str:
    template = json.loads(to_json_plotly(pio.templates["plotly_white"].to_plotly_json()))
    template.setdefault("layout", {})["colorway"] = list(PALETTE)
    template["layout"]["font"] = {"family": "system-ui, -apple-system, Segoe UI, sans-serif"}
    template["layout"]["margin"] = {"l": 60, "r": 30, "t": 50, "b": 60}
    line, summary = _header(ctx)  # after the sections: it lists their findings
    nav = "".join(f'<a href="#{s.key}">{e(s.title)}</a>' for s in sections)
    body = "\n".join(
        f'<section id="{s.key}"><h2>{e(s.title)}</h2>'
        + (f'<p class="lead">{e(s.lead)}</p>' if s.lead else "")
        + f"\n{s.body}</section>"
        for s in sections
    )
    if not sections:
        body = _note("This run directory has no result files to show.")
    run_id = ctx.manifest.get("run_id", ctx.run_dir.name)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="attribution-engine {e(__version__)}">
<title>Attribution report · {e(run_id)}</title>
<style>{_CSS}</style>
<script>{_plotly_js()}</script>
<script>{_TEMPLATE_JS.format(template=_script_json(template))}</script>
</head>
<body>
<header class="top"><h1>Attribution report</h1>{line}</header>
<nav>{nav}</nav>
<main>
{summary}
{body}
</main>
<footer>Written by attribution-engine {e(__version__)} on {e(generated)}. Self-contained: no
network needed to view it.</footer>
</body>
</html>
"""
