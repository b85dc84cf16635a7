"""Shared pieces of the HA failure tests: a split alerter deployment whose processes can be
killed and restarted one by one, Prometheus-like pushers, and receiver bookkeeping.

Everything here drives real processes (tests/support/processes.py); nothing reaches into
alerter's code except documented Redis keys that a test reads to decide *when* to act.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis
import requests

from app.redis_keys import Keys
from app.timeutil import format_rfc3339
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.ports import free_port
from tests.support.processes import ManagedProcess, alerter_command, holds, wait_until

# ---------------------------------------------------------------------------------------------
# The deployment


@dataclass
class Slot:
    """One role in the deployment (a worker, or a web instance on a fixed port) and the process
    currently filling it; a restart puts a new process in the same slot."""

    kind: str  # "worker" or "web"
    index: int
    argv: list[str]
    url: str = ""  # web instances only
    process: ManagedProcess | None = None

    @property
    def name(self) -> str:
        return f"{self.kind}{self.index}"

    def start(self) -> ManagedProcess:
        self.process = ManagedProcess(self.argv, name=f"alerter-{self.name}")
        return self.process


@dataclass
class AlerterCluster:
    """`alerter web` and `alerter worker` processes on one shared Redis (or Sentinel set).

    `backend` are the flags naming Redis (`--redis.url=...` or `--cluster.peer=...` flags);
    every process gets them, the config file, the peer timeout and debug logs.
    """

    config: Path
    backend: Sequence[str]
    peer_timeout: str = "3s"
    extra: Sequence[str] = ()
    workers: list[Slot] = field(default_factory=list)
    webs: list[Slot] = field(default_factory=list)
    started: list[ManagedProcess] = field(default_factory=list)  # every process ever started

    @property
    def common(self) -> list[str]:
        return [
            f"--config.file={self.config}",
            *self.backend,
            f"--cluster.peer-timeout={self.peer_timeout}",
            "--log.level=debug",
            *self.extra,
        ]

    @property
    def web_urls(self) -> list[str]:
        return [w.url for w in self.webs]

    def _run(self, slot: Slot) -> ManagedProcess:
        proc = slot.start()
        self.started.append(proc)
        return proc

    def add_worker(self) -> Slot:
        slot = Slot("worker", len(self.workers), alerter_command("worker", *self.common))
        self.workers.append(slot)
        self._run(slot)
        return slot

    def add_web(self, web_workers: int = 2) -> Slot:
        port = free_port()
        argv = alerter_command(
            "web", *self.common, f"--web.listen-address=127.0.0.1:{port}", f"--web.workers={web_workers}"
        )
        slot = Slot("web", len(self.webs), argv, url=f"http://127.0.0.1:{port}")
        self.webs.append(slot)
        self._run(slot)
        return slot

    def add(self, workers: int, webs: int, web_workers: int = 2) -> None:
        """Start `workers` workers, then `webs` web instances of `web_workers` processes each."""
        for _ in range(workers):
            self.add_worker()
        for _ in range(webs):
            self.add_web(web_workers=web_workers)

    def wait_ready(self, client: redis.Redis, timeout: float = 60.0) -> None:
        """Every web instance answers /-/ready and every worker registered with RQ."""
        for web in self.webs:
            assert web.process is not None
            web.process.wait_http(f"{web.url}/-/ready", timeout=timeout)
        wait_until(
            lambda: registered_workers(client) >= len(self.workers),
            timeout,
            interval=0.1,
            message=f"{len(self.workers)} alerter workers did not register with RQ\n{self.tails()}",
            ignore=(redis.RedisError,),
        )

    def kill_and_restart(self, slot: Slot) -> int:
        """SIGKILL the slot's process (and what it forked), start a fresh one; the killed pid."""
        assert slot.process is not None
        pid = slot.process.pid
        slot.process.kill()
        self._run(slot)
        return pid

    def exited(self) -> list[str]:
        """The slots whose current process is no longer running, with their exit codes."""
        return [
            f"{s.name} (pid {s.process.pid}, exit code {s.process.returncode})"
            for s in self.workers + self.webs
            if s.process is not None and not s.process.is_running()
        ]

    def worker_pids(self) -> dict[int, Slot]:
        return {s.process.pid: s for s in self.workers if s.process is not None}

    def log_text(self) -> str:
        return "\n".join(f"===== {p.name} (pid {p.pid})\n{p.log_text()}" for p in self.started)

    def tails(self, lines: int = 15) -> str:
        return "\n".join(f"===== {p.name} (pid {p.pid})\n{p.log_tail(lines)}" for p in self.started)

    def stop(self) -> None:
        for proc in self.started:
            proc.stop(timeout=5)


