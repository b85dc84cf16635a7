"""Alertmanager 0.25 and alerter, each running on the same config and receiving the same alerts:
what Telegram, Discord, Webex, WeChat and SNS receive from alerter must be what they receive from
Alertmanager, request by request, field by field.

One Alertmanager (Debian's 0.25) and one embedded alerter run for the whole module, each pointed
at its own recording servers, which answer as the services do (Telegram's JSON result, WeChat's
token and errcode, SNS's XML). Three groups go through both: one with a firing and a resolved
alert, one with two firing alerts, and one that fires and is then resolved. Only what must differ
is normalised: each server's external URL (its own address), User-Agent, and the SigV4 signature
and date, which are checked instead by recomputing each signature from the request received.

Where alerter follows Alertmanager after 0.25 (docs/compatibility.md), the test says so: the SNS
Content-Type of the AWS SDK v2, and Webex's templated room_id (a plain one is used here).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
import yaml

from app.timeutil import format_rfc3339
from tests.e2e.conftest import start_embedded
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.integration_sends import no_content
from tests.support.oracle import Alertmanager
from tests.support.processes import wait_until
from tests.support.sigv4 import credential_scope, signature_is_valid

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SIGV4 = {"region": "eu-west-1", "access_key": "AKIDEXAMPLE", "secret_key": AWS_SECRET}
TIMING = {"group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"}


def telegram_answer(request: ReceivedRequest) -> tuple[int, bytes, str]:
    message = {"message_id": 7, "chat": {"id": int(request.json["chat_id"])}, "date": 0, "text": ""}
    return 200, json.dumps({"ok": True, "result": message}).encode(), "application/json"


def wechat_answer(request: ReceivedRequest) -> tuple[int, bytes, str]:
    if "/gettoken?" in request.path:
        answer = {"errcode": 0, "errmsg": "ok", "access_token": "wx-access-token", "expires_in": 7200}
    else:
        answer = {"errcode": 0, "errmsg": "ok"}
    return 200, json.dumps(answer).encode(), "application/json"


def sns_answer(request: ReceivedRequest) -> tuple[int, bytes, str]:
    xml = (
        '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
        "<MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r-1</RequestId>"
        "</ResponseMetadata></PublishResponse>"
    )
    return 200, xml.encode(), "text/xml"


# Each integration config of the shared receiver, by name: (YAML without its URL, how to point it
# at a sink URL, the sink's answer, how many requests it gets in the module).
def _api(url: str) -> dict[str, str]:
    return {"api_url": url.rstrip("/")}


CONFIGS: dict[str, tuple[str, dict[str, Any], Any, Any, int]] = {
    "telegram_html": (
        "telegram_configs",
        {"bot_token": "123:abc", "chat_id": -1001},
        _api,
        telegram_answer,
        4,
    ),
    "telegram_plain": (
        "telegram_configs",
        {
            "bot_token": "456:def",
            "chat_id": 42,
            "parse_mode": "",
            "disable_notifications": True,
            "message": "{{ .Status }}: {{ .CommonLabels.alertname }} <b>{{ len .Alerts }}</b>",
        },
        _api,
        telegram_answer,
        4,
    ),
    "discord": ("discord_configs", {}, lambda u: {"webhook_url": u + "api/webhooks/1/tok"}, None, 4),
    "discord_custom": (
        "discord_configs",
        {
            "title": "{{ .GroupLabels.case }} & co",
            "message": "{{ range .Alerts }}{{ .Labels.instance }} {{ end }}",
        },
        lambda u: {"webhook_url": u + "api/webhooks/2/tok"},
        None,
        4,
    ),
    "webex": (
        "webex_configs",
        {"room_id": "room-1", "http_config": {"authorization": {"credentials": "webex-token"}}},
        lambda u: {"api_url": u + "v1/messages"},
        None,
        4,
    ),
    # send_resolved is off by default: no message for the group once all is resolved.
    "wechat_text": (
        "wechat_configs",
        {"api_secret": "wx secret", "corp_id": "corp-1", "to_user": "@all", "agent_id": "1000002"},
        lambda u: {"api_url": u + "cgi-bin/"},
        wechat_answer,
        3,
    ),
    "wechat_markdown": (
        "wechat_configs",
        {
            "api_secret": "wx-other",
            "corp_id": "corp-2",
            "to_party": "2",
            "to_tag": "3",
            "message_type": "markdown",
            "send_resolved": True,
        },
        lambda u: {"api_url": u},
        wechat_answer,
        4,
    ),
    "sns_topic": (
        "sns_configs",
        {
            "topic_arn": "arn:aws:sns:eu-west-1:123456789012:alerts.fifo",
            "sigv4": SIGV4,
            "attributes": {"team": "{{ .CommonLabels.team }}", "case": "{{ .GroupLabels.case }}"},
        },
        lambda u: {"api_url": u},
        sns_answer,
        4,
    ),
    "sns_sms": (
        "sns_configs",
        {
            "phone_number": "+15555550100",
            "sigv4": SIGV4,
            "subject": "",
            # Over SNS's 1600-byte SMS limit, cut inside a three-byte character.
            "message": "{{ range .Alerts }}{{ .Labels.instance }}{{ end }} " + "€" * 600,
        },
        lambda u: {"api_url": u},
        sns_answer,
        4,
    ),
    "sns_target": (
        "sns_configs",
        {"target_arn": "arn:aws:sns:eu-west-1:123456789012:endpoint/APNS/app/1", "sigv4": SIGV4},
        lambda u: {"api_url": u},
        sns_answer,
        4,
    ),
}


def config(sinks: dict[str, HttpSink]) -> dict[str, Any]:
    receiver: dict[str, Any] = {"name": "team-x"}
    for name, (key, values, point, _, _) in CONFIGS.items():
        receiver.setdefault(key, []).append({**values, **point(sinks[name].url)})
    return {"route": {"receiver": "team-x", "group_by": ["case"], **TIMING}, "receivers": [receiver]}


def alert(case: str, instance: str, resolved: bool = False, new: bool = False) -> dict[str, Any]:
    """One alert as posted to both; `new` starts it now instead of 30 s ago. Alertmanager flushes
    a group at once when an alert that started more than group_wait ago joins it, with the alerts
    it holds at that moment: the first alert of a group of several is new, so that flush always
    holds them all (with every alert old, the first could go out alone under load)."""
    now = time.time()
    return {
        "labels": {"alertname": "Down", "case": case, "instance": instance, "team": "ops & dev"},
        "annotations": {"summary": "down <now>", "runbook": f"http://runbooks.test/{case}?a=1&b=2+3"},
        "startsAt": format_rfc3339(now if new else now - 30),
        "endsAt": format_rfc3339(now - 5 if resolved else now + 600),
        "generatorURL": f"http://prometheus.test/graph?g0.expr=up{{case=%22{case}%22}}&x=1+2",
    }


class Run:
    """One system (Alertmanager or alerter): its sinks and how to post alerts to it."""

    def __init__(self, sinks: dict[str, HttpSink], url: str, external_url: str) -> None:
        self.sinks, self.url, self.external_url = sinks, url, external_url

    def post(self, alerts: list[dict[str, Any]]) -> None:
        r = requests.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10)
        assert r.status_code == 200, r.text


def _sinks() -> dict[str, HttpSink]:
    return {
        name: HttpSink(responder=answer or no_content, keep_alive=False)
        for name, (*_, answer, _) in CONFIGS.items()
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, Run]]:
    tmp = tmp_path_factory.mktemp("oracle-b")
    am_sinks, our_sinks = _sinks(), _sinks()
    for sink in (*am_sinks.values(), *our_sinks.values()):
        sink.__enter__()
    path = tmp / "alerter.yml"
    path.write_text(yaml.safe_dump(config(our_sinks), sort_keys=False))
    ours = start_embedded(path, tmp / "data")
    oracle = Alertmanager(config(am_sinks))
    # alerter's default external URL is Alertmanager's: http://<hostname>:<port>.
    external = f"http://{socket.gethostname()}:{urlsplit(ours.web_urls[0]).port}"
    am, alerter = Run(am_sinks, oracle.url, oracle.url), Run(our_sinks, ours.web_urls[0], external)
    try:
        first = [
            alert("mixed", "a<1>", new=True),
            alert("mixed", "b'2'", resolved=True),
            alert("firing", 'c"3"', new=True),
            alert("firing", "d+4"),
            alert("resolved", "e&5"),
        ]
        for run in (am, alerter):
            run.post(first)
        # Once both have told of the third group firing, resolve it.
        for run in (am, alerter):
            wait_until(lambda run=run: len(run.sinks["discord"].requests) >= 3, 30, message="3 notifications")
            run.post([alert("resolved", "e&5", resolved=True)])
        for run in (am, alerter):
            for name, (*_, count) in CONFIGS.items():
                wait_until(
                    lambda run=run, name=name, count=count: len(notifications(run, name)) >= count,
                    30,
                    message=f"{count} notifications from {name}",
                )
        yield am, alerter
    finally:
        oracle.stop()
        ours.stop()
        for sink in (*am_sinks.values(), *our_sinks.values()):
            sink.__exit__(None, None, None)


def notifications(run: Run, name: str) -> list[ReceivedRequest]:
    """The requests of config `name` that carry a notification (not WeChat's token requests)."""
    return [r for r in run.sinks[name].requests if "/gettoken?" not in r.path]


def exchanged(
    run: Run, requests_: list[ReceivedRequest], headers: tuple[str, ...], drop: str = ""
) -> list[tuple[Any, ...]]:
    """What was received, order aside: method, path, query, the given headers and the body
    (JSON, or form fields), with the system's own URL normalised and `drop` taken out of the
    form; the raw body last, for a byte-for-byte comparison."""
    out = []
    for r in requests_:
        path, _, query = r.path.partition("?")
        body = r.body.decode("utf-8", errors="surrogateescape").replace(run.external_url, "<external-url>")
        if drop:
            assert drop in body.split("&"), f"{drop} is not in {body}"
            body = "&".join(field for field in body.split("&") if field != drop)
        parsed = json.loads(body) if r.json is not None else parse_qsl(body, keep_blank_values=True)
        seen = tuple((h, r.headers[h]) for h in headers)
        out.append((r.method, path, parse_qsl(query), seen, parsed, body))
    return sorted(out, key=repr)


def assert_same(
    runs: tuple[Run, Run], name: str, headers: tuple[str, ...] = ("Content-Type",), am_only: str = ""
) -> None:
    """Every notification alerter sent for config `name` is one Alertmanager sent, and no other:
    field by field (for a readable diff), then byte for byte (Go's JSON escapes, key order).
    `am_only`: a form field only Alertmanager 0.25 sends, that upstream no longer sends."""
    am, alerter = runs
    expected = exchanged(am, notifications(am, name), headers, am_only)
    got = exchanged(alerter, notifications(alerter, name), headers)
    assert len(got) == len(expected) == CONFIGS[name][-1]
    for theirs, ours in zip(expected, got, strict=True):
        assert ours[:5] == theirs[:5]
        assert ours[5] == theirs[5]


@pytest.mark.parametrize("name", ["telegram_html", "telegram_plain"])
def test_telegram_sends_what_alertmanager_sends(runs: tuple[Run, Run], name: str) -> None:
    assert_same(runs, name)
    # The body has parse_mode only when it is not empty (HTML is the default).
    modes = {r.json.get("parse_mode") for r in runs[1].sinks[name].requests}
    assert modes == ({"HTML"} if name == "telegram_html" else {None})


@pytest.mark.parametrize("name", ["discord", "discord_custom"])
def test_discord_sends_what_alertmanager_sends(runs: tuple[Run, Run], name: str) -> None:
    assert_same(runs, name)


def test_webex_sends_what_alertmanager_sends(runs: tuple[Run, Run]) -> None:
    assert_same(runs, "webex", ("Content-Type", "Authorization"))


@pytest.mark.parametrize("name", ["wechat_text", "wechat_markdown"])
def test_wechat_sends_what_alertmanager_sends(runs: tuple[Run, Run], name: str) -> None:
    assert_same(runs, name)
    am, alerter = runs
    token_requests = {run: [r for r in run.sinks[name].requests if "/gettoken?" in r.path] for run in runs}
    # The same token request; alerter's cache (one fetch for all the groups sent at once) saves
    # the extra ones Alertmanager makes when two groups fetch a token at the same time.
    assert {(r.method, r.path) for r in token_requests[am]} == {
        (r.method, r.path) for r in token_requests[alerter]
    }
    assert len(token_requests[alerter]) == 1


@pytest.mark.parametrize("name", ["sns_topic", "sns_sms", "sns_target"])
def test_sns_publishes_what_alertmanager_publishes(runs: tuple[Run, Run], name: str) -> None:
    # Alertmanager 0.25's AWS SDK (v1) sends an empty map (sns_target has no attributes, and its
    # message is not cut) as `MessageAttributes=`; the SDK v2 of Alertmanager since 0.29, which
    # alerter follows, leaves it out.
    assert_same(runs, name, (), am_only="MessageAttributes=" if name == "sns_target" else "")
    am, alerter = runs
    for theirs, ours in zip(am.sinks[name].requests, alerter.sinks[name].requests, strict=True):
        assert credential_scope(ours) == credential_scope(theirs) == ("AKIDEXAMPLE", "eu-west-1", "sns")
        assert signature_is_valid(theirs, AWS_SECRET)
        assert signature_is_valid(ours, AWS_SECRET)
        # The SDK v2 (0.29+) also drops 0.25's "; charset=utf-8".
        assert theirs.headers["Content-Type"] == "application/x-www-form-urlencoded; charset=utf-8"
        assert ours.headers["Content-Type"] == "application/x-www-form-urlencoded"
