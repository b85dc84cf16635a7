"""The integrations other than webhook and email (Slack, PagerDuty, ...): their validation.

So that an existing alertmanager.yml loads unchanged, they are validated the way Alertmanager
checks them (known fields, required settings, the global defaults they need) and kept raw in
`Receiver.raw_integrations`. An integration whose fields are typed (`Integration.types`: strings,
booleans, durations, nested structs such as Slack actions) gets yaml.v2's type errors; the others
are checked at their top level only. `INTEGRATIONS` also names each one's secrets, for the
write-back.

Beyond Alertmanager's own checks, alerter refuses values that Alertmanager accepts but that cannot
work (app/config/service_limits.py).
"""

from __future__ import annotations

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
from app.config.reader import Converter, Reader, at_most_one, boolean, fail_on, raw

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
    """What alerter knows about an integration it keeps raw: enough to validate and redact it."""

    go_type: str  # the type named in strict-field errors
    fields: str  # the YAML keys Alertmanager accepts, space separated
    send_resolved: bool
    secrets: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    nil_error: str = ""  # message for a null list item ("" means it is treated as {})
    types: Mapping[str, Converter] = field(default_factory=dict)  # fields not kept raw


INTEGRATIONS: dict[str, Integration] = {
    "discord_configs": Integration(
        "discord.plain",
        "webhook_url webhook_url_file content title message username avatar_url",
        True,
        ("webhook_url",),
        (_one_of("webhook_url", "webhook_url_file"), _at_most("webhook_url", "webhook_url_file")),
        "missing discord config",
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
        (_at_most("api_secret", "api_secret_file"),),
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
        (_sns_target,),
        "missing sns config",
    ),
    "telegram_configs": Integration(
        "telegram.plain",
        "api_url bot_token bot_token_file chat_id chat_id_file message_thread_id message "
        "disable_notifications parse_mode",
        True,
        ("bot_token",),
        (_at_most("bot_token", "bot_token_file"), _telegram_chat),
        "missing telegram config",
    ),
    "webex_configs": Integration(
        "config.plain",
        "api_url message room_id",
        True,
        (),
        (_required("room_id", "missing room_id on webex_config"), _webex_auth),
        "missing webex config",
    ),
    "msteams_configs": Integration(
        "msteams.plain",
        "webhook_url webhook_url_file title summary text",
        True,
        ("webhook_url",),
        (_one_of("webhook_url", "webhook_url_file"), _at_most("webhook_url", "webhook_url_file")),
        "missing msteams config",
    ),
    "msteamsv2_configs": Integration(
        "msteamsv2.plain",
        "webhook_url webhook_url_file title text",
        True,
        ("webhook_url",),
        (_one_of("webhook_url", "webhook_url_file"), _at_most("webhook_url", "webhook_url_file")),
        "missing msteamsv2 config",
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
    ),
    "rocketchat_configs": Integration(
        "rocketchat.plain",
        "api_url token_id token_id_file token token_file channel color title title_link text fields "
        "short_fields emoji icon_url image_url thumb_url link_names actions",
        False,
        ("token", "token_id"),
        (_at_most("token", "token_file"), _at_most("token_id", "token_id_file")),
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
    ),
}


def integration_converter(spec: Integration) -> Converter:
    table: dict[str, Converter] = dict.fromkeys(spec.fields.split(), raw)
    table.update(spec.types)
    table.update(send_resolved=boolean, http_config=http_config)
    if "chat_id" in table:
        table["chat_id"] = lambda r, n: r.integer(n, "int64")

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
