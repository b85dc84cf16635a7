"""Private Redis servers and Sentinels for tests.

alerter's shared state lives in Redis, so the interesting failures are Redis failures: a server
killed mid-flush, restarted empty, or replaced by its replica through a Sentinel failover.
fakeredis cannot show any of that, hence real `redis-server` processes here.

Each server is private: a free 127.0.0.1 port (never 6379, where the machine's own Redis may run
and where a test must never flush someone's data), its own directory, nothing written to disk
(`--save "" --appendonly no`), so a restart comes back empty as after a real crash.

A missing `redis-server` fails the test (it never skips): run scripts/test, which installs it.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import redis
import redis.sentinel
import trustme
import yaml
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support.ports import HOST, RESERVED_PORTS, free_port
from tests.support.processes import ManagedProcess, require_binary, session_dir, wait_until

_COUNTER = itertools.count(1)


def redis_server_binary() -> str:
    return require_binary("redis-server", "redis-server")


@dataclass(frozen=True)
class TLSFiles:
    """A throwaway CA (trustme) with a server certificate for `server_names` and a client
    certificate, as PEM files: what a TLS redis-server, its Sentinels and alerter are given."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    @classmethod
    def create(cls, directory: Path, server_names: Sequence[str] = (HOST, "localhost")) -> TLSFiles:
        directory.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        names = ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")
        files = cls(*(directory / name for name in names))
        ca.cert_pem.write_to_path(str(files.ca))
        # trustme's certificates serve both ends (serverAuth and clientAuth): Redis also presents
        # its own to the servers it connects to (replication, Sentinel's monitoring).
        server = ca.issue_cert(*server_names)
        files.server_cert.write_bytes(b"".join(pem.bytes() for pem in server.cert_chain_pems))
        server.private_key_pem.write_to_path(str(files.server_key))
        client = ca.issue_cert("alerter-client", common_name="alerter-client")
        client.cert_chain_pems[0].write_to_path(str(files.client_cert))
        client.private_key_pem.write_to_path(str(files.client_key))
        return files

    def server_config(self, auth_clients: bool) -> list[tuple[str, str]]:
        """redis.conf directives (name, value) that serve TLS with these files."""
        return [
            ("tls-cert-file", str(self.server_cert)),
            ("tls-key-file", str(self.server_key)),
            ("tls-ca-cert-file", str(self.ca)),
            ("tls-auth-clients", "yes" if auth_clients else "no"),
            ("tls-replication", "yes"),
        ]

    def client_kwargs(self) -> dict[str, Any]:
        """redis-py options of a client that verifies the server and presents the client certificate."""
        return {
            "ssl": True,
            "ssl_ca_certs": str(self.ca),
            "ssl_certfile": str(self.client_cert),
            "ssl_keyfile": str(self.client_key),
        }

    def write_tls_config(self, path: Path, client_cert: bool = True, **extra: Any) -> Path:
        """An Alertmanager --cluster.tls-config file for alerter: verify with this CA, present the
        client certificate unless `client_cert` is False, plus any `extra` tls_client_config field."""
        client: dict[str, Any] = {"ca_file": str(self.ca)}
        if client_cert:
            client |= {"cert_file": str(self.client_cert), "key_file": str(self.client_key)}
        path.write_text(yaml.safe_dump({"tls_client_config": {**client, **extra}}))
        return path


