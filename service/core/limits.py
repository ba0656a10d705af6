"""Request body size limit (413), enforced before the body is parsed.

A declared ``Content-Length`` above the limit is refused without reading the body; a body
sent without one (chunked) is counted as it streams and refused once it passes the limit.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_bytes

#: Bodies declared up to this size are read and dropped before the 413; larger ones are not.
DRAIN_LIMIT = 64 * 1024 * 1024


def too_large_message(limit: int) -> str:
    return (f"request body is larger than the limit of {limit:,} bytes "
            "(ATTRIBUTION_MAX_BODY_BYTES): send fewer journeys or touches per request, or "
            "have the limit raised")


class BodySizeLimit:
    """Pure ASGI middleware: 413 for request bodies above ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await send_error(send, 400, "bad_request", "Content-Length is not a number",
                                  field="Content-Length")
                return
            if length > self.max_bytes:
                drained = length <= DRAIN_LIMIT
                if drained:
                    # read and drop the body first: a server that answers and closes while
                    # the client is still sending makes the client see a reset, not the 413;
                    # with the body read, the connection stays usable for the next request
                    await drain_body(receive)
                await send_error(send, 413, "payload_too_large",
                                  too_large_message(self.max_bytes), close=not drained)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI re-raises HTTPException from body reading: the 413 handler answers
                    raise HTTPException(413, too_large_message(self.max_bytes))
            return message

        await self.app(scope, limited, send)


async def drain_body(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return


async def send_error(send: Send, status: int, type: str, message: str,
                      close: bool = True, field: str = "body") -> None:
    body = error_bytes(type, message, field=field)
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status,
                "headers": headers + ([(b"connection", b"close")] if close else [])})
    await send({"type": "http.response.body", "body": body})
