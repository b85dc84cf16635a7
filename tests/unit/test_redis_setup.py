"""How the flags and environment become redis-py clients: addresses, credentials, TLS, the
--cluster.tls-config file, and the refusals that name the flag without the password.

Nothing here connects; tests/e2e/test_redis_credentials_tls.py runs the same paths against real
redis-server and redis-sentinel processes with passwords, ACL users and TLS.
"""

from __future__ import annotations

import inspect
import ssl
from pathlib import Path

import pytest
import trustme
import yaml
from redis.connection import Connection, ConnectionPool, SSLConnection
from redis.exceptions import MaxConnectionsError

from app import backend
from app.backend import RedisAddress, parse_address, redacted, redis_setup
from app.cli import parse_settings
from app.config import ConfigError
from app.config.clustertls import load_cluster_tls
from app.settings import Settings

SECRET_WORD = "hunter2"


@pytest.fixture(autouse=True)
def _no_redis_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "REDIS_USERNAME", "REDIS_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


def write_tls_config(path: Path, document: object) -> Path:
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


@pytest.mark.parametrize(
    ("text", "flag", "expected"),
    [
        ("r1:6380", "--cluster.peer", RedisAddress("", "r1", 6380)),
        ("redis://r1/3", "--cluster.peer", RedisAddress("redis", "r1", 6379, 3)),
        # redis-py's rules: an empty user is none; user info is percent-decoded.
        ("redis://:pa%40ss@r1:6379/0", "--cluster.peer", RedisAddress("redis", "r1", password="pa@ss")),
        (
            "rediss://alerter:pw@[::1]:6380/1",
            "--redis.url",
            RedisAddress("rediss", "::1", 6380, 1, username="alerter", password="pw"),
        ),
        ("unix:///run/redis.sock?db=2", "--redis.url", RedisAddress("unix", path="/run/redis.sock", db=2)),
    ],
)
def test_addresses_with_their_credentials(text: str, flag: str, expected: RedisAddress) -> None:
    address = parse_address(text, flag)
    assert address == expected
    assert (address.username, address.password) == (expected.username, expected.password)


@pytest.mark.parametrize(
    ("text", "flag", "why"),
    [
        (f"redis://:{SECRET_WORD}@r1:notaport/0", "--cluster.peer", "port is not a number"),
        (f"redis://u:{SECRET_WORD}@r1:6379/zero", "--cluster.peer", "database number"),
        (f"rediss://:{SECRET_WORD}@r1:6379/0?ssl_cert_reqs=none", "--redis.url", "URL options"),
        (f"redis://:{SECRET_WORD}@r1/0?socket_timeout=1", "--cluster.peer", "URL options"),
        (f"unix://:{SECRET_WORD}@/run/redis.sock", "--cluster.peer", "want host:port"),
        (f"http://:{SECRET_WORD}@r1:6379", "--redis.url", "unix://"),
    ],
)
def test_a_bad_address_is_refused_naming_the_flag_and_never_the_password(
    text: str, flag: str, why: str
) -> None:
    with pytest.raises(ValueError) as refused:
        parse_address(text, flag)
    message = str(refused.value)
    assert message.startswith(flag) and why in message
    assert SECRET_WORD not in message and "<secret>" in message


def test_redacted_hides_only_the_password() -> None:
    assert redacted("redis://alerter:pw@r1:6379/0") == "redis://alerter:<secret>@r1:6379/0"
    assert redacted("rediss://:p@ss:w@rd@r1/0?x=@") == "rediss://:<secret>@r1/0?x=@"
    assert redacted("redis://alerter@r1:6379") == "redis://alerter@r1:6379"
    assert redacted("r1:6379") == "r1:6379"


