"""Alertmanager's resolveFilepaths: relative file paths are taken from the config file's directory.

So a config loads the same whatever alerter's working directory is: template globs and every HTTP
client file (CA, certificate, key, password, credentials, oauth2 secret, header files) are
resolved once, when loading.
"""

from __future__ import annotations

import os

from app.config.model import Config, HTTPConfig, TLSConfig


def _join_dir(base_dir: str, path: str) -> str:
    """prometheus/common's JoinDir: relative paths are taken from the config file's directory."""
    if not path or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base_dir, path))


def _resolve_tls_paths(tls: TLSConfig, base_dir: str) -> None:
    tls.ca_file = _join_dir(base_dir, tls.ca_file)
    tls.cert_file = _join_dir(base_dir, tls.cert_file)
    tls.key_file = _join_dir(base_dir, tls.key_file)


def _resolve_http_paths(http: HTTPConfig, base_dir: str) -> None:
    """prometheus/common's HTTPClientConfig.SetDirectory."""
    _resolve_tls_paths(http.tls_config, base_dir)
    if http.basic_auth:
        http.basic_auth.password_file = _join_dir(base_dir, http.basic_auth.password_file)
        http.basic_auth.username_file = _join_dir(base_dir, http.basic_auth.username_file)
    if http.authorization:
        http.authorization.credentials_file = _join_dir(base_dir, http.authorization.credentials_file)
    if http.oauth2:
        http.oauth2.client_secret_file = _join_dir(base_dir, http.oauth2.client_secret_file)
        _resolve_tls_paths(http.oauth2.tls_config, base_dir)
    for header in (http.http_headers or {}).values():
        header.files = [_join_dir(base_dir, f) for f in header.files]


def resolve_paths(config: Config, base_dir: str) -> None:
    """Alertmanager's resolveFilepaths: templates and HTTP client files of every integration."""
    config.templates = [_join_dir(base_dir, t) for t in config.templates]
    seen: set[int] = set()
    https = [config.global_.http_config]
    for receiver in config.receivers.values():
        https += [w.http_config for w in receiver.webhook_configs]
        https += [item.http_config for items in receiver.raw_integrations.values() for item in items]
    for http in https:
        if id(http) not in seen:
            seen.add(id(http))
            _resolve_http_paths(http, base_dir)
