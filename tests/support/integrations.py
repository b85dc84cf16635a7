"""Notifications and integration configs for the tests of one integration's sender.

The config comes from YAML through the real loader (so defaults, global settings and checks apply
as they do in production), and the notifications are the three a receiver sees in a group's life:
all firing, partly resolved, all resolved.

    cfg = integration("telegram_configs", {"bot_token": "1:a", "chat_id": 5, "api_url": sink.url})
    send_telegram(cfg, notification("firing"), send_ctx(5))
"""

from __future__ import annotations

from typing import Any

import yaml

from app.alerts import Alert
from app.config import RawIntegration, load_config
from app.notify.message import Notification
from tests.support.http_sink import ReceivedRequest

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
EXTERNAL_URL = "http://alerter.test:9093"
RECEIVER = "team-x"
GROUP_KEY = '{}:{alertname="InstanceDown"}'


def no_content(request: ReceivedRequest) -> tuple[int, bytes, str]:
    """A 204 without a body, as Discord's webhooks answer (the sink's default body would break
    the kept-alive connection after a 204)."""
    return 204, b"", "text/plain"


def integration(key: str, values: dict[str, Any], global_: dict[str, Any] | None = None) -> RawIntegration:
    """The integration `key` ("telegram_configs") of a receiver, as alerter loads it."""
    doc: dict[str, Any] = {"route": {"receiver": RECEIVER}, "receivers": [{"name": RECEIVER, key: [values]}]}
    if global_:
        doc["global"] = global_
    config = load_config(yaml.safe_dump(doc))
    return config.receivers[RECEIVER].raw_integrations[key][0]


def alert(instance: str, resolved: bool = False, **labels: str) -> Alert:
    return Alert(
        labels={"alertname": "InstanceDown", "instance": instance, "job": "node", **labels},
        annotations={"summary": "Instance down", "description": f"{instance} <unreachable> & silent"},
        starts_at=NOW - 600,
        ends_at=NOW - 60 if resolved else NOW + 300,
        generator_url="http://prometheus.test/graph?g0.expr=up%3D%3D0&g0.tab=1",
        fingerprint=f"fp-{instance}",
    )


def notification(kind: str, receiver: str = RECEIVER, alerts: list[Alert] | None = None) -> Notification:
    """ "firing" (two alerts firing), "mixed" (one firing, one resolved) or "resolved" (both)."""
    if alerts is None:
        resolved = {"firing": (False, False), "mixed": (False, True), "resolved": (True, True)}[kind]
        alerts = [alert("db1:9100", resolved[0]), alert("db2:9100", resolved[1])]
    return Notification.build(
        receiver=receiver,
        group_key=GROUP_KEY,
        group_labels={"alertname": "InstanceDown"},
        alerts=alerts,
        now=NOW,
        external_url=EXTERNAL_URL,
    )


def alert_text(instance: str, markdown: bool = False) -> str:
    """`__text_alert_list` (or its Markdown form) of one alert made by `alert`."""
    if markdown:
        return (
            f"\nLabels:\n  - alertname = InstanceDown\n  - instance = {instance}\n  - job = node\n"
            f"\nAnnotations:\n  - description = {instance} <unreachable> & silent\n"
            "  - summary = Instance down\n"
            "\nSource: http://prometheus.test/graph?g0.expr=up%3D%3D0&g0.tab=1\n"
        )
    return (
        f"Labels:\n - alertname = InstanceDown\n - instance = {instance}\n - job = node\n"
        f"Annotations:\n - description = {instance} <unreachable> & silent\n - summary = Instance down\n"
        "Source: http://prometheus.test/graph?g0.expr=up%3D%3D0&g0.tab=1\n"
    )


# The default subject (`__subject`) of each notification kind: the common label `job` is named.
SUBJECTS = {
    "firing": "[FIRING:2] InstanceDown (node)",
    "mixed": "[FIRING:1] InstanceDown (node)",
    "resolved": "[RESOLVED] InstanceDown (node)",
}


def sections(kind: str, markdown: bool = False) -> str:
    """The firing and resolved sections most default messages are made of."""
    firing, resolved = {"firing": (2, 0), "mixed": (1, 1), "resolved": (0, 2)}[kind]
    names = ["db1:9100", "db2:9100"]
    lists = ["".join(alert_text(i, markdown) for i in names[:firing])]
    lists.append("".join(alert_text(i, markdown) for i in names[firing:]))
    heading = "# " if markdown else ""
    out = f"\n{heading}Alerts Firing:\n{lists[0]}" + ("\n\n" if markdown else "\n") if firing else ""
    out += "\n"
    out += f"\n{heading}Alerts Resolved:\n{lists[1]}" + ("\n\n" if markdown else "\n") if resolved else ""
    return out + "\n"