def registered_workers(client: redis.Redis) -> int:
    """How many RQ workers are registered (RQ's `rq:workers` set)."""
    return int(client.scard("rq:workers"))


# ---------------------------------------------------------------------------------------------
# Prometheus-like pushers


class ReadWriteLock:
    """Many concurrent posts (readers) or one state change (writer): a resolution never
    overtakes a batch built from the state before it (see Pusher)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    def acquire_read(self) -> None:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            self._cond.notify_all()

    def acquire_write(self) -> None:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._writer = True
            while self._readers:
                self._cond.wait()

    def release_write(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()


@dataclass
class PlannedGroup:
    """One aggregation group of the scenario: `instances` alerts named `name`, posted from
    `appears_at` on, resolved (endsAt set to the past) from `resolved_at` on."""

    name: str
    appears_at: float
    instances: tuple[str, ...] = ("a", "b")
    resolved_at: float | None = None


class Scenario:
    """What the Prometheus servers currently fire, changed under the write lock."""

    def __init__(self, groups: Iterable[PlannedGroup], ends_in: float = 60.0) -> None:
        self.groups = {g.name: g for g in groups}
        self.ends_in = ends_in
        self.lock = ReadWriteLock()

    def alerts(self, now: float) -> list[dict[str, Any]]:
        """The batch a Prometheus server sends now (call with the read lock held)."""
        batch = []
        for g in self.groups.values():
            if g.appears_at > now:
                continue
            ends = g.resolved_at if g.resolved_at is not None else now + self.ends_in
            for inst in g.instances:
                batch.append(
                    {
                        "labels": {"alertname": g.name, "instance": inst, "job": "ha-test"},
                        "annotations": {"summary": f"{g.name} on {inst}"},
                        "startsAt": format_rfc3339(g.appears_at),
                        "endsAt": format_rfc3339(ends),
                        "generatorURL": f"http://prometheus.test/graph?g0.expr={g.name}",
                    }
                )
        return batch

    def add(self, group: PlannedGroup) -> None:
        """Prometheus starts firing a new group (its batches include it from now on)."""
        self.lock.acquire_write()
        try:
            self.groups[group.name] = group
        finally:
            self.lock.release_write()

    def resolve(self, name: str) -> float:
        """Prometheus resolves the group's alerts: from now on every batch has endsAt = now."""
        self.lock.acquire_write()
        try:
            at = time.time()
            self.groups[name].resolved_at = at
            return at
        finally:
            self.lock.release_write()


@dataclass
class PushStats:
    posts: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)  # answers that no retry can fix (4xx)


