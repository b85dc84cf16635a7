"""The email integration: one multipart/alternative message per notification over SMTP.

The SMTP conversation follows Alertmanager's email notifier:

- implicit TLS when `force_implicit_tls` says so, or by default on port 465; otherwise a plain
  connection upgraded with STARTTLS when `require_tls` is true, failing when the server does not
  offer STARTTLS. With `require_tls: false` the connection stays plain, as in Alertmanager.
- AUTH only when `auth_username` is set and the server advertises AUTH: the first mechanism the
  server lists that alerter can use (CRAM-MD5 with `auth_secret`, PLAIN with `auth_identity`, or
  LOGIN, with `auth_password` or `auth_password_file`). Like Go's client, PLAIN is refused over
  an unencrypted connection to anything but localhost.
- MAIL FROM the `from` address, RCPT TO every address of `to` (comma-separated), then the
  message: the configured headers (Subject, To and From by default; values are templates),
  Message-Id, optional threading headers, Date, and the text part (only when `text` is set)
  followed by the HTML part.

Retries: network failures are retried; an SMTP reply decides by its class, 4xx (transient) is
retried and 5xx (permanent) is not. Template and address errors are not retried.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import random
import smtplib
import socket
import ssl
import time
from base64 import b64decode, b64encode
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, getaddresses
from typing import Any

from app.config import DEFAULT_EMAIL_HTML, DEFAULT_EMAIL_SUBJECT, EmailConfig
from app.notify.errors import NotifyError
from app.notify.integrations import SendContext, integration
from app.notify.message import Notification
from app.notify.transport import tls_context, value_or_file
from app.template.data import template_data

_LOCALHOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_MAX_AUTH_ROUNDS = 5


class _ServerNameMixin:
    """Verify the server certificate against `tls_server_name` rather than the host dialled.

    smtplib checks TLS against the host it connected to (`_host`); tls_config's server_name
    may name another, as Go's ServerName does. Both implicit TLS and STARTTLS read `_host`.
    """

    tls_server_name: str
    _host: str

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        self._host = self.tls_server_name
        return super()._get_socket(host, port, timeout)


class _SMTP(_ServerNameMixin, smtplib.SMTP):
    pass


class _SMTPS(_ServerNameMixin, smtplib.SMTP_SSL):
    pass


def _password(cfg: EmailConfig) -> str:
    return value_or_file(cfg.auth_password, cfg.auth_password_file, "auth_password_file")


def _secret(cfg: EmailConfig) -> str:
    # Alertmanager trims the password file but uses the secret file's content as is.
    return value_or_file(cfg.auth_secret, cfg.auth_secret_file, "auth_secret_file", strip=False)


def _auth_exchange(
    smtp: smtplib.SMTP, mechanism: str, initial: bytes | None, respond: Callable[[bytes], bytes]
) -> None:
    """Run one SASL exchange; raise SMTPAuthenticationError when the server refuses it.

    smtplib's own `auth` sends ASCII only and picks mechanisms in its own order; alerter needs
    the server's order and UTF-8 credentials, as Alertmanager sends them.
    """
    command = mechanism if initial is None else f"{mechanism} {b64encode(initial).decode()}"
    code, reply = smtp.docmd("AUTH", command)
    rounds = 0
    while code == 334 and rounds < _MAX_AUTH_ROUNDS:
        rounds += 1
        try:
            challenge = b64decode(reply, validate=True)
        except binascii.Error:
            raise NotifyError(
                f"email: the server sent a malformed AUTH {mechanism} challenge", True
            ) from None
        code, reply = smtp.docmd(b64encode(respond(challenge)).decode())
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _cram_md5_response(username: str, secret: str) -> Callable[[bytes], bytes]:
    def respond(challenge: bytes) -> bytes:
        return f"{username} {hmac.new(secret.encode(), challenge, hashlib.md5).hexdigest()}".encode()

    return respond


def _login_response(username: str, password: str) -> Callable[[bytes], bytes]:
    def respond(challenge: bytes) -> bytes:
        prompt = challenge.decode("utf-8", "replace").strip("\x00 :").lower()
        if prompt.startswith("user"):
            return username.encode()
        if prompt.startswith("pass"):
            return password.encode()
        raise NotifyError(f"email: unexpected AUTH LOGIN challenge {prompt!r}", retryable=False)

    return respond


def _authenticate(smtp: smtplib.SMTP, cfg: EmailConfig, encrypted: bool) -> None:
    """AUTH with the first advertised mechanism alerter can use, as Alertmanager chooses."""
    problems: list[str] = []
    user = cfg.auth_username
    for mechanism in smtp.esmtp_features.get("auth", "").upper().split():
        if mechanism == "CRAM-MD5":
            secret = _secret(cfg)
            if not secret:
                problems.append("missing auth_secret for CRAM-MD5")
                continue
            _auth_exchange(smtp, mechanism, None, _cram_md5_response(user, secret))
            return
        if mechanism in ("PLAIN", "LOGIN"):
            password = _password(cfg)
            if not password:
                problems.append(f"missing auth_password for {mechanism}")
                continue
            if mechanism == "LOGIN":
                _auth_exchange(smtp, mechanism, None, _login_response(user, password))
                return
            if not encrypted and cfg.smarthost[0] not in _LOCALHOSTS:
                raise NotifyError(
                    f"email: refusing AUTH PLAIN over an unencrypted connection to {_where(cfg)}; "
                    "enable require_tls or implicit TLS",
                    retryable=False,
                )
            initial = f"{cfg.auth_identity}\x00{user}\x00{password}".encode()
            _auth_exchange(smtp, mechanism, initial, lambda _challenge: b"")
            return
        problems.append(f"unsupported mechanism {mechanism}")
    raise NotifyError(
        f"email: no usable AUTH mechanism on {_where(cfg)} ({'; '.join(problems) or 'none advertised'}); "
        "check auth_password, auth_password_file or auth_secret",
        retryable=True,
    )


def _where(cfg: EmailConfig) -> str:
    host, port = cfg.smarthost
    return f"{host}:{port}"


def _addresses(text: str, field: str) -> list[str]:
    """The addresses of a rendered `to`/`from`; raise a permanent NotifyError if any is invalid."""
    pairs = getaddresses([text])
    addresses = [addr for _name, addr in pairs]
    if not addresses or any("@" not in a or a.startswith("@") or a.endswith("@") for a in addresses):
        raise NotifyError(f"email: {field} {text!r} is not a list of email addresses", retryable=False)
    return addresses


def _one_line(value: str) -> str:
    """A header value on one line: a label value with a newline must not start a new header."""
    return " ".join(value.splitlines())


def _threading_headers(cfg: EmailConfig, n: Notification) -> dict[str, str]:
    """References/In-Reply-To pointing at one made-up root per group (and day), so that mail
    clients thread every notification of a group together, as Alertmanager's threading does."""
    if not cfg.threading.get("enabled"):
        return {}
    key_hash = hashlib.sha256(n.group_key.encode()).hexdigest()[:16]
    day = "" if cfg.threading.get("thread_by_date") == "none" else datetime.now().strftime("%Y-%m-%d")
    root = f"<alert-{key_hash}-{day}@alertmanager>"
    return {"References": root, "In-Reply-To": root}


