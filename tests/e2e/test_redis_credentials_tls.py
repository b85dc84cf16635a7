"""Passwords, ACL users and TLS between alerter and real redis-server and redis-sentinel processes,
on every way of naming Redis: --redis.url, REDIS_URL, --cluster.peer to a Redis server and to
Sentinels with passwords of their own (docs/cluster-flags.md, "Credentials and TLS").

The first tests build alerter's client in this process (backend.connect from the parsed flags,
as every alerter process does) and use it; the last runs a whole split deployment over an
authenticated, mutually authenticated TLS Redis and checks that no password leaks into its
logs, /api/v2/status or /metrics.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from app import backend
from app.cli import parse_settings
from tests.e2e.conftest import alert, start_split, webhook_receiver, write_config
from tests.support.http_sink import HttpSink
from tests.support.processes import alerter_command
from tests.support.redis_server import RedisServer, SentinelServer, TLSFiles

MASTER_PASSWORD = "master-pw-7Qx"
SENTINEL_PASSWORD = "sentinel-pw-4Zk"
ACL_PASSWORD = "acl-pw-9Vm"
ADMIN_PASSWORD = "admin-pw-2Lp"
SECRETS = (MASTER_PASSWORD, SENTINEL_PASSWORD, ACL_PASSWORD, ADMIN_PASSWORD)

# An ACL user for alerter (its keys, RQ's, Pub/Sub, no admin commands: what docs/cluster-flags.md
# suggests), and an admin for the test's own checks.
ACL_USERS = [
    "--user", "admin", "on", f">{ADMIN_PASSWORD}", "~*", "&*", "+@all",
    "--user", "alerter", "on", f">{ACL_PASSWORD}", "~alerter:*", "~rq:*", "&*", "+@all", "-@admin",
]  # fmt: skip
# Without a password for the default user, it is switched off: a connection that is not logged
# in as "alerter" (or "admin") can do nothing.
DEFAULT_USER_OFF = ["--user", "default", "off"]


@pytest.fixture(autouse=True)
def _no_redis_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "REDIS_USERNAME", "REDIS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return TLSFiles.create(tmp_path_factory.mktemp("tls"))


def connect(*argv: str) -> redis.Redis:
    """alerter's client for these flags (and the test's environment)."""
    return backend.connect(parse_settings([*argv, "--cluster.settle-timeout=10s"]))


def round_trip(client: redis.Redis) -> None:
    """A write and a read through the client: the credentials and TLS were accepted."""
    client.set("alerter:test", "ok")
    assert client.get("alerter:test") == b"ok"


def refused(*argv: str) -> str:
    """The start-stopping message for these flags; it must come at once (not after the settle
    timeout) and name no password."""
    began = time.monotonic()
    with pytest.raises(ConnectionError) as refusal:
        connect(*argv)
    message = str(refusal.value)
    assert time.monotonic() - began < 5, f"refused only after {time.monotonic() - began:.1f}s: {message}"
    assert not any(secret in message for secret in SECRETS), message
    return message


def acl_server(**kwargs: Any) -> RedisServer:
    """A server with ACL_USERS, checked by the test as "admin"."""
    default_user = [] if "password" in kwargs else DEFAULT_USER_OFF
    server = RedisServer(extra_args=[*ACL_USERS, *default_user], **kwargs)
    server.client_kwargs |= {"username": "admin", "password": ADMIN_PASSWORD}
    return server


def test_a_password_on_every_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """requirepass: the URL's password (--redis.url, REDIS_URL, --cluster.peer), or REDIS_PASSWORD
    for a URL without one. Regression: a --cluster.peer URL's password was dropped, and the
    start failed with "no --cluster.peer answered"."""
    with RedisServer(password=MASTER_PASSWORD) as server:
        address = f"127.0.0.1:{server.port}"
        round_trip(connect(f"--redis.url=redis://:{MASTER_PASSWORD}@{address}/0"))
        round_trip(connect(f"--cluster.peer=redis://:{MASTER_PASSWORD}@{address}/0"))
        monkeypatch.setenv("REDIS_URL", f"redis://:{MASTER_PASSWORD}@{address}/0")
        round_trip(connect())
        monkeypatch.setenv("REDIS_URL", f"redis://{address}/0")
        monkeypatch.setenv("REDIS_PASSWORD", MASTER_PASSWORD)
        round_trip(connect())
        round_trip(connect(f"--cluster.peer={address}"))

        monkeypatch.delenv("REDIS_URL")
        monkeypatch.setenv("REDIS_PASSWORD", "not-it")
        assert f"--cluster.peer {address} refused alerter" in refused(f"--cluster.peer={address}")
        assert f"--redis.url {address} refused alerter" in refused(f"--redis.url=redis://{address}/0")
        monkeypatch.delenv("REDIS_PASSWORD")
        assert f"--cluster.peer {address} refused alerter (" in refused(f"--cluster.peer={address}")


def test_an_acl_user_on_every_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ACL user (the default user disabled): the URL's user, or REDIS_USERNAME."""
    with acl_server() as server:
        address = f"127.0.0.1:{server.port}"
        round_trip(connect(f"--redis.url=redis://alerter:{ACL_PASSWORD}@{address}/0"))
        round_trip(connect(f"--cluster.peer=redis://alerter:{ACL_PASSWORD}@{address}"))
        monkeypatch.setenv("REDIS_USERNAME", "alerter")
        monkeypatch.setenv("REDIS_PASSWORD", ACL_PASSWORD)
        round_trip(connect(f"--cluster.peer={address}"))
        monkeypatch.setenv("REDIS_URL", f"redis://{address}/0")
        round_trip(connect())
        with server.client() as admin:
            assert admin.get("alerter:test") == b"ok"
        monkeypatch.setenv("REDIS_USERNAME", "nobody")
        assert "invalid username-password pair" in refused()


