"""Slack, PagerDuty, Opsgenie, VictorOps and Pushover against Alertmanager 0.25 on the same
config and alerts.

Alertmanager 0.25 (Debian's) runs with one receiver per integration, each integration pointed at
a recording HttpSink through the URL setting 0.25 has for it (Slack `api_url`, PagerDuty `url`,
Opsgenie and VictorOps `api_url`). Pushover and PagerDuty's Events API v1 post to fixed https://
URLs that no setting changes; their configs use the sink as `http_config.proxy_url`, and the sink
answers the CONNECT itself and records the requests inside the tunnel (nothing leaves the host).
Each receiver has a config that sets nearly every field, with templates, truncated texts and
characters Go's JSON escapes, and one with the defaults. Two notifications per integration: a
partly resolved group (one alert firing, one resolved), then the group resolved.

alerter sends the same notifications twice: its senders called with Notifications built from the
same alerts (`direct`), and a whole embedded alerter (`embedded`) given the same alerts through
its API, with Alertmanager's external URL so that links match. Requests are compared by method
and path, the headers a receiver reads (Content-Type, Authorization) and the body byte for byte,
which covers key order and Go's escaping. Nothing is normalised: the external URL is the same,
and no default template of these integrations prints a timestamp.

Two differences are expected, because alerter follows upstream there, and are asserted as such:
the PagerDuty `details` defaults (0.30+) and Pushover's `device` parameter (0.26+), which 0.25
does not send.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml

from app.alerts import Alert
from app.config import load_config
from app.notify.integrations import sender_for
from app.notify.message import Notification
from app.timeutil import format_rfc3339, parse_rfc3339
from tests.e2e.conftest import Deployment, start_embedded
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.integration_sends import through
from tests.support.oracle import Alertmanager
from tests.support.sendctx import send_ctx

# Pushover and PagerDuty v1 go through the sink as proxy, whose certificate is not checked.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

GROUP_KEY = '{}/{}:{alertname="OracleDown"}'
RECEIVERS = ("team.slack", "pagerduty", "opsgenie", "victorops", "pushover")
LONG = "é" * 1100 + " <&> end"  # over every limit below, in characters Go's JSON escapes or encodes


def _slack(url: str) -> list[dict[str, Any]]:
    rich = {
        "api_url": url + "slack/T000/B000/XXXX",
        "send_resolved": True,
        "channel": "#ops-{{ .CommonLabels.job }}",
        "username": "alerter <bot> & co",
        "icon_emoji": ":fire:",
        "link_names": True,
        "title": "{{ .CommonLabels.alertname }} " + LONG,
        "title_link": "https://grafana.test/d/{{ .GroupLabels.alertname }}?a=1&b=2",
        "pretext": "{{ .Status | toUpper }}",
        "text": "{{ range .Alerts }}{{ .Labels.instance }}: {{ .Annotations.summary }}\n{{ end }}",
        "footer": "via {{ .Receiver }}",
        "fallback": "{{ .CommonAnnotations.summary }}",
        "callback_id": "cb-{{ .GroupLabels.alertname }}",
        "image_url": "https://img.test/{{ .Status }}.png",
        "thumb_url": "https://img.test/thumb.png",
        "color": '{{ if eq .Status "firing" }}#ff0000{{ else }}#00ff00{{ end }}',
        "short_fields": True,
        "mrkdwn_in": ["text", "title"],
        "fields": [
            {"title": "Severity", "value": "{{ .CommonLabels.severity }}"},
            {"title": "Alerts", "value": "{{ len .Alerts }}", "short": False},
        ],
        "actions": [
            {
                "type": "button",
                "text": "Runbook",
                "url": "https://runbooks.test/{{ .GroupLabels.alertname }}",
                "style": "primary",
                "name": "dropped: a URL button has no name",
            },
            {
                "type": "button",
                "text": "Ack {{ .GroupLabels.alertname }}",
                "name": "ack",
                "value": "{{ .GroupLabels.alertname }}",
                "confirm": {"text": "Sure?", "title": "Ack", "ok_text": "Yes", "dismiss_text": "No"},
            },
        ],
    }
    return [rich, {"api_url": url + "slack/defaults", "send_resolved": True}]


def _pagerduty(url: str) -> list[dict[str, Any]]:
    rich = {
        "routing_key": "rk-{{ .CommonLabels.job }}",
        "url": url + "pagerduty/v2/enqueue",
        "client": "alerter & {{ .Receiver }}",
        "client_url": "https://alerts.test/{{ .GroupLabels.alertname }}",
        "description": "{{ .CommonAnnotations.summary }} " + LONG,
        "severity": "{{ .CommonLabels.severity }}",
        "source": "prometheus-{{ .CommonLabels.job }}",
        "class": "availability",
        "component": "{{ .CommonLabels.job }}",
        "group": "{{ .GroupLabels.alertname }}",
        "images": [
            {"src": "https://img.test/{{ .Status }}.png", "alt": "graph", "href": "https://grafana.test/"},
            {"src": "{{ .CommonLabels.nothing }}", "alt": "dropped: renders no src"},
        ],
        "links": [
            {"href": "https://runbooks.test/{{ .GroupLabels.alertname }}", "text": "Runbook"},
            {"href": "", "text": "dropped: no href"},
        ],
        # Values that read as plain strings in YAML, so that 0.25 and upstream send the same.
        "details": {
            "firing": "n={{ len .Alerts.Firing }}",
            "resolved": "n={{ len .Alerts.Resolved }}",
            "num_firing": "{{ len .Alerts.Firing }} firing",
            "num_resolved": "{{ len .Alerts.Resolved }} resolved",
            "runbook": "https://runbooks.test/{{ .GroupLabels.alertname }}?a=<b>",
        },
    }
    events_v1 = {  # the fixed v1 URL, through the sink as proxy
        "service_key": "sk-{{ .CommonLabels.job }}",
        "http_config": through(url),
        "details": rich["details"],
    }
    return [rich, {"routing_key": "defaults", "url": url + "pagerduty/defaults"}, events_v1]


def _opsgenie(url: str) -> list[dict[str, Any]]:
    rich = {
        "api_key": "og-key",
        "api_url": url + "opsgenie/",
        "update_alerts": True,
        "message": "{{ range .Alerts }}{{ .Labels.instance }} {{ end }}" + LONG,
        "description": "{{ .CommonAnnotations.summary }} <{{ .Status }}>",
        "source": "prometheus",
        "details": {"team": "{{ .CommonLabels.job }}-team", "job": "replaces the common label"},
        "entity": "{{ .GroupLabels.alertname }}",
        "responders": [
            {"name": "ops", "type": "team"},
            {"username": "oncall@example.test", "type": "user"},
            {"name": " web, db,,", "type": "teams"},
            {"id": "{{ .CommonLabels.nothing }}", "type": "{{ .CommonLabels.nothing }}"},
            {"id": "4513b7ea", "type": "schedule"},
        ],
        "tags": " a,b , ,c ",
        "actions": "restart,page",
        "note": "{{ len .Alerts }} alerts",
        "priority": "P2",
    }
    return [rich, {"api_key": "og-defaults", "api_url": url + "opsgenie-defaults"}]


def _victorops(url: str) -> list[dict[str, Any]]:
    rich = {
        "api_key": "vo-key",
        "api_url": url + "victorops/",
        "routing_key": "team-{{ .CommonLabels.job }}",
        "message_type": '{{ if eq .CommonLabels.severity "critical" }}CRITICAL{{ else }}WARNING{{ end }}',
        "state_message": "{{ .CommonAnnotations.summary }} " + LONG * 20,
        "entity_display_name": "{{ .GroupLabels.alertname }} <{{ .Status }}>",
        "monitoring_tool": "prometheus & alerter",
        "custom_fields": {"team": "{{ .CommonLabels.job }}", "link": "https://x.test/?a=1&b=2"},
    }
    return [rich, {"api_key": "vo-defaults", "api_url": url + "victorops-defaults", "routing_key": "r"}]


def _pushover(url: str) -> list[dict[str, Any]]:
    rich = {
        "user_key": "user-key",
        "token": "app-token",
        "http_config": through(url),
        "title": "{{ .GroupLabels.alertname }} " + LONG,
        "html": True,
        "message": "{{ range .Alerts }}<b>{{ .Labels.instance }}</b> {{ .Annotations.runbook }} {{ end }}"
        + LONG,
        "url": "https://runbooks.test/{{ .GroupLabels.alertname }}?" + LONG,
        "url_title": "Runbook & more",
        "sound": "siren",
        "priority": '{{ if eq .Status "firing" }}1{{ else }}-1{{ end }}',
        "retry": "45s",
        "expire": "2h30m",
    }
    return [rich, {"user_key": "user-key", "token": "defaults", "http_config": through(url)}]


def config(url: str) -> dict[str, Any]:
    """The same config for Alertmanager and alerter, every integration pointed at `url`."""
    return {
        "route": {
            "receiver": RECEIVERS[0],
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
            "routes": [{"receiver": name, "continue": True} for name in RECEIVERS],
        },
        "receivers": [
            {"name": "team.slack", "slack_configs": _slack(url)},
            {"name": "pagerduty", "pagerduty_configs": _pagerduty(url)},
            {"name": "opsgenie", "opsgenie_configs": _opsgenie(url)},
            {"name": "victorops", "victorops_configs": _victorops(url)},
            {"name": "pushover", "pushover_configs": _pushover(url)},
        ],
    }


# Requests per notification: Slack 2, PagerDuty 3, Opsgenie 1 + 2 updates + 1, VictorOps 2,
# Pushover 2.
FIRST_COUNT = 2 + 3 + 3 + 1 + 2 + 2
SECOND_COUNT = 2 + 3 + 1 + 1 + 2 + 2


def _alert(instance: str, started: float, ended: float | None) -> dict[str, Any]:
    """An alert as posted to both: a common summary, a per-instance runbook."""
    return {
        "labels": {"alertname": "OracleDown", "instance": instance, "job": "node", "severity": "warning"},
        "annotations": {"summary": "Instance down", "runbook": f"https://runbooks.test/{instance}"},
        "startsAt": format_rfc3339(started),
        **({"endsAt": format_rfc3339(ended)} if ended is not None else {}),
        "generatorURL": "http://prometheus.test/graph?g0.expr=up+%3D%3D+0",
    }


def _as_alert(posted: dict[str, Any], now: float) -> Alert:
    """The posted alert as alerter stores it (a firing one without endsAt lasts resolve_timeout)."""
    ends_at = posted.get("endsAt")
    return Alert(
        labels=posted["labels"],
        annotations=posted["annotations"],
        starts_at=parse_rfc3339(posted["startsAt"]),
        ends_at=now + 300 if ends_at is None else parse_rfc3339(ends_at),
        generator_url=posted["generatorURL"],
        fingerprint="",
    )


def _ok(_: ReceivedRequest) -> tuple[int, bytes, str]:
    """Every service's answer to a delivered request; "ok" is what a Slack webhook says."""
    return 200, b"ok", "text/plain"


