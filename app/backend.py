"""The Redis alerter talks to: a real server, or the embedded in-process fakeredis.

Embedded mode keeps the whole shared state in one process and writes it under
`--storage.path` (Alertmanager keeps its silences and notification log there), restoring it at
start, so that a restart forgets neither what was silenced nor what was already sent: a snapshot
of everything every --cluster.pushpull-interval, and between snapshots a write-ahead log of
every silence and notification-log write (app/durability.py), so that a SIGKILL loses none
that was acknowledged.

Otherwise `--redis.url` (or REDIS_URL) names one server, or `--cluster.peer` names Redis nodes or
the Sentinels that watch them. Credentials come from each URL's user info, or for the server that
holds the state from REDIS_USERNAME/REDIS_PASSWORD; TLS from `rediss://` or `--cluster.tls-config`
(docs/cluster-flags.md has the rules). `redis_setup` checks all of that before any connection, so
that a flag alerter could not honour stops the start with a message naming it.

A `--redis.url` that answers as a Redis Cluster node gets a cluster client (the cluster layout of
app/redis_keys.py, docs/scaling.md). RQ's job queue cannot live on a cluster, so it then needs
`--redis.queue-url`, a plain Redis of its own (`connect_queue`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson
import redis
from redis.cluster import RedisCluster
from redis.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection

from app.config import SECRET, ConfigError, TLSConfig
from app.config.clustertls import load_cluster_tls
from app.durability import WriteAheadLog, Writer, fsync_directory
from app.notify.transport import tls_context
from app.redis_keys import Keys
from app.respencoder import CommandPacker
from app.settings import Settings

log = logging.getLogger(__name__)

SNAPSHOT_FILE = "alerter-state.json"

_NO_CREDENTIALS: dict[str, str | None] = {"username": None, "password": None}


def connect(settings: Settings, blocking_wait: float = 0.0) -> redis.Redis:
    """A client for the configured Redis; in embedded mode, for a fresh in-process server.

    `--redis.url` (or REDIS_URL) names one server. `--cluster.peer` names the Redis nodes that
    hold the shared state: when they are Sentinels, the client asks them for the master of the
    service `--cluster.label` (default "alerter") and follows failovers; otherwise the first
    peer is the server.

    `blocking_wait`: the longest blocking command this client will send (RQ's dequeue); its
    read timeout is that much longer than --cluster.tcp-timeout, so an idle wait never reads
    as a lost connection.
    """
    if settings.embedded:
        # Imported here: the clustered web and worker processes never need it, and it costs
        # each of them a few MB of RSS.
        import fakeredis

        return fakeredis.FakeRedis(server=fakeredis.FakeServer())
    setup = redis_setup(settings)
    options = _options(settings, blocking_wait)
    first = setup.addresses[0]
    if settings.redis_url:
        client = setup.client(first, options, setup.server_credentials(first))
        if not _answers(client, f"--redis.url {first.name}") or not _cluster_enabled(client):
            return client
        client.close()
        return _cluster_client(settings, setup, first, options)
    _resolve_peers(setup.addresses, settings.peers_resolve_timeout)
    if _peers_are_sentinels(setup, _plain(options), settings.settle_timeout):
        service = settings.sentinel_service
        master = setup.sentinel_master(service, options)
        return _checked(
            master,
            f"the master the Sentinels name for {service!r}",
            "set REDIS_USERNAME/REDIS_PASSWORD to the master's: without them alerter gives it the "
            "credentials of the --cluster.peer Sentinel URLs",
        )
    client = setup.client(first, options, setup.server_credentials(first))
    if _cluster_enabled(client):
        raise ConfigError(
            f"--cluster.peer {first.name} is a Redis Cluster node: name one node of the cluster with "
            "--redis.url instead, and a plain Redis for the job queue with --redis.queue-url "
            "(docs/scaling.md)"
        )
    return client


def connect_queue(settings: Settings, blocking_wait: float = 0.0) -> redis.Redis:
    """A client for the Redis that holds RQ's job queue: `--redis.queue-url`, else the Redis of
    the state (`connect`). Credentials and TLS follow --redis.url's rules (its URL's, else
    REDIS_USERNAME/REDIS_PASSWORD; rediss:// or --cluster.tls-config)."""
    if not settings.redis_queue_url:
        return connect(settings, blocking_wait)
    queue = dataclasses.replace(settings, redis_url=settings.redis_queue_url, redis_queue_url="")
    setup = redis_setup(queue)
    first = setup.addresses[0]
    where = f"--redis.queue-url {first.name}"
    client = setup.client(first, _options(queue, blocking_wait), setup.server_credentials(first))
    if _answers(client, where) and _cluster_enabled(client):
        raise ConfigError(
            f"{where} is a Redis Cluster node: RQ's job queue needs a plain Redis (its commands touch "
            "keys of several slots); name a plain Redis, or a Sentinel-watched master"
        )
    return client


def _options(settings: Settings, blocking_wait: float) -> dict[str, Any]:
    """Connection options of a client of the state's or the queue's Redis."""
    return {
        "socket_connect_timeout": settings.tcp_timeout,
        "socket_timeout": settings.tcp_timeout + blocking_wait,
        "health_check_interval": max(1, int(settings.probe_interval)),
        "command_packer": CommandPacker(),
    }


def _cluster_enabled(client: redis.Redis) -> bool:
    """Whether the server, which has just answered, is a Redis Cluster node (one that answers no
    INFO, for want of the permission, is taken for a plain one)."""
    try:
        return bool(client.info("cluster").get("cluster_enabled"))
    except redis.RedisError:
        return False


def _cluster_client(
    settings: Settings, setup: RedisSetup, first: RedisAddress, options: dict[str, Any]
) -> RedisCluster:
    """A client of the Redis Cluster `first` belongs to, or ConfigError naming what a cluster
    cannot honour."""
    where = f"--redis.url {first.name} is a Redis Cluster node"
    if not settings.redis_queue_url:
        raise ConfigError(
            f"{where}: RQ's job queue cannot live on a cluster (its commands touch keys of several "
            "slots); pass --redis.queue-url redis://HOST:PORT/0 naming a small plain Redis next to the "
            "cluster for the job queue (docs/scaling.md)"
        )
    if first.db != 0:
        raise ConfigError(f"{where}, which has database 0 only: write /0 in the URL")
    if "{" in settings.key_prefix or "}" in settings.key_prefix:
        raise ConfigError(
            f"{where}: --cluster.label {settings.key_prefix!r} holds a brace, which Redis Cluster would "
            "take for the hash tag of every key, putting them all in one slot; choose one without"
        )
    if settings.per_alertname_limit > 0:
        raise ConfigError(
            f"{where}: --alerts.per-alertname-limit counts an alertname's alerts across every group, "
            "which a cluster spreads over its masters; unset it, or use a plain Redis"
        )
    # RedisCluster passes neither health_check_interval, the command packer nor a TLS context on
    # to its nodes' connections (only options it knows), so --cluster.probe-interval, the packer
    # and alerter's TLS ride on the connection class, which it passes to each node's connection
    # pool when given a URL (tests/e2e/test_redis_cluster.py checks that the probe interval, the
    # packer and TLS reach every node). The URL says redis:// (rediss:// would swap in
    # redis-py's own TLS class) and carries no credentials: they follow.
    node_options: dict[str, Any] = {
        "health_check_interval": options["health_check_interval"],
        "command_packer": options["command_packer"],
    }
    base: type[Connection] = Connection
    if setup.tls is not None:
        base = _TLSConnection
        node_options |= {"tls_context": setup.tls, "tls_server_name": setup.server_name}

    class NodeConnection(base):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**{**kwargs, **node_options})

    credentials = setup.server_credentials(first)
    return RedisCluster(
        url=f"redis://{f'[{first.host}]' if ':' in first.host else first.host}:{first.port}/0",
        connection_class=NodeConnection,
        **_plain(options),
        **credentials,
    )


