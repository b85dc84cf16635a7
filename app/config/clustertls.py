"""`--cluster.tls-config`: Alertmanager's cluster TLS file, read for alerter's Redis connections.

Alertmanager reads this file (cluster/tls_config.go) strictly into two sections:
`tls_server_config` (exporter-toolkit's settings for the gossip listener) and `tls_client_config`
(prometheus/common's `tls_config`, for dialling the other peers), with relative file paths taken
from the file's directory. An Alertmanager file therefore loads here unchanged, and a misspelt
field is refused rather than skipped: a TLS setting that silently does nothing is the worst case.

alerter's peers are Redis servers and Sentinels and alerter opens no cluster port, so only
`tls_client_config` has an effect: it is the TLS of every connection to Redis (app/backend.py).
`tls_server_config` is checked for unknown fields, so that a file written for Alertmanager keeps
loading, and otherwise has nothing to configure.
"""

from __future__ import annotations

import dataclasses
import os

import yaml

from app.config.httpconfig import tls_config
from app.config.loader import _syntax_error
from app.config.model import ConfigError, TLSConfig
from app.config.paths import _join_dir
from app.config.reader import Reader, raw
from app.webconfig.model import TLS_SERVER_KEYS

# exporter-toolkit's web.TLSConfig: the gossip listener's settings, accepted and unused.
_SERVER_FIELDS = dict.fromkeys(sorted(TLS_SERVER_KEYS), raw)
_TYPE = "cluster.TLSTransportConfig"
_FIELDS = {
    "tls_server_config": lambda r, node: r.struct(node, "web.TLSConfig", _SERVER_FIELDS),
    "tls_client_config": tls_config,
}


def load_cluster_tls(path: str) -> TLSConfig:
    """The `tls_client_config` of a --cluster.tls-config file (all defaults when the file has
    none: TLS verified against the system's trust store, as Go does); raises ConfigError naming
    the file and the problem."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise ConfigError(f"--cluster.tls-config {path}: cannot read it: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--cluster.tls-config {path}: the file is not valid UTF-8") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        reader = Reader("")
        values = reader.struct(node, _TYPE, _FIELDS) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"--cluster.tls-config {path}: {_syntax_error(err)}") from None
    except ConfigError as err:
        raise ConfigError(f"--cluster.tls-config {path}: tls_client_config: {err}") from None
    if reader.errors:
        hint = ""
        misplaced = [f"field {f.name} not found in type {_TYPE}" for f in dataclasses.fields(TLSConfig)]
        if any(m in e for e in reader.errors for m in misplaced):
            hint = "\n  (Alertmanager's format: the client settings go under tls_client_config:)"
        raise ConfigError(
            f"--cluster.tls-config {path}: yaml: unmarshal errors:\n  " + "\n  ".join(reader.errors) + hint
        )
    tls = values.get("tls_client_config") or TLSConfig()
    base_dir = os.path.dirname(path)
    tls.ca_file = _join_dir(base_dir, tls.ca_file)
    tls.cert_file = _join_dir(base_dir, tls.cert_file)
    tls.key_file = _join_dir(base_dir, tls.key_file)
    return tls
