"""app.notify.transport against real local servers: redirects by Go's rules, proxy selection
(`proxy_url`, `no_proxy`, `proxy_from_environment`, CONNECT tunnels and their
`proxy_connect_header`), TLS settings, URL credentials, `http_headers`, oauth2 client
credentials against a local token endpoint, invalid URLs and timeouts, and the error messages
each one gives."""

from __future__ import annotations

import base64
import email
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson
import pytest

from app.config import Authorization, BasicAuth, Header, HTTPConfig, OAuth2, TLSConfig
from app.notify import transport
from app.notify.curlhttp import Answer
from app.notify.errors import NotifyError
from app.notify.transport import MAX_REDIRECTS, USER_AGENT, Response, _ProxyBypass, request
from tests.support.http_sink import HttpSink, ReceivedRequest

BODY = b'{"status":"firing"}'
# A request sent direct to TEST-NET-1 (RFC 5737): refused or unanswered, depending on the network.
DIRECT_FAILURE = "connection failed|timed out connecting"


def send(cfg: HTTPConfig, url: str, timeout: float = 5) -> Response:
    return request(cfg, "POST", url, BODY, {"Content-Type": "application/json"}, timeout, "webhook")


@pytest.fixture(autouse=True)
def fresh_transports() -> Iterator[None]:
    """Transports are cached per process; tests that change the environment need new ones."""
    transport._transport.cache_clear()
    transport._by_settings.clear()
    yield
    transport._transport.cache_clear()
    transport._by_settings.clear()


# --- redirects ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: Message
    body: bytes


class RedirectServer:
    """Answers `routes[path] = (status, location)`, and 200 for any other path; records all."""

    def __init__(self, routes: dict[str, tuple[int, str]]) -> None:
        self.routes = routes
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.seen.append(Seen(self.command, self.path, self.headers, body))
                status, location = server.routes.get(self.path, (200, ""))
                self.send_response(status)
                if location:
                    self.send_header("Location", location.format(port=server.port))
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: requests are recorded instead."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> RedirectServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


BEARER = HTTPConfig(authorization=Authorization("Bearer", "s3cret"))


@pytest.mark.parametrize("status", [307, 308])
def test_307_and_308_repeat_the_post_with_its_body_and_credentials(status: int) -> None:
    with RedirectServer({"/a": (status, "/b")}) as server:
        response = send(BEARER, server.url + "/a")
    assert response.status_code == 200
    assert [(s.method, s.path) for s in server.seen] == [("POST", "/a"), ("POST", "/b")]
    final = server.seen[1]
    assert final.body == BODY
    assert final.headers["Content-Type"] == "application/json"
    assert final.headers["Authorization"] == "Bearer s3cret"  # same host: kept
    assert final.headers["User-Agent"] == USER_AGENT


@pytest.mark.parametrize("status", [301, 302, 303])
def test_301_302_303_turn_the_post_into_a_get_without_body(status: int) -> None:
    with RedirectServer({"/a": (status, "http://127.0.0.1:{port}/b?x=1")}) as server:
        assert send(HTTPConfig(), server.url + "/a").status_code == 200
    assert [(s.method, s.path) for s in server.seen] == [("POST", "/a"), ("GET", "/b?x=1")]
    assert server.seen[1].body == b""
    assert server.seen[1].headers["Content-Type"] is None


def test_credentials_are_not_forwarded_to_another_host() -> None:
    # 127.0.0.1 and localhost are the same server but not the same host name, as in Go.
    with RedirectServer({"/a": (307, "http://localhost:{port}/b")}) as server:
        send(BEARER, server.url + "/a")
    assert server.seen[0].headers["Authorization"] == "Bearer s3cret"
    assert server.seen[1].path == "/b"
    assert server.seen[1].headers["Authorization"] is None
    assert server.seen[1].body == BODY


def test_url_credentials_follow_a_relative_redirect_only() -> None:
    routes = {"/a": (307, "/b"), "/b": (307, "http://127.0.0.1:{port}/c")}
    with RedirectServer(routes) as server:
        send(HTTPConfig(), f"http://u:p@127.0.0.1:{server.port}/a")
    expected = "Basic " + base64.b64encode(b"u:p").decode()
    assert [(s.path, s.headers["Authorization"]) for s in server.seen] == [
        ("/a", expected),
        ("/b", expected),
        ("/c", None),  # an absolute Location without userinfo carries none, as in Go
    ]


def test_redirect_loops_stop_after_ten_and_are_retryable() -> None:
    with (
        RedirectServer({"/loop": (302, "/loop")}) as server,
        pytest.raises(NotifyError, match="too many redirects; check the URL") as failure,
    ):
        send(HTTPConfig(), server.url + "/loop")
    assert failure.value.retryable
    assert len(server.seen) == MAX_REDIRECTS + 1
    assert "/loop" not in str(failure.value)


