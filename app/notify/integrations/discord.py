"""Discord: one execute-webhook call carrying a single embed, as Alertmanager sends it.

The JSON has `content` (Discord's plain text, empty unless `content` is set), one embed with the
rendered `title` and `message` (as its description) and a colour for the status (red while an
alert fires, green once all are resolved), then `username` and `avatar_url` when set. Each text is
cut to Discord's limits (title 256, description 4096, content 2000 characters) with the "…" marker,
so that an oversized message still arrives instead of being refused. The webhook URL is a secret
(its path holds the token): it is read inline or from `webhook_url_file` and never logged.
"""

from __future__ import annotations

from typing import Any

from app.config import RawIntegration
from app.notify.integrations import SendContext, integration
from app.notify.integrations._common import (
    check_answer,
    log_truncation,
    secret,
    send_json,
    setting,
    truncate_runes,
)
from app.notify.message import FIRING, Notification
from app.template.data import template_data

# Discord's embed and message limits, in characters.
MAX_TITLE_RUNES = 256
MAX_DESCRIPTION_RUNES = 4096
MAX_CONTENT_RUNES = 2000

COLOR_FIRING = 0x992D22
COLOR_RESOLVED = 0x2ECC71


def payload(cfg: RawIntegration, n: Notification, ctx: SendContext) -> dict[str, Any]:
    """The webhook's JSON, fields in Alertmanager's order."""
    data = template_data(n)
    texts = {}
    for field, limit in (
        ("title", MAX_TITLE_RUNES),
        ("message", MAX_DESCRIPTION_RUNES),
        ("content", MAX_CONTENT_RUNES),
    ):
        texts[field], cut = truncate_runes(ctx.render(setting(cfg, field), data, field), limit)
        if cut:
            log_truncation("discord", field, n.group_key, limit)
    body: dict[str, Any] = {
        "content": texts["content"],
        "embeds": [
            {
                "title": texts["title"],
                "description": texts["message"],
                "color": COLOR_FIRING if n.status == FIRING else COLOR_RESOLVED,
            }
        ],
    }
    for field in ("username", "avatar_url"):
        if cfg.values.get(field):
            body[field] = cfg.values[field]
    return body


@integration("discord")
def send_discord(cfg: RawIntegration, n: Notification, ctx: SendContext) -> None:
    """POST the embed to the webhook; NotifyError when Discord did not take it."""
    body = payload(cfg, n, ctx)
    response = send_json(cfg, secret(cfg, "webhook_url"), body, ctx)
    check_answer("discord", response)
