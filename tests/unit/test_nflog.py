"""The notification log: Alertmanager's dedup rules and the send lease."""

from __future__ import annotations

import fakeredis
import pytest

from app.nflog import Entry, NotificationLog, notify_reason
from app.redis_keys import Keys

NOW = 1_700_000_000.0
F = frozenset


def entry(firing: set[str], resolved: set[str], age: float = 10.0) -> Entry:
    return Entry(F(firing), F(resolved), NOW - age, NOW + 3600)


@pytest.mark.parametrize(
    ("prev", "firing", "resolved", "send_resolved", "reason"),
    [
        (None, {"a"}, set(), True, "first notification"),
        (None, set(), {"a"}, True, "none"),  # only resolved, never told
        (entry({"a"}, set()), {"a", "b"}, set(), True, "new alerts added"),
        (entry(set(), {"a"}), {"b"}, set(), True, "first notification"),  # after "all resolved"
        (entry({"a", "b"}, set()), {"a"}, {"b"}, False, "none"),  # resolved, send_resolved off
        (entry({"a", "b"}, set()), {"a"}, {"b"}, True, "some alerts resolved"),  # send_resolved on
        (entry({"a"}, set()), set(), {"a"}, False, "all alerts resolved"),  # always clear the log
        (entry(set(), {"a"}), set(), {"a"}, True, "none"),  # nothing was firing when told
        (entry({"a"}, set()), {"a"}, set(), True, "none"),  # unchanged, within repeat_interval
        (entry({"a"}, set(), age=4000), {"a"}, set(), True, "repeat interval elapsed"),
    ],
)
def test_notify_reason_and_needs_update(prev, firing, resolved, send_resolved, reason) -> None:
    """Alertmanager's DedupStage decision, with its NotifyReason texts."""
    assert notify_reason(prev, F(firing), F(resolved), send_resolved, 3600, NOW) == reason


@pytest.fixture
def nflog() -> NotificationLog:
    return NotificationLog(fakeredis.FakeRedis(server=fakeredis.FakeServer()), Keys("t"), retention=7200)


def test_only_one_lease_holder_sends(nflog: NotificationLog) -> None:
    field = nflog.field("g1", "team", "webhook", 0)
    first, lease = nflog.acquire(field, "", F({"a"}), F(), ttl=15)
    second, none = nflog.acquire(field, "", F({"a"}), F(), ttl=15)
    assert (first, second, none) == ("ok", "busy", None)
    assert lease is not None
    nflog.commit(lease, F({"a"}), F(), NOW, repeat_interval=600)
    ((entry_now, _),) = nflog.read_many([field])
    assert entry_now is not None and entry_now.firing == F({"a"}) and entry_now.expires_at == NOW + 1200
    # A worker that read the log before the commit is told to decide again.
    assert nflog.acquire(field, "", F({"a"}), F(), ttl=15)[0] == "changed"
    assert nflog.r.exists(lease.key) == 0


def test_released_lease_lets_another_worker_retry(nflog: NotificationLog) -> None:
    field = nflog.field("g1", "team", "webhook", 0)
    _, lease = nflog.acquire(field, "", F({"a"}), F(), ttl=15)
    assert lease is not None
    nflog.release(lease)
    assert nflog.acquire(field, "", F({"a"}), F(), ttl=15)[0] == "ok"


def test_refresh_fails_once_the_lease_is_someone_elses(nflog: NotificationLog) -> None:
    field = nflog.field("g1", "team", "webhook", 0)
    _, lease = nflog.acquire(field, "", F({"a"}), F(), ttl=15)
    assert lease is not None and nflog.refresh(lease, 15)
    nflog.r.set(lease.key, "other-worker")
    assert not nflog.refresh(lease, 15)


def test_gc_drops_expired_entries(nflog: NotificationLog) -> None:
    field = nflog.field("g1", "team", "webhook", 0)
    _, lease = nflog.acquire(field, "", F({"a"}), F(), ttl=15)
    assert lease is not None
    nflog.commit(lease, F({"a"}), F(), NOW, repeat_interval=60)
    assert nflog.gc(NOW + 60) == 0
    assert nflog.gc(NOW + 121) == 1
    assert nflog.read_many([field]) == [(None, "")]