@dataclass(frozen=True)
class RedisAddress:
    """A Redis server or Sentinel as `--redis.url`, REDIS_URL or one `--cluster.peer` names it."""

    scheme: str  # "redis", "rediss", "unix", or "" for a bare host:port
    host: str = ""
    port: int = 6379
    db: int = 0
    path: str = ""  # unix:// only
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """How messages name it: never with its credentials."""
        return self.path or f"{self.host}:{self.port}"

    @property
    def credentials(self) -> dict[str, str | None]:
        """The user and password of its URL (both None without)."""
        return {"username": self.username, "password": self.password}

    @property
    def has_credentials(self) -> bool:
        return self.username is not None or self.password is not None


def parse_address(text: str, flag: str = "--cluster.peer") -> RedisAddress:
    """`host:port`, `redis://[user:password@]host:port/db` or `rediss://...`; for --redis.url
    also `unix:///path/to/socket?db=N`. ValueError names the flag and the URL without its
    password. A query string is refused, not handed to redis-py: its options (timeouts,
    `ssl_cert_reqs=none`) would quietly override the flags and --cluster.tls-config."""
    bare = "://" not in text
    url = urlsplit(f"redis://{text}" if bare else text)

    def problem(why: str) -> ValueError:
        return ValueError(f"{flag} {redacted(text)!r}: {why}")

    schemes = ("redis", "rediss", "unix") if flag == "--redis.url" else ("redis", "rediss")
    if url.scheme not in schemes:
        raise problem(f"want host:port or a {' or '.join(s + '://' for s in schemes)} URL")
    query = parse_qs(url.query, keep_blank_values=True)
    allowed = {"db"} if url.scheme == "unix" else set()
    if set(query) - allowed or url.fragment:
        raise problem(
            "URL options (?...) are not supported: timeouts come from the --cluster.* flags and "
            "TLS from rediss:// and --cluster.tls-config"
        )
    credentials = {
        "username": unquote(url.username) if url.username else None,
        "password": unquote(url.password) if url.password is not None else None,
    }
    if url.scheme == "unix":
        db_text = query.get("db", ["0"])[0]
        if not url.path or not db_text.isdigit():
            raise problem("want unix:///path/to/redis.sock, optionally with ?db=N")
        return RedisAddress("unix", path=unquote(url.path), db=int(db_text), **credentials)
    if not url.hostname:
        raise problem("the host is missing")
    try:
        port = url.port or 6379
    except ValueError:
        raise problem("the port is not a number from 1 to 65535") from None
    db_text = url.path.strip("/") or "0"
    if not db_text.isdigit():
        raise problem("the path must be a database number such as /0")
    return RedisAddress("" if bare else url.scheme, url.hostname, port, int(db_text), **credentials)


