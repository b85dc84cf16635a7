"""--web.config.file end to end, in the all-in-one process and the split tiers: basic auth on
every route (health and readiness included), TLS with client certificates checked by real curl,
response headers, a rotated certificate picked up without a restart, and files that refuse to
start. amtool and Prometheus against it are in tests/interop/test_web_config_clients.py."""

from __future__ import annotations

import base64
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import requests
import trustme
import yaml

from tests.e2e.conftest import Deployment, alert, start_embedded, start_split, webhook_receiver, write_config
from tests.support.http_sink import HttpSink
from tests.support.processes import ManagedProcess, alerter_command, wait_until
from tests.support.redis_server import RedisServer

PASSWORD = "correct horse"


@dataclass
class Certs:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, as files."""

    dir: Path
    ca: trustme.CA

    @classmethod
    def make(cls, directory: Path) -> Certs:
        directory.mkdir(parents=True, exist_ok=True)
        certs = cls(directory, trustme.CA())
        certs.ca.cert_pem.write_to_path(directory / "ca.pem")
        certs.issue_server("server")
        client = certs.ca.issue_cert("client.example", common_name="alerter-test-client")
        client.cert_chain_pems[0].write_to_path(directory / "client.pem")
        client.private_key_pem.write_to_path(directory / "client.key")
        return certs

    def issue_server(self, common_name: str) -> None:
        cert = self.ca.issue_cert("127.0.0.1", "localhost", common_name=common_name)
        cert.private_key_pem.write_to_path(self.dir / "server.key")
        cert.cert_chain_pems[0].write_to_path(self.dir / "server.pem")

    def file(self, name: str) -> str:
        return str(self.dir / name)


def write_web_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def users() -> dict[str, str]:
    return {"prometheus": bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=6)).decode()}


@pytest.fixture(params=["embedded", "split"])
def start(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Start alerter in the parametrised shape with a web configuration file."""
    started: list[Deployment] = []
    servers: list[RedisServer] = []

    def run(config: Path, web_config: Path, scheme: str = "http", **ready: Any) -> Deployment:
        flag = f"--web.config.file={web_config}"
        if request.param == "embedded":
            dep = start_embedded(config, tmp_path / "data", flag, scheme=scheme, **ready)
        else:
            redis = RedisServer()
            redis.start()
            servers.append(redis)
            dep = start_split(config, redis, 1, 1, flag, scheme=scheme, **ready)
        started.append(dep)
        return dep

    yield run
    for dep in started:
        dep.stop()
    for server in servers:
        server.stop()


def test_basic_auth_guards_every_route_and_headers_are_added(start: Any, tmp_path: Path) -> None:
    web = write_web_config(
        tmp_path / "web.yml",
        {
            "basic_auth_users": users(),
            "http_server_config": {
                "headers": {"X-Frame-Options": "deny", "X-Content-Type-Options": "nosniff"}
            },
        },
    )
    with HttpSink() as sink:
        config = write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)])
        auth = ("prometheus", PASSWORD)
        dep = start(config, web, auth=auth)
        url = dep.web_urls[0]
        # The UI and its files too, and alerter's own read API behind it.
        ui = ("/", "/assets/app.css", "/api/alerter/v1/workers")
        for path in ("/-/healthy", "/-/ready", "/metrics", "/api/v2/status", "/api/v2/alerts", *ui):
            anonymous = requests.get(url + path, timeout=10)
            assert anonymous.status_code == 401, path
            assert anonymous.headers["WWW-Authenticate"] == "Basic"
            assert requests.get(url + path, auth=("prometheus", "wrong"), timeout=10).status_code == 401
            assert requests.get(url + path, auth=("nobody", PASSWORD), timeout=10).status_code == 401
            ok = requests.get(url + path, auth=auth, timeout=10)
            assert ok.status_code == 200, path
            assert (
                ok.headers["X-Frame-Options"] == "deny" and ok.headers["X-Content-Type-Options"] == "nosniff"
            )
        # The ingest fast path is behind the same check, and an authorised alert is notified.
        assert requests.post(f"{url}/api/v2/alerts", json=[alert("Down")], timeout=10).status_code == 401
        assert (
            requests.post(f"{url}/api/v2/alerts", json=[alert("Down")], auth=auth, timeout=10).status_code
            == 200
        )
        [notification] = sink.wait_for(1, timeout=20)
        assert notification.json["commonLabels"]["alertname"] == "Down"
        if dep.worker_urls:  # the worker's /metrics is guarded too
            assert requests.get(dep.worker_urls[0] + "/metrics", timeout=10).status_code == 401
            assert requests.get(dep.worker_urls[0] + "/metrics", auth=auth, timeout=10).status_code == 200