def test_a_late_commit_does_not_roll_back_a_newer_notification(nflog: NotificationLog) -> None:
    field = nflog.field("g1", "team", "webhook", 0)
    _, slow = nflog.acquire(field, "", F({"a"}), F(), ttl=15)  # sending {a} to a slow receiver
    _, fast = nflog.acquire(field, "", F({"a", "b"}), F(), ttl=15)  # another worker sends {a,b}
    assert slow is not None and fast is not None
    assert nflog.commit(fast, F({"a", "b"}), F(), NOW, repeat_interval=600) is True
    assert nflog.commit(slow, F({"a"}), F(), NOW + 1, repeat_interval=600) is False
    ((entry, _),) = nflog.read_many([field])
    assert entry is not None and entry.firing == F({"a", "b"})
    assert nflog.r.exists(slow.key) == 0  # its lease is dropped all the same


def test_commits_of_one_call_apply_in_order(nflog: NotificationLog) -> None:
    """commit_many is commit() for each item in turn: a later item for an entry the call has
    just written finds it changed, as two separate commits would."""
    first_field, other_field = (
        nflog.field("g1", "team", "webhook", 0),
        nflog.field("g2", "team", "webhook", 0),
    )
    _, slow = nflog.acquire(first_field, "", F({"a"}), F(), ttl=15)
    _, fast = nflog.acquire(first_field, "", F({"a", "b"}), F(), ttl=15)
    _, other = nflog.acquire(other_field, "", F({"c"}), F(), ttl=15)
    assert slow is not None and fast is not None and other is not None
    written = nflog.commit_many(
        [(fast, F({"a", "b"}), F(), 600), (slow, F({"a"}), F(), 600), (other, F({"c"}), F(), 0)], NOW
    )
    assert written == [True, False, True]
    (first, _), (second, _) = nflog.read_many([first_field, other_field])
    assert first is not None and first.firing == F({"a", "b"})
    assert second is not None and second.firing == F({"c"}) and second.expires_at == NOW + 7200
    assert nflog.r.exists(slow.key, fast.key, other.key) == 0


def test_a_batch_of_leases_gets_each_items_own_verdict_and_commit(nflog: NotificationLog) -> None:
    """The scripts read and write a batch's entries and leases in one command each: every item
    still gets its own verdict, and a commit drops only the leases that are still the caller's."""
    taken, changed, free = (nflog.field(g, "team", "webhook", 0) for g in ("g1", "g2", "g3"))
    _, other = nflog.acquire(taken, "", F({"a"}), F(), ttl=15)  # another worker's lease
    nflog.r.hset(nflog.keys.nflog, changed, "newer")
    got = nflog.acquire_many(
        [(taken, "", F({"a"}), F()), (changed, "", F({"b"}), F()), (free, "", F({"c"}), F())], ttl=15
    )
    assert [verdict for verdict, _ in got] == ["busy", "changed", "ok"]
    ((_, mine),) = [item for item in got if item[1] is not None]
    assert other is not None and mine is not None
    nflog.r.set(mine.key, "taken-over")  # expired and taken by another worker meanwhile
    assert nflog.commit_many([(other, F({"a"}), F(), 600), (mine, F({"c"}), F(), 600)], NOW) == [True, True]
    assert nflog.r.exists(other.key) == 0
    assert nflog.r.get(mine.key) == b"taken-over"


def test_scripts_load_again_on_a_server_that_forgot_them(nflog: NotificationLog) -> None:
    """The scripts are called as EVALSHA straight on the client; a server that lost them (a
    restart, a failover to a master that never ran them) answers NOSCRIPT and they are loaded."""
    field = nflog.field("g1", "team", "webhook", 0)
    nflog.r.script_flush()
    _, lease = nflog.acquire(field, "", F({"a"}), F(), ttl=15)
    assert lease is not None
    nflog.r.script_flush()
    assert nflog.commit(lease, F({"a"}), F(), NOW, repeat_interval=600)
    assert nflog.read_many([field])[0][0] is not None