def test_redirects_are_returned_not_followed_when_disabled() -> None:
    with RedirectServer({"/a": (302, "/b")}) as server:
        response = send(HTTPConfig(follow_redirects=False), server.url + "/a")
    assert response.status_code == 302
    assert response.headers["Location"] == "/b"
    assert [s.path for s in server.seen] == ["/a"]


def test_redirect_to_an_unsupported_scheme_is_reported() -> None:
    with (
        RedirectServer({"/a": (302, "ftp://files.test/secret")}) as server,
        pytest.raises(NotifyError, match="redirected to a URL alerter cannot follow") as failure,
    ):
        send(HTTPConfig(), server.url + "/a")
    assert "secret" not in str(failure.value)


# --- URLs, credentials, responses ------------------------------------------------------------


def test_userinfo_in_the_url_becomes_basic_auth_and_stays_out_of_the_request_line() -> None:
    with HttpSink() as sink:
        send(HTTPConfig(), f"http://al%40ice:p%3Ass@127.0.0.1:{sink.port}/hook")
        request = sink.wait_for(1, timeout=5)[0]
        assert request.path == "/hook"
        assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"al@ice:p:ss").decode()

        # Configured credentials win over the URL's, as in Go's client.
        configured = HTTPConfig(basic_auth=BasicAuth(username="u", password="p"))
        send(configured, f"http://x:y@127.0.0.1:{sink.port}/hook")
        assert sink.wait_for(2, timeout=5)[1].headers["Authorization"] == "Basic dTpw"


@pytest.mark.parametrize("url", ["notaurl", "ftp://files.test/x", "http:///path-only", "http://[::1/x"])
def test_unusable_urls_are_permanent_errors(url: str) -> None:
    with pytest.raises(NotifyError, match=r"the URL is not valid .*check url or url_file") as failure:
        send(HTTPConfig(), url)
    assert not failure.value.retryable


