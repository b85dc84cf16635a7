"""Typed decoding of the integration fields that are not plain strings: URLs, numbers, booleans,
durations, SNS's `sigv4` block, Mattermost's attachments, fields, props and priority, Jira's
summary/description/fields and Rocket.Chat's fields and actions.

An integration alerter delivers must read its settings with the types Alertmanager gives them
(yaml.v2 refuses `chat_id: abc` and `disable_notifications: maybe` at load, and so must alerter),
and nested blocks must be checked field by field: an unknown key in a Mattermost attachment or a
`sigv4` block is a load error in Alertmanager, not a setting to drop. Values that the config
write-back (GET /api/v2/status) shows are kept as written where the text matters (durations,
Jira's `summary` as a string or a mapping); the senders read them with `duration_seconds` and
`go_duration_seconds`. `integrations.py` names these tables in its INTEGRATIONS entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode

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
    mapping_pairs,
    string,
    string_map,
    strings,
    uint64,
)
from app.durations import parse_duration, parse_go_duration


def _int64(r: Reader, node: Node) -> int | None:
    return r.integer(node, "int64")


def _int(r: Reader, node: Node) -> int | None:
    return r.integer(node, "int")


def _struct(go_type: str, table: Mapping[str, Converter], check: Any = None) -> Converter:
    """A nested struct decoded strictly; `check(values)` (Alertmanager's UnmarshalYAML check)
    runs when it decoded cleanly. A null list item is checked as an empty struct."""

    def convert(r: Reader, node: Node) -> dict[str, Any]:
        values, clean = r.checked_struct(None if is_null(node) else node, go_type, table)
        values = {k: v for k, v in (values or {}).items() if v is not None}
        if clean and check is not None:
            fail_on(check(values))
        return values

    return convert


def _list(go_type: str, item: Converter) -> Converter:
    """A YAML list whose items (null ones included) are decoded by `item`."""

    def convert(r: Reader, node: Node) -> list[Any] | None:
        items = r.sequence(node, go_type)
        return None if items is None else [item(r, n) for n in items]

    return convert


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


SIGV4 = _struct(
    "sigv4.plain",
    {
        "region": string,
        "access_key": string,
        "secret_key": string,
        "profile": string,
        "role_arn": string,
        "external_id": string,
        "use_fips_sts_endpoint": boolean,
        "service_name": string,
    },
    _sigv4_problem,
)


def _mattermost_field_problem(v: dict[str, Any]) -> str | None:
    if not v.get("title"):
        return "missing title in Mattermost field configuration"
    if not v.get("value"):
        return "missing value in Mattermost field configuration"
    return None


_MATTERMOST_FIELDS = _list(
    "[]*mattermost.MattermostField",
    _struct(
        "mattermost.plain",
        {"title": string, "value": string, "short": boolean},
        _mattermost_field_problem,
    ),
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

_MATTERMOST_ATTACHMENT = _struct(
    "mattermost.MattermostAttachment",
    {**dict.fromkeys(MATTERMOST_ATTACHMENT_FIELDS, string), "fields": _MATTERMOST_FIELDS},
)


def _kept(check: Converter) -> Converter:
    """A converter that checks the node with `check` and keeps the value as written."""

    def convert(r: Reader, node: Node) -> Any:
        check(r, node)
        return r.raw(node)

    return convert


def duration_seconds(value: Any) -> float:
    """A Prometheus duration kept as written (`reopen_duration`), in seconds; 0 when unset."""
    return parse_duration(str(value)) if value else 0.0


def go_duration_seconds(value: Any) -> float:
    """A Go time.Duration kept as written (`timeout`): its text, or whole nanoseconds."""
    if not value:
        return 0.0
    return value / 1e9 if isinstance(value, int) else parse_go_duration(str(value))


_JIRA_FIELD_CONFIG: dict[str, Converter] = {"template": string, "enable_update": boolean}


def _jira_field_config(r: Reader, node: Node) -> str | dict[str, Any]:
    """Jira's `summary` and `description`: a template, or {template, enable_update}."""
    if is_null(node) or isinstance(node, ScalarNode):
        return r.string(node)
    values = r.struct(node, "jira.plain", _JIRA_FIELD_CONFIG) or {}
    return {k: v for k, v in values.items() if v is not None}


def _any_map(r: Reader, node: Node) -> dict[str, Any] | None:
    """Jira's `fields` (map[string]any), read as yaml.v2 reads it: the custom fields' values
    keep the types Alertmanager gives them."""
    if is_null(node):
        return None
    if not isinstance(node, MappingNode):
        r.type_error(node, "map[string]interface {}")
        return None
    return {r.string(key): go_any(r, value) for key, value in mapping_pairs(node)}


JIRA_FIELDS: dict[str, Converter] = {
    "api_url": url,
    "api_type": string,
    "project": string,
    "summary": _jira_field_config,
    "description": _jira_field_config,
    "labels": strings,
    "priority": string,
    "issue_type": string,
    "reopen_transition": string,
    "resolve_transition": string,
    "wont_fix_resolution": string,
    "reopen_duration": _kept(lambda r, n: r.duration(n)),
    "fields": _any_map,
}

_ROCKETCHAT_FIELD: dict[str, Converter] = {"title": string, "value": string, "short": boolean}
# yaml.v2 names these fields after the Go struct's fields, lower-cased (the struct has no yaml tags).
_ROCKETCHAT_ACTION: dict[str, Converter] = {
    "type": string,
    "text": string,
    "url": string,
    "imageurl": string,
    "iswebview": boolean,
    "webviewheightratio": string,
    "msg": string,
    "msginchatwindow": boolean,
    "msgprocessingtype": string,
}


def _rocketchat_items(go_type: str, table: dict[str, Converter], what: str) -> Converter:
    """A list of attachment fields or actions. An empty item (`- `), which Alertmanager accepts
    and then crashes on when it notifies, is refused."""

    def item(r: Reader, node: Node) -> dict[str, Any]:
        values = r.struct(node, f"rocketchat.{go_type}", table) or {}
        return {k: v for k, v in values.items() if v is not None}

    each = list_of(f"[]*rocketchat.{go_type}", item)

    def convert(r: Reader, node: Node) -> list[dict[str, Any]] | None:
        items = each(r, node)
        if items is not None and None in items:
            raise ConfigError(
                f"empty item in rocketchat_config {what}: give it a title and value, or remove it"
            )
        return items

    return convert


ROCKETCHAT_FIELDS: dict[str, Converter] = {
    "api_url": url,
    **dict.fromkeys(
        [
            "token_id",
            "token_id_file",
            "token",
            "token_file",
            "channel",
            "color",
            "title",
            "title_link",
            "text",
            "emoji",
            "icon_url",
            "image_url",
            "thumb_url",
        ],
        string,
    ),
    "fields": _rocketchat_items("RocketchatAttachmentField", _ROCKETCHAT_FIELD, "fields"),
    "short_fields": boolean,
    "link_names": boolean,
    "actions": _rocketchat_items("RocketchatAttachmentAction", _ROCKETCHAT_ACTION, "actions"),
}

INCIDENTIO_FIELDS: dict[str, Converter] = {
    # A URL, refused when it does not parse; `<secret>` (the config as written back) passes.
    "url": secret_url,
    "url_file": string,
    "alert_source_token": string,
    "alert_source_token_file": string,
    "max_alerts": uint64,
    "timeout": _kept(lambda r, n: r.go_duration(n)),
}


TYPES: dict[str, dict[str, Converter]] = {
    "telegram_configs": {
        "api_url": url,
        "chat_id": _int64,
        "message_thread_id": _int,
        "disable_notifications": boolean,
    },
    "discord_configs": {"webhook_url": secret_url},
    "webex_configs": {"api_url": url},
    "wechat_configs": {"api_url": url},
    "sns_configs": {"sigv4": SIGV4, "attributes": string_map, "use_aws_http_client": boolean},
    "msteams_configs": {"webhook_url": secret_url},
    "msteamsv2_configs": {"webhook_url": secret_url},
    "mattermost_configs": {
        "webhook_url": secret_url,
        "fields": _MATTERMOST_FIELDS,
        "attachments": _list("[]*mattermost.MattermostAttachment", _MATTERMOST_ATTACHMENT),
        "props": _struct("mattermost.MattermostProps", {"card": string}),
        "priority": _struct(
            "mattermost.MattermostPriority",
            {"priority": string, "requested_ack": boolean, "persistent_notifications": boolean},
        ),
    },
    "jira_configs": JIRA_FIELDS,
    "rocketchat_configs": ROCKETCHAT_FIELDS,
    "incidentio_configs": INCIDENTIO_FIELDS,
}
