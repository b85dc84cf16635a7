"""The email integration against a real SMTP server (aiosmtpd): TLS negotiation, AUTH mechanism
choice, envelope and headers, the default subject and bodies, escaping, and retryability."""

from __future__ import annotations

import email.utils
import time
from pathlib import Path
from typing import Any

import pytest

from app.alerts import Alert
from app.config import EmailConfig, TLSConfig
from app.notify.errors import NotifyError
from app.notify.integrations.email import send_email
from app.notify.message import Notification
from tests.support.sendctx import send_ctx
from tests.support.smtp_server import PASSWORD, USERNAME, SmtpServer

NOW = time.time()


def make_alert(ends_in: float = 300.0, annotations: dict[str, str] | None = None, **labels: str) -> Alert:
    return Alert(
        labels=labels,
        annotations=annotations or {"summary": "instance down"},
        starts_at=NOW - 60,
        ends_at=NOW + ends_in,
        generator_url="http://prometheus.test/graph?g0.expr=up",
        fingerprint="fp-" + labels.get("instance", "x"),
    )


def instance_down(*alerts: Alert) -> Notification:
    alerts = alerts or (
        make_alert(alertname="InstanceDown", dc="dc1", job="app1", instance="a:9100"),
        make_alert(alertname="InstanceDown", dc="dc1", job="app1", instance="b:9100"),
    )
    return Notification.build(
        "mail-ops",
        '{}:{alertname="InstanceDown"}',
        {"alertname": "InstanceDown"},
        alerts,
        NOW,
        "http://alerter.test",
    )


def config(server: SmtpServer, **overrides: Any) -> EmailConfig:
    """An email config for the test server as the loader would build it (headers filled)."""
    values: dict[str, Any] = {
        "to": "oncall@example.org, team@example.org",
        "from_": "Alerter <alerter@example.org>",
        "smarthost": ("127.0.0.1", server.port),
        "hello": "alerter.test",
        "tls_config": TLSConfig(ca_file=server.ca_file),
        **overrides,
    }
    return EmailConfig(**values)


def authed(server: SmtpServer, **overrides: Any) -> EmailConfig:
    return config(server, auth_username=USERNAME, auth_password=PASSWORD, **overrides)


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_starttls_and_auth_deliver_to_every_recipient(mechanism: str) -> None:
    with SmtpServer(require_tls=True, require_auth=True, mechanisms=[mechanism]) as server:
        send_email(authed(server, auth_identity=""), instance_down(), send_ctx(10))
        [mail] = server.wait_for(1, timeout=10)
    assert mail.tls
    assert (mail.auth_mechanism, mail.auth_login) == (mechanism, USERNAME)
    assert mail.helo == "alerter.test"
    assert mail.mail_from == "alerter@example.org"
    assert mail.rcpt_tos == ["oncall@example.org", "team@example.org"]
    msg = mail.message
    assert msg["Subject"] == "[FIRING:2] InstanceDown (dc1 app1)"
    assert msg["To"] == "oncall@example.org, team@example.org"
    assert msg["From"] == "Alerter <alerter@example.org>"
    assert msg["MIME-Version"] == "1.0"
    assert msg["Message-Id"].startswith("<") and msg["Message-Id"].endswith(">")
    assert abs(email.utils.parsedate_to_datetime(msg["Date"]).timestamp() - time.time()) < 60
    assert msg.get_content_type() == "multipart/alternative"


def test_cram_md5_is_used_when_offered_and_a_secret_is_set() -> None:
    with SmtpServer(require_tls=True, require_auth=True, mechanisms=["CRAM-MD5", "PLAIN"]) as server:
        send_email(
            config(server, auth_username=USERNAME, auth_secret=PASSWORD), instance_down(), send_ctx(10)
        )
        assert server.wait_for(1, timeout=10)[0].auth_mechanism == "CRAM-MD5"


def test_mechanism_choice_skips_what_cannot_be_used(tmp_path: Path) -> None:
    """Without auth_secret, CRAM-MD5 is skipped for the next mechanism the server lists; the
    password may come from auth_password_file (trimmed)."""
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    with SmtpServer(require_tls=True, require_auth=True, mechanisms=["CRAM-MD5", "PLAIN"]) as server:
        cfg = config(server, auth_username=USERNAME, auth_password_file=str(password_file))
        send_email(cfg, instance_down(), send_ctx(10))
        assert server.wait_for(1, timeout=10)[0].auth_mechanism == "PLAIN"


