"""Group timers: claimed once whatever the number of claimers, re-armed before the flush."""

from __future__ import annotations

import time
from collections.abc import Callable

import fakeredis

import app.timers
from app.alerts import Alert
from app.labels import fingerprint
from app.redis_keys import Keys
from app.retries import RetrySchedule
from app.store import AlertStore, GroupRef
from app.timers import TimerLoop

NOW = 1_700_000_000.0


def make(
    client: fakeredis.FakeRedis, enqueue: Callable[[list[str], bool], None] = lambda gids, retry: None
) -> TimerLoop:
    """A timer loop on the "t" prefix that hands what it claims to `enqueue`."""
    keys = Keys("t")
    return TimerLoop(
        client, keys, RetrySchedule(client, keys), enqueue, lambda: None, inflight_ttl=15, sweep_interval=60
    )


def test_a_due_group_is_claimed_by_exactly_one_loop_and_rearmed() -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    store = AlertStore(client, Keys("t"))
    labels = {"alertname": "A"}
    alert = Alert(labels, {}, NOW, NOW + 300, "", NOW, False, fingerprint(labels))
    store.put([(alert, [GroupRef("g1", "k", "{}", "r", labels, 30, 300)])], NOW)
    one, two = make(client), make(client)
    assert one.claim_due(NOW + 29) == []
    assert client.hget("t:group:g1", "flushed") == b"0"
    assert one.claim_due(NOW + 30) == ["g1"]
    assert client.hget("t:group:g1", "flushed") == b"1"  # PUT_ALERTS no longer makes it due early
    assert two.claim_due(NOW + 30) == []
    assert client.zscore("t:timers", "g1") == NOW + 330  # next tick: group_interval later
    # While the first flush is still pending, the next tick does not queue a second one.
    assert two.claim_due(NOW + 330) == []
    client.delete("t:inflight:g1")
    assert two.claim_due(NOW + 630) == ["g1"]


def test_timer_of_a_deleted_group_is_dropped() -> None:
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    client.zadd("t:timers", {"gone": NOW})
    assert make(client).claim_due(NOW) == []
    assert client.zcard("t:timers") == 0


def test_the_cluster_layout_claims_per_shard_and_an_idle_tick_only_the_due_ones(monkeypatch) -> None:
    """On a cluster each shard's groups come out as a job of their own; once the wait-time read
    has seen the shards' first due times, a tick claims only the shards with something due
    (the cluster layout's key names work on any Redis, hence fakeredis here)."""
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    keys = Keys("t", cluster=True)
    store = AlertStore(client, keys)
    now = time.time()
    gids = ["g1", "g2", "g3"]
    assert len({keys.shard(gid).timers for gid in gids}) == 3
    for gid, wait in zip(gids, (0, 0, 3600), strict=True):  # g1, g2 due at once, g3 in an hour
        labels = {"alertname": gid}
        alert = Alert(labels, {}, now, now + 300, "", now, False, fingerprint(labels))
        store.put([(alert, [GroupRef(gid, "k", "{}", "r", labels, wait, 300)])], now)
    jobs: list[list[str]] = []
    loop = TimerLoop(
        client, keys, RetrySchedule(client, keys), lambda found, retry: jobs.append(found), lambda: None,
        inflight_ttl=15, sweep_interval=60,
    )  # fmt: skip
    calls: list[int] = []
    run_script = app.timers.run_script
    monkeypatch.setattr(
        app.timers, "run_script", lambda *a, **kw: calls.append(len(a[2])) or run_script(*a, **kw)
    )
    loop._wait_time()
    assert loop.tick() == 2
    assert sorted(jobs) == [["g1"], ["g2"]]  # a job per shard
    assert calls == [2]  # the two due shards' claims, not 64
    calls.clear()
    loop._wait_time()  # g1 and g2 re-armed for group_interval: nothing is due
    assert loop.tick() == 0 and calls == []


def test_claims_wait_while_every_worker_is_busy_with_queued_jobs() -> None:
    """Two flush jobs waiting in the queue hold the claims back (they would only wait in jobs of
    their own); the tick after one is taken claims every group due by then, in one go."""
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    for n in range(3):
        client.hset(f"t:group:g{n}", mapping={"gi": 300, "flushed": 0})
        client.zadd("t:timers", {f"g{n}": time.time() - 10 + n})
    queued = [2]
    got: list[list[str]] = []
    keys = Keys("t")
    loop = TimerLoop(
        client,
        keys,
        RetrySchedule(client, keys),
        lambda gids, retry: got.append(gids),
        lambda: None,
        inflight_ttl=15,
        sweep_interval=60,
        backlog=lambda: queued[0],
    )
    assert loop.tick() == 0 and got == []
    assert client.zcard("t:timers") == 3 and not client.exists("t:inflight:g0")
    assert loop._wait_time() == app.timers.BACKLOG_POLL
    queued[0] = 1
    assert loop.tick() == 3
    assert got == [["g0", "g1", "g2"]]


def test_one_loop_sweeps_per_interval_and_the_others_ask_again_only_once_the_lock_expires() -> None:
    """The housekeeping lock is asked for once per sweep_interval, not at every tick: a loop that
    lost it waits for its expiry, then takes it at its first tick after."""
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    keys = Keys("t")
    swept: list[str] = []
    asked: list[str] = []

    def loop(name: str) -> TimerLoop:
        made = TimerLoop(
            client, keys, RetrySchedule(client, keys), lambda gids, retry: None, lambda: swept.append(name),
            inflight_ttl=15, sweep_interval=0.3,
        )  # fmt: skip
        take = made._take_sweep_lock
        made._take_sweep_lock = lambda: asked.append(name) or take()  # type: ignore[method-assign]
        return made

    one, two = loop("one"), loop("two")
    one.tick()
    two.tick()
    assert swept == ["one"] and asked == ["one", "two"]
    for _ in range(3):
        one.tick()
        two.tick()
    assert swept == ["one"] and asked == ["one", "two"]  # nobody asked while the lock held
    time.sleep(0.35)
    two.tick()
    one.tick()
    assert swept == ["one", "two"] and asked == ["one", "two", "two", "one"]
