"""Receiver tests: the synthetic notification, every integration of one receiver tried at once
against local servers with each answer reported, and the API route (Flask's test client)."""

from __future__ import annotations

from pathlib import Path

import fakeredis
import pytest
import yaml
from flask.testing import FlaskClient

from app.cli import main
from app.config import load_config
from app.notify.receivertest import ALERTNAME, IntegrationAnswer, synthetic_notification, try_receiver
from app.runtime import Runtime
from app.settings import Settings
from app.template import Templates
from app.web import create_app
from tests.support.http_sink import HttpSink

ROCKETCHAT_OK = (200, b'{"success": true}', "application/json")


def receivers(ok_url: str, failing_url: str) -> list[dict[str, object]]:
    return [
        {
            "name": "team/ops",
            "webhook_configs": [{"url": ok_url, "send_resolved": False}, {"url": failing_url}],
            "rocketchat_configs": [{"api_url": ok_url, "token": "t", "token_id": "i"}],
        },
        {"name": "blackhole"},
    ]


def test_the_synthetic_notification_says_it_is_a_test() -> None:
    n = synthetic_notification("team", "http://am.test", 1_700_000_000.0)
    [alert] = n.alerts
    assert alert.firing and n.status == "firing"
    assert alert.labels == {"alertname": ALERTNAME, "instance": "alerter", "receiver": "team"}
    assert "needs no action" in alert.annotations["description"]
    assert n.group_labels == {"alertname": ALERTNAME}
    assert n.group_key == '{}/alerter-receiver-test:{alertname="AlerterReceiverTest", receiver="team"}'
    assert n.receiver == "team" and n.external_url == "http://am.test"


def test_every_integration_is_tried_and_answers_in_order() -> None:
    with HttpSink(responder=lambda _: ROCKETCHAT_OK) as ok, HttpSink(default_status=503) as failing:
        config = load_config(
            yaml.safe_dump({"route": {"receiver": "blackhole"}, "receivers": receivers(ok.url, failing.url)})
        )
        answers = try_receiver(config.receivers["team/ops"], Templates(), "http://am.test")
        requests = ok.wait_for(2, timeout=5)
    assert [(a.integration, a.index, a.ok) for a in answers] == [
        ("webhook", 0, True),
        ("webhook", 1, False),
        ("rocketchat", 0, True),
    ]
    assert answers[1].error is not None and "answered 503" in answers[1].error
    assert answers[1].line() == f"webhook[1]: {answers[1].error}"
    assert answers[0].line() == "webhook[0]: ok"
    hook = next(r for r in requests if r.path == "/")
    assert hook.json["alerts"][0]["labels"]["alertname"] == ALERTNAME  # send_resolved does not matter
    chat = next(r for r in requests if r.path == "/api/v1/chat.postMessage")
    assert chat.json["attachments"][0]["title"].startswith("[FIRING:1] AlerterReceiverTest")
    assert try_receiver(config.receivers["blackhole"], Templates(), "http://am.test") == []


def test_answers_as_the_api_gives_them() -> None:
    assert IntegrationAnswer("email", 0, None).to_api() == {
        "integration": "email",
        "index": 0,
        "ok": True,
        "error": None,
    }
    assert IntegrationAnswer("jira", 1, "jira: refused").to_api()["ok"] is False


@pytest.fixture
def client(tmp_path: Path):  # type: ignore[no-untyped-def]
    with HttpSink(responder=lambda _: ROCKETCHAT_OK) as ok, HttpSink(default_status=400) as failing:
        path = tmp_path / "am.yml"
        path.write_text(
            yaml.safe_dump({"route": {"receiver": "blackhole"}, "receivers": receivers(ok.url, failing.url)})
        )
        rt = Runtime(Settings(config_file=str(path), storage_path=str(tmp_path)), fakeredis.FakeRedis())
        yield create_app(rt).test_client()


def test_api_route(client: FlaskClient) -> None:
    r = client.post("/api/v2/receivers/team/ops/test")
    assert r.status_code == 200
    answers = r.get_json()
    assert [(a["integration"], a["index"], a["ok"]) for a in answers] == [
        ("webhook", 0, True),
        ("webhook", 1, False),
        ("rocketchat", 0, True),
    ]
    assert "answered 400" in answers[1]["error"] and answers[0]["error"] is None
    assert client.post("/api/v2/receivers/blackhole/test").get_json() == []
    missing = client.post("/api/v2/receivers/nobody/test")
    assert missing.status_code == 404 and missing.get_json() == "receiver 'nobody' not found"
    assert client.get("/api/v2/receivers/team/ops/test").status_code == 405


@pytest.mark.parametrize(
    "argv",
    [["receiver"], ["receiver", "test"], ["receiver", "send", "x"], ["receiver", "test", "--config.file=a"]],
)
def test_cli_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("usage: alerter receiver test NAME")
