"""The Rocket.Chat integration: one message with one attachment per notification, through the
REST API's chat.postMessage (POST <api_url>/api/v1/chat.postMessage).

The request carries the bot's personal access token in `X-Auth-Token` and its user id in
`X-User-Id` (`token`/`token_id`, inline or from files, else the global `rocketchat_token` and
`rocketchat_token_id`); `api_url` defaults to the global `rocketchat_api_url`. As Alertmanager:
the message sets `channel`, `emoji` and `avatar` (`icon_url`); its attachment the title (cut to
1,024 characters), title link, text, image and thumbnail URLs, colour, `fields` (each `short` as
set, else `short_fields`) and `actions` (buttons: only their text, url and msg are sent).
`link_names` is accepted and, as in Alertmanager, not sent.

Answers: a non-2xx status fails the send (5xx is retried); a 2xx answer must also be JSON with
`"success": true`, since Rocket.Chat reports some refusals with a 200 (not retried); an answer
that is not that JSON is retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson

from app.config import GLOBAL_URL_DEFAULTS, RawIntegration
from app.gostrings import go_quote
from app.notify.errors import NotifyError
from app.notify.integrations import SendContext, integration
from app.notify.integrations._common import (
    BODY_EXCERPT,
    check_answer,
    join_url_path,
    secret,
    send_json,
    truncate_runes,
)
from app.notify.message import Notification
from app.template.data import template_data

log = logging.getLogger(__name__)

MAX_TITLE_RUNES = 1024

# Alertmanager's defaults for the templated fields left out of the config.
_DEFAULTS = {
    "color": '{{ if eq .Status "resolved" }}green{{ else }}red{{ end }}',
    "emoji": '{{ template "rocketchat.default.emoji" . }}',
    "icon_url": '{{ template "rocketchat.default.iconurl" . }}',
    "text": '{{ template "rocketchat.default.text" . }}',
    "title": '{{ template "rocketchat.default.title" . }}',
    "title_link": '{{ template "rocketchat.default.titlelink" . }}',
}


Field = Callable[[str], str]  # a config field's template, rendered
Render = Callable[[str, str], str]  # a template of a `fields` or `actions` item, rendered


def _attachment(values: dict[str, Any], field: Field, render: Render) -> dict[str, Any]:
    """The message's one attachment; empty values are left out, as Go's `omitempty` does."""
    title, cut = truncate_runes(field("title"), MAX_TITLE_RUNES)
    if cut:
        log.warning("truncated rocketchat title", extra={"fields": {"max_runes": MAX_TITLE_RUNES}})
    attachment = {
        "title": title,
        "title_link": field("title_link"),
        "text": field("text"),
        "image_url": field("image_url"),
        "thumb_url": field("thumb_url"),
        "color": field("color"),
    }
    out: dict[str, Any] = {k: v for k, v in attachment.items() if v}
    short_default = bool(values.get("short_fields"))
    fields = []
    for item in values.get("fields") or []:
        short = item.get("short")
        rendered = {
            "short": short_default if short is None else short,
            "title": render(item.get("title", ""), "fields title"),
            "value": render(item.get("value", ""), "fields value"),
        }
        fields.append({k: v for k, v in rendered.items() if v != ""})
    if fields:
        out["fields"] = fields
    actions = [
        {
            "type": "button",  # the only action type Alertmanager sends
            **{k: render(action.get(k, ""), f"actions {k}") for k in ("text", "url")},
            "is_webview": False,
            "msg": render(action.get("msg", ""), "actions msg"),
            "msg_in_chat_window": False,
        }
        for action in values.get("actions") or []
    ]
    if actions:
        out["actions"] = [{k: v for k, v in a.items() if v != ""} for a in actions]
    return out


def _check_success(channel: str, content: bytes) -> None:
    """Rocket.Chat's verdict inside a 2xx answer: `{"success": false, "error": "..."}`."""
    where = f"rocketchat: channel {go_quote(channel)}"
    excerpt = go_quote(content[:BODY_EXCERPT].decode("utf-8", "replace"))
    try:
        answer = orjson.loads(content)
    except orjson.JSONDecodeError as err:
        raise NotifyError(f"{where}: could not unmarshal JSON response {excerpt}: {err}", True) from None
    success = answer.get("success", False) if isinstance(answer, dict) else None
    error = answer.get("error", "") if isinstance(answer, dict) else None
    if not isinstance(success, bool) or not isinstance(error, str):
        raise NotifyError(f"{where}: could not unmarshal JSON response {excerpt}", retryable=True)
    if not success:
        raise NotifyError(f"{where}: error response from Rocketchat: {error}", retryable=False)


@integration("rocketchat")
def send_rocketchat(cfg: RawIntegration, n: Notification, ctx: SendContext) -> None:
    """Post the message; raise NotifyError when Rocket.Chat does not take it."""
    values = cfg.values
    data = template_data(n)

    def render(template: str, what: str) -> str:
        return ctx.render(template, data, what)

    def field(name: str) -> str:
        return render(values.get(name, _DEFAULTS.get(name, "")), name)

    attachment = _attachment(values, field, render)  # rendered first, as in Alertmanager
    message: dict[str, Any] = {
        "channel": field("channel"),
        "emoji": field("emoji"),
        "avatar": field("icon_url"),
    }
    message = {k: v for k, v in message.items() if v}
    message["attachments"] = [attachment]
    headers = {
        "X-Auth-Token": secret(cfg, "token", "rocketchat_token"),
        "X-User-Id": secret(cfg, "token_id", "rocketchat_token_id"),
    }
    api_url = (
        values.get("api_url")
        or cfg.globals.get("rocketchat_api_url")
        or GLOBAL_URL_DEFAULTS["rocketchat_api_url"]
    )
    url = join_url_path(str(api_url), "api/v1/chat.postMessage")
    response = send_json(cfg, url, message, ctx, headers=headers)
    channel = message.get("channel", "")
    check_answer(f"rocketchat: channel {go_quote(channel)}", response)
    _check_success(channel, response.content)
