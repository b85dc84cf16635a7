"""The web tier's worker: a pool thread serves a kept-alive connection's next request itself
while it comes at once and no other connection waits for a thread; settings are read once, the
Date header formatted once a second, a peer's forwarded-headers trust worked out once, and a
body read to its end not drained again."""

from __future__ import annotations

import email.utils
import io
import socket
import threading
import time
from collections.abc import Iterator
from ipaddress import ip_network
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn import util
from gunicorn.config import Config
from gunicorn.http import message
from gunicorn.http.message import Request
from gunicorn.http.unreader import IterUnreader
from gunicorn.http.wsgi import Response
from gunicorn.workers.gthread import ThreadWorker

from app import webworker
from app.webworker import KeepServingWorker, SettingsAsRead, http_date, ip_in_allow_list


class _Worker(KeepServingWorker):
    """The worker without gunicorn's process setup: only what `handle` reads."""

    def __init__(self) -> None:  # no super().__init__: that wants an arbiter and sockets
        self._queued = 1  # the connection under test, handed to the pool
        self._queued_lock = threading.Lock()
        self.alive = True


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


def _conn(sock: socket.socket, read_ahead: bytes = b"") -> Any:
    return SimpleNamespace(
        sock=sock, parser=SimpleNamespace(unreader=SimpleNamespace(buf=io.BytesIO(read_ahead)))
    )


def _serving(
    monkeypatch: pytest.MonkeyPatch, results: list[Any], client: socket.socket | None = None
) -> list[int]:
    """gthread's handle() replaced: each call serves one request, answers the next result, and
    (with a client) has the client send its next request at once."""
    served: list[int] = []

    def handle(_self: Any, _conn: Any) -> Any:
        served.append(1)
        result = results[len(served) - 1]
        if client is not None and len(served) < len(results):
            client.send(b"GET / HTTP/1.1\r\n\r\n")
        return result

    monkeypatch.setattr(ThreadWorker, "handle", handle)
    return served


def test_requests_that_follow_at_once_are_served_by_the_same_thread(
    monkeypatch: pytest.MonkeyPatch, pair: tuple[socket.socket, socket.socket]
) -> None:
    server, client = pair
    served = _serving(monkeypatch, [True, True, True, False], client)
    worker = _Worker()
    assert worker.handle(_conn(server)) is False  # the last request closed the connection
    assert len(served) == 4
    assert worker._queued == 0


def test_a_quiet_connection_goes_back_to_the_poller(
    monkeypatch: pytest.MonkeyPatch, pair: tuple[socket.socket, socket.socket]
) -> None:
    server, _ = pair
    served = _serving(monkeypatch, [True, True])
    assert _Worker().handle(_conn(server)) is True  # kept alive: gthread's poller takes it
    assert len(served) == 1


def test_a_request_the_parser_read_ahead_is_served_without_waiting(
    monkeypatch: pytest.MonkeyPatch, pair: tuple[socket.socket, socket.socket]
) -> None:
    server, _ = pair
    served = _serving(monkeypatch, [True, False])
    assert _Worker().handle(_conn(server, read_ahead=b"GET / HTTP/1.1\r\n")) is False
    assert len(served) == 2


@pytest.mark.parametrize("why", ["another connection waits for a thread", "the worker is stopping"])
def test_the_connection_goes_back_to_the_poller_though_its_next_request_is_there(
    monkeypatch: pytest.MonkeyPatch, pair: tuple[socket.socket, socket.socket], why: str
) -> None:
    server, client = pair
    served = _serving(monkeypatch, [True, True], client)
    worker = _Worker()
    if why == "another connection waits for a thread":
        worker._queued += 1
    else:
        worker.alive = False
    assert worker.handle(_conn(server)) is True
    assert len(served) == 1


def test_settings_are_read_once_and_then_kept() -> None:
    cfg = Config()
    cfg.set("keepalive", 75)
    view = SettingsAsRead(cfg)
    assert view.keepalive == 75
    assert view.is_ssl == cfg.is_ssl  # a property, read as it is
    assert view.forwarded_allow_networks() == cfg.forwarded_allow_networks()  # a method, still called
    assert "keepalive" in vars(view)  # now a plain attribute: Config.__getattr__ is not called again
    with pytest.raises(AttributeError):
        view.no_such_setting  # noqa: B018
    assert getattr(view, "http_parser_missing", "auto") == "auto"  # gunicorn's getattr defaults work


def test_a_reloaded_config_reaches_the_new_workers() -> None:
    """A reload starts new workers with the master's new Config: each reads its own."""
    old, new = Config(), Config()
    old.set("keepalive", 75)
    new.set("keepalive", 5)
    assert SettingsAsRead(old).keepalive == 75
    assert SettingsAsRead(new).keepalive == 5


