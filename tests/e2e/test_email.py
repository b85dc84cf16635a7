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


def test_go_templates_from_the_config_and_its_template_files(deploy, tmp_path: Path) -> None:
    """Alertmanager's template syntax end to end: a `templates:` file with a define, a Go subject
    header calling it, a Go HTML body (values escaped), and the default subject beside them."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "mail.tmpl").write_text(
        '{{ define "my.extra" }}({{ len .Alerts.Firing }} firing in {{ .CommonLabels.datacenter }})'
        "{{ end }}\n"
    )
    html = "<ul>\n{{- range .Alerts.Firing }}\n<li>{{ .Annotations.summary }}</li>\n{{- end }}\n</ul>"
    with SmtpServer() as smtp:
        common = {"from": "alerter@example.com", "smarthost": f"127.0.0.1:{smtp.port}", "require_tls": False}
        subject = '[{{ .Status | toUpper }}] {{ .GroupLabels.app }} {{ template "my.extra" . }}'
        receiver = {
            "name": "team-mail",
            "email_configs": [
                {"to": "custom@example.com", "headers": {"Subject": subject}, "html": html, **common},
                {"to": "defaults@example.com", **common},
            ],
        }
        extra = {"templates": ["templates/*.tmpl"]}
        route = {"group_by": ["alertname", "app"]}
        dep = deploy(write_config(tmp_path / "am.yml", [receiver], route=route, extra=extra))
        alerts = [alert("DiskFull", instance=i, datacenter="dc1", app="shop") for i in ("b:9100", "a:9100")]
        alerts[0]["annotations"]["summary"] = "disk <full> on b"
        dep.post(alerts)

        mails = {m.rcpt_tos[0]: m.message for m in smtp.wait_for(2, timeout=20)}
        custom, default = mails["custom@example.com"], mails["defaults@example.com"]
        assert custom["Subject"] == "[FIRING] shop (2 firing in dc1)"
        body = next(p for p in custom.walk() if p.get_content_type() == "text/html").get_content()
        # The template's output, with SMTP's CRLF line ends and the line end MIME text parts end with.
        assert body.replace("\r\n", "\n") == (
            "<ul>\n<li>DiskFull on a:9100</li>\n<li>disk &lt;full&gt; on b</li>\n</ul>\n"
        )
        # Alertmanager's default subject (alerter's Jinja2 default) is unaffected by the template file.
        assert default["Subject"] == "[FIRING:2] DiskFull shop (dc1)"
        assert "disk &lt;full&gt; on b" in default.get_body(("html",)).get_content()
        assert len(smtp.messages) == 2
