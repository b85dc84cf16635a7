"""POST /api/v2/alerts: the request every Prometheus server sends all day, and its fast path.

`ingest` is the whole of the endpoint's work. The Flask view calls it, and so does
`IngestFastPath`, a WSGI layer in front of Flask that answers the request with a Content-Length
(app.api.bodylimit, in front of it, has already refused a body over the limit and given a chunked
body its length) without building Flask's request and response objects: those cost a fifth of an
ingest request's CPU (bench/inprocess --what=ingest).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from itertools import repeat
from typing import Any

import orjson
import redis

from app import metrics
from app.alerts import Alert, SchemaError, UnreadableBody, parse_postable_alerts
from app.runtime import Runtime

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_STATUS_LINES = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}

# The series every request counts into, looked up once: `.labels()` takes the metric's lock and
# builds its key at every call.
_RECEIVED_FIRING = metrics.alerts_received.labels("v2", "firing")
_RECEIVED_RESOLVED = metrics.alerts_received.labels("v2", "resolved")
_INVALID = metrics.alerts_invalid.labels("v2")


def redis_down_message(err: redis.RedisError) -> str:
    """What a client is told when a request fails because Redis is out of reach."""
    return f"alerter cannot reach its Redis ({err}); nothing was stored, retry later"


def ingest(rt: Runtime, data: bytes) -> tuple[int, bytes]:
    """Validate and store one request body; returns the HTTP status and the JSON body ('' on 200).

    Alertmanager's rules: a body it cannot parse (not JSON, wrongly typed, a bad timestamp) is a
    400 and one that breaks the schema a 422, both with nothing stored; invalid alerts in a
    well-formed body are named in a 400 while the valid ones are stored.
    """
    now = time.time()
    try:
        alerts, errors = parse_postable_alerts(
            data, now, rt.config.global_.resolve_timeout, classic_names=rt.settings.classic_mode
        )
    except UnreadableBody as err:
        return 400, orjson.dumps(str(err))
    except SchemaError as err:
        # Alertmanager refuses such a body in its generated API layer, before counting alerts.
        return 422, orjson.dumps(f"request body does not match the API: {err}")
    # map() over the method, not a generator calling it: no frame resumed per alert.
    resolved = sum(map(Alert.resolved, alerts, repeat(now)))
    _RECEIVED_FIRING.inc(len(alerts) - resolved)
    _RECEIVED_RESOLVED.inc(resolved)
    if errors:
        _INVALID.inc(len(errors))
    try:
        rt.dispatcher.put_alerts(alerts, now)
    except redis.RedisError as err:
        return 503, orjson.dumps(redis_down_message(err))
    if errors:
        return 400, orjson.dumps("; ".join(errors))
    return 200, b""


class IngestFastPath:
    """WSGI middleware: POST {prefix}/api/v2/alerts with a Content-Length, straight to `ingest`."""

    def __init__(self, app: WSGIApp, rt: Runtime, prefix: str) -> None:
        self.app = app
        self.rt = rt
        self.path = f"{prefix}/api/v2/alerts"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH", "")
        if environ["PATH_INFO"] != self.path or environ["REQUEST_METHOD"] != "POST" or not length.isdigit():
            return self.app(environ, start_response)
        status, body = ingest(self.rt, environ["wsgi.input"].read(int(length)))
        headers = [("Content-Length", str(len(body)))]
        if body:
            headers.append(("Content-Type", "application/json"))
        start_response(_STATUS_LINES[status], headers)
        # No body part for an empty body: the server sends the head alone, one write less.
        return [body] if body else []
