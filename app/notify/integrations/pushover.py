"""The Pushover integration: one message per notification, sent as Alertmanager sends it.

Alertmanager POSTs to Pushover's fixed messages URL with every parameter in the query string
(form-encoded, keys sorted, as Go's url.Values encodes them), an empty body and
`Content-Type: text/plain`; alerter does the same, so nothing about the request changes for
Pushover. No setting (in Alertmanager 0.25 or later) changes that URL.

Parameters: token and user (the keys, rendered as templates), title (cut to 250 characters),
message (rendered as HTML with `html: true`, cut to 1024 characters, trimmed, "(no details)"
when empty, as Pushover refuses empty messages), url (cut to 512 characters) and url_title,
priority (by default 2, emergency, while alerts fire and 0 once resolved), retry and expire in
whole seconds, device, sound, ttl when positive, and html=1 or monospace=1 when set. Only 5xx is
retried.
"""

from __future__ import annotations

from urllib.parse import quote_plus, urlencode

from app.config import RawIntegration
from app.durations import parse_go_duration
from app.notify import transport
from app.notify.integrations import SendContext, integration
from app.notify.integrations._common import Fields, check_answer, cut_runes, render_secret, secret
from app.notify.message import Notification

MESSAGES_URL = "https://api.pushover.net/1/messages.json"

# https://pushover.net/api#limits
MAX_TITLE_RUNES = 250
MAX_MESSAGE_RUNES = 1024
MAX_URL_RUNES = 512

DEFAULTS = {
    "title": '{{ template "pushover.default.title" . }}',
    "message": '{{ template "pushover.default.message" . }}',
    "url": '{{ template "pushover.default.url" . }}',
    "priority": '{{ if eq .Status "firing" }}2{{ else }}0{{ end }}',
    "retry": "1m",
    "expire": "1h",
}


def _seconds(r: Fields, name: str) -> int:
    """A duration setting in whole seconds, truncated as Go's int64(d.Seconds()) does."""
    return int(parse_go_duration(r.values.get(name) or DEFAULTS.get(name, "0s")))


def parameters(cfg: RawIntegration, n: Notification, ctx: SendContext) -> dict[str, str]:
    """The message's parameters, as Alertmanager sets them."""
    r = Fields(cfg, n, ctx, DEFAULTS)
    params = {
        "token": render_secret(ctx, secret(cfg, "token"), r.data, "token"),
        "user": render_secret(ctx, secret(cfg, "user_key"), r.data, "user_key"),
        "title": cut_runes("pushover", "title", r.field("title"), MAX_TITLE_RUNES),
    }
    html = bool(r.values.get("html"))
    template = r.values.get("message", DEFAULTS["message"])
    message = ctx.render(template, r.data, "message", html=html) if template else ""
    if html:
        params["html"] = "1"
    if r.values.get("monospace"):
        params["monospace"] = "1"
    params["message"] = cut_runes("pushover", "message", message, MAX_MESSAGE_RUNES).strip() or "(no details)"
    params["url"] = cut_runes("pushover", "url", r.field("url"), MAX_URL_RUNES)
    params["url_title"] = r.field("url_title")
    params["priority"] = r.field("priority")
    params["retry"] = str(_seconds(r, "retry"))
    params["expire"] = str(_seconds(r, "expire"))
    params["device"] = r.field("device")
    params["sound"] = r.field("sound")
    if (ttl := _seconds(r, "ttl")) > 0:
        params["ttl"] = str(ttl)
    return params


@integration("pushover")
def send_pushover(cfg: RawIntegration, n: Notification, ctx: SendContext) -> None:
    """Send the notification's message; raise NotifyError when Pushover did not take it. The
    URL carries the keys: transport errors name only its host."""
    query = urlencode(sorted(parameters(cfg, n, ctx).items()), quote_via=quote_plus)
    headers = {"Content-Type": "text/plain"}
    response = transport.request(
        cfg.http_config, "POST", f"{MESSAGES_URL}?{query}", None, headers, ctx.timeout, "pushover"
    )
    check_answer("pushover", response)
