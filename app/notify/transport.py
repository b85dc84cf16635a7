"""HTTP and TLS for the integrations: Prometheus' `http_config` and `tls_config`, on urllib3.

Requests are sent with urllib3 directly rather than through `requests`: a notification is one
POST of bytes that are already encoded, and `requests`' per-request machinery (preparing and
merging the request, hooks, cookies, environment lookups, its adapter) cost about as much CPU as
the HTTP exchange itself. The little of it that alerter needs is done here, the Go way:

- One `urllib3.PoolManager` (and one or two `ProxyManager`s per proxy) is kept per distinct
  transport setup (TLS settings and proxy settings) and process, so that notifications to the
  same receiver reuse pooled connections; a forked worker builds its own instead of sharing its
  parent's sockets.
- Credentials are not part of the transport: they are read for every request, from the config
  or from their files, as Prometheus does, so a rotated password file is picked up without a
  reload. Credentials in the URL's userinfo become basic auth when nothing else is configured.
  `http_headers` are added the same way (their files read at every request).
- `oauth2` is golang.org/x/oauth2's client credentials grant: a token is fetched from the token
  endpoint (with the oauth2 block's own TLS and proxy settings) and kept per process until it
  expires; see `_TokenSource`.
- Redirects follow Go's `net/http` client: at most 10; 301, 302 and 303 turn a POST into a GET
  without body; 307 and 308 repeat the POST; credentials and cookies (`Authorization`,
  `Cookie`, ...) only go on to the first request's host or its subdomains.
  `follow_redirects: false` returns the redirect response itself.
- Proxies follow prometheus/common: `proxy_url` proxies everything unless `no_proxy` is set, in
  which case Go's `httpproxy` rules apply (which never proxy localhost or loopback addresses);
  `proxy_from_environment` reads HTTP_PROXY, HTTPS_PROXY and NO_PROXY once per process.
  `proxy_connect_header` is sent on the CONNECT of a tunnel to an https:// receiver only.

`tls_context` builds the `ssl.SSLContext` of a Prometheus `tls_config` and `value_or_file` reads
a credential; the email integration uses both too. Like Go's client, a configured CA replaces the
default trust store instead of adding to it.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import ipaddress
import os
import ssl
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping
from email.message import Message
from functools import lru_cache
from typing import Any, NamedTuple, Protocol
from urllib.parse import parse_qs, quote_plus, unquote, urlencode, urljoin, urlsplit

import certifi
import orjson
import urllib3
from urllib3.poolmanager import PoolKey
from urllib3.util import Retry, parse_url

from app import __version__
from app.config import HTTPConfig, OAuth2, TLSConfig
from app.config.httpconfig import canonical_header
from app.notify import steps
from app.notify.curlhttp import Answer, CurlError, CurlPost
from app.notify.errors import NotifyError

USER_AGENT = f"alerter/{__version__}"

# insecure_skip_verify is the operator's explicit choice; like Alertmanager, do not warn on every send.
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}

MAX_REDIRECTS = 10  # Go's http.Client stops after 10
_REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
# Retries are alerter's business (the notify loop, with backoff); urllib3 must neither retry a
# failed request nor follow redirects itself (its rules differ from Go's: it keeps a POST on 302).
_NO_RETRIES = Retry(total=False, redirect=False, raise_on_redirect=False, raise_on_status=False)
# Connections kept per host: the threads of a worker that send to one receiver at once.
_POOL_SIZE = 10
# Hosts (pools) kept per transport: a transport serves every receiver with the same TLS and
# proxy settings, usually all of them; an evicted pool only costs a new connection.
_POOLS_PER_TRANSPORT = 64


def tls_context(cfg: TLSConfig, system_roots: bool = False) -> ssl.SSLContext:
    """The client SSL context for a tls_config; raises ValueError naming the setting at fault.

    Files are read once here; alerter builds contexts again when the config changes. Without a
    CA in the config, receivers are checked against certifi's bundle (the same on every
    machine), and with `system_roots` against the machine's trust store (Redis, whose CA an
    operator installs there).
    """
    try:
        if cfg.ca_file or cfg.ca:
            ctx = ssl.create_default_context(cafile=cfg.ca_file or None, cadata=cfg.ca or None)
        else:
            ctx = ssl.create_default_context(cafile=None if system_roots else certifi.where())
    except (OSError, ssl.SSLError) as err:
        raise ValueError(f"tls_config: cannot load the CA ({cfg.ca_file or 'inline ca'}): {err}") from None
    if cfg.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    # SSLContext accepts any attribute, so a misspelt one (min_version) would be silently ignored.
    for attribute, setting, value in (
        ("minimum_version", "min_version", cfg.min_version),
        ("maximum_version", "max_version", cfg.max_version),
    ):
        if value:
            if value not in _TLS_VERSIONS:
                raise ValueError(f"tls_config: unknown {setting} {value!r}")
            setattr(ctx, attribute, _TLS_VERSIONS[value])
    if cfg.cert_file or cfg.cert:
        _load_client_cert(ctx, cfg)
    return ctx


def _load_client_cert(ctx: ssl.SSLContext, cfg: TLSConfig) -> None:
    """Load the client certificate and key, from files or inline PEMs.

    OpenSSL reads certificate chains from files only, so inline PEMs are written to a private
    temporary directory for the moment of loading.
    """
    with tempfile.TemporaryDirectory(prefix="alerter-tls-") as tmp:
        try:
            cert = cfg.cert_file or _write_pem(tmp, "cert.pem", cfg.cert)
            key = cfg.key_file or (_write_pem(tmp, "key.pem", cfg.key) if cfg.key else None)
            ctx.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as err:
            raise ValueError(
                f"tls_config: cannot load the client certificate (cert_file/cert, key_file/key): {err}"
            ) from None


def _write_pem(directory: str, name: str, pem: str) -> str:
    path = os.path.join(directory, name)
    with open(path, "w", encoding="ascii") as handle:
        handle.write(pem)
    return path


class Response:
    """What a caller learns of the answer: its status, headers and (fully read) body.

    The headers are the answer's (urllib3's response or libcurl's `Answer`), read when first
    asked for: most notifications' answers are looked at for their status only, and turning
    libcurl's header lines into a header dict cost about 4 % of a send's CPU."""

    __slots__ = ("_answer", "content", "status_code")

    def __init__(self, status_code: int, answer: urllib3.BaseHTTPResponse | Answer, content: bytes) -> None:
        self.status_code = status_code
        self._answer = answer
        self.content = content

    @property
    def headers(self) -> urllib3.HTTPHeaderDict:
        return self._answer.headers

    @property
    def text(self) -> str:
        """The body as text, in the charset the Content-Type names (UTF-8 otherwise); only error
        messages quote it, so undecodable bytes are replaced rather than raised on."""
        message = Message()
        message["Content-Type"] = self.headers.get("Content-Type", "")
        charset = message.get_content_charset() or "utf-8"
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")


class _Target(NamedTuple):
    """A request URL taken apart once: what urllib3 needs to pick a pool and send."""

    scheme: str
    host: str  # lower-case, IDNA-encoded; IPv6 addresses in brackets (urllib3's form)
    port: int  # explicit or the scheme's default
    request_uri: str  # path and query, percent-encoded
    url: str  # the absolute URL without userinfo or fragment (what a proxy is sent)
    authorization: str | None  # basic auth from the URL's userinfo, as Go's client sends it


class _InvalidURL(ValueError):
    """A URL alerter cannot send to; the message says why without quoting the URL."""


@lru_cache(maxsize=512)
def _target(url: str) -> _Target:
    """Parse a URL (cached: receivers post to the same few URLs over and over)."""
    try:
        parts = parse_url(url)
    except urllib3.exceptions.LocationParseError:
        raise _InvalidURL("cannot parse it") from None
    if parts.scheme not in ("http", "https"):
        raise _InvalidURL("http:// or https:// is required" if parts.scheme is None else "unsupported scheme")
    if not parts.host:
        raise _InvalidURL("no host")
    authorization = None
    if parts.auth is not None:
        user, _, password = parts.auth.partition(":")
        token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
        authorization = f"Basic {token}"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    bare = parts._replace(auth=None, fragment=None)
    return _Target(parts.scheme, parts.host, port, parts.request_uri, bare.url, authorization)


class _ProxyBypass:
    """Go's golang.org/x/net/http/httpproxy rules for NO_PROXY (and for `no_proxy`).

    Entries are separated by commas: `*` (no proxy at all), an IP address or CIDR range, or a
    domain name, which matches itself and its subdomains (`.example.com` and `*.example.com`
    only the subdomains); IP addresses and domain names may carry a port. Requests to localhost
    and loopback addresses never go through the proxy, whatever the list says.
    """

    def __init__(self, spec: str) -> None:
        self._all = False
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self._addresses: list[tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, str]] = []
        self._domains: list[tuple[str, str, bool]] = []  # (".suffix", port, the bare name matches too)
        for entry in spec.split(","):
            item = entry.strip().lower()
            if not item:
                continue
            if item == "*":
                self._all = True
                return
            if "/" in item:
                with contextlib.suppress(ValueError):  # Go ignores what it cannot parse
                    self._networks.append(ipaddress.ip_network(item, strict=False))
                continue
            host, port = _split_host_port(item)
            if not host:
                continue
            try:
                self._addresses.append((ipaddress.ip_address(host), port))
                continue
            except ValueError:
                pass
            if host.startswith("*."):
                host = host[1:]
            exact = not host.startswith(".")
            suffix = "." + host if exact else host
            if not suffix.isascii():  # urllib3 hands over hosts IDNA-encoded
                with contextlib.suppress(UnicodeError):
                    suffix = "." + suffix[1:].encode("idna").decode("ascii")
            self._domains.append((suffix, port, exact))

    def bypasses(self, host: str, port: int) -> bool:
        """Whether a request to host:port goes direct. `host` is as urllib3 parsed it."""
        host = host.strip("[]").lower()
        if host == "localhost":
            return True
        try:
            address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None and address.is_loopback:
            return True
        if self._all:
            return True
        port_text = str(port)
        if address is not None:
            if any(address in network for network in self._networks):
                return True
            if any(address == ip and (not p or p == port_text) for ip, p in self._addresses):
                return True
        return any(
            (host.endswith(suffix) or (exact and host == suffix[1:])) and (not p or p == port_text)
            for suffix, p, exact in self._domains
        )


def _split_host_port(item: str) -> tuple[str, str]:
    """Go's net.SplitHostPort, falling back to the whole item as host (no port) when it fails."""
    if item.startswith("["):
        end = item.find("]")
        if end > 0 and item[end + 1 : end + 2] == ":":
            return item[1:end], item[end + 2 :]
        return item, ""
    if item.count(":") == 1:
        host, port = item.split(":")
        return host, port
    return item, ""