def test_wrong_password_is_permanent_and_not_leaked() -> None:
    with SmtpServer(require_tls=True, require_auth=True) as server:
        cfg = config(server, auth_username=USERNAME, auth_password="not-the-password")
        with pytest.raises(NotifyError, match="AUTH refused with 535") as failure:
            send_email(cfg, instance_down(), send_ctx(10))
        assert server.messages == []
    assert not failure.value.retryable
    assert "not-the-password" not in str(failure.value)


def test_missing_password_names_the_setting() -> None:
    with (
        SmtpServer(require_tls=True, require_auth=True) as server,
        pytest.raises(NotifyError, match=r"no usable AUTH mechanism.*missing auth_password"),
    ):
        send_email(config(server, auth_username=USERNAME), instance_down(), send_ctx(10))


def test_require_tls_fails_against_a_server_without_starttls() -> None:
    with SmtpServer(starttls=False) as server:
        with pytest.raises(NotifyError, match="does not offer STARTTLS") as failure:
            send_email(config(server), instance_down(), send_ctx(10))
        assert server.messages == []
    assert f"127.0.0.1:{server.port}" in str(failure.value)


def test_require_tls_false_sends_in_clear_text_without_starttls() -> None:
    # As in Alertmanager, require_tls: false means no STARTTLS even if the server offers it.
    with SmtpServer() as server:
        send_email(config(server, require_tls=False), instance_down(), send_ctx(10))
        assert not server.wait_for(1, timeout=10)[0].tls


# aiosmtpd warns because its own TLS check only knows STARTTLS; the connection is TLS throughout.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_with_auth() -> None:
    with SmtpServer(implicit_tls=True, require_auth=True) as server:
        send_email(authed(server, force_implicit_tls=True), instance_down(), send_ctx(10))
        mail = server.wait_for(1, timeout=10)[0]
    assert mail.tls
    assert mail.auth_mechanism == "LOGIN"  # the first one the server lists ("AUTH LOGIN PLAIN")


def test_untrusted_certificate_fails_and_is_retryable() -> None:
    with SmtpServer(require_tls=True) as server:
        with pytest.raises(NotifyError, match=r"CERTIFICATE_VERIFY_FAILED.*check smarthost") as failure:
            send_email(config(server, tls_config=TLSConfig()), instance_down(), send_ctx(10))
        # The certificate is valid for 127.0.0.1 and localhost only: server_name is checked.
        with pytest.raises(NotifyError, match="CERTIFICATE_VERIFY_FAILED"):
            send_email(
                config(server, tls_config=TLSConfig(ca_file=server.ca_file, server_name="mx.test")),
                instance_down(),
                send_ctx(10),
            )
        send_email(
            config(server, tls_config=TLSConfig(ca_file=server.ca_file, server_name="localhost")),
            instance_down(),
            send_ctx(10),
        )
        send_email(
            config(server, tls_config=TLSConfig(insecure_skip_verify=True)), instance_down(), send_ctx(10)
        )
        assert len(server.wait_for(2, timeout=10)) == 2
    assert failure.value.retryable


def test_plain_auth_is_refused_over_clear_text_to_a_remote_host() -> None:
    with SmtpServer(starttls=False, hostname="127.0.0.2", mechanisms=["PLAIN"]) as server:
        cfg = authed(server, require_tls=False, smarthost=("127.0.0.2", server.port))
        with pytest.raises(NotifyError, match="refusing AUTH PLAIN over an unencrypted connection"):
            send_email(cfg, instance_down(), send_ctx(10))
        assert server.messages == []


def test_html_body_escapes_label_values_and_keeps_them_inert() -> None:
    evil = "<script>alert(1)</script>{{ 7*7 }}"
    alert = make_alert(annotations={"summary": evil}, alertname="InstanceDown", payload=evil, instance="a")
    with SmtpServer() as server:
        send_email(config(server, require_tls=False), instance_down(alert), send_ctx(10))
        msg = server.wait_for(1, timeout=10)[0].message
    [html] = [p for p in msg.iter_parts()]
    assert html.get_content_type() == "text/html"
    body = html.get_content()
    assert "<script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;{{ 7*7 }}" in body
    assert "49" not in body
    assert 'href="http://alerter.test/#/alerts?receiver=mail-ops"' in body
    assert 'href="http://prometheus.test/graph?g0.expr=up"' in body
    # The subject is text: the value is shown as is, and still not evaluated.
    assert msg["Subject"] == f"[FIRING:1] InstanceDown (a {evil})"


