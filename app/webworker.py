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

import email.utils
import select
import threading
import time
from typing import Any

from gunicorn import util
from gunicorn.http import message
from gunicorn.http.body import LengthReader
from gunicorn.workers.gthread import ThreadWorker

# How long a thread waits for the next request on the connection it just served. A client
# sending back to back has it on the wire well within this; a quiet one costs a thread this long.
NEXT_REQUEST_WAIT_MS = 2


class SettingsAsRead:
    """gunicorn's Config as a worker reads it: each setting looked up once, then a plain attribute.

    gunicorn reads its settings per request (about 25 `cfg.x` in its parser, its environ and its
    response for one POST), each through `Config.__getattr__`, which Python calls only after the
    ordinary lookup has failed, and `Setting.get()`; read once, 3.7 % fewer instructions per
    ingest request (callgrind, one worker, 64 alerts without times: 3,944k against 3,795k).
    Settings do not change in a worker: a reload (SIGHUP to the master) starts new workers, each
    with the master's new Config, so the value a worker read first is the value for its whole
    life. Properties (`is_ssl`) are kept as read; methods (`forwarded_allow_networks`) stay the
    Config's own, and still run at each call.
    """

    def __init__(self, cfg: Any) -> None:
        self._cfg = cfg

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._cfg, name)
        setattr(self, name, value)
        return value


_date: tuple[int, str] = (0, "")


def http_date(timestamp: float | None = None) -> str:
    """gunicorn's `util.http_date`, formatted once a second. gunicorn formats the Date header of
    every response with email.utils.formatdate; once a second, 0.5 % fewer instructions per ingest
    request (callgrind, as SettingsAsRead). The header has whole seconds, so the text of the
    current second is the header."""
    global _date
    if timestamp is not None:
        return email.utils.formatdate(timestamp, localtime=False, usegmt=True)
    second = int(time.time())
    if _date[0] != second:
        _date = (second, email.utils.formatdate(second, localtime=False, usegmt=True))
    return _date[1]


_gunicorn_ip_in_allow_list = message._ip_in_allow_list
# Answers by (peer address, allow list); past this many the answer is worked out each time.
PEERS_REMEMBERED = 4096
_peers_allowed: dict[tuple[str, tuple[str, ...]], bool] = {}


def ip_in_allow_list(ip: str, allow_list: list[str], networks: list[Any]) -> bool:
    """gunicorn's `_ip_in_allow_list`, its answer remembered. gunicorn asks at every request
    whether the peer may set the forwarded and scheme headers (forwarded_allow_ips): the peer's
    address parsed by ipaddress and tested against each network; remembered, 0.7 % fewer
    instructions per ingest request (callgrind, as SettingsAsRead). The answer depends on the
    address and the list only (`networks` is the list, parsed by the Config), so it is the same
    for every request of a peer."""
    key = (ip, tuple(allow_list))
    allowed = _peers_allowed.get(key)
    if allowed is None:
        allowed = _gunicorn_ip_in_allow_list(ip, allow_list, networks)
        if len(_peers_allowed) < PEERS_REMEMBERED:
            _peers_allowed[key] = allowed
    return allowed


class KeepServingWorker(ThreadWorker):
    """gthread, with a pool thread serving a kept-alive connection's next request itself."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Connections queued for a pool thread: one waiting means a busy thread lets go.
        self._queued = 0
        self._queued_lock = threading.Lock()

    def init_process(self) -> None:
        """In the worker process (after the fork): settings read once (SettingsAsRead), gunicorn's
        Date header formatted once a second (http_date) and the forwarded-headers trust of a peer
        worked out once (ip_in_allow_list). gunicorn's response and request call these helpers
        through their modules, with no way for a worker to give them others short of copying
        gthread's handle_request and gunicorn's parser, hence the module attributes replaced, in
        web worker processes only; each answers what gunicorn's own answers."""
        self.cfg = SettingsAsRead(self.cfg)
        util.http_date = http_date
        message._ip_in_allow_list = ip_in_allow_list
        super().init_process()

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

    def _keepalive_after(self, conn: Any, keepalive: bool) -> bool:
        """Whether the connection is kept: gthread first drains what the application left of the
        request body, under a deadline (a socket timeout set and put back: two system calls, and
        a read); skipped where there is nothing to drain, 0.4 % fewer instructions per ingest
        request (callgrind, as SettingsAsRead). A body of known length read to its end (every
        ingest request's) leaves nothing to drain."""
        if keepalive and _body_read(conn.parser.mesg):
            return True
        return bool(super()._keepalive_after(conn, keepalive))

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


def _body_read(req: Any) -> bool:
    """Whether the request's body had a length and was read to its end, with no error."""
    body = req.body
    reader = body.reader
    return type(reader) is LengthReader and reader.length == 0 and not body.buf.tell() and not body.failed