def test_a_line_break_in_a_credential_is_refused_without_quoting_it(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("abc\ndef")
    cfg = HTTPConfig(authorization=Authorization("Bearer", "", str(token)))
    with HttpSink() as sink, pytest.raises(NotifyError, match="header value is not valid") as failure:
        send(cfg, sink.url)
    assert failure.value.retryable  # the file can be fixed without a reload
    assert "abc" not in str(failure.value)


def test_response_text_uses_the_declared_charset() -> None:
    def response(header_lines: list[bytes], content: bytes) -> Response:
        return Response(400, Answer(400, header_lines, content), content)

    latin = [b"HTTP/1.1 400 Bad Request\r\n", b"Content-Type: text/plain; charset=latin-1\r\n"]
    assert response(latin, "café".encode("latin-1")).text == "café"
    assert response([], b"\xff ok").text == "\ufffd ok"
    assert response([b"Content-Type: text/plain; charset=klingon\r\n"], "é".encode()).text == "é"


def test_a_silent_receiver_times_out_as_retryable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts (backlog), never answers
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
        with pytest.raises(NotifyError, match="timed out waiting for the response") as failure:
            send(HTTPConfig(), url, timeout=0.3)
    assert failure.value.retryable


def test_transports_are_shared_per_setup_and_process() -> None:
    plain = transport.transport_for(HTTPConfig())
    assert transport.transport_for(HTTPConfig(basic_auth=BasicAuth(username="u"))) is plain
    assert transport.transport_for(HTTPConfig(tls_config=TLSConfig(server_name="x"))) is not plain
    proxied = transport.transport_for(HTTPConfig(proxy_url="http://proxy.test:3128"))
    assert proxied is not plain
    connect = HTTPConfig(proxy_url="http://proxy.test:3128", proxy_connect_header={"X-P": ["a"]})
    assert transport.transport_for(connect) is not proxied


def test_a_forked_child_builds_its_own_transports() -> None:
    parent = transport.transport_for(HTTPConfig())
    transport._forget_in_child()  # what os.register_at_fork runs in a forked child
    assert transport.transport_for(HTTPConfig()) is not parent


def test_threads_asking_for_a_new_transport_at_once_build_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's first sends come on several threads at once; the transport (its SSL context
    loads the CA bundle) is built by the first of them, the others wait for it."""
    built: list[object] = []
    real = transport._Transport

    def slow(*args: Any) -> transport._Transport:
        built.append(args)
        threading.Event().wait(0.05)  # long enough for every thread to ask meanwhile
        return real(*args)

    monkeypatch.setattr(transport, "_Transport", slow)
    got: list[transport._Transport] = []
    threads = [
        threading.Thread(target=lambda: got.append(transport.transport_for(HTTPConfig()))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
    assert len(got) == 8 and all(t is got[0] for t in got)


# --- proxies ---------------------------------------------------------------------------------


def test_no_proxy_follows_gos_httpproxy_rules() -> None:
    bypass = _ProxyBypass("example.com, .sub.test, *.wild.test, 10.0.0.0/8, 192.168.1.1, api.test:8443, ::2")
    direct = [
        ("example.com", 80),
        ("www.example.com", 443),
        ("a.sub.test", 80),
        ("a.wild.test", 80),
        ("10.1.2.3", 80),
        ("192.168.1.1", 9999),
        ("api.test", 8443),
        ("[::2]", 80),
        ("localhost", 80),  # never proxied once no_proxy applies
        ("127.0.0.5", 80),
        ("[::1]", 80),
    ]
    proxied = [
        ("notexample.com", 80),
        ("sub.test", 80),  # a leading dot: subdomains only
        ("wild.test", 80),
        ("11.0.0.1", 80),
        ("192.168.1.2", 80),
        ("api.test", 443),
        ("[::3]", 80),
    ]
    assert [h for h, p in direct if not bypass.bypasses(h, p)] == []
    assert [h for h, p in proxied if bypass.bypasses(h, p)] == []
    assert _ProxyBypass("*").bypasses("anything.test", 80)
    assert not _ProxyBypass("bad/cidr, :80, ").bypasses("anything.test", 80)


def test_proxy_url_without_no_proxy_proxies_even_loopback_with_proxy_credentials() -> None:
    with HttpSink() as proxy:
        auth_proxy = f"http://pu:pp@127.0.0.1:{proxy.port}"
        send(HTTPConfig(proxy_url=auth_proxy), "http://127.0.0.1:1/hook?t=1")
        request = proxy.wait_for(1, timeout=5)[0]
    assert request.path == "http://127.0.0.1:1/hook?t=1"
    assert request.headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"pu:pp").decode()
    assert request.body == BODY


def test_no_proxy_sends_matching_and_loopback_hosts_direct() -> None:
    with HttpSink() as proxy, HttpSink() as receiver:
        cfg = HTTPConfig(proxy_url=proxy.url, no_proxy="192.0.2.0/24")
        send(cfg, receiver.url + "loopback")  # loopback: direct once no_proxy is set
        assert receiver.wait_for(1, timeout=5)[0].path == "/loopback"
        with pytest.raises(NotifyError, match=DIRECT_FAILURE):
            send(cfg, "http://192.0.2.1/x", timeout=0.5)  # direct, to an address nobody serves
        send(cfg, "http://other.invalid/y")
        assert [r.path for r in proxy.wait_for(1, timeout=5)] == ["http://other.invalid/y"]


def test_unsupported_proxy_scheme_is_a_permanent_error() -> None:
    with pytest.raises(NotifyError, match=r"unsupported proxy socks5://.*http:// and https://") as failure:
        send(HTTPConfig(proxy_url="socks5://127.0.0.1:1080"), "http://receiver.test/")
    assert not failure.value.retryable


def test_unreachable_proxy_is_reported_as_the_proxys_fault() -> None:
    with HttpSink() as gone:
        port = gone.port
    with pytest.raises(NotifyError, match=r"the proxy failed .*check proxy_url") as failure:
        send(HTTPConfig(proxy_url=f"http://127.0.0.1:{port}"), "http://receiver.test/secret")
    assert failure.value.retryable
    assert "secret" not in str(failure.value)


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("http_proxy", "https_proxy", "no_proxy", "all_proxy", "request_method"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return monkeypatch


def test_proxy_from_environment_uses_the_schemes_variable_and_no_proxy(proxy_env: pytest.MonkeyPatch) -> None:
    with HttpSink() as proxy, HttpSink() as receiver:
        proxy_env.setenv("HTTP_PROXY", f"127.0.0.1:{proxy.port}")  # no scheme: http, as in Go
        proxy_env.setenv("NO_PROXY", "192.0.2.1")
        cfg = HTTPConfig(proxy_from_environment=True)
        send(cfg, "http://via-proxy.invalid/a")
        with pytest.raises(NotifyError, match=DIRECT_FAILURE):
            send(cfg, "http://192.0.2.1/b", timeout=0.5)
        send(cfg, receiver.url + "c")  # loopback: never proxied from the environment
        assert [r.path for r in proxy.wait_for(1, timeout=5)] == ["http://via-proxy.invalid/a"]
        assert receiver.wait_for(1, timeout=5)[0].path == "/c"

        # Without proxy_from_environment the variables are ignored.
        with pytest.raises(NotifyError, match=DIRECT_FAILURE):
            send(HTTPConfig(), "http://192.0.2.2/d", timeout=0.5)
        assert len(proxy.requests) == 1


def test_https_proxy_variable_does_not_apply_to_http_urls(proxy_env: pytest.MonkeyPatch) -> None:
    with HttpSink() as proxy:
        proxy_env.setenv("HTTPS_PROXY", proxy.url)
        with pytest.raises(NotifyError, match=DIRECT_FAILURE):
            send(HTTPConfig(proxy_from_environment=True), "http://192.0.2.1/a", timeout=0.5)
        assert proxy.requests == []


class TunnelProxy:
    """A CONNECT proxy: records each CONNECT request line and pipes bytes both ways."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.connects: list[str] = []
        self.heads: list[str] = []  # each CONNECT request, headers included
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode()
        self.connects.append(line)
        self.heads.append(head.decode())
        host, port = line.split()[1].rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

    def close(self) -> None:
        self._listener.close()


