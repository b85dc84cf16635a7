"""The webhook integration: Alertmanager's version "4" JSON payload, POSTed to the receiver.

The payload carries the template data (receiver, status, alerts, group and common labels,
external URL) plus `version`, `groupKey` and `truncatedAlerts`, with the field names and values
Alertmanager sends, so an existing webhook receiver needs no change. A 2xx answer is success; 5xx
answers and network failures are retried, anything else is not (Alertmanager's rule).
"""

from __future__ import annotations

from typing import Any

import orjson

from app.config import WebhookConfig
from app.notify import transport
from app.notify.errors import NotifyError, reason_for_status
from app.notify.integrations import SendContext, integration
from app.notify.message import Notification
from app.template.data import common_pairs, quote_meta
from app.timeutil import format_time

# Go's zero time as encoding/json writes it: the endsAt of every alert that still fires.
ZERO_TIME = "0001-01-01T00:00:00Z"

_BODY_EXCERPT = 256


def payload(n: Notification, truncated: int) -> dict[str, Any]:
    """The JSON document Alertmanager's webhook sends, keys in Alertmanager's order."""
    return {
        "receiver": quote_meta(n.receiver),
        "status": n.status,
        "alerts": [
            {
                "status": a.status,
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": format_time(a.starts_at),
                "endsAt": ZERO_TIME if a.firing else format_time(a.ends_at),
                "generatorURL": a.generator_url,
                "fingerprint": a.fingerprint,
            }
            for a in n.alerts
        ],
        "groupLabels": n.group_labels,
        "commonLabels": common_pairs([a.labels for a in n.alerts]),
        "commonAnnotations": common_pairs([a.annotations for a in n.alerts]),
        "externalURL": n.external_url,
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": truncated,
    }


def _target_url(cfg: WebhookConfig) -> str:
    """`url`, or the content of `url_file` read at every send (so a rotated URL needs no reload)."""
    if cfg.url:
        return cfg.url
    try:
        with open(cfg.url_file, encoding="utf-8") as handle:
            url = handle.read().strip()
    except (OSError, UnicodeDecodeError) as err:
        raise NotifyError(f"webhook: cannot read url_file {cfg.url_file}: {err}", retryable=False) from None
    if not url:
        raise NotifyError(f"webhook: url_file {cfg.url_file} is empty", retryable=False)
    return url


def _status_hint(code: int) -> str:
    if code in (401, 403):
        return "the receiver refused the credentials; check basic_auth or authorization"
    if code in (404, 405):
        return "check the webhook URL's path"
    if 300 <= code < 400:
        return "the receiver redirects; check the URL (or follow_redirects)"
    if code >= 500:
        return "the receiver failed; will retry"
    return "the receiver refused the request; it will not be retried"


@integration("webhook")
def send_webhook(cfg: WebhookConfig, n: Notification, ctx: SendContext) -> None:
    """POST the notification; raise NotifyError when the receiver did not take it.

    `ctx.timeout` is what is left of the flush; the webhook's own `timeout`, when set, caps it.
    """
    if cfg.payload is not None:
        raise NotifyError(
            "webhook: custom `payload` templates are not supported by alerter; remove `payload` "
            "to send Alertmanager's standard payload",
            retryable=False,
        )
    n, truncated = n.truncated(cfg.max_alerts)
    body = orjson.dumps(payload(n, truncated))
    url = _target_url(cfg)
    timeout = min(ctx.timeout, cfg.timeout) if cfg.timeout > 0 else ctx.timeout
    response = transport.post(cfg.http_config, url, body, "application/json", timeout, "webhook")
    if 200 <= response.status_code < 300:
        return
    code = response.status_code
    excerpt = response.text[:_BODY_EXCERPT].strip()
    detail = f": {excerpt}" if excerpt else ""
    raise NotifyError(
        f"webhook POST to {transport.redact_url(url)} answered {code}{detail}; {_status_hint(code)}",
        retryable=code >= 500,
        reason=reason_for_status(code),
    )