def curl(certs: Certs, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "--silent", "--show-error", "--cacert", certs.file("ca.pem"), *args, url],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_tls_with_client_certificates(start: Any, tmp_path: Path) -> None:
    certs = Certs.make(tmp_path / "tls")
    web = write_web_config(
        tmp_path / "web.yml",
        {
            "tls_server_config": {
                "cert_file": "tls/server.pem",  # relative to the web config's directory
                "key_file": "tls/server.key",
                "client_auth_type": "RequireAndVerifyClientCert",
                "client_ca_file": "tls/ca.pem",
            }
        },
    )
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
    client = (certs.file("client.pem"), certs.file("client.key"))
    dep = start(config, web, scheme="https", verify=certs.file("ca.pem"), cert=client)
    url = dep.web_urls[0]
    assert url.startswith("https://")
    with_cert = curl(certs, f"{url}/-/ready", "--cert", client[0], "--key", client[1])
    assert with_cert.returncode == 0 and with_cert.stdout == "OK", with_cert.stderr
    without_cert = curl(certs, f"{url}/-/ready")
    assert without_cert.returncode != 0, without_cert.stdout  # the handshake refuses it
    plain = subprocess.run(
        ["curl", "--silent", f"{url.replace('https', 'http')}/-/ready"], capture_output=True
    )
    assert plain.returncode != 0 or b"OK" not in plain.stdout


def served_common_name(url: str, ca_file: str) -> str:
    host, port = url.removeprefix("https://").split(":")
    ctx = ssl.create_default_context(cafile=ca_file)
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=host) as tls,
    ):
        subject = dict(item[0] for item in tls.getpeercert()["subject"])
    return str(subject["commonName"])


def test_a_rotated_certificate_is_served_without_a_restart(start: Any, tmp_path: Path) -> None:
    certs = Certs.make(tmp_path / "tls")
    web = write_web_config(
        tmp_path / "web.yml",
        {"tls_server_config": {"cert_file": certs.file("server.pem"), "key_file": certs.file("server.key")}},
    )
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
    dep = start(config, web, scheme="https", verify=certs.file("ca.pem"))
    url = dep.web_urls[0]
    assert served_common_name(url, certs.file("ca.pem")) == "server"
    certs.issue_server("rotated")
    wait_until(
        lambda: served_common_name(url, certs.file("ca.pem")) == "rotated",
        15,
        message="the rotated certificate was not picked up",
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file or directory"),
        ("basic_auth_users:\n  admin: plaintext\n", "is not a bcrypt hash"),
        (
            "tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: /nonexistent/k.pem\n",
            "failed to load",
        ),
        (
            "tls_server_config:\n  cert_file: c\n  key_file: k\n  curve_preferences: [X25519]\n",
            "curve_preferences",
        ),
    ],
)
@pytest.mark.parametrize("command", [[], ["web"], ["worker"]])
def test_a_missing_or_wrong_file_stops_the_start(
    tmp_path: Path, command: list[str], content: str | None, message: str
) -> None:
    web = tmp_path / "web.yml"
    if content is not None:
        web.write_text(content)
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
    redis = ["--redis.url=redis://127.0.0.1:1/0"] if command else []
    proc = ManagedProcess(
        alerter_command(*command, f"--config.file={config}", f"--web.config.file={web}", *redis)
    )
    assert proc.wait(timeout=30) != 0
    assert message in proc.log_text() and str(web) in proc.log_text()


def test_credentials_in_a_header_that_is_not_basic_are_refused(start: Any, tmp_path: Path) -> None:
    web = write_web_config(tmp_path / "web.yml", {"basic_auth_users": users()})
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
    dep = start(config, web, auth=("prometheus", PASSWORD))
    token = base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode()
    bearer = requests.get(
        dep.web_urls[0] + "/-/healthy", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert bearer.status_code == 401
