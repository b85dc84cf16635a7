"""Notifications for tests that call an integration's sender directly.

    n = notification(alert(alertname="DiskFull", instance="a"), alert(False, alertname="DiskFull"))

Times are fixed (NOW is 2023-11-14T22:13:20Z) so that payloads can be compared whole.
"""

from __future__ import annotations

from app.alerts import Alert
from app.notify.message import Notification

NOW = 1_700_000_000.0
GROUP_KEY = '{}:{alertname="DiskFull"}'
EXTERNAL_URL = "http://alerter.test:9093"


def alert(firing: bool = True, annotations: dict[str, str] | None = None, **labels: str) -> Alert:
    """An alert that started a minute before NOW and fires at NOW (or ended a second before)."""
    return Alert(
        labels=labels,
        annotations={"summary": "disk almost full"} if annotations is None else annotations,
        starts_at=NOW - 60,
        ends_at=NOW + 300 if firing else NOW - 1,
        generator_url="http://prometheus.test/graph",
        fingerprint="fp-" + "-".join(f"{k}={v}" for k, v in sorted(labels.items())),
    )


def notification(*alerts: Alert, receiver: str = "team", group_key: str = GROUP_KEY) -> Notification:
    """The notification of a group by alertname, built at NOW."""
    name = alerts[0].labels.get("alertname", "") if alerts else ""
    return Notification.build(receiver, group_key, {"alertname": name}, alerts, NOW, EXTERNAL_URL)