def test_text_part_only_when_configured_and_before_html() -> None:
    text = (
        "{{ Alerts|length }} alerts for {{ GroupLabels.alertname }}\n"
        "{% for a in Alerts %}- {{ a.Labels.instance }}\n{% endfor %}"
    )
    with SmtpServer() as server:
        send_email(config(server, require_tls=False, text=text), instance_down(), send_ctx(10))
        msg = server.wait_for(1, timeout=10)[0].message
    plain, html = msg.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content().splitlines() == ["2 alerts for InstanceDown", "- a:9100", "- b:9100"]
    assert html.get_content_type() == "text/html"
    assert "[2] Firing" in html.get_content()


def test_custom_headers_are_templates_and_override_defaults() -> None:
    headers = {
        "Subject": "[{{ Status|upper }}] {{ CommonLabels.dc }}",
        "To": "pager@example.org",
        "X-Group": "{{ GroupLabels.alertname }}",
        "Message-Id": "<fixed@alerter.test>",
    }
    with SmtpServer() as server:
        send_email(config(server, require_tls=False, headers=headers), instance_down(), send_ctx(10))
        mail = server.wait_for(1, timeout=10)[0]
    assert mail.message["Subject"] == "[FIRING] dc1"
    assert mail.message["To"] == "pager@example.org"
    assert mail.message["X-Group"] == "InstanceDown"
    assert mail.message["Message-Id"] == "<fixed@alerter.test>"
    # The envelope still goes to `to`, as in Alertmanager.
    assert mail.rcpt_tos == ["oncall@example.org", "team@example.org"]


def test_resolved_notification_subject_and_body() -> None:
    n = instance_down(make_alert(ends_in=-5, alertname="InstanceDown", instance="a:9100"))
    with SmtpServer() as server:
        send_email(config(server, require_tls=False), n, send_ctx(10))
        msg = server.wait_for(1, timeout=10)[0].message
    assert msg["Subject"] == "[RESOLVED] InstanceDown (a:9100)"
    body = next(msg.iter_parts()).get_content()
    assert "[1] Resolved" in body
    assert "Firing" not in body


def test_threading_headers_group_a_thread_per_group() -> None:
    with SmtpServer() as server:
        cfg = config(server, require_tls=False, threading={"enabled": True, "thread_by_date": "none"})
        send_email(cfg, instance_down(), send_ctx(10))
        send_email(cfg, instance_down(), send_ctx(10))
        first, second = (m.message for m in server.wait_for(2, timeout=10))
    assert first["References"] == first["In-Reply-To"] == second["References"]
    assert first["References"].startswith("<alert-") and first["References"].endswith("-@alertmanager>")
    assert first["Message-Id"] != second["Message-Id"]


def test_transient_smtp_replies_are_retried_permanent_ones_are_not() -> None:
    with SmtpServer() as server:
        server.respond_with("451 4.3.0 Mailbox busy, try later", "554 5.7.1 Message rejected")
        cfg = config(server, require_tls=False)
        with pytest.raises(NotifyError, match="DATA refused with 451") as transient:
            send_email(cfg, instance_down(), send_ctx(10))
        with pytest.raises(NotifyError, match="DATA refused with 554") as permanent:
            send_email(cfg, instance_down(), send_ctx(10))
        send_email(cfg, instance_down(), send_ctx(10))
        assert len(server.wait_for(1, timeout=10)) == 1
    assert transient.value.retryable
    assert not permanent.value.retryable


def test_unreachable_server_is_retryable() -> None:
    with SmtpServer() as server:
        cfg = config(server)
    with pytest.raises(NotifyError, match=r"failed.*check smarthost") as failure:
        send_email(cfg, instance_down(), send_ctx(5))
    assert failure.value.retryable


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"to": "not an address"}, "to 'not an address' is not a list of email addresses"),
        ({"from_": "a@example.org, b@example.org"}, "from must be exactly one address"),
        ({"headers": {"Subject": "{{ .Status | upper }}"}}, 'function "upper" not defined'),
    ],
)
def test_config_problems_are_permanent_and_send_nothing(overrides: dict[str, Any], problem: str) -> None:
    with SmtpServer() as server:
        with pytest.raises(NotifyError, match=problem) as failure:
            send_email(config(server, require_tls=False, **overrides), instance_down(), send_ctx(10))
        assert server.messages == []
    assert not failure.value.retryable
