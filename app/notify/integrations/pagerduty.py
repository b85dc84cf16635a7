"""The PagerDuty integration: an Events API v2 event (routing_key), or a v1 event (service_key).

One event per notification, as Alertmanager sends it: `trigger` while any alert fires, `resolve`
once all are resolved, deduplicated by the SHA-256 of the group key (`dedup_key`, v1's
`incident_key`), so that an incident alerter opens is the one Alertmanager would open. v2 goes to
`url` (default the global `pagerduty_url`); v1 always to PagerDuty's fixed v1 URL, as in
Alertmanager (alerter refuses at load the v2-only settings with a service_key). The summary (v1
description) is cut to 1024 characters; an event over 512 kB loses its details, which are
replaced by a note saying so. 429 (v2) or 403 (v1) and 5xx are retried; a 400's `message` and
`errors` are reported.

`details`, as Alertmanager 0.30+ renders them (0.25 sent every value as a string): each string
of the tree is rendered as a template and then read as YAML (app/yamlv2.py), so the defaults
give `firing` and `resolved` as lists of alert objects (`{{ .Alerts.Firing | toJson }}`) and
`num_firing` as a number; a value that reads as a plain string is sent as rendered, and one that
renders empty is null. The defaults fill the keys the config does not set.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from app.config import RawIntegration
from app.config.service_limits import PAGERDUTY_V1_URL
from app.notify import transport
from app.notify.errors import NotifyError
from app.notify.integrations import SendContext, integration
from app.notify.integrations._common import (
    Fields,
    answer_object,
    check_answer,
    cut_runes,
    go_json,
    group_key_hash,
    omit_empty,
    render_secret,
    secret,
    send_json,
    send_timeout,
    setting_url,
)
from app.notify.message import FIRING, Notification
from app.yamlv2 import NotYAML, load

log = logging.getLogger(__name__)

MAX_EVENT_BYTES = 512_000
MAX_SUMMARY_RUNES = 1024  # v2 summary and v1 description
TOO_BIG = "Custom details have been removed because the original event exceeds the maximum size of 512KB"

DEFAULTS = {
    "description": '{{ template "pagerduty.default.description" .}}',
    "client": '{{ template "pagerduty.default.client" . }}',
    "client_url": '{{ template "pagerduty.default.clientURL" . }}',
}
DEFAULT_DETAILS = {
    "firing": "{{ .Alerts.Firing | toJson }}",
    "resolved": "{{ .Alerts.Resolved | toJson }}",
    "num_firing": "{{ .Alerts.Firing | len }}",
    "num_resolved": "{{ .Alerts.Resolved | len }}",
}


def _go_value(value: Any) -> Any:
    """A details value as Go's encoding/json writes it: maps with sorted keys, whole floats
    without a fraction; NaN and infinities cannot be written (Go fails the event)."""
    if isinstance(value, dict):
        return {k: _go_value(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_go_value(v) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotifyError(
                f"pagerduty: failed to encode the event: json: unsupported value: {value}", retryable=False
            )
        if value.is_integer() and abs(value) < 1e21:
            return int(value)
    return value


def _detail(r: Fields, value: Any, what: str) -> Any:
    """Alertmanager's DeepCopyWithTemplate: strings rendered then read as YAML (see the module
    docstring), map keys rendered, lists and maps walked."""
    if isinstance(value, str):
        rendered = r.text(value, what)
        try:
            parsed = load(rendered)
        except NotYAML:
            return rendered
        return rendered if isinstance(parsed, str) else parsed
    if isinstance(value, dict):
        return {r.text(k, what): _detail(r, v, what) for k, v in value.items()}
    if isinstance(value, list):
        return [_detail(r, v, what) for v in value]
    return value


def _details(r: Fields) -> dict[str, Any]:
    """The config's details with the defaults for the keys it does not set; top-level keys are
    not templates."""
    merged = {**DEFAULT_DETAILS, **(r.values.get("details") or {})}
    return _go_value({k: _detail(r, v, f"details {k}") for k, v in merged.items()})


def _summary(r: Fields) -> str:
    return cut_runes("pagerduty", "summary", r.field("description"), MAX_SUMMARY_RUNES)


def _key(cfg: RawIntegration, r: Fields, name: str) -> str:
    key = render_secret(r.ctx, secret(cfg, name), r.data, name)
    if not key:
        raise NotifyError(f"pagerduty: {name} cannot be empty", retryable=False)
    return key


def event_v2(cfg: RawIntegration, n: Notification, ctx: SendContext) -> dict[str, Any]:
    """The Events API v2 event, keys in Alertmanager's struct order."""
    r = Fields(cfg, n, ctx, DEFAULTS)
    details = _details(r)
    images = [
        {
            "src": src,
            "alt": r.text(i.get("alt", ""), "images alt"),
            "href": r.text(i.get("href", ""), "images href"),
        }
        for i in r.values.get("images") or []
        if (src := r.text(i.get("src", ""), "images src"))
    ]
    links = [
        {"href": href, "text": r.text(link.get("text", ""), "links text")}
        for link in r.values.get("links") or []
        if (href := r.text(link.get("href", ""), "links href"))
    ]
    payload = {
        "summary": _summary(r),
        "source": r.text(r.values.get("source") or r.values.get("client", DEFAULTS["client"]), "source"),
        "severity": r.text(r.values.get("severity") or "error", "severity"),
        **omit_empty(
            {
                "class": r.field("class"),
                "component": r.field("component"),
                "group": r.field("group"),
                "custom_details": details,
            }
        ),
    }
    return {
        "routing_key": _key(cfg, r, "routing_key"),
        "dedup_key": group_key_hash(n),
        "event_action": "trigger" if n.status == FIRING else "resolve",
        "payload": payload,
        **omit_empty(
            {
                "client": r.field("client"),
                "client_url": r.field("client_url"),
                "images": images,
                "links": links,
            }
        ),
    }


