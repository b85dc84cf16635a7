"""The request body limit (--web.max-request-bytes's 4 MiB), enforced before any handler runs.

A WSGI layer in front of everything, so that the limit holds the same way for the ingest fast
path and for Flask, under gunicorn and under the embedded werkzeug server. A body announced with
a Content-Length over the limit is refused unread. A chunked body has no length up front: it is
read here, up to one byte past the limit; over it, the request is refused, and within it, the
handlers get the body with its Content-Length set. Reading only as far as the limit and parsing
what came (werkzeug's own max_content_length does this for chunked bodies) would answer a body
that was cut off: "malformed JSON" for a valid 5 MiB batch, or a 200 for a batch whose garbage
lies past the limit.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

import orjson

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_READ_SIZE = 64 * 1024


def too_large_message(limit: int) -> str:
    return f"request body is larger than alerter's limit of {limit} bytes; send alerts in smaller batches"


class BodyLimit:
    """WSGI middleware: 413 for a body over `limit` bytes, whether or not it has a length."""

    def __init__(self, app: WSGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH", "")
        if length.isdigit():
            if int(length) > self.limit:
                return self._too_large(start_response)
        elif "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = _read_at_most(environ["wsgi.input"], self.limit + 1)
            if len(body) > self.limit:
                return self._too_large(start_response)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            del environ["HTTP_TRANSFER_ENCODING"]
        return self.app(environ, start_response)

    def _too_large(self, start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = orjson.dumps(too_large_message(self.limit))
        # The rest of the body is never read, so the connection cannot carry another request.
        start_response(
            "413 Request Entity Too Large",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
            ],
        )
        return [body]


def _read_at_most(stream: BinaryIO, size: int) -> bytes:
    """Read until `size` bytes or the end: a dechunking stream returns one chunk per read."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        part = stream.read(min(remaining, _READ_SIZE))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)