class Pusher:
    """`prometheus` Prometheus servers, each posting its current alerts to every web instance
    every `interval` seconds, one thread per (server, instance) as Prometheus does.

    A post that fails to connect, times out or gets a 5xx (a killed web instance refuses for a
    moment; a Redis failover makes the web tier answer 5xx) is retried with a fresh batch every
    `retry_delay` until it succeeds. Each attempt builds its batch and posts it under the
    scenario's read lock, so a batch built before a resolution cannot land after it.
    """

    def __init__(
        self,
        urls: Callable[[], list[str]],
        scenario: Scenario,
        prometheus: int = 2,
        interval: float = 1.0,
        retry_delay: float = 0.1,
        timeout: float = 10.0,
    ) -> None:
        self.urls = urls
        self.scenario = scenario
        self.prometheus = prometheus
        self.interval = interval
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.stats = PushStats()
        self._stats_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Pusher:
        for prom in range(self.prometheus):
            for index in range(len(self.urls())):
                t = threading.Thread(
                    target=self._run, args=(index,), name=f"prometheus{prom}->web{index}", daemon=True
                )
                t.start()
                self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout + 5)

    def _attempt(self, session: requests.Session, url: str) -> bool:
        self.scenario.lock.acquire_read()
        try:
            batch = self.scenario.alerts(time.time())
            if not batch:
                return True
            try:
                r = session.post(f"{url}/api/v2/alerts", json=batch, timeout=self.timeout)
            except requests.RequestException:
                return False
        finally:
            self.scenario.lock.release_read()
        if r.status_code == 200:
            return True
        if r.status_code >= 500:
            return False
        with self._stats_lock:
            self.stats.errors.append(f"{url}: HTTP {r.status_code}: {r.text[:200]}")
        return True

    def _run(self, index: int) -> None:
        session = requests.Session()
        next_at = time.monotonic()
        while not self._stop.is_set():
            url = self.urls()[index]
            while not self._attempt(session, url):
                session.close()
                session = requests.Session()
                with self._stats_lock:
                    self.stats.retries += 1
                if self._stop.wait(self.retry_delay):
                    return
            with self._stats_lock:
                self.stats.posts += 1
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))


# ---------------------------------------------------------------------------------------------
# What the receiver got

NotificationKey = tuple[str, str, frozenset[str]]


def notification_key(req: ReceivedRequest) -> NotificationKey:
    """(groupKey, status, fingerprints of the alerts): what "the same notification" means."""
    body = req.json
    return body["groupKey"], body["status"], frozenset(a["fingerprint"] for a in body["alerts"])


def group_name(req: ReceivedRequest) -> str:
    return str(req.json["groupLabels"]["alertname"])


def count_notifications(requests_: list[ReceivedRequest]) -> Counter[NotificationKey]:
    return Counter(notification_key(r) for r in requests_)


def describe(req: ReceivedRequest, t0: float) -> str:
    fps = sorted(a["fingerprint"] for a in req.json["alerts"])
    return f"t={req.received_at - t0:7.3f}s {group_name(req)} {req.json['status']} {fps}"


@dataclass
class FailoverDuplicates:
    """A failover's notifications sent more than once, each line described, by what explains
    them: `in_flight` (the first copy reached the receiver just before the kill: sent, its commit
    lost with the master, so rightly sent again), `lost_commits` (the first copy came long before
    the kill: its commit was acknowledged, then lost, a bug) and `late` (the first copy came after
    the promotion: nothing explains it, a bug)."""

    in_flight: list[str]
    lost_commits: list[str]
    late: list[str]


def failover_duplicates(
    received: list[ReceivedRequest], t0: float, killed_at: float, promoted_at: float, commit_slack: float
) -> FailoverDuplicates:
    """Sort the notifications received more than once. A send is in flight at the kill when its
    first copy arrived at most `commit_slack` (the receiver's answer delay, plus the time from
    the answer to the worker's commit) before it (times are time.time())."""
    out = FailoverDuplicates([], [], [])
    for key, n in count_notifications(received).items():
        if n == 1:
            continue
        copies = sorted((r for r in received if notification_key(r) == key), key=lambda r: r.received_at)
        line = f"{describe(copies[0], t0)} x{n}, again at " + ", ".join(
            f"t={c.received_at - t0:.3f}s" for c in copies[1:]
        )
        first = copies[0].received_at
        if first > promoted_at:
            out.late.append(line)
        elif first < killed_at - commit_slack:
            out.lost_commits.append(line)
        else:
            out.in_flight.append(line)
    return out


def print_duplicates(dups: FailoverDuplicates) -> None:
    for line in dups.in_flight:
        print(f"  duplicate (in flight at the kill): {line}")
    for line in dups.lost_commits:
        print(f"  LOST COMMIT (first copy long before the kill): {line}")
    for line in dups.late:
        print(f"  UNEXPLAINED duplicate (first copy after the promotion): {line}")


