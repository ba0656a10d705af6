"""The report page: :func:`write_report`, :func:`render_report`, :class:`Report`, and the
page around the sections (the run's header and summary, the style, the plotly.js bundle).

:func:`write_report` reads whatever files a run directory holds (the manifest, channel
credit, model extras, the Markov graph, the survey benchmark, unit economics, the plan
check, the funnel, the SLAs, the account-level tables) and writes ``report.html`` beside them: one
page, charts drawn by plotly.js's basic bundle (``_bundle``) inlined once, shares
and probabilities as shaded tables, no request to the network at view time.
A section appears only when its files exist; a chart whose columns are missing is replaced
by a visible note instead of failing the run.

Every string taken from the data is escaped: ``html.escape`` for the page, and ``<`` as
``\\u003c`` inside the chart JSON, so a channel called ``</script>`` stays text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import plotly.io as pio
import polars as pl
from plotly.io.json import to_json_plotly

from attribution._reporting_currency import money_in
from attribution._version import __version__
from attribution.engine._files import RunFiles
from attribution.report._accounts import account_section
from attribution.report._answers import answers
from attribution.report._bundle import plotly_script
from attribution.report._charts import PALETTE
from attribution.report._context import Context, Section, read_json, script_json
from attribution.report._credit import (
    channel_credit_section,
    markov_section,
    model_tables_section,
    shapley_section,
)
from attribution.report._economics import economics_section
from attribution.report._experiments import experiments_section
from attribution.report._format import details, e, fmt_num, kv_table, note, params_text, table
from attribution.report._format import duration as _duration
from attribution.report._funnel import funnel_section
from attribution.report._kpis import kpi_section
from attribution.report._labels import money, words
from attribution.report._plan import plan_section
from attribution.report._plan_tests import tests_section
from attribution.report._shared import no_answers, shared_deals
from attribution.report._short import short_finding
from attribution.report._sla import sla_section
from attribution.report._surveys import survey_section
from attribution.report._uncertainty import uncertainty_section

__all__ = ["REPORT_FILE", "Report", "render_report", "write_report"]

REPORT_FILE: Final = RunFiles.REPORT
# The sections in page order; each returns None when the run has none of its files.
SECTIONS: tuple[Callable[[Context], Section | None], ...] = (
    channel_credit_section,
    economics_section,
    uncertainty_section,
    plan_section,
    tests_section,
    experiments_section,
    funnel_section,
    kpi_section,
    sla_section,
    account_section,
    survey_section,
    markov_section,
    shapley_section,
    model_tables_section,
)


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
    >>> from attribution.report import write_report
    >>> path = write_report(tempfile.mkdtemp(), manifest={"run_id": "r1"})
    >>> path.name
    'report.html'
    """
    directory = Path(run_dir)
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
    >>> from attribution.report import Report
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
        manifest = read_json(directory / RunFiles.MANIFEST) or {}
    with money_in(manifest):  # the run's reporting currency: the money sign of every page
        ctx = Context(directory, dict(manifest))
        sections = [section for build in SECTIONS if (section := build(ctx)) is not None]
        anchors = {s.key for s in sections} | {
            key for key in ("segments", "alerts") if any(f'id="{key}"' in s.body for s in sections)
        }
        top = _empty_state(ctx) or answers(ctx, anchors) or (
            no_answers(ctx.manifest) + shared_deals(ctx.manifest)
        )
        if short := short_finding(ctx):  # one tally of "short" for the answers and the findings
            ctx.findings.insert(0, short)
        return _page(ctx, sections, top)


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _header(ctx: Context) -> tuple[str, str]:
    """The run's one-line description (for the title bar) and the summary block below it."""
    m = ctx.manifest
    params = _as_dict(m.get("parameters"))
    rec = _as_dict(m.get("reconciliation"))
    totals = _as_dict(m.get("totals"))
    package = m.get("package")
    meta = [
        ("run", m.get("run_id", ctx.run_dir.name)),
        ("created", _when(m.get("created_at"))),
        ("level", params.get("level")),
        ("conversion", params.get("conversion_stage")),
        ("lookback", _duration(params.get("lookback_seconds")) or params.get("lookback")),
        ("package", (package or {}).get("version") if isinstance(package, dict) else None),
    ]
    line = (
        '<p class="meta">'
        + " · ".join(f"{e(k)} <b>{e(v)}</b>" for k, v in meta if v not in (None, ""))
        + "</p>"
    )
    models = m.get("models")
    figures = [
        ("touches in", fmt_num(rec.get("touches_in"))),
        ("conversions", fmt_num(rec.get("conversions"))),
        ("attributed", fmt_num(rec.get("conversions_attributed"))),
        ("conversion value", money(totals.get("conversions_value"))),
        ("models", fmt_num(len(models) if isinstance(models, list) else None)),
    ]
    figures = [(k, v) for k, v in figures if v != "–"]
    parts: list[str] = []
    if ctx.findings:
        parts.append(
            '<div class="findings"><h2>More findings</h2><ul>'
            + "".join(f"<li>{f}</li>" for f in ctx.findings)
            + "</ul></div>"
        )
    if figures:
        parts.append(
            '<p class="recon">The run: '
            + " · ".join(f"{e(k)} <b>{e(v)}</b>" for k, v in figures)
            + ".</p>"
        )
    if rec:
        parts.append(f'<p class="recon">{e(_reconciliation_sentence(rec))}</p>')
    detail = _run_details(m, rec)
    if detail:
        parts.append(details("Run details: inputs, reconciliation, models, notes", detail))
    if not m:
        parts.append(note("No manifest: the run's inputs and counts are unknown."))
    return line, "\n".join(parts)