def connect_headers(head: str) -> Message:
    """The headers of a CONNECT request as TunnelProxy recorded it (names case-insensitive)."""
    return email.message_from_string(head.split("\r\n", 1)[1])


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            sock.close()


def test_https_through_a_proxy_tunnels_and_verifies_the_receiver() -> None:
    proxy = TunnelProxy()
    try:
        with HttpSink(tls=True) as receiver:
            url = f"https://localhost:{receiver.port}/hook"
            tls = TLSConfig(ca_file=receiver.ca_file)
            send(HTTPConfig(proxy_url=f"http://127.0.0.1:{proxy.port}", tls_config=tls), url)
            assert receiver.wait_for(1, timeout=5)[0].path == "/hook"  # end to end through the tunnel
            assert [c.rsplit(" ", 1)[0] for c in proxy.connects] == [f"CONNECT localhost:{receiver.port}"]

            # The tls_config applies behind the proxy: without the CA, the receiver is not trusted.
            with pytest.raises(NotifyError, match="TLS handshake failed"):
                send(HTTPConfig(proxy_url=f"http://127.0.0.1:{proxy.port}"), url)
    finally:
        proxy.close()


# --- TLS -------------------------------------------------------------------------------------


def test_inline_ca_and_tls_versions() -> None:
    with HttpSink(tls=True) as sink:
        inline = TLSConfig(ca=Path(sink.ca_file).read_text())
        assert send(HTTPConfig(tls_config=inline), sink.url).status_code == 200
        both = TLSConfig(ca_file=sink.ca_file, min_version="TLS12", max_version="TLS13")
        assert send(HTTPConfig(tls_config=both), sink.url).status_code == 200
        assert len(sink.wait_for(2, timeout=5)) == 2


def test_a_tls_version_the_server_refuses_fails_the_handshake() -> None:
    with HttpSink(tls=True) as sink:
        sink._server.socket.context.maximum_version = transport.ssl.TLSVersion.TLSv1_2
        tls = TLSConfig(ca_file=sink.ca_file, min_version="TLS13")
        with pytest.raises(NotifyError, match=r"TLS handshake failed .*check tls_config") as failure:
            send(HTTPConfig(tls_config=tls), sink.url)
    assert failure.value.retryable


def test_plain_http_receivers_ignore_the_tls_config() -> None:
    with HttpSink() as sink:
        tls = TLSConfig(server_name="elsewhere.test", min_version="TLS13")
        assert send(HTTPConfig(tls_config=tls), sink.url).status_code == 200


def test_tls_versions_reach_the_ssl_context() -> None:
    ctx = transport.tls_context(TLSConfig(min_version="TLS12", max_version="TLS13"))
    assert ctx.minimum_version == transport.ssl.TLSVersion.TLSv1_2
    assert ctx.maximum_version == transport.ssl.TLSVersion.TLSv1_3
    with pytest.raises(ValueError, match="unknown max_version 'TLS99'"):
        transport.tls_context(TLSConfig(max_version="TLS99"))


# --- http_headers ----------------------------------------------------------------------------


def test_http_headers_values_secrets_and_files_are_added(tmp_path: Path) -> None:
    tenant = tmp_path / "tenant"
    tenant.write_text("t-1\n")
    cfg = HTTPConfig(
        http_headers={
            "x-team": Header(values=["sre", "ops"]),
            "X-Key": Header(secrets=["k3y"]),
            "X-Tenant": Header(files=[str(tenant)]),
        }
    )
    with HttpSink() as sink:
        own = {"Content-Type": "application/json", "X-Team": "integration"}
        transport.request(cfg, "POST", sink.url, BODY, own, 5, "webhook")
        tenant.write_text("t-2")
        send(cfg, sink.url)
        first, second = sink.wait_for(2, timeout=5)
    # Added after the integration's own value of the same header, as Go's Header.Add does.
    assert first.headers.get_all("X-Team") == ["integration", "sre", "ops"]
    assert (first.headers["X-Key"], first.headers["X-Tenant"]) == ("k3y", "t-1")
    assert second.headers["X-Tenant"] == "t-2"  # files are read at every request


