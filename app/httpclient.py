"""HTTP and TLS for the integrations: Prometheus' `http_config` and `tls_config` on requests.

One `requests.Session` is kept per distinct transport setup (TLS settings and proxy) and
process, so that notifications to the same receiver reuse pooled connections; a forked worker
builds its own instead of sharing its parent's sockets. Credentials are not part of the session:
they are read for every request, from the config or from their files, as Prometheus does, so a
rotated password file is picked up without a reload.

`tls_context` builds the `ssl.SSLContext` of a Prometheus `tls_config` and `value_or_file` reads
a credential; the email integration uses both too. Like Go's client, a configured CA replaces the
default trust store instead of adding to it.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import astuple
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH, should_bypass_proxies

from app import __version__
from app.config import HTTPConfig, TLSConfig
from app.notifiers import NotifyError

USER_AGENT = f"alerter/{__version__}"

# insecure_skip_verify is the operator's explicit choice; like Alertmanager, do not warn on every send.
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}


def tls_context(cfg: TLSConfig) -> ssl.SSLContext:
    """The client SSL context for a tls_config; raises ValueError naming the setting at fault.

    Files are read once here; alerter builds contexts again when the config changes.
    """
    try:
        if cfg.ca_file or cfg.ca:
            ctx = ssl.create_default_context(cafile=cfg.ca_file or None, cadata=cfg.ca or None)
        else:
            ctx = ssl.create_default_context(cafile=DEFAULT_CA_BUNDLE_PATH)
    except (OSError, ssl.SSLError) as err:
        raise ValueError(f"tls_config: cannot load the CA ({cfg.ca_file or 'inline ca'}): {err}") from None
    if cfg.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    for setting, value in (("min_version", cfg.min_version), ("max_version", cfg.max_version)):
        if value:
            if value not in _TLS_VERSIONS:
                raise ValueError(f"tls_config: unknown {setting} {value!r}")
            setattr(ctx, setting, _TLS_VERSIONS[value])
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


class _TLSAdapter(HTTPAdapter):
    """An adapter whose connections use one prepared SSL context and TLS server name.

    requests would otherwise load its own CA bundle into every connection (see `cert_verify`),
    which would widen the trust a configured `ca_file` is meant to narrow.
    """

    def __init__(self, context: ssl.SSLContext, server_name: str) -> None:
        self._context = context
        self._server_name = server_name
        super().__init__()

    def _tls_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs["ssl_context"] = self._context
        if self._server_name:
            kwargs["server_hostname"] = self._server_name
        return kwargs

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **self._tls_kwargs(kwargs))

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        return super().proxy_manager_for(proxy, **self._tls_kwargs(kwargs))

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        """Leave verification to the SSL context."""


@lru_cache(maxsize=128)
def _session(key: tuple[Any, ...], pid: int) -> requests.Session:
    """The session for one transport setup in one process (`pid` keeps forks apart)."""
    tls, proxy_url, proxy_from_environment = key
    tls_cfg = TLSConfig(*tls)
    session = requests.Session()
    # Go's client reads proxy settings (and nothing else) from the environment only when told.
    session.trust_env = proxy_from_environment
    session.verify = not tls_cfg.insecure_skip_verify
    adapter = _TLSAdapter(tls_context(tls_cfg), tls_cfg.server_name)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if proxy_url:
        session.proxies = {"http": proxy_url, "https": proxy_url}
    return session


def session_for(cfg: HTTPConfig) -> requests.Session:
    """The shared session for this http_config's transport; raises ValueError for a bad TLS setup."""
    key = (astuple(cfg.tls_config), cfg.proxy_url, cfg.proxy_from_environment)
    return _session(key, os.getpid())


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


def _auth_headers(cfg: HTTPConfig) -> dict[str, str]:
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
    return {}


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


def _transport_problem(err: requests.RequestException) -> str:
    """What went wrong on the wire, without the URL requests puts into its messages."""
    if isinstance(err, requests.exceptions.SSLError):
        cause = _innermost(err)
        detail = (
            getattr(cause, "verify_message", None) or getattr(cause, "reason", None) or type(cause).__name__
        )
        return f"TLS handshake failed ({detail}); check tls_config (ca_file, server_name, client certificate)"
    if isinstance(err, requests.exceptions.ProxyError):
        return f"the proxy failed ({_os_detail(err)}); check proxy_url"
    if isinstance(err, requests.exceptions.ConnectTimeout):
        return "timed out connecting; check that the receiver is reachable from alerter"
    if isinstance(err, requests.exceptions.Timeout):
        return "timed out waiting for the response; the receiver is slow or the timeout too short"
    if isinstance(err, requests.exceptions.TooManyRedirects):
        return "too many redirects; check the URL"
    if isinstance(err, requests.exceptions.ConnectionError):
        return f"connection failed ({_os_detail(err)}); check that the receiver is up and reachable"
    if isinstance(err, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return "the URL is not valid; check url or url_file"
    return f"request failed ({type(err).__name__})"


def _innermost(err: BaseException) -> BaseException:
    """The root cause of a requests error: urllib3 nests the OS or SSL error a few levels down."""
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


def post(
    cfg: HTTPConfig, url: str, body: bytes, content_type: str, timeout: float, what: str
) -> requests.Response:
    """POST with the http_config's auth, TLS, proxy and redirect settings.

    Returns the response whatever its status (with its body read, so the connection goes back to
    the pool). Raises NotifyError for failures before a response arrives: retryable for network
    and credential-file problems, as Alertmanager retries every failed request; not retryable for
    a TLS setup that cannot load or a URL that cannot be parsed. Messages never hold the URL's
    path or the credentials; they start with `what` (the integration) and the redacted URL.
    """
    where = f"{what} POST to {redact_url(url)}"
    try:
        session = session_for(cfg)
    except ValueError as err:
        raise NotifyError(f"{where}: {err}", retryable=False) from None
    try:
        headers = {"User-Agent": USER_AGENT, "Content-Type": content_type, **_auth_headers(cfg)}
    except NotifyError as err:
        raise NotifyError(f"{where}: {err}", retryable=err.retryable) from None
    proxies = None
    if cfg.proxy_url and cfg.no_proxy and should_bypass_proxies(url, no_proxy=cfg.no_proxy):
        proxies = {"http": "", "https": ""}
    try:
        response = session.post(
            url,
            data=body,
            headers=headers,
            timeout=timeout,
            allow_redirects=cfg.follow_redirects,
            proxies=proxies,
        )
        response.content  # noqa: B018 - read the body now so the connection is released
    except requests.RequestException as err:
        retryable = not isinstance(err, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema)
        raise NotifyError(f"{where}: {_transport_problem(err)}", retryable=retryable) from None
    return response
