"""Webex: one message posted to a room through the Messages API, as Alertmanager posts it.

The JSON is `{"markdown": ..., "roomId": ...}` (`roomId` left out when the rendered `room_id` is
empty), sent to `api_url` (the global `webex_api_url`, by default Webex's messages endpoint) with
the bot token of `http_config.authorization`, which the config must have. The message is cut to
the 7439 bytes Webex takes, with the "…" marker, rather than have Webex refuse it.
"""

from __future__ import annotations

from app.config import RawIntegration
from app.notify.integrations import SendContext, integration
from app.notify.integrations._common import check_answer, log_truncation, send_json, setting, truncate_bytes
from app.notify.message import Notification
from app.template.data import template_data

MAX_MESSAGE_BYTES = 7439


@integration("webex")
def send_webex(cfg: RawIntegration, n: Notification, ctx: SendContext) -> None:
    """POST the message; NotifyError when Webex did not take it."""
    data = template_data(n)
    message, cut = truncate_bytes(ctx.render(setting(cfg, "message"), data, "message"), MAX_MESSAGE_BYTES)
    if cut:
        log_truncation("webex", "message", n.group_key, MAX_MESSAGE_BYTES, "bytes")
    body = {"markdown": message}
    room = ctx.render(str(cfg.values.get("room_id", "")), data, "room_id")
    if room:
        body["roomId"] = room
    response = send_json(cfg, str(setting(cfg, "api_url")), body, ctx)
    check_answer("webex", response)