ConnectHeaders = tuple[tuple[str, tuple[str, ...]], ...]


def _proxy_managers(
    proxy_url: str, ctx: ssl.SSLContext, pool_kw: dict[str, Any], connect_headers: ConnectHeaders
) -> dict[str, urllib3.ProxyManager]:
    """The ProxyManagers of one proxy, by the scheme of the target they carry requests to.

    The URL's userinfo becomes Proxy-Authorization on every request through the proxy, as in Go;
    `proxy_connect_header` goes only on the CONNECT that opens a tunnel to an https:// target
    (Go's ProxyConnectHeader), so http:// targets, whose requests the proxy forwards, get a
    manager without it. The tls_config applies to the receiver behind the proxy and, for an
    https:// proxy, to the proxy too (Go's transport uses one TLS config for both).
    """
    if "://" not in proxy_url:
        proxy_url = "http://" + proxy_url  # Go reads a bare host:port as an HTTP proxy
    try:
        parts = parse_url(proxy_url)
    except urllib3.exceptions.LocationParseError:
        raise ValueError("proxy_url: cannot parse the proxy URL") from None
    if parts.scheme not in ("http", "https") or not parts.host:
        raise ValueError(
            f"proxy_url: unsupported proxy {parts.scheme or ''}://{parts.host or ''} "
            "(alerter supports http:// and https:// proxies)"
        )
    auth = urllib3.HTTPHeaderDict()
    if parts.auth is not None:
        user, _, password = parts.auth.partition(":")
        auth.update(urllib3.make_headers(proxy_basic_auth=f"{unquote(user)}:{unquote(password)}"))
    bare = parts._replace(auth=None, path=None, query=None, fragment=None).url
    proxy_ctx = ctx if parts.scheme == "https" else None
    forward = urllib3.ProxyManager(bare, proxy_headers=auth, proxy_ssl_context=proxy_ctx, **pool_kw)
    if not connect_headers:
        return {"http": forward, "https": forward}
    tunnel_headers = auth.copy()
    for name, values in connect_headers:
        for value in values:
            tunnel_headers.add(name, value)
    tunnel = urllib3.ProxyManager(bare, proxy_headers=tunnel_headers, proxy_ssl_context=proxy_ctx, **pool_kw)
    return {"http": forward, "https": tunnel}