def event_v1(cfg: RawIntegration, n: Notification, ctx: SendContext) -> dict[str, Any]:
    """The Events API v1 event: client and client_url only on trigger, v2's fields empty."""
    r = Fields(cfg, n, ctx, DEFAULTS)
    details = _details(r)
    trigger = n.status == FIRING
    client = {"client": r.field("client"), "client_url": r.field("client_url")} if trigger else {}
    return {
        "service_key": _key(cfg, r, "service_key"),
        "incident_key": group_key_hash(n),
        "event_type": "trigger" if trigger else "resolve",
        **omit_empty({"description": _summary(r)}),
        "event_action": "",
        "payload": None,
        **omit_empty({**client, "details": details}),
    }


def _fit(event: dict[str, Any], v1: bool) -> dict[str, Any]:
    """The event, with its details replaced by a note when it is over PagerDuty's size limit."""
    size = len(go_json(event))
    if size <= MAX_EVENT_BYTES:
        return event
    log.warning("pagerduty: details removed, the event of %d bytes exceeds %d", size, MAX_EVENT_BYTES)
    if v1:
        return {**event, "details": {"error": TOO_BIG}}
    return {**event, "payload": {**event["payload"], "custom_details": {"error": TOO_BIG}}}


def _error_details(response: transport.Response) -> str:
    """What PagerDuty says about a refused event (400 only): its message and errors."""
    if response.status_code != 400:
        return ""
    answer = answer_object(response)
    if answer is None:
        return ""
    message, errors = answer.get("message") or "", answer.get("errors") or []
    if (
        not isinstance(message, str)
        or not isinstance(errors, list)
        or not all(isinstance(e, str) for e in errors)
    ):
        return ""
    return f"{message}: {','.join(errors)}"


@integration("pagerduty")
def send_pagerduty(cfg: RawIntegration, n: Notification, ctx: SendContext) -> None:
    """Send the notification's event; raise NotifyError when PagerDuty did not take it."""
    v1 = bool(cfg.values.get("service_key") or cfg.values.get("service_key_file"))
    if v1:
        event, url, retry_codes = event_v1(cfg, n, ctx), PAGERDUTY_V1_URL, (403,)
    else:
        event, url, retry_codes = event_v2(cfg, n, ctx), setting_url(cfg, "url", "pagerduty_url"), (429,)
    response = send_json(cfg, url, _fit(event, v1), ctx, timeout=send_timeout(cfg, ctx))
    check_answer("pagerduty", response, retry_codes, _error_details)
