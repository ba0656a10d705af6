"""The self-contained HTML report of a run directory.

The page and its entry points (``_page``: :func:`write_report`, :func:`render_report`,
:class:`Report`); its top, the five answers of the 90-second test, the KPI tiles and the
latest week's alerts (``_answers``); one module per group of sections: credit and what the
models learned (``_credit``), unit economics and the plan check (``_economics``), the funnel
(``_funnel``), the survey benchmark (``_surveys``), accounts and pipeline (``_accounts``);
what the sections share: the run they read and the embedding of their charts
(``_context``), the palette and shared figures (``_charts``), text, number formats and
tables (``_format``), and the human labels, units and formats of the files' columns
(``_labels``).

The names below load on first use, so ``import attribution.report`` does not import plotly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from attribution.report._page import REPORT_FILE, Report, render_report, write_report

__all__ = ["REPORT_FILE", "Report", "render_report", "write_report"]


def __getattr__(name: str) -> Any:
    # plotly takes about a second to import: only a run that writes its report pays for it.
    if name in __all__:
        from attribution.report import _page

        return getattr(_page, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
