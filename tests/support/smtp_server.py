"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records every message it accepts.

    with SmtpServer(require_tls=True, require_auth=True) as smtp:
        ...  # send to ("127.0.0.1", smtp.port), trusting smtp.ca_file
        mail = smtp.wait_for(1, timeout=10)[0]
        assert mail.message["Subject"] == "..."

It offers STARTTLS (certificate from a throwaway trustme CA, valid for 127.0.0.1 and localhost)
unless `starttls=False`, serves TLS from the first byte with `implicit_tls=True` (port-465 style),
and offers AUTH with the `mechanisms` given (PLAIN, LOGIN, CRAM-MD5) for USERNAME/PASSWORD.
`respond_with("451 4.3.0 try later")` makes the next DATA commands get those replies instead of
accepting the message.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import secrets
import ssl
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.processes import wait_for_records

USERNAME = "alerter"
PASSWORD = "pässw0rd secret"
MECHANISMS = frozenset({"PLAIN", "LOGIN", "CRAM-MD5"})


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    tls: bool  # the message came over an encrypted connection
    auth_mechanism: str | None  # None: not authenticated
    auth_login: str | None
    helo: str | None


class _Controller(Controller):
    """aiosmtpd's controller on a port the OS picks (port 0), learned once the server is bound."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _Handler:
    def __init__(self, owner: SmtpServer) -> None:
        self.owner = owner

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self.owner._record(server, session, envelope)

    async def auth_CRAM__MD5(self, server: SMTP, args: list[str]) -> AuthResult:
        """CRAM-MD5 (RFC 2195), which aiosmtpd does not ship: challenge, then `user hexdigest`."""
        challenge = f"<{secrets.token_hex(8)}.{int(time.time())}@sink>".encode()
        answer = await server.challenge_auth(challenge)
        if not isinstance(answer, bytes) or b" " not in answer:
            return AuthResult(success=False, handled=False)
        login, digest = answer.decode().rsplit(" ", 1)
        expected = hmac.new(PASSWORD.encode(), challenge, hashlib.md5).hexdigest()
        ok = login == USERNAME and hmac.compare_digest(digest, expected)
        return AuthResult(success=ok, handled=False, auth_data=("CRAM-MD5", login) if ok else None)


def _authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    creds = cast(LoginPassword, auth_data)
    ok = creds.login == USERNAME.encode() and creds.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=(mechanism, creds.login.decode()) if ok else None)


class SmtpServer:
    def __init__(
        self,
        *,
        starttls: bool = True,
        implicit_tls: bool = False,
        require_tls: bool = False,
        require_auth: bool = False,
        mechanisms: Iterable[str] = ("PLAIN", "LOGIN"),
        hostname: str = "127.0.0.1",
    ) -> None:
        self.host = hostname
        self._mail: list[ReceivedMail] = []
        self._replies: deque[str] = deque()
        self._cond = threading.Condition()
        self._dir = tempfile.TemporaryDirectory(prefix="smtp-server-")
        ca = trustme.CA()
        self.ca_file = str(Path(self._dir.name) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
        offered = set(mechanisms)
        assert offered <= MECHANISMS, offered
        self._controller = _Controller(
            _Handler(self),
            hostname=hostname,
            port=0,
            server_hostname="sink.test",
            ssl_context=server_ctx if implicit_tls else None,
            tls_context=server_ctx if starttls and not implicit_tls else None,
            require_starttls=require_tls and not implicit_tls,
            auth_required=require_auth,
            auth_require_tls=require_tls and not implicit_tls,
            authenticator=_authenticator,
            auth_exclude_mechanism=sorted(MECHANISMS - offered),
        )
        self.port = 0

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        self.port = self._controller.port
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._controller.stop()
        self._dir.cleanup()

    def respond_with(self, *replies: str) -> None:
        """Answer the next DATA commands with these SMTP replies instead of accepting."""
        with self._cond:
            self._replies.extend(replies)

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._cond:
            return list(self._mail)

    def wait_for(self, count: int, timeout: float) -> list[ReceivedMail]:
        """Block until at least `count` messages were accepted; fail the test at the deadline."""
        return wait_for_records(self._cond, self._mail, count, timeout, "messages")

    def _record(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._cond:
            if self._replies:
                return self._replies.popleft()
            raw = envelope.original_content or b""
            mechanism, login = session.auth_data if session.authenticated else (None, None)
            assert server.transport is not None
            self._mail.append(
                ReceivedMail(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=list(envelope.rcpt_tos),
                    message=cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default)),
                    raw=raw,
                    tls=server.transport.get_extra_info("ssl_object") is not None,
                    auth_mechanism=mechanism,
                    auth_login=login,
                    helo=session.host_name,
                )
            )
            self._cond.notify_all()
            return "250 OK: queued"