def test_the_date_header_is_the_current_seconds_across_a_second_boundary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(util, "http_date", http_date)
    req = SimpleNamespace(version=(1, 1), method="POST", should_close=lambda: False)
    for now in (1_700_000_000.0, 1_700_000_000.999, 1_700_000_001.0, 1_700_000_001.5, 1_700_000_003.2):
        monkeypatch.setattr(time, "time", lambda now=now: now)
        resp = Response(req, None, Config())
        resp.status, resp.status_code, resp.response_length = "200 OK", 200, 0
        assert f"Date: {email.utils.formatdate(int(now), usegmt=True)}\r\n" in resp.default_headers()
    assert http_date(1_600_000_000.0) == email.utils.formatdate(1_600_000_000.0, usegmt=True)


def test_a_worker_process_reads_settings_once_and_formats_the_date_once_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(util, "http_date", util.http_date)  # put back after the test
    monkeypatch.setattr(message, "_ip_in_allow_list", message._ip_in_allow_list)
    monkeypatch.setattr(ThreadWorker, "init_process", lambda self: None)
    worker = _Worker()
    worker.cfg = Config()
    worker.init_process()
    assert isinstance(worker.cfg, SettingsAsRead)
    assert util.http_date is http_date
    assert message._ip_in_allow_list is ip_in_allow_list


@pytest.mark.parametrize(
    ("ip", "allowed"),
    [
        ("127.0.0.1", "127.0.0.1,::1"),
        ("10.0.0.7", "127.0.0.1,::1"),
        ("10.0.0.7", "10.0.0.0/8"),
        ("::1", "127.0.0.1,::1"),
        ("2001:db8::1", "10.0.0.0/8,2001:db8::/32"),
        ("10.0.0.7", "*"),
        ("not an address", "127.0.0.1"),
    ],
)
def test_a_peer_s_forwarded_trust_is_gunicorn_s_and_worked_out_once(
    monkeypatch: pytest.MonkeyPatch, ip: str, allowed: str
) -> None:
    monkeypatch.setattr(webworker, "_peers_allowed", {})
    cfg = Config()
    cfg.set("forwarded_allow_ips", allowed)
    args = (ip, cfg.forwarded_allow_ips, cfg.forwarded_allow_networks())
    expected = webworker._gunicorn_ip_in_allow_list(*args)
    calls: list[str] = []

    def gunicorn_s(*a: Any) -> bool:
        calls.append(a[0])
        return expected

    monkeypatch.setattr(webworker, "_gunicorn_ip_in_allow_list", gunicorn_s)
    assert [ip_in_allow_list(*args) for _ in range(3)] == [expected] * 3
    assert calls == [ip]


def test_another_allow_list_is_asked_again_and_the_remembered_peers_are_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(webworker, "_peers_allowed", {})
    monkeypatch.setattr(webworker, "PEERS_REMEMBERED", 2)
    assert ip_in_allow_list("10.0.0.7", ["127.0.0.1"], [ip_network("127.0.0.1")]) is False
    assert ip_in_allow_list("10.0.0.7", ["10.0.0.0/8"], [ip_network("10.0.0.0/8")]) is True
    assert ip_in_allow_list("10.0.0.8", ["10.0.0.0/8"], [ip_network("10.0.0.0/8")]) is True
    assert len(webworker._peers_allowed) == 2


def _request(raw: bytes) -> Any:
    return Request(Config(), IterUnreader([raw]), ("127.0.0.1", 5555))


@pytest.mark.parametrize(
    ("raw", "read", "drained"),
    [
        (b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody", 4, False),  # read to its end
        (b"GET / HTTP/1.1\r\n\r\n", 0, False),  # no body: a length of 0
        (b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody", 2, True),  # half of it left
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\n", 4, True),
    ],
)
def test_only_a_body_left_unread_is_drained_before_the_connection_is_kept(
    monkeypatch: pytest.MonkeyPatch, raw: bytes, read: int, drained: bool
) -> None:
    calls: list[bool] = []

    def gthread_s(_self: Any, _conn: Any, keepalive: bool) -> bool:
        calls.append(keepalive)
        return keepalive

    monkeypatch.setattr(ThreadWorker, "_keepalive_after", gthread_s)
    req = _request(raw)
    req.body.read(read)
    conn = SimpleNamespace(parser=SimpleNamespace(mesg=req))
    assert _Worker()._keepalive_after(conn, True) is True
    assert calls == ([True] if drained else [])
    assert _Worker()._keepalive_after(conn, False) is False  # gthread's answer: closed
