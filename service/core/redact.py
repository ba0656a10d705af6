"""No absolute server path in a response: paths shown relative to the data directory.

A failed run's error and a run's manifest name the files the library read or wrote, as the
server saw them (``/srv/data/touches.parquet``). Responses show them as the client named
them, relative to the data directory (``touches.parquet``); a file under the runs directory
as ``$ATTRIBUTION_RUNS_DIR/<name>``; any other absolute path (a library file in a
traceback-like message) as ``.../<its last component>``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

# an absolute path inside text: starts at a slash not preceded by a name character, and
# runs until whitespace, a quote or a bracket
_ABSOLUTE = re.compile(r"(?<![\w.~$/-])/[^\s'\"`()\[\]{}<>,;]+")


def _top_level_dir(path: str) -> bool:
    """Whether ``path``'s first component is a directory at this server's root (``/srv``,
    ``/tmp``, ``/home``), so an API route such as ``/v1/runs`` in a message is left alone."""
    first = path.lstrip("/").split("/", 1)[0]
    return bool(first) and os.path.isdir("/" + first)


class PathRedactor:
    """Rewrites absolute paths in strings, dicts and lists (see the module docstring)."""

    def __init__(self, data_dir: Path, runs_dir: Path) -> None:
        roots: dict[str, str] = {}
        for root, label in ((runs_dir, "$ATTRIBUTION_RUNS_DIR/"), (data_dir, "")):
            for form in (Path(root).absolute(), _resolved(Path(root))):
                roots.setdefault(str(form).rstrip("/") + "/", label)
        # longest first: a runs directory inside the data directory keeps its own label
        self._roots = sorted(roots.items(), key=lambda item: -len(item[0]))

    def text(self, text: str) -> str:
        for root, label in self._roots:
            text = text.replace(root, label)
        return _ABSOLUTE.sub(self._other, text)

    @staticmethod
    def _other(match: re.Match[str]) -> str:
        path = match.group(0)
        if not _top_level_dir(path):
            return path
        return ".../" + path.rstrip("/").rsplit("/", 1)[-1]

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value) if "/" in value else value
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self(item) for item in value]
        return value


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()
