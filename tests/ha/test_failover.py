"""Redis master SIGKILLed under load: alerter follows the Sentinel failover, notifications resume
within down-after + failover time + 5 s, and no group is left without its notification.

Deployment: `RedisHACluster` (a master, one replica, three Sentinels, down-after 1000 ms,
failover-timeout 2000 ms); two `alerter web` instances and three `alerter worker` processes
started with one `--cluster.peer` per Sentinel and `--cluster.label=alerter` (the Sentinel
service name), `--cluster.peer-timeout=3s`, group_wait 1s, group_interval 2s, repeat_interval 1h.
Two Prometheus servers post every alert to both web instances every second (retrying while the
web tier answers 5xx); a new group of two alerts appears every 0.5 s before, during and after the
failover. The webhook receiver answers after 0.1 s, so some sends are in flight at the kill.

A commit returns only once the replica holds it (WAIT, app/durability.py), so the only
notifications sent twice are those in flight at the kill: sent, with their commit failing on the
dead master. Those duplicates are printed. A duplicate whose first copy arrived more than the
receiver's delay + 1 s before the kill (its commit was acknowledged, then lost) or after the new
master took over would be a bug and fails the test.

The other two tests stall replication while a silence is created, or a notification logged, and
SIGKILL the master 50 ms after alerter acknowledged it: it survives the failover, as it would not
if alerter answered before a replica held it (`kill_master_after_ack`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import requests

from app.redis_keys import Keys
from app.timeutil import format_rfc3339
from tests.e2e.conftest import webhook_receiver, write_config
from tests.ha.harness import (
    AlerterCluster,
    PlannedGroup,
    Pusher,
    Scenario,
    SlowSink,
    assert_explained,
    count_notifications,
    describe,
    failover_duplicates,
    group_name,
    no_more_arrive,
    print_duplicates,
)
from tests.support.http_sink import HttpSink
from tests.support.processes import wait_until
from tests.support.redis_server import RedisHACluster

DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 2000
GROUPS = 40
APPEAR_EVERY = 0.5
KILL_AT = 8.0  # seconds after the first group appeared
PEER_TIMEOUT = 3.0
GROUP_INTERVAL = 2.0
RESUME_SLACK = 5.0
SINK_DELAY = 0.1
COMMIT_SLACK = 1.0  # from the receiver's answer to the worker's commit, on a loaded machine


def test_master_killed_notifications_resume_and_no_group_is_lost(tmp_path: Path) -> None:
    """Regression: workers once exited about 0.5 s after the master died, because rebuilding
    RQ's worker (CLIENT SETNAME) failed while Sentinel still named the dead master; WorkerLoop
    now retries that construction."""
    began = time.monotonic()
    with (
        SlowSink(SINK_DELAY) as sink,
        RedisHACluster(down_after_ms=DOWN_AFTER_MS, failover_timeout_ms=FAILOVER_TIMEOUT_MS) as ha,
    ):
        config = write_config(
            tmp_path / "am.yml", [webhook_receiver(sink.url)], route={"repeat_interval": "1h"}
        )
        peers = [f"--cluster.peer={p}" for p in ha.cluster_peers]
        cluster = AlerterCluster(
            config, [*peers, "--cluster.label=alerter"], peer_timeout=f"{PEER_TIMEOUT:g}s"
        )
        pusher: Pusher | None = None
        try:
            cluster.add(workers=3, webs=2)
            with ha.master_client(socket_timeout=2) as client:
                cluster.wait_ready(client)

            t0 = time.time()
            groups = [
                PlannedGroup(f"Failover{i:02d}", appears_at=t0 + 1 + i * APPEAR_EVERY) for i in range(GROUPS)
            ]
            scenario = Scenario(groups)
            pusher = Pusher(lambda: cluster.web_urls, scenario).start()

            # Alerts flow and get notified before the kill.
            wait_until(
                lambda: len(sink.requests) >= 3,
                20,
                message=f"no notifications before the kill\n{cluster.tails()}",
            )
            wait_until(lambda: time.time() >= t0 + 1 + KILL_AT, KILL_AT + 5)
            old_master = ha.kill_master()
            killed_at = time.time()
            new_port = ha.wait_failover(timeout=DOWN_AFTER_MS / 1000 + FAILOVER_TIMEOUT_MS / 1000 + 20)
            promoted_at = time.time()
            failover_time = promoted_at - killed_at - DOWN_AFTER_MS / 1000

            # Notifications resume: a group that appeared after the kill gets notified.
            bound = DOWN_AFTER_MS / 1000 + failover_time + RESUME_SLACK
            after_kill = {g.name for g in groups if g.appears_at >= killed_at}

            def resumed() -> float | None:
                for r in sink.requests:
                    if group_name(r) in after_kill:
                        return r.received_at
                return None

            try:
                resumed_at = wait_until(resumed, bound - (time.time() - killed_at), interval=0.05)
            except AssertionError:
                raise AssertionError(
                    f"no notification for a group created after the kill within {bound:.1f}s of it "
                    f"(down-after {DOWN_AFTER_MS} ms + failover {failover_time:.1f}s + {RESUME_SLACK:g}s); "
                    f"alerter processes that exited: {cluster.exited()}\n{cluster.tails(30)}"
                ) from None

            # Every group, before, during and after the failover, gets its notification.
            last_appears = groups[-1].appears_at

            def all_notified() -> bool:
                got = {group_name(r) for r in sink.requests}
                return all(g.name in got for g in groups)

            try:
                wait_until(
                    all_notified, max(0.0, last_appears - time.time()) + 25, interval=0.2, message="lost"
                )
            except AssertionError:
                got = {group_name(r) for r in sink.requests}
                missing = [g.name for g in groups if g.name not in got]
                raise AssertionError(
                    f"groups never notified: {missing}; alerter processes that exited: {cluster.exited()}"
                    f"\n{cluster.tails(30)}"
                ) from None
            done_at = time.time()
            assert not cluster.exited(), f"alerter processes exited: {cluster.exited()}\n{cluster.tails(30)}"
            # Late resends would follow a lease expiry and the next tick; then nothing more arrives.
            no_more_arrive(sink, PEER_TIMEOUT + 2 * GROUP_INTERVAL + 1, t0, "once every group was notified")
        finally:
            if pusher is not None:
                pusher.stop()
            cluster.stop()

        received = sink.requests
        counts = count_notifications(received)
        unexpected = [
            describe(r, t0) for r in received if r.json["status"] != "firing" or len(r.json["alerts"]) != 2
        ]
        dups = failover_duplicates(received, t0, killed_at, promoted_at, SINK_DELAY + COMMIT_SLACK)

        print(
            f"\nfailover: master :{old_master.port} killed at t={killed_at - t0:.2f}s, replica :{new_port} "
            f"promoted {promoted_at - killed_at:.2f}s later (down-after {DOWN_AFTER_MS} ms + "
            f"{failover_time:.2f}s); first notification of a post-kill group {resumed_at - killed_at:.2f}s "
            f"after the kill (bound {bound:.2f}s); {len(groups)} groups, {len(received)} notifications "
            f"({len(counts)} distinct), duplicates from the failover: {len(dups.in_flight)}; all notified "
            f"{done_at - killed_at:.1f}s after the kill; pushes {pusher.stats.posts if pusher else 0} "
            f"(retried attempts {pusher.stats.retries if pusher else 0}); whole test "
            f"{time.monotonic() - began:.1f}s"
        )
        print_duplicates(dups)

        assert pusher is not None and not pusher.stats.errors, pusher.stats.errors if pusher else None
        assert not unexpected, "unexpected notifications:\n" + "\n".join(unexpected)
        assert_explained(dups)


STALL_AFTER_WRITES = 0.5  # how long replication stays stalled once the write is on the master
BALLAST_BYTES = 32 * 1024 * 1024  # more than the socket buffers between master and replica hold
KILL_AFTER_ACK = 0.05


@dataclass
class Acknowledged:
    """What `kill_master_after_ack` did, with its times (time.time())."""

    value: Any  # what the acknowledgement returned
    stalled_at: float
    acknowledged_at: float
    killed_at: float
    promoted_at: float

    def summary(self) -> str:
        return (
            f"acknowledged {self.killed_at - self.acknowledged_at:.3f}s before the kill (replication "
            f"stalled {self.acknowledged_at - self.stalled_at:.2f}s before the acknowledgement); replica "
            f"promoted {self.promoted_at - self.killed_at:.2f}s after the kill"
        )


@contextmanager
def sentinel_deployment(tmp_path: Path) -> Iterator[tuple[HttpSink, RedisHACluster, AlerterCluster]]:
    """A webhook sink, Redis master + replica + three Sentinels, one `alerter web` and two
    workers. --cluster.probe-timeout (WAIT's bound) is longer than any stall below, so an
    acknowledgement always waits for the replica."""
    with (
        HttpSink() as sink,
        RedisHACluster(down_after_ms=DOWN_AFTER_MS, failover_timeout_ms=FAILOVER_TIMEOUT_MS) as ha,
    ):
        config = write_config(
            tmp_path / "am.yml",
            [webhook_receiver(sink.url)],
            route={"group_wait": "1s", "group_interval": f"{GROUP_INTERVAL:g}s", "repeat_interval": "1h"},
        )
        peers = [f"--cluster.peer={p}" for p in ha.cluster_peers]
        cluster = AlerterCluster(
            config,
            [*peers, "--cluster.label=alerter", "--cluster.probe-timeout=8s"],
            peer_timeout=f"{PEER_TIMEOUT:g}s",
        )
        try:
            cluster.add(workers=2, webs=1)
            with ha.master_client(socket_timeout=2) as client:
                cluster.wait_ready(client)
            yield sink, ha, cluster
            assert not cluster.exited(), f"alerter processes exited: {cluster.exited()}\n{cluster.tails(30)}"
        finally:
            cluster.stop()


def kill_master_after_ack(
    ha: RedisHACluster, written: Callable[[redis.Redis], object], acknowledge: Callable[[], Any]
) -> Acknowledged:
    """Stall replication, let alerter write and acknowledge, SIGKILL the master KILL_AFTER_ACK
    after the acknowledgement, and wait for the Sentinels to promote the replica.

    The replica is frozen (SIGSTOP) behind a large write: a frozen replica alone stalls nothing,
    since the master's writes wait in the kernel's socket buffers and reach the replica when it
    resumes, even after the master died; with those buffers full, what alerter writes next stays
    in the master's memory, as behind a slow replica, and dies with it. The replica is resumed
    STALL_AFTER_WRITES after `written(master client)` first holds. An acknowledgement that did
    not wait for the replica comes within that stall, and so does the kill.
    """
    master = ha.master
    replica = next(s for s in ha.servers if s.port != master.port)
    assert replica.process is not None
    frozen = replica.process
    on_master = master.client()
    frozen.pause()
    on_master.set("test:replication-ballast", b"\0" * BALLAST_BYTES)
    stalled_at = time.time()

    def end_the_stall() -> None:
        try:
            wait_until(
                lambda: written(on_master), 20, interval=0.01, message="the write never reached the master"
            )
            time.sleep(STALL_AFTER_WRITES)
        finally:
            frozen.resume()

    stall = threading.Thread(target=end_the_stall, name="stall", daemon=True)
    stall.start()
    try:
        value = acknowledge()
        acknowledged_at = time.time()
        time.sleep(KILL_AFTER_ACK)
        ha.kill_master()
        killed_at = time.time()
    finally:
        stall.join(timeout=30)
    ha.wait_failover(timeout=DOWN_AFTER_MS / 1000 + FAILOVER_TIMEOUT_MS / 1000 + 20)
    return Acknowledged(value, stalled_at, acknowledged_at, killed_at, time.time())


def test_a_silence_answered_50ms_before_the_master_is_killed_survives_the_failover(tmp_path: Path) -> None:
    """After the failover the silence is listed, active, and mutes a group that appears then."""
    keys = Keys("alerter")
    with sentinel_deployment(tmp_path) as (sink, ha, cluster):
        web = cluster.web_urls[0]
        body = {
            "matchers": [{"name": "alertname", "value": "Quiet", "isRegex": False, "isEqual": True}],
            "startsAt": format_rfc3339(time.time()),
            "endsAt": format_rfc3339(time.time() + 3600),
            "createdBy": "ops",
            "comment": "created just before the master died",
        }

        def create() -> str:
            r = requests.post(f"{web}/api/v2/silences", json=body, timeout=60)
            assert r.status_code == 200, r.text
            return str(r.json()["silenceID"])

        acked = kill_master_after_ack(ha, lambda r: r.hlen(keys.silences), create)

        def silence_state() -> str | None:
            """The silence's state through the web tier; None while it answers 5xx (it follows
            the new master within a few seconds), "missing" on a 404."""
            r = requests.get(f"{web}/api/v2/silence/{acked.value}", timeout=5)
            if r.status_code == 404:
                return "missing"
            return str(r.json()["status"]["state"]) if r.status_code == 200 else None

        state = wait_until(
            silence_state,
            30,
            interval=0.1,
            message="the web tier never answered after the failover",
            ignore=(requests.RequestException, ValueError),
        )
        print(f"\nsilence {acked.summary()}; its state after the failover: {state}")
        assert state == "active", f"the silence answered before the kill is {state} after the failover"
        pusher = Pusher(lambda: cluster.web_urls, Scenario([PlannedGroup("Quiet", time.time())])).start()
        try:
            no_more_arrive(sink, 1 + 2 * GROUP_INTERVAL + 1, acked.stalled_at, "for the silenced group")
        finally:
            pusher.stop()
        assert sink.requests == []


def test_a_notification_logged_50ms_before_the_master_is_killed_is_not_sent_again(tmp_path: Path) -> None:
    """Prometheus keeps re-sending the alerts through the failover; every tick of the group
    after it finds the notification logged."""
    keys = Keys("alerter")
    with sentinel_deployment(tmp_path) as (sink, ha, cluster):
        # Started more than group_wait ago: the group is due as soon as it is created.
        scenario = Scenario([PlannedGroup("Acked", appears_at=time.time() - 5)])
        pushers: list[Pusher] = []

        def notify() -> None:
            pushers.append(Pusher(lambda: cluster.web_urls, scenario, prometheus=1).start())
            wait_until(
                lambda: "notification logged" in cluster.log_text(),
                60,
                message=f"the notification was never logged\n{cluster.tails()}",
            )

        try:
            acked = kill_master_after_ack(ha, lambda r: r.hlen(keys.nflog), notify)
            # The group's ticks after the failover, and a lease expiry, would each send it again.
            no_more_arrive(
                sink, PEER_TIMEOUT + 2 * GROUP_INTERVAL + 1, acked.stalled_at, "after the failover"
            )
        finally:
            for pusher in pushers:
                pusher.stop()
        received = [describe(r, acked.stalled_at) for r in sink.requests]
        print(f"\nnotification {acked.summary()}; received: {received}")
        assert len(received) == 1 and " Acked firing " in received[0], (
            "expected the one notification of Acked, sent before the kill:\n" + "\n".join(received)
        )
