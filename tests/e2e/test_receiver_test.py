"""`alerter receiver test NAME` and POST /api/v2/receivers/NAME/test end to end: a real alerter
(command and server) sends the test notification to a real webhook receiver and SMTP server,
prints or answers each integration's verdict, and fails for the integration that is refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import requests

from tests.e2e.conftest import start_embedded, write_config
from tests.support.http_sink import HttpSink
from tests.support.processes import alerter_command
from tests.support.smtp_server import SmtpServer


def config(tmp_path: Path, hook: HttpSink, refusing: HttpSink, smtp: SmtpServer) -> Path:
    email = {
        "to": "oncall@example.com",
        "from": "alerter@example.com",
        "smarthost": f"127.0.0.1:{smtp.port}",
        "require_tls": False,
    }
    receivers = [
        {"name": "team", "webhook_configs": [{"url": hook.url + "team"}], "email_configs": [email]},
        {
            "name": "broken",
            "webhook_configs": [{"url": refusing.url + "secret-path"}],
            "email_configs": [email],
        },
    ]
    return write_config(tmp_path / "am.yml", receivers)


def receiver_test(path: Path, name: str) -> subprocess.CompletedProcess[str]:
    argv = alerter_command(
        "receiver", "test", name, f"--config.file={path}", "--web.external-url=http://am.test"
    )
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_command_prints_each_integrations_answer(tmp_path: Path) -> None:
    with (
        HttpSink() as hook,
        HttpSink(default_status=401) as refusing,
        SmtpServer(starttls=False) as smtp,
    ):
        path = config(tmp_path, hook, refusing, smtp)
        good = receiver_test(path, "team")
        assert (good.returncode, good.stdout) == (0, "webhook[0]: ok\nemail[0]: ok\n"), good.stderr
        [request] = hook.wait_for(1, timeout=10)
        assert request.path == "/team"
        assert request.json["commonLabels"]["alertname"] == "AlerterReceiverTest"
        assert request.json["externalURL"] == "http://am.test"
        [mail] = smtp.wait_for(1, timeout=10)
        assert mail.message["Subject"] == "[FIRING:1] AlerterReceiverTest (alerter team)"

        bad = receiver_test(path, "broken")
        assert bad.returncode == 1
        webhook_line, email_line = bad.stdout.splitlines()
        assert webhook_line.startswith(
            f"webhook[0]: webhook POST to http://127.0.0.1:{refusing.port}/<redacted>"
        )
        assert "answered 401" in webhook_line and "secret-path" not in bad.stdout + bad.stderr
        assert email_line == "email[0]: ok"
        assert len(smtp.wait_for(2, timeout=10)) == 2

        unknown = receiver_test(path, "nobody")
        assert unknown.returncode == 1
        assert "no receiver 'nobody'" in unknown.stderr and "receivers: team, broken" in unknown.stderr


def test_api_answers_each_integrations_verdict(tmp_path: Path) -> None:
    with (
        HttpSink() as hook,
        HttpSink(default_status=500) as refusing,
        SmtpServer(starttls=False) as smtp,
    ):
        dep = start_embedded(config(tmp_path, hook, refusing, smtp), tmp_path / "data")
        try:
            url = dep.web_urls[0]
            good = requests.post(f"{url}/api/v2/receivers/team/test", timeout=30)
            assert good.status_code == 200
            assert good.json() == [
                {"integration": "webhook", "index": 0, "ok": True, "error": None},
                {"integration": "email", "index": 0, "ok": True, "error": None},
            ]
            hook.wait_for(1, timeout=10)
            smtp.wait_for(1, timeout=10)

            bad = requests.post(f"{url}/api/v2/receivers/broken/test", timeout=30).json()
            assert [(a["integration"], a["ok"]) for a in bad] == [("webhook", False), ("email", True)]
            assert "answered 500" in bad[0]["error"] and "secret-path" not in bad[0]["error"]

            missing = requests.post(f"{url}/api/v2/receivers/nobody/test", timeout=30)
            assert missing.status_code == 404
        finally:
            dep.processes[0].stop()
