"""The request side of `--web.config.file`: a WSGI layer in front of every route alerter serves
(API, UI, health, readiness, reload, metrics), as the toolkit wraps Alertmanager's whole handler.

For every request it: re-reads the file when it changed (a file broken since start answers 500,
as the toolkit does, and is logged); applies `rate_limit` (429); checks `client_allowed_sans`
against the client certificate (403: the toolkit ends the TLS handshake instead, which Python's
ssl cannot do on SANs); adds the configured response headers; and, when `basic_auth_users` is
set, answers 401 with `WWW-Authenticate: Basic` unless the credentials match a bcrypt hash.
Verdicts are cached per (user, hash, password), as the toolkit caches them, because bcrypt costs
tens of milliseconds by design and Prometheus authenticates every request.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import bcrypt

from app.webconfig.model import WebConfig, WebConfigError, read_web_config

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# Compared against for an unknown user, so that timing does not tell which users exist.
_FAKE_HASH = bcrypt.hashpw(b"not a password of anyone", bcrypt.gensalt(rounds=10))
_CACHE_LIMIT = 1024


class _TokenBucket:
    """golang.org/x/time/rate's limiter with Allow(): one token per `interval`, `burst` at most."""

    def __init__(self, interval: float, burst: int) -> None:
        self.interval, self.burst = interval, burst
        self.tokens = float(burst)
        self.at = time.monotonic()
        self.lock = threading.Lock()

    def allow(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.at) / self.interval)
            self.at = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


def _peer_sans(environ: dict[str, Any]) -> list[str] | None:
    """The client certificate's SAN values, or None when there is no TLS client certificate."""
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    getpeercert = getattr(sock, "getpeercert", None)
    cert = getpeercert() if getpeercert is not None else None
    if not cert:
        return None
    return [str(value) for _, value in cert.get("subjectAltName", ())]


def _plain(start_response: StartResponse, status: str, headers: list[tuple[str, str]]) -> list[bytes]:
    body = (status.split(" ", 1)[1] + "\n").encode()
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *headers],
    )
    return [body]


class WebGuard:
    def __init__(self, app: WSGIApp, config: WebConfig) -> None:
        self.app = app
        self.path = config.path
        self._config: WebConfig | None = config
        self._stamp = self._file_stamp()
        self._lock = threading.Lock()
        self._verdicts: dict[tuple[str, bytes, str], bool] = {}
        self._bucket = self._limiter(config)

    @staticmethod
    def _limiter(config: WebConfig) -> _TokenBucket | None:
        return _TokenBucket(config.rate_interval, config.rate_burst) if config.rate_interval > 0 else None

    def _file_stamp(self) -> tuple[int, int]:
        try:
            st = os.stat(self.path)
        except OSError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size)

    def current(self) -> WebConfig | None:
        """The file's configuration as it is now; None when it no longer loads."""
        stamp = self._file_stamp()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    self._reload(stamp)
        return self._config

    def _reload(self, stamp: tuple[int, int]) -> None:
        try:
            config: WebConfig | None = read_web_config(self.path)
        except WebConfigError as err:
            log.error("unable to parse the web configuration", extra={"fields": {"err": str(err)}})
            config = None
        if config is not None:
            self._bucket = self._limiter(config)
        self._config, self._stamp = config, stamp
        self._verdicts.clear()

    def _authorized(self, config: WebConfig, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        if not sep:
            return False
        hashed = config.users.get(user)
        key = (user, hashed or _FAKE_HASH, password)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = bcrypt.checkpw(password.encode(), hashed or _FAKE_HASH) and hashed is not None
            if len(self._verdicts) >= _CACHE_LIMIT:
                self._verdicts.clear()
            self._verdicts[key] = verdict
        return verdict

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        config = self.current()
        if config is None:
            return _plain(start_response, "500 Internal Server Error", [])
        if self._bucket is not None and not self._bucket.allow():
            return _plain(start_response, "429 Too Many Requests", [])
        extra = list(config.headers.items())
        if config.tls.client_allowed_sans is not None:
            sans = _peer_sans(environ) or []
            if not any(s in config.tls.client_allowed_sans for s in sans):
                return _plain(start_response, "403 Forbidden", [*extra, ("Connection", "close")])
        if config.users and not self._authorized(config, environ.get("HTTP_AUTHORIZATION", "")):
            return _plain(start_response, "401 Unauthorized", [*extra, ("WWW-Authenticate", "Basic")])
        if not extra:
            return self.app(environ, start_response)

        def with_headers(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            names = {k.lower() for k, _ in extra}
            kept = [(k, v) for k, v in headers if k.lower() not in names]
            return start_response(status, kept + extra, *exc)

        return self.app(environ, with_headers)