def compose(cfg: EmailConfig, n: Notification, ctx: SendContext) -> tuple[EmailMessage, str, list[str]]:
    """The message, the envelope sender and the recipients for one notification."""
    data = template_data(n)

    def _render(text: str, data: Any, html: bool, what: str) -> str:
        try:
            return ctx.render(text, data, what, html=html)
        except NotifyError as err:
            raise NotifyError(f"email: {err}", retryable=False) from None

    sender = _addresses(_render(cfg.from_, data, False, "from"), "from")
    if len(sender) != 1:
        raise NotifyError(f"email: from must be exactly one address, got {len(sender)}", retryable=False)
    recipients = _addresses(_render(cfg.to, data, False, "to"), "to")

    msg = EmailMessage(policy=SMTP_POLICY)
    headers = {"Subject": DEFAULT_EMAIL_SUBJECT, "To": cfg.to, "From": cfg.from_, **cfg.headers}
    for name, value in headers.items():
        msg[name] = _one_line(_render(value, data, False, f"{name} header"))
    if "Message-Id" not in headers:
        msg["Message-Id"] = f"<{time.time_ns()}.{random.getrandbits(64)}@{socket.gethostname()}>"
    for name, value in _threading_headers(cfg, n).items():
        msg[name] = value
    msg["Date"] = formatdate(localtime=True)
    msg["MIME-Version"] = "1.0"
    msg.make_alternative()
    bodies = [(cfg.text, "plain", False)] if cfg.text else []
    bodies.append((cfg.html or DEFAULT_EMAIL_HTML, "html", True))  # preferred part last (RFC 2046)
    for template, subtype, html in bodies:
        part = MIMEPart(policy=SMTP_POLICY)
        body = _render(template, data, html, f"{subtype} body")
        part.set_content(body, subtype=subtype, charset="utf-8", cte="quoted-printable")
        msg.attach(part)
    return msg, sender[0], recipients


