"""The integrations other than webhook and email (Slack, PagerDuty, Telegram, ...): their
validation, the way Alertmanager checks them (known fields, required settings, the global
defaults they need), each kept as its validated mapping in `Receiver.raw_integrations`.

An integration's typed fields (`Integration.types`, from app/config/integration_types.py and
app/config/integration_fields.py: URLs, numbers, booleans, durations, nested structs such as Slack
actions or SNS's sigv4) get yaml.v2's type errors, and its other fields are strings, as in
Alertmanager's structs. `Integration.defaults` and `from_global` are Alertmanager's per-field
defaults (read through `_common.setting`). `INTEGRATIONS` also names each one's secrets, for the
write-back.

Beyond Alertmanager's own checks, alerter refuses values that Alertmanager accepts but that cannot
work (app/config/service_limits.py).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from yaml.nodes import Node

from app.config import service_limits as limits
from app.config.httpconfig import http_config
from app.config.integration_fields import (
    OPSGENIE_TYPES,
    PAGERDUTY_TYPES,
    PUSHOVER_TYPES,
    SLACK_TYPES,
    VICTOROPS_TYPES,
    opsgenie_responders,
)
from app.config.integration_types import TYPES
from app.config.reader import Converter, Reader, at_most_one, boolean, fail_on, raw, string
from app.gostrings import go_quote

Check = Callable[[dict[str, Any]], str | None]


def _one_of(a: str, b: str) -> Check:
    return lambda v: None if v.get(a) or v.get(b) else f"one of {a} or {b} must be configured"


def _at_most(*names: str) -> Check:
    return lambda v: at_most_one(v, *names)


def _required(name: str, message: str) -> Check:
    return lambda v: None if v.get(name) else message


def _sns_target(v: dict[str, Any]) -> str | None:
    target, topic, phone = (not v.get("target_arn"), not v.get("topic_arn"), not v.get("phone_number"))
    if (target != topic) != phone:
        return "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config"
    return None


def _telegram_chat(v: dict[str, Any]) -> str | None:
    if not v.get("chat_id") and not v.get("chat_id_file"):
        return "missing chat_id or chat_id_file on telegram_config"
    if v.get("chat_id") and v.get("chat_id_file"):
        return "at most one of chat_id & chat_id_file must be configured"
    if v.get("parse_mode", "") not in ("", None, "Markdown", "MarkdownV2", "HTML"):
        return "unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML or empty string"
    return None


def _incidentio_auth(v: dict[str, Any]) -> str | None:
    http = v.get("http_config")
    token = v.get("alert_source_token") or v.get("alert_source_token_file")
    if http is not None and http.authorization is not None and token:
        return (
            "cannot specify alert_source_token or alert_source_token_file when using "
            "http_config.authorization"
        )
    if http is not None and http.authorization is None and not token:
        return (
            "at least one of alert_source_token, alert_source_token_file or http_config.authorization "
            "must be configured"
        )
    return None


def _pagerduty_key(v: dict[str, Any]) -> str | None:
    if any(v.get(k) for k in ("routing_key", "service_key", "routing_key_file", "service_key_file")):
        return None
    return "missing service or routing key in PagerDuty config"


def _jira_api_type(v: dict[str, Any]) -> str | None:
    if v.get("api_type", "auto") not in ("auto", "cloud", "datacenter"):
        return "unknown api_type on jira_config, must be auto, cloud or datacenter"
    return None


def _victorops_custom_fields(v: dict[str, Any]) -> str | None:
    reserved = ("routing_key", "message_type", "state_message", "entity_display_name", "monitoring_tool")
    for name in (*reserved, "entity_id", "entity_state"):
        if name in (v.get("custom_fields") or {}):
            return (
                f"victorOps config contains custom field {name} which cannot be used as it conflicts "
                "with the fixed/static fields"
            )
    return None


def _pushover_format(v: dict[str, Any]) -> str | None:
    return (
        "at most one of monospace & html must be configured" if v.get("html") and v.get("monospace") else None
    )


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _discord_avatar_url(v: dict[str, Any]) -> str | None:
    """An avatar_url Go's url.Parse refuses: Alertmanager drops it at every send with a warning;
    alerter refuses it when the config loads, so that it is fixed rather than lost."""
    avatar = str(v.get("avatar_url") or "")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in avatar):
        return "discord_configs: avatar_url is not a valid URL (net/url: invalid control character in URL)"
    if _BAD_ESCAPE.search(avatar):
        return "discord_configs: avatar_url is not a valid URL (invalid URL escape)"
    return None


_WECHAT_MESSAGE_TYPES = re.compile(r"^(text|markdown)$")


def _wechat_message_type(v: dict[str, Any]) -> str | None:
    kind = v.get("message_type") or "text"
    if _WECHAT_MESSAGE_TYPES.match(kind):
        return None
    valid = _WECHAT_MESSAGE_TYPES.pattern
    return f"weChat message type {go_quote(kind)} does not match valid options {valid}"


def _sns_alerter_limits(v: dict[str, Any]) -> str | None:
    """What alerter cannot do for SNS, refused rather than dropped (see docs/compatibility.md)."""
    if importlib.util.find_spec("botocore") is None:
        return (
            "sns_configs need botocore to sign requests with AWS SigV4; install alerter with the "
            "`sns` extra (pip install 'alerter[sns]')"
        )
    if (v.get("sigv4") or {}).get("role_arn"):
        return (
            "sns_configs: sigv4.role_arn is not supported by alerter (it does not assume AWS roles); "
            "give the role's credentials with sigv4.access_key and sigv4.secret_key, a sigv4.profile "
            "or the environment instead"
        )
    if v.get("use_aws_http_client"):
        return (
            "sns_configs: use_aws_http_client is not supported by alerter; remove it and set the CA "
            "bundle with http_config.tls_config.ca_file"
        )
    return None


def _webex_auth(v: dict[str, Any]) -> str | None:
    http = v.get("http_config")
    return (
        "missing webex_configs.http_config.authorization"
        if http is None or http.authorization is None
        else None
    )


def _slack_auth(v: dict[str, Any]) -> str | None:
    if (v.get("api_url") or v.get("api_url_file")) and (v.get("app_token") or v.get("app_token_file")):
        return "at most one of api_url/api_url_file & app_token/app_token_file must be configured"
    return None


@dataclass(frozen=True)
class Integration:
    """What alerter knows about an integration: enough to validate, default and redact it."""

    go_type: str  # the type named in strict-field errors
    fields: str  # the YAML keys Alertmanager accepts, space separated
    send_resolved: bool
    secrets: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    nil_error: str = ""  # message for a null list item ("" means it is treated as {})
    # For the integrations alerter delivers: fields decoded with these converters; every other
    # field is then a string, as in Alertmanager's structs (None: all fields kept as written).
    types: Mapping[str, Converter] | None = None
    # Alertmanager's Default<Name>Config: the value of a field the config leaves out.
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # Fields that fall back to a global setting (field -> global key), then to its default.
    from_global: Mapping[str, str] = field(default_factory=dict)


def _template(name: str) -> str:
    """A default that renders one of the default templates (app/template/defaults/)."""
    return f'{{{{ template "{name}" . }}}}'


INTEGRATIONS: dict[str, Integration] = {
    "discord_configs": Integration(
        "discord.plain",
        "webhook_url webhook_url_file content title message username avatar_url",
        True,
        ("webhook_url",),
        (
            _one_of("webhook_url", "webhook_url_file"),
            _at_most("webhook_url", "webhook_url_file"),
            _discord_avatar_url,
        ),
        "missing discord config",
        TYPES["discord_configs"],
        {"title": _template("discord.default.title"), "message": _template("discord.default.message")},
    ),
    "incidentio_configs": Integration(
        "incidentio.plain",
        "url url_file alert_source_token alert_source_token_file max_alerts timeout",
        True,
        ("url", "alert_source_token"),
        (
            _one_of("url", "url_file"),
            _at_most("url", "url_file"),
            _at_most("alert_source_token", "alert_source_token_file"),
            _incidentio_auth,
        ),
        "missing incidentio config",
        types=TYPES["incidentio_configs"],
    ),
    "pagerduty_configs": Integration(
        "pagerduty.plain",
        "service_key service_key_file routing_key routing_key_file url client client_url description "
        "details images links source severity class component group timeout",
        True,
        ("service_key", "routing_key"),
        (
            _pagerduty_key,
            _at_most("routing_key", "routing_key_file"),
            _at_most("service_key", "service_key_file"),
            limits.pagerduty_v1_fields,
            limits.pagerduty_severity,
        ),
        "missing pagerduty config",
        PAGERDUTY_TYPES,
    ),
    "slack_configs": Integration(
        "config.plain",
        "api_url api_url_file app_token app_token_file app_url channel username color title title_link "
        "pretext text message_text fields short_fields footer fallback callback_id icon_emoji icon_url "
        "image_url thumb_url link_names mrkdwn_in actions update_message timeout",
        False,
        ("api_url", "app_token"),
        (
            _at_most("api_url", "api_url_file"),
            _at_most("app_token", "app_token_file"),
            _slack_auth,
            limits.slack_update_message,
        ),
        types=SLACK_TYPES,
    ),
    "opsgenie_configs": Integration(
        "opsgenie.plain",
        "api_key api_key_file api_url message description source details entity responders actions tags "
        "note priority update_alerts",
        True,
        ("api_key",),
        (_at_most("api_key", "api_key_file"), opsgenie_responders, limits.opsgenie_priority),
        types=OPSGENIE_TYPES,
    ),
    "wechat_configs": Integration(
        "config.plain",
        "api_secret api_secret_file corp_id message api_url to_user to_party to_tag agent_id message_type",
        False,
        ("api_secret",),
        (_wechat_message_type, _at_most("api_secret", "api_secret_file")),
        "",
        TYPES["wechat_configs"],
        {
            "message": _template("wechat.default.message"),
            "to_user": _template("wechat.default.to_user"),
            "to_party": _template("wechat.default.to_party"),
            "to_tag": _template("wechat.default.to_tag"),
            "agent_id": _template("wechat.default.agent_id"),
        },
        {"api_url": "wechat_api_url", "corp_id": "wechat_api_corp_id"},
    ),
    "pushover_configs": Integration(
        "pushover.plain",
        "user_key user_key_file token token_file title message url url_title device sound priority retry "
        "expire ttl html monospace",
        True,
        ("user_key", "token"),
        (
            _one_of("user_key", "user_key_file"),
            _at_most("user_key", "user_key_file"),
            _one_of("token", "token_file"),
            _at_most("token", "token_file"),
            _pushover_format,
            limits.pushover_priority,
            limits.pushover_timing,
        ),
        "missing pushover config",
        PUSHOVER_TYPES,
    ),
    "victorops_configs": Integration(
        "config.plain",
        "api_key api_key_file api_url routing_key message_type state_message entity_display_name "
        "monitoring_tool custom_fields",
        True,
        ("api_key",),
        (
            _required("routing_key", "missing Routing key in VictorOps config"),
            _at_most("api_key", "api_key_file"),
            _victorops_custom_fields,
            limits.victorops_message_type,
        ),
        "missing victorops config",
        VICTOROPS_TYPES,
    ),
    "sns_configs": Integration(
        "sns.plain",
        "api_url sigv4 topic_arn phone_number target_arn subject message attributes use_aws_http_client",
        True,
        (),
        (_sns_target, _sns_alerter_limits),
        "missing sns config",
        TYPES["sns_configs"],
        {"subject": _template("sns.default.subject"), "message": _template("sns.default.message")},
    ),
    "telegram_configs": Integration(
        "telegram.plain",
        "api_url bot_token bot_token_file chat_id chat_id_file message_thread_id message "
        "disable_notifications parse_mode",
        True,
        ("bot_token",),
        (_at_most("bot_token", "bot_token_file"), _telegram_chat),
        "missing telegram config",
        TYPES["telegram_configs"],
        {"message": _template("telegram.default.message"), "parse_mode": "HTML"},
        {"api_url": "telegram_api_url"},
    ),
    "webex_configs": Integration(
        "config.plain",
        "api_url message room_id",
        True,
        (),
        (_required("room_id", "missing room_id on webex_config"), _webex_auth),
        "missing webex config",
        TYPES["webex_configs"],
        {"message": _template("webex.default.message")},
        {"api_url": "webex_api_url"},
    ),
    "msteams_configs": Integration(
        "msteams.plain",
        "webhook_url webhook_url_file title summary text",
        True,
        ("webhook_url",),
        (_one_of("webhook_url", "webhook_url_file"), _at_most("webhook_url", "webhook_url_file")),
        "missing msteams config",
        TYPES["msteams_configs"],
        {
            "title": _template("msteams.default.title"),
            "summary": _template("msteams.default.summary"),
            "text": _template("msteams.default.text"),
        },
    ),
    "msteamsv2_configs": Integration(
        "msteamsv2.plain",
        "webhook_url webhook_url_file title text",
        True,
        ("webhook_url",),
        (_one_of("webhook_url", "webhook_url_file"), _at_most("webhook_url", "webhook_url_file")),
        "missing msteamsv2 config",
        TYPES["msteamsv2_configs"],
        {"title": _template("msteamsv2.default.title"), "text": _template("msteamsv2.default.text")},
    ),
    "jira_configs": Integration(
        "jira.plain",
        "api_url api_type project summary description labels priority issue_type reopen_transition "
        "resolve_transition wont_fix_resolution reopen_duration fields",
        True,
        (),
        (
            _required("project", "missing project in jira_config"),
            _required("issue_type", "missing issue_type in jira_config"),
            _jira_api_type,
        ),
        "missing jira config",
        types=TYPES["jira_configs"],
    ),
    "rocketchat_configs": Integration(
        "rocketchat.plain",
        "api_url token_id token_id_file token token_file channel color title title_link text fields "
        "short_fields emoji icon_url image_url thumb_url link_names actions",
        False,
        ("token", "token_id"),
        (_at_most("token", "token_file"), _at_most("token_id", "token_id_file")),
        types=TYPES["rocketchat_configs"],
    ),
    "mattermost_configs": Integration(
        "mattermost.plain",
        "webhook_url webhook_url_file channel username text fallback color pretext author_name author_link "
        "author_icon title title_link fields thumb_url footer footer_icon image_url icon_url icon_emoji "
        "attachments type props priority",
        True,
        ("webhook_url",),
        (_at_most("webhook_url", "webhook_url_file"),),
        "missing mattermost config",
        TYPES["mattermost_configs"],
        {
            "username": _template("mattermost.default.username"),
            "color": _template("mattermost.default.color"),
            "text": _template("mattermost.default.text"),
            "title": _template("mattermost.default.title"),
            "title_link": _template("mattermost.default.titlelink"),
            "fallback": _template("mattermost.default.fallback"),
        },
    ),
}


def integration_converter(spec: Integration) -> Converter:
    plain = raw if spec.types is None else string
    table: dict[str, Converter] = {**dict.fromkeys(spec.fields.split(), plain), **(spec.types or {})}
    table.update(send_resolved=boolean, http_config=http_config)

    def convert(r: Reader, node: Node) -> dict[str, Any]:
        values, clean = r.checked_struct(node, spec.go_type, table)
        values = {k: v for k, v in (values or {}).items() if v is not None}
        if clean:
            fail_on(*(check(values) for check in spec.checks))
        return values

    return convert


def _has(values: Mapping[str, Any], *names: str) -> bool:
    return any(values.get(name) for name in names)


# Settings an integration must have once the global defaults are copied in:
# (its own fields, the global fields that stand in for them, Alertmanager's message).
_NEEDS_FROM_GLOBAL: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...]] = {
    "slack_configs": (
        (
            ("api_url", "api_url_file", "app_token", "app_token_file"),
            ("slack_api_url", "slack_api_url_file", "slack_app_token", "slack_app_token_file"),
            "no Slack API URL nor App token set either inline or in a file",
        ),
    ),
    "opsgenie_configs": (
        (
            ("api_key", "api_key_file"),
            ("opsgenie_api_key", "opsgenie_api_key_file"),
            "no global OpsGenie API Key set either inline or in a file",
        ),
    ),
    "wechat_configs": (
        (
            ("api_secret", "api_secret_file"),
            ("wechat_api_secret", "wechat_api_secret_file"),
            "no global Wechat Api Secret set either inline or in a file",
        ),
        (("corp_id",), ("wechat_api_corp_id",), "no global Wechat CorpID set"),
    ),
    "victorops_configs": (
        (
            ("api_key", "api_key_file"),
            ("victorops_api_key", "victorops_api_key_file"),
            "no global VictorOps API Key set",
        ),
    ),
    "telegram_configs": (
        (
            ("bot_token", "bot_token_file"),
            ("telegram_bot_token", "telegram_bot_token_file"),
            "missing bot_token or bot_token_file on telegram_config",
        ),
    ),
    "jira_configs": ((("api_url",), ("jira_api_url",), "no global Jira Cloud URL set"),),
    "rocketchat_configs": (
        (
            ("token_id", "token_id_file"),
            ("rocketchat_token_id", "rocketchat_token_id_file"),
            "no global Rocketchat TokenID set either inline or in a file",
        ),
        (
            ("token", "token_file"),
            ("rocketchat_token", "rocketchat_token_file"),
            "no global Rocketchat Token set either inline or in a file",
        ),
    ),
    "mattermost_configs": (
        (
            ("webhook_url", "webhook_url_file"),
            ("mattermost_webhook_url", "mattermost_webhook_url_file"),
            "missing webhook_url or webhook_url_file on mattermost_config",
        ),
    ),
}


def slack_uses_app_token(c: Mapping[str, Any], g: Mapping[str, Any]) -> bool:
    """Whether a Slack config posts with an app token: its own, or the global one when it sets
    neither an api_url nor http_config authorization of its own (Alertmanager's rule)."""
    if _has(c, "app_token", "app_token_file"):
        return True
    own_http = c.get("http_config")
    own_auth = own_http is not None and own_http.authorization is not None
    return not own_auth and not c.get("api_url") and _has(g, "slack_app_token", "slack_app_token_file")


def _slack_token_auth(c: dict[str, Any], g: dict[str, Any]) -> str | None:
    http = c.get("http_config") or g.get("http_config")
    if slack_uses_app_token(c, g) and http is not None and http.authorization is not None:
        return "http authorization can't be set when using Slack App tokens"
    return None


# Checks of an integration against the global section, after the _NEEDS_FROM_GLOBAL ones.
_GLOBAL_CHECKS: dict[str, Callable[[dict[str, Any], dict[str, Any]], str | None]] = {
    "slack_configs": _slack_token_auth,
}


def global_default_problem(key: str, c: dict[str, Any], g: dict[str, Any]) -> str | None:
    """The checks Alertmanager makes once global defaults are copied into an integration."""
    for own, inherited, message in _NEEDS_FROM_GLOBAL.get(key, ()):
        if not _has(c, *own) and not _has(g, *inherited):
            return message
    check = _GLOBAL_CHECKS.get(key)
    return check(c, g) if check is not None else None
