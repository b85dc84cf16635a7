"""--web.config.file parsing: the toolkit's strictness and checks, and what alerter refuses."""

from __future__ import annotations

import ssl
from pathlib import Path

import bcrypt
import pytest
import trustme

from app.webconfig import ServerTLS, WebConfig, WebConfigError, read_web_config
from app.webconfig.model import parse_web_config

HASH = bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode()


def parse(text: str) -> WebConfig:
    return parse_web_config(text, "/etc/alerter/web.yml")


def test_an_empty_file_turns_nothing_on() -> None:
    config = parse_web_config("", "/etc/web.yml")
    assert not config.tls.enabled and not config.users and config.http2 is True


def test_users_headers_and_rate_limit_are_read() -> None:
    config = parse_web_config(
        f"basic_auth_users:\n  admin: '{HASH}'\n"
        "http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n"
        "rate_limit:\n  interval: 1s\n  burst: 5\n",
        "/etc/web.yml",
    )
    assert set(config.users) == {"admin"}
    assert config.headers == {"X-Frame-Options": "deny"}
    assert (config.http2, config.rate_interval, config.rate_burst) == (False, 1.0, 5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nope: 1\n", "field nope not found in web.Config"),
        ("tls_server_config:\n  certfile: x\n", "field certfile not found in tls_server_config"),
        ("basic_auth_users:\n  admin: plain\n", "'admin' is not a bcrypt hash"),
        ("http_server_config:\n  headers:\n    Server: x\n", 'HTTP header "Server" can not be configured'),
        (
            "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
            "invalid value for X-Frame-Options",
        ),
        ("tls_server_config:\n  cert_file: c.pem\n", "missing one of key or key_file"),
        ("tls_server_config:\n  key_file: k.pem\n", "missing one of cert or cert_file"),
        (
            "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_ca_file: ca\n",
            "client CA's have been configured without a Client Auth Policy",
        ),
        ("tls_server_config:\n  client_auth_type: Maybe\n", "invalid ClientAuth: Maybe"),
        ("tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS14\n", "unknown TLS version"),
        (
            "tls_server_config:\n  cert_file: c\n  key_file: k\n  cipher_suites: [RC4]\n",
            "unknown cipher: RC4",
        ),
        # Refused: alerter's TLS stack cannot honour them.
        (
            "tls_server_config:\n  cert_file: c\n  key_file: k\n  curve_preferences: [X25519]\n",
            "curve_preferences cannot be honoured",
        ),
        (
            "tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: RequireAnyClientCert\n",
            "without verifying it",
        ),
    ],
)
def test_what_the_file_may_not_say(text: str, message: str) -> None:
    with pytest.raises(WebConfigError, match=message):
        parse(text)


def test_tls_settings_map_onto_openssl(tmp_path: Path) -> None:
    config = parse_web_config(
        "tls_server_config:\n  cert_file: tls/c.pem\n  key_file: /abs/k.pem\n"
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n"
        "  min_version: TLS13\n"
        "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]\n"
        "  client_allowed_sans: [client.example]\n",
        str(tmp_path / "web.yml"),
    )
    tls = config.tls
    # Relative paths are read from the file's directory, as the toolkit does.
    assert tls.cert_file == str(tmp_path / "tls" / "c.pem") and tls.key_file == "/abs/k.pem"
    assert tls.client_ca_file == str(tmp_path / "ca.pem")
    assert tls.client_auth == ssl.CERT_REQUIRED and tls.min_version == ssl.TLSVersion.TLSv1_3
    assert tls.openssl_ciphers == ("ECDHE-RSA-AES128-GCM-SHA256",)  # TLS 1.3 suites are fixed, as in Go
    assert tls.client_allowed_sans == ("client.example",)


def test_a_missing_file_or_unloadable_certificate_is_named(tmp_path: Path) -> None:
    with pytest.raises(WebConfigError, match=r"--web.config.file .*absent.yml: no such file or directory"):
        read_web_config(str(tmp_path / "absent.yml"))
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(tmp_path / "c.pem")
    ca.cert_pem.write_to_path(tmp_path / "wrong-key.pem")
    config = parse_web_config(
        "tls_server_config:\n  cert_file: c.pem\n  key_file: wrong-key.pem\n", str(tmp_path / "w.yml")
    )
    with pytest.raises(WebConfigError, match="failed to load the certificate"):
        ServerTLS(config.tls)
