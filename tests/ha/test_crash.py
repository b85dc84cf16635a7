"""Random SIGKILLs of workers and web instances while alerts flow: nothing lost, and a
notification repeated only when a worker died between sending it and committing it.

Deployment: a private Redis, two `alerter web` instances (gunicorn, two workers each), three
`alerter worker` processes, `--cluster.peer-timeout=3s` (the send lease's TTL), group_wait 1s,
group_interval 2s, repeat_interval 1h (no repeats during the test).

Load: two Prometheus servers post every alert to both web instances every second (retrying a
refused post) to a webhook receiver that answers after 0.3 s. 30 groups of two alerts appear
over 20 s; every third group resolves once its firing notification is in the notification log
(resolving earlier would make the resolved notification legitimately unnecessary: Alertmanager
only reports the resolution of what it notified).

Chaos: every 3 s a seeded RNG picks one of the five processes, SIGKILLs it (a web instance with
its gunicorn workers) and starts a fresh one in its place. Set ALERTER_HA_SEED to replay
another sequence.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from collections import Counter
from pathlib import Path

from app.notify.pipeline import SEND_THREADS
from tests.e2e.conftest import webhook_receiver, write_config
from tests.ha.harness import (
    AlerterCluster,
    PlannedGroup,
    Pusher,
    Scenario,
    SlowSink,
    committed_firing_sets,
    count_notifications,
    describe,
    group_name,
    no_more_arrive,
    notification_key,
)
from tests.support.http_sink import ReceivedRequest
from tests.support.processes import wait_until
from tests.support.redis_server import RedisServer

SEED = int(os.environ.get("ALERTER_HA_SEED", "1207"))
GROUPS = 30
APPEAR_OVER = 20.0  # seconds over which the groups appear
RESOLVE_EVERY = 3  # groups 0, 3, 6, ... resolve
RESOLVE_AFTER = 4.0  # at the earliest, seconds after the group appeared
KILL_EVERY = 3.0
CHAOS_FOR = 30.0
PEER_TIMEOUT = 3.0
GROUP_INTERVAL = 2.0
SETTLE_TIMEOUT = 45.0
# The receiver answers after this long: a worker killed meanwhile has sent but not committed.
RECEIVER_DELAY = 0.3
# A duplicate is the resend of a notification whose first copy's sender was killed after the
# copy reached the receiver and before the answer could be committed: within this long of the
# arrival (the receiver's delay, the commit's round trip and scheduling slack).
KILL_AFTER_ARRIVAL = RECEIVER_DELAY + 1.0
# When the sink could not tell the sender (it died before the lookup), any worker killed within
# this window around the first copy's arrival may explain the duplicate.
KILL_BEFORE_ARRIVAL_UNKNOWN_SENDER = 1.5


def test_random_sigkills_lose_nothing_and_every_duplicate_is_a_killed_workers_send(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    began = time.monotonic()
    with SlowSink(RECEIVER_DELAY) as sink, RedisServer() as redis_server:
        config = write_config(
            tmp_path / "am.yml", [webhook_receiver(sink.url)], route={"repeat_interval": "1h"}
        )
        cluster = AlerterCluster(
            config, [f"--redis.url={redis_server.url}"], peer_timeout=f"{PEER_TIMEOUT:g}s"
        )
        sink.candidate_pids = lambda: list(cluster.worker_pids())
        client = redis_server.client()
        pusher: Pusher | None = None
        try:
            cluster.add(workers=3, webs=2)
            cluster.wait_ready(client)

            t0 = time.time()
            groups = [
                PlannedGroup(f"Crash{i:02d}", appears_at=t0 + 1 + i * APPEAR_OVER / GROUPS)
                for i in range(GROUPS)
            ]
            to_resolve = {g.name for i, g in enumerate(groups) if i % RESOLVE_EVERY == 0}
            scenario = Scenario(groups)
            pusher = Pusher(lambda: cluster.web_urls, scenario).start()

            def resolve_due() -> None:
                """Resolve each chosen group once its firing notification is logged."""
                pending = [n for n in to_resolve if scenario.groups[n].resolved_at is None]
                if not pending:
                    return
                firing = {}
                for r in sink.requests:
                    if r.json["status"] == "firing":
                        firing[group_name(r)] = frozenset(a["fingerprint"] for a in r.json["alerts"])
                committed = committed_firing_sets(client)
                for name in pending:
                    g = scenario.groups[name]
                    if time.time() >= g.appears_at + RESOLVE_AFTER and firing.get(name) in committed:
                        scenario.resolve(name)

            kills: list[tuple[float, str, int]] = []  # (time, slot, pid)
            slots = cluster.workers + cluster.webs
            next_kill = t0 + KILL_EVERY
            while time.time() < t0 + CHAOS_FOR:
                if time.time() >= next_kill:
                    slot = rng.choice(slots)
                    at = time.time()
                    pid = cluster.kill_and_restart(slot)
                    kills.append((at, slot.name, pid))
                    next_kill += KILL_EVERY
                resolve_due()
                time.sleep(0.1)
            chaos_end = time.time()

            def complete() -> bool:
                resolve_due()
                got = {(group_name(r), r.json["status"]) for r in sink.requests}
                return all(
                    (g.name, "firing") in got and (g.name not in to_resolve or (g.name, "resolved") in got)
                    for g in groups
                )

            try:
                wait_until(complete, SETTLE_TIMEOUT, interval=0.2, message="notifications missing")
            except AssertionError:
                got = {(group_name(r), r.json["status"]) for r in sink.requests}
                lost = [
                    f"{g.name} {status}"
                    for g in groups
                    for status in (("firing", "resolved") if g.name in to_resolve else ("firing",))
                    if (g.name, status) not in got
                ]
                raise AssertionError(
                    f"lost notifications {SETTLE_TIMEOUT:g}s after the chaos ended: {lost}\n"
                    f"kills: {[(round(t - t0, 2), n, p) for t, n, p in kills]}\n{cluster.tails(30)}"
                ) from None
            complete_at = time.time()
            assert not cluster.exited(), f"alerter processes exited: {cluster.exited()}\n{cluster.tails(30)}"

            # A late duplicate needs the killed worker's lease to expire and the next tick.
            last_worker_kill = max((t for t, n, _ in kills if n.startswith("worker")), default=t0)
            quiet_from = max(time.time(), last_worker_kill + PEER_TIMEOUT + 2 * GROUP_INTERVAL + 1)
            time.sleep(max(0.0, quiet_from - time.time()))
            no_more_arrive(sink, 2 * GROUP_INTERVAL + 1, t0, "after the cluster settled")
        finally:
            if pusher is not None:
                pusher.stop()
            cluster.stop()
            client.close()

        received = sink.requests
        senders = dict(zip((id(r) for r in received), sink.senders, strict=True))
        counts = count_notifications(received)
        per_group = Counter((group_name(r), r.json["status"]) for r in received)

        # Only the expected kinds of notification, each with the group's whole alert set.
        unexpected = []
        for r in received:
            name, status = group_name(r), r.json["status"]
            allowed = ("firing", "resolved") if name in to_resolve else ("firing",)
            if status not in allowed or len(r.json["alerts"]) != 2:
                unexpected.append(describe(r, t0))
        assert not unexpected, "unexpected notifications:\n" + "\n".join(unexpected)

        # Duplicates: every key received more than once, each copy after the first explained by
        # a kill of the worker that sent the copy before it, after that copy arrived and before
        # its commit. A worker runs up to SEND_THREADS sends at once, so one kill may explain
        # that many duplicates, of different notifications.
        worker_kills = [(t, n, p) for t, n, p in kills if n.startswith("worker")]
        web_kills = [k for k in kills if k[1].startswith("web")]
        duplicates = []
        unexplained = []
        used: Counter[int] = Counter()

        def explaining_kill(previous: ReceivedRequest, taken: set[int]) -> int | None:
            sender, arrived = senders[id(previous)], previous.received_at
            for i, (t, _, pid) in enumerate(worker_kills):
                if i in taken or used[i] >= SEND_THREADS or t > arrived + KILL_AFTER_ARRIVAL:
                    continue
                if pid == sender and t >= arrived:
                    return i
                if sender is None and t >= arrived - KILL_BEFORE_ARRIVAL_UNKNOWN_SENDER:
                    return i
            return None

        for key, n in sorted(
            counts.items(),
            key=lambda kv: min(r.received_at for r in received if notification_key(r) == kv[0]),
        ):
            if n == 1:
                continue
            copies = sorted((r for r in received if notification_key(r) == key), key=lambda r: r.received_at)
            taken: set[int] = set()
            for previous, extra in itertools.pairwise(copies):
                match = explaining_kill(previous, taken)
                line = (
                    f"{describe(previous, t0)} (sent by pid {senders[id(previous)]}) again at "
                    f"t={extra.received_at - t0:7.3f}s (by pid {senders[id(extra)]})"
                )
                if match is None:
                    unexplained.append(line)
                else:
                    used[match] += 1
                    taken.add(match)
                    t, name, pid = worker_kills[match]
                    duplicates.append(f"{line}  <- {name} (pid {pid}) killed at t={t - t0:7.3f}s")

        print(
            f"\ncrash test (seed {SEED}): {len(groups)} groups ({len(to_resolve)} resolved), "
            f"{len(received)} notifications ({len(counts)} distinct), kills: {len(kills)} "
            f"({len(worker_kills)} workers, {len(web_kills)} web instances), duplicates: "
            f"{len(duplicates) + len(unexplained)}; pushes {pusher.stats.posts if pusher else 0} "
            f"(retried attempts {pusher.stats.retries if pusher else 0}); all notified "
            f"{complete_at - chaos_end:.1f}s after the chaos ended; whole test "
            f"{time.monotonic() - began:.1f}s"
        )
        for t, name, pid in kills:
            print(f"  kill t={t - t0:7.3f}s {name} pid {pid}")
        for line in duplicates:
            print(f"  duplicate: {line}")
        for line in unexplained:
            print(f"  UNEXPLAINED duplicate: {line}")

        assert pusher is not None and not pusher.stats.errors, pusher.stats.errors if pusher else None
        for g in groups:
            assert per_group[g.name, "firing"] >= 1, f"{g.name}: never notified firing"
            if g.name in to_resolve:
                assert per_group[g.name, "resolved"] >= 1, f"{g.name}: resolution never notified"
        assert not unexplained, (
            "notifications received more than once with no worker kill to explain them:\n"
            + "\n".join(unexplained)
        )
        assert len(duplicates) <= SEND_THREADS * len(worker_kills)
