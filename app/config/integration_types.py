"""The field types of the Jira, Rocket.Chat and incident.io receivers, checked as Alertmanager
decodes them.

alerter delivers these integrations, so a field of the wrong kind (a list where a template
string goes, a malformed duration or URL) must stop the load as it stops Alertmanager's, rather
than reach a send and fail there. Values are kept as written (durations as their text, Jira's
`summary` as a string or a mapping) because the config is also written back for
GET /api/v2/status; the senders read them with `duration_seconds` and `go_duration_seconds`.
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode

from app import goyaml
from app.config.addresses import secret_url, url
from app.config.model import ConfigError
from app.config.reader import (
    Converter,
    Reader,
    boolean,
    is_null,
    list_of,
    mapping_pairs,
    string,
    strings,
    uint64,
)
from app.durations import parse_duration, parse_go_duration


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
    return {r.string(key): goyaml.from_node(value) for key, value in mapping_pairs(node)}


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