def redacted(text: str) -> str:
    """A Redis URL as messages may show it: its password replaced by <secret>."""
    scheme, sep, rest = text.rpartition("://")
    netloc_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    userinfo, at, host = rest[:netloc_end].rpartition("@")
    if not at or ":" not in userinfo:
        return text
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{sep}{user}:{SECRET}@{host}{rest[netloc_end:]}"


class _TLSConnection(SSLConnection):
    """redis-py's TLS connection on an `ssl.SSLContext` built like the integrations' tls_config
    (app.notify.transport.tls_context), because redis-py's own options cannot say what Go's
    client does: a configured CA replaces the trust store rather than adding to it, server_name
    names the certificate's host, max_version and inline PEMs.

    redis-py 5.1 introduced `_wrap_socket_with_ssl`, the one method replaced here; pyproject.toml
    requires it and tests/unit/test_redis_setup.py fails if a release drops it."""

    def __init__(self, *, tls_context: ssl.SSLContext, tls_server_name: str = "", **kwargs: Any) -> None:
        self.tls_context = tls_context
        self.tls_server_name = tls_server_name
        super().__init__(**kwargs)

    def _wrap_socket_with_ssl(self, sock: socket.socket) -> ssl.SSLSocket:
        return self.tls_context.wrap_socket(sock, server_hostname=self.tls_server_name or self.host)