def test_tls_verifies_the_server(tmp_path: Path, tls: TLSFiles) -> None:
    """--cluster.tls-config's CA verifies the server on every path, whatever the scheme (redis://
    and host:port included); rediss:// alone verifies against the system's trust store, which
    does not know this CA; a plain-text client gets nothing from a TLS port."""
    tls_config = tls.write_tls_config(tmp_path / "tls.yml", client_cert=False)
    with RedisServer(tls=tls) as server:
        address = f"127.0.0.1:{server.port}"
        flag = f"--cluster.tls-config={tls_config}"
        round_trip(connect(f"--redis.url=rediss://{address}/0", flag))
        round_trip(connect(f"--redis.url=redis://{address}/0", flag))
        round_trip(connect(f"--cluster.peer={address}", flag))
        round_trip(connect(f"--cluster.peer=rediss://{address}", flag))

        message = refused(f"--redis.url=rediss://{address}/0")
        assert f"--redis.url {address}: its TLS certificate was not accepted (" in message
        assert "certificate was not accepted" in refused(f"--cluster.peer=rediss://{address}")
        plain = connect(f"--redis.url=redis://{address}/0")
        with pytest.raises(redis.ConnectionError):
            plain.ping()


def test_tls_checks_the_host_name_or_server_name(tmp_path: Path) -> None:
    """A certificate for redis.test only: refused when connecting to 127.0.0.1, accepted with
    server_name: redis.test."""
    named = TLSFiles.create(tmp_path / "named", server_names=["redis.test"])
    server = RedisServer(tls=named)
    server.client_kwargs["ssl_check_hostname"] = False  # the test's own readiness pings
    with server:
        address = f"127.0.0.1:{server.port}"
        mismatch = named.write_tls_config(tmp_path / "plain.yml", client_cert=False)
        message = refused(f"--cluster.peer={address}", f"--cluster.tls-config={mismatch}")
        assert "Hostname mismatch" in message or "IP address mismatch" in message
        server_name = named.write_tls_config(
            tmp_path / "named.yml", client_cert=False, server_name="redis.test"
        )
        round_trip(connect(f"--cluster.peer={address}", f"--cluster.tls-config={server_name}"))


def test_client_certificates(tmp_path: Path, tls: TLSFiles) -> None:
    """--tls-auth-clients yes: the tls_client_config certificate is presented; without one the
    server ends the handshake."""
    with RedisServer(tls=tls, tls_auth_clients=True, password=MASTER_PASSWORD) as server:
        url = f"--redis.url=rediss://:{MASTER_PASSWORD}@127.0.0.1:{server.port}/0"
        with_cert = tls.write_tls_config(tmp_path / "cert.yml")
        round_trip(connect(url, f"--cluster.tls-config={with_cert}"))
        without = tls.write_tls_config(tmp_path / "nocert.yml", client_cert=False)
        client = connect(url, f"--cluster.tls-config={without}")
        with pytest.raises(redis.ConnectionError):
            client.ping()


