"""Mattermost: one incoming-webhook post, built as Alertmanager builds it.

Without `attachments` in the config, the post carries a single attachment made of the top-level
fields (`text`, `fallback`, `color`, `title`, ...) and no top-level text. With `attachments`, each
configured attachment is sent as written and `text` becomes the post's own text, cut to
Mattermost's 16383 characters. Every string is a template; empty ones are left out of the JSON.
`props.card` and `priority` are sent when set, the priority normalised as Alertmanager does
(an unknown value becomes "standard"; an acknowledgement is only requested above standard and
persistent notifications only for urgent posts). The webhook URL is a secret, read inline or from
`webhook_url_file` (or the global `mattermost_webhook_url`), never logged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from app.config import RawIntegration
from app.config.integration_types import MATTERMOST_ATTACHMENT_FIELDS
from app.gostrings import go_quote
from app.notify.errors import NotifyError
from app.notify.integrations import SendContext, integration
from app.notify.integrations._common import (
    check_answer,
    log_truncation,
    secret,
    send_json,
    setting,
    truncate_runes,
)
from app.notify.message import Notification
from app.template.data import template_data

MAX_TEXT_RUNES = 16383
_PRIORITIES = ("urgent", "important", "standard")

Render = Callable[[str, str], str]  # (template, config field) -> text


def _fields(items: list[Mapping[str, Any]], render: Render) -> list[dict[str, Any]]:
    out = []
    for item in items:
        field = {
            "title": render(item["title"], "fields.title"),
            "value": render(item["value"], "fields.value"),
        }
        if item.get("short") is not None:
            field["short"] = item["short"]
        out.append(field)
    return out


def _attachment(source: Mapping[str, Any], render: Render, text: str | None = None) -> dict[str, Any]:
    """One attachment from a config mapping (one of `attachments`, or the config's own fields with
    its already rendered `text`), fields in Alertmanager's order, empty ones left out."""
    out: dict[str, Any] = {}
    for name in MATTERMOST_ATTACHMENT_FIELDS:
        value: Any
        if name == "fields":
            value = _fields(source["fields"], render) if source.get("fields") else None
        elif name == "text" and text is not None:
            value = text
        else:
            value = render(str(source.get(name, "")), name)
        if value:
            out[name] = value
    return out


def _priority(priority: Mapping[str, Any], render: Render) -> dict[str, Any]:
    level = render(str(priority["priority"]), "priority.priority").lower()
    level = level if level in _PRIORITIES else "standard"
    out: dict[str, Any] = {"priority": level}
    if priority.get("requested_ack") and level != "standard":
        out["requested_ack"] = True
    if priority.get("persistent_notifications") and level == "urgent":
        out["persistent_notifications"] = True
    return out


def post(cfg: RawIntegration, n: Notification, ctx: SendContext) -> dict[str, Any]:
    """The webhook's JSON, fields in Alertmanager's order."""
    data = template_data(n)

    def render(text: str, field: str) -> str:
        return ctx.render(text, data, field)

    text = render(str(setting(cfg, "text")), "text")
    body: dict[str, Any] = {}
    if cfg.values.get("attachments"):
        body["text"], cut = truncate_runes(text, MAX_TEXT_RUNES)
        if cut:
            log_truncation("mattermost", "text", n.group_key, MAX_TEXT_RUNES)
        attachments = [_attachment(a, render) for a in cfg.values["attachments"]]
    else:
        own = {name: setting(cfg, name) for name in MATTERMOST_ATTACHMENT_FIELDS if name != "fields"}
        attachments = [_attachment({**own, "fields": cfg.values.get("fields")}, render, text)]
    for name in ("channel", "username", "icon_url", "icon_emoji"):
        if value := render(str(setting(cfg, name)), name):
            body[name] = value
    body["attachments"] = attachments
    if kind := render(str(cfg.values.get("type", "")), "type"):
        body["type"] = kind
    if card := (cfg.values.get("props") or {}).get("card"):
        body["props"] = {"card": render(card, "props.card")}
    if (cfg.values.get("priority") or {}).get("priority"):
        body["priority"] = _priority(cfg.values["priority"], render)
    return body


@integration("mattermost")
def send_mattermost(cfg: RawIntegration, n: Notification, ctx: SendContext) -> None:
    """POST the message to the webhook; NotifyError when Mattermost did not take it."""
    url = secret(cfg, "webhook_url", "mattermost_webhook_url")
    if not url:
        raise NotifyError("mattermost: webhook url missing", retryable=False)
    body = post(cfg, n, ctx)
    check_answer(f"mattermost: channel {go_quote(body.get('channel', ''))}", send_json(cfg, url, body, ctx))
