"""The Pushover integration against a real local server: the message's parameters, how they are
sent (Alertmanager puts them in the query string of a POST with an empty body), truncation,
retries, and the refused configs.

Pushover's URL is fixed (no setting changes it, in Alertmanager 0.25 or later): the configs here
use the local server as their proxy, which answers the HTTPS tunnel itself (HttpSink)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from app.notify.errors import NotifyError
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
alert, alert_text, notification, notification_of = (
    TEAM_OPS.alert,
    TEAM_OPS.alert_text,
    TEAM_OPS.notification,
    TEAM_OPS.notification_of,
)

# The sink, as proxy, answers for api.pushover.net with a certificate no one checks.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    with HttpSink() as server:
        yield server


def params(request: ReceivedRequest) -> dict[str, str]:
    pairs = parse_qsl(urlsplit(request.path).query, keep_blank_values=True)
    assert len(pairs) == len(dict(pairs))
    return dict(pairs)


def cfg(sink: HttpSink, **settings: Any) -> Any:
    return integration(
        "pushover_configs",
        {"user_key": "user-key", "token": "app-token", "http_config": through(sink.url), **settings},
    )


def test_firing_message_with_the_defaults(sink: HttpSink) -> None:
    [request] = deliver(cfg(sink), notification("mixed"), sink)
    assert (request.method, request.headers["Host"]) == ("POST", "api.pushover.net")
    assert urlsplit(request.path).path == "/1/messages.json"
    assert request.headers["Content-Type"] == "text/plain"
    assert request.body == b""
    query = urlsplit(request.path).query
    assert [k for k, _ in parse_qsl(query, keep_blank_values=True)] == sorted(params(request))  # Go sorts
    assert params(request) == {
        "device": "",
        "expire": "3600",
        "message": "Instance down\n\nAlerts Firing:\n"
        + alert_text("a:9100")
        + "\n\n\nAlerts Resolved:\n"
        + alert_text("b:9100").rstrip("\n"),
        "priority": "2",
        "retry": "60",
        "sound": "",
        "title": "[FIRING:1] InstanceDown (node page)",
        "token": "app-token",
        "url": EXTERNAL_URL + "/#/alerts?receiver=team%5C.ops",
        "url_title": "",
        "user": "user-key",
    }
    assert "+" in query and "%20" not in query  # spaces as Go's QueryEscape writes them


def test_resolved_message_is_normal_priority(sink: HttpSink) -> None:
    [request] = deliver(cfg(sink), notification("resolved"), sink)
    assert params(request)["priority"] == "0"
    assert params(request)["title"] == "[RESOLVED] InstanceDown (node page)"


def test_every_setting(sink: HttpSink) -> None:
    settings = {
        "title": "t {{ .Status }}",
        "message": "m",
        "url": "https://u.test/",
        "url_title": "{{ .GroupLabels.alertname }}",
        "device": "phone",
        "sound": "siren",
        "priority": "1",
        "retry": "1m30.9s",
        "expire": "2h",
        "ttl": "1h",
        "monospace": True,
    }
    [request] = deliver(cfg(sink, **settings), notification("firing"), sink)
    got = params(request)
    assert got["title"] == "t firing" and got["message"] == "m" and got["url_title"] == "InstanceDown"
    assert (got["device"], got["sound"], got["priority"]) == ("phone", "siren", "1")
    assert (got["retry"], got["expire"], got["ttl"], got["monospace"]) == ("90", "7200", "3600", "1")
    assert "html" not in got


def test_html_messages_escape_the_values(sink: HttpSink) -> None:
    n = notification_of(alert("<b>&</b>"))
    [request] = deliver(cfg(sink, html=True, message="{{ .CommonLabels.instance }}"), n, sink)
    assert params(request)["html"] == "1"
    assert params(request)["message"] == "&lt;b&gt;&amp;&lt;/b&gt;"
    [plain] = deliver(cfg(sink, message="{{ .CommonLabels.instance }}"), n, sink)
    assert params(plain)["message"] == "<b>&</b>"


def test_limits(sink: HttpSink) -> None:
    [request] = deliver(
        cfg(sink, title="t" * 300, message="m" * 2000, url="https://u.test/" + "p" * 600),
        notification("firing"),
        sink,
    )
    got = params(request)
    assert len(got["title"]) == 250 and got["title"].endswith("t…")
    assert len(got["message"]) == 1024 and got["message"].endswith("m…")
    assert len(got["url"]) == 512 and got["url"].endswith("p…")


def test_an_empty_message_says_so(sink: HttpSink) -> None:
    [request] = deliver(cfg(sink, message="  {{ .CommonLabels.none }}\n"), notification("firing"), sink)
    assert params(request)["message"] == "(no details)"


def test_ttl_is_left_out_unless_positive(sink: HttpSink) -> None:
    [request] = deliver(cfg(sink, ttl="0s"), notification("firing"), sink)
    assert "ttl" not in params(request)


def test_keys_from_files_and_templates(sink: HttpSink, tmp_path: Path) -> None:
    (tmp_path / "user").write_text("file-user\n")
    (tmp_path / "token").write_text("file-token\n")
    files = {"user_key_file": str(tmp_path / "user"), "token_file": str(tmp_path / "token")}
    from_files = integration("pushover_configs", {**files, "http_config": through(sink.url)})
    [request] = deliver(from_files, notification("firing"), sink)
    assert (params(request)["user"], params(request)["token"]) == ("file-user", "file-token")
    [templated] = deliver(cfg(sink, user_key="u-{{ .CommonLabels.job }}"), notification("firing"), sink)
    assert params(templated)["user"] == "u-node"


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (400, False), (429, False)])
def test_retries_and_errors_without_the_keys(status: int, retryable: bool, sink: HttpSink) -> None:
    sink.respond_with(status)
    with pytest.raises(NotifyError) as failure:
        deliver(cfg(sink), notification("firing"), sink)
    assert failure.value.retryable is retryable
    assert "app-token" not in str(failure.value) and "user-key" not in str(failure.value)


def test_unreachable_pushover_is_retried_without_the_keys() -> None:
    with HttpSink() as closed:
        unreachable = cfg(closed)
    with pytest.raises(NotifyError, match="the proxy failed") as failure:
        deliver(unreachable, notification("firing"), closed)
    assert failure.value.retryable
    assert "app-token" not in str(failure.value) and "user-key" not in str(failure.value)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"token": "t"}, "one of user_key or user_key_file must be configured"),
        ({"user_key": "u"}, "one of token or token_file must be configured"),
        ({"user_key": "u", "token": "t", "html": True, "monospace": True}, "at most one of monospace & html"),
        ({"user_key": "u", "token": "t", "retry": "30"}, 'time: missing unit in duration "30"'),
        ({"user_key": "u", "token": "t", "expire": "1d"}, 'time: unknown unit "d" in duration "1d"'),
        ({"user_key": "u", "token": "t", "priority": "3"}, 'pushover_configs: priority "3" is not one of'),
        ({"user_key": "u", "token": "t", "retry": "10s"}, "retry 10s is below the 30s"),
        ({"user_key": "u", "token": "t", "priority": "2", "expire": "4h"}, "expire 4h is above the 3h"),
        ({"user_key": "u", "token": "t", "ttl": "500ms"}, "ttl 500ms is below 1s"),
        ({"user_key": "u", "token": "t", "ttl": "-1m"}, "ttl -1m is below 1s"),
        ({"user_key": "u", "token": "t", "sound": ["a"]}, "cannot unmarshal !!seq into string"),
    ],
)
def test_config_refused(settings: dict[str, Any], message: str) -> None:
    assert message in config_error("pushover_configs", settings)


def test_short_retry_is_fine_below_emergency_priority(sink: HttpSink) -> None:
    assert cfg(sink, priority="1", retry="10s", expire="5h").values["retry"] == "10s"