class _Transport:
    """The connection pools of one transport setup in one process, and its proxy choice."""

    def __init__(
        self,
        tls_cfg: TLSConfig,
        proxy_url: str,
        no_proxy: str,
        proxy_from_environment: bool,
        connect_headers: ConnectHeaders,
    ) -> None:
        ctx = tls_context(tls_cfg)
        pool_kw: dict[str, Any] = {
            "num_pools": _POOLS_PER_TRANSPORT,
            "maxsize": _POOL_SIZE,
            "ssl_context": ctx,
            # The certificate is checked against server_name instead of the dialled host.
            "server_hostname": tls_cfg.server_name or None,
        }
        self.direct = urllib3.PoolManager(**pool_kw)
        self._pool_keys: dict[tuple[str, str, int], PoolKey] = {}
        # Per scheme of the target: the manager of its proxy, or None to go direct.
        self._proxies: dict[str, urllib3.ProxyManager | None] = {"http": None, "https": None}
        self._bypass: _ProxyBypass | None = None  # None: every request uses the proxy
        if proxy_url:
            self._proxies = {**_proxy_managers(proxy_url, ctx, pool_kw, connect_headers)}
            self._bypass = _ProxyBypass(no_proxy) if no_proxy else None
        elif proxy_from_environment:
            # Go reads these once per process (httpproxy.FromEnvironment behind a sync.Once).
            env = urllib.request.getproxies_environment()
            managers: dict[str, dict[str, urllib3.ProxyManager]] = {}
            for scheme in ("http", "https"):
                value = env.get(scheme, "")
                if value:
                    if value not in managers:
                        managers[value] = _proxy_managers(value, ctx, pool_kw, connect_headers)
                    self._proxies[scheme] = managers[value][scheme]
            self._bypass = _ProxyBypass(env.get("no", ""))

    def manager_for(self, target: _Target) -> urllib3.PoolManager:
        """The direct pool manager or the proxy's, for this target."""
        proxy = self._proxies[target.scheme]
        if proxy is None or (self._bypass is not None and self._bypass.bypasses(target.host, target.port)):
            return self.direct
        return proxy

    def _direct_pool(self, target: _Target) -> urllib3.HTTPConnectionPool:
        """The direct pool for the target's host, as PoolManager.connection_from_host finds it.

        connection_from_host derives the pool's key from the whole pool setup at every request
        (about 8 % of a request's instructions); here the key is derived once per host and kept.
        The pools themselves stay in the PoolManager, which evicts and closes them as before.
        The request context is built every time because urllib3 consumes it when it makes a pool.
        """
        place = (target.scheme, target.host, target.port)
        context = {
            **self.direct.connection_pool_kw,
            "scheme": target.scheme,
            "host": target.host,
            "port": target.port,
        }
        key = self._pool_keys.get(place)
        if key is None:
            if len(self._pool_keys) >= _POOLS_PER_TRANSPORT:
                self._pool_keys.clear()  # redirects may name any host: keep this bounded
            key = self._pool_keys[place] = self.direct.key_fn_by_scheme[target.scheme](context)
        return self.direct.connection_from_pool_key(key, request_context=context)

    def request(
        self,
        method: str,
        target: _Target,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: float,
    ) -> CurlPost | _PooledRequest:
        """One request, no retries or redirects, for a send's steps to yield (app/notify/steps.py).

        A POST straight to an http:// host (a notification, usually) goes through libcurl,
        which costs a tenth of urllib3's CPU (app/notify/curlhttp.py), and may go through the
        send pool's curl driver with others; the rest through urllib3, on a send thread.
        """
        curl = method == "POST" and body is not None and target.scheme == "http"
        if curl and self.manager_for(target) is self.direct:
            return CurlPost(target.url, body or b"", headers, timeout)
        return _PooledRequest(self, method, target, body, headers, timeout)

    def send(
        self,
        method: str,
        target: _Target,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: float,
    ) -> urllib3.BaseHTTPResponse:
        """One request through urllib3; the body is read and the connection released."""
        manager = self.manager_for(target)
        if manager is self.direct:
            # Straight to the host's pool: PoolManager.urlopen would parse the URL once more.
            pool = self._direct_pool(target)
            return pool.urlopen(
                method,
                target.request_uri,
                body=body,
                headers=headers,
                retries=_NO_RETRIES,
                redirect=False,
                assert_same_host=False,
                timeout=timeout,
                preload_content=True,
            )
        return manager.urlopen(
            method,
            target.url,
            body=body,
            headers=headers,
            retries=_NO_RETRIES,
            redirect=False,
            timeout=timeout,
            preload_content=True,
        )


