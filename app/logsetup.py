"""Structured logs in Alertmanager's formats (`--log.format=logfmt|json`, `--log.level`)."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}


def _logfmt_value(value: object) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\n\t'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class _Formatter(logging.Formatter):
    def __init__(self, fmt: str) -> None:
        super().__init__()
        self.json = fmt == "json"

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower().replace("warning", "warn"),
            "caller": f"{record.module}:{record.lineno}",
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields.update(getattr(record, "fields", {}))
        if record.exc_info:
            fields["err"] = self.formatException(record.exc_info)
        if self.json:
            return orjson.dumps(fields, default=str).decode()
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items())


def setup_logging(level: str, fmt: str) -> None:
    """Route every logger (ours, RQ's, gunicorn's) through one structured handler on stderr."""
    if level not in _LEVELS:
        raise ValueError(f"--log.level must be one of {', '.join(_LEVELS)}, got {level!r}")
    if fmt not in ("logfmt", "json"):
        raise ValueError(f"--log.format must be logfmt or json, got {fmt!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(fmt))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    for noisy in ("rq.worker", "rq.queue", "werkzeug", "urllib3"):
        logging.getLogger(noisy).setLevel(max(_LEVELS[level], logging.WARNING))