def test_headers_go_out_in_order_and_names_that_differ_in_case_are_one_header() -> None:
    with HttpSink() as sink:
        send(HTTPConfig(), sink.url)
        # The configured authorization replaces the integration's, whatever the case of its name.
        own = {"Content-Type": "application/json", "authorization": "GenieKey k"}
        transport.request(BEARER, "POST", sink.url, BODY, own, 5, "webhook")
        # The URL's credentials yield to the integration's Authorization, whatever its case.
        userinfo = sink.url.replace("http://", "http://u:p@")
        transport.request(HTTPConfig(), "POST", userinfo, BODY, own, 5, "webhook")
        plain, configured, integration = sink.wait_for(3, timeout=5)
    assert plain.headers.items()[2:] == [
        ("Content-Length", str(len(BODY))),
        ("User-Agent", USER_AGENT),
        ("Content-Type", "application/json"),
    ]
    assert configured.headers.get_all("Authorization") == ["Bearer s3cret"]
    assert integration.headers.get_all("Authorization") == ["GenieKey k"]


def test_an_unreadable_header_file_is_retryable_and_names_the_file(tmp_path: Path) -> None:
    cfg = HTTPConfig(http_headers={"X-Tenant": Header(files=[str(tmp_path / "missing")])})
    with HttpSink() as sink, pytest.raises(NotifyError, match="cannot read http_headers file") as failure:
        send(cfg, sink.url)
    assert failure.value.retryable and str(tmp_path / "missing") in str(failure.value)
    assert sink.requests == []


def test_cookies_and_credentials_stay_behind_once_a_redirect_leaves_the_host() -> None:
    cfg = HTTPConfig(
        authorization=Authorization("Bearer", "s3cret"),
        http_headers={"Cookie": Header(values=["session=1"]), "X-Team": Header(values=["sre"])},
    )
    routes = {"/a": (307, "http://localhost:{port}/b"), "/b": (307, "http://127.0.0.1:{port}/c")}
    with RedirectServer(routes) as server:
        send(cfg, server.url + "/a")
    seen = [
        (s.path, s.headers["Cookie"], s.headers["Authorization"], s.headers["X-Team"]) for s in server.seen
    ]
    assert seen == [
        ("/a", "session=1", "Bearer s3cret", "sre"),
        ("/b", None, None, "sre"),
        ("/c", None, None, "sre"),  # back on the first host, but Go's rule is sticky
    ]


# --- proxy_connect_header --------------------------------------------------------------------


def test_proxy_connect_headers_go_on_the_connect_only() -> None:
    proxy = TunnelProxy()
    try:
        with HttpSink(tls=True) as receiver:
            cfg = HTTPConfig(
                proxy_url=f"http://pu:pp@127.0.0.1:{proxy.port}",
                proxy_connect_header={"X-Proxy-Token": ["a", "b"]},
                tls_config=TLSConfig(ca_file=receiver.ca_file),
            )
            send(cfg, f"https://localhost:{receiver.port}/hook")
            request = receiver.wait_for(1, timeout=5)[0]
        [head] = proxy.heads
        connect = connect_headers(head)
        assert connect.get_all("X-Proxy-Token") == ["a", "b"]
        assert connect["Proxy-Authorization"] == "Basic " + base64.b64encode(b"pu:pp").decode()
        assert request.headers["X-Proxy-Token"] is None  # not inside the tunnel
    finally:
        proxy.close()


def test_proxy_connect_headers_are_not_sent_with_forwarded_http_requests() -> None:
    with HttpSink() as proxy:
        cfg = HTTPConfig(
            proxy_url=f"http://pu:pp@127.0.0.1:{proxy.port}", proxy_connect_header={"X-Proxy-Token": ["a"]}
        )
        send(cfg, "http://receiver.invalid/hook")
        request = proxy.wait_for(1, timeout=5)[0]
    assert request.path == "http://receiver.invalid/hook"
    assert request.headers["X-Proxy-Token"] is None  # Go's ProxyConnectHeader is for CONNECT
    assert request.headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"pu:pp").decode()


# --- oauth2 ----------------------------------------------------------------------------------