def test_flags_and_environment_refused_at_start_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """parse_settings checks Redis before anything starts, and Settings' repr (should anything
    ever log it) leaves out every credential."""
    monkeypatch.setenv("REDIS_PASSWORD", "from-env")
    with pytest.raises(SystemExit) as exit_info:
        parse_settings([f"--redis.url=redis://:{SECRET_WORD}@r1:6379/0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "REDIS_USERNAME/REDIS_PASSWORD are set too" in err and SECRET_WORD not in err
    monkeypatch.delenv("REDIS_PASSWORD")
    settings = parse_settings([f"--cluster.peer=redis://:{SECRET_WORD}@r1:26379"])
    assert SECRET_WORD not in repr(settings)


def test_credentials_of_the_server_holding_the_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """A URL's own credentials, else REDIS_USERNAME/REDIS_PASSWORD; both for one server is refused."""
    setup = redis_setup(parse_settings(["--redis.url=redis://alerter:pw@r1:6379/0"]))
    assert setup.server_credentials(setup.addresses[0]) == {"username": "alerter", "password": "pw"}
    monkeypatch.setenv("REDIS_URL", "redis://r1:6379/0")
    monkeypatch.setenv("REDIS_USERNAME", "alerter")
    monkeypatch.setenv("REDIS_PASSWORD", "pw")
    setup = redis_setup(parse_settings([]))
    assert setup.server_credentials(setup.addresses[0]) == {"username": "alerter", "password": "pw"}


def test_the_master_behind_sentinels_gets_the_environments_credentials_else_the_sentinels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    peers = ["--cluster.peer=redis://:s@s1:26379", "--cluster.peer=redis://:s@s2:26379"]
    assert redis_setup(parse_settings(peers)).master_credentials() == {"username": None, "password": "s"}
    differing = [*peers, "--cluster.peer=redis://:other@s3:26379"]
    with pytest.raises(ConfigError, match="set REDIS_USERNAME and REDIS_PASSWORD"):
        redis_setup(parse_settings(differing)).master_credentials()
    monkeypatch.setenv("REDIS_PASSWORD", "m")
    setup = redis_setup(parse_settings(differing))
    assert setup.master_credentials() == {"username": None, "password": "m"}


def test_clients_carry_credentials_tls_context_and_server_name(tmp_path: Path, ca_file: Path) -> None:
    """The URL/flag → redis-py mapping: one connection pool per client, with TLS through
    alerter's context (a configured CA replaces the trust store, server_name names the host)."""
    tls_file = write_tls_config(
        tmp_path / "tls.yml",
        {"tls_client_config": {"ca_file": str(ca_file), "server_name": "redis.test", "min_version": "TLS13"}},
    )
    setup = redis_setup(
        parse_settings(["--redis.url=redis://alerter:pw@r1:6380/2", f"--cluster.tls-config={tls_file}"])
    )
    client = setup.client(
        setup.addresses[0], {"socket_timeout": 3}, setup.server_credentials(setup.addresses[0])
    )
    pool = client.connection_pool
    assert issubclass(pool.connection_class, SSLConnection)
    kwargs = pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("r1", 6380, 2)
    assert (kwargs["username"], kwargs["password"], kwargs["socket_timeout"]) == ("alerter", "pw", 3)
    context = kwargs["tls_context"]
    assert kwargs["tls_server_name"] == "redis.test"
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
    # The configured CA alone, as Go's client: not added to the system's store.
    assert len(context.get_ca_certs()) == 1

    plain = redis_setup(parse_settings(["--cluster.peer=r1:6379"]))
    assert plain.tls is None
    assert plain.client(plain.addresses[0], {}, {}).connection_pool.connection_class is Connection


def test_sentinels_are_asked_with_their_own_credentials_and_the_master_over_the_same_tls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_USERNAME", "alerter")
    monkeypatch.setenv("REDIS_PASSWORD", "m")
    setup = redis_setup(
        parse_settings(["--cluster.peer=rediss://:s1@s1:26379/1", "--cluster.peer=rediss://s2:26379/1"])
    )
    master = setup.sentinel_master("alerter", {"socket_timeout": 3})
    pool = master.connection_pool
    assert issubclass(pool.connection_class, SSLConnection)
    assert pool.connection_kwargs["tls_context"] is setup.tls
    assert (pool.connection_kwargs["username"], pool.connection_kwargs["password"]) == ("alerter", "m")
    assert pool.connection_kwargs["db"] == 1
    sentinels = pool.sentinel_manager.sentinels
    asked = [
        (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["password"])
        for s in sentinels
    ]
    assert asked == [("s1", "s1"), ("s2", None)]


def test_rediss_without_a_tls_file_verifies_against_the_system_store() -> None:
    setup = redis_setup(parse_settings(["--redis.url=rediss://r1:6380/0"]))
    assert setup.tls is not None
    assert setup.tls.verify_mode == ssl.CERT_REQUIRED and setup.tls.check_hostname


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["--cluster.peer=rediss://r1:6379", "--cluster.peer=r2:6379"], "some peers are rediss://"),
        (["--redis.url=unix:///run/redis.sock", "--cluster.tls-config=tls.yml"], "not on a unix:// socket"),
    ],
)
def test_tls_that_cannot_apply_to_every_connection_is_refused(argv: list[str], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        redis_setup(_settings(argv))


def _settings(argv: list[str]) -> Settings:
    """Settings from flags without parse_settings' own check (the check is under test)."""
    settings = Settings()
    for arg in argv:
        flag, _, value = arg.partition("=")
        if flag == "--cluster.peer":
            settings.cluster_peers.append(value)
        elif flag == "--redis.url":
            settings.redis_url = value
        else:
            settings.tls_config_file = value
    return settings


def test_insecure_skip_verify_and_client_certificates(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("alerter-client")
    leaf.cert_chain_pems[0].write_to_path(str(tmp_path / "client.pem"))
    leaf.private_key_pem.write_to_path(str(tmp_path / "client.key"))
    # Relative paths are taken from the file's directory, as Alertmanager does.
    tls_file = write_tls_config(
        tmp_path / "tls.yml",
        {
            "tls_client_config": {
                "cert_file": "client.pem",
                "key_file": "client.key",
                "insecure_skip_verify": True,
            }
        },
    )
    tls = load_cluster_tls(str(tls_file))
    assert (tls.cert_file, tls.key_file) == (str(tmp_path / "client.pem"), str(tmp_path / "client.key"))
    setup = redis_setup(_settings(["--cluster.peer=r1:6379", f"--cluster.tls-config={tls_file}"]))
    assert setup.tls is not None
    assert setup.tls.verify_mode == ssl.CERT_NONE and not setup.tls.check_hostname


def test_alertmanagers_file_with_both_sections_loads(tmp_path: Path, ca_file: Path) -> None:
    """A file written for Alertmanager's gossip: tls_server_config is accepted (alerter opens no
    cluster port), tls_client_config applies; without it, TLS with default verification."""
    both = {
        "tls_server_config": {
            "cert_file": "node.pem",
            "key_file": "node-key.pem",
            "client_ca_file": "ca.pem",
            "client_auth_type": "VerifyClientCertIfGiven",
        },
        "tls_client_config": {"ca_file": "ca.pem", "server_name": "redis.test"},
    }
    tls = load_cluster_tls(str(write_tls_config(tmp_path / "both.yml", both)))
    assert (tls.ca_file, tls.server_name) == (str(ca_file), "redis.test")
    server_only = write_tls_config(tmp_path / "server.yml", {"tls_server_config": both["tls_server_config"]})
    assert load_cluster_tls(str(server_only)).ca_file == ""
    assert load_cluster_tls(str(write_tls_config(tmp_path / "empty.yml", ""))).ca_file == ""


@pytest.mark.parametrize(
    ("document", "problems"),
    [
        ("tls_client_config: [unclosed", ["yaml:", "line 1"]),
        ({"tls_client_config": {"ca_fil": "ca.pem"}}, ["field ca_fil not found in type config.plain"]),
        (
            {"ca_file": "ca.pem", "insecure_skip_verify": True},
            ["field ca_file not found in type cluster.TLSTransportConfig", "go under tls_client_config:"],
        ),
        ({"tls_server_config": {"cert_fil": "x"}}, ["field cert_fil not found in type web.TLSConfig"]),
        ({"tls_client_config": {"min_version": "TLS14"}}, ["unknown TLS version: TLS14"]),
        ({"tls_client_config": {"cert_file": "c.pem"}}, ["exactly one of key or key_file"]),
        ({"tls_client_config": {"ca_file": "missing.pem"}}, ["cannot load the CA", "missing.pem"]),
    ],
)
def test_an_invalid_tls_file_is_refused_naming_the_file_and_the_problem(
    tmp_path: Path, document: object, problems: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_tls_config(tmp_path / "cluster-tls.yml", document)
    with pytest.raises(SystemExit) as exit_info:
        parse_settings(["--cluster.peer=r1:6379", f"--cluster.tls-config={path}"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"--cluster.tls-config {path}" in err
    for problem in problems:
        assert problem in err


def test_an_unreadable_tls_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--cluster.tls-config .*nope.yml: cannot read it: No such file"):
        load_cluster_tls(str(tmp_path / "nope.yml"))


def test_redis_py_still_has_the_method_alerter_replaces() -> None:
    """_TLSConnection replaces SSLConnection._wrap_socket_with_ssl (redis-py ≥ 5.1) to use
    alerter's SSL context; if a release renames it, TLS would silently fall back to redis-py's
    own context built from no options, so this fails first."""
    assert "self._wrap_socket_with_ssl(sock)" in inspect.getsource(SSLConnection._connect)
    assert backend._TLSConnection._wrap_socket_with_ssl is not SSLConnection._wrap_socket_with_ssl


class _Unconnected(Connection):
    """A pooled connection that never touches the network, with nothing to read."""

    def connect(self) -> None:
        pass

    def can_read(self, timeout: float = 0) -> bool:
        return False


def test_pools_hand_out_connections_as_redis_py_s_do_without_its_deprecated_arguments_check() -> None:
    """alerter's pools (backend._Pool, and _SentinelPool behind Sentinels) run redis-py's own
    get_connection, its bound and reuse included, without the wrapper that checks for arguments
    deprecated since redis-py 5.3 (alerter passes none)."""
    assert backend._get_connection is not ConnectionPool.get_connection
    assert backend._get_connection.__qualname__ == "ConnectionPool.get_connection"
    pool = backend._Pool(connection_class=_Unconnected, max_connections=1)
    conn = pool.get_connection()
    with pytest.raises(MaxConnectionsError):
        pool.get_connection()
    pool.release(conn)
    assert pool.get_connection() is conn
    plain = redis_setup(parse_settings(["--redis.url=redis://r1:6379/0"]))
    assert type(plain.client(plain.addresses[0], {}, {}).connection_pool) is backend._Pool
    sentinels = redis_setup(parse_settings(["--cluster.peer=redis://s1:26379"]))
    assert type(sentinels.sentinel_master("alerter", {}).connection_pool) is backend._SentinelPool
