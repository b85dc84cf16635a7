"""Typed fields of the integrations kept as RawIntegration: strings, Go durations, nested structs.

Alertmanager decodes every integration field into a Go type, so `title: [a]` or `retry: 30`
fails to load there, and its nested structs (Slack fields, actions and confirmations, Opsgenie
responders) check themselves. The converters and tables here (`SLACK_TYPES`, ...; used as
`Integration.types`) give alerter the same refusals while keeping values in the form the
write-back prints (a duration as written, not a float), which the integration modules read at
send time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.config.addresses import secret_url, url
from app.config.reader import (
    Converter,
    Reader,
    boolean,
    fail_on,
    is_null,
    mapping_pairs,
    string,
    string_map,
    strings,
)
from app.durations import format_go_duration_ns, parse_go_duration
from app.gotemplate import ParseError, parse

StructCheck = Callable[[dict[str, Any]], str | None]


def go_duration_text(r: Reader, node: Node) -> str | None:
    """A time.Duration field (`timeout`): validated as yaml.v2 does, kept as Go writes it back
    (an integer of nanoseconds becomes its duration text)."""
    seconds = r.go_duration(node)
    if seconds is None or not isinstance(node, ScalarNode):
        return None
    return node.value if node.tag.endswith(":str") else format_go_duration_ns(round(seconds * 1e9))


def text_duration(r: Reader, node: Node) -> str | None:
    """A duration read through Go's TextUnmarshaler (Pushover's `retry`, `expire`, `ttl`): any
    scalar goes to time.ParseDuration, whose error stops the load (`retry: 30` has no unit)."""
    seconds = r.duration(node, parse_go_duration)
    return None if seconds is None else str(node.value)


def struct(go_type: str, table: Mapping[str, Converter], check: StructCheck | None = None) -> Converter:
    """A nested struct of string (or other) fields; `check` is its UnmarshalYAML's validation,
    run only when the struct decoded cleanly. A null struct is read as an empty one."""

    def convert(r: Reader, node: Node) -> dict[str, Any]:
        values, clean = r.checked_struct(node, go_type, table)
        values = values or {}
        if clean and check is not None:
            fail_on(check(values))
        return values

    return convert


def struct_list(list_type: str, item: Converter) -> Converter:
    """A YAML list of nested structs (`[]config.SlackField`); null items are empty structs."""

    def convert(r: Reader, node: Node) -> list[dict[str, Any]] | None:
        items = r.sequence(node, list_type)
        return None if items is None else [item(r, n) for n in items]

    return convert


def text_tree(r: Reader, node: Node) -> Any:
    """PagerDuty's `details` (a map[string]interface{}): maps, lists and scalars kept as their
    text, since Alertmanager renders and re-reads every string as YAML at send time (so a
    number written plainly or quoted ends up the same). Null stays None (JSON null)."""
    if is_null(node):
        return None
    if isinstance(node, MappingNode):
        return {r.string(key): text_tree(r, value) for key, value in mapping_pairs(node)}
    if isinstance(node, SequenceNode):
        return [text_tree(r, item) for item in node.value]
    return r.string(node)


def string_tree_map(r: Reader, node: Node) -> dict[str, Any] | None:
    """The top level of `details`: a mapping, or a type error as yaml.v2 gives it."""
    if is_null(node):
        return None
    if not isinstance(node, MappingNode):
        r.type_error(node, "map[string]interface {}")
        return None
    tree: dict[str, Any] = text_tree(r, node)
    return tree


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


# --- The typed fields of each integration -------------------------------------------------------


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
SLACK_TYPES: dict[str, Converter] = {
    **_strings(
        "api_url_file app_token app_token_file channel username color title title_link pretext text "
        "message_text footer fallback callback_id icon_emoji icon_url image_url thumb_url"
    ),
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
}
PAGERDUTY_TYPES: dict[str, Converter] = {
    **_strings(
        "service_key service_key_file routing_key routing_key_file client client_url description "
        "source severity class component group"
    ),
    "url": url,
    "details": string_tree_map,
    "images": struct_list(
        "[]pagerduty.PagerdutyImage", struct("pagerduty.PagerdutyImage", _strings("src alt href"))
    ),
    "links": struct_list(
        "[]pagerduty.PagerdutyLink", struct("pagerduty.PagerdutyLink", _strings("href text"))
    ),
    "timeout": go_duration_text,
}
OPSGENIE_TYPES: dict[str, Converter] = {
    **_strings("api_key api_key_file message description source entity actions tags note priority"),
    "api_url": url,
    "details": string_map,
    "responders": struct_list(
        "[]opsgenie.OpsGenieConfigResponder",
        struct("opsgenie.OpsGenieConfigResponder", _strings("id name username type")),
    ),
    "update_alerts": boolean,
}
PUSHOVER_TYPES: dict[str, Converter] = {
    **_strings("user_key user_key_file token token_file title message url url_title device sound priority"),
    **dict.fromkeys(("retry", "expire", "ttl"), text_duration),
    "html": boolean,
    "monospace": boolean,
}
VICTOROPS_TYPES: dict[str, Converter] = {
    **_strings(
        "api_key api_key_file routing_key message_type state_message entity_display_name monitoring_tool"
    ),
    "api_url": url,
    "custom_fields": string_map,
}
