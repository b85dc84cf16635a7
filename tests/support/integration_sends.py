"""What the tests of one integration's sender share: its config loaded as alerter loads
alertmanager.yml (so defaults, global settings and checks apply as in production), a group's
alerts in the states a notification describes, and one send to a recording server.

    cfg = integration("slack_configs", {"api_url": sink.url + "hook"})
    [request] = deliver(cfg, TEAM_OPS.notification("firing"), sink)

The two alert groups differ where their tests need it: TEAM_X has two alerts whose texts need
escaping (`<unreachable> & silent`, a `&` in the source URL); TEAM_OPS has a receiver with a dot
(regex-quoted in the template data, URL-encoded in links), a start with a fraction of a second,
and a single alert while firing (so its instance is a common label).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from app.alerts import Alert
from app.config import ConfigError, RawIntegration, load_config
from app.notify.integrations import sender_for
from app.notify.message import Notification
from app.template import Templates
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.notifications import NOW, notification
from tests.support.sendctx import send_ctx

_RECEIVER = "team"  # the receiver of the config `integration` loads


@dataclass(frozen=True)
class AlertGroup:
    """A group of alerts by alertname, routed to `receiver`, at NOW (tests/support/notifications.py,
    which makes free-form alerts and their notifications)."""

    receiver: str
    key: str
    labels: Mapping[str, str]  # every alert's, besides alertname and instance
    annotations: Mapping[str, str]  # every alert's; `{instance}` stands for its instance
    started: float  # seconds before NOW
    ended: float  # seconds before NOW, when resolved (a firing alert ends 300 s after NOW)
    generator_url: str
    # Each state's alerts, (instance, resolved): "firing", "mixed" (one firing, one resolved: the
    # notification is still firing) and "resolved".
    states: Mapping[str, tuple[tuple[str, bool], ...]]

    @property
    def key_hash(self) -> str:
        """The group key as Alertmanager's integrations send it (a dedup key, an alias)."""
        return hashlib.sha256(self.key.encode()).hexdigest()

    def alert(self, instance: str, resolved: bool = False, **annotations: str) -> Alert:
        """One alert of the group; `annotations` are added to the group's."""
        own = {name: text.replace("{instance}", instance) for name, text in self.annotations.items()}
        return Alert(
            labels={"alertname": "InstanceDown", "instance": instance, **self.labels},
            annotations={**own, **annotations},
            starts_at=NOW - self.started,
            ends_at=NOW - self.ended if resolved else NOW + 300,
            generator_url=self.generator_url,
            fingerprint=f"fp-{instance}",
        )

    def notification_of(self, *alerts: Alert) -> Notification:
        return notification(*alerts, receiver=self.receiver, group_key=self.key)

    def notification(self, state: str) -> Notification:
        """The notification of the group in `state` ("firing", "mixed" or "resolved")."""
        return self.notification_of(*(self.alert(i, resolved) for i, resolved in self.states[state]))

    def alert_text(self, instance: str, markdown: bool = False) -> str:
        """One `alert(instance)` as `__text_alert_list` (or its Markdown form) writes it."""
        alert = self.alert(instance)
        bullet, gap = ("  - ", "\n") if markdown else (" - ", "")

        def pairs(values: Mapping[str, str]) -> str:
            return "".join(f"{bullet}{name} = {value}\n" for name, value in sorted(values.items()))

        return (
            f"{gap}Labels:\n{pairs(alert.labels)}{gap}Annotations:\n{pairs(alert.annotations)}"
            f"{gap}Source: {self.generator_url}\n"
        )

    def sections(self, state: str, markdown: bool = False) -> str:
        """The firing and resolved sections most default messages are made of."""
        alerts = self.states[state]
        firing = "".join(self.alert_text(i, markdown) for i, resolved in alerts if not resolved)
        resolved = "".join(self.alert_text(i, markdown) for i, resolved in alerts if resolved)
        heading, end = ("# ", "\n\n") if markdown else ("", "\n")
        out = f"\n{heading}Alerts Firing:\n{firing}{end}" if firing else ""
        out += "\n"
        out += f"\n{heading}Alerts Resolved:\n{resolved}{end}" if resolved else ""
        return out + "\n"


TEAM_X = AlertGroup(
    receiver="team-x",
    key='{}:{alertname="InstanceDown"}',
    labels={"job": "node"},
    annotations={"summary": "Instance down", "description": "{instance} <unreachable> & silent"},
    started=600,
    ended=60,
    generator_url="http://prometheus.test/graph?g0.expr=up%3D%3D0&g0.tab=1",
    states={
        "firing": (("db1:9100", False), ("db2:9100", False)),
        "mixed": (("db1:9100", False), ("db2:9100", True)),
        "resolved": (("db1:9100", True), ("db2:9100", True)),
    },
)
# The default subject (`__subject`) of each TEAM_X notification: the common label `job` is named.
TEAM_X_SUBJECTS = {
    "firing": "[FIRING:2] InstanceDown (node)",
    "mixed": "[FIRING:1] InstanceDown (node)",
    "resolved": "[RESOLVED] InstanceDown (node)",
}

TEAM_OPS = AlertGroup(
    receiver="team.ops",
    key='{}/{severity="page"}:{alertname="InstanceDown"}',
    labels={"job": "node", "severity": "page"},
    annotations={"summary": "Instance down"},
    started=90.5,
    ended=10,
    generator_url="http://prometheus.test/graph?g0.expr=up",
    states={
        "firing": (("a:9100", False),),
        "mixed": (("a:9100", False), ("b:9100", True)),
        "resolved": (("a:9100", True), ("b:9100", True)),
    },
)


def _document(key: str, values: dict[str, Any], global_: dict[str, Any] | None) -> str:
    return yaml.safe_dump(
        {
            "global": global_ or {},
            "route": {"receiver": _RECEIVER},
            "receivers": [{"name": _RECEIVER, key: [values]}],
        },
        sort_keys=False,
    )


def integration(key: str, values: dict[str, Any], global_: dict[str, Any] | None = None) -> RawIntegration:
    """The one `key` ("slack_configs") integration of a config holding `values` (and a `global`
    section), as alerter loads it."""
    config = load_config(_document(key, values, global_))
    return config.receivers[_RECEIVER].raw_integrations[key][0]


def config_error(key: str, values: dict[str, Any], global_: dict[str, Any] | None = None) -> str:
    """The message of the ConfigError loading such a config raises."""
    with pytest.raises(ConfigError) as failure:
        load_config(_document(key, values, global_))
    return str(failure.value)


def deliver(
    cfg: RawIntegration, n: Notification, sink: HttpSink, templates: Templates | None = None
) -> list[ReceivedRequest]:
    """Send `n` with the integration's sender; the requests the sink got for it."""
    before = len(sink.requests)
    sender_for(cfg.kind)(cfg, n, send_ctx(10, templates))
    return sink.requests[before:]


def through(proxy_url: str) -> dict[str, Any]:
    """The http_config of an integration whose URL is fixed (Pushover, PagerDuty Events API v1)
    for a test: an HttpSink as its proxy, which answers the HTTPS tunnel itself with a
    certificate the client does not check (tests filter urllib3's InsecureRequestWarning)."""
    return {"proxy_url": proxy_url, "tls_config": {"insecure_skip_verify": True}}


def no_content(request: ReceivedRequest) -> tuple[int, bytes, str]:
    """A 204 without a body, as Discord's webhooks answer (the sink's default body would break
    the kept-alive connection after a 204)."""
    return 204, b"", "text/plain"