# ConnectionPool.get_connection without redis-py's check for deprecated arguments around it:
# the check builds a dict of the call's arguments at every command (without it, 0.5 % fewer
# instructions per ingest request of the web tier, callgrind), and alerter passes none. The
# pool's own work (its bound, the connect and the health check of a pooled connection) is the
# same function's.
_get_connection = getattr(
    redis.ConnectionPool.get_connection, "__wrapped__", redis.ConnectionPool.get_connection
)


class _Pool(redis.ConnectionPool):
    """redis-py's pool, connections handed out without the deprecated-arguments check."""

    get_connection = _get_connection


class _SentinelPool(SentinelConnectionPool):
    """redis-py's pool of the master the Sentinels name, the same way."""

    get_connection = _get_connection


class _SentinelTLSConnection(SentinelManagedConnection, _TLSConnection):
    """A connection to the master that Sentinels name, over alerter's TLS."""


@dataclass(frozen=True)
class RedisSetup:
    """How to reach alerter's Redis, from the flags and environment, checked before connecting.

    `addresses`: the --redis.url server, or every --cluster.peer. `tls`: the context of every
    connection, Redis and Sentinel alike (None: plain text); `server_name` the host their
    certificates must name ("" for the host connected to). `env`: REDIS_USERNAME/REDIS_PASSWORD,
    the credentials of the server holding the state when its URL has none.
    """

    addresses: tuple[RedisAddress, ...]
    tls: ssl.SSLContext | None = None
    server_name: str = ""
    env: dict[str, str | None] | None = field(default=None, repr=False)

    def server_credentials(self, address: RedisAddress) -> dict[str, str | None]:
        """For the Redis server holding the state: its URL's credentials, else the environment's."""
        if address.has_credentials:
            return address.credentials
        return self.env or _NO_CREDENTIALS

    def client(
        self, address: RedisAddress, options: dict[str, Any], credentials: dict[str, Any]
    ) -> redis.Redis:
        """A client of one server or Sentinel with its own connection pool (closed with it)."""
        kwargs: dict[str, Any] = {**options, **credentials, "db": address.db}
        if address.path:
            kwargs.update(connection_class=UnixDomainSocketConnection, path=address.path)
        elif self.tls is None:
            kwargs.update(connection_class=Connection, host=address.host, port=address.port)
        else:
            kwargs.update(
                connection_class=_TLSConnection,
                tls_context=self.tls,
                tls_server_name=self.server_name,
                host=address.host,
                port=address.port,
            )
        return redis.Redis.from_pool(_Pool(**kwargs))

    def sentinel_master(self, service: str, options: dict[str, Any]) -> redis.Redis:
        """A client of the master the Sentinels name for `service`, following failovers.

        Each Sentinel is asked with the credentials of its own URL (redis-py's `sentinel_kwargs`
        would give all of them the same, and no TLS context), so its clients are built here.
        """
        sentinel = Sentinel([])
        sentinel.sentinels = [self.client(a, _plain(options), a.credentials) for a in self.addresses]
        tls: dict[str, Any] = {}
        if self.tls is not None:
            tls = {
                "connection_class": _SentinelTLSConnection,
                "tls_context": self.tls,
                "tls_server_name": self.server_name,
            }
        return sentinel.master_for(
            service,
            connection_pool_class=_SentinelPool,
            db=self.addresses[0].db,
            **options,
            **tls,
            **self.master_credentials(),
        )

    def master_credentials(self) -> dict[str, str | None]:
        """The master's: REDIS_USERNAME/REDIS_PASSWORD, else those of the Sentinel URLs, which
        Sentinels and their Redis servers often share."""
        if self.env is not None:
            return self.env
        given = {(a.username, a.password) for a in self.addresses}
        if len(given) > 1:
            raise ConfigError(
                "the --cluster.peer Sentinels have different credentials in their URLs, so alerter "
                "cannot tell which the master takes: set REDIS_USERNAME and REDIS_PASSWORD to the master's"
            )
        return self.addresses[0].credentials