Phases = tuple[list[ReceivedRequest], list[ReceivedRequest]]


def _send_direct(url: str, alerts: list[dict[str, Any]], external_url: str) -> None:
    """alerter's senders, called as its notifier calls them for each receiver of the config."""
    loaded = load_config(yaml.safe_dump(config(url), sort_keys=False))
    now = time.time()
    for name in RECEIVERS:
        n = Notification.build(
            name,
            GROUP_KEY,
            {"alertname": "OracleDown"},
            [_as_alert(a, now) for a in alerts],
            now,
            external_url,
        )
        for kind, _, cfg in loaded.receivers[name].integrations():
            sender_for(kind)(cfg, n, send_ctx(10))


@pytest.fixture(scope="module")
def exchanges(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Phases]]:
    """What Alertmanager, alerter's senders and an embedded alerter sent, per notification."""
    # Alertmanager flushes a new group at once when an alert inserted into it started more than
    # group_wait ago, with whatever alerts the group holds at that moment. Had both alerts
    # started long ago, its first flush could hold "a" alone under load (a Slack group of one
    # run did: one alert, then both a group_interval later). "a" starts now and goes first, so
    # the flush the old, resolved "b" sets off always holds both. Made right before the post:
    # made before Alertmanager and alerter had started (seconds under load), "a" too was older
    # than group_wait by the time it was posted.
    with (
        HttpSink(responder=_ok, keep_alive=False) as am_sink,
        HttpSink(responder=_ok, keep_alive=False) as direct,
        HttpSink(responder=_ok, keep_alive=False) as full,
    ):
        am = Alertmanager(config(am_sink.url))
        work = tmp_path_factory.mktemp("oracle-a")
        config_file = work / "alerter.yml"
        config_file.write_text(yaml.safe_dump(config(full.url), sort_keys=False))
        embedded: Deployment = start_embedded(config_file, work / "data", f"--web.external-url={am.url}")
        try:
            started = time.time()
            first = [_alert("a:9100", started, None), _alert("b:9100", started - 60, started - 5)]
            am.post(first)
            embedded.post(first)
            _send_direct(direct.url, first, am.url)
            sinks = (am_sink, direct, full)
            firsts = [sink.wait_for(FIRST_COUNT, timeout=20) for sink in sinks]
            second = [_alert("a:9100", started, time.time())]
            am.post(second)
            embedded.post(second)
            _send_direct(direct.url, second, am.url)
            seconds = [sink.wait_for(FIRST_COUNT + SECOND_COUNT, timeout=20)[FIRST_COUNT:] for sink in sinks]
        finally:
            for process in embedded.processes:
                process.stop()
            am.stop()
    yield {name: (firsts[i], seconds[i]) for i, name in enumerate(("alertmanager", "direct", "embedded"))}