class _RedisProcess:
    """What a Redis server and a Sentinel share: a port, a directory, a process to restart."""

    kind = "redis"
    start_timeout = 15.0

    def __init__(
        self,
        port: int | None = None,
        base_dir: Path | None = None,
        password: str | None = None,
        tls: TLSFiles | None = None,
    ) -> None:
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        if self.port in RESERVED_PORTS:
            raise ValueError(f"port {self.port} is reserved for the machine's own services")
        # The server's directory; with `base_dir` (a benchmark's) its log goes there too, else
        # with the test session's logs.
        parent = base_dir if base_dir is not None else session_dir() / "redis"
        self.dir = parent / f"{next(_COUNTER):03d}-{self.kind}"
        self.dir.mkdir(parents=True)
        self._log_path = self.dir / f"{self.kind}.log" if base_dir is not None else None
        self.process: ManagedProcess | None = None
        self._started_once = False
        self.password = password
        self.tls = tls
        # What this process's own clients (readiness pings, `client()`) need: password, TLS.
        self.client_kwargs: dict[str, Any] = {}
        if password is not None:
            self.client_kwargs["password"] = password
        if tls is not None:
            self.client_kwargs |= tls.client_kwargs()

    # Subclasses build their command line.
    def _argv(self) -> list[str]:
        raise NotImplementedError

    def _prepare(self) -> None:
        """Write config files before the first start."""

    @property
    def host(self) -> str:
        return HOST

    @property
    def addr(self) -> tuple[str, int]:
        return (HOST, self.port)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.is_running()

    def client(self, **kwargs: Any) -> redis.Redis:
        """A client of this server (redis-py keyword arguments pass through)."""
        kwargs.setdefault("socket_timeout", 5)
        kwargs.setdefault("socket_connect_timeout", 2)
        return redis.Redis(host=HOST, port=self.port, **{**self.client_kwargs, **kwargs})

    def ping(self) -> bool:
        """True if the server answers PING now; never raises."""
        try:
            # No retries: redis-py's default backoff would turn "not up yet" into seconds.
            with self.client(socket_timeout=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)) as c:
                return bool(c.ping())
        except redis.RedisError:
            return False

    def start(self) -> _RedisProcess:
        """Start and wait until it answers PING; retry on another port if the chosen one was
        taken meanwhile (only for ports we picked: a restart keeps its port)."""
        if self.running:
            return self
        if not self._started_once:
            self._prepare()
        for attempt in range(5):
            self.process = ManagedProcess(
                self._argv(), cwd=self.dir, log_path=self._log_path, name=f"{self.kind}-{self.port}"
            )
            try:
                self._wait_ready()
            except AssertionError:
                log = self.process.log_text()
                self.process.stop(timeout=2)
                if (
                    "Address already in use" in log
                    and not self._fixed_port
                    and not self._started_once
                    and attempt < 4
                ):
                    self.port = free_port()
                    self._on_port_change()
                    continue
                raise
            self._started_once = True
            return self
        raise AssertionError(f"{self.kind} could not start")  # pragma: no cover

    def _on_port_change(self) -> None:
        """Rewrite anything that names the port (Sentinel's config file)."""

    def _wait_ready(self) -> None:
        proc = self.process
        assert proc is not None

        def answers() -> bool:
            if not proc.is_running():
                raise AssertionError(f"{self.kind} on port {self.port} exited with code {proc.returncode}")
            return self.ping()

        try:
            wait_until(answers, self.start_timeout, message=f"{self.kind} on port {self.port} did not answer")
        except AssertionError as err:
            raise AssertionError(f"{err}\n{proc.log_tail()}") from None

    def kill(self) -> None:
        """SIGKILL: a crash, no shutdown work, nothing saved. The port is free on return."""
        if self.process is not None:
            self.process.kill()

    def stop(self) -> None:
        """SIGTERM (SIGKILL after a few seconds). Safe to call twice or before start."""
        if self.process is not None:
            self.process.stop(timeout=5)

    def restart(self) -> _RedisProcess:
        """Stop if running, then start again on the same port (empty, for a Redis server)."""
        self.stop()
        self._fixed_port = True
        return self.start()

    def log_text(self) -> str:
        return self.process.log_text() if self.process is not None else ""

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {HOST}:{self.port} {'running' if self.running else 'stopped'}>"


