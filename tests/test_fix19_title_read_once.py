"""Item 5 of fix19: a file read below a report's title is opened once to find the title
(:func:`attribution.inputs._preamble.report_title` counts the title lines and names the first
from one read of the file's head; it read the first line a second time)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from attribution.inputs import _preamble

GOOGLE_ADS = ('Campaign report\n"January 1, 2025 - December 31, 2025"\n'
              "Campaign,Day,Cost\nBrand,2025-01-01,10\nBrand,2025-01-02,12\n")  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), [
    (GOOGLE_ADS, (2, "Campaign report")),
    ("Campaign,Day,Cost\nBrand,2025-01-01,10\n", None),  # no title: read as it is
])  # fmt: skip
def test_the_title_is_found_in_one_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: object
) -> None:
    path = tmp_path / "report.csv"
    path.write_text(text)
    opened: list[Path] = []
    real = Path.open

    def counted(self: Path, *args: Any, **kwargs: Any) -> Any:
        opened.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", counted)
    assert _preamble.report_title(path, ",") == expected
    assert opened == [path]
    assert _preamble.title_lines(path, ",") == (expected[0] if expected else 0)  # type: ignore[index]
