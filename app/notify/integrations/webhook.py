"""The webhook integration: Alertmanager's version "4" JSON payload, POSTed to the receiver.

The payload carries the template data (receiver, status, alerts, notification reason, group,
common and route labels, external URL) plus `version`, `groupKey` and `truncatedAlerts`, with
the field names and values Alertmanager sends, encoded as Go encodes it, so an existing webhook
receiver needs no change. A custom `payload` replaces that document with the operator's
structure, rendered as Alertmanager renders it. The `url` (or `url_file`'s content) is a
template too, rendered for every notification. A 2xx answer is success; 5xx answers and network
failures are retried, anything else is not (Alertmanager's rule).
"""

from __future__ import annotations

from typing import Any

from app.config import WebhookConfig
from app.config.addresses import url_problem
from app.notify import steps, transport
from app.notify.errors import NotifyError, reason_for_status
from app.notify.integrations import SendContext, integration_steps
from app.notify.integrations._common import go_json, rendered_structure
from app.notify.message import Notification
from app.template.data import common_pairs, quote_meta, template_data
from app.timeutil import GO_ZERO_JSON, format_rfc3339

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
                "startsAt": format_rfc3339(a.starts_at),
                "endsAt": GO_ZERO_JSON if a.firing else format_rfc3339(a.ends_at),
                "generatorURL": a.generator_url,
                "fingerprint": a.fingerprint,
            }
            for a in n.alerts
        ],
        "notification_reason": n.notification_reason,  # snake case, as Alertmanager names it
        "groupLabels": n.group_labels,
        "commonLabels": common_pairs([a.labels for a in n.alerts]),
        "commonAnnotations": common_pairs([a.annotations for a in n.alerts]),
        "routeLabels": n.route_labels,
        "externalURL": n.external_url,
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": truncated,
    }


def _target_url(cfg: WebhookConfig, n: Notification, ctx: SendContext) -> str:
    """`url`, or the content of `url_file` read at every send (so a rotated URL needs no
    reload), rendered as a template against the notification, as Alertmanager does with both.

    Every failure is permanent: the same notification would render the same URL again. The
    URL is a secret, so no message quotes it.
    """
    text = cfg.url
    if not text:
        try:
            with open(cfg.url_file, encoding="utf-8") as handle:
                text = handle.read().strip()
        except (OSError, UnicodeDecodeError) as err:
            problem = f"webhook: cannot read url_file {cfg.url_file}: {err}"
            raise NotifyError(problem, retryable=False) from None
        if not text:
            raise NotifyError(f"webhook: url_file {cfg.url_file} is empty", retryable=False)
    if "{{" not in text:
        return text  # nothing to render (the common case; invalid URLs are the transport's)
    url = ctx.render(text, template_data(n), "webhook url")
    if not url:
        problem = "webhook: the URL is empty after templating; check the template in url or url_file"
        raise NotifyError(problem, retryable=False)
    problem = url_problem(url)
    if problem:
        raise NotifyError(
            f"webhook: the url template rendered a URL that is not valid ({problem}); "
            "check the template in url or url_file",
            retryable=False,
        )
    return url


def _status_hint(code: int) -> str:
    if code in (401, 403):
        return "the receiver refused the credentials; check basic_auth, authorization or oauth2"
    if code in (404, 405):
        return "check the webhook URL's path"
    if 300 <= code < 400:
        return "the receiver redirects; check the URL (or follow_redirects)"
    if code >= 500:
        return "the receiver failed; will retry"
    return "the receiver refused the request; it will not be retried"


@integration_steps("webhook")
def send_webhook(cfg: WebhookConfig, n: Notification, ctx: SendContext) -> steps.Steps[None]:
    """POST the notification; raise NotifyError when the receiver did not take it. A generator
    that yields the POST (app/notify/steps.py), so that it may go through the send pool's curl
    driver with other sends.

    `max_alerts` cuts the alerts before anything is rendered, so a custom payload and a
    templated URL see the alerts sent. `ctx.timeout` is what is left of the flush; the webhook's
    own `timeout`, when set, caps it.
    """
    n, truncated = n.truncated(cfg.max_alerts)
    if cfg.payload is None:
        body = go_json(payload(n, truncated))
    else:
        # Alertmanager renders the payload against the template data (not the message, so
        # there is no .GroupKey or .TruncatedAlerts there).
        data = template_data(n)
        custom = rendered_structure(cfg.payload, lambda text: ctx.render(text, data, "payload"), "payload")
        body = go_json(custom)
    url = _target_url(cfg, n, ctx)
    timeout = min(ctx.timeout, cfg.timeout) if cfg.timeout > 0 else ctx.timeout
    response = yield from transport.request_steps(
        cfg.http_config, "POST", url, body, {"Content-Type": "application/json"}, timeout, "webhook"
    )
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
