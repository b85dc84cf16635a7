"""A real HTTP(S) server on 127.0.0.1 that records every request: the webhook receiver of tests.

    with HttpSink() as sink:
        ...  # point a webhook at sink.url
        sink.wait_for(1, timeout=10)
        assert sink.requests[0].json["status"] == "firing"

`respond_with(500, 500)` makes the next requests get those statuses (then the default again).
A `responder` decides the whole answer instead: it gets each request and returns (status, body,
content type), for services whose clients read the answer (Telegram's JSON, Slack's "ok").
As an HTTPS proxy (`proxy_url: sink.url`), the sink answers CONNECT itself and records the
requests tunnelled to any host (the client skips verifying the sink's certificate for it).
With `tls=True` the sink serves HTTPS with a certificate from a throwaway CA (`ca_file`), and with
`client_ca=True` it also requires a client certificate signed by that CA (see `client_cert_file`).
"""

from __future__ import annotations

import json
import ssl
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme

from tests.support.processes import wait_for_records


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: Message  # case-insensitive lookups: headers["content-type"]
    body: bytes
    json: Any  # the parsed body, None when it is not JSON
    received_at: float  # time.time()
    client_cert_subject: str | None  # CN of the client certificate, when one was presented
    client_port: int  # the same port on two requests means one kept-alive connection


class HttpSink:
    def __init__(
        self,
        statuses: Iterable[int] = (),
        default_status: int = 200,
        tls: bool = False,
        client_ca: bool = False,
        responder: Callable[[ReceivedRequest], tuple[int, bytes, str]] | None = None,
        keep_alive: bool = True,
    ) -> None:
        """`keep_alive=False` answers every request with `Connection: close`: a client then never
        reuses a connection the server may be closing, which Go's HTTP client answers by sending
        the request again (a second request the test did not ask for)."""
        self.default_status = default_status
        self.responder = responder
        self.keep_alive = keep_alive
        self._statuses: deque[int] = deque(statuses)
        self._requests: list[ReceivedRequest] = []
        self._cond = threading.Condition()
        self._intercepts: dict[str, ssl.SSLContext] = {}  # the hosts of CONNECT requests
        self._dir = tempfile.TemporaryDirectory(prefix="http-sink-")
        self.ca_file = self.client_cert_file = self.client_key_file = ""  # set for TLS sinks
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        scheme = "http"
        if tls:
            scheme = "https"
            self._server.socket = self._tls(client_ca).wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self.url = f"{scheme}://127.0.0.1:{self.port}/"
        # A short poll interval keeps shutdown (which waits for the next poll) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="http-sink", daemon=True
        )

    def _tls(self, client_ca: bool) -> ssl.SSLContext:
        ca = trustme.CA()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
        self.ca_file = str(Path(self._dir.name) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        if client_ca:
            ca.configure_trust(ctx)
            ctx.verify_mode = ssl.CERT_REQUIRED
            client = ca.issue_cert("alerter-client", common_name="alerter-client")
            self.client_cert_file = str(Path(self._dir.name) / "client.pem")
            self.client_key_file = str(Path(self._dir.name) / "client.key")
            client.cert_chain_pems[0].write_to_path(self.client_cert_file)
            client.private_key_pem.write_to_path(self.client_key_file)
        return ctx

    def _interception(self, host: str) -> ssl.SSLContext:
        """The server side of an intercepted HTTPS connection to `host` (see do_CONNECT)."""
        with self._cond:
            if host not in self._intercepts:
                ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                trustme.CA().issue_cert(host).configure_cert(ctx)
                self._intercepts[host] = ctx
            return self._intercepts[host]

    def __enter__(self) -> HttpSink:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._dir.cleanup()

    def respond_with(self, *statuses: int) -> None:
        """Answer the next requests with these statuses, in order; then `default_status`."""
        with self._cond:
            self._statuses.extend(statuses)

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._cond:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float) -> list[ReceivedRequest]:
        """Block until at least `count` requests arrived; fail the test at the deadline."""
        return wait_for_records(
            self._cond,
            self._requests,
            count,
            timeout,
            "requests",
            lambda: f"{[(r.method, r.path) for r in self._requests]}",
        )

    def _record(self, request: ReceivedRequest) -> int:
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()
            return self._statuses.popleft() if self._statuses else self.default_status


def _handler_for(sink: HttpSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse can be observed

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                parsed = json.loads(body) if body else None
            except ValueError:
                parsed = None
            cert = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
            subject = dict(item[0] for item in cert["subject"]).get("commonName") if cert else None
            request = ReceivedRequest(
                self.command,
                self.path,
                self.headers,
                body,
                parsed,
                time.time(),
                subject,
                self.client_address[1],
            )
            status = sink._record(request)
            reply, content_type = f"status {status}".encode(), "text/plain"
            if sink.responder is not None:
                status, reply, content_type = sink.responder(request)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(reply)))
            if not sink.keep_alive:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(reply)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        def do_CONNECT(self) -> None:
            """A client using the sink as its HTTPS proxy: the sink takes the tunnelled TLS
            connection itself, with a certificate for the requested host from a throwaway CA,
            and records the requests inside it (the Host header names the host). Nothing is
            dialled: services with a fixed https:// URL can be tested without leaving the host."""
            self.send_response(200, "Connection established")
            self.end_headers()
            self.wfile.flush()
            host = self.path.rpartition(":")[0] or self.path
            self.connection = sink._interception(host).wrap_socket(self.connection, server_side=True)
            self.rfile = self.connection.makefile("rb", self.rbufsize)
            self.wfile = self.connection.makefile("wb")
            self.close_connection = False  # even after an HTTP/1.0 CONNECT (Python's clients)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet; the requests are recorded instead."""

    return Handler