def redis_setup(settings: Settings) -> RedisSetup:
    """Parse and check how to reach Redis (addresses, credentials, TLS) without connecting.

    Raises ValueError (ConfigError for --cluster.tls-config) with the flag to fix; never with a
    password in it.
    """
    if settings.redis_url:
        addresses: tuple[RedisAddress, ...] = (parse_address(settings.redis_url, "--redis.url"),)
    else:
        addresses = tuple(parse_address(p) for p in settings.cluster_peers)
    env = None
    if settings.redis_username or settings.redis_password:
        env = {"username": settings.redis_username or None, "password": settings.redis_password or None}
        if settings.redis_url and addresses[0].has_credentials:
            raise ValueError(
                "--redis.url has credentials and REDIS_USERNAME/REDIS_PASSWORD are set too: keep one"
            )
    schemes = {a.scheme for a in addresses}
    if settings.redis_tls_skip_verify and (settings.tls_config_file or "rediss" not in schemes):
        raise ValueError(
            "REDIS_TLS_SKIP_VERIFY applies to a rediss:// URL without --cluster.tls-config; "
            "with a TLS file set insecure_skip_verify in its tls_client_config instead"
        )
    if settings.tls_config_file:
        if "unix" in schemes:
            raise ValueError("--cluster.tls-config: Redis serves TLS on TCP only, not on a unix:// socket")
        tls: TLSConfig | None = load_cluster_tls(settings.tls_config_file)
        where = f"--cluster.tls-config {settings.tls_config_file}"
    elif "rediss" in schemes:
        if schemes != {"rediss"}:
            raise ValueError(
                "--cluster.peer: some peers are rediss:// (TLS) and others not; write rediss:// for "
                "every peer, or pass --cluster.tls-config to use TLS with all of them"
            )
        tls, where = TLSConfig(insecure_skip_verify=settings.redis_tls_skip_verify), "rediss://"
    else:
        return RedisSetup(addresses, env=env)
    try:
        context = tls_context(tls, system_roots=True)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None
    return RedisSetup(addresses, context, tls.server_name, env)


def _plain(options: dict[str, Any]) -> dict[str, Any]:
    """Options for one-off connections to peers (no periodic health checks, redis-py's own
    command packer), and those RedisCluster knows (the rest ride on its connection class)."""
    return {k: v for k, v in options.items() if k not in ("health_check_interval", "command_packer")}


@functools.cache
def _resolve_peers(peers: tuple[RedisAddress, ...], timeout: float) -> None:
    """--cluster.peers-resolve-timeout: look up every --cluster.peer host name at start, all at
    once, for at most `timeout`. As in Alertmanager, a name that does not resolve in time is
    tried as it is given (here: logged, then left to the connection attempts that
    --cluster.settle-timeout bounds); the lookups just keep a DNS server that does not answer
    from holding up the start for longer than the flag says. Once per process (cached): a
    process that opens a second client does not look up and warn again."""
    found: dict[str, str] = {}

    def lookup(host: str, port: int) -> None:
        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            found[host] = ""
        except OSError as err:
            found[host] = str(err)

    names = {(a.host, a.port) for a in peers if a.host}
    threads = [threading.Thread(target=lookup, args=name, daemon=True) for name in names]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + max(timeout, 0.0)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    for host, _ in sorted(names):
        problem = found.get(host, f"no answer within --cluster.peers-resolve-timeout ({timeout:g}s)")
        if problem:
            log.warning(
                "--cluster.peer host name did not resolve; trying it as given",
                extra={"fields": {"peer": host, "err": problem}},
            )