PUSHOVER_PATH = "/1/messages.json"


def _target(r: ReceivedRequest) -> tuple[str, str]:
    """What identifies a request: its method and path, for Pushover the token (its path holds
    every parameter, and 0.25 sends one fewer)."""
    parts = urlsplit(r.path)
    if parts.path == PUSHOVER_PATH:
        return r.method, f"{PUSHOVER_PATH} token={dict(parse_qsl(parts.query))['token']}"
    return r.method, r.path


def _by_target(requests: list[ReceivedRequest]) -> dict[tuple[str, str], ReceivedRequest]:
    out = {_target(r): r for r in requests}
    # Each request with who sent it, from which port and when: a duplicate is then attributable
    # (Alertmanager's own retries under load, or a sender of alerter's).
    seen = [
        (r.method, r.path[:60], r.headers.get("User-Agent"), r.client_port, r.received_at) for r in requests
    ]
    assert len(out) == len(requests), f"two requests to one target: {seen}"
    return out


PREFIXES = {
    "slack": "/slack/",
    "pagerduty": "/pagerduty/",
    "pagerduty-v1": "/generic/2010-04-15/create_event.json",
    "opsgenie": "/opsgenie",
    "victorops": "/victorops",
    "pushover": PUSHOVER_PATH,
}
CASES = [(kind, phase, side) for kind in PREFIXES for phase in (0, 1) for side in ("direct", "embedded")]


