"""What the integration tests share: a group's alerts in the three states a notification can
describe, an integration's config loaded as alerter loads alertmanager.yml, and one send to a
recording server.

    cfg = integration("slack", {"api_url": sink.url + "hook"})
    [request] = deliver(cfg, firing(), sink)
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import yaml

from app.alerts import Alert
from app.config import ConfigError, RawIntegration, load_config
from app.notify.integrations import sender_for
from app.notify.message import Notification
from app.template import Templates
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.sendctx import send_ctx

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
EXTERNAL_URL = "http://alerter.test:9093"
RECEIVER = "team.ops"  # a dot: the template data regex-quotes it, links URL-encode it
GROUP_KEY = '{}/{severity="page"}:{alertname="InstanceDown"}'
GROUP_KEY_HASH = hashlib.sha256(GROUP_KEY.encode()).hexdigest()


def alert(instance: str, resolved: bool = False, **annotations: str) -> Alert:
    return Alert(
        labels={"alertname": "InstanceDown", "instance": instance, "job": "node", "severity": "page"},
        annotations={"summary": "Instance down", **annotations},
        starts_at=NOW - 90.5,
        ends_at=NOW - 10 if resolved else NOW + 300,
        generator_url="http://prometheus.test/graph?g0.expr=up",
        fingerprint=f"fp-{instance}",
    )


def alert_text(instance: str) -> str:
    """One `alert(instance)` as Alertmanager's plain-text alert list writes it."""
    return (
        f"Labels:\n - alertname = InstanceDown\n - instance = {instance}\n - job = node\n - severity = page\n"
        "Annotations:\n - summary = Instance down\nSource: http://prometheus.test/graph?g0.expr=up\n"
    )


def notification(*alerts: Alert) -> Notification:
    return Notification.build(
        RECEIVER, GROUP_KEY, {"alertname": "InstanceDown"}, list(alerts), NOW, EXTERNAL_URL
    )


def firing() -> Notification:
    return notification(alert("a:9100"))


def partly_resolved() -> Notification:
    """One alert firing, one resolved: the notification is still "firing"."""
    return notification(alert("a:9100"), alert("b:9100", resolved=True))


def resolved() -> Notification:
    return notification(alert("a:9100", resolved=True), alert("b:9100", resolved=True))


def through(proxy_url: str) -> dict[str, Any]:
    """The http_config of an integration whose URL is fixed (Pushover, PagerDuty Events API v1)
    for a test: an HttpSink as its proxy, which answers the HTTPS tunnel itself with a
    certificate the client does not check (tests filter urllib3's InsecureRequestWarning)."""
    return {"proxy_url": proxy_url, "tls_config": {"insecure_skip_verify": True}}


def _document(kind: str, settings: dict[str, Any], global_: dict[str, Any] | None) -> str:
    return yaml.safe_dump(
        {
            "global": global_ or {},
            "route": {"receiver": RECEIVER},
            "receivers": [{"name": RECEIVER, f"{kind}_configs": [settings]}],
        },
        sort_keys=False,
    )


def integration(kind: str, settings: dict[str, Any], global_: dict[str, Any] | None = None) -> RawIntegration:
    """The one `kind` integration of a config holding `settings` (and a `global` section)."""
    config = load_config(_document(kind, settings, global_))
    return config.receivers[RECEIVER].raw_integrations[f"{kind}_configs"][0]


def config_error(kind: str, settings: dict[str, Any], global_: dict[str, Any] | None = None) -> str:
    """The message of the ConfigError loading such a config raises."""
    with pytest.raises(ConfigError) as failure:
        load_config(_document(kind, settings, global_))
    return str(failure.value)


def deliver(
    cfg: RawIntegration, n: Notification, sink: HttpSink, templates: Templates | None = None
) -> list[ReceivedRequest]:
    """Send `n` with the integration's sender; the requests the sink got for it."""
    before = len(sink.requests)
    sender_for(cfg.kind)(cfg, n, send_ctx(10, templates))
    return sink.requests[before:]
