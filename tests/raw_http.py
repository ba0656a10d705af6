"""HTTP/1.1 by hand, for tests that must see what happens on ONE keep-alive connection
(httpx would silently open a new one): ``raw_exchange(url, [request(...), ...])``."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit


def raw_exchange(url: str, requests: list[bytes]) -> list[tuple[int, dict[str, str], bytes]]:
    """Send ``requests`` one after the other on ONE connection; the responses."""
    parts = urlsplit(url)
    out = []
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        for request in requests:
            sock.sendall(request)
            status = int(reader.readline().split()[1])
            headers = {}
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            out.append((status, headers, reader.read(int(headers["content-length"]))))
    return out


def request(method: str, path: str, body: bytes = b"",
            headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: test", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def post(path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    return request("POST", path, body, headers)
