"""Microsoft Teams through a Workflows (Power Automate) webhook: a message with one Adaptive Card.

The card is Alertmanager's: a bold, medium-sized heading with the rendered `title`, coloured for
the status (Teams' "Attention" while an alert fires, "Good" once all are resolved), over a wrapped
text block with the rendered `text` (Markdown), at full width. The webhook URL is a secret, read
inline or from `webhook_url_file`, never logged. As in Alertmanager, 5xx answers are retried and
any other refusal is not.
"""

from __future__ import annotations

from typing import Any

from app.config import RawIntegration
from app.notify.integrations import SendContext, integration
from app.notify.integrations._common import check_answer, secret, send_json, setting
from app.notify.message import FIRING, Notification
from app.template.data import template_data

COLOR_FIRING = "Attention"
COLOR_RESOLVED = "Good"


def message(cfg: RawIntegration, n: Notification, ctx: SendContext) -> dict[str, Any]:
    """The webhook's JSON, fields in Alertmanager's order (`contentUrl` is null there too)."""
    data = template_data(n)
    title, text = (ctx.render(str(setting(cfg, f)), data, f) for f in ("title", "text"))
    heading = {
        "type": "TextBlock",
        "text": title,
        "weight": "Bolder",
        "size": "Medium",
        "wrap": True,
        "style": "heading",
        "color": COLOR_FIRING if n.status == FIRING else COLOR_RESOLVED,
    }
    content = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.2",
        "body": [heading, {"type": "TextBlock", "text": text, "wrap": True}],
        "msteams": {"width": "full"},
    }
    attachment = {
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": content,
    }
    return {"type": "message", "attachments": [attachment]}


@integration("msteamsv2")
def send_msteamsv2(cfg: RawIntegration, n: Notification, ctx: SendContext) -> None:
    """POST the card to the workflow; NotifyError when Teams did not take it."""
    body = message(cfg, n, ctx)
    check_answer("msteamsv2", send_json(cfg, secret(cfg, "webhook_url"), body, ctx))
