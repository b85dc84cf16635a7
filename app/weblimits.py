"""--web.get-concurrency and --web.timeout: Alertmanager's limit handler, around every route.

Alertmanager wraps all of its handlers (API, UI, health, metrics) in a limiter that answers a
GET beyond the concurrency limit at once with 503, and, when --web.timeout is set, in Go's
http.TimeoutHandler, which answers 503 when the handler has not finished in time; the handler
itself runs on until it notices (here: until it returns), and its slot stays taken until then.
Both happen per process, as per Alertmanager instance: `alerter web` has a limit in each of its
gunicorn workers.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.wsgi import ClosingIterator

from app import metrics
from app.durations import format_go_duration

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def default_get_concurrency() -> int:
    """Alertmanager's limit when --web.get-concurrency is 0 or less: GOMAXPROCS (the CPUs this
    process may run on) or 8, whichever is larger."""
    return max(len(os.sched_getaffinity(0)), 8)


def _plain(start_response: Callable[..., Any], text: str, headers: list[tuple[str, str]]) -> list[bytes]:
    body = text.encode()
    start_response(
        "503 Service Unavailable",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *headers],
    )
    return [body]


class RequestLimits:
    """WSGI middleware: at most `get_concurrency` GET requests at once (0 or less: the default
    above), and with a `timeout` above 0 an answer within that time.

    GETs under `unlimited` (the web UI's static modules and stylesheet, `{prefix}/assets/`) take
    no slot. A page load fetches about a dozen of them at once, where Alertmanager's UI is one
    bundle: counted, they filled the default limit of 8 with the page's own requests, and the
    module refused with 503 left the page blank (its script never ran). They are files served
    from disk, not the API work the limit protects."""

    def __init__(self, app: WSGIApp, timeout: float, get_concurrency: int, unlimited: str = "") -> None:
        self.app = app
        self.timeout = timeout
        self.unlimited = unlimited
        self.limit = get_concurrency if get_concurrency > 0 else default_get_concurrency()
        self._slots = threading.BoundedSemaphore(self.limit)
        self._in_flight = metrics.http_requests_in_flight.labels("get")
        self._refused = metrics.http_concurrency_limit_exceeded.labels("get")

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.timeout > 0:
            return self._in_time(environ, start_response)
        return self._limited(environ, start_response)

    def _limited(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] != "GET" or (
            self.unlimited and environ.get("PATH_INFO", "").startswith(self.unlimited)
        ):
            return self.app(environ, start_response)
        if not self._slots.acquire(blocking=False):
            self._refused.inc()
            # Go's http.Error: its text, a newline, and the header that stops content sniffing.
            message = f"Limit of concurrent GET requests reached ({self.limit}), try again later.\n\n"
            return _plain(start_response, message, [("X-Content-Type-Options", "nosniff")])
        self._in_flight.inc()
        try:
            # The slot is held until the server has sent the body and closed the iterable.
            return ClosingIterator(self.app(environ, start_response), self._release)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        self._in_flight.dec()
        self._slots.release()

    def _in_time(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Run the request in a thread of its own and wait for it up to the timeout. Its
        response is buffered, as Go's TimeoutHandler buffers it, so that a late one is dropped."""
        done = threading.Event()
        outcome: dict[str, Any] = {}

        def run() -> None:
            head: list[Any] = []
            parts: list[bytes] = []

            def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                head[:] = [status, headers]
                return parts.append

            try:
                body = self._limited(environ, capture)
                try:
                    parts.extend(body)
                finally:
                    if hasattr(body, "close"):
                        body.close()
                outcome["response"] = (*head, parts)
            except BaseException as err:
                outcome["error"] = err
            finally:
                done.set()

        threading.Thread(target=run, daemon=True, name="request").start()
        if not done.wait(self.timeout):
            return _plain(
                start_response, f"Exceeded configured timeout of {format_go_duration(self.timeout)}.\n", []
            )
        if "error" in outcome:
            raise outcome["error"]
        status, headers, parts = outcome["response"]
        start_response(status, headers)
        return parts
