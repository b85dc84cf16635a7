"""The typed fields of the integrations other than webhook and email (`TYPES`, keyed by their
`*_configs` key): URLs, numbers, booleans, durations and nested structs.

Alertmanager decodes every integration field into a Go type, so `title: [a]`, `chat_id: abc` or
`retry: 30` fails to load there, and so must it here; its nested structs (Slack fields, actions
and confirmations, Opsgenie responders, SNS's `sigv4`, Mattermost's attachments) check themselves,
and an unknown key in one is a load error, not a setting to drop. A table lists the fields that
are not plain strings; integrations.py reads every other field of the integration as a string.
Values are kept in the form the config write-back (GET /api/v2/status) prints where the text
matters (a duration as Go writes it, Jira's `summary` as a string or a mapping); the senders read
them with `duration_seconds` and `send_timeout`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.config.addresses import secret_url, url
from app.config.model import ConfigError
from app.config.reader import (
    Converter,
    Reader,
    boolean,
    fail_on,
    go_any,
    is_null,
    list_of,
    string,
    string_map,
    strings,
    uint64,
)
from app.durations import format_go_duration_ns, parse_duration, parse_go_duration
from app.gotemplate import ParseError, parse
from app.yamlv2 import mapping_pairs

StructCheck = Callable[[dict[str, Any]], str | None]

# --- Converters of Go's types ------------------------------------------------------------------


def _int64(r: Reader, node: Node) -> int | None:
    return r.integer(node, "int64")


def _int(r: Reader, node: Node) -> int | None:
    return r.integer(node, "int")


def go_duration_text(r: Reader, node: Node) -> str | None:
    """A time.Duration field (`timeout`): validated as yaml.v2 does, kept as Go writes it back
    (an integer of nanoseconds becomes its duration text)."""
    seconds = r.go_duration(node)
    if seconds is None or not isinstance(node, ScalarNode):
        return None
    return node.value if node.tag.endswith(":str") else format_go_duration_ns(round(seconds * 1e9))


def duration_text(parse_text: Callable[[str], float]) -> Converter:
    """A duration read from its text by `parse_text` (Prometheus' model.Duration, or Go's
    time.ParseDuration behind a TextUnmarshaler), whose error stops the load (`retry: 30` has no
    unit); kept as written."""

    def convert(r: Reader, node: Node) -> str | None:
        seconds = r.duration(node, parse_text)
        return None if seconds is None else str(node.value)

    return convert


def duration_seconds(value: Any) -> float:
    """A Prometheus duration kept as written (`reopen_duration`), in seconds; 0 when unset."""
    return parse_duration(str(value)) if value else 0.0


def struct(go_type: str, table: Mapping[str, Converter], check: StructCheck | None = None) -> Converter:
    """A nested struct decoded strictly, its unset (None) fields left out; `check` is its
    UnmarshalYAML's validation, run only when it decoded cleanly. A null struct (a null list
    item too) is read, and checked, as an empty one."""

    def convert(r: Reader, node: Node) -> dict[str, Any]:
        values, clean = r.checked_struct(node, go_type, table)
        values = {k: v for k, v in (values or {}).items() if v is not None}
        if clean and check is not None:
            fail_on(check(values))
        return values

    return convert


def struct_list(list_type: str, item: Converter) -> Converter:
    """A YAML list of nested structs (`[]*config.SlackField`), null items included."""

    def convert(r: Reader, node: Node) -> list[dict[str, Any]] | None:
        items = r.sequence(node, list_type)
        return None if items is None else [item(r, n) for n in items]

    return convert


def _text_tree(r: Reader, node: Node) -> Any:
    """A value of PagerDuty's `details`: maps, lists and scalars kept as their text, since
    Alertmanager renders and re-reads every string as YAML at send time (so a number written
    plainly or quoted ends up the same). Null stays None (JSON null)."""
    if is_null(node):
        return None
    if isinstance(node, MappingNode):
        return {r.string(key): _text_tree(r, value) for key, value in mapping_pairs(node)}
    if isinstance(node, SequenceNode):
        return [_text_tree(r, item) for item in node.value]
    return r.string(node)


def _any_map(value: Converter) -> Converter:
    """A map[string]interface{} field (PagerDuty's `details`, Jira's `fields`), its values read by
    `value`."""
    return lambda r, node: r.mapping(node, "map[string]interface {}", lambda item: value(r, item))


# --- Alertmanager's checks of the nested structs (their UnmarshalYAML) -------------------------

OPSGENIE_RESPONDER_TYPES = ("team", "teams", "user", "escalation", "schedule")


def template_problem(text: str) -> str | None:
    """Why `text` does not parse as a Go template, or None."""
    try:
        parse("", text)
    except ParseError as err:
        return str(err)
    return None


def _slack_field(v: dict[str, Any]) -> str | None:
    if not v.get("title"):
        return "missing title in Slack field configuration"
    return None if v.get("value") else "missing value in Slack field configuration"


def _slack_confirm(v: dict[str, Any]) -> str | None:
    return None if v.get("text") else "missing text in Slack confirmation configuration"


def _slack_action(v: dict[str, Any]) -> str | None:
    """Alertmanager's action check; like it, a URL button drops the message-button settings
    (name, value, confirm), and a message button its URL."""
    if not v.get("type"):
        return "missing type in Slack action configuration"
    if not v.get("text"):
        return "missing text in Slack action configuration"
    if v.get("url"):
        for name in ("name", "value", "confirm"):
            v.pop(name, None)
    elif v.get("name"):
        v.pop("url", None)
    else:
        return "missing name or url in Slack action configuration"
    return None


def opsgenie_responders(v: dict[str, Any]) -> str | None:
    """OpsGenieConfig's responder checks. Like Alertmanager, a type is matched lower-cased but
    sent as written."""
    for r in v.get("responders") or []:
        shown = "{" + " ".join(r.get(k, "") for k in ("id", "name", "username", "type")) + "}"
        if not (r.get("id") or r.get("username") or r.get("name")):
            return (
                f"opsGenieConfig responder {shown} has to have at least one of id, username or name specified"
            )
        kind = r.get("type", "")
        if "{{" in kind:
            problem = template_problem(kind)
            if problem:
                return f"opsGenieConfig responder {shown} type contains invalid template syntax: {problem}"
        elif kind.lower() not in OPSGENIE_RESPONDER_TYPES:
            return (
                f"opsGenieConfig responder {shown} type does not match valid options "
                f"^({'|'.join(OPSGENIE_RESPONDER_TYPES)})$"
            )
    return None


def _sigv4_problem(v: dict[str, Any]) -> str | None:
    """prometheus/sigv4's Validate."""
    if bool(v.get("access_key")) != bool(v.get("secret_key")):
        return (
            "must provide a AWS SigV4 Access key and Secret Key if credentials are specified in the "
            "SigV4 config"
        )
    if v.get("external_id") and not v.get("role_arn"):
        return "external_id can only be used with role_arn"
    return None


