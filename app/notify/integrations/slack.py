"""The Slack integration: one message with one attachment, POSTed as JSON.

The message is Alertmanager's (field names, order, omitted empty fields, Go's JSON encoding), so
a Slack workspace (or a Slack-compatible receiver) shows what Alertmanager would have posted.
Unset fields render alerter's definitions of Alertmanager's defaults (app/template/defaults/
slack.gotmpl); the title is cut to 1024 characters.

Where it goes, by Alertmanager's rules: with an app token (`app_token`/`app_token_file`, or the
global `slack_app_token` when the config sets neither an `api_url` nor http_config
authorization) to `app_url` (default chat.postMessage) with `Authorization: Bearer <token>`;
otherwise to `api_url`/`api_url_file` or the global `slack_api_url`/`slack_api_url_file` (an
incoming webhook).

The answer is judged as Alertmanager 0.34 judges it (0.25 looked at the status only): 5xx is
retried, other non-2xx statuses are not; then a JSON answer must say `"ok": true` (else its
`error` is reported and not retried; JSON that does not parse is retried), and any other answer
must be exactly `ok`, as an incoming webhook answers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.config import Authorization, HTTPConfig, RawIntegration
from app.config.integrations import slack_uses_app_token
from app.gostrings import go_quote
from app.notify import transport
from app.notify.errors import NotifyError
from app.notify.integrations import SendContext, integration
from app.notify.integrations._common import (
    BODY_EXCERPT,
    Fields,
    answer_object,
    check_answer,
    cut_runes,
    omit_empty,
    secret,
    send_json,
    send_timeout,
    setting_url,
)
from app.notify.message import Notification

# https://api.slack.com/reference/messaging/attachments#legacy_fields: 1024 characters.
MAX_TITLE_RUNES = 1024

DEFAULTS = {
    "color": '{{ template "slack.default.color" . }}',
    "username": '{{ template "slack.default.username" . }}',
    "title": '{{ template "slack.default.title" . }}',
    "title_link": '{{ template "slack.default.titlelink" . }}',
    "icon_emoji": '{{ template "slack.default.iconemoji" . }}',
    "icon_url": '{{ template "slack.default.iconurl" . }}',
    "pretext": '{{ template "slack.default.pretext" . }}',
    "text": '{{ template "slack.default.text" . }}',
    "fallback": '{{ template "slack.default.fallback" . }}',
    "callback_id": '{{ template "slack.default.callbackid" . }}',
    "footer": '{{ template "slack.default.footer" . }}',
}
_DEFAULT_MRKDWN_IN = ["fallback", "pretext", "text"]


def _fields(r: Fields) -> list[dict[str, Any]]:
    """Each field rendered; `short` is the field's own or `short_fields`, always sent."""
    default_short = bool(r.values.get("short_fields"))
    return [
        {
            **omit_empty(
                {
                    "title": r.text(f.get("title", ""), "fields title"),
                    "value": r.text(f.get("value", ""), "fields value"),
                }
            ),
            "short": default_short if f.get("short") is None else bool(f["short"]),
        }
        for f in r.values.get("fields") or []
    ]


def _actions(r: Fields) -> list[dict[str, Any]]:
    out = []
    for a in r.values.get("actions") or []:
        action = {
            k: r.text(a.get(k, ""), f"actions {k}") for k in ("type", "text", "url", "style", "name", "value")
        }
        confirm = a.get("confirm")
        if confirm is not None:
            names = ("text", "title", "ok_text", "dismiss_text")
            action["confirm"] = omit_empty(
                {k: r.text(confirm.get(k, ""), f"actions confirm {k}") for k in names}
            )
        out.append(omit_empty(action))
    return out


def _attachment(r: Fields) -> dict[str, Any]:
    title = cut_runes("slack", "title", r.field("title"), MAX_TITLE_RUNES)
    fields, actions = _fields(r), _actions(r)
    return {
        **omit_empty({"title": title, "title_link": r.field("title_link"), "pretext": r.field("pretext")}),
        "text": r.field("text"),
        "fallback": r.field("fallback"),
        "callback_id": r.field("callback_id"),
        **omit_empty(
            {
                "fields": fields,
                "actions": actions,
                "image_url": r.field("image_url"),
                "thumb_url": r.field("thumb_url"),
            }
        ),
        "footer": r.field("footer"),
        **omit_empty(
            {"color": r.field("color"), "mrkdwn_in": r.values.get("mrkdwn_in") or _DEFAULT_MRKDWN_IN}
        ),
    }


def message(cfg: RawIntegration, n: Notification, ctx: SendContext) -> dict[str, Any]:
    """The JSON document Alertmanager posts, keys in its struct order."""
    r = Fields(cfg, n, ctx, DEFAULTS)
    attachment = _attachment(r)
    head = {
        "channel": r.field("channel"),
        "username": r.field("username"),
        "icon_emoji": r.field("icon_emoji"),
        "icon_url": r.field("icon_url"),
        "link_names": bool(cfg.values.get("link_names")),
        "text": r.field("message_text"),
    }
    return {**omit_empty(head), "attachments": [attachment]}


def _target(cfg: RawIntegration) -> tuple[str, HTTPConfig]:
    """The URL to post to and the http_config to post with (the app token as its bearer)."""
    if slack_uses_app_token(cfg.values, cfg.globals):
        own = cfg.values.get("app_token") or cfg.values.get("app_token_file")
        token, token_file = (
            (cfg.values.get("app_token", ""), cfg.values.get("app_token_file", ""))
            if own
            else (cfg.globals.get("slack_app_token", ""), cfg.globals.get("slack_app_token_file", ""))
        )
        bearer = Authorization(type="Bearer", credentials=token, credentials_file=token_file)
        return setting_url(cfg, "app_url", "slack_app_url"), replace(cfg.http_config, authorization=bearer)
    url = secret(cfg, "api_url", "slack_api_url")
    if not url:
        raise NotifyError("slack: no api_url (nor global slack_api_url) to post to", retryable=False)
    return url, cfg.http_config


def _judge(response: transport.Response, channel: str) -> None:
    """Alertmanager 0.34's reading of Slack's answer (see the module docstring)."""
    where = f"slack: channel {go_quote(channel)}"
    check_answer(where, response)
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        if response.content != b"ok":
            said = response.text[:BODY_EXCERPT]
            raise NotifyError(f"{where}: received an error response from Slack: {said}", retryable=False)
        return
    answer = answer_object(response)
    if answer is None or not isinstance(answer.get("ok", False), bool):
        said = response.text[:BODY_EXCERPT]
        raise NotifyError(f"{where}: could not unmarshal JSON response {go_quote(said)}", retryable=True)
    if not answer.get("ok"):
        raise NotifyError(f"{where}: error response from Slack: {answer.get('error', '')}", retryable=False)


@integration("slack")
def send_slack(cfg: RawIntegration, n: Notification, ctx: SendContext) -> None:
    """Post the notification's message; raise NotifyError when Slack did not take it."""
    payload = message(cfg, n, ctx)
    url, http = _target(cfg)
    response = send_json(cfg, url, payload, ctx, http_config=http, timeout=send_timeout(cfg, ctx))
    _judge(response, payload.get("channel", ""))
