"""The `global` section: its fields, the URL defaults, and the settings that exclude each other.

alerter itself uses `resolve_timeout`, `http_config` and the smtp_* defaults; the other global
keys (slack_api_url, opsgenie_api_key, ...) are validated and kept raw for the integrations alerter
does not deliver. The key lists are shared with the write-back, which redacts the secret ones.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import Node

from app.config.addresses import host_port, secret_url, url
from app.config.httpconfig import http_config, tls_config
from app.config.reader import Converter, Reader, at_most_one, boolean, duration, string

_GLOBAL_URLS = [
    "jira_api_url",
    "slack_app_url",
    "pagerduty_url",
    "opsgenie_api_url",
    "wechat_api_url",
    "victorops_api_url",
    "telegram_api_url",
    "webex_api_url",
    "rocketchat_api_url",
]
GLOBAL_SECRET_URLS = ("slack_api_url", "mattermost_webhook_url")
GLOBAL_SECRETS = [
    "slack_app_token",
    "opsgenie_api_key",
    "wechat_api_secret",
    "victorops_api_key",
    "telegram_bot_token",
    "rocketchat_token",
    "rocketchat_token_id",
]
_GLOBAL_STRINGS = [
    "slack_api_url_file",
    "slack_app_token_file",
    "opsgenie_api_key_file",
    "wechat_api_secret_file",
    "wechat_api_corp_id",
    "victorops_api_key_file",
    "telegram_bot_token_file",
    "rocketchat_token_file",
    "rocketchat_token_id_file",
    "mattermost_webhook_url_file",
]


GLOBAL_URL_DEFAULTS = {
    "pagerduty_url": "https://events.pagerduty.com/v2/enqueue",
    "opsgenie_api_url": "https://api.opsgenie.com/",
    "wechat_api_url": "https://qyapi.weixin.qq.com/cgi-bin/",
    "victorops_api_url": "https://alert.victorops.com/integrations/generic/20131114/alert/",
    "telegram_api_url": "https://api.telegram.org",
    "webex_api_url": "https://webexapis.com/v1/messages",
    "rocketchat_api_url": "https://open.rocket.chat/",
    "slack_app_url": "https://slack.com/api/chat.postMessage",
}

GLOBAL_EXTRA = (*_GLOBAL_URLS, *GLOBAL_SECRET_URLS, *GLOBAL_SECRETS, *_GLOBAL_STRINGS)

_GLOBAL_FIELDS: dict[str, Converter] = {
    "resolve_timeout": duration,
    "http_config": http_config,
    "smtp_from": string,
    "smtp_hello": string,
    "smtp_smarthost": host_port,
    "smtp_auth_username": string,
    "smtp_auth_password": string,
    "smtp_auth_password_file": string,
    "smtp_auth_secret": string,
    "smtp_auth_secret_file": string,
    "smtp_auth_identity": string,
    "smtp_require_tls": boolean,
    "smtp_tls_config": tls_config,
    "smtp_force_implicit_tls": boolean,
    **dict.fromkeys(_GLOBAL_URLS, url),
    **dict.fromkeys(GLOBAL_SECRET_URLS, secret_url),
    **dict.fromkeys(GLOBAL_SECRETS + _GLOBAL_STRINGS, string),
}

_GLOBAL_PAIRS = (
    ("slack_app_token", "slack_app_token_file"),
    ("slack_api_url", "slack_api_url_file"),
)
_GLOBAL_PAIRS_AFTER_SLACK = (
    ("opsgenie_api_key", "opsgenie_api_key_file"),
    ("victorops_api_key", "victorops_api_key_file"),
    ("telegram_bot_token", "telegram_bot_token_file"),
    ("smtp_auth_password", "smtp_auth_password_file"),
    ("rocketchat_token", "rocketchat_token_file"),
    ("rocketchat_token_id", "rocketchat_token_id_file"),
    ("smtp_auth_secret", "smtp_auth_secret_file"),
    ("wechat_api_secret", "wechat_api_secret_file"),
    ("mattermost_webhook_url", "mattermost_webhook_url_file"),
)


def global_config(r: Reader, node: Node) -> dict[str, Any] | None:
    return r.struct(node, "config.plain", _GLOBAL_FIELDS)


def global_pair_problems(g: dict[str, Any]) -> str | None:
    for pair in _GLOBAL_PAIRS:
        if problem := at_most_one(g, *pair):
            return problem
    app_token = g.get("slack_app_token") or g.get("slack_app_token_file")
    api_url = g.get("slack_api_url") or g.get("slack_api_url_file")
    if (
        app_token
        and api_url
        and g.get("slack_api_url") != g.get("slack_app_url", GLOBAL_URL_DEFAULTS["slack_app_url"])
    ):
        return (
            "at most one of slack_app_token/slack_app_token_file & slack_api_url/slack_api_url_file "
            "must be configured"
        )
    for pair in _GLOBAL_PAIRS_AFTER_SLACK:
        if problem := at_most_one(g, *pair):
            return problem
    return None
