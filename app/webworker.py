"""The web tier's gunicorn worker: gunicorn's threaded worker, minus its hand-offs while a
kept-alive connection is busy.

gunicorn's gthread worker serves each request of a kept-alive connection by a round trip through
its main thread: the poller sees the socket readable, a pool thread serves the request, and a
callback over a pipe puts the socket back into the poller. For Prometheus, which keeps one
connection per Alertmanager and sends its batches back to back, that round trip was a tenth of
the web tier's CPU per request (bench/ingest, docs/performance.md). Here the thread that served a
request waits a moment for the next one on the same connection and serves it itself; the
connection goes back to the poller (gthread's own path) when it falls quiet or when another
connection is waiting for a thread, so a busy client cannot keep a thread from the others.
"""

from __future__ import annotations

import select
import threading
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

# How long a thread waits for the next request on the connection it just served. A client
# sending back to back has it on the wire well within this; a quiet one costs a thread this long.
NEXT_REQUEST_WAIT_MS = 2


class KeepServingWorker(ThreadWorker):
    """gthread, with a pool thread serving a kept-alive connection's next request itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Connections queued for a pool thread: one waiting means a busy thread lets go.
        self._queued = 0
        self._queued_lock = threading.Lock()

    def enqueue_req(self, conn: Any) -> None:
        with self._queued_lock:
            self._queued += 1
        super().enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        with self._queued_lock:
            self._queued -= 1
        result = super().handle(conn)
        while result is True and self.alive and not self._queued and self._next_request_ready(conn):
            result = super().handle(conn)
        return result

    @staticmethod
    def _next_request_ready(conn: Any) -> bool:
        """Whether the connection's next request has (started to) come in: bytes the parser read
        ahead, bytes TLS decrypted ahead, or bytes on the socket within the wait. (A request
        served returns True only over HTTP/1.x: an HTTP/2 connection never gets here.)"""
        if conn.parser.unreader.buf.getvalue():
            return True
        pending = getattr(conn.sock, "pending", None)
        if pending is not None and pending():
            return True
        poller = select.poll()
        poller.register(conn.sock, select.POLLIN)
        return bool(poller.poll(NEXT_REQUEST_WAIT_MS))