def _mattermost_field_problem(v: dict[str, Any]) -> str | None:
    if not v.get("title"):
        return "missing title in Mattermost field configuration"
    if not v.get("value"):
        return "missing value in Mattermost field configuration"
    return None


# --- Nested structs -----------------------------------------------------------------------------


def _strings(names: str) -> dict[str, Converter]:
    return dict.fromkeys(names.split(), string)


_SLACK_ACTION = struct(
    "config.plain",
    {
        **_strings("type text url style name value"),
        "confirm": struct("config.plain", _strings("text title ok_text dismiss_text"), _slack_confirm),
    },
    _slack_action,
)

SIGV4 = struct(
    "sigv4.plain",
    {
        **_strings("region access_key secret_key profile role_arn external_id service_name"),
        "use_fips_sts_endpoint": boolean,
    },
    _sigv4_problem,
)

_MATTERMOST_FIELDS = struct_list(
    "[]*mattermost.MattermostField",
    struct("mattermost.plain", {**_strings("title value"), "short": boolean}, _mattermost_field_problem),
)

# An attachment's fields in Alertmanager's order; also fields of a mattermost_config itself.
MATTERMOST_ATTACHMENT_FIELDS = (
    "fallback",
    "color",
    "pretext",
    "text",
    "author_name",
    "author_link",
    "author_icon",
    "title",
    "title_link",
    "fields",
    "thumb_url",
    "footer",
    "footer_icon",
    "image_url",
)

_MATTERMOST_ATTACHMENT = struct(
    "mattermost.MattermostAttachment",
    {**dict.fromkeys(MATTERMOST_ATTACHMENT_FIELDS, string), "fields": _MATTERMOST_FIELDS},
)

_JIRA_FIELD_CONFIG = struct("jira.plain", {"template": string, "enable_update": boolean})


def _jira_field_config(r: Reader, node: Node) -> str | dict[str, Any]:
    """Jira's `summary` and `description`: a template, or {template, enable_update}."""
    if is_null(node) or isinstance(node, ScalarNode):
        return r.string(node)
    values: dict[str, Any] = _JIRA_FIELD_CONFIG(r, node)
    return values