def _identify(setup: RedisSetup, peer: RedisAddress, options: dict[str, Any]) -> bool:
    """Whether `peer` is a Sentinel, asked with the credentials alerter will use for it: its
    URL's; without, none for a Sentinel and REDIS_USERNAME/REDIS_PASSWORD for a Redis server.

    Raises redis.AuthenticationError when the peer refuses them, ConfigError when a setting
    would go unused (a Sentinel asking for the password REDIS_PASSWORD holds, or a Redis server
    given credentials twice)."""

    def is_sentinel(credentials: dict[str, Any]) -> bool:
        with setup.client(peer, options, credentials) as client:
            return bool(client.info("server").get("redis_mode") == "sentinel")

    if peer.has_credentials:
        sentinel = is_sentinel(peer.credentials)
        if not sentinel and setup.env is not None:
            raise ConfigError(
                f"--cluster.peer {peer.name} is a Redis server with credentials in its URL, and "
                "REDIS_USERNAME/REDIS_PASSWORD are set too: keep one"
            )
        return sentinel
    try:
        sentinel = is_sentinel(_NO_CREDENTIALS)
    except redis.AuthenticationError:
        if setup.env is None:
            raise
        if is_sentinel(setup.env):
            raise ConfigError(
                f"--cluster.peer {peer.name} is a Sentinel that asks for a password: put its user and "
                "password in its --cluster.peer URL (REDIS_USERNAME/REDIS_PASSWORD are the master's)"
            ) from None
        return False
    if not sentinel and setup.env is not None:
        is_sentinel(setup.env)  # the server takes REDIS_USERNAME/REDIS_PASSWORD: check them now
    return sentinel


def _peers_are_sentinels(setup: RedisSetup, options: dict[str, Any], wait: float) -> bool:
    """Ask the peers what they are, waiting up to `wait` (--cluster.settle-timeout) for one to
    answer: alerter must not mistake a Sentinel it could not reach for a Redis server. Refused
    credentials and certificates stop the start at once: waiting would not change them."""
    deadline = time.monotonic() + wait
    last_errors: dict[str, str] = {}
    while True:
        for peer in setup.addresses:
            try:
                return _identify(setup, peer, options)
            except redis.RedisError as err:
                refusal = _refusal(err, f"--cluster.peer {peer.name}")
                if refusal is not None:
                    raise refusal from None
                last_errors[peer.name] = str(err)
        if time.monotonic() >= deadline:
            errors = "; ".join(f"{name}: {err}" for name, err in last_errors.items())
            raise ConnectionError(
                f"no --cluster.peer answered within --cluster.settle-timeout ({errors}); check that "
                "Redis or its Sentinels run and are reachable, and that TLS (rediss://, "
                "--cluster.tls-config) matches theirs"
            )
        time.sleep(0.5)


_CHECK_CREDENTIALS = (
    "check the user and password: in the URL, or REDIS_USERNAME/REDIS_PASSWORD for a Redis server "
    "whose URL has none (docs/cluster-flags.md)"
)


def _refusal(err: redis.RedisError, what: str, hint: str = _CHECK_CREDENTIALS) -> ConnectionError | None:
    """The error that stops the start when `what` refused alerter for good (credentials,
    permissions, certificate): waiting for it, as for a server still starting, changes nothing."""
    if isinstance(err, redis.AuthenticationError | redis.exceptions.NoPermissionError):
        return ConnectionError(f"{what} refused alerter ({err}); {hint}")
    cause = err.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return ConnectionError(
            f"{what}: its TLS certificate was not accepted ({cause.verify_message}); check ca_file and "
            "server_name in --cluster.tls-config, or the host names in the server's certificate"
        )
    return None


def _checked(client: redis.Redis, what: str, hint: str = _CHECK_CREDENTIALS) -> redis.Redis:
    """`client`, once its server has not refused it; an unreachable server is left for later,
    as alerter waits out a Redis that starts after it."""
    _answers(client, what, hint)
    return client


