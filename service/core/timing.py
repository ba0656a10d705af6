"""``Server-Timing: app;dur=<ms>`` on every response: the time from the request reaching the
app to its response starting (key check, body read, parsing, scoring, rendering), without
the network. ``benchmarks/load_service.py`` reads it for a lone request's server time."""

from __future__ import annotations

import time

from starlette.types import Message, Receive, Scope, Send

from .asgi import HttpMiddleware


class ServerTiming(HttpMiddleware):
    """Pure ASGI middleware: adds the ``Server-Timing`` header (milliseconds)."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1e3
                headers = [*message.get("headers", ()),
                           (b"server-timing", f"app;dur={took:.3f}".encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed)
