"""The incident.io integration against a local HTTP server: the payload for firing, partly
resolved and resolved groups, the alert source token and its alternatives, max_alerts and the
512 KiB limit, the timeout, retryability with incident.io's explanations, and config checks."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from app.config import ConfigError, RawIntegration
from app.notify.errors import NotifyError
from app.notify.integrations.incidentio import MAX_PAYLOAD_BYTES, send_incidentio
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.integration_sends import integration
from tests.support.notifications import GROUP_KEY, alert, notification
from tests.support.sendctx import send_ctx


def config(sink: HttpSink, **item: Any) -> RawIntegration:
    return integration("incidentio_configs", {"url": sink.url + "v2/alert_events/http/src", **item})


def sent_alert(status: str, instance: str, ends_at: str) -> dict[str, Any]:
    """One alert of the payload, for the alerts of `notification` below."""
    return {
        "status": status,
        "labels": {"alertname": "DiskFull", "instance": instance},
        "annotations": {"summary": "disk almost full"},
        "startsAt": "2023-11-14T22:12:20.000Z",
        "endsAt": ends_at,
        "generatorURL": "http://prometheus.test/graph",
        "fingerprint": f"fp-alertname=DiskFull-instance={instance}",
    }


def test_payload_of_a_partly_resolved_group(tmp_path: Path) -> None:
    n = notification(
        alert(alertname="DiskFull", instance="a"), alert(False, alertname="DiskFull", instance="b")
    )
    with HttpSink() as sink:
        send_incidentio(config(sink, alert_source_token="src-token"), n, send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert request.method == "POST" and request.path == "/v2/alert_events/http/src"
    assert request.headers["Authorization"] == "Bearer src-token"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body.endswith(b"}\n")  # Go's json.Encoder
    common = {"alertname": "DiskFull"}
    # Times as alerter's webhook writes them (always milliseconds; Go trims the zeros).
    assert request.json == {
        "receiver": "team",
        "status": "firing",
        "alerts": [
            sent_alert("firing", "a", "0001-01-01T00:00:00Z"),
            sent_alert("resolved", "b", "2023-11-14T22:13:19.000Z"),
        ],
        "notification_reason": "unknown",  # the reason the notification was built with
        "groupLabels": common,
        "commonLabels": common,
        "commonAnnotations": {"summary": "disk almost full"},
        "routeLabels": {},
        "externalURL": "http://alerter.test:9093",
        "version": "1",
        "groupKey": GROUP_KEY,
        "truncatedAlerts": 0,
    }


@pytest.mark.parametrize("firing", [True, False])
def test_status_of_a_firing_and_a_resolved_group(firing: bool) -> None:
    with HttpSink() as sink:
        send_incidentio(
            config(sink, alert_source_token="t"), notification(alert(firing, alertname="X")), send_ctx(5)
        )
        [request] = sink.wait_for(1, timeout=5)
    assert (
        request.json["status"] == request.json["alerts"][0]["status"] == ("firing" if firing else "resolved")
    )


def test_token_file_http_config_authorization_and_url_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("file-token\n")
    with HttpSink() as sink:
        (tmp_path / "url").write_text(sink.url + "from-file\n")
        cfgs = [
            config(sink, alert_source_token_file=str(tmp_path / "token")),
            config(sink, http_config={"authorization": {"credentials": "http-token"}}),
            integration("incidentio_configs", {"url_file": str(tmp_path / "url"), "alert_source_token": "t"}),
        ]
        for cfg in cfgs:
            send_incidentio(cfg, notification(alert(alertname="X")), send_ctx(5))
        first, second, third = sink.wait_for(3, timeout=5)
    assert first.headers["Authorization"] == "Bearer file-token"
    assert second.headers["Authorization"] == "Bearer http-token"
    assert third.path == "/from-file"


def test_max_alerts_then_the_payload_size_limit() -> None:
    big = "x" * (MAX_PAYLOAD_BYTES // 3)
    alerts = [alert(alertname="X", instance=str(i), annotations={"blob": big + str(i)}) for i in range(5)]
    with HttpSink() as sink:
        send_incidentio(
            config(sink, alert_source_token="t", max_alerts=2), notification(*alerts), send_ctx(5)
        )
        send_incidentio(
            config(sink, alert_source_token="t", max_alerts=4), notification(*alerts), send_ctx(5)
        )
        two, limited = (r.json for r in sink.wait_for(2, timeout=5))
    assert [a["labels"]["instance"] for a in two["alerts"]] == ["0", "1"]
    assert two["truncatedAlerts"] == 3
    # Four alerts are over 512 KiB: only the first is kept, the rest of the data as it was.
    assert [a["labels"]["instance"] for a in limited["alerts"]] == ["0"]
    assert limited["truncatedAlerts"] == 1
    assert limited["commonLabels"] == {"alertname": "X"}


@pytest.mark.parametrize(
    ("status", "body", "retryable", "message"),
    [
        (429, b'{"message": "rate limited", "errors": ["slow down"]}', True, "429: rate limited: slow down"),
        (500, b"<html>oops</html>", True, "unexpected status code 500"),
        (400, b'{"error": "invalid payload"}', False, "unexpected status code 400: invalid payload"),
        (401, b'{"message": "bad token"}', False, "unexpected status code 401: bad token"),
    ],
)
def test_refusals_carry_incidentios_explanation(
    status: int, body: bytes, retryable: bool, message: str
) -> None:
    with (
        HttpSink(responder=lambda _: (status, body, "application/json")) as sink,
        pytest.raises(NotifyError) as err,
    ):
        send_incidentio(
            config(sink, alert_source_token="secret-tok"), notification(alert(alertname="X")), send_ctx(5)
        )
    assert err.value.retryable is retryable
    assert str(err.value).startswith("incidentio: ")
    assert message in str(err.value)
    assert str(err.value).endswith(message) or status == 500
    assert "secret-tok" not in str(err.value)


def test_the_configured_timeout_caps_the_attempt() -> None:
    def slow(_: ReceivedRequest) -> tuple[int, bytes, str]:
        time.sleep(2)
        return 200, b"", "text/plain"

    with HttpSink(responder=slow) as sink, pytest.raises(NotifyError) as err:
        send_incidentio(
            config(sink, alert_source_token="t", timeout="200ms"),
            notification(alert(alertname="X")),
            send_ctx(30),
        )
    assert err.value.retryable
    assert "timed out" in str(err.value)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({}, "one of url or url_file must be configured"),
        (
            {"url": "https://a.test", "url_file": "/f", "alert_source_token": "t"},
            "at most one of url & url_file",
        ),
        (
            {"url": "https://a.test"},
            "at least one of alert_source_token, alert_source_token_file or http_config",
        ),
        (
            {
                "url": "https://a.test",
                "alert_source_token": "t",
                "http_config": {"authorization": {"credentials": "c"}},
            },
            "cannot specify alert_source_token or alert_source_token_file when using "
            "http_config.authorization",
        ),
        (
            {"url": "https://a.test", "alert_source_token": "t", "max_alerts": -1},
            "cannot unmarshal !!int `-1` into uint64",
        ),
        ({"url": "https://a.test", "alert_source_token": "t", "timeout": "soon"}, "into time.Duration"),
        ({"url": "mailto:x", "alert_source_token": "t"}, 'unsupported scheme "mailto" for URL'),
    ],
)
def test_config_is_checked_as_alertmanager_checks_it(item: dict[str, Any], message: str) -> None:
    item.setdefault("http_config", {})  # Alertmanager's token check needs an http_config of its own
    with pytest.raises(ConfigError) as err:
        integration("incidentio_configs", item)
    assert message in str(err.value)


def test_config_defaults() -> None:
    cfg = integration(
        "incidentio_configs", {"url": "https://a.test/src", "alert_source_token": "t", "timeout": "30s"}
    )
    assert cfg.send_resolved is True
    assert cfg.values["timeout"] == "30s"  # kept as written, for the config written back