class _PooledRequest(NamedTuple):
    """A request through urllib3's pools (TLS, a proxy, a method other than POST), for a send's
    steps to yield; only a send thread makes it (`perform`)."""

    transport: _Transport
    method: str
    target: _Target
    body: bytes | None
    headers: Mapping[str, str]
    timeout: float

    def perform(self) -> urllib3.BaseHTTPResponse:
        return self.transport.send(self.method, self.target, self.body, self.headers, self.timeout)


@lru_cache(maxsize=128)
def _transport(key: tuple[Any, ...]) -> _Transport:
    """The transport for one setup (a forked child forgets them: `_forget_in_child`)."""
    tls, proxy_url, no_proxy, proxy_from_environment, connect_headers = key
    return _Transport(TLSConfig(*tls), proxy_url, no_proxy, proxy_from_environment, connect_headers)


# lru_cache does not hold the other callers back while it computes: a worker's first sends, on
# several threads at once, each built the same transport, and its SSL context loads the CA
# bundle (about 150 M instructions with OpenSSL 3). One at a time, the first builds it.
_building = threading.Lock()


class _ConnectionSettings(Protocol):
    """What a transport is built from: an http_config, or the oauth2 block inside one (which
    reaches its token endpoint with its own TLS and proxy settings)."""

    tls_config: TLSConfig
    proxy_url: str
    no_proxy: str
    proxy_from_environment: bool
    proxy_connect_header: dict[str, list[str]]


# id(settings) -> (the settings, their transport), in front of `_transport`: a receiver's sends
# pass the same settings object every time, and deriving the key from its fields cost about 2 %
# of a worker's CPU per notification. The entry holds the settings, so that their id is not
# reused while it exists; settings are not changed once loaded (a reload makes new ones).
_KNOWN_SETTINGS = 256
_by_settings: dict[int, tuple[_ConnectionSettings, _Transport]] = {}


def transport_for(cfg: _ConnectionSettings) -> _Transport:
    """The shared transport for these settings; raises ValueError for a bad TLS or proxy setup."""
    known = _by_settings.get(id(cfg))
    if known is not None and known[0] is cfg:
        return known[1]
    # vars() rather than dataclasses.astuple, which deep-copies and cost 15 % of a send: the
    # fields are plain strings and booleans, in definition order.
    tls = tuple(vars(cfg.tls_config).values())
    connect = tuple((name, tuple(values)) for name, values in cfg.proxy_connect_header.items())
    key = (tls, cfg.proxy_url, cfg.no_proxy, cfg.proxy_from_environment, connect)
    with _building:
        transport = _transport(key)
    if len(_by_settings) >= _KNOWN_SETTINGS:
        _by_settings.clear()  # reloads make new settings objects: keep this bounded
    _by_settings[id(cfg)] = (cfg, transport)
    return transport


