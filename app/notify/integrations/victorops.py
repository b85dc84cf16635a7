"""The VictorOps (Splunk On-Call) integration: one REST endpoint event per notification.

As Alertmanager sends it: a JSON object POSTed to `{api_url}{api_key}/{routing_key}` (the
routing key rendered as a template), with `entity_id` the SHA-256 of the group key so that the
group's incident is found again, `message_type` the configured one while alerts fire (one of
INFO, WARNING, CRITICAL; anything else rendered becomes CRITICAL) and RECOVERY once all are
resolved, and the rendered `custom_fields` beside the fixed fields. The state message is cut to
20480 characters. Only 5xx is retried (VictorOps documents no other retryable answer).
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit, urlunsplit

from app.config import RawIntegration
from app.config.service_limits import VICTOROPS_MESSAGE_TYPES
from app.notify.errors import NotifyError
from app.notify.integrations import SendContext, integration
from app.notify.integrations._common import (
    Fields,
    check_answer,
    cut_runes,
    group_key_hash,
    secret,
    send_json,
    setting_url,
)
from app.notify.message import FIRING, Notification

# https://help.victorops.com/knowledge-base/incident-fields-glossary/: 20480 characters.
MAX_STATE_MESSAGE_RUNES = 20480
# What Go's URL encoding leaves as is in a path, besides letters, digits and -._~.
_PATH_SAFE = "$&+,/:;=@"

DEFAULTS = {
    "message_type": "CRITICAL",
    "state_message": '{{ template "victorops.default.state_message" . }}',
    "entity_display_name": '{{ template "victorops.default.entity_display_name" . }}',
    "monitoring_tool": '{{ template "victorops.default.monitoring_tool" . }}',
}


def endpoint(base: str, api_key: str, routing_key: str) -> str:
    """`{api_url}{api_key}/{routing_key}`, the path escaped as Go escapes a URL path."""
    parts = urlsplit(base)
    path = unquote(parts.path if parts.path.endswith("/") else parts.path + "/") + f"{api_key}/{routing_key}"
    return urlunsplit((parts.scheme, parts.netloc, quote(path, safe=_PATH_SAFE), parts.query, parts.fragment))


def event(r: Fields, n: Notification) -> dict[str, str]:
    """The JSON object Alertmanager sends: a Go map, so its keys are sorted."""
    message_type = r.field("message_type")
    if n.status != FIRING:
        message_type = "RECOVERY"
    elif message_type not in VICTOROPS_MESSAGE_TYPES:
        message_type = "CRITICAL"
    state_message = cut_runes("victorops", "state_message", r.field("state_message"), MAX_STATE_MESSAGE_RUNES)
    fixed = {
        "message_type": message_type,
        "entity_id": group_key_hash(n),
        "entity_display_name": r.field("entity_display_name"),
        "state_message": state_message,
        "monitoring_tool": r.field("monitoring_tool"),
    }
    custom = {k: r.text(v, f"custom_fields {k}") for k, v in (r.values.get("custom_fields") or {}).items()}
    return dict(sorted({**fixed, **custom}.items()))


@integration("victorops")
def send_victorops(cfg: RawIntegration, n: Notification, ctx: SendContext) -> None:
    """Post the notification's event; raise NotifyError when VictorOps did not take it."""
    r = Fields(cfg, n, ctx, DEFAULTS)
    routing_key = r.field("routing_key")
    api_key = secret(cfg, "api_key", "victorops_api_key")
    if not api_key:
        raise NotifyError("victorops: no api_key (nor global victorops_api_key)", retryable=False)
    url = endpoint(setting_url(cfg, "api_url", "victorops_api_url"), api_key, routing_key)
    response = send_json(cfg, url, event(r, n), ctx)
    check_answer("victorops", response)
