"""What platforms that run a Procfile (Heroku, Dokku, Render, Railway, Scalingo; honcho and
foreman locally) pass by environment, read in one place.

- `WEB_CONCURRENCY`: the number of web processes (`--web.workers`), as gunicorn itself reads it;
  `--web.workers` wins when given.
- `ALERTER_CONFIG_FILE`: where the configuration is, when `--config.file` is not given (the
  Procfile points it at the repository's example unless the platform sets it).
- `ALERTER_CONFIG_YAML`: the configuration itself, for platforms without a persistent disk; it
  wins over `ALERTER_CONFIG_FILE`, and `--config.file` wins over both. It is written to a
  private file at start (so SIGHUP and /-/reload behave as with any file); relative `templates:`
  globs in it are taken from that file's directory, so give them as absolute paths.
- `REDIS_TLS_SKIP_VERIFY=true`: hosted Redis add-ons serve `rediss://` with a self-signed
  certificate; this accepts it without verification, explicitly, with a warning at every start.

PORT is not read here: the Procfile passes it as `--web.listen-address=:$PORT`.
"""

from __future__ import annotations

import os
import tempfile

CONFIG_FILE_ENV = "ALERTER_CONFIG_FILE"
CONFIG_YAML_ENV = "ALERTER_CONFIG_YAML"
WEB_CONCURRENCY_ENV = "WEB_CONCURRENCY"
REDIS_TLS_SKIP_VERIFY_ENV = "REDIS_TLS_SKIP_VERIFY"


def config_file_default() -> str:
    """The --config.file default: $ALERTER_CONFIG_FILE, else Alertmanager's alertmanager.yml."""
    return os.environ.get(CONFIG_FILE_ENV) or "alertmanager.yml"


def config_from_yaml_env() -> str | None:
    """The path of a private file holding $ALERTER_CONFIG_YAML, or None when it is not set."""
    text = os.environ.get(CONFIG_YAML_ENV)
    if not text:
        return None
    directory = tempfile.mkdtemp(prefix="alerter-config-")
    path = os.path.join(directory, "alertmanager.yml")
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def web_workers_from_env() -> int | None:
    """$WEB_CONCURRENCY as a number of web processes; ValueError naming it when it is not one."""
    value = os.environ.get(WEB_CONCURRENCY_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(
            f"{WEB_CONCURRENCY_ENV} must be a whole number of web processes (1 or more), got {value!r}"
        )
    return int(value)


def redis_tls_skip_verify() -> bool:
    """$REDIS_TLS_SKIP_VERIFY: "true" or "false" (or unset); anything else is a ValueError."""
    value = os.environ.get(REDIS_TLS_SKIP_VERIFY_ENV, "").strip().lower()
    if value not in ("", "true", "false"):
        raise ValueError(f"{REDIS_TLS_SKIP_VERIFY_ENV} must be true or false, got {value!r}")
    return value == "true"
