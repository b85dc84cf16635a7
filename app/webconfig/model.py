"""The web configuration file (`--web.config.file`): Prometheus' exporter-toolkit format, as
Alertmanager reads it.

    tls_server_config:  cert(_file), key(_file), client_ca(_file), client_auth_type,
                        client_allowed_sans, min_version, max_version, cipher_suites,
                        prefer_server_cipher_suites, curve_preferences
    http_server_config: http2, headers
    rate_limit:         interval, burst
    basic_auth_users:   name -> bcrypt hash

Parsing is strict, like the toolkit's (an unknown key is an error), and everything that can be
checked without a request is checked when the file loads, so a file that is missing or wrong
stops alerter at start with the problem named. Relative file paths are taken from the file's
own directory, as the toolkit does.

Two settings are refused rather than accepted, because alerter's TLS stack (OpenSSL through
Python's `ssl`) cannot honour them: `curve_preferences` (no way to set a preference list), and
the client-auth types that ask for a client certificate without verifying it
(`RequestClientCert`, `RequireAnyClientCert`).
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field
from typing import Any

import bcrypt
import yaml

from app.durations import parse_go_duration


class WebConfigError(ValueError):
    """A web configuration file that cannot be used; the message names the file and the problem."""


_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}

# Go's names of the cipher suites crypto/tls offers (tls.CipherSuites()) and OpenSSL's names of
# the same suites. Go does not let TLS 1.3 suites be chosen (they are always on); they are
# accepted here too and, as in Go, change nothing.
GO_CIPHER_SUITES: dict[str, str | None] = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_AES_128_GCM_SHA256": None,
    "TLS_AES_256_GCM_SHA384": None,
    "TLS_CHACHA20_POLY1305_SHA256": None,
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
}

_CLIENT_AUTH = {
    "": ssl.CERT_NONE,
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")

# The response headers the toolkit lets the file set, with the values it allows (None: any).
ALLOWED_HEADERS: dict[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}

_TOP_KEYS = {"tls_server_config", "http_server_config", "rate_limit", "basic_auth_users"}
# exporter-toolkit's web.TLSConfig keys (also the server half of --cluster.tls-config).
TLS_SERVER_KEYS = {
    "cert",
    "key",
    "client_ca",
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "cipher_suites",
    "curve_preferences",
    "min_version",
    "max_version",
    "prefer_server_cipher_suites",
    "client_allowed_sans",
}
_HTTP_KEYS = {"http2", "headers"}
_RATE_KEYS = {"interval", "burst"}


@dataclass(frozen=True)
class TLSServerConfig:
    cert: str = ""
    key: str = field(default="", repr=False)
    client_ca: str = ""
    cert_file: str = ""
    key_file: str = ""
    client_auth: ssl.VerifyMode = ssl.CERT_NONE
    client_ca_file: str = ""
    openssl_ciphers: tuple[str, ...] = ()
    min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2
    max_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_3
    prefer_server_cipher_suites: bool = True
    client_allowed_sans: tuple[str, ...] | None = None

    @property
    def enabled(self) -> bool:
        """The toolkit serves TLS as soon as any certificate or client-auth setting is present."""
        return (
            bool(self.cert or self.key or self.cert_file or self.key_file or self.client_ca)
            or bool(self.client_ca_file)
            or self.client_auth != ssl.CERT_NONE
        )


@dataclass(frozen=True)
class WebConfig:
    path: str
    tls: TLSServerConfig = field(default_factory=TLSServerConfig)
    http2: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    rate_interval: float = 0.0
    rate_burst: int = 0
    users: dict[str, bytes] = field(default_factory=dict, repr=False)


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WebConfigError(f"{where} must be a mapping, got {type(value).__name__}")
    return value


def _strict(values: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise WebConfigError(f"field {unknown[0]} not found in {where}")


def _string(values: dict[str, Any], key: str, where: str) -> str:
    value = values.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise WebConfigError(f"{where}.{key} must be a string")
    return value


def _join(base: str, path: str) -> str:
    return path if not path or os.path.isabs(path) else os.path.join(base, path)


def _tls(values: dict[str, Any], base: str) -> TLSServerConfig:
    where = "tls_server_config"
    _strict(values, TLS_SERVER_KEYS, where)
    if values.get("curve_preferences"):
        raise WebConfigError(
            "tls_server_config.curve_preferences cannot be honoured by alerter's TLS stack "
            "(Python's ssl module has no curve preference list); remove it to use OpenSSL's "
            "defaults (X25519, P-256, P-384)"
        )
    auth_name = _string(values, "client_auth_type", where)
    if auth_name in _UNVERIFIED_CLIENT_AUTH:
        raise WebConfigError(
            f"tls_server_config.client_auth_type {auth_name} asks for a client certificate "
            "without verifying it, which alerter's TLS stack cannot do; use "
            "RequireAndVerifyClientCert (or VerifyClientCertIfGiven) with client_ca_file"
        )
    if auth_name not in _CLIENT_AUTH:
        raise WebConfigError(f"invalid ClientAuth: {auth_name}")
    ciphers = []
    for name in values.get("cipher_suites") or []:
        if name not in GO_CIPHER_SUITES:
            raise WebConfigError(f"unknown cipher: {name}")
        if GO_CIPHER_SUITES[name]:
            ciphers.append(GO_CIPHER_SUITES[name])
    versions = {}
    for key, default in (("min_version", "TLS12"), ("max_version", "TLS13")):
        name = values.get(key) or default
        if name not in _TLS_VERSIONS:
            raise WebConfigError(f"unknown TLS version: {name}")
        versions[key] = _TLS_VERSIONS[name]
    sans = values.get("client_allowed_sans")
    prefer = values.get("prefer_server_cipher_suites", True)
    if not isinstance(prefer, bool):
        raise WebConfigError(f"{where}.prefer_server_cipher_suites must be true or false")
    tls = TLSServerConfig(
        cert=_string(values, "cert", where),
        key=_string(values, "key", where),
        client_ca=_string(values, "client_ca", where),
        cert_file=_join(base, _string(values, "cert_file", where)),
        key_file=_join(base, _string(values, "key_file", where)),
        client_auth=_CLIENT_AUTH[auth_name],
        client_ca_file=_join(base, _string(values, "client_ca_file", where)),
        openssl_ciphers=tuple(ciphers),
        min_version=versions["min_version"],
        max_version=versions["max_version"],
        prefer_server_cipher_suites=prefer,
        client_allowed_sans=tuple(str(s) for s in sans) if sans is not None else None,
    )
    if not tls.enabled:
        return tls
    if not tls.cert and not tls.cert_file:
        raise WebConfigError("missing one of cert or cert_file")
    if not tls.key and not tls.key_file:
        raise WebConfigError("missing one of key or key_file")
    if (tls.client_ca or tls.client_ca_file) and tls.client_auth == ssl.CERT_NONE:
        raise WebConfigError("client CA's have been configured without a Client Auth Policy")
    return tls


def _headers(values: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in values.items():
        if name not in ALLOWED_HEADERS:
            raise WebConfigError(f'HTTP header "{name}" can not be configured')
        allowed = ALLOWED_HEADERS[name]
        if allowed is not None and value not in allowed:
            raise WebConfigError(
                f"invalid value for {name}. Expected one of: {list(allowed)}, but got: {value!r}"
            )
        if value:
            headers[name] = str(value)
    return headers


def _users(values: dict[str, Any]) -> dict[str, bytes]:
    users: dict[str, bytes] = {}
    for name, hashed in values.items():
        encoded = str(hashed or "").encode()
        try:
            bcrypt.checkpw(b"", encoded)  # raises ValueError when the hash is not bcrypt
        except ValueError:
            raise WebConfigError(
                f"basic_auth_users: the password of {name!r} is not a bcrypt hash; generate one with "
                "`htpasswd -nBC 10 \"\" | tr -d ':\\n'`"
            ) from None
        users[str(name)] = encoded
    return users


def parse_web_config(text: str, path: str) -> WebConfig:
    """The web configuration in `text` (read from `path`); raises WebConfigError."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise WebConfigError(str(err)) from None
    top = _mapping(raw, "the web configuration")
    _strict(top, _TOP_KEYS, "web.Config")
    base = os.path.dirname(os.path.abspath(path))
    http = _mapping(top.get("http_server_config"), "http_server_config")
    _strict(http, _HTTP_KEYS, "http_server_config")
    rate = _mapping(top.get("rate_limit"), "rate_limit")
    _strict(rate, _RATE_KEYS, "rate_limit")
    http2 = http.get("http2", True)
    if not isinstance(http2, bool):
        raise WebConfigError("http_server_config.http2 must be true or false")
    try:
        interval = parse_go_duration(str(rate["interval"])) if rate.get("interval") is not None else 0.0
    except ValueError as err:
        raise WebConfigError(f"rate_limit.interval: {err}") from None
    burst = rate.get("burst", 0)
    if not isinstance(burst, int) or isinstance(burst, bool) or burst < 0:
        raise WebConfigError("rate_limit.burst must be a whole number")
    return WebConfig(
        path=path,
        tls=_tls(_mapping(top.get("tls_server_config"), "tls_server_config"), base),
        http2=http2,
        headers=_headers(_mapping(http.get("headers"), "http_server_config.headers")),
        rate_interval=interval,
        rate_burst=burst,
        users=_users(_mapping(top.get("basic_auth_users"), "basic_auth_users")),
    )


def read_web_config(path: str) -> WebConfig:
    """Read and check the file; raises WebConfigError naming the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise WebConfigError(f"--web.config.file {path}: {(err.strerror or str(err)).lower()}") from None
    try:
        return parse_web_config(text, path)
    except WebConfigError as err:
        raise WebConfigError(f"--web.config.file {path}: {err}") from None