def _answers(client: redis.Redis, what: str, hint: str = _CHECK_CREDENTIALS) -> bool:
    """Whether the server answered a PING; raises when it refused alerter for good. A server
    that does not answer yet is asked nothing more (each question would wait out the connect
    timeout again): it is taken for a plain Redis (docs/scaling.md)."""
    try:
        client.ping()
    except redis.RedisError as err:
        refusal = _refusal(err, what, hint)
        if refusal is not None:
            raise refusal from None
        return False
    return True


def _snapshot_path(settings: Settings) -> Path:
    return Path(settings.storage_path) / SNAPSHOT_FILE


def save_snapshot(client: redis.Redis, keys: Keys, settings: Settings, writer: Writer) -> dict[str, int]:
    """Snapshot the state as a checkpoint of `writer` (the write-ahead log drops what the
    snapshot covers); returns the bytes each key takes in the file (its silences' and
    notification log's parts are Alertmanager's two snapshot sizes)."""
    return writer.checkpoint(lambda: _write_snapshot(client, keys, settings))


def _write_snapshot(client: redis.Redis, keys: Keys, settings: Settings) -> dict[str, int]:
    """Write every hash, set, sorted set and list under the key prefix to the snapshot file.

    Leases and in-flight marks (strings with a TTL) are left out: after a restart they must
    not block anything. The file is fsync'd and replaced atomically, so a crash mid-write keeps
    the old one, and the write-ahead log it replaces may be deleted once this returns.
    """
    state: dict[str, dict[str, object]] = {}
    for raw_key in client.scan_iter(match=keys.everything, count=1000):
        key = raw_key.decode()
        kind = client.type(raw_key).decode()
        if kind == "hash":
            value: object = {k.decode(): v.decode() for k, v in client.hgetall(raw_key).items()}
        elif kind == "set":
            value = sorted(m.decode() for m in client.smembers(raw_key))
        elif kind == "zset":
            value = {m.decode(): s for m, s in client.zrange(raw_key, 0, -1, withscores=True)}
        elif kind == "list":
            value = [item.decode() for item in client.lrange(raw_key, 0, -1)]
        else:
            continue
        state[key] = {"type": kind, "value": value}
    path = _snapshot_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".snapshot-")
    # One JSON object, written key by key so that each key's size is known.
    parts = {key: orjson.dumps(key) + b":" + orjson.dumps(item) for key, item in state.items()}
    with os.fdopen(fd, "wb") as f:
        f.write(b"{" + b",".join(parts.values()) + b"}")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_directory(path.parent)
    return {key: len(part) for key, part in parts.items()}


def restore_state(client: redis.Redis, settings: Settings) -> WriteAheadLog:
    """Embedded start: load the last snapshot, then replay the writes acknowledged since (the
    write-ahead log); returns the log, open for the writes to come."""
    load_snapshot(client, settings)
    return WriteAheadLog.recover(Path(settings.storage_path), client)


def load_snapshot(client: redis.Redis, settings: Settings) -> int:
    """Restore a snapshot written by save_snapshot; returns how many keys were restored."""
    path = _snapshot_path(settings)
    if not path.exists():
        return 0
    try:
        state = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as err:
        raise RuntimeError(
            f"cannot read {path}: {err}; move the file away to start with an empty state"
        ) from err
    pipe = client.pipeline(transaction=False)
    for key, item in state.items():
        value = item["value"]
        if not value:
            continue
        if item["type"] == "hash":
            pipe.hset(key, mapping=value)
        elif item["type"] == "set":
            pipe.sadd(key, *value)
        elif item["type"] == "zset":
            pipe.zadd(key, value)
        elif item["type"] == "list":
            pipe.delete(key)
            pipe.rpush(key, *value)
    pipe.execute()
    log.info("restored state from %s", path, extra={"fields": {"keys": len(state)}})
    return len(state)
