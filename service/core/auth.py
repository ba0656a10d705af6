"""API keys: their rules (checked at startup) and the check of every ``/v1`` request.

The check is pure ASGI middleware, so it runs before anything reads the body and before
routing: a request without a valid key gets 401 whether its body is broken JSON, too large
or its route does not exist. The 401 is sent without reading the body; uvicorn discards the
unread body and keeps the connection usable.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from attribution import ConfigError

from .errors import error_bytes

#: Shortest accepted API key.
MIN_KEY_LENGTH = 16
#: Characters a key may hold: printable ASCII without space (and without the comma that
#: separates keys in ``ATTRIBUTION_API_KEYS``).
KEY_CHARACTERS = "printable ASCII (! to ~, no space, no comma)"

MISSING = ("missing or invalid API key: send the header 'Authorization: Bearer <key>' with "
           "one of the keys in ATTRIBUTION_API_KEYS")
INVALID = "invalid API key"
PROTECTED = "/v1"


def check_keys(keys: Sequence[str]) -> None:
    """Raise :class:`attribution.ConfigError` (one line, never echoing a key) unless every
    key is at least :data:`MIN_KEY_LENGTH` characters of printable ASCII.

    A key outside ASCII could never match (HTTP headers are bytes, read as Latin-1), and a
    short key can be guessed.
    """
    for n, key in enumerate(keys, 1):
        where = f"ATTRIBUTION_API_KEYS: key {n} of {len(keys)}"
        bad = next((ch for ch in key if not ("!" <= ch <= "~") or ch == ","), None)
        if bad is not None:
            raise ConfigError(f"{where} holds the character U+{ord(bad):04X}; keys are "
                              f"{KEY_CHARACTERS}")
        if len(key) < MIN_KEY_LENGTH:
            raise ConfigError(f"{where} is {len(key)} characters long; keys need at least "
                              f"{MIN_KEY_LENGTH} (e.g. python -c 'import secrets; "
                              "print(secrets.token_urlsafe(24))')")


def key_matches(sent: bytes, keys: Sequence[bytes]) -> bool:
    """Whether ``sent`` is one of ``keys``, compared against every key so that the time
    taken does not tell which one nearly matched."""
    matched = False
    for key in keys:
        matched |= secrets.compare_digest(sent, key)
    return matched


def bearer_token(header: bytes | None) -> bytes | None:
    """The token of ``Authorization: Bearer <token>`` (scheme case-insensitive), else None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(b" ")
    if scheme.lower() != b"bearer" or not token.strip():
        return None
    return token.strip()


class ApiKeyAuth:
    """401 for any request under ``/v1`` without ``Authorization: Bearer <one of keys>``.

    With no keys (only possible with the explicit insecure flag) every request passes.
    """

    def __init__(self, app: ASGIApp, keys: Sequence[str]) -> None:
        self.app = app
        self.keys = [key.encode("ascii") for key in keys]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys or not _protected(scope["path"]):
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope.get("headers") or () if k == b"authorization"), None)
        token = bearer_token(header)
        if token is not None and key_matches(token, self.keys):
            await self.app(scope, receive, send)
            return
        payload = error_bytes("unauthorized", MISSING if token is None else INVALID,
                              field="Authorization")
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode()),
                                (b"www-authenticate", b"Bearer")]})
        await send({"type": "http.response.body", "body": payload})


def _protected(path: str) -> bool:
    return path == PROTECTED or path.startswith(PROTECTED + "/")