def _pairs(
    exchanges: dict[str, Phases], kind: str, phase: int, side: str
) -> list[tuple[ReceivedRequest, ReceivedRequest]]:
    def of_kind(requests: list[ReceivedRequest]) -> dict[tuple[str, str], ReceivedRequest]:
        return {k: r for k, r in _by_target(requests).items() if k[1].startswith(PREFIXES[kind])}

    theirs, ours = of_kind(exchanges["alertmanager"][phase]), of_kind(exchanges[side][phase])
    assert sorted(ours) == sorted(theirs)
    assert theirs
    return [(theirs[k], ours[k]) for k in sorted(theirs)]


def _same_pushover_message(theirs: ReceivedRequest, ours: ReceivedRequest) -> None:
    """The same parameters, in the same (sorted) order, but for `device` (Alertmanager 0.26+
    sends it, empty unless set; 0.25 had no such setting)."""
    old = parse_qsl(urlsplit(theirs.path).query, keep_blank_values=True)
    new = parse_qsl(urlsplit(ours.path).query, keep_blank_values=True)
    assert ("device", "") in new
    assert [p for p in new if p[0] != "device"] == old
    assert ours.body == theirs.body == b""


@pytest.mark.parametrize(("kind", "phase", "side"), CASES)
def test_same_requests_as_alertmanager(
    exchanges: dict[str, Phases], kind: str, phase: int, side: str
) -> None:
    """Same targets, headers and bodies; PagerDuty's default details are compared below."""
    for theirs, ours in _pairs(exchanges, kind, phase, side):
        for header in ("Content-Type", "Authorization"):
            assert ours.headers.get(header) == theirs.headers.get(header), (header, theirs.path)
        if not theirs.headers["Host"].startswith("127.0.0.1"):  # through the proxy
            assert ours.headers["Host"] == theirs.headers["Host"]
        if kind == "pushover":
            _same_pushover_message(theirs, ours)
        elif theirs.path == "/pagerduty/defaults":
            theirs_json, ours_json = copy.deepcopy(theirs.json), copy.deepcopy(ours.json)
            del theirs_json["payload"]["custom_details"], ours_json["payload"]["custom_details"]
            assert ours_json == theirs_json
        else:
            assert ours.body.decode() == theirs.body.decode(), theirs.path


@pytest.mark.parametrize("side", ["direct", "embedded"])
def test_pagerduty_default_details_follow_upstream(exchanges: dict[str, Phases], side: str) -> None:
    """0.25 sends the alerts as text and the counts as strings; alerter, as Alertmanager 0.30+,
    sends the alerts as objects (toJson read back as YAML) and the counts as numbers."""
    for phase, (firing, resolved) in enumerate([(["a:9100"], ["b:9100"]), ([], ["a:9100"])]):
        [(theirs, ours)] = [
            p for p in _pairs(exchanges, "pagerduty", phase, side) if p[0].path.endswith("defaults")
        ]
        old, new = theirs.json["payload"]["custom_details"], ours.json["payload"]["custom_details"]
        assert list(new) == ["firing", "num_firing", "num_resolved", "resolved"]
        assert (new["num_firing"], new["num_resolved"]) == (int(old["num_firing"]), int(old["num_resolved"]))
        for status, instances in (("firing", firing), ("resolved", resolved)):
            assert [a["labels"]["instance"] for a in new[status]] == instances
            assert all(
                a["status"] == status and a["annotations"]["summary"] == "Instance down" for a in new[status]
            )
            for instance in instances:
                assert f" - instance = {instance}\n" in old[status]
