"""Microsoft Teams through an Office 365 connector (the legacy incoming webhook): one MessageCard.

The card is Alertmanager's: `@context`, `type: MessageCard`, the rendered `title`, `summary` and
`text` (Markdown), and a theme colour for the status (red while an alert fires, green once all are
resolved). The webhook URL is a secret, read inline or from `webhook_url_file`, never logged. As in
Alertmanager, 5xx answers are retried and any other refusal is not.
"""

from __future__ import annotations

from typing import Any

from app.config import RawIntegration
from app.notify.integrations import SendContext, integration
from app.notify.integrations._common import check_answer, secret, send_json, setting
from app.notify.message import FIRING, Notification
from app.template.data import template_data

COLOR_FIRING = "8C1A1A"
COLOR_RESOLVED = "2DC72D"


def card(cfg: RawIntegration, n: Notification, ctx: SendContext) -> dict[str, Any]:
    """The MessageCard, fields in Alertmanager's order."""
    data = template_data(n)
    title, text, summary = (ctx.render(str(setting(cfg, f)), data, f) for f in ("title", "text", "summary"))
    return {
        "@context": "http://schema.org/extensions",
        "type": "MessageCard",
        "title": title,
        "summary": summary,
        "text": text,
        "themeColor": COLOR_FIRING if n.status == FIRING else COLOR_RESOLVED,
    }


@integration("msteams")
def send_msteams(cfg: RawIntegration, n: Notification, ctx: SendContext) -> None:
    """POST the card to the connector; NotifyError when Teams did not take it."""
    body = card(cfg, n, ctx)
    check_answer("msteams", send_json(cfg, secret(cfg, "webhook_url"), body, ctx))
