"""The PagerDuty integration against a real local server: Events API v2 and v1 events, the
details as Alertmanager 0.30+ renders them, the size limit, retries, and the refused configs.

Events API v1 always goes to PagerDuty's fixed URL, in Alertmanager as here: those configs use the
local server as their proxy, which answers the HTTPS tunnel itself (HttpSink)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.config.service_limits import PAGERDUTY_V1_URL
from app.notify.errors import NotifyError
from app.notify.integrations import pagerduty
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.integration_sends import (
    TEAM_OPS,
    config_error,
    deliver,
    integration,
    through,
)
from tests.support.notifications import EXTERNAL_URL

# This file's alert group (tests/support/integration_sends.py).
GROUP_KEY_HASH, alert, notification, notification_of = (
    TEAM_OPS.key_hash,
    TEAM_OPS.alert,
    TEAM_OPS.notification,
    TEAM_OPS.notification_of,
)

CLIENT_URL = EXTERNAL_URL + "/#/alerts?receiver=team%5C.ops"


def alert_json(instance: str, status: str, ends: str = "0001-01-01T00:00:00Z") -> dict[str, Any]:
    """An alert as `toJson` writes it and YAML reads it back (a Go map: sorted keys)."""
    return {
        "annotations": {"summary": "Instance down"},
        "endsAt": ends,
        "fingerprint": f"fp-{instance}",
        "generatorURL": "http://prometheus.test/graph?g0.expr=up",
        "labels": {"alertname": "InstanceDown", "instance": instance, "job": "node", "severity": "page"},
        "startsAt": "2023-11-14T22:11:49.5Z",
        "status": status,
    }


def v2(sink: HttpSink, **settings: Any) -> Any:
    return integration("pagerduty_configs", {"routing_key": "rk", "url": sink.url + "v2/enqueue", **settings})


# The sink, as proxy, answers for events.pagerduty.com with a certificate no one checks.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


@pytest.fixture
def v1_sink() -> Iterator[HttpSink]:
    with HttpSink() as sink:
        yield sink


def v1(sink: HttpSink, **settings: Any) -> Any:
    """A service_key config: Events API v1, through the sink."""
    return integration(
        "pagerduty_configs", {"service_key": "sk", "http_config": through(sink.url), **settings}
    )


def test_v2_trigger_with_the_defaults() -> None:
    with HttpSink() as sink:
        [request] = deliver(v2(sink), notification("mixed"), sink)
    assert (request.method, request.path) == ("POST", "/v2/enqueue")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json == {
        "routing_key": "rk",
        "dedup_key": GROUP_KEY_HASH,
        "event_action": "trigger",
        "payload": {
            "summary": "[FIRING:1] InstanceDown (node page)",
            "source": "Alertmanager",
            "severity": "error",
            "custom_details": {
                "firing": [alert_json("a:9100", "firing")],
                "num_firing": 1,
                "num_resolved": 1,
                "resolved": [alert_json("b:9100", "resolved", "2023-11-14T22:13:10Z")],
            },
        },
        "client": "Alertmanager",
        "client_url": CLIENT_URL,
    }
    assert list(request.json) == [
        "routing_key",
        "dedup_key",
        "event_action",
        "payload",
        "client",
        "client_url",
    ]


def test_v2_resolve() -> None:
    with HttpSink() as sink:
        [request] = deliver(v2(sink), notification("resolved"), sink)
    assert request.json["event_action"] == "resolve"
    assert request.json["dedup_key"] == GROUP_KEY_HASH
    assert request.json["payload"]["summary"] == "[RESOLVED] InstanceDown (node page)"
    assert request.json["payload"]["custom_details"]["firing"] == []
    assert request.json["payload"]["custom_details"]["num_resolved"] == 2


def test_v2_every_field() -> None:
    settings = {
        "routing_key": "rk-{{ .CommonLabels.job }}",
        "client": "c",
        "client_url": "https://c.test/",
        "description": "{{ .CommonAnnotations.summary }}",
        "severity": "{{ .CommonLabels.severity }}",
        "source": "src",
        "class": "cls",
        "component": "cmp",
        "group": "grp",
        "images": [{"src": "https://i.test/a.png", "alt": "a"}, {"src": "{{ .CommonLabels.none }}"}],
        "links": [{"href": "https://l.test/", "text": "l"}, {"text": "no href"}],
    }
    with HttpSink() as sink:
        [request] = deliver(v2(sink, **settings), notification("firing"), sink)
    event = request.json
    assert event["routing_key"] == "rk-node"
    assert list(event["payload"]) == [
        "summary",
        "source",
        "severity",
        "class",
        "component",
        "group",
        "custom_details",
    ]
    assert (event["payload"]["summary"], event["payload"]["severity"]) == ("Instance down", "page")
    assert (event["payload"]["source"], event["client"], event["client_url"]) == (
        "src",
        "c",
        "https://c.test/",
    )
    assert event["images"] == [{"src": "https://i.test/a.png", "alt": "a", "href": ""}]
    assert event["links"] == [{"href": "https://l.test/", "text": "l"}]


def test_source_defaults_to_the_client() -> None:
    with HttpSink() as sink:
        [request] = deliver(v2(sink, client="my {{ .Status }} client"), notification("firing"), sink)
    assert request.json["payload"]["source"] == "my firing client"


def test_details_are_rendered_then_read_as_yaml() -> None:
    details = {
        "count": "{{ len .Alerts }}",
        "quoted": '"{{ len .Alerts }}"',  # YAML reads a string: sent as rendered, quotes and all
        "text": "{{ .CommonAnnotations.summary }}",
        "empty": "{{ .CommonLabels.none }}",
        "flag": "yes",
        "octal": "017",
        "list": "[a, {{ .Status }}]",
        "nested": {"{{ .Status }}-key": {"deep": "{{ len .Alerts }}.5"}, "items": ["x", "1"]},
        "json": "{{ .CommonLabels | toJson }}",
        "broken": "a: b: c",
    }
    with HttpSink() as sink:
        [request] = deliver(v2(sink, details=details), notification("firing"), sink)
    got = request.json["payload"]["custom_details"]
    assert got["count"] == 1
    assert got["quoted"] == '"1"'
    assert got["text"] == "Instance down"
    assert got["empty"] is None
    assert got["flag"] is True
    assert got["octal"] == 15
    assert got["list"] == ["a", "firing"]
    assert got["nested"] == {"firing-key": {"deep": 1.5}, "items": ["x", 1]}
    assert got["json"] == {
        "alertname": "InstanceDown",
        "instance": "a:9100",
        "job": "node",
        "severity": "page",
    }
    assert got["broken"] == "a: b: c"
    assert list(got) == sorted(got)  # a Go map: keys sorted
    assert {"firing", "resolved", "num_firing", "num_resolved"} <= set(got)  # defaults fill the rest


def test_a_detail_that_renders_a_whole_float_is_written_as_go_writes_it() -> None:
    with HttpSink() as sink:
        [request] = deliver(
            v2(sink, details={"x": "1e3", "y": "{{ len .Alerts }}.0"}), notification("firing"), sink
        )
    assert b'"x":1000,' in request.body and b'"y":1}' in request.body


def test_a_detail_go_cannot_encode_fails_the_event() -> None:
    with HttpSink() as sink:
        with pytest.raises(NotifyError, match="unsupported value") as failure:
            deliver(v2(sink, details={"x": ".nan"}), notification("firing"), sink)
        assert sink.requests == []
    assert not failure.value.retryable


def test_summary_is_cut_to_1024_characters() -> None:
    with HttpSink() as sink:
        [request] = deliver(v2(sink, description="ß" * 1500), notification("firing"), sink)
    summary = request.json["payload"]["summary"]
    assert len(summary) == 1024 and summary.endswith("ß…")


def test_an_event_over_512kb_loses_its_details(v1_sink: HttpSink) -> None:
    n = notification_of(alert("a:9100", description="x" * 600_000))
    with HttpSink() as sink:
        [request] = deliver(v2(sink), n, sink)
    assert request.json["payload"]["custom_details"] == {"error": pagerduty.TOO_BIG}
    assert pagerduty.TOO_BIG.endswith("maximum size of 512KB")
    assert len(request.body) < 2000
    [old] = deliver(v1(v1_sink), n, v1_sink)
    assert old.json["details"] == {"error": pagerduty.TOO_BIG}


def test_v1_trigger_and_resolve(v1_sink: HttpSink) -> None:
    cfg = v1(v1_sink, service_key="sk-{{ .CommonLabels.job }}")
    [trigger] = deliver(cfg, notification("firing"), v1_sink)
    [resolve] = deliver(cfg, notification("resolved"), v1_sink)
    assert (trigger.method, trigger.headers["Host"]) == ("POST", "events.pagerduty.com")
    assert trigger.path == "/generic/2010-04-15/create_event.json"
    assert list(trigger.json) == [
        "service_key",
        "incident_key",
        "event_type",
        "description",
        "event_action",
        "payload",
        "client",
        "client_url",
        "details",
    ]
    assert trigger.json["service_key"] == "sk-node"
    assert trigger.json["incident_key"] == GROUP_KEY_HASH
    assert (trigger.json["event_type"], trigger.json["event_action"], trigger.json["payload"]) == (
        "trigger",
        "",
        None,
    )
    assert trigger.json["description"] == "[FIRING:1] InstanceDown (a:9100 node page)"
    assert (trigger.json["client"], trigger.json["client_url"]) == ("Alertmanager", CLIENT_URL)
    assert trigger.json["details"]["num_firing"] == 1
    # Only a trigger names the client.
    assert resolve.json["event_type"] == "resolve"
    assert "client" not in resolve.json and "client_url" not in resolve.json


def test_keys_from_files_are_read_at_every_send(tmp_path: Path, v1_sink: HttpSink) -> None:
    key_file = tmp_path / "key"
    key_file.write_text("first\n")
    with HttpSink() as sink:
        cfg = integration("pagerduty_configs", {"routing_key_file": str(key_file), "url": sink.url})
        deliver(cfg, notification("firing"), sink)
        key_file.write_text("second")
        deliver(cfg, notification("firing"), sink)
        assert [r.json["routing_key"] for r in sink.requests] == ["first", "second"]
    cfg = integration(
        "pagerduty_configs", {"service_key_file": str(key_file), "http_config": through(v1_sink.url)}
    )
    [old] = deliver(cfg, notification("firing"), v1_sink)
    assert old.json["service_key"] == "second"


def test_global_pagerduty_url() -> None:
    with HttpSink() as sink:
        cfg = integration(
            "pagerduty_configs", {"routing_key": "rk"}, {"pagerduty_url": sink.url + "global/enqueue"}
        )
        [request] = deliver(cfg, notification("firing"), sink)
    assert request.path == "/global/enqueue"


def test_a_key_that_renders_empty_is_not_sent() -> None:
    with HttpSink() as sink:
        with pytest.raises(NotifyError, match="routing_key cannot be empty") as failure:
            deliver(v2(sink, routing_key="{{ .CommonLabels.none }}"), notification("firing"), sink)
        assert sink.requests == []
    assert not failure.value.retryable


def test_a_key_template_error_does_not_show_the_key() -> None:
    with HttpSink() as sink, pytest.raises(NotifyError) as failure:
        deliver(v2(sink, routing_key="SECRETKEY{{ .Nope }}"), notification("firing"), sink)
    assert "routing_key" in str(failure.value) and "SECRETKEY" not in str(failure.value)


def refusal(sink: HttpSink, cfg: Any) -> NotifyError:
    with pytest.raises(NotifyError) as failure:
        deliver(cfg, notification("firing"), sink)
    return failure.value


@pytest.mark.parametrize(
    ("status", "retryable"), [(429, True), (500, True), (503, True), (403, False), (404, False)]
)
def test_v2_retries(status: int, retryable: bool) -> None:
    with HttpSink(statuses=[status]) as sink:
        err = refusal(sink, v2(sink))
    assert err.retryable is retryable
    assert str(err) == f"pagerduty: unexpected status code {status}"


@pytest.mark.parametrize(("status", "retryable"), [(403, True), (500, True), (429, False), (404, False)])
def test_v1_retries(status: int, retryable: bool, v1_sink: HttpSink) -> None:
    v1_sink.respond_with(status)
    assert refusal(v1_sink, v1(v1_sink)).retryable is retryable


def test_a_refused_event_reports_pagerdutys_errors() -> None:
    said = (
        b'{"status":"invalid event","message":"Event object is invalid",'
        b'"errors":["Length of summary too long","x"]}'
    )

    def answer(_: ReceivedRequest) -> tuple[int, bytes, str]:
        return 400, said, "application/json"

    with HttpSink(responder=answer) as sink:
        err = refusal(sink, v2(sink))
    assert str(err) == (
        "pagerduty: unexpected status code 400: Event object is invalid: Length of summary too long,x"
    )
    assert not err.retryable


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"severity": "x"}, "missing service or routing key in PagerDuty config"),
        ({"routing_key": "k", "routing_key_file": "/f"}, "at most one of routing_key & routing_key_file"),
        (
            {"routing_key": "k", "severity": "high"},
            'severity "high" is not one of critical, error, warning, info',
        ),
        ({"service_key": "k", "severity": "critical"}, "severity is not sent with service_key"),
        ({"service_key": "k", "url": "http://pd.test/"}, "url is not sent with service_key"),
        ({"service_key": "k", "links": [{"href": "h"}]}, "links is not sent with service_key"),
        ({"routing_key": "k", "details": ["a"]}, "cannot unmarshal !!seq into map[string]interface {}"),
        (
            {"routing_key": "k", "images": [{"source": "s"}]},
            "field source not found in type pagerduty.PagerdutyImage",
        ),
        ({"routing_key": "k", "links": "h"}, "cannot unmarshal !!str `h` into []pagerduty.PagerdutyLink"),
    ],
)
def test_config_refused(settings: dict[str, Any], message: str) -> None:
    assert message in config_error("pagerduty_configs", settings)


def test_config_accepted() -> None:
    integration("pagerduty_configs", {"routing_key": "k", "severity": "{{ .CommonLabels.severity }}"})
    integration(
        "pagerduty_configs", {"service_key": "k", "url": PAGERDUTY_V1_URL, "client": "c", "details": {"a": 1}}
    )
    nested = integration(
        "pagerduty_configs", {"routing_key": "k", "details": {"a": {"b": [1, "x", None]}, "c": "0x1F"}}
    )
    assert nested.values["details"] == {"a": {"b": ["1", "x", None]}, "c": "0x1F"}