def value_or_file(value: str, path: str, what: str, strip: bool = True) -> str:
    """A credential: the file's content when a file is configured (read at every use), else the
    value. A file that cannot be read is a retryable NotifyError, as in Alertmanager."""
    if not path:
        return value
    try:
        with open(path, encoding="utf-8") as handle:
            content = handle.read()
    except (OSError, UnicodeDecodeError) as err:
        raise NotifyError(f"cannot read {what} {path}: {err}", retryable=True) from None
    return content.strip() if strip else content


def _configured_headers(cfg: HTTPConfig) -> list[tuple[str, str]]:
    """The `http_headers` to add, names canonicalised as Go's Header.Add does; files are read at
    every request, as prometheus/common does (a missing file fails the request, retryably)."""
    out: list[tuple[str, str]] = []
    for name, header in (cfg.http_headers or {}).items():
        canonical = canonical_header(name)
        out += [(canonical, v) for v in (*header.values, *header.secrets)]
        out += [(canonical, value_or_file("", path, "http_headers file")) for path in header.files]
    return out


def _auth_headers(cfg: HTTPConfig, timeout: float) -> dict[str, str]:
    """The Authorization of basic_auth, authorization or oauth2 (at most one is configured)."""
    if cfg.basic_auth is not None:
        ba = cfg.basic_auth
        user = value_or_file(ba.username, ba.username_file, "basic_auth username_file")
        password = value_or_file(ba.password, ba.password_file, "basic_auth password_file")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    if cfg.authorization is not None:
        az = cfg.authorization
        credentials = value_or_file(az.credentials, az.credentials_file, "authorization credentials_file")
        return {"Authorization": f"{az.type or 'Bearer'} {credentials}"}
    if cfg.oauth2 is not None:
        return {"Authorization": _token_source_for(cfg.oauth2).authorization(cfg.oauth2, timeout)}
    return {}


# --- oauth2 ------------------------------------------------------------------------------------

# golang.org/x/oauth2 treats a token as expired this long before its expiry, so that a token
# about to expire is not sent.
_EXPIRY_DELTA = 10.0
# Read at most this much of a token endpoint's answer (golang.org/x/oauth2's limit).
_MAX_TOKEN_ANSWER = 1 << 20
_TOKEN_TYPES = {"bearer": "Bearer", "mac": "MAC", "basic": "Basic"}


class _TokenError(Exception):
    """A token request that failed; the message quotes neither the secret nor the token."""


