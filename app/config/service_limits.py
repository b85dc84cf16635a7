"""Integration settings Alertmanager accepts but that cannot work: alerter refuses them at load.

Alertmanager loads these and then either leaves the setting out of what it sends (PagerDuty's
Events API v1 has no severity, and always posts to one fixed URL; a VictorOps message_type outside
its list becomes CRITICAL), or sends what the service refuses on every notification (a PagerDuty
severity, Opsgenie priority or Pushover priority outside the API's list, a Pushover emergency
retry under 30 seconds). alerter's rule is that what it accepts it honours, so each of these
fails `load_config` and `alerter check-config` with the field and what to write instead. A
templated value (`{{ ... }}`) is only known at send time and is accepted.

Also here: Slack's `update_message`, which alerter does not implement (Alertmanager keeps each
group's Slack message in its notification log to edit it), after Alertmanager's own check of it.
"""

from __future__ import annotations

from typing import Any

from app.durations import parse_go_duration
from app.gostrings import go_quote

# Where Alertmanager posts PagerDuty Events API v1 events (a service_key): a fixed URL.
PAGERDUTY_V1_URL = "https://events.pagerduty.com/generic/2010-04-15/create_event.json"
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")
# Slack's Web API method for posting a message (Alertmanager's default `app_url`).
SLACK_POST_MESSAGE_URL = "https://slack.com/api/chat.postMessage"
OPSGENIE_PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
PUSHOVER_PRIORITIES = ("-2", "-1", "0", "1", "2")
VICTOROPS_MESSAGE_TYPES = ("INFO", "WARNING", "CRITICAL")

# Pushover's limits on emergency messages (priority 2), in seconds.
_PUSHOVER_MIN_RETRY = 30
_PUSHOVER_MAX_EXPIRE = 10800


def _templated(text: Any) -> bool:
    return "{{" in str(text)


def _not_one_of(kind: str, field: str, value: str, allowed: tuple[str, ...], service: str) -> str | None:
    if not value or _templated(value) or value in allowed:
        return None
    return (
        f"{kind}: {field} {go_quote(value)} is not one of {', '.join(allowed)}, which {service} "
        "refuses; use one of them or a template"
    )


def pagerduty_v1_fields(v: dict[str, Any]) -> str | None:
    """With a service_key Alertmanager uses the Events API v1, which has no place for these."""
    if not (v.get("service_key") or v.get("service_key_file")):
        return None
    for name in ("url", "severity", "class", "component", "group", "source", "images", "links"):
        if v.get(name) and not (name == "url" and v[name] == PAGERDUTY_V1_URL):
            return (
                f"pagerduty_configs: {name} is not sent with service_key (Events API v1 posts to "
                f"{PAGERDUTY_V1_URL} and has no {name}); use routing_key (Events API v2) or "
                f"remove {name}"
            )
    return None


def pagerduty_severity(v: dict[str, Any]) -> str | None:
    severity = v.get("severity") or ""
    return _not_one_of("pagerduty_configs", "severity", severity, PAGERDUTY_SEVERITIES, "PagerDuty")


def opsgenie_priority(v: dict[str, Any]) -> str | None:
    priority = v.get("priority") or ""
    return _not_one_of("opsgenie_configs", "priority", priority, OPSGENIE_PRIORITIES, "Opsgenie")


def pushover_priority(v: dict[str, Any]) -> str | None:
    priority = v.get("priority") or ""
    return _not_one_of("pushover_configs", "priority", priority, PUSHOVER_PRIORITIES, "Pushover")


def pushover_timing(v: dict[str, Any]) -> str | None:
    """Pushover's limits for emergency messages, which the default priority sends for firing
    alerts; and a ttl that Alertmanager would leave out (under one second, or negative)."""
    priority = v.get("priority")
    emergency = priority is None or _templated(priority) or priority == "2"
    retry, expire, ttl = v.get("retry"), v.get("expire"), v.get("ttl")
    if emergency and retry is not None and parse_go_duration(retry) < _PUSHOVER_MIN_RETRY:
        return f"pushover_configs: retry {retry} is below the 30s Pushover requires for emergency messages"
    if emergency and expire is not None and parse_go_duration(expire) > _PUSHOVER_MAX_EXPIRE:
        return f"pushover_configs: expire {expire} is above the 3h Pushover allows for emergency messages"
    if ttl is not None and parse_go_duration(ttl) != 0 and parse_go_duration(ttl) < 1:
        return f"pushover_configs: ttl {ttl} is below 1s, so it would not be sent; use 1s or more, or 0"
    return None


def victorops_message_type(v: dict[str, Any]) -> str | None:
    kind = v.get("message_type")
    if not kind or _templated(kind) or kind in VICTOROPS_MESSAGE_TYPES:
        return None
    return (
        f"victorops_configs: message_type {go_quote(kind)} is not one of "
        f"{', '.join(VICTOROPS_MESSAGE_TYPES)}, and Alertmanager would send CRITICAL instead; use "
        "one of them or a template"
    )


def slack_update_message(v: dict[str, Any]) -> str | None:
    if not v.get("update_message"):
        return None
    if v.get("api_url") != SLACK_POST_MESSAGE_URL:
        return (
            "update_message can only be used with bot tokens. api_url must be set to "
            f"{SLACK_POST_MESSAGE_URL}"
        )
    return (
        "slack_configs: update_message is not supported by alerter (it would need each group's "
        "Slack message kept in the notification log); remove it, and every notification is "
        "posted as a new message"
    )
