"""Retry due times: Alertmanager's backoff until the group's next regular flush, one pending
retry per group, claimed once and sharing the group's in-flight mark."""

from __future__ import annotations

import fakeredis
import pytest

from app.alerts import Alert
from app.labels import fingerprint
from app.redis_keys import Keys
from app.retries import RetrySchedule
from app.store import AlertStore, GroupRef
from tests.unit.test_timers import make

NOW = 1_700_000_000.0
KEYS = Keys("t")  # the prefix of test_timers.make


@pytest.fixture
def client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def add_group(client: fakeredis.FakeRedis, gid: str, group_interval: float = 300) -> None:
    """A group due for its first flush at NOW (group_wait 0)."""
    labels = {"alertname": gid}
    alert = Alert(labels, {}, NOW, NOW + 3600, "", NOW, False, fingerprint(labels))
    AlertStore(client, KEYS).put([(alert, [GroupRef(gid, gid, "{}", "r", labels, 0, group_interval)])], NOW)


def test_retries_follow_alertmanagers_backoff_until_the_next_regular_flush(client) -> None:
    add_group(client, "g1", group_interval=10)
    assert make(client).claim_due(NOW) == ["g1"]  # regular flush; the next one at NOW + 10
    schedule = RetrySchedule(client, KEYS, jitter=lambda: 1.0)
    dues, at = [], NOW
    while (due := schedule.schedule("g1", at)) is not None:
        dues.append(round(due - at, 4))
        at = due
    # 0.5 s, then x1.5 each time; the fourth would come after the regular flush at NOW + 10.
    assert dues == [0.5, 0.75, 1.125, 1.6875, 2.5312]
    assert at < NOW + 10


def test_jitter_and_the_interval_cap(client) -> None:
    add_group(client, "g1", group_interval=3600)
    make(client).claim_due(NOW)
    low = RetrySchedule(client, KEYS, jitter=lambda: 0.5)
    assert low.schedule("g1", NOW) == NOW + 0.25
    for _ in range(20):
        low.schedule("g1", NOW)
    client.delete(KEYS.retries)
    # The interval stops growing at 60 s; the jitter still applies to it.
    assert RetrySchedule(client, KEYS, jitter=lambda: 1.5).schedule("g1", NOW) == NOW + 90


def test_one_pending_retry_per_group_the_earliest(client) -> None:
    add_group(client, "g1")
    make(client).claim_due(NOW)
    early = RetrySchedule(client, KEYS, jitter=lambda: 0.5)
    late = RetrySchedule(client, KEYS, jitter=lambda: 1.5)
    first = early.schedule("g1", NOW)
    late.schedule("g1", NOW)
    assert client.zrange(KEYS.retries, 0, -1, withscores=True) == [(b"g1", first)]


def test_a_regular_flush_takes_over_and_starts_the_backoff_again(client) -> None:
    add_group(client, "g1", group_interval=5)
    loop = make(client)
    schedule = RetrySchedule(client, KEYS, jitter=lambda: 1.0)
    loop.claim_due(NOW)
    schedule.schedule("g1", NOW)
    schedule.schedule("g1", NOW)  # the second retry's interval, 0.75 s
    client.delete(KEYS.inflight("g1"))
    assert loop.claim_due(NOW + 5) == ["g1"]
    assert client.zcard(KEYS.retries) == 0  # the pending retry is the regular flush's now
    assert schedule.schedule("g1", NOW + 5) == NOW + 5.5  # from the first step again


def test_a_due_retry_is_claimed_once_and_marks_the_flush_in_flight(client) -> None:
    add_group(client, "g1")
    loop = make(client)
    loop.claim_due(NOW)
    client.delete(KEYS.inflight("g1"))  # the regular flush job started
    due = RetrySchedule(client, KEYS, jitter=lambda: 1.0).schedule("g1", NOW)
    assert due is not None
    assert loop.retries.claim_due(due - 0.01, 100, 15) == []
    assert loop.retries.claim_due(due, 100, 15) == ["g1"]
    assert loop.retries.claim_due(due, 100, 15) == []
    assert client.exists(KEYS.inflight("g1"))
    # The regular timer is left alone: a retry does not shift the group's cadence.
    assert client.zscore(KEYS.timers, "g1") == NOW + 300


def test_a_retry_of_a_group_with_a_flush_queued_or_gone_is_dropped(client) -> None:
    add_group(client, "queued")
    add_group(client, "gone")
    loop = make(client)
    loop.claim_due(NOW)  # both marked in flight: their flush jobs are queued
    schedule = RetrySchedule(client, KEYS, jitter=lambda: 1.0)
    schedule.schedule("queued", NOW)
    schedule.schedule("gone", NOW)
    client.delete(KEYS.group("gone"), KEYS.inflight("gone"))
    assert loop.retries.claim_due(NOW + 1, 100, 15) == []
    assert client.zcard(KEYS.retries) == 0


def test_no_retry_for_a_group_that_is_gone(client) -> None:
    assert RetrySchedule(client, KEYS).schedule("nothing", NOW) is None
    assert client.zcard(KEYS.retries) == 0


def test_tick_queues_due_retries_as_retry_jobs(client) -> None:
    add_group(client, "g1")
    queued: list[tuple[list[str], bool]] = []
    loop = make(client, lambda gids, retry: queued.append((gids, retry)))
    loop.tick()
    client.delete(KEYS.inflight("g1"))
    client.zadd(KEYS.retries, {"g1": 0})
    loop.tick()
    assert queued == [(["g1"], False), (["g1"], True)]