class _TokenSource:
    """The client-credentials token of one oauth2 block in one process (golang.org/x/oauth2's
    clientcredentials behind prometheus/common's oauth2 round tripper).

    The token is kept until `expires_in` (less ten seconds) has passed, for ever when the
    endpoint gives no expiry, and fetched again after that. The client secret is read at every
    request (from its file, when configured); a changed secret fetches a new token at once. The
    client credentials go in a Basic Authorization header, or, if the endpoint refuses that the
    first time, in the form (golang.org/x/oauth2's auto-detection), and the way that worked is
    kept. Threads of a worker share the token; one fetches it while the others wait.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secret: str | None = None
        self._authorization = ""
        self._expires: float | None = None  # time.monotonic() of expiry; None: never
        self._in_params: bool | None = None  # where the credentials go, once known

    def authorization(self, oauth: OAuth2, timeout: float) -> str:
        """The Authorization header value; raises NotifyError (retryable) naming what failed.

        `oauth` is the block this source was made for (or one equal to it)."""
        secret = value_or_file(oauth.client_secret, oauth.client_secret_file, "oauth2 client_secret_file")
        with self._lock:
            valid = self._expires is None or time.monotonic() < self._expires - _EXPIRY_DELTA
            if secret == self._secret and self._authorization and valid:
                return self._authorization
            try:
                self._authorization, self._expires = self._fetch(oauth, secret, timeout)
            except _TokenError as err:
                raise NotifyError(
                    f"oauth2 token request to {redact_url(oauth.token_url)} failed: {err}", retryable=True
                ) from None
            self._secret = secret
            return self._authorization

    def _fetch(self, oauth: OAuth2, secret: str, timeout: float) -> tuple[str, float | None]:
        form = {"grant_type": "client_credentials"}
        if oauth.scopes:
            form["scope"] = " ".join(oauth.scopes)
        form.update(oauth.endpoint_params)  # may replace grant_type, as golang.org/x/oauth2 allows
        deadline = time.monotonic() + timeout
        tries = [self._in_params] if self._in_params is not None else [False, True]
        failure = _TokenError("not attempted")
        for in_params in tries:
            try:
                token = _token_request(oauth, form, secret, in_params, deadline)
            except _TokenError as err:
                failure = err
                continue
            self._in_params = in_params
            return token
        raise failure


def _token_request(
    oauth: OAuth2, form: dict[str, str], secret: str, in_params: bool, deadline: float
) -> tuple[str, float | None]:
    """One POST to the token endpoint, with the client credentials in the header or the form,
    answered by `deadline` (a time.monotonic())."""
    headers = urllib3.HTTPHeaderDict(
        {"User-Agent": USER_AGENT, "Content-Type": "application/x-www-form-urlencoded"}
    )
    if in_params:
        credentials = {"client_id": oauth.client_id, "client_secret": secret}
        form = {**form, **{k: v for k, v in credentials.items() if v}}
    else:
        pair = f"{quote_plus(oauth.client_id)}:{quote_plus(secret)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    body = urlencode(sorted(form.items())).encode()
    try:
        transport, target = transport_for(oauth), _target(oauth.token_url)
    except ValueError as err:  # the oauth2 block's TLS or proxy settings, or its token_url
        raise _TokenError(f"oauth2 {err}") from None
    try:
        answer = steps.run(_exchange(transport, "POST", target, body, headers, deadline, True))
    except (urllib3.exceptions.HTTPError, CurlError, ValueError, _TooManyRedirects, _BadRedirect) as err:
        # Not str(err): http.client quotes a refused header value, here the client secret.
        problem = _transport_problem(err)[0]
        raise _TokenError(problem.replace("check proxy_url", "check the oauth2 proxy_url")) from None
    return _read_token(answer)


def _read_token(answer: Response) -> tuple[str, float | None]:
    """The Authorization value and expiry in a token endpoint's answer: JSON, or a form for
    `application/x-www-form-urlencoded` and `text/plain` answers (golang.org/x/oauth2's rule)."""
    content = answer.content[:_MAX_TOKEN_ANSWER]
    message = Message()
    message["Content-Type"] = answer.headers.get("Content-Type", "")
    failed = not 200 <= answer.status_code < 300
    fields: dict[str, Any]
    if message.get_content_type() in ("application/x-www-form-urlencoded", "text/plain"):
        fields = {k: v[0] for k, v in parse_qs(content.decode("utf-8", "replace")).items()}
    else:
        try:
            parsed = orjson.loads(content)
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            if failed:
                raise _TokenError(f"the token endpoint answered {answer.status_code}{_HINT}")
            raise _TokenError("the token endpoint's answer is not JSON; check oauth2 token_url")
        fields = parsed
    code = fields.get("error")
    if failed or code:
        detail = " ".join(str(fields[k])[:200] for k in ("error", "error_description") if fields.get(k))
        reason = f" ({detail})" if detail else ""
        raise _TokenError(f"the token endpoint answered {answer.status_code}{reason}{_HINT}")
    access = fields.get("access_token")
    if not access or not isinstance(access, str):
        raise _TokenError("the token endpoint's answer has no access_token; check oauth2 token_url")
    kind = str(fields.get("token_type") or "")
    kind = _TOKEN_TYPES.get(kind.lower(), kind or "Bearer")
    try:
        expires_in = int(fields.get("expires_in") or 0)
    except (TypeError, ValueError):
        raise _TokenError("the token endpoint's expires_in is not a number") from None
    return f"{kind} {access}", (time.monotonic() + expires_in if expires_in else None)


_HINT = "; check oauth2 client_id, client_secret, scopes and token_url"


@lru_cache(maxsize=128)
def _token_source(key: tuple[Any, ...]) -> _TokenSource:
    """The token source of one oauth2 setup (a forked child forgets them: `_forget_in_child`)."""
    return _TokenSource()


def _token_source_for(oauth: OAuth2) -> _TokenSource:
    """The shared token source of an oauth2 block: equal blocks (the same client at the same
    endpoint, with the same scopes and connection settings) share one token."""
    key = (
        oauth.client_id,
        oauth.client_secret,
        oauth.client_secret_file,
        tuple(oauth.scopes),
        oauth.token_url,
        tuple(sorted(oauth.endpoint_params.items())),
        tuple(vars(oauth.tls_config).values()),
        oauth.proxy_url,
        oauth.no_proxy,
        oauth.proxy_from_environment,
        tuple((name, tuple(values)) for name, values in oauth.proxy_connect_header.items()),
    )
    return _token_source(key)


def _forget_in_child() -> None:
    """In a forked child: its parent's transports (their pooled connections, whose sockets must
    not be used from two processes) and token sources are not its own, nor is a build lock a
    parent's thread may have held at the fork. The same hook as the curl handles' and the send
    pool's (curlhttp.py, sendpool.py): every per-process state of the send path is dropped when
    the process forks, not checked against its pid at every use."""
    global _building
    _building = threading.Lock()
    _by_settings.clear()
    _transport.cache_clear()
    _token_source.cache_clear()


os.register_at_fork(after_in_child=_forget_in_child)


def redact_url(url: str) -> str:
    """The URL without credentials, path or query: enough to say which server failed.

    Alertmanager treats a webhook URL as a secret (tokens often sit in the path or query), so
    nothing past the host ever reaches a log line or an error message.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<redacted URL>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}/<redacted>"


class _TooManyRedirects(Exception):
    """More than MAX_REDIRECTS redirects."""


class _BadRedirect(Exception):
    """A redirect to a URL alerter cannot follow (unparseable, not http or https)."""


def direct_curl(cfg: HTTPConfig) -> bool:
    """Whether this http_config's plain-http POSTs go straight to libcurl, with nothing that
    waits on the network before them: no proxy, no oauth2 token to fetch."""
    return cfg.oauth2 is None and not cfg.proxy_url and not cfg.proxy_from_environment


def request(
    cfg: HTTPConfig,
    method: str,
    url: str,
    body: bytes | None,
    headers: dict[str, str],
    timeout: float,
    what: str,
) -> Response:
    """`request_steps`, its requests made on this thread."""
    return steps.run(request_steps(cfg, method, url, body, headers, timeout, what))


def request_steps(
    cfg: HTTPConfig,
    method: str,
    url: str,
    body: bytes | None,
    headers: dict[str, str],
    timeout: float,
    what: str,
) -> steps.Steps[Response]:
    """One request with the http_config's auth, headers, TLS, proxy and redirect settings.

    `headers` are the integration's own (Content-Type, API keys); they are sent after the
    User-Agent, then come the http_config's `http_headers` (added, as Go's Header.Add: a name the
    integration set too is sent with both values) and last its authorization (basic_auth,
    authorization or an oauth2 token), which wins. An oauth2 token is fetched (or taken from the
    process's cache) within `timeout`; the request gets what is left of it.

    Returns the response whatever its status, with its body read (so the connection is back in
    the pool). Raises NotifyError for failures before a response arrives: retryable for network,
    token endpoint and credential-file problems, as Alertmanager retries every failed request;
    not retryable for a TLS or proxy setup that cannot load or a URL that cannot be used.
    Messages never hold the URL's path or the credentials; they start with `what` (the
    integration), the method and the redacted URL.
    """
    deadline = time.monotonic() + timeout
    try:
        transport = transport_for(cfg)
        target = _target(url)
    except ValueError as err:
        problem = str(err)
        if isinstance(err, _InvalidURL):
            problem = f"the URL is not valid ({err}); check url or url_file"
        raise NotifyError(f"{_where(what, method, url)}: {problem}", retryable=False) from None
    try:
        all_headers = _request_headers(cfg, headers, timeout)
    except NotifyError as err:
        raise NotifyError(f"{_where(what, method, url)}: {err}", retryable=err.retryable) from None
    try:
        follow = cfg.follow_redirects
        return (yield from _exchange(transport, method, target, body, all_headers, deadline, follow))
    except (urllib3.exceptions.HTTPError, CurlError, ValueError, _TooManyRedirects, _BadRedirect) as err:
        problem, retryable = _transport_problem(err)
        raise NotifyError(f"{_where(what, method, url)}: {problem}", retryable=retryable) from None


def _request_headers(cfg: HTTPConfig, headers: dict[str, str], timeout: float) -> Mapping[str, str]:
    """The User-Agent, the integration's `headers`, the `http_headers` and the authorization.

    Usually every name occurs once, whatever its case, and then a plain dict holds the same
    header lines as an HTTPHeaderDict and costs urllib3 far less to copy and walk (7-8 % of a
    request's instructions). The HTTPHeaderDict is built when it says something a dict cannot:
    `http_headers`, which add a line to a header of the same name, and names that differ only
    in case, which it takes for one header.
    """
    # Most configs have no http_headers: not calling for none saves an empty dict and list.
    configured = _configured_headers(cfg) if cfg.http_headers else []
    auth = _auth_headers(cfg, timeout)
    if not configured:
        merged = {"User-Agent": USER_AGENT, **headers, **auth}
        # map() rather than a set comprehension, which is a function call of its own.
        if len(set(map(str.lower, merged))) == len(merged):
            return merged
    all_headers = urllib3.HTTPHeaderDict({"User-Agent": USER_AGENT, **headers})
    for name, value in configured:
        all_headers.add(name, value)
    all_headers.update(auth)
    return all_headers


def _where(what: str, method: str, url: str) -> str:
    """The start of an error message; built only on failure, as redacting parses the URL."""
    return f"{what} {method} to {redact_url(url)}"


# What Go's client leaves out of a redirect to another host (net/http's makeHeadersCopier,
# prometheus/common's sensitiveHeadersStripRT for http_headers).
_SENSITIVE_HEADERS = (
    "Authorization",
    "Www-Authenticate",
    "Cookie",
    "Cookie2",
    "Proxy-Authorization",
    "Proxy-Authenticate",
)


def _exchange(
    transport: _Transport,
    method: str,
    target: _Target,
    body: bytes | None,
    headers: Mapping[str, str],
    deadline: float,
    follow_redirects: bool,
) -> steps.Steps[Response]:
    """The request and, when allowed, the redirects after it, by Go's net/http rules; each hop
    is yielded for the caller to make (app/notify/steps.py).

    Every hop gets what is left until `deadline` (a time.monotonic(); connect and read each, at
    least a millisecond), so redirects cannot stretch a send past the flush's deadline. Once a
    redirect leaves the first request's host (and its subdomains), the credentials and cookies
    stay behind for the rest of the chain.
    """
    origin, stripped = target.host, False
    for hop in range(MAX_REDIRECTS + 1):
        hop_headers = headers
        if target.authorization is not None:
            # The URL's credentials yield to an Authorization header in any case of its name.
            with_userinfo = urllib3.HTTPHeaderDict(headers)
            with_userinfo.setdefault("Authorization", target.authorization)
            hop_headers = with_userinfo
        left = deadline - time.monotonic()
        if left < 0.001:  # not max(): a builtin call cost 750 instructions, 1 % of a send
            left = 0.001
        raw = yield transport.request(method, target, body, hop_headers, left)
        location = raw.headers.get("Location") if raw.status in _REDIRECT_STATUSES else None
        if not follow_redirects or not location:
            return Response(raw.status, raw, raw.data)
        if hop == MAX_REDIRECTS:
            raise _TooManyRedirects
        try:
            next_target = _target(urljoin(target.url, location))
        except _InvalidURL as err:
            raise _BadRedirect(str(err)) from None
        if target.authorization is not None and not urlsplit(location).netloc:
            # Go resolves a relative Location against the URL, userinfo included.
            next_target = next_target._replace(authorization=target.authorization)
        # The chain's own copy, to take headers out of (and case-insensitive, as Go's Header).
        remaining = urllib3.HTTPHeaderDict(headers)
        if raw.status in (301, 302, 303) and method not in ("GET", "HEAD"):
            method, body = "GET", None
            remaining.discard("Content-Type")
        if not stripped and not _same_site(origin, next_target.host):
            stripped = True
            for name in _SENSITIVE_HEADERS:
                remaining.discard(name)
        headers, target = remaining, next_target
    raise AssertionError("unreachable")  # the loop returns or raises


def _same_site(origin: str, destination: str) -> bool:
    """Go's rule for forwarding credentials on a redirect: the same host or one of its
    subdomains (ports are not compared)."""
    return destination == origin or destination.endswith("." + origin)


_INVALID_URL = "the URL is not valid; check url or url_file"


def _transport_problem(err: BaseException) -> tuple[str, bool]:
    """What went wrong on the wire, and whether a retry may help; without the URL urllib3 puts
    into some of its messages."""
    exc = urllib3.exceptions
    if isinstance(err, CurlError):
        return _WIRE_PROBLEMS[err.kind].format(detail=err.detail), True
    if isinstance(err, exc.SSLError):
        cause = _innermost(err)
        detail = (
            getattr(cause, "verify_message", None) or getattr(cause, "reason", None) or type(cause).__name__
        )
        return (
            f"TLS handshake failed ({detail}); check tls_config (ca_file, server_name, client certificate)",
            True,
        )
    if isinstance(err, exc.ProxyError):
        return f"the proxy failed ({_os_detail(err)}); check proxy_url", True
    # NewConnectionError is a ConnectTimeoutError too: refusals and DNS failures come first.
    if isinstance(err, exc.NewConnectionError):
        return _WIRE_PROBLEMS["connect"].format(detail=_os_detail(err)), True
    if isinstance(err, exc.ConnectTimeoutError):
        return _WIRE_PROBLEMS["connect-timeout"], True
    if isinstance(err, exc.ReadTimeoutError):
        return _WIRE_PROBLEMS["read-timeout"], True
    if isinstance(err, exc.ProtocolError):
        return _WIRE_PROBLEMS["protocol"].format(detail=_os_detail(err)), True
    if isinstance(err, _TooManyRedirects):
        return "too many redirects; check the URL", True
    if isinstance(err, _BadRedirect):
        return f"the receiver redirected to a URL alerter cannot follow ({err}); check the URL", True
    if isinstance(err, exc.LocationValueError | http.client.InvalidURL):
        return _INVALID_URL, False
    if isinstance(err, ValueError):
        # http.client refuses header values with line breaks; a credentials file can be fixed.
        return "a header value is not valid (line break?); check the credentials", True
    return f"request failed ({type(err).__name__})", True


# The failures of a request that got no answer, the same whichever client sent it (CurlError's
# kinds, urllib3's exception classes).
_WIRE_PROBLEMS = {
    "connect": "connection failed ({detail}); check that the receiver is up and reachable",
    "connect-timeout": "timed out connecting; check that the receiver is reachable from alerter",
    "read-timeout": "timed out waiting for the response; the receiver is slow or the timeout too short",
    "protocol": "connection failed ({detail}); check that the receiver is up and reachable",
}


def _innermost(err: BaseException) -> BaseException:
    """The root cause of a urllib3 error: it nests the OS or SSL error a few levels down."""
    seen: set[int] = set()
    current: BaseException = err
    while id(current) not in seen:
        seen.add(id(current))
        nested = next((a for a in getattr(current, "args", ()) if isinstance(a, BaseException)), None)
        nested = nested or getattr(current, "reason", None) or current.__cause__ or current.__context__
        if not isinstance(nested, BaseException):
            break
        current = nested
    return current


def _os_detail(err: BaseException) -> str:
    cause = _innermost(err)
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return type(cause).__name__
