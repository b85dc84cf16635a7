"""Alertmanager's HTTP series, from a WSGI layer in front of every request alerter answers.

Alertmanager instruments each of its routes: `alertmanager_http_request_duration_seconds`
{handler, method, code} for every route, `alertmanager_http_response_size_bytes` {handler,
method} for the routes outside API v2 (`alertmanager_http_requests_in_flight{method="get"}` is
kept by the GET limiter, app/weblimits.py, which sits behind this layer). The handler label is
the route's path without the route prefix, with the silence id of `/api/v2/silence/{silenceID}`
as a placeholder; methods are lower case, as Go's promhttp writes them. A WSGI layer (not Flask
hooks) sees the ingest fast path too, which answers POST /api/v2/alerts before Flask does; it
times a request until its response body has been handed to the server, as Go's handler returns
once it has written the body. Requests no route answers (404) are not timed: Alertmanager's
router does not time them either.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException

from app import metrics

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
HandlerOf = Callable[[dict[str, Any]], "str | None"]

# Flask's <converter:name> placeholders, and Alertmanager's names where they differ from ours.
_PLACEHOLDER = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")
_ALERTMANAGER_NAMES = {"sid": "silenceID"}
# Alertmanager measures response sizes only on the routes of its own router, not on API v2.
_API_V2 = "/api/v2/"


def flask_handlers(app: Flask, prefix: str) -> HandlerOf:
    """The handler label of a request to `app`: its route's path, as Alertmanager names it.

    The routes without placeholders (every request Prometheus and the health checks send) are
    looked up in a table; others go through Flask's URL map, as Flask itself will.
    """

    def label(rule: str) -> str:
        path = rule.removeprefix(prefix) or "/"
        return _PLACEHOLDER.sub(lambda m: "{" + _ALERTMANAGER_NAMES.get(m[1], m[1]) + "}", path)

    static = {
        (method, rule.rule): label(rule.rule)
        for rule in app.url_map.iter_rules()
        if not rule.arguments
        for method in rule.methods or ()
    }

    def handler_of(environ: dict[str, Any]) -> str | None:
        found = static.get((environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")))
        if found is not None:
            return found
        try:
            rule, _ = app.url_map.bind_to_environ(environ).match(return_rule=True)
        except HTTPException:  # no route, a wrong method, or a redirect to add a slash
            return None
        return label(rule.rule)

    return handler_of


class HTTPMetrics:
    """WSGI middleware recording Alertmanager's HTTP series for `app`; `handler_of` names a
    request's route (None: not one of ours, not timed)."""

    def __init__(self, app: WSGIApp, handler_of: HandlerOf) -> None:
        self.app = app
        self.handler_of = handler_of
        # The duration series by (handler, method, code), looked up once each: `.labels()` takes
        # the metric's lock and builds its key at every call. Bounded as the series themselves:
        # routes, their methods and the codes they answer.
        self._durations: dict[tuple[str, str, str], Any] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        method = environ["REQUEST_METHOD"].lower()
        handler = self.handler_of(environ)
        if handler is None:
            return self.app(environ, start_response)
        status = ["500"]  # an app that fails before it starts a response is answered 500

        def recording(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = status_line.split(" ", 1)[0]
            return start_response(status_line, headers, exc_info)

        body = self.app(environ, recording)
        sized = not handler.startswith(_API_V2)

        def done(size: int) -> None:
            key = (handler, method, status[0])
            series = self._durations.get(key)
            if series is None:
                series = self._durations[key] = metrics.http_request_duration.labels(*key)
            series.observe(time.perf_counter() - started)
            if sized:
                metrics.http_response_size.labels(handler, method).observe(size)

        return _Measured(body, done, sized)


class _Measured:
    """A response body that counts its bytes as the server takes them (when `sized`: API v2 has
    no size series), and reports when the server closes it (WSGI's signal that the response is
    over, sent or not)."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None], sized: bool) -> None:
        self.body = body
        self.done = done
        self.sized = sized
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        return self._counted() if self.sized else iter(self.body)

    def _counted(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.size += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.done(self.size)
