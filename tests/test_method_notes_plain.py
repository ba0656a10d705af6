"""Method notes taken from module docstrings are plain text in economics.json, funnel.json
and the report (new-user report 22, M11: 132 pairs of double back-ticks and ``:mod:`` /
``:func:`` roles in report.html's "Parameters and method notes")."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

import attribution
from attribution.b2b._economics import UnitEconomics
from attribution.b2b._funnel import Funnel
from attribution.b2b._shared import doc_text

MARKUP = re.compile(r"``|:(?:mod|func|class|data|meth|attr):`|\*\*")


def test_doc_text_reads_roles_literals_and_bold_as_plain_text() -> None:
    doc = ("- **An opportunity** is a deal (:func:`attribution.b2b._funnel_unit.deal_table`: "
           "one per\n  ``opportunity_id``, see :class:`~attribution.Accounts`)")
    assert doc_text(doc) == ("- An opportunity is a deal (deal_table: one per\n"
                             "  opportunity_id, see Accounts)")


def test_the_runs_method_notes_carry_no_markup() -> None:
    root = Path(__file__).resolve().parents[1] / "sample_data"
    touches = pl.read_parquet(root / "touches.parquet")
    stages = pl.read_parquet(root / "stages.parquet")
    options = attribution.RunOptions(models=["linear"])
    result = attribution.attribute(touches, stages, options=options)
    inputs = attribution.B2BInputs(touches=touches, stages=stages,
                                   spend=pl.read_parquet(root / "spend.parquet"))
    extras = attribution.analyse(result, inputs, options=options).extras
    (econ,) = [x for x in extras if isinstance(x, UnitEconomics)]
    (flow,) = [x for x in extras if isinstance(x, Funnel)]
    notes = [*econ.notes.values(), *flow.notes.values()]
    assert any("opportunity" in n for n in notes)
    assert [n[:80] for n in notes if MARKUP.search(n)] == []
