"""Reading the TOML files a user writes (run config, plan, channel and survey rules)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from attribution.exceptions import ConfigError

__all__ = ["read_toml"]


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
        return tomllib.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read {what} '{path}': {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot read {what} '{path}': not valid TOML: {exc}") from exc