# yaml.v2 names the action's fields after the Go struct's fields, lower-cased (it has no yaml tags).
_ROCKETCHAT_ACTION = {
    **_strings("type text url imageurl webviewheightratio msg msgprocessingtype"),
    "iswebview": boolean,
    "msginchatwindow": boolean,
}


def _rocketchat_items(go_type: str, table: dict[str, Converter], what: str) -> Converter:
    """A list of attachment fields or actions. An empty item (`- `), which Alertmanager accepts
    and then crashes on when it notifies, is refused."""
    each = list_of(f"[]*rocketchat.{go_type}", struct(f"rocketchat.{go_type}", table))

    def convert(r: Reader, node: Node) -> list[dict[str, Any]] | None:
        items = each(r, node)
        if items is not None and None in items:
            raise ConfigError(
                f"empty item in rocketchat_config {what}: give it a title and value, or remove it"
            )
        return items

    return convert


# --- The typed fields of each integration -------------------------------------------------------

TYPES: dict[str, dict[str, Converter]] = {
    "discord_configs": {"webhook_url": secret_url},
    "incidentio_configs": {
        # A URL, refused when it does not parse; `<secret>` (the config as written back) passes.
        "url": secret_url,
        "max_alerts": uint64,
        "timeout": go_duration_text,
    },
    "jira_configs": {
        "api_url": url,
        "summary": _jira_field_config,
        "description": _jira_field_config,
        "labels": strings,
        "reopen_duration": duration_text(parse_duration),
        # The custom fields' values keep the types yaml.v2 gives them.
        "fields": _any_map(go_any),
    },
    "mattermost_configs": {
        "webhook_url": secret_url,
        "fields": _MATTERMOST_FIELDS,
        "attachments": struct_list("[]*mattermost.MattermostAttachment", _MATTERMOST_ATTACHMENT),
        "props": struct("mattermost.MattermostProps", {"card": string}),
        "priority": struct(
            "mattermost.MattermostPriority",
            {"priority": string, "requested_ack": boolean, "persistent_notifications": boolean},
        ),
    },
    "msteams_configs": {"webhook_url": secret_url},
    "msteamsv2_configs": {"webhook_url": secret_url},
    "opsgenie_configs": {
        "api_url": url,
        "details": string_map,
        "responders": struct_list(
            "[]opsgenie.OpsGenieConfigResponder",
            struct("opsgenie.OpsGenieConfigResponder", _strings("id name username type")),
        ),
        "update_alerts": boolean,
    },
    "pagerduty_configs": {
        "url": url,
        "details": _any_map(_text_tree),
        "images": struct_list(
            "[]pagerduty.PagerdutyImage", struct("pagerduty.PagerdutyImage", _strings("src alt href"))
        ),
        "links": struct_list(
            "[]pagerduty.PagerdutyLink", struct("pagerduty.PagerdutyLink", _strings("href text"))
        ),
        "timeout": go_duration_text,
    },
    "pushover_configs": {
        **dict.fromkeys(("retry", "expire", "ttl"), duration_text(parse_go_duration)),
        "html": boolean,
        "monospace": boolean,
    },
    "rocketchat_configs": {
        "api_url": url,
        "fields": _rocketchat_items(
            "RocketchatAttachmentField", {**_strings("title value"), "short": boolean}, "fields"
        ),
        "short_fields": boolean,
        "link_names": boolean,
        "actions": _rocketchat_items("RocketchatAttachmentAction", _ROCKETCHAT_ACTION, "actions"),
    },
    "slack_configs": {
        "api_url": secret_url,
        "app_url": url,
        "fields": struct_list(
            "[]*config.SlackField",
            struct("config.plain", {**_strings("title value"), "short": boolean}, _slack_field),
        ),
        "short_fields": boolean,
        "link_names": boolean,
        "mrkdwn_in": strings,
        "actions": struct_list("[]*config.SlackAction", _SLACK_ACTION),
        "update_message": boolean,
        "timeout": go_duration_text,
    },
    "sns_configs": {"sigv4": SIGV4, "attributes": string_map, "use_aws_http_client": boolean},
    "telegram_configs": {
        "api_url": url,
        "chat_id": _int64,
        "message_thread_id": _int,
        "disable_notifications": boolean,
    },
    "victorops_configs": {"api_url": url, "custom_fields": string_map},
    "webex_configs": {"api_url": url},
    "wechat_configs": {"api_url": url},
}
