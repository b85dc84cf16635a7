"""Telegram: one `sendMessage` call of the Bot API, as Alertmanager's client (telebot) makes it.

The request is `POST {api_url}/bot{token}/sendMessage` with a JSON object of strings whose keys
come sorted (telebot sends a Go map): `chat_id`, `disable_notification` when set,
`disable_web_page_preview` always, `message_thread_id` when set, `parse_mode` when not empty, and
`text`. The message is rendered with HTML escaping of the alert data when `parse_mode` is HTML
(the default), as Alertmanager renders it with html/template; a message over Telegram's 4096
characters is then replaced by a notice, since cutting HTML could leave a tag open and have the
whole message refused, while other modes are cut with the "…" marker.

Telegram answers `{"ok": true, ...}` for a sent message and `{"ok": false, "error_code": N,
"description": "..."}` otherwise, whatever the HTTP status. Flood control (429) and server errors
are retried; a refusal (bad chat, bad token, unparsable entities) is not: it fails the same way on
every attempt. The token sits in the URL path, so it never appears in an error: the transport
redacts URLs, and any answer quoted is scrubbed of it.
"""

from __future__ import annotations

import re

from app.config import RawIntegration
from app.notify import transport
from app.notify.errors import NotifyError
from app.notify.integrations import SendContext, integration
from app.notify.integrations._common import (
    BODY_EXCERPT,
    answer_object,
    log_truncation,
    secret,
    send_json,
    setting,
    truncate_runes,
)
from app.notify.message import Notification
from app.template.data import template_data

MAX_MESSAGE_RUNES = 4096
# Alertmanager's replacement for an HTML message over the limit, tabs included (its source
# indents the second line), so that a chat reads the same notice whichever sends it.
TOO_LONG_HTML = (
    "Alertmanager notification could not be sent: message length exceeds Telegram limits.\n"
    "\t\t\tPlease check the template used for producing the message content."
)
_INT64 = re.compile(r"[+-]?[0-9]+")


def _chat_id(cfg: RawIntegration) -> int:
    """`chat_id`, or the number in `chat_id_file` (read at every send, like the token)."""
    text = secret(cfg, "chat_id")
    if _INT64.fullmatch(text) and -(2**63) <= int(text) < 2**63:
        return int(text)
    where = cfg.values.get("chat_id_file", "chat_id")
    raise NotifyError(f"telegram: could not parse chat_id from {where}: not an integer", retryable=False)


def _message(cfg: RawIntegration, n: Notification, ctx: SendContext, parse_mode: str) -> str:
    html = parse_mode == "HTML"
    text = ctx.render(setting(cfg, "message"), template_data(n), "message", html=html)
    if html:
        return TOO_LONG_HTML if len(text) > MAX_MESSAGE_RUNES else text
    text, cut = truncate_runes(text, MAX_MESSAGE_RUNES)
    if cut:
        log_truncation("telegram", "message", n.group_key, MAX_MESSAGE_RUNES)
    return text


def _verdict(response: transport.Response, token: str) -> None:
    """Whether the Bot API sent the message: its `ok`, not the HTTP status, decides."""
    answer = answer_object(response)
    if answer is not None and answer.get("ok") is True:
        return
    if answer is not None and isinstance(answer.get("error_code"), int):
        code = answer["error_code"]
        said = f"{answer.get('description', '')} ({code})"
        retryable = code == 429 or code >= 500
    else:
        code = response.status_code
        said = f"the answer is not the Bot API's (HTTP {code}): {response.text[:BODY_EXCERPT].strip()}"
        retryable = code == 429 or code >= 500 or code // 100 == 2
    message = f"telegram: {said}".replace(token, "<secret>") if token else f"telegram: {said}"
    raise NotifyError(message, retryable=retryable)


@integration("telegram")
def send_telegram(cfg: RawIntegration, n: Notification, ctx: SendContext) -> None:
    """Send the notification as one Telegram message; NotifyError when it was not sent."""
    parse_mode = str(setting(cfg, "parse_mode"))
    text = _message(cfg, n, ctx, parse_mode)
    token = secret(cfg, "bot_token", "telegram_bot_token")
    params = {"chat_id": str(_chat_id(cfg)), "text": text, "disable_web_page_preview": "true"}
    if cfg.values.get("disable_notifications"):
        params["disable_notification"] = "true"
    if cfg.values.get("message_thread_id"):
        params["message_thread_id"] = str(cfg.values["message_thread_id"])
    if parse_mode:
        params["parse_mode"] = parse_mode
    url = f"{setting(cfg, 'api_url')}/bot{token}/sendMessage"
    response = send_json(cfg, url, dict(sorted(params.items())), ctx)
    _verdict(response, token)
