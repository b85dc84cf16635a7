"""The incident.io integration: Alertmanager's webhook payload, version "1", POSTed to an HTTP
alert source (`url`, or `url_file` read at every send).

The payload is the webhook's (the template data, `groupKey`, `truncatedAlerts`) with
`"version": "1"`, JSON-encoded as Go encodes it. `max_alerts` cuts the alerts first; a payload
still over incident.io's 512 KiB keeps only its first alert (logged), as Alertmanager does.
`alert_source_token` (or `_file`) is sent as a bearer token in place of the http_config's
`authorization`; `timeout`, when set, caps the attempt.

Answers: 2xx is success; 429 and 5xx are retried, any other status is not. The error carries
incident.io's own explanation (`message`, `error`, `errors`) when its answer has one.
"""

from __future__ import annotations

import dataclasses
import logging

from app.config import Authorization, RawIntegration
from app.notify import transport
from app.notify.integrations import SendContext, integration
from app.notify.integrations._common import answer_object, check_answer, go_json, secret, send_timeout
from app.notify.integrations.webhook import payload as webhook_payload
from app.notify.message import Notification

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 512 * 1024
_RETRY_CODES = (429,)


def encode(n: Notification, truncated: int) -> bytes:
    """The request body; over MAX_PAYLOAD_BYTES, only the first alert is kept (the rest of the
    data, common labels included, stays as it was), and it is sent even if still too big."""
    message = {**webhook_payload(n, truncated), "version": "1"}
    body = go_json(message)
    if len(body) <= MAX_PAYLOAD_BYTES:
        return body
    message["alerts"] = message["alerts"][:1]
    smaller = go_json(message)
    sizes = {"original_size": len(body), "final_size": len(smaller), "max_size": MAX_PAYLOAD_BYTES}
    if len(smaller) <= MAX_PAYLOAD_BYTES:
        log.warning("truncated alert content due to incident.io payload size limit", extra={"fields": sizes})
    else:
        log.error(
            "truncated alert content due to incident.io payload size limit, but it still exceeds the limit",
            extra={"fields": sizes},
        )
    return smaller


def error_details(response: transport.Response) -> str:
    """incident.io's explanation of a refusal: its `message`, `error` and `errors`, joined."""
    answer = answer_object(response)
    if answer is None:
        return ""
    errors = answer.get("errors") or []
    parts = [answer.get("message"), answer.get("error"), ", ".join(e for e in errors if isinstance(e, str))]
    return ": ".join(p for p in parts if isinstance(p, str) and p)


@integration("incidentio")
def send_incidentio(cfg: RawIntegration, n: Notification, ctx: SendContext) -> None:
    """POST the alerts to the alert source; raise NotifyError when incident.io refuses them."""
    values = cfg.values
    n, truncated = n.truncated(int(values.get("max_alerts") or 0))
    body = encode(n, truncated)
    http = cfg.http_config
    token = secret(cfg, "alert_source_token")
    if token:
        http = dataclasses.replace(http, authorization=Authorization("Bearer", token))
    url = secret(cfg, "url")
    headers = {"Content-Type": "application/json"}
    response = transport.request(http, "POST", url, body, headers, send_timeout(cfg, ctx), "incidentio")
    check_answer("incidentio", response, _RETRY_CODES, error_details)
