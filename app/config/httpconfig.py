"""`http_config` and `tls_config`: prometheus/common's HTTP client settings and their checks.

The global section and every integration share these, and prometheus/common (not Alertmanager)
owns their validation messages, so they live apart from the receivers that use them.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import Node

from app.config.addresses import url_problem
from app.config.model import Authorization, BasicAuth, Header, HTTPConfig, OAuth2, TLSConfig
from app.config.reader import (
    Converter,
    Reader,
    boolean,
    fail_on,
    or_default,
    raw,
    string,
    string_map,
    strings,
)
from app.gostrings import go_quote

_TLS_VERSIONS = ("TLS10", "TLS11", "TLS12", "TLS13")


def _tls_version(r: Reader, node: Node) -> str:
    text = r.string(node)
    fail_on(f"unknown TLS version: {text}" if text not in _TLS_VERSIONS else None)
    return text


_TLS_FIELDS: dict[str, Converter] = {
    "ca": string,
    "cert": string,
    "key": string,
    "ca_file": string,
    "cert_file": string,
    "key_file": string,
    "server_name": string,
    "insecure_skip_verify": boolean,
    "min_version": _tls_version,
    "max_version": _tls_version,
}


def _tls_problem(tls: TLSConfig) -> str | None:
    if tls.ca and tls.ca_file:
        return "at most one of ca, ca_file & ca_ref must be configured"
    if tls.cert and tls.cert_file:
        return "at most one of cert, cert_file & cert_ref must be configured"
    if tls.key and tls.key_file:
        return "at most one of key and key_file must be configured"
    has_cert, has_key = bool(tls.cert or tls.cert_file), bool(tls.key or tls.key_file)
    if has_cert and not has_key:
        return "exactly one of key or key_file must be configured when a client certificate is configured"
    if has_key and not has_cert:
        return "exactly one of cert or cert_file must be configured when a client key is configured"
    return None


def tls_config(r: Reader, node: Node) -> TLSConfig | None:
    values, clean = r.checked_struct(node, "config.plain", _TLS_FIELDS)
    if values is None:
        return None
    tls = TLSConfig(**{k: v for k, v in values.items() if v is not None})
    if clean:
        fail_on(_tls_problem(tls))
    return tls


_BASIC_AUTH_FIELDS: dict[str, Converter] = {
    "username": string,
    "username_file": string,
    "password": string,
    "password_file": string,
}
_AUTHORIZATION_FIELDS: dict[str, Converter] = {
    "type": string,
    "credentials": string,
    "credentials_file": string,
}


def _basic_auth(r: Reader, node: Node) -> BasicAuth | None:
    values = r.struct(node, "config.plain", _BASIC_AUTH_FIELDS)
    return None if values is None else BasicAuth(**values)


def _authorization(r: Reader, node: Node) -> Authorization | None:
    values = r.struct(node, "config.Authorization", _AUTHORIZATION_FIELDS)
    return None if values is None else Authorization(**{"type": "", **values})


def _proxy_header(r: Reader, node: Node) -> dict[str, list[str]] | None:
    """`proxy_connect_header`: header name -> values (secrets), prometheus/common's ProxyHeader."""
    return r.mapping(node, "config.ProxyHeader", lambda n: r.strings(n, "[]config.Secret") or [])


_HEADER_FIELDS: dict[str, Converter] = {"values": strings, "secrets": strings, "files": strings}


def _header(r: Reader, node: Node) -> Header:
    fields = r.struct(node, "config.Header", _HEADER_FIELDS) or {}
    return Header(**{k: v for k, v in fields.items() if v is not None})


def _http_headers(r: Reader, node: Node) -> dict[str, Header] | None:
    """`http_headers`: header name -> its values, secrets and files (prometheus/common's Headers)."""
    return r.mapping(node, "config.Headers", lambda n: _header(r, n))


# prometheus/common's ReservedHeaders: set by the client itself or changing the connection.
_RESERVED_HEADERS = frozenset(
    {
        "Authorization",
        "Host",
        "Content-Encoding",
        "Content-Length",
        "Content-Type",
        "User-Agent",
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Www-Authenticate",
        "Accept-Encoding",
        "X-Prometheus-Remote-Write-Version",
        "X-Prometheus-Remote-Read-Version",
        "X-Prometheus-Scrape-Timeout-Seconds",
        "X-Amz-Date",
        "X-Amz-Security-Token",
        "X-Amz-Content-Sha256",
    }
)
_TOKEN_PUNCTUATION = frozenset("!#$%&'*+-.^_`|~")