class TokenIssuer:
    """A token endpoint's answers: a new token (tok-1, tok-2, ...) for each request it accepts;
    with `params_only`, requests carrying the client credentials in a header are refused."""

    def __init__(self, expires_in: int = 3600, token_type: str = "bearer", params_only: bool = False) -> None:
        self.expires_in, self.token_type, self.params_only = expires_in, token_type, params_only
        self.issued = 0

    def __call__(self, request: ReceivedRequest) -> tuple[int, bytes, str]:
        if self.params_only and request.headers["Authorization"]:
            return 401, orjson.dumps({"error": "invalid_client"}), "application/json"
        self.issued += 1
        answer = {"access_token": f"tok-{self.issued}", "token_type": self.token_type}
        return 200, orjson.dumps({**answer, "expires_in": self.expires_in}), "application/json"


def oauth2(token_url: str, **settings: Any) -> HTTPConfig:
    fields: dict[str, Any] = {"client_id": "alerter id", "client_secret": "s&cr3t", **settings}
    return HTTPConfig(oauth2=OAuth2(token_url=token_url, **fields))


def form(request: ReceivedRequest) -> dict[str, list[str]]:
    return parse_qs(request.body.decode())


def basic_pair(request: ReceivedRequest) -> str:
    return base64.b64decode(request.headers["Authorization"].removeprefix("Basic ")).decode()


@pytest.fixture(autouse=True)
def fresh_tokens() -> Iterator[None]:
    """Tokens are cached per process; every test starts without one."""
    transport._token_source.cache_clear()
    yield
    transport._token_source.cache_clear()


def test_oauth2_token_is_fetched_once_cached_and_sent() -> None:
    with HttpSink(responder=TokenIssuer()) as idp, HttpSink() as receiver:
        cfg = oauth2(
            idp.url + "token", scopes=["alerts.write", "alerts.read"], endpoint_params={"aud": "api"}
        )
        send(cfg, receiver.url)
        send(cfg, receiver.url)
        sends = receiver.wait_for(2, timeout=5)
        [token_request] = idp.requests
    assert [r.headers["Authorization"] for r in sends] == ["Bearer tok-1", "Bearer tok-1"]
    assert (token_request.method, token_request.path) == ("POST", "/token")
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert token_request.headers["User-Agent"] == USER_AGENT
    # golang.org/x/oauth2: the credentials URL-encoded in a Basic header, first.
    assert basic_pair(token_request) == "alerter+id:s%26cr3t"
    assert form(token_request) == {
        "grant_type": ["client_credentials"],
        "scope": ["alerts.write alerts.read"],
        "aud": ["api"],
    }


def test_an_expiring_token_is_fetched_again() -> None:
    # Ten seconds before its expiry a token counts as expired, so this one is never reused.
    with HttpSink(responder=TokenIssuer(expires_in=5)) as idp, HttpSink() as receiver:
        cfg = oauth2(idp.url)
        send(cfg, receiver.url)
        send(cfg, receiver.url)
        sends = receiver.wait_for(2, timeout=5)
    assert [r.headers["Authorization"] for r in sends] == ["Bearer tok-1", "Bearer tok-2"]
    assert len(idp.requests) == 2


