"""Group timers: claimed once whatever the number of claimers, re-armed before the flush."""

from __future__ import annotations

from collections.abc import Callable

import fakeredis

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
