"""`http_config` and `tls_config`: prometheus/common's HTTP client settings and their checks.

The global section and every integration share these, and prometheus/common (not Alertmanager)
owns their validation messages, so they live apart from the receivers that use them.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import Node

from app.config.model import Authorization, BasicAuth, HTTPConfig, TLSConfig
from app.config.reader import Converter, Reader, boolean, fail_on, or_default, raw, string

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
_OAUTH2_FIELDS = [
    "client_id",
    "client_secret",
    "client_secret_file",
    "client_certificate_key_id",
    "client_certificate_key",
    "client_certificate_key_file",
    "grant_type",
    "signature_algorithm",
    "iss",
    "audience",
    "claims",
    "scopes",
    "token_url",
    "endpoint_params",
    "tls_config",
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
]


def _basic_auth(r: Reader, node: Node) -> BasicAuth | None:
    values = r.struct(node, "config.plain", _BASIC_AUTH_FIELDS)
    return None if values is None else BasicAuth(**values)


def _authorization(r: Reader, node: Node) -> Authorization | None:
    values = r.struct(node, "config.Authorization", _AUTHORIZATION_FIELDS)
    return None if values is None else Authorization(**{"type": "", **values})


def _oauth2(r: Reader, node: Node) -> dict[str, Any] | None:
    values = r.struct(node, "config.OAuth2", dict.fromkeys(_OAUTH2_FIELDS, raw))
    return None if values is None else {k: v for k, v in values.items() if v is not None}


_HTTP_FIELDS: dict[str, Converter] = {
    "basic_auth": _basic_auth,
    "authorization": _authorization,
    "oauth2": _oauth2,
    "bearer_token": string,
    "bearer_token_file": string,
    "tls_config": tls_config,
    "follow_redirects": boolean,
    "enable_http2": boolean,
    "proxy_url": string,
    "no_proxy": string,
    "proxy_from_environment": boolean,
    "proxy_connect_header": raw,
    "http_headers": raw,
}


def _auth_problem(values: dict[str, Any]) -> str | None:
    """prometheus/common's HTTPClientConfig.Validate, for the authentication settings."""
    basic, auth, oauth = values.get("basic_auth"), values.get("authorization"), values.get("oauth2")
    bearer, bearer_file = values.get("bearer_token"), values.get("bearer_token_file")
    if bearer and bearer_file:
        return "at most one of bearer_token & bearer_token_file must be configured"
    if (basic or oauth) and (bearer or bearer_file):
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
        if basic or oauth:
            return "at most one of basic_auth, oauth2 & authorization must be configured"
    return _oauth2_problem(oauth, basic) if oauth is not None else None


def _oauth2_problem(oauth: dict[str, Any], basic: BasicAuth | None) -> str | None:
    if basic:
        return "at most one of basic_auth, oauth2 & authorization must be configured"
    if not oauth.get("client_id"):
        return "oauth2 client_id must be configured"
    if not oauth.get("token_url"):
        return "oauth2 token_url must be configured"
    if oauth.get("client_secret") and oauth.get("client_secret_file"):
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
    if clean:
        fail_on(_auth_problem(values), _proxy_problem(values))
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
        oauth2=values.get("oauth2"),
        http_headers=values.get("http_headers"),
    )
