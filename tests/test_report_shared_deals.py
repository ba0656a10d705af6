"""A buying committee at contact level (new-user report 4, defect 15): when conversions share
an opportunity id, report.html says so beside the five answers (whose customer count, CAC
and LTV/CAC then count each deal once per contact), not only in the folded run details.

A real run through the command line on CSV files (2 won deals x 3 contacts, spend on three
channels); the page is read with a real HTML parser (``html.parser``).
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from attribution.cli import app

CHANNELS = ["linkedin", "google_ads", "email"]


class Callouts(HTMLParser):
    """The text of the ``#shared-deals`` element, whether it sits inside ``#answers``, and
    whether inside a ``<details>`` (folded)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.in_answers = False
        self.folded = False
        self.count = 0
        self._stack: list[tuple[str, str]] = []
        self._depth: int | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        ident = dict(attrs).get("id") or ""
        if tag in ("br", "meta", "img", "input", "link"):
            return
        self._stack.append((tag, ident))
        if ident == "shared-deals":
            self.count += 1
            self._depth = len(self._stack)
            self.in_answers = any(i == "answers" for _, i in self._stack[:-1])
            self.folded = any(t == "details" for t, _ in self._stack[:-1])

    def handle_endtag(self, tag: str) -> None:
        if self._depth is not None and len(self._stack) == self._depth and tag == "p":
            self._depth = None
        while self._stack and self._stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self._depth is not None:
            self.text.append(data)


def write_inputs(directory: Path) -> None:
    """Four accounts of three contacts; accounts a0 and a1 win one deal each, closed on all
    three contacts under one opportunity id ($10,000), as a CRM's contact roles export."""
    touches, stages, contacts = [], [], []
    for a in range(4):
        for c in range(3):
            contact = f"c{a}_{c}"
            contacts.append({"contact_id": contact, "account_id": f"a{a}"})
            touches.extend(
                {"timestamp": f"2025-0{1 + t}-{10 + c}T10:00:00Z",
                 "channel": CHANNELS[(a + c + t) % 3], "contact_id": contact}
                for t in range(3)
            )  # fmt: skip
            if a < 2:
                stages.append(
                    {"timestamp": "2025-05-01T10:00:00Z", "stage": "closed_won",
                     "contact_id": contact, "account_id": f"a{a}",
                     "opportunity_id": f"O{a}", "value": 10_000.0}
                )  # fmt: skip
    pl.DataFrame(touches).write_csv(directory / "t.csv")
    pl.DataFrame(stages).write_csv(directory / "s.csv")
    pl.DataFrame(contacts).write_csv(directory / "c.csv")
    pl.DataFrame(
        [{"month": f"2025-0{m}-01", "channel": ch, "amount": 1000.0}
         for m in range(1, 6) for ch in CHANNELS]
    ).write_csv(directory / "spend.csv")  # fmt: skip


def run_page(directory: Path, *extra: str) -> Callouts:
    out = directory / f"runs{len(extra)}"
    args = ["run", "--touches", str(directory / "t.csv"), "--stages", str(directory / "s.csv"),
            "--spend", str(directory / "spend.csv"), "-m", "linear", "--out", str(out),
            *extra]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (run,) = out.iterdir()
    return Callouts((run / "report.html").read_text())


def test_contact_level_report_says_beside_the_answers_that_deals_are_shared(
    tmp_path: Path,
) -> None:
    write_inputs(tmp_path)
    page = run_page(tmp_path)
    text = " ".join("".join(page.text).split())
    assert page.count == 1
    assert page.in_answers, "the line sits with the five answers"
    assert not page.folded, "visible, not in the folded run details"
    assert "6 conversions share 2 deals" in text
    assert "$40,000 of deal value more than once" in text  # 2 deals x 2 extra contacts
    assert "--level account" in text


def test_account_level_counts_each_deal_once_and_says_nothing(tmp_path: Path) -> None:
    write_inputs(tmp_path)
    page = run_page(tmp_path, "--contacts", str(tmp_path / "c.csv"), "--level", "account")
    assert page.count == 0