def test_a_rotated_client_secret_file_fetches_a_new_token(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("first\n")
    with HttpSink(responder=TokenIssuer()) as idp, HttpSink() as receiver:
        cfg = oauth2(idp.url, client_secret="", client_secret_file=str(secret))
        send(cfg, receiver.url)
        send(cfg, receiver.url)
        secret.write_text("second")
        send(cfg, receiver.url)
        sends = receiver.wait_for(3, timeout=5)
    assert [r.headers["Authorization"] for r in sends] == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    assert [basic_pair(r) for r in idp.requests] == ["alerter+id:first", "alerter+id:second"]


def test_credentials_move_to_the_form_when_the_endpoint_refuses_the_header_and_stay_there() -> None:
    with HttpSink(responder=TokenIssuer(expires_in=5, params_only=True)) as idp, HttpSink() as receiver:
        cfg = oauth2(idp.url)
        send(cfg, receiver.url)
        send(cfg, receiver.url)
        sends = receiver.wait_for(2, timeout=5)
    assert [r.headers["Authorization"] for r in sends] == ["Bearer tok-1", "Bearer tok-2"]
    header_try, params_try, second = idp.requests
    assert header_try.headers["Authorization"] is not None
    assert form(params_try) == {
        "client_id": ["alerter id"],
        "client_secret": ["s&cr3t"],
        "grant_type": ["client_credentials"],
    }
    assert second.headers["Authorization"] is None  # the way that worked is kept


def test_a_refused_token_request_is_retryable_and_keeps_the_secret_out() -> None:
    refusal = orjson.dumps({"error": "invalid_client", "error_description": "unknown client"})
    with (
        HttpSink(responder=lambda _: (401, refusal, "application/json")) as idp,
        HttpSink() as receiver,
        pytest.raises(NotifyError) as failure,
    ):
        send(oauth2(idp.url + "oauth/token?tenant=t0k3n"), receiver.url + "hook")
    message = str(failure.value)
    assert failure.value.retryable
    assert message.startswith(f"webhook POST to http://127.0.0.1:{receiver.port}/<redacted>: oauth2 token")
    assert (
        f"request to http://127.0.0.1:{idp.port}/<redacted> failed: the token endpoint answered 401"
        in message
    )
    assert "(invalid_client unknown client)" in message and "check oauth2 client_id" in message
    assert "s&cr3t" not in message and "t0k3n" not in message
    assert receiver.requests == []
    assert len(idp.requests) == 2  # the header, then the form


@pytest.mark.parametrize(
    ("answer", "content_type", "authorization"),
    [
        (b"access_token=abc&token_type=mac&expires_in=3600", "text/plain; charset=utf-8", "MAC abc"),
        (b"access_token=abc", "application/x-www-form-urlencoded", "Bearer abc"),
        (b'{"access_token": "abc", "token_type": "DPoP"}', "application/json", "DPoP abc"),
    ],
)
def test_token_answers_as_form_or_json_and_their_token_types(
    answer: bytes, content_type: str, authorization: str
) -> None:
    with HttpSink(responder=lambda _: (200, answer, content_type)) as idp, HttpSink() as receiver:
        send(oauth2(idp.url), receiver.url)
        assert receiver.wait_for(1, timeout=5)[0].headers["Authorization"] == authorization


def test_a_token_answer_without_access_token_is_an_error() -> None:
    with (
        HttpSink(responder=lambda _: (200, b'{"token_type": "bearer"}', "application/json")) as idp,
        pytest.raises(NotifyError, match="answer has no access_token; check oauth2 token_url") as failure,
    ):
        send(oauth2(idp.url), "http://192.0.2.1/")
    assert failure.value.retryable


def test_the_token_endpoint_is_reached_with_the_oauth2_blocks_own_tls_config() -> None:
    with HttpSink(tls=True, responder=TokenIssuer()) as idp, HttpSink() as receiver:
        url = f"https://localhost:{idp.port}/token"
        send(oauth2(url, tls_config=TLSConfig(ca_file=idp.ca_file)), receiver.url)
        assert receiver.wait_for(1, timeout=5)[0].headers["Authorization"] == "Bearer tok-1"
        # The http_config's own tls_config is for the receiver, not for the token endpoint.
        untrusted = oauth2(url)
        untrusted.tls_config = TLSConfig(ca_file=idp.ca_file)
        with pytest.raises(NotifyError, match=r"oauth2 token request .* TLS handshake failed"):
            send(untrusted, receiver.url)


def test_the_token_endpoint_is_reached_through_the_oauth2_proxy_with_its_connect_headers() -> None:
    proxy = TunnelProxy()
    try:
        with HttpSink(tls=True, responder=TokenIssuer()) as idp, HttpSink() as receiver:
            cfg = oauth2(
                f"https://localhost:{idp.port}/token",
                tls_config=TLSConfig(ca_file=idp.ca_file),
                proxy_url=f"http://127.0.0.1:{proxy.port}",
                proxy_connect_header={"X-Proxy-Token": ["idp-pass"]},
            )
            send(cfg, receiver.url)  # the receiver itself is reached direct
            assert receiver.wait_for(1, timeout=5)[0].headers["Authorization"] == "Bearer tok-1"
        [head] = proxy.heads
        assert head.startswith(f"CONNECT localhost:{idp.port} ")
        assert connect_headers(head)["X-Proxy-Token"] == "idp-pass"
    finally:
        proxy.close()


# --- the libcurl path (plain-http POSTs) ----------------------------------------------------


def test_a_direct_post_ignores_curls_own_proxy_variables(proxy_env: pytest.MonkeyPatch) -> None:
    """libcurl reads http_proxy and all_proxy by itself; without proxy_url or
    proxy_from_environment a receiver is reached directly, as Alertmanager reaches it."""
    with HttpSink() as proxy, HttpSink() as receiver:
        for name in ("http_proxy", "all_proxy", "HTTP_PROXY", "ALL_PROXY"):
            proxy_env.setenv(name, proxy.url)
        assert send(HTTPConfig(), receiver.url + "direct").status_code == 200
        assert receiver.wait_for(1, timeout=5)[0].path == "/direct"
    assert proxy.requests == []


def test_a_kept_alive_connection_that_stops_answering_times_out_waiting() -> None:
    """The second POST reuses the first's connection and gets no answer: a late answer, not a
    connection that could not be made."""
    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    answered = threading.Event()

    def answer_once() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        answered.set()
        conn.recv(65536)  # the second request: read, never answered
        conn.close()

    server = threading.Thread(target=answer_once, daemon=True)
    server.start()
    try:
        assert send(HTTPConfig(), url).status_code == 200
        with pytest.raises(NotifyError, match="timed out waiting for the response") as failure:
            send(HTTPConfig(), url, timeout=0.3)
        assert failure.value.retryable
    finally:
        server.join(timeout=5)
        listener.close()
    assert answered.is_set()


def test_an_informational_answer_before_the_final_one_is_not_taken_for_it() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"

        def answer() -> None:
            conn, _ = listener.accept()
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                b"Retry-After: 1\r\nContent-Length: 4\r\n\r\nbusy"
            )
            conn.close()

        server = threading.Thread(target=answer, daemon=True)
        server.start()
        response = send(HTTPConfig(), url)
        server.join(timeout=5)
    assert (response.status_code, response.text) == (503, "busy")
    assert response.headers.get("Retry-After") == "1" and "Link" not in response.headers


