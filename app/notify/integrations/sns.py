"""Amazon SNS: one `Publish` call of the SNS Query API, signed with AWS Signature Version 4.

The request is what Alertmanager's AWS SDK sends: `POST /` to `api_url` (templated; by default
the region's SNS endpoint) with a form body of `Action=Publish`, `Version=2010-03-31` and the
publish input, keys sorted: `Message`, `MessageAttributes.entry.N.{Name,Value.DataType,
Value.StringValue}` for the templated `attributes` (sorted by name), `Subject` when the config has
one, and exactly one of `TopicArn`, `PhoneNumber` or `TargetArn` (templated). A FIFO topic (its
ARN ends in `.fifo`) also gets `MessageGroupId` and `MessageDeduplicationId`, both the SHA-256 of
the group key, so a resend within SNS's deduplication window is dropped by SNS.

The message is cut to SNS's limits as Alertmanager cuts it: 256 KiB, or 1600 bytes for an SMS to
a phone number, at a byte boundary without marker, and a `truncated` attribute says so. The
subject is cut to SNS's 100 characters (with the "…" marker): Alertmanager sends it whole and SNS
refuses the message ("Invalid parameter: Subject"), which would leave the alert unreported.

SNS answers 200 for a published message and an XML error otherwise: 5xx is retried, any other
refusal is not (Alertmanager's Retrier), and the error quotes SNS's code and message.
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from app.config import RawIntegration
from app.notify.integrations import SendContext, _aws, integration
from app.notify.integrations._common import (
    BODY_EXCERPT,
    check_answer,
    log_truncation,
    setting,
    truncate_runes,
)
from app.notify.message import Notification
from app.notify.transport import Response, request
from app.template.data import template_data

MAX_MESSAGE_BYTES = 256 * 1024
MAX_SMS_BYTES = 1600
MAX_SUBJECT_RUNES = 100
CONTENT_TYPE = "application/x-www-form-urlencoded"
_XML_FIELD = {name: re.compile(rf"<{name}>(.*?)</{name}>", re.DOTALL) for name in ("Code", "Message")}


def publish_params(cfg: RawIntegration, n: Notification, ctx: SendContext) -> list[tuple[str, str | bytes]]:
    """The Publish call's form fields (Action and Version included), sorted by name as the SDK
    encodes them. The message is bytes: a cut may end inside a character, as in Alertmanager."""
    data = template_data(n)

    def render(field: str, text: Any) -> str:
        return ctx.render(str(text), data, field)

    attributes = {
        render("attributes", k): render("attributes", v)
        for k, v in (cfg.values.get("attributes") or {}).items()
    }
    params: dict[str, str | bytes] = {"Action": "Publish", "Version": "2010-03-31"}
    limit = MAX_MESSAGE_BYTES
    if topic := cfg.values.get("topic_arn"):
        params["TopicArn"] = render("topic_arn", topic)
        if params["TopicArn"].endswith(".fifo"):
            digest = hashlib.sha256(n.group_key.encode()).hexdigest()
            params.update(MessageDeduplicationId=digest, MessageGroupId=digest)
    if phone := cfg.values.get("phone_number"):
        params["PhoneNumber"] = render("phone_number", phone)
        limit = MAX_SMS_BYTES
    if target := cfg.values.get("target_arn"):
        params["TargetArn"] = render("target_arn", target)
    message = render("message", setting(cfg, "message")).encode()
    if len(message) > limit:
        message = message[:limit]
        attributes["truncated"] = "true"
        log_truncation("sns", "message", n.group_key, limit, "bytes")
    params["Message"] = message
    for i, name in enumerate(sorted(attributes), start=1):
        prefix = f"MessageAttributes.entry.{i}"
        params[f"{prefix}.Name"] = name
        params[f"{prefix}.Value.DataType"] = "String"
        params[f"{prefix}.Value.StringValue"] = attributes[name]
    if subject := setting(cfg, "subject"):
        params["Subject"], cut = truncate_runes(render("subject", subject), MAX_SUBJECT_RUNES)
        if cut:
            log_truncation("sns", "subject", n.group_key, MAX_SUBJECT_RUNES)
    return sorted(params.items())


def _endpoint(api_url: str, region_name: str) -> str:
    """Where the call goes: `api_url` (its path then "/", as the SDK joins the operation's path
    to a base endpoint), the SDK's AWS_ENDPOINT_URL_SNS or AWS_ENDPOINT_URL, else SNS's endpoint
    in the region."""
    base = api_url or os.environ.get("AWS_ENDPOINT_URL_SNS") or os.environ.get("AWS_ENDPOINT_URL")
    if not base:
        return _aws.default_endpoint("sns", region_name)
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/", parts.query, ""))


def _details(response: Response) -> str:
    """SNS's error code and message from its XML answer (the whole answer if it is not one)."""
    found = {name: pattern.search(response.text) for name, pattern in _XML_FIELD.items()}
    if found["Code"] and found["Message"]:
        return f"{found['Code'].group(1)}: {found['Message'].group(1)}"
    return response.text[:BODY_EXCERPT].strip()


@integration("sns")
def send_sns(cfg: RawIntegration, n: Notification, ctx: SendContext) -> None:
    """Publish the notification; NotifyError when SNS did not take it."""
    sigv4 = cfg.values.get("sigv4") or {}
    body = urlencode(publish_params(cfg, n, ctx)).encode()
    region_name = _aws.region(sigv4)
    api_url = ctx.render(str(cfg.values.get("api_url", "")), template_data(n), "api_url")
    url = _endpoint(api_url, region_name)
    creds = _aws.credentials(sigv4)
    headers = _aws.signed_headers(url, body, {"Content-Type": CONTENT_TYPE}, creds, "sns", region_name)
    response = request(cfg.http_config, "POST", url, body, headers, ctx.timeout, "sns")
    check_answer("sns", response, details=_details)
