"""Typed decoding of the integration fields that are not plain strings: URLs, numbers, booleans,
SNS's `sigv4` block and Mattermost's attachments, fields, props and priority.

An integration alerter delivers must read its settings with the types Alertmanager gives them
(yaml.v2 refuses `chat_id: abc` and `disable_notifications: maybe` at load, and so must alerter),
and nested blocks must be checked field by field: an unknown key in a Mattermost attachment or a
`sigv4` block is a load error in Alertmanager, not a setting to drop. `integrations.py` names these
tables in its INTEGRATIONS entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yaml.nodes import Node

from app.config.addresses import secret_url, url
from app.config.reader import Converter, Reader, boolean, fail_on, is_null, string, string_map


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
}
