"""An email notification end to end: alerter (embedded and split) to a real SMTP server that
offers STARTTLS and requires AUTH, with the subject and recipients Alertmanager would use."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import alert, write_config
from tests.support.smtp_server import PASSWORD, USERNAME, SmtpServer


def test_email_with_starttls_and_auth(deploy, tmp_path: Path) -> None:
    with SmtpServer(starttls=True, require_tls=True, require_auth=True) as smtp:
        receiver = {
            "name": "team-mail",
            "email_configs": [
                {
                    "to": "oncall@example.com, lead@example.com",
                    "from": "alerter@example.com",
                    "smarthost": f"127.0.0.1:{smtp.port}",
                    "auth_username": USERNAME,
                    "auth_password": PASSWORD,
                    "tls_config": {"ca_file": smtp.ca_file},
                }
            ],
        }
        route = {"group_by": ["alertname", "datacenter", "app"]}
        dep = deploy(write_config(tmp_path / "am.yml", [receiver], route=route))
        labels = {"datacenter": "dc1", "app": "shop"}
        dep.post(
            [
                alert("InstanceDown", instance="a:9100", **labels),
                alert("InstanceDown", instance="b:9100", **labels),
            ]
        )

        [mail] = smtp.wait_for(1, timeout=20)
        assert mail.tls, "the message must go over STARTTLS"
        assert mail.auth_login == USERNAME
        assert sorted(mail.rcpt_tos) == ["lead@example.com", "oncall@example.com"]
        assert mail.mail_from == "alerter@example.com"
        msg = mail.message
        # Alertmanager's rule: group label values sorted by name; no parenthesis when every common
        # label is a group label (and a trailing space, as its template leaves one).
        assert msg["Subject"] == "[FIRING:2] InstanceDown shop dc1 "
        assert msg["To"] == "oncall@example.com, lead@example.com"
        assert msg["From"] == "alerter@example.com"
        html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_content()
        assert "a:9100" in html and "b:9100" in html
        assert len(smtp.messages) == 1
