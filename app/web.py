"""The Flask application: API v2 under `--web.route-prefix`, alerter's own read API and the web UI
beside it, health, readiness, reload, metrics."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from urllib.parse import urlparse

import redis
from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app import metrics
from app.api.alerter import bp as api_alerter
from app.api.ingest import IngestFastPath, redis_down_message
from app.api.v2 import bp as api_v2
from app.api.v2 import error_response
from app.runtime import Runtime
from app.ui import bp as ui

log = logging.getLogger(__name__)


def route_prefix(runtime: Runtime) -> str:
    """`--web.route-prefix`, defaulting to the path of `--web.external-url` as in Alertmanager."""
    prefix = runtime.settings.route_prefix or urlparse(runtime.settings.external_url).path
    return "/" + prefix.strip("/") if prefix.strip("/") else ""


def create_app(runtime: Runtime, on_reload: Callable[[], str | None] | None = None) -> Flask:
    """Build the WSGI app. `on_reload` replaces the default reload (used under gunicorn, where
    every worker process must reload, not only the one that took the request)."""
    app = Flask(__name__)
    app.config["RUNTIME"] = runtime
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.max_request_bytes
    prefix = route_prefix(runtime)
    app.register_blueprint(api_v2, url_prefix=f"{prefix}/api/v2")
    app.register_blueprint(api_alerter, url_prefix=f"{prefix}/api/alerter/v1")
    app.register_blueprint(ui, url_prefix=prefix or None)
    reload = on_reload or runtime.reload
    cluster_state = metrics.ClusterStateCollector(runtime)

    @app.get(f"{prefix}/-/healthy")
    def healthy() -> Response:
        return Response("OK", mimetype="text/plain")

    @app.get(f"{prefix}/-/ready")
    def ready() -> Response:
        try:
            runtime.client.ping()
        except redis.RedisError as err:
            return Response(f"not ready: Redis unreachable ({err})", status=503, mimetype="text/plain")
        return Response("OK", mimetype="text/plain")

    @app.post(f"{prefix}/-/reload")
    def reload_config() -> Response:
        err = reload()
        if err:
            return Response(f"failed to reload config: {err}", status=500, mimetype="text/plain")
        return Response("", status=200)

    @app.get(f"{prefix}/metrics")
    def prom_metrics() -> Response:
        return Response(metrics.exposition(cluster_state), mimetype=CONTENT_TYPE_LATEST)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_: RequestEntityTooLarge) -> Response:
        limit = runtime.settings.max_request_bytes
        return error_response(
            f"request body is larger than {limit} bytes; send alerts in smaller batches", 413
        )

    @app.errorhandler(redis.RedisError)
    def redis_down(err: redis.RedisError) -> Response:
        log.error("request failed: Redis unreachable", extra={"fields": {"err": str(err)}})
        return error_response(redis_down_message(err), 503)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Response:
        return error_response(err.description or err.name, err.code or 500)

    app.wsgi_app = IngestFastPath(app.wsgi_app, runtime, prefix)  # type: ignore[method-assign]
    return app


def reload_all_gunicorn_workers(runtime: Runtime) -> str | None:
    """Validate the config here, then have the gunicorn master (our parent) reload every worker."""
    err = runtime.reload()
    if err is None:
        os.kill(os.getppid(), signal.SIGHUP)
    return err
