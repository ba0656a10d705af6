"""Small cleanups: funnel_kpis takes the deal table (its only caller, the funnel, always
gives it; the fallback to the entities as deals was dead code), and PEP 8's two blank
lines before a top-level def in _funnel_unit.py."""

from __future__ import annotations

import inspect
from pathlib import Path

from attribution.b2b import _funnel_unit
from attribution.b2b._funnel_kpis import funnel_kpis


def test_funnel_kpis_requires_the_deal_table() -> None:
    params = inspect.signature(funnel_kpis).parameters
    assert params["deals"].default is inspect.Parameter.empty
    assert "key" not in params  # only the dead fallback read it


def test_deal_table_has_two_blank_lines_before_it() -> None:
    text = Path(_funnel_unit.__file__).read_text()
    assert "\n\n\ndef deal_table(" in text