def _client(cfg: EmailConfig, implicit_tls: bool, timeout: float) -> smtplib.SMTP:
    """An unconnected client: with implicit TLS it wraps the socket in TLS when it connects."""
    kwargs: dict[str, Any] = {"local_hostname": cfg.hello or None, "timeout": timeout}
    if implicit_tls:
        kwargs["context"] = _tls(cfg)
    smtp = _SMTPS(**kwargs) if implicit_tls else _SMTP(**kwargs)
    smtp.tls_server_name = cfg.tls_config.server_name or cfg.smarthost[0]
    return smtp


def _tls(cfg: EmailConfig) -> ssl.SSLContext:
    try:
        return tls_context(cfg.tls_config)
    except ValueError as err:
        raise NotifyError(f"email: {err}", retryable=False) from None


def _deliver(
    smtp: smtplib.SMTP,
    cfg: EmailConfig,
    implicit_tls: bool,
    msg: EmailMessage,
    sender: str,
    recipients: list[str],
) -> None:
    smtp.connect(*cfg.smarthost)
    smtp.ehlo_or_helo_if_needed()
    encrypted = implicit_tls
    if cfg.require_tls and not implicit_tls:
        if not smtp.has_extn("starttls"):
            raise NotifyError(
                f"email: require_tls is true (the default) but {_where(cfg)} does not offer STARTTLS; "
                "use a server that does, implicit TLS (port 465 or force_implicit_tls), or set "
                "require_tls: false",
                retryable=True,
            )
        smtp.starttls(context=_tls(cfg))
        smtp.ehlo()
        encrypted = True
    if cfg.auth_username and smtp.has_extn("auth"):
        _authenticate(smtp, cfg, encrypted)
    code, reply = smtp.mail(sender)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    for rcpt in recipients:
        code, reply = smtp.rcpt(rcpt)
        if code not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({rcpt: (code, reply)})
    code, reply = smtp.data(msg.as_bytes())
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)


# The SMTP step each smtplib error reports, and what to check when the server refuses it for good.
_STEPS: dict[type[smtplib.SMTPException], tuple[str, str]] = {
    smtplib.SMTPAuthenticationError: ("AUTH", "check auth_username and the password or secret"),
    smtplib.SMTPSenderRefused: ("MAIL FROM", "check from"),
    smtplib.SMTPRecipientsRefused: ("RCPT TO", "check to"),
    smtplib.SMTPDataError: ("DATA", "the server refused the message; check its reply"),
}


def _reply_error(err: smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused) -> NotifyError:
    """A NotifyError for an SMTP reply: 4xx is transient and retried, 5xx is permanent."""
    step, hint = _STEPS.get(type(err), ("the server", "check smarthost and the server's reply"))
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        rcpt, (code, reply) = next(iter(err.recipients.items()))
        step = f"{step} <{rcpt}>"
    else:
        code, reply = err.smtp_code, err.smtp_error
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    retryable = 400 <= code < 500
    if retryable:
        hint = "transient, will retry"
    return NotifyError(f"email: {step} refused with {code} {text}; {hint}", retryable=retryable)


@integration("email")
def send_email(cfg: EmailConfig, n: Notification, ctx: SendContext) -> None:
    """Send the notification by email; raise NotifyError saying what failed and whether to retry."""
    msg, sender, recipients = compose(cfg, n, ctx)
    implicit_tls = cfg.force_implicit_tls if cfg.force_implicit_tls is not None else cfg.smarthost[1] == 465
    smtp = _client(cfg, implicit_tls, ctx.timeout)
    try:
        _deliver(smtp, cfg, implicit_tls, msg, sender, recipients)
    except NotifyError:
        raise
    except (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused) as err:
        raise _reply_error(err) from None
    except (OSError, smtplib.SMTPException) as err:
        # Connection refused, timeouts, TLS handshake failures, dropped connections.
        raise NotifyError(
            f"email: talking to {_where(cfg)} failed: {type(err).__name__}: {err}; "
            "check smarthost, the network path and tls_config",
            retryable=True,
        ) from None
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
