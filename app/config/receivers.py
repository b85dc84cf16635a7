"""Receivers, and the two integrations alerter delivers itself: webhook and email.

These are decoded and checked field by field here; build.py turns the values into WebhookConfig
and EmailConfig with the global defaults. The integrations alerter keeps raw come from
integrations.py.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import Node

from app.config.addresses import host_port, template_url
from app.config.httpconfig import canonical_header, http_config, tls_config
from app.config.integrations import INTEGRATIONS, integration_converter
from app.config.model import ConfigError
from app.config.reader import (
    Converter,
    Reader,
    boolean,
    fail_on,
    go_any,
    go_duration,
    list_of,
    string,
    string_map,
    uint64,
)
from app.gostrings import go_quote

_WEBHOOK_FIELDS: dict[str, Converter] = {
    "send_resolved": boolean,
    "http_config": http_config,
    "url": template_url,
    "url_file": string,
    "max_alerts": uint64,
    "timeout": go_duration,
    "payload": go_any,
}


def _webhook(r: Reader, node: Node) -> dict[str, Any]:
    values, clean = r.checked_struct(node, "webhook.plain", _WEBHOOK_FIELDS)
    values = values or {}
    if clean:
        url, url_file = values.get("url"), values.get("url_file")
        fail_on(
            "one of url or url_file must be configured" if not url and not url_file else None,
            "at most one of url & url_file must be configured" if url and url_file else None,
        )
    return values


_THREADING_FIELDS: dict[str, Converter] = {"enabled": boolean, "thread_by_date": string}

_EMAIL_FIELDS: dict[str, Converter] = {
    "send_resolved": boolean,
    "to": string,
    "from": string,
    "hello": string,
    "smarthost": host_port,
    "auth_username": string,
    "auth_password": string,
    "auth_password_file": string,
    "auth_secret": string,
    "auth_secret_file": string,
    "auth_identity": string,
    "headers": string_map,
    "html": string,
    "text": string,
    "require_tls": boolean,
    "tls_config": tls_config,
    "force_implicit_tls": boolean,
    "threading": lambda r, n: r.struct(n, "config.ThreadingConfig", _THREADING_FIELDS),
}


def _email_headers(headers: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        canonical = canonical_header(name)
        if canonical in out:
            raise ConfigError(f"duplicate header {go_quote(canonical)} in email config")
        out[canonical] = value
    return out


def _threading_problem(threading: dict[str, Any], headers: dict[str, str]) -> str | None:
    if not threading.get("enabled"):
        return None
    if "References" in headers:
        return "conflicting configuration: threading.enabled conflicts with custom References header"
    if "In-Reply-To" in headers:
        return "conflicting configuration: threading.enabled conflicts with custom In-Reply-To header"
    if threading.get("thread_by_date", "") not in ("none", "daily"):
        return "threading.thread_by_date must be either 'none' or 'daily'"
    return None


def _email(r: Reader, node: Node) -> dict[str, Any]:
    values, clean = r.checked_struct(node, "config.plain", _EMAIL_FIELDS)
    values = values or {}
    if clean:
        fail_on(None if values.get("to") else "missing to address in email config")
        values["headers"] = _email_headers(values.get("headers") or {})
        fail_on(_threading_problem(values.get("threading") or {}, values["headers"]))
    return values


def receiver(r: Reader, node: Node) -> dict[str, Any]:
    values, clean = r.checked_struct(node, "config.plain", _RECEIVER_FIELDS)
    values = values or {}
    if clean:
        name = values.get("name", "")
        fail_on(None if name else "missing name in receiver")
        labels = values.get("labels") or {}
        if labels.get("name", name) != name:
            wrong = go_quote(labels["name"])
            raise ConfigError(f'receiver label "name" must match receiver name {go_quote(name)}, got {wrong}')
    return values


_RECEIVER_FIELDS: dict[str, Converter] = {
    "name": string,
    "labels": string_map,
    "webhook_configs": list_of("[]*webhook.WebhookConfig", _webhook),
    "email_configs": list_of("[]*config.EmailConfig", _email),
    **{key: list_of(f"[]*{key}", integration_converter(key)) for key in INTEGRATIONS},
}
