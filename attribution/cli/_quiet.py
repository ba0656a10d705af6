"""``attribution run --quiet``: the output of a scheduled job (cron mails whatever it prints).

Quiet, a run prints the run directory on stdout (one line a script can read) and, on
stderr, its errors, its warnings (those the summaries would print on stdout too) and the
lines of an incremental night (what it did; a watermark held back). Left out: the summaries,
the stage lines and the notes, all of which the run directory keeps (``manifest.json``
``notes``, the report). A decision (new-user report 17, M4): a warning is never held back,
a note is said once in the manifest."""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

__all__ = ["is_quiet", "takes_quiet"]

_QUIET: list[bool] = [False]

#: how the lines a quiet run still prints from its summaries start
_KEPT = ("warning", "WARNING")


def is_quiet() -> bool:
    """Whether the command running is ``--quiet``."""
    return _QUIET[-1]


class _WithoutNotes:
    """stderr less the notes (each written whole, one write per message)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        if text.lstrip().startswith(("note:", "NOTE:", "Note:")):
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def _quiet_output() -> Iterator[None]:
    out, err = sys.stdout, sys.stderr
    held = io.StringIO()
    sys.stdout, sys.stderr = held, _WithoutNotes(err)
    _QUIET.append(True)
    try:
        yield
    finally:
        _QUIET.pop()
        sys.stdout, sys.stderr = out, err
        for line in held.getvalue().splitlines():
            if line.lstrip().startswith(_KEPT):
                err.write(line.strip() + "\n")
        err.flush()


def takes_quiet(command: Callable[..., Path | None]) -> Callable[..., None]:
    """Give ``command`` (which returns the run directory it wrote) a ``--quiet`` flag."""

    @functools.wraps(command)
    def quietly(*args: Any, quiet: bool = False, **kwargs: Any) -> None:
        if not quiet:
            command(*args, **kwargs)
            return
        with _quiet_output():
            path = command(*args, **kwargs)
        if path is not None:
            typer.echo(str(path))

    signature = inspect.signature(command, eval_str=True)
    flag = inspect.Parameter(
        "quiet",
        inspect.Parameter.KEYWORD_ONLY,
        default=False,
        annotation=Annotated[
            bool,
            typer.Option(
                "--quiet",
                help="For a scheduled job: print only the run directory (stdout), errors, "
                "warnings and an incremental night's line (stderr); the summaries and notes "
                "stay in the run directory",
            ),
        ],
    )
    params = list(signature.parameters.values())
    at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
    params.insert(at, flag)
    quietly.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=params, return_annotation=None
    )
    return quietly
