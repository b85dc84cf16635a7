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
from prometheus_client.registry import Collector
from werkzeug.exceptions import HTTPException

from app import metrics
from app.api.alerter import bp as api_alerter
from app.api.bodylimit import BodyLimit
from app.api.ingest import IngestFastPath, redis_down_message
from app.api.v2 import bp as api_v2
from app.api.v2 import error_response
from app.httpmetrics import HTTPMetrics, flask_handlers
from app.runtime import Runtime
from app.ui import bp as ui
from app.webconfig import WebConfig, WebGuard
from app.weblimits import RequestLimits

log = logging.getLogger(__name__)


def route_prefix(runtime: Runtime) -> str:
    """`--web.route-prefix`, defaulting to the path of `--web.external-url` as in Alertmanager."""
    prefix = runtime.settings.route_prefix or urlparse(runtime.settings.external_url).path
    return "/" + prefix.strip("/") if prefix.strip("/") else ""


def create_app(
    runtime: Runtime,
    on_reload: Callable[[], str | None] | None = None,
    web_config: WebConfig | None = None,
    process_metrics: Collector | None = None,
) -> Flask:
    """Build the WSGI app. `on_reload` replaces the default reload (used under gunicorn, where
    every worker process must reload, not only the one that took the request). `web_config`
    (--web.config.file) guards every route, the ingest fast path included. `process_metrics`
    serves process_* in /metrics where prometheus_client's own do not describe the instance
    (under gunicorn: metrics.WebTierProcessCollector)."""
    app = Flask(__name__)
    app.config["RUNTIME"] = runtime
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
        collectors = [cluster_state] if process_metrics is None else [cluster_state, process_metrics]
        return Response(metrics.exposition(*collectors), mimetype=CONTENT_TYPE_LATEST)

    @app.errorhandler(redis.RedisError)
    def redis_down(err: redis.RedisError) -> Response:
        log.error("request failed: Redis unreachable", extra={"fields": {"err": str(err)}})
        return error_response(redis_down_message(err), 503)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Response:
        return error_response(err.description or err.name, err.code or 500)

    # The body limit first: the fast path and Flask only ever see a body within it. The request
    # limits sit inside the web configuration's guard, as Alertmanager's limit handler sits inside
    # the toolkit's: a request refused for its credentials never takes a GET slot.
    settings = runtime.settings
    fast_path = IngestFastPath(app.wsgi_app, runtime, prefix)
    limited = RequestLimits(
        BodyLimit(fast_path, settings.max_request_bytes),
        settings.web_timeout,
        settings.web_get_concurrency,
        unlimited=f"{prefix}/assets/",
    )
    app.wsgi_app = HTTPMetrics(limited, flask_handlers(app, prefix))  # type: ignore[method-assign]
    if web_config is not None:
        app.wsgi_app = WebGuard(app.wsgi_app, web_config)  # type: ignore[method-assign]
    return app


def reload_all_gunicorn_workers(runtime: Runtime) -> str | None:
    """Validate the config here, then have the gunicorn master (our parent) reload every worker."""
    err = runtime.reload()
    if err is None:
        os.kill(os.getppid(), signal.SIGHUP)
    return err