def assert_explained(dups: FailoverDuplicates) -> None:
    """Only sends in flight at the kill may have been sent twice."""
    lost = "\n".join(dups.lost_commits)
    assert not lost, f"acknowledged commits lost in the failover:\n{lost}"
    assert not dups.late, "duplicates not explained by the failover:\n" + "\n".join(dups.late)


def no_more_arrive(sink: HttpSink, seconds: float, t0: float, after: str) -> None:
    """Assert that the sink receives nothing for `seconds` from now; the failure lists what
    came `after` the given moment."""
    settled = len(sink.requests)
    holds(
        lambda: len(sink.requests) == settled,
        seconds,
        lambda: (
            f"notifications still arriving {after}:\n"
            + "\n".join(describe(r, t0) for r in sink.requests[settled:])
        ),
    )


def committed_firing_sets(client: redis.Redis, prefix: str = "alerter") -> set[frozenset[str]]:
    """The firing sets recorded in the notification log (`P:nflog`, app/redis_keys.py)."""
    out = set()
    for raw in client.hvals(Keys(prefix).nflog):
        out.add(frozenset(orjson.loads(raw)["f"]))
    return out


# ---------------------------------------------------------------------------------------------
# Who sent a request


def pid_owning_connection(local_port: int, remote_port: int, pids: Iterable[int]) -> int | None:
    """The pid among `pids` holding the TCP connection 127.0.0.1:local_port -> :remote_port
    (read from /proc/net/tcp and /proc/<pid>/fd), or None if none of them holds it."""
    inodes: set[str] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        local, remote, inode = cols[1], cols[2], cols[9]
        if (
            int(local.rsplit(":", 1)[1], 16) == local_port
            and int(remote.rsplit(":", 1)[1], 16) == remote_port
        ):
            inodes.add(f"socket:[{inode}]")
    if not inodes:
        return None
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return pid
            except OSError:
                continue
    return None


def _quiet_on_dead_senders(sink: HttpSink) -> None:
    """A sender SIGKILLed while the sink answers is expected here: do not print the broken pipe
    (any other handler error is still printed)."""
    server = sink._server
    default = server.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            default(request, client_address)

    server.handle_error = handle_error  # type: ignore[method-assign]


class SenderRecordingSink(HttpSink):
    """An HttpSink that records which process sent each request (`senders`, in arrival order,
    None when the sender was none of `candidate_pids`): the tests tell a worker that sent and
    died from one that sent twice."""

    def __init__(self, candidate_pids: Callable[[], Iterable[int]] = tuple) -> None:
        super().__init__()
        self.candidate_pids = candidate_pids
        self.senders: list[int | None] = []
        _quiet_on_dead_senders(self)

    def _record(self, request: ReceivedRequest) -> int:
        pid = pid_owning_connection(request.client_port, self.port, self.candidate_pids())
        with self._cond:  # reentrant: HttpSink._record takes it too
            self.senders.append(pid)
            return super()._record(request)


class HoldingSink(SenderRecordingSink):
    """Holds its first request unanswered until `release` is set, then answers it with
    `first_status`: a receiver that hangs while the test freezes the sender mid-send."""

    def __init__(self, candidate_pids: Callable[[], Iterable[int]], first_status: int = 200) -> None:
        super().__init__(candidate_pids)
        self.first_status = first_status
        self.release = threading.Event()

    def _record(self, request: ReceivedRequest) -> int:
        with self._cond:
            first = not self._requests
            status = super()._record(request)
        if first:
            self.release.wait(timeout=120)
            return self.first_status
        return status

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        super().__exit__(*exc)


class SlowSink(SenderRecordingSink):
    """Records each request at once but answers only after `delay` seconds, as a busy receiver
    does: the sender is mid-send (sent, not yet committed) for that long."""

    def __init__(self, delay: float, candidate_pids: Callable[[], Iterable[int]] = tuple) -> None:
        super().__init__(candidate_pids)
        self.delay = delay

    def _record(self, request: ReceivedRequest) -> int:
        status = super()._record(request)
        time.sleep(self.delay)
        return status