def _is_header_token(name: str) -> bool:
    """Whether `name` is an HTTP header name (an RFC 9110 token), the only kind Go will send."""
    return bool(name) and all(c.isascii() and (c.isalnum() or c in _TOKEN_PUNCTUATION) for c in name)


def canonical_header(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: `content-type` -> `Content-Type`; a name that is not
    a token is left as written, as Go does."""
    if not _is_header_token(name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _unsendable(setting: str, headers: dict[str, list[str]]) -> str | None:
    """A header name or value HTTP cannot carry: Go refuses to send such a request (or, on a
    CONNECT, writes it as is), so it is refused at load instead of failing every notification."""
    for name, values in headers.items():
        if not _is_header_token(name):
            return f"{setting}: {go_quote(name)} is not a valid HTTP header name"
        # httpguts.ValidHeaderFieldValue: no control characters but tab.
        if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for v in values for c in v):
            return (
                f"{setting}: a value of {go_quote(name)} holds a line break or control character, "
                "which HTTP cannot carry"
            )
    return None


def _headers_problem(headers: dict[str, Header] | None) -> str | None:
    """prometheus/common's Headers.Validate, then what HTTP cannot carry."""
    for name in headers or {}:
        if canonical_header(name) in _RESERVED_HEADERS:
            return f"setting header {go_quote(canonical_header(name))} is not allowed"
    inline = {name: [*h.values, *h.secrets] for name, h in (headers or {}).items()}
    return _unsendable("http_headers", inline)


_PROXY_FIELDS: dict[str, Converter] = {
    "proxy_url": string,
    "no_proxy": string,
    "proxy_from_environment": boolean,
    "proxy_connect_header": _proxy_header,
}

_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Fields of prometheus/common's OAuth2 that only its jwt-bearer grant reads.
_JWT_ONLY = (
    "client_certificate_key_id",
    "client_certificate_key",
    "client_certificate_key_file",
    "signature_algorithm",
    "iss",
    "audience",
    "claims",
)
_OAUTH2_FIELDS: dict[str, Converter] = {
    "client_id": string,
    "client_secret": string,
    "client_secret_file": string,
    "client_secret_ref": string,
    "client_certificate_key_ref": string,
    **dict.fromkeys(_JWT_ONLY, raw),
    "grant_type": string,
    "scopes": strings,
    "token_url": string,
    "endpoint_params": string_map,
    "tls_config": tls_config,
    **_PROXY_FIELDS,
}


def _oauth2(r: Reader, node: Node) -> dict[str, Any] | None:
    """The oauth2 block as written; prometheus/common checks its proxy settings right away."""
    values, clean = r.checked_struct(node, "config.plain", _OAUTH2_FIELDS)
    if values is not None and clean:
        fail_on(_proxy_problem(values))
    return values


def _oauth2_refusal(values: dict[str, Any]) -> str | None:
    """What alerter cannot honour in an oauth2 block that prometheus/common accepts."""
    if values.get("grant_type") == _JWT_BEARER:
        return (
            f"oauth2 grant_type {_JWT_BEARER} is not supported by alerter; use the client credentials "
            "grant (client_id with client_secret or client_secret_file)"
        )
    for name in ("client_secret_ref", "client_certificate_key_ref"):
        if values.get(name):
            return (
                f"oauth2 {name}: alerter has no secret manager (Alertmanager has none either and fails "
                "to build the receiver); use client_secret or client_secret_file"
            )
    for name in _JWT_ONLY:
        if values.get(name):
            return (
                f"oauth2 {name} is only read by the jwt-bearer grant, which alerter does not support; "
                "remove it"
            )
    if values.get("scopes") and "scope" in (values.get("endpoint_params") or {}):
        return (
            'oauth2 endpoint_params cannot set "scope" when scopes is set (the token request would '
            "always fail); list the scopes in one of them"
        )
    problem = url_problem(values.get("token_url", ""))
    if problem:
        return f"oauth2 token_url: {problem}"
    return _unsendable("proxy_connect_header", values.get("proxy_connect_header") or {})


_OAUTH2_MODEL_FIELDS = frozenset(OAuth2.__dataclass_fields__)


def _oauth2_model(values: dict[str, Any]) -> OAuth2:
    """The OAuth2 alerter runs; the fields it refuses were checked to be unset."""
    return OAuth2(**{k: v for k, v in values.items() if v is not None and k in _OAUTH2_MODEL_FIELDS})


_HTTP_FIELDS: dict[str, Converter] = {
    "basic_auth": _basic_auth,
    "authorization": _authorization,
    "oauth2": _oauth2,
    "bearer_token": string,
    "bearer_token_file": string,
    "tls_config": tls_config,
    "follow_redirects": boolean,
    "enable_http2": boolean,
    **_PROXY_FIELDS,
    "http_headers": _http_headers,
}


def _auth_problem(values: dict[str, Any]) -> str | None:
    """prometheus/common's HTTPClientConfig.Validate, for the authentication settings."""
    basic, auth, oauth = values.get("basic_auth"), values.get("authorization"), values.get("oauth2")
    bearer, bearer_file = values.get("bearer_token"), values.get("bearer_token_file")
    if bearer and bearer_file:
        return "at most one of bearer_token & bearer_token_file must be configured"
    if (basic or oauth is not None) and (bearer or bearer_file):
        return "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
    if basic and basic.username and basic.username_file:
        return "at most one of basic_auth username, username_file & username_ref must be configured"
    if basic and basic.password and basic.password_file:
        return "at most one of basic_auth password, password_file & password_ref must be configured"
    if auth is not None:
        if bearer or bearer_file:
            return "authorization is not compatible with bearer_token & bearer_token_file"
        if auth.credentials and auth.credentials_file:
            return "at most one of authorization credentials & credentials_file must be configured"
        if auth.type.strip().lower() == "basic":
            return 'authorization type cannot be set to "basic", use "basic_auth" instead'
        if basic or oauth is not None:
            return "at most one of basic_auth, oauth2 & authorization must be configured"
    return _oauth2_problem(oauth, basic) if oauth is not None else None


def _oauth2_problem(oauth: dict[str, Any], basic: BasicAuth | None) -> str | None:
    if basic:
        return "at most one of basic_auth, oauth2 & authorization must be configured"
    if not oauth.get("client_id"):
        return "oauth2 client_id must be configured"
    if not oauth.get("token_url"):
        return "oauth2 token_url must be configured"
    if oauth.get("grant_type") == _JWT_BEARER:
        return None  # refused by _oauth2_refusal
    if sum(bool(oauth.get(k)) for k in ("client_secret", "client_secret_file", "client_secret_ref")) > 1:
        return (
            "at most one of oauth2 client_secret, client_secret_file & client_secret_ref must be configured "
            "using grant-type=client_credentials"
        )
    return None


def _proxy_problem(values: dict[str, Any]) -> str | None:
    proxy_url, from_env, no_proxy = (
        values.get("proxy_url"),
        values.get("proxy_from_environment"),
        values.get("no_proxy"),
    )
    if values.get("proxy_connect_header") and not from_env and not proxy_url:
        return (
            "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be "
            "configured"
        )
    if from_env and proxy_url:
        return "if proxy_from_environment is configured, proxy_url must not be configured"
    if from_env and no_proxy:
        return "if proxy_from_environment is configured, no_proxy must not be configured"
    if no_proxy and not proxy_url:
        return "if no_proxy is configured, proxy_url must also be configured"
    return None


def http_config(r: Reader, node: Node) -> HTTPConfig | None:
    values, clean = r.checked_struct(node, "config.plain", _HTTP_FIELDS)
    if values is None:
        return None
    oauth2 = values.get("oauth2")
    if clean:
        fail_on(_auth_problem(values), _proxy_problem(values), _headers_problem(values.get("http_headers")))
        fail_on(
            _oauth2_refusal(oauth2) if oauth2 is not None else None,
            _unsendable("proxy_connect_header", values.get("proxy_connect_header") or {}),
        )
    authorization = values.get("authorization")
    if authorization is not None:
        authorization.type = authorization.type.strip() or "Bearer"
    elif values.get("bearer_token") or values.get("bearer_token_file"):
        # Deprecated bearer_token/_file become an Authorization header, as in prometheus/common.
        authorization = Authorization(
            "Bearer", values.get("bearer_token", ""), values.get("bearer_token_file", "")
        )
    return HTTPConfig(
        basic_auth=values.get("basic_auth"),
        authorization=authorization,
        tls_config=values.get("tls_config") or TLSConfig(),
        proxy_url=values.get("proxy_url", ""),
        follow_redirects=or_default(values.get("follow_redirects"), True),
        enable_http2=or_default(values.get("enable_http2"), True),
        no_proxy=values.get("no_proxy", ""),
        proxy_from_environment=bool(values.get("proxy_from_environment")),
        proxy_connect_header=values.get("proxy_connect_header") or {},
        oauth2=_oauth2_model(oauth2) if oauth2 is not None else None,
        http_headers=values.get("http_headers"),
    )