def test_a_header_with_an_empty_value_is_sent_empty() -> None:
    """As urllib3 sends it; curl leaves out a header written as "Name:"."""
    with HttpSink() as sink:
        own = {"Content-Type": "application/json", "X-Empty": ""}
        transport.request(HTTPConfig(), "POST", sink.url, BODY, own, 5, "webhook")
        [seen] = sink.wait_for(1, timeout=5)
    assert seen.headers.get_all("X-Empty") == [""]


def test_a_latin_1_header_value_is_sent_as_latin_1() -> None:
    """As http.client encodes header lines; a value beyond Latin-1 is refused, as there."""
    with HttpSink() as sink:
        own = {"Content-Type": "application/json", "X-Team": "équipe"}
        transport.request(HTTPConfig(), "POST", sink.url, BODY, own, 5, "webhook")
        [seen] = sink.wait_for(1, timeout=5)
        with pytest.raises(NotifyError, match="a header value is not valid"):
            transport.request(HTTPConfig(), "POST", sink.url, BODY, {"X-Team": "チーム"}, 5, "webhook")
    assert seen.headers["X-Team"] == "équipe"  # http.server reads header lines as Latin-1


def test_a_threads_handle_sets_again_whatever_changed_between_posts(tmp_path: Path) -> None:
    """The curl handle keeps the URL, header lines and timeout of its last POST: a second URL on
    the same receiver, a credentials file rewritten with a value of the same length, a body of
    another length and another Content-Type must each reach the wire as if the handle were new."""
    password = tmp_path / "password"
    password.write_text("aaaa")
    cfg = HTTPConfig(basic_auth=BasicAuth("u", password_file=str(password)))
    json = {"Content-Type": "application/json"}
    with HttpSink() as sink:
        transport.request(cfg, "POST", sink.url + "one", BODY, json, 5, "t")
        transport.request(cfg, "POST", sink.url + "two", BODY, json, 4, "t")
        password.write_text("bbbb")
        transport.request(cfg, "POST", sink.url + "two", BODY, json, 4, "t")
        transport.request(cfg, "POST", sink.url + "two", b"{}", json, 4, "t")
        transport.request(cfg, "POST", sink.url + "one", BODY, {"Content-Type": "text/plain"}, 5, "t")
        seen = sink.wait_for(5, timeout=5)
    basic = {word: "Basic " + base64.b64encode(f"u:{word}".encode()).decode() for word in ("aaaa", "bbbb")}
    assert [r.path for r in seen] == ["/one", "/two", "/two", "/two", "/one"]
    authorization = [r.headers["Authorization"] for r in seen]
    assert authorization == [basic["aaaa"], basic["aaaa"], basic["bbbb"], basic["bbbb"], basic["bbbb"]]
    assert [(r.body, r.headers["Content-Length"]) for r in seen[2:4]] == [
        (BODY, str(len(BODY))),
        (b"{}", "2"),
    ]
    assert [r.headers["Content-Type"] for r in seen] == ["application/json"] * 4 + ["text/plain"]


def test_a_refused_header_is_refused_again_on_the_next_post() -> None:
    """A header line the handle refused is not taken for the lines it holds."""
    with HttpSink() as sink:
        bad = {"Content-Type": "application/json", "X-Key": "a\r\nX-Injected: 1"}
        for _ in range(2):
            with pytest.raises(NotifyError, match="a header value is not valid"):
                transport.request(HTTPConfig(), "POST", sink.url, BODY, bad, 5, "webhook")
        send(HTTPConfig(), sink.url)
        [seen] = sink.wait_for(1, timeout=5)
    assert "X-Injected" not in seen.headers and "X-Key" not in seen.headers