@pytest.fixture
def sentinels() -> Iterator[tuple[RedisServer, dict[str, SentinelServer]]]:
    """A master with a password (its default user's, which the Sentinels use) and an ACL user,
    watched by three Sentinels: one with its own password, one without, one sharing the master's."""
    master = acl_server(password=MASTER_PASSWORD).start()
    watching: dict[str, SentinelServer] = {}
    try:
        for name, password in (("own", SENTINEL_PASSWORD), ("none", None), ("shared", MASTER_PASSWORD)):
            watching[name] = SentinelServer(
                "alerter", master.port, quorum=1, password=password, master_auth=("default", MASTER_PASSWORD)
            ).start()
        yield master, watching
    finally:
        for sentinel in watching.values():
            sentinel.stop()
        master.stop()


def test_sentinels_with_passwords_of_their_own(
    sentinels: tuple[RedisServer, dict[str, SentinelServer]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each Sentinel is asked with its URL's credentials; the master gets REDIS_USERNAME/
    REDIS_PASSWORD, else the Sentinels' (one password for both is a common setup)."""
    master, watching = sentinels
    own, none, shared = (f"127.0.0.1:{watching[k].port}" for k in ("own", "none", "shared"))

    round_trip(connect(f"--cluster.peer=redis://:{MASTER_PASSWORD}@{shared}"))
    message = refused(f"--cluster.peer=redis://:{SENTINEL_PASSWORD}@{own}")
    assert "the master the Sentinels name for 'alerter' refused alerter" in message
    assert "set REDIS_USERNAME/REDIS_PASSWORD to the master's" in message
    assert f"--cluster.peer {own} refused alerter (" in refused(f"--cluster.peer={own}")
    assert f"--cluster.peer {own} refused alerter" in refused(f"--cluster.peer=redis://:wrong@{own}")

    monkeypatch.setenv("REDIS_PASSWORD", MASTER_PASSWORD)
    round_trip(connect(f"--cluster.peer={none}"))
    round_trip(connect(f"--cluster.peer=redis://:{SENTINEL_PASSWORD}@{own}"))
    # Per-Sentinel credentials: each peer its own, the first one down.
    watching["none"].stop()
    round_trip(
        connect(
            f"--cluster.peer={none}",
            f"--cluster.peer=redis://:{SENTINEL_PASSWORD}@{own}",
            f"--cluster.peer=redis://:{MASTER_PASSWORD}@{shared}",
        )
    )
    monkeypatch.setenv("REDIS_USERNAME", "alerter")
    monkeypatch.setenv("REDIS_PASSWORD", ACL_PASSWORD)
    client = connect(f"--cluster.peer=redis://:{SENTINEL_PASSWORD}@{own}")
    round_trip(client)
    assert client.acl_whoami() == "alerter"
    with master.client() as admin:
        assert admin.get("alerter:test") == b"ok"


def tls_sentinel(master: RedisServer, tls: TLSFiles) -> SentinelServer:
    """A TLS Sentinel with SENTINEL_PASSWORD watching `master` (password MASTER_PASSWORD)."""
    return SentinelServer(
        "alerter",
        master.port,
        quorum=1,
        password=SENTINEL_PASSWORD,
        master_auth=("default", MASTER_PASSWORD),
        tls=tls,
    )


def test_a_refused_password_stops_alerter_at_once_naming_the_peer(
    sentinels: tuple[RedisServer, dict[str, SentinelServer]], tmp_path: Path
) -> None:
    """The issue's case as an operator sees it: `alerter worker` with a wrong Sentinel password
    exits at once with the peer and the reason (not "no --cluster.peer answered" after the
    settle timeout), and an invalid TLS file is refused naming it; no password is printed."""
    _, watching = sentinels
    peer = f"--cluster.peer=redis://:{ADMIN_PASSWORD}@127.0.0.1:{watching['own'].port}"
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")])
    tls_file = tmp_path / "cluster-tls.yml"
    tls_file.write_text("tls_client_config:\n  ca_file: ca.pem\n  verify: true\n")
    for flags, code, expected in (
        ([peer], 1, f"--cluster.peer 127.0.0.1:{watching['own'].port} refused alerter (invalid username"),
        ([peer, f"--cluster.tls-config={tls_file}"], 2, f"--cluster.tls-config {tls_file}: yaml: unmarshal"),
    ):
        began = time.monotonic()
        run = subprocess.run(
            alerter_command("worker", f"--config.file={config}", *flags),
            capture_output=True,
            text=True,
            timeout=60,
        )
        output = run.stdout + run.stderr
        assert (run.returncode, expected in output) == (code, True), output
        assert time.monotonic() - began < 20 and ADMIN_PASSWORD not in output


def test_sentinels_over_tls(tmp_path: Path, tls: TLSFiles, monkeypatch: pytest.MonkeyPatch) -> None:
    """rediss:// Sentinels with a password, a TLS master asking for client certificates: the
    tls_client_config applies to the Sentinels and to the master they name."""
    with (
        RedisServer(tls=tls, tls_auth_clients=True, password=MASTER_PASSWORD) as master,
        tls_sentinel(master, tls) as sentinel,
    ):
        peer = f"--cluster.peer=rediss://:{SENTINEL_PASSWORD}@127.0.0.1:{sentinel.port}"
        monkeypatch.setenv("REDIS_PASSWORD", MASTER_PASSWORD)
        round_trip(connect(peer, f"--cluster.tls-config={tls.write_tls_config(tmp_path / 'tls.yml')}"))
        assert "certificate was not accepted" in refused(peer)


@pytest.mark.parametrize("path", ["redis-url", "sentinel"])
def test_a_split_deployment_notifies_over_authenticated_tls_and_shows_no_password(
    path: str, tmp_path: Path, tls: TLSFiles
) -> None:
    """Web and worker processes on a TLS Redis that asks for client certificates and an ACL
    user: through REDIS_URL with --cluster.tls-config (regression: every request, /-/ready too,
    was a 500 from redis-py's "unexpected keyword argument 'ssl'"), and through a TLS Sentinel
    with its own password. The alert is notified; no password appears in the logs, the status
    or the metrics."""
    tls_config = tls.write_tls_config(tmp_path / "cluster-tls.yml")
    master = acl_server(tls=tls, tls_auth_clients=True, password=MASTER_PASSWORD)
    sentinel: SentinelServer | None = None
    with master, HttpSink() as sink:
        if path == "redis-url":
            flags = [f"--cluster.tls-config={tls_config}"]
            env = {"REDIS_URL": f"rediss://alerter:{ACL_PASSWORD}@127.0.0.1:{master.port}/0"}
        else:
            sentinel = tls_sentinel(master, tls).start()
            flags = [
                f"--cluster.peer=rediss://:{SENTINEL_PASSWORD}@127.0.0.1:{sentinel.port}",
                "--cluster.label=alerter",
                f"--cluster.tls-config={tls_config}",
            ]
            env = {"REDIS_USERNAME": "alerter", "REDIS_PASSWORD": ACL_PASSWORD}
        config = write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)])
        dep = start_split(config, flags, 1, 1, env=env)
        try:
            dep.post([alert("OverTLS", instance="a")])
            notification = sink.wait_for(1, 30)[0]
            assert notification.json["alerts"][0]["labels"]["alertname"] == "OverTLS"
            # alerter's connections are the ACL user's (the Sentinel monitors as "default").
            with master.client() as admin:
                users = {c["user"] for c in admin.client_list()}
            assert "alerter" in users and users <= {"alerter", "admin", "default" if sentinel else ""}, users
            shown = [
                requests.get(f"{dep.web_urls[0]}/-/ready", timeout=10),
                requests.get(f"{dep.web_urls[0]}/api/v2/status", timeout=10),
                requests.get(f"{dep.web_urls[0]}/metrics", timeout=10),
                requests.get(f"{dep.worker_urls[0]}/metrics", timeout=10),
            ]
            assert [r.status_code for r in shown] == [200] * 4
            for text in [*(r.text for r in shown), dep.logs()]:
                assert not any(secret in text for secret in SECRETS)
            assert "no permissions" not in dep.logs().lower(), dep.logs()
        finally:
            dep.stop()
            if sentinel is not None:
                sentinel.stop()