class RedisServer(_RedisProcess):
    """A private redis-server. The constructor only picks a port; `start()` (or `with`) runs it.

    `replicaof` makes it a replica of another server, given as a RedisServer or (host, port).
    `password` is the default user's (`requirepass`, and `masterauth` for a replica); `tls`
    serves TLS only, on the port (`--port 0`), asking for client certificates if
    `tls_auth_clients`. `extra_args` add directives, such as `--user NAME on >PASSWORD ...`.
    """

    kind = "redis"

    def __init__(
        self,
        port: int | None = None,
        replicaof: RedisServer | tuple[str, int] | None = None,
        extra_args: Sequence[str] = (),
        base_dir: Path | None = None,
        *,
        password: str | None = None,
        tls: TLSFiles | None = None,
        tls_auth_clients: bool = False,
    ) -> None:
        super().__init__(port, base_dir, password, tls)
        if isinstance(replicaof, RedisServer):
            replicaof = replicaof.addr
        self.replicaof = replicaof
        self.extra_args = list(extra_args)
        self.tls_auth_clients = tls_auth_clients

    @property
    def url(self) -> str:
        """Its URL without credentials: rediss:// when it serves TLS."""
        return f"{'rediss' if self.tls else 'redis'}://{HOST}:{self.port}/0"

    def _argv(self) -> list[str]:
        if self.tls is None:
            listen = ["--port", str(self.port)]
        else:
            listen = ["--port", "0", "--tls-port", str(self.port)]
            for name, value in self.tls.server_config(self.tls_auth_clients):
                listen += [f"--{name}", value]
        if self.password is not None:
            listen += ["--requirepass", self.password, "--masterauth", self.password]
        argv = [
            redis_server_binary(),
            *listen,
            "--bind", HOST,
            "--dir", str(self.dir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "no",
            "--logfile", "",
            # Redis 7 waits 5s for more replicas before a diskless full sync: a replica (and a
            # restarted old master) would lag behind for no reason in tests.
            "--repl-diskless-sync-delay", "0",
        ]  # fmt: skip
        if self.replicaof is not None:
            argv += ["--replicaof", self.replicaof[0], str(self.replicaof[1])]
        return argv + self.extra_args

    def start(self) -> RedisServer:
        super().start()
        return self

    def restart(self) -> RedisServer:
        super().restart()
        return self

    def __enter__(self) -> RedisServer:
        return self.start()

    def role(self) -> str:
        """The replication role the server reports now: "master" or "slave"."""
        with self.client() as c:
            return str(c.info("replication")["role"])

    def wait_synced(self, timeout: float = 15.0) -> None:
        """For a replica: wait until its link to the master is up (initial sync done)."""
        wait_until(
            lambda: self.client().info("replication").get("master_link_status") == "up",
            timeout,
            message=f"replica on port {self.port} did not sync with its master",
            ignore=(redis.RedisError,),
        )


class SentinelServer(_RedisProcess):
    """A Redis Sentinel watching one master under the service name `master_name`.

    Sentinel rewrites its config file as it learns the topology, so each gets its own file in
    its own directory. `down_after_ms` and `failover_timeout_ms` are small by default so that a
    failover takes seconds, not the production minutes.
    """

    kind = "sentinel"

    def __init__(
        self,
        master_name: str,
        master_port: int,
        quorum: int = 2,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 2000,
        port: int | None = None,
        master_host: str = HOST,
        *,
        password: str | None = None,
        master_auth: tuple[str, str] | None = None,
        tls: TLSFiles | None = None,
    ) -> None:
        """`password`: the Sentinel's own (`requirepass`); `master_auth`: the (user, password) it
        monitors the master with (user "default" for a plain requirepass); `tls`: TLS only, to
        clients and to the servers it watches."""
        super().__init__(port, password=password, tls=tls)
        self.master_name = master_name
        self.master_host = master_host
        self.master_port = master_port
        self.quorum = quorum
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.config_path = self.dir / "sentinel.conf"
        self.master_auth = master_auth

    def config_text(self) -> str:
        name = self.master_name
        security = [f"requirepass {self.password}"] if self.password is not None else []
        if self.master_auth is not None:
            user, password = self.master_auth
            security += [f"sentinel auth-user {name} {user}", f"sentinel auth-pass {name} {password}"]
        if self.tls is None:
            listen = [f"port {self.port}"]
        else:
            listen = ["port 0", f"tls-port {self.port}"]
            listen += [f"{k} {v}" for k, v in self.tls.server_config(auth_clients=False)]
        return "\n".join(
            [
                *listen,
                f"bind {HOST}",
                "daemonize no",
                "protected-mode no",
                'logfile ""',
                f"dir {self.dir}",
                f"sentinel monitor {name} {self.master_host} {self.master_port} {self.quorum}",
                f"sentinel down-after-milliseconds {name} {self.down_after_ms}",
                f"sentinel failover-timeout {name} {self.failover_timeout_ms}",
                f"sentinel parallel-syncs {name} 1",
                *security,
                "",
            ]
        )

    def _prepare(self) -> None:
        self.config_path.write_text(self.config_text())

    def _on_port_change(self) -> None:
        self._prepare()

    def _argv(self) -> list[str]:
        server = redis_server_binary()  # fails with the install hint if Redis is missing
        sentinel = shutil.which("redis-sentinel")
        if sentinel:
            return [sentinel, str(self.config_path)]
        return [server, str(self.config_path), "--sentinel"]

    def start(self) -> SentinelServer:
        super().start()
        return self

    def restart(self) -> SentinelServer:
        super().restart()
        return self

    def __enter__(self) -> SentinelServer:
        return self.start()

    def master_addr(self) -> tuple[str, int] | None:
        """The master this Sentinel currently names for the service (None if it cannot say)."""
        with self.client() as c:
            addr = c.sentinel_get_master_addr_by_name(self.master_name)
        if not addr:
            return None
        host = addr[0].decode() if isinstance(addr[0], bytes) else str(addr[0])
        return host, int(addr[1])

    def master_state(self) -> dict[str, Any]:
        """SENTINEL MASTER: flags, num-slaves, num-other-sentinels, ..."""
        with self.client() as c:
            return dict(c.sentinel_master(self.master_name))


class RedisHACluster:
    """A master, one replica and `sentinels` Sentinels watching them under `service`.

    `service` defaults to "alerter", the name alerter asks Sentinels for by default
    (`--cluster.label`), so `cluster_peers` can be passed as `--cluster.peer` flags as they are.
    """

    def __init__(
        self,
        service: str = "alerter",
        sentinels: int = 3,
        quorum: int = 2,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 2000,
    ) -> None:
        self.service = service
        self.quorum = quorum
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.sentinel_count = sentinels
        self.servers: list[RedisServer] = []
        self.sentinels: list[SentinelServer] = []
        self._known_master_port: int | None = None

    def start(self, timeout: float = 30.0) -> RedisHACluster:
        """Start everything and wait until every Sentinel knows the replica and the other
        Sentinels: before that a failover could not gather a majority."""
        master = RedisServer().start()
        replica = RedisServer(replicaof=master)
        self.servers = [master, replica]
        replica.start().wait_synced(timeout)
        for _ in range(self.sentinel_count):
            self.sentinels.append(
                SentinelServer(
                    self.service,
                    master.port,
                    quorum=self.quorum,
                    down_after_ms=self.down_after_ms,
                    failover_timeout_ms=self.failover_timeout_ms,
                ).start()
            )
        others = self.sentinel_count - 1

        def settled() -> bool:
            for s in self.sentinels:
                state = s.master_state()
                if int(state.get("num-slaves", 0)) < 1 or int(state.get("num-other-sentinels", 0)) < others:
                    return False
            return True

        wait_until(
            settled,
            timeout,
            interval=0.2,
            message="the Sentinels did not discover the replica and each other",
            ignore=(redis.RedisError,),
        )
        self._known_master_port = master.port
        return self

    @property
    def sentinel_addrs(self) -> list[tuple[str, int]]:
        return [s.addr for s in self.sentinels]

    @property
    def cluster_peers(self) -> list[str]:
        """Each Sentinel as host:port, ready for alerter's `--cluster.peer` flags."""
        return [f"{h}:{p}" for h, p in self.sentinel_addrs]

    def master_port(self) -> int:
        """The master's port as the first answering Sentinel names it."""
        errors: list[str] = []
        for s in self.sentinels:
            try:
                addr = s.master_addr()
            except redis.RedisError as err:
                errors.append(f"{s.port}: {err}")
                continue
            if addr is not None:
                return addr[1]
        raise AssertionError(f"no Sentinel named a master for {self.service!r}: {errors}")

    def server_on(self, port: int) -> RedisServer:
        for server in self.servers:
            if server.port == port:
                return server
        raise KeyError(port)

    @property
    def master(self) -> RedisServer:
        return self.server_on(self.master_port())

    def sentinel(self, **kwargs: Any) -> redis.sentinel.Sentinel:
        kwargs.setdefault("socket_timeout", 2)
        return redis.sentinel.Sentinel(self.sentinel_addrs, **kwargs)

    def master_client(self, **kwargs: Any) -> redis.Redis:
        """A client that follows the master through failovers, as alerter's does."""
        return self.sentinel().master_for(self.service, **kwargs)

    def kill_master(self) -> RedisServer:
        """SIGKILL the current master; returns its RedisServer. `restart()` brings it back
        empty; the Sentinels turn it into a replica at their next INFO poll (up to ~10s)."""
        master = self.master
        self._known_master_port = master.port
        master.kill()
        return master

    def wait_failover(self, timeout: float = 30.0) -> int:
        """Wait until every running Sentinel names a new master and that server says it is one;
        returns the new master's port."""
        old = self._known_master_port

        def promoted() -> int | None:
            ports = {s.master_addr() for s in self.sentinels if s.running}
            if len(ports) != 1:
                return None
            (addr,) = ports
            if addr is None or addr[1] == old:
                return None
            return addr[1] if self.server_on(addr[1]).role() == "master" else None

        port = wait_until(
            promoted,
            timeout,
            interval=0.1,
            message=f"no failover away from port {old}",
            ignore=(redis.RedisError, KeyError),
        )
        self._known_master_port = port
        return port

    def stop(self) -> None:
        for s in self.sentinels:
            s.stop()
        for server in self.servers:
            server.stop()

    def __enter__(self) -> RedisHACluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class RedisClusterNodes:
    """A private Redis Cluster: `masters` redis-servers with `--cluster-enabled yes` on free
    ports, and `replicas` more for each, joined by `redis-cli --cluster create`, which spreads
    the 16384 slots evenly over the masters (the first `masters` nodes). With `tls` every node
    serves TLS only, to clients and on the cluster bus. `start()` returns once every node reports
    the cluster `ok` and every replica is in sync; `stop()` stops every node. Each node's
    cluster state file lives in its own directory.
    """

    def __init__(self, masters: int = 3, replicas: int = 0, tls: TLSFiles | None = None) -> None:
        self.replicas = replicas
        self.tls = tls
        args = ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]
        if tls is not None:
            args += ["--tls-cluster", "yes"]
        self.nodes = [RedisServer(extra_args=args, tls=tls) for _ in range(masters * (1 + replicas))]

    @property
    def url(self) -> str:
        """--redis.url for alerter: any node; the client learns the rest from it."""
        return self.nodes[0].url

    def _cli(self) -> list[str]:
        """redis-cli, with this cluster's TLS files when it has them."""
        cli = [require_binary("redis-cli", "redis-tools")]
        if self.tls is not None:
            cli += ["--tls", "--cacert", str(self.tls.ca), "--cert", str(self.tls.client_cert)]
            cli += ["--key", str(self.tls.client_key)]
        return cli

    def start(self) -> RedisClusterNodes:
        for node in self.nodes:
            node.start()
        command = [
            *self._cli(),
            "--cluster", "create", *(f"{HOST}:{node.port}" for node in self.nodes),
            "--cluster-replicas", str(self.replicas), "--cluster-yes",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, f"redis-cli --cluster create failed:\n{done.stdout}\n{done.stderr}"

        def formed() -> bool:
            for node in self.nodes:
                with node.client(decode_responses=True) as c:
                    if "cluster_state:ok" not in c.execute_command("CLUSTER", "INFO"):
                        return False
            return True

        wait_until(formed, 30, message="the Redis Cluster did not reach state ok", ignore=(redis.RedisError,))
        for node in self.nodes:
            if node.role() == "slave":
                node.wait_synced()
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def reshard(self, source: RedisServer, target: RedisServer, slots: int) -> None:
        """Move `slots` slots (the lowest `source` serves) with their keys to `target`, as an
        operator does with `redis-cli --cluster reshard`; returns once they are moved."""
        ids = []
        for node in (source, target):
            with node.client(decode_responses=True) as c:
                ids.append(c.execute_command("CLUSTER", "MYID"))
        command = [
            *self._cli(),
            "--cluster", "reshard", f"{HOST}:{source.port}",
            "--cluster-from", ids[0], "--cluster-to", ids[1],
            "--cluster-slots", str(slots), "--cluster-yes",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"redis-cli --cluster reshard failed:\n{done.stdout}\n{done.stderr}"

    def owner(self, slot: int) -> RedisServer:
        """The master that serves `slot` now, as the first running node sees the cluster (CLUSTER
        SHARDS, which redis-py reads into dicts)."""
        asked = next(node for node in self.nodes if node.running)
        with asked.client(decode_responses=True) as c:
            for shard in c.execute_command("CLUSTER", "SHARDS"):
                ranges = shard["slots"]
                if any(lo <= slot <= hi for lo, hi in zip(ranges[::2], ranges[1::2], strict=True)):
                    port = next(
                        n["port"] for n in shard["nodes"] if n["role"] == "master" and n["health"] == "online"
                    )
                    return next(node for node in self.nodes if node.port == port)
        raise AssertionError(f"no node serves slot {slot}")

    def __enter__(self) -> RedisClusterNodes:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