def _when(value: Any) -> Any:
    """An ISO timestamp as ``2026-12-06 07:52 UTC``; anything else as it is."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _run_details(m: Mapping[str, Any], rec: Mapping[str, Any]) -> str:
    """The manifest's inputs, reconciliation, models and notes as tables and a list."""
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
        detail.append("<h3>Inputs</h3>" + table(pl.DataFrame(rows)))
    if rec:
        flat = {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in rec.items()}
        detail.append("<h3>Reconciliation</h3>" + kv_table(flat))
    models = [x for x in m.get("models", []) if isinstance(x, dict)]
    if models:
        frame = pl.DataFrame(
            {
                "label": [str(x.get("label", "")) for x in models],
                "model": [str(x.get("name", "")) for x in models],
                "family": [str(x.get("family", "")) for x in models],
                "parameters": [params_text(x.get("params", {})) for x in models],
            }
        )
        detail.append("<h3>Models</h3>" + table(frame))
    notes = [str(n) for n in m.get("notes", []) or []]
    if notes:
        detail.append("<h3>Notes</h3><ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    return "".join(detail)


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
        if rec.get("journey_touches_shared"):
            text += (
                f"; {fmt_num(rec.get('journey_touches_shared'))} of them also in the journeys "
                f"of {fmt_num(rec.get('conversions_sharing_touches'))} parallel deal(s), "
                "credited in each deal"
            )
        text += ". "
    if "conversions" in rec:
        text += (
            f"Conversions {fmt_num(rec.get('conversions'))}: attributed "
            f"{fmt_num(rec.get('conversions_attributed'))}, without touches "
            f"{fmt_num(rec.get('conversions_unattributed'))}"
        )
        if rec.get("conversions_same_timestamp"):
            text += (
                ", at the same time as an earlier conversion of the entity "
                f"{fmt_num(rec.get('conversions_same_timestamp'))}"
            )
        text += f"; without a value {fmt_num(rec.get('conversions_without_value', 0))}."
    return text.strip()


_TEMPLATE_JS = """
const ATTRIBUTION_TEMPLATE = {template};
const ATTRIBUTION_CONFIG = {{displaylogo: false, responsive: true,
  modeBarButtonsToRemove: ["lasso2d", "select2d"]}};
// Charts are queued while the page is read and drawn after it: the ones in view first, then
// the others one at a time, yielding between them, so the text (the answers first) shows at
// once and the page stays responsive. "attribution-charts-drawn" marks the end (Performance API).
const attributionQueue = [];
function attributionPlot(id, data, layout) {{
  layout.template = ATTRIBUTION_TEMPLATE;
  layout.autosize = true;
  attributionQueue.push({{id, data, layout}});
}}
document.addEventListener("DOMContentLoaded", () => attributionPlotly.then(
  async (plotly) => {{
    const inView = (c) => {{
      const r = document.getElementById(c.id).getBoundingClientRect();
      return r.top < window.innerHeight && r.bottom > 0;
    }};
    const order = [...attributionQueue.filter(inView),
                   ...attributionQueue.filter((c) => !inView(c))];
    for (const c of order) {{
      await plotly.newPlot(c.id, c.data, c.layout, ATTRIBUTION_CONFIG);
      await new Promise((done) => setTimeout(done, 0));
    }}
    performance.mark("attribution-charts-drawn");
  }},
  (error) => {{
    for (const c of attributionQueue) {{
      document.getElementById(c.id).textContent = "Chart not drawn: " + error.message;
    }}
  }},
));
// Printing: every chart drawn (the ones still queued too) at the width of a landscape A4 page
// less the print style's margins, then back to the window's width.
const ATTRIBUTION_PRINT_WIDTH = 1000;
window.addEventListener("beforeprint", () => {{
  if (!window.Plotly) return;
  for (const c of attributionQueue) {{
    const el = document.getElementById(c.id);
    if (el.classList.contains("js-plotly-plot")) {{
      Plotly.relayout(el, {{width: ATTRIBUTION_PRINT_WIDTH}});
    }} else {{
      Plotly.newPlot(el, c.data, {{...c.layout, width: ATTRIBUTION_PRINT_WIDTH}},
                     ATTRIBUTION_CONFIG);
    }}
  }}
}});
window.addEventListener("afterprint", () => {{
  if (!window.Plotly) return;
  for (const c of attributionQueue) {{
    const el = document.getElementById(c.id);
    if (!el.classList.contains("js-plotly-plot")) continue;
    Plotly.relayout(el, {{width: null, autosize: true}});
  }}
}});
"""

_CSS = """
:root { --ink:#1d2630; --muted:#5a6570; --line:#e3e7ec; --bad:#fbe3e1; --bad-ink:#a3261d;
  --accent:#2f5f96; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--ink); background:#f6f8fa; }
header.top { background:#1d2630; color:#fff; padding:12px 32px 8px; }
header.top h1 { margin:0 0 2px; font-size:21px; font-weight:600; }
header.top .meta { margin:0; color:#c9d1d9; font-size:13px; }
header.top .meta b { color:#fff; font-weight:600; }
nav { position:sticky; top:0; z-index:10; background:#fff; border:1px solid var(--line);
  border-radius:8px; padding:8px 16px; margin:12px 0; font-size:14px; }
nav { display:flex; flex-wrap:wrap; gap:2px 18px; }
nav a { color:var(--accent); text-decoration:none; white-space:nowrap; }
main { max-width:1280px; margin:0 auto; padding:16px 32px 48px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px;
  padding:16px 24px 20px; margin:20px 0; }
section h2 { margin:0 0 4px; font-size:20px; }
section .lead { margin:0 0 12px; color:var(--muted); }
h3 { font-size:16px; margin:20px 0 8px; }
.kpis { display:grid; grid-template-columns:repeat(auto-fit, minmax(116px, 1fr)); gap:10px;
  margin:8px 0 14px; }
.kpi { background:#fff; border:1px solid var(--line); border-radius:8px; padding:8px 12px;
  color:var(--muted); font-size:13px; }
.kpi span { display:block; color:var(--ink); font-size:19px; font-weight:600;
  white-space:nowrap; }
.kpi small { display:block; font-size:11px; color:var(--muted); }
.answers { background:#fff; border:1px solid var(--line); border-left:4px solid var(--accent);
  border-radius:8px; padding:12px 24px 10px; margin:16px 0 12px; }
.answers h2 { margin:0 0 4px; }
.answers h2 { font-size:20px; }
.answers .lead { margin:0 0 6px; font-size:13px; }
.answers dl { margin:0; }
.answer { display:grid; grid-template-columns:250px 1fr; gap:4px 18px; padding:7px 0;
  border-top:1px solid var(--line); }
.answer dt { font-weight:600; }
.answer dd { margin:0; }
.answer .list { color:var(--muted); font-size:13px; }
a.more { font-size:13px; color:var(--accent); white-space:nowrap; }
.bad { color:var(--bad-ink); }
.ci { color:var(--muted); font-size:12px; white-space:nowrap; }
.lowconf { font-size:11px; font-weight:600; color:#8a4b00; background:#fff1d6;
  border:1px solid #e9b96e; border-radius:3px; padding:0 4px; white-space:nowrap; }
.alerts { background:#fff; border:1px solid var(--line); border-radius:8px;
  padding:8px 20px 10px; margin:0 0 12px; }
.alerts h2 { font-size:17px; margin:4px 0; }
.alerts p { margin:4px 0; }
.alert-list { margin:2px 0 6px; padding-left:20px; }
.sev { font-size:11px; font-weight:600; text-transform:uppercase; border-radius:3px;
  padding:0 4px; background:#eef1f4; color:var(--ink); }
.sev-high { background:var(--bad); color:var(--bad-ink); }
@media (max-width: 760px) { .answer { grid-template-columns:1fr; } }
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
table.heat caption { caption-side:bottom; text-align:left; color:var(--muted); padding-top:4px; }
table.heat td { min-width:64px; print-color-adjust:exact; -webkit-print-color-adjust:exact; }
table.heat th[scope="row"] { white-space:nowrap; }
table.kv th { font-weight:500; color:var(--muted); }
tr.bad td { background:var(--bad); }
tr.lowconf-row td { font-style:italic; color:var(--muted); }
table.heat td.provisional { color:var(--muted); font-style:italic; background:#f6f8fa; }
tr.total td { font-weight:600; border-top:2px solid var(--ink); }
details { margin:8px 0; }
summary { cursor:pointer; color:var(--accent); }
pre { background:#f6f8fa; padding:12px; overflow-x:auto; font-size:12px; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:16px; }
a:focus-visible, summary:focus-visible, .table-wrap:focus-visible { outline:2px solid var(--accent);
  outline-offset:2px; }
@page { size: A4 landscape; margin: 10mm; }
@media print {
  body { background:#fff; font-size:11pt; }
  nav, a.more, .modebar-container, .updatemenu-container { display:none !important; }
  header.top { background:none; color:var(--ink); padding:0 0 4px;
    border-bottom:2px solid var(--ink); }
  header.top .meta, header.top .meta b { color:var(--ink); }
  main { max-width:none; padding:0; }
  section { border:none; border-top:2px solid var(--line); border-radius:0; padding:8px 0 0;
    margin:14px 0 0; }
  .answers, .alerts, .kpi, .findings { break-inside:avoid; }
  .answer, figure.chart, .kpis, .callout, tr, caption { break-inside:avoid; }
  h2, h3, h4, summary { break-after:avoid; }
  .table-wrap { overflow:visible; }
  table { font-size:7.5pt; }
  th, td { padding:2px 4px; }
  thead th { position:static; }
  a { color:inherit; text-decoration:none; }
  summary { color:var(--ink); list-style:none; font-weight:600; }
  footer { padding:8px 0 0; }
}
"""


def _empty_state(ctx: Context) -> str | None:
    """What the top of the page says when the run attributed no conversion: why, from the
    manifest's counts, and what to try."""
    rec = _as_dict(ctx.manifest.get("reconciliation"))
    credit = ctx.frame(RunFiles.CHANNEL_CREDIT)
    attributed = rec.get("conversions_attributed")
    if attributed is None and credit is None:
        return None
    if attributed not in (None, 0) or (credit is not None and credit.height):
        return None
    params = _as_dict(ctx.manifest.get("parameters"))
    stage = params.get("conversion_stage") or "closed_won"
    lookback = _duration(params.get("lookback_seconds")) or params.get("lookback") or "the window"
    conversions = rec.get("conversions") or 0
    dropped = rec.get("touches_dropped")
    dropped = dropped if isinstance(dropped, dict) else {}
    why: list[str] = []
    tries: list[str] = []
    if not conversions:
        why.append(f"No stage row reached the conversion stage '{stage}'.")
        tries.append(
            f"check the stage names: --conversion-stage names the stage that counts as won "
            f"(now '{stage}'), and [stages] in the config maps your CRM's names to it"
        )
    else:
        unattributed = rec.get("conversions_unattributed")
        why.append(
            f"{fmt_num(conversions)} conversion(s) reached '{stage}', but "
            f"{fmt_num(unattributed if unattributed is not None else conversions)} had no "
            f"touch in the {lookback} before it."
        )
        tries.append(
            f"a longer lookback (--lookback, now {lookback}) if your sales cycle is longer"
        )
        tries.append(
            "check that the touches and the stages share their ids (contact_id or, with "
            "--level account, account_id) and cover the same dates"
        )
    if dropped:
        listed = ", ".join(f"{words(k)} {fmt_num(v)}" for k, v in dropped.items() if v)
        if listed:
            why.append(f"Touches dropped before the journeys: {listed}.")
        if dropped.get("excluded_touch_type"):
            tries.append("fewer --exclude-touch-types if the excluded touches are marketing")
    touches = rec.get("touches_in")
    if touches == 0:
        why.append("The touch log had no rows.")
    return (
        '<div id="answers" class="answers empty" role="region" aria-labelledby="answers-title">'
        '<h2 id="answers-title">Nothing was attributed</h2>'
        f'<p>{e(" ".join(why))}</p><p>What to try:</p><ul>'
        + "".join(f"<li>{e(t)}</li>" for t in tries)
        + "</ul><p class=\"muted\">The run's counts are in the reconciliation line below and "
        "in manifest.json.</p></div>"
    )


def _page(ctx: Context, sections: Sequence[Section], top: str = "") -> str:
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
        body = note("This run directory has no result files to show.")
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
<script>{_TEMPLATE_JS.format(template=script_json(template))}</script>
</head>
<body>
<header class="top"><h1>Attribution report</h1>{line}</header>
<main>
{top}
<nav aria-label="Sections">{nav}</nav>
{summary}
{body}
</main>
<footer>Written by attribution-engine {e(__version__)} on {e(generated)}. Self-contained: no
network needed to view it.</footer>
<!-- the chart library last: the text above is read and painted before its 0.5 MB -->
<script>{plotly_script()}</script>
</body>
</html>
"""
