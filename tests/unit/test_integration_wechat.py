"""The WeChat integration against a local WeChat Work API: the token request and the message
field by field, the token kept and renewed, text and markdown messages, secrets from files and the
global section, and how WeChat's errcodes are judged."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from app.config import ConfigError
from app.notify.errors import NotifyError
from app.notify.integrations import wechat
from app.notify.integrations.wechat import send_wechat
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.integration_sends import TEAM_X, integration
from tests.support.integration_sends import TEAM_X_SUBJECTS as SUBJECTS
from tests.support.notifications import EXTERNAL_URL
from tests.support.sendctx import send_ctx

# This file's alert group (tests/support/integration_sends.py).
alert_text, notification = TEAM_X.alert_text, TEAM_X.notification

SECRET = "corp-secret-value"
Answer = tuple[int, bytes, str]


def wechat_api(send_answers: list[dict[str, object]] | None = None) -> Callable[[ReceivedRequest], Answer]:
    """WeChat's answers: a new token at every gettoken, then `send_answers` in turn (errcode 0
    once they are used up)."""
    tokens = itertools.count(1)
    answers = iter(send_answers or [])

    def answer(request: ReceivedRequest) -> Answer:
        if "/gettoken?" in request.path:
            body: dict[str, object] = {"errcode": 0, "errmsg": "ok", "access_token": f"tok-{next(tokens)}"}
        else:
            body = next(answers, {"errcode": 0, "errmsg": "ok"})
        return 200, json.dumps(body).encode(), "application/json"

    return answer


def config(sink: HttpSink, **values: object) -> object:
    base = {
        "api_url": sink.url + "cgi-bin/",
        "api_secret": SECRET,
        "corp_id": "corp-1",
        "send_resolved": True,
    }
    return integration("wechat_configs", {**base, **values})


def expected_message(kind: str) -> str:
    db1, db2 = alert_text("db1:9100"), alert_text("db2:9100")
    lists = {"firing": (db1 + db2, ""), "mixed": (db1, db2), "resolved": ("", db1 + db2)}[kind]
    firing = f"Alerts Firing:\n{lists[0]}" if lists[0] else ""
    resolved = f"Alerts Resolved:\n{lists[1]}" if lists[1] else ""
    url = f"{EXTERNAL_URL}/#/alerts?receiver=team-x"
    return f"{SUBJECTS[kind]}\nInstance down\n{firing}\n{resolved}\nAlertmanagerUrl:\n{url}"


def test_token_then_text_message() -> None:
    with HttpSink(responder=wechat_api()) as sink:
        cfg = config(sink, to_user="@all", agent_id="1000002")
        send_wechat(cfg, notification("firing"), send_ctx(5))
        token, send = sink.wait_for(2, timeout=5)
    assert (token.method, token.path) == ("GET", f"/cgi-bin/gettoken?corpid=corp-1&corpsecret={SECRET}")
    assert (send.method, send.path) == ("POST", "/cgi-bin/message/send?access_token=tok-1")
    assert send.headers["Content-Type"] == "application/json"
    assert send.json == {
        "text": {"content": expected_message("firing")},
        "touser": "@all",
        "agentid": "1000002",
        "safe": "0",
        "msgtype": "text",
        "markdown": {"content": ""},
    }
    assert list(send.json) == ["text", "touser", "agentid", "safe", "msgtype", "markdown"]


@pytest.mark.parametrize("kind", ["mixed", "resolved"])
def test_markdown_message_for_resolved_alerts(kind: str) -> None:
    with HttpSink(responder=wechat_api()) as sink:
        cfg = config(sink, message_type="markdown", to_party="2", to_tag="{{ .CommonLabels.job }}")
        send_wechat(cfg, notification(kind), send_ctx(5))
        _, send = sink.wait_for(2, timeout=5)
    assert send.json == {
        "text": {"content": ""},
        "toparty": "2",
        "totag": "node",
        "safe": "0",
        "msgtype": "markdown",
        "markdown": {"content": expected_message(kind)},
    }


def test_token_is_kept_and_renewed_when_wechat_says_it_expired() -> None:
    expired = {"errcode": 42001, "errmsg": "access_token expired"}
    with HttpSink(responder=wechat_api([{"errcode": 0}, {"errcode": 0}, expired])) as sink:
        cfg = config(sink)
        send_wechat(cfg, notification("firing"), send_ctx(5))
        send_wechat(cfg, notification("firing"), send_ctx(5))  # the kept token: no new gettoken
        with pytest.raises(NotifyError) as err:
            send_wechat(cfg, notification("firing"), send_ctx(5))  # expired: retried, token dropped
        send_wechat(cfg, notification("firing"), send_ctx(5))
        requests = sink.wait_for(6, timeout=5)
    assert err.value.retryable and str(err.value) == "wechat: errcode 42001: access_token expired"
    paths = [r.path.split("?")[0].rsplit("/", 1)[-1] + "?" + r.path.split("?")[1] for r in requests]
    assert paths == [
        f"gettoken?corpid=corp-1&corpsecret={SECRET}",
        "send?access_token=tok-1",
        "send?access_token=tok-1",
        "send?access_token=tok-1",
        f"gettoken?corpid=corp-1&corpsecret={SECRET}",
        "send?access_token=tok-2",
    ]


def test_token_older_than_two_hours_is_renewed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wechat, "TOKEN_TTL", 0.0)  # every kept token is then too old
    with HttpSink(responder=wechat_api()) as sink:
        cfg = config(sink)
        send_wechat(cfg, notification("firing"), send_ctx(5))
        send_wechat(cfg, notification("firing"), send_ctx(5))
        requests = sink.wait_for(4, timeout=5)
    assert [r.path.split("?")[1] for r in requests[1::2]] == ["access_token=tok-1", "access_token=tok-2"]


def test_secret_file_and_global_settings(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    with HttpSink(responder=wechat_api()) as sink:
        cfg = integration(
            "wechat_configs",
            {},
            # The path gets its "/" as Alertmanager adds it; the URL's own query stays on the send.
            {
                "wechat_api_url": sink.url + "wx?region=cn",
                "wechat_api_secret_file": str(secret_file),
                "wechat_api_corp_id": "global-corp",
            },
        )
        send_wechat(cfg, notification("firing"), send_ctx(5))
        token, send = sink.wait_for(2, timeout=5)
    assert token.path == "/wx/gettoken?corpid=global-corp&corpsecret=from-file"
    assert send.path == "/wx/message/send?access_token=tok-1&region=cn"
    # Without send_resolved (off by default), resolved alerts are the pipeline's to leave out.
    assert cfg.send_resolved is False


@pytest.mark.parametrize(
    ("token_answer", "message"),
    [
        ({"errcode": 40001, "errmsg": "invalid credential"},
         "wechat: invalid APISecret for CorpID: corp-1 (errcode 40001: invalid credential)"),
        ("<html>not json</html>", "wechat: invalid APISecret for CorpID: corp-1"),
    ],
)  # fmt: skip
def test_refused_token(token_answer: dict[str, object] | str, message: str) -> None:
    body = token_answer.encode() if isinstance(token_answer, str) else json.dumps(token_answer).encode()
    with HttpSink(responder=lambda _: (200, body, "application/json")) as sink:
        with pytest.raises(NotifyError) as err:
            send_wechat(config(sink), notification("firing"), send_ctx(5))
        [only] = sink.wait_for(1, timeout=5)
    assert "gettoken" in only.path
    assert (err.value.retryable, str(err.value)) == (False, message)
    assert SECRET not in str(err.value)


@pytest.mark.parametrize(
    ("status", "answer", "retryable", "message"),
    [
        (200, {"errcode": 81013, "errmsg": "user & party & tag all invalid"}, False,
         "wechat: errcode 81013: user & party & tag all invalid"),
        (502, {}, True, "wechat: unexpected status code 502"),
        (200, "<html>gateway</html>", True, "wechat: the answer is not JSON: <html>gateway</html>"),
    ],
)  # fmt: skip
def test_refused_message(status: int, answer: dict[str, object] | str, retryable: bool, message: str) -> None:
    body = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
    tokens = wechat_api()

    def api(request: ReceivedRequest) -> Answer:
        return tokens(request) if "/gettoken?" in request.path else (status, body, "application/json")

    with HttpSink(responder=api) as sink, pytest.raises(NotifyError) as err:
        send_wechat(config(sink), notification("firing"), send_ctx(5))
    assert (err.value.retryable, str(err.value)) == (retryable, message)


def test_unreachable_api_is_retried_without_the_secret_in_the_error() -> None:
    with HttpSink() as sink:
        cfg = config(sink)
    with pytest.raises(NotifyError) as err:
        send_wechat(cfg, notification("firing"), send_ctx(2))
    assert err.value.retryable and SECRET not in str(err.value)


@pytest.mark.parametrize(
    ("values", "global_", "message"),
    [
        ({"api_secret": "s", "corp_id": "c", "message_type": "news"}, {},
         'weChat message type "news" does not match valid options ^(text|markdown)$'),
        ({"api_secret": "s", "api_secret_file": "/f", "corp_id": "c"}, {},
         "at most one of api_secret & api_secret_file must be configured"),
        ({"api_secret": "s"}, {}, "no global Wechat CorpID set"),
        ({"corp_id": "c"}, {}, "no global Wechat Api Secret set either inline or in a file"),
        ({"api_secret": "s", "corp_id": "c", "api_url": "qyapi.test/cgi-bin/"}, {}, 'unsupported scheme ""'),
        ({"api_secret": "s", "corp_id": "c", "agent_id": 1000002}, {}, None),
    ],
)  # fmt: skip
def test_config_alertmanager_refuses_is_refused(
    values: dict[str, object], global_: dict[str, object], message: str | None
) -> None:
    if message is None:  # a number where a string goes is read as that string, as yaml.v2 does
        assert integration("wechat_configs", values).values["agent_id"] == "1000002"
        return
    with pytest.raises(ConfigError) as err:
        integration("wechat_configs", values, global_)
    assert message in str(err.value)
