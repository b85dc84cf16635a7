"""The Jira issue alerter creates or updates for a group: its fields as Alertmanager fills them.

Every field is a template: project, issue type, summary (cut to 255 characters), description
(cut to 32,767), labels (plus the `ALERT{<sha256 of the group key>}` label that finds the issue
again, sorted), priority (left out when it renders empty) and the `fields` of custom fields,
whose keys and string values are rendered and then read as YAML, so that `5` goes to Jira as a
number and `[a, b]` as a list, exactly as Alertmanager sends them.

The description is wiki markup (a JSON string) for API v2 URLs; when `api_url` ends in `/3`
(Jira Cloud's API v3) it must render to an Atlassian Document Format document, which is sent as
JSON, and anything else is refused, as Alertmanager refuses it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from app.notify.errors import NotifyError
from app.notify.integrations._common import rendered_structure, truncate_runes
from app.notify.message import Notification

log = logging.getLogger(__name__)

MAX_SUMMARY_RUNES = 255
MAX_DESCRIPTION_RUNES = 32767

DEFAULT_SUMMARY = '{{ template "jira.default.summary" . }}'
DEFAULT_DESCRIPTION = '{{ template "jira.default.description" . }}'
DEFAULT_PRIORITY = '{{ template "jira.default.priority" . }}'

Render = Callable[[str, str], str]  # (template, the field it is for) -> text; raises NotifyError


@dataclass(frozen=True)
class FieldConfig:
    """`summary` or `description`: the template, and whether an update rewrites the field."""

    template: str
    enable_update: bool = True

    @classmethod
    def of(cls, value: Any, default: str) -> FieldConfig:
        """The field as written: absent, a template string, or {template, enable_update}."""
        if value is None:
            return cls(default)
        if isinstance(value, str):
            return cls(value)
        update = value.get("enable_update")
        return cls(value.get("template", default), True if update is None else bool(update))


def group_label(n: Notification) -> str:
    """The label that ties an issue to its aggregation group (Alertmanager's group key hash)."""
    return f"ALERT{{{hashlib.sha256(n.group_key.encode()).hexdigest()}}}"


def is_api_v3(api_url: str) -> bool:
    """Whether the URL names Jira's API v3, whose descriptions are documents, not markup."""
    return urlsplit(api_url).path.rstrip("/").endswith("/3")


def _truncated(text: str, limit: int, what: str) -> str:
    text, cut = truncate_runes(text, limit)
    if cut:
        log.warning(f"truncated jira {what}", extra={"fields": {"max_runes": limit}})
    return text


def _description(text: str, api_v3: bool) -> Any:
    """The description's JSON value, or None to leave it out (it rendered empty)."""
    text = _truncated(text, MAX_DESCRIPTION_RUNES, "description")
    if not api_v3:
        return text or None
    text = text.strip()
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raise NotifyError(
            "description template: invalid JSON for API v3; render an Atlassian Document Format "
            "document, or use an api_url ending in /2 for wiki markup",
            retryable=False,
        ) from None


def issue_fields(
    values: dict[str, Any], n: Notification, render: Render, api_url: str, updating: bool
) -> dict[str, Any]:
    """The `fields` object of the create (or, `updating`, the update) request, keys sorted as
    Go writes them. An update leaves out the summary and description whose `enable_update` is
    false (a custom field of the same name still goes).

    Rendered in Alertmanager's order (summary, project, issue type, custom fields, description,
    labels, priority), so that a broken template reports the field Alertmanager would name.
    """
    summary_config = FieldConfig.of(values.get("summary"), DEFAULT_SUMMARY)
    description_config = FieldConfig.of(values.get("description"), DEFAULT_DESCRIPTION)
    summary = render(summary_config.template, "summary")
    project = render(values.get("project", ""), "project")
    issue_type = render(values.get("issue_type", ""), "issue_type")
    # The custom fields' own names are used as written; names inside their values are rendered.
    custom = {
        k: rendered_structure(v, lambda text: render(text, "fields"), "fields")
        for k, v in (values.get("fields") or {}).items()
    }
    description = render(description_config.template, "description")
    labels = [render(label, f"labels[{i}]") for i, label in enumerate(values.get("labels") or [])]
    priority = render(values.get("priority", DEFAULT_PRIORITY), "priority")
    fields: dict[str, Any] = {
        "summary": _truncated(summary, MAX_SUMMARY_RUNES, "summary"),
        "issuetype": {"name": issue_type} if issue_type else {},
        "labels": sorted([*labels, group_label(n)]),
        "project": {"key": project},
    }
    described = _description(description, is_api_v3(api_url))
    if described is not None:
        fields["description"] = described
    if updating and not summary_config.enable_update:
        del fields["summary"]
    if updating and not description_config.enable_update:
        fields.pop("description", None)
    if priority:
        fields["priority"] = {"name": priority}
    fields.update(custom)
    return {k: fields[k] for k in sorted(fields)}
