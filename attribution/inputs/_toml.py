"""Reading the TOML and JSON files a user writes (run config, plan, channel and survey rules,
a truth file). A UTF-8 byte-order mark, as Windows tools write one, is read past, as in CSVs."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from attribution.exceptions import ConfigError

__all__ = ["read_json", "read_toml"]


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """The TOML file at ``path`` as a dict; a :class:`ConfigError` naming ``what`` the file
    is (``"config"``, ``"plan"``, ...) and its path when it cannot be read or parsed.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from attribution.inputs._toml import read_toml
    >>> plan = pathlib.Path(tempfile.mkdtemp()) / "plan.toml"
    >>> _ = plan.write_text("[budget]\\nlinkedin = 1000\\n")
    >>> read_toml(plan, "plan")
    {'budget': {'linkedin': 1000}}
    >>> read_toml(plan.with_name("nope.toml"), "plan")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    attribution.exceptions.ConfigError: cannot read plan '.../nope.toml': ...
    """
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read {what} '{path}': not UTF-8 text: {exc.reason} at "
                          f"byte offset {exc.start:,}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {what} '{path}': {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"cannot read {what} '{path}': not valid TOML: {exc} (text goes in quotes, "
            'name = "Q1 plan"; amounts are plain numbers, 750000 or 750_000, not 750k, '
            "$750,000 or 750,000)"
        ) from exc


def read_json(path: str | Path, what: str) -> Any:
    """The JSON file at ``path``, a UTF-8 byte-order mark read past; a :class:`ConfigError`
    naming ``what`` the file is and its path when it cannot be read or parsed."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read {what} '{path}': not UTF-8 text: {exc.reason} at "
                          f"byte offset {exc.start:,}") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read {what} '{path}': {exc}") from exc
