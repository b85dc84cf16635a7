"""The alert store: Alertmanager's merge rules and group insertion, run by the Lua script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fakeredis
import orjson
import pytest

from app import backend
from app.alerts import Alert, parse_postable_alerts
from app.durability import Writer
from app.labels import fingerprint
from app.redis_keys import Keys
from app.rediscluster import run_script
from app.settings import Settings
from app.store import AlertStore, GroupRef

NOW = 1_700_000_000.0
LABELS = {"alertname": "DiskFull", "instance": "a:9100"}


def alert(starts: float, ends: float, updated: float, timeout: bool = False, summary: str = "") -> Alert:
    return Alert(
        labels=dict(LABELS),
        annotations={"summary": summary} if summary else {},
        starts_at=starts,
        ends_at=ends,
        updated_at=updated,
        timeout=timeout,
        fingerprint=fingerprint(LABELS),
    )


def group(gid: str = "g1", wait: float = 30.0) -> GroupRef:
    return GroupRef(gid, '{}:{alertname="DiskFull"}', "{}", "team", {"alertname": "DiskFull"}, wait, 300.0)


@pytest.fixture
def store() -> AlertStore:
    return AlertStore(fakeredis.FakeRedis(server=fakeredis.FakeServer()), Keys("t"))


def stored(store: AlertStore) -> Alert:
    [a] = store.alerts()
    return a


def test_same_alert_from_two_senders_is_one_alert_with_earliest_start(store: AlertStore) -> None:
    store.put([(alert(NOW - 100, NOW + 240, NOW - 1, summary="first"), [])], NOW)
    store.put([(alert(NOW - 50, NOW + 300, NOW, summary="second"), [])], NOW)
    a = stored(store)
    assert a.starts_at == NOW - 100  # earliest start wins
    assert a.ends_at == NOW + 300  # the younger alert's endsAt
    assert a.annotations == {"summary": "second"}  # the younger alert's annotations


def test_merge_is_order_independent(store: AlertStore) -> None:
    older = alert(NOW - 100, NOW + 240, NOW - 1, summary="first")
    younger = alert(NOW - 50, NOW + 300, NOW, summary="second")
    other = AlertStore(fakeredis.FakeRedis(server=fakeredis.FakeServer()), Keys("t"))
    store.put([(older, [])], NOW)
    store.put([(younger, [])], NOW)
    other.put([(younger, [])], NOW)
    other.put([(older, [])], NOW)
    assert stored(store) == stored(other)


def test_older_sender_endsat_wins_unless_it_came_from_resolve_timeout(store: AlertStore) -> None:
    store.put([(alert(NOW - 100, NOW + 900, NOW - 1), [])], NOW)
    store.put([(alert(NOW - 100, NOW + 300, NOW), [])], NOW)
    assert stored(store).ends_at == NOW + 900

    other = AlertStore(fakeredis.FakeRedis(server=fakeredis.FakeServer()), Keys("t"))
    other.put([(alert(NOW - 100, NOW + 900, NOW - 1, timeout=True), [])], NOW)
    other.put([(alert(NOW - 100, NOW + 300, NOW), [])], NOW)
    assert stored(other).ends_at == NOW + 300


def test_later_resolution_wins_when_both_are_resolved(store: AlertStore) -> None:
    store.put([(alert(NOW - 100, NOW - 5, NOW - 1), [])], NOW)
    store.put([(alert(NOW - 100, NOW - 20, NOW), [])], NOW)
    assert stored(store).ends_at == NOW - 5


def test_non_overlapping_alert_replaces_the_stored_one(store: AlertStore) -> None:
    store.put([(alert(NOW - 1000, NOW - 900, NOW - 900), [])], NOW)
    store.put([(alert(NOW - 10, NOW + 300, NOW), [])], NOW)
    a = stored(store)
    assert (a.starts_at, a.ends_at) == (NOW - 10, NOW + 300)


def test_an_alert_that_starts_as_it_arrives_merges_by_the_same_rules(store: AlertStore) -> None:
    """Such an alert (posted without startsAt and endsAt) goes to the script as its body, the
    batch's times once (PUT_ALERTS' head "="): each outcome of the merge, byte for byte."""

    def raw() -> str:
        return next(v for _, v in store.iter_raw_alerts(store.keys))

    arrives = alert(NOW, NOW + 300, NOW, timeout=True, summary="new")
    body = orjson.dumps({"l": LABELS, "a": {"summary": "new"}, "g": ""}).decode()
    # The stored endsAt is later and not from resolve_timeout: both stored times stay.
    store.put([(alert(NOW - 100, NOW + 3600, NOW - 1, summary="old"), [])], NOW)
    store.put([(arrives, [])], NOW)
    assert raw() == f"{NOW - 100!r} {NOW + 3600!r} {NOW!r} 1 {body}"
    # The stored value is younger (another sender's clock runs ahead): it stays as it is.
    store.r.delete("t:alerts", "t:alert-times")
    store.put([(alert(NOW - 10, NOW + 300, NOW + 5, summary="old"), [])], NOW)
    before = raw()
    store.put([(arrives, [])], NOW)
    assert raw() == before
    # No overlap with the stored one (resolved long ago): the alert replaces it as it came.
    store.r.delete("t:alerts", "t:alert-times")
    store.put([(alert(NOW - 1000, NOW - 900, NOW - 900), [])], NOW)
    store.put([(arrives, [])], NOW)
    assert raw() == f"{NOW!r} {NOW + 300!r} {NOW!r} 1 {body}"


def test_new_group_gets_one_timer_at_group_wait(store: AlertStore) -> None:
    store.put([(alert(NOW - 1, NOW + 300, NOW), [group()])], NOW)
    store.put([(alert(NOW - 1, NOW + 300, NOW + 5), [group()])], NOW + 5)
    assert store.r.zrange("t:timers", 0, -1, withscores=True) == [(b"g1", NOW + 30)]
    [g] = store.load_groups(["g1"])
    assert g.key == '{}:{alertname="DiskFull"}' and g.receiver == "team"
    assert [a.fingerprint for a in g.alerts] == [fingerprint(LABELS)]


def test_alert_older_than_group_wait_makes_an_unflushed_group_due_now(store: AlertStore) -> None:
    store.put([(alert(NOW - 3600, NOW + 300, NOW), [group()])], NOW)
    assert store.r.zscore("t:timers", "g1") == NOW


@pytest.mark.parametrize("limit", [0, 10])
def test_alerts_posted_without_times_read_back_as_encode_has_them(limit: int) -> None:
    """The batch's times for such alerts go to the script once (ARGV[8]); an alert whose times
    differ from the first one's (another endsAt) goes whole, and a fingerprint twice in a batch
    merges with its own earlier value, each read back as encode() has it, with or without a
    limit."""
    store = AlertStore(fakeredis.FakeRedis(server=fakeredis.FakeServer()), Keys("t"), limit)

    def posted(name: str, ends: float, summary: str) -> Alert:
        labels = {"alertname": name}
        return Alert(labels, {"summary": summary}, NOW, ends, "", NOW, True, fingerprint(labels))

    first, other, again = (
        posted("A", NOW + 300, "1"),
        posted("B", NOW + 600, "2"),
        posted("A", NOW + 300, "3"),
    )
    store.put([(first, [group()]), (other, [group()]), (again, [group()])], NOW)
    raw = dict(store.iter_raw_alerts(store.keys))
    assert raw == {first.fingerprint: again.encode().decode(), other.fingerprint: other.encode().decode()}
    assert {a.fingerprint for a in store.load_groups(["g1"])[0].alerts} == set(raw)


def test_a_resend_into_an_existing_group_follows_the_same_rules(store: AlertStore) -> None:
    """A re-send whose group already holds it reads the group only when it may make it due now
    (PUT_ALERTS): an unflushed group is made due once the alert is older than group_wait, a
    flushed one keeps its timer, and a group deleted meanwhile is created again."""
    store.put([(alert(NOW - 10, NOW + 300, NOW), [group()])], NOW)
    store.put([(alert(NOW - 10, NOW + 300, NOW + 5), [group()])], NOW + 5)
    assert store.r.zscore("t:timers", "g1") == NOW + 30  # not older than group_wait yet
    store.put([(alert(NOW - 10, NOW + 300, NOW + 25), [group()])], NOW + 25)
    assert store.r.zscore("t:timers", "g1") == NOW + 25
    store.r.hset("t:group:g1", "flushed", "1")
    store.r.zadd("t:timers", {"g1": NOW + 325})
    store.put([(alert(NOW - 10, NOW + 300, NOW + 30), [group()])], NOW + 30)
    assert store.r.zscore("t:timers", "g1") == NOW + 325
    store.delete_group("g1")
    store.put([(alert(NOW - 10, NOW + 300, NOW + 40), [group()])], NOW + 40)
    [g] = store.load_groups(["g1"])
    assert g.receiver == "team" and store.r.hget("t:group:g1", "flushed") == b"0"
    assert store.r.zscore("t:timers", "g1") == NOW + 40  # created due: the alert is older than group_wait


def test_each_group_of_a_batch_keeps_its_own_group_wait(store: AlertStore) -> None:
    """PUT_ALERTS reads a group's line only when it needs it (a new group, an alert older than
    the batch's least group_wait): groups of one batch with different group_waits are created
    and made due by their own."""
    short, long = group("g1", 30.0), group("g2", 3600.0)
    store.put([(alert(NOW - 15, NOW + 300, NOW), [short, long])], NOW)
    assert store.r.zrange("t:timers", 0, -1, withscores=True) == [(b"g1", NOW + 30), (b"g2", NOW + 3600)]
    assert [g.gid for g in store.load_groups(["g1", "g2"])] == ["g1", "g2"]
    # 35 s old: due at once in the group that waits 30 s, not in the one that waits an hour.
    store.put([(alert(NOW - 15, NOW + 300, NOW + 20), [short, long])], NOW + 20)
    assert store.r.zrange("t:timers", 0, -1, withscores=True) == [(b"g1", NOW + 20), (b"g2", NOW + 3600)]


def test_drop_keeps_updated_alerts_and_deletes_an_empty_group(store: AlertStore) -> None:
    store.put([(alert(NOW - 100, NOW - 1, NOW), [group()])], NOW)
    (g,) = store.load_groups(["g1"])  # the group exists
    store.put([(alert(NOW - 100, NOW + 300, NOW + 1), [group()])], NOW + 1)  # fired again meanwhile
    assert store.drop_unchanged_alerts(g, [g.alerts[0].fingerprint]) is False
    (g,) = store.load_groups(["g1"])  # the group is still there
    assert store.drop_unchanged_alerts(g, [g.alerts[0].fingerprint]) is True
    assert store.load_groups(["g1"]) == []
    assert store.r.zscore("t:timers", "g1") is None


def test_gc_drops_resolved_alerts_only(store: AlertStore) -> None:
    firing = Alert(
        {"alertname": "A"}, {}, NOW - 10, NOW + 300, "", NOW, False, fingerprint({"alertname": "A"})
    )
    done = Alert({"alertname": "B"}, {}, NOW - 10, NOW - 1, "", NOW, False, fingerprint({"alertname": "B"}))
    store.put([(firing, []), (done, [])], NOW)
    assert store.gc_resolved(NOW) == 1
    assert [a.labels for a in store.alerts()] == [{"alertname": "A"}]


def test_gc_keeps_a_resolved_alert_until_its_group_has_notified_it(store: AlertStore) -> None:
    store.put([(alert(NOW - 100, NOW - 1, NOW), [group()])], NOW)
    assert store.gc_resolved(NOW) == 0  # the group still has to tell its receiver
    (g,) = store.load_groups(["g1"])
    assert store.drop_unchanged_alerts(g, [g.alerts[0].fingerprint]) is True
    assert store.gc_resolved(NOW) == 1
    assert store.alerts() == []


def test_each_alert_is_stored_once_and_every_group_reads_its_latest_value(store: AlertStore) -> None:
    three = [group("g1"), group("g2"), group("g3")]
    store.put([(alert(NOW - 10, NOW + 300, NOW, summary="v1"), three)], NOW)
    store.put([(alert(NOW - 10, NOW + 600, NOW + 1, summary="v2"), three)], NOW + 1)
    groups = store.load_groups(["g1", "g2", "g3"])
    assert [(g.gid, [a.annotations["summary"] for a in g.alerts]) for g in groups] == [
        ("g1", ["v2"]),
        ("g2", ["v2"]),
        ("g3", ["v2"]),
    ]
    assert store.r.type("t:gmembers:g1") == b"set"
    assert store.r.hlen("t:alerts") == 1


def test_rearm_lost_timers(store: AlertStore) -> None:
    store.put([(alert(NOW - 1, NOW + 300, NOW), [group()])], NOW)
    store.r.zrem("t:timers", "g1")
    assert store.rearm_lost_timers(NOW + 50) == 1
    assert store.r.zscore("t:timers", "g1") == NOW + 50


def test_load_groups_reads_in_chunks_and_releases_the_in_flight_marks_only_for_a_flush(
    store: AlertStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.store.LOAD_CHUNK", 2)
    names = ["C", "A", "B"]
    alerts = [
        Alert({"alertname": n}, {}, NOW - 1, NOW + 300, "", NOW, False, fingerprint({"alertname": n}))
        for n in names
    ]
    store.put([(a, [group("g1")]) for a in alerts] + [(alerts[0], [group("g3")])], NOW)
    store.r.hdel("t:alerts", alerts[2].fingerprint)  # a member whose alert GC has just let go of
    store.r.hset("t:group:g3", "muted", '["night"]')
    marks = {f"t:inflight:{gid}": "1" for gid in ("g1", "g2", "g3")}
    store.r.mset(marks)
    groups = store.load_groups(["g3", "g2", "g1"])  # g2 does not exist
    assert [(g.gid, g.muted_by) for g in groups] == [("g3", ["night"]), ("g1", [])]
    assert [a.fingerprint for a in groups[1].alerts] == sorted(a.fingerprint for a in alerts[:2])
    assert list(groups[1].raw) == [a.fingerprint for a in groups[1].alerts]
    assert store.r.exists(*marks) == 3
    store.load_groups(["g3", "g2", "g1"], release_inflight=True)
    assert store.r.exists(*marks) == 0


def test_resend_without_times_keeps_the_stored_start_and_takes_the_rest_of_the_new_value(
    store: AlertStore,
) -> None:
    """What the merge writes for alerts posted without startsAt/endsAt (amtool, scripts), byte
    for byte, in a batch where the merged alerts are not the first line of the script's input."""
    body = orjson.dumps([{"labels": {"alertname": f"A{i}"}, "annotations": {"n": "1"}} for i in range(3)])
    first, _ = parse_postable_alerts(body, NOW, 300.0)
    store.put([(a, []) for a in first], NOW)
    fresh = Alert({"alertname": "B"}, {}, NOW, NOW + 300, "", NOW + 60, True, fingerprint({"alertname": "B"}))
    again, _ = parse_postable_alerts(body.replace(b'"1"', b'"2"'), NOW + 60, 300.0)
    assert store.put([(fresh, [])] + [(a, []) for a in again], NOW + 60) == 3
    raw = dict(store.iter_raw_alerts(store.keys))
    for a in again:
        body_json = orjson.dumps({"l": a.labels, "a": {"n": "2"}, "g": ""}).decode()
        assert raw[a.fingerprint] == f"{NOW!r} {NOW + 360!r} {NOW + 60!r} 1 {body_json}"
    assert raw[fresh.fingerprint].encode() == fresh.encode()


def test_a_resend_without_times_merges_each_alert_with_its_own_stored_times() -> None:
    """PUT_ALERTS reuses the times read from the last stored value when the next one's text
    after its startsAt starts the same (resent_times): stored values that differ only in their
    timeout flag, in an endsAt that extends another's digits, or in their startsAt must each
    merge as they do alone, in a call of their own."""
    stored_times = {  # startsAt, endsAt, updatedAt, timeout
        "A0": (NOW - 100, NOW + 900.5, NOW - 10, True),
        "A1": (NOW - 100, NOW + 900.5, NOW - 10, False),  # A0's text but its timeout flag
        "A2": (NOW - 100, NOW + 900.55, NOW - 10, False),  # A1's endsAt digits, and one more
        "A3": (NOW - 40, NOW + 900.55, NOW - 10, False),  # A2's times but its startsAt
        "A4": (NOW - 100, NOW + 900.5, NOW - 10, True),  # back to A0's
        "A5": (NOW - 100, NOW + 30, NOW - 10, True),
    }
    fps = {name: fingerprint({"alertname": name}) for name in stored_times}
    first = [
        (Alert({"alertname": n}, {}, s, e, "", u, t, fps[n]), []) for n, (s, e, u, t) in stored_times.items()
    ]
    stores = [AlertStore(fakeredis.FakeRedis(server=fakeredis.FakeServer()), Keys("t")) for _ in range(2)]
    for st in stores:
        st.put(first, NOW - 10)
    again, _ = parse_postable_alerts(
        orjson.dumps([{"labels": {"alertname": n}} for n in stored_times]), NOW, 600.0
    )
    assert stores[0].put([(a, []) for a in again], NOW) == len(again)
    for a in again:
        stores[1].put([(a, [])], NOW)
    together, alone = (dict(st.iter_raw_alerts(st.keys)) for st in stores)
    assert together == alone
    assert together[fps["A0"]].startswith(f"{NOW - 100!r} {NOW + 600!r} {NOW!r} 1 ")
    assert together[fps["A1"]].startswith(f"{NOW - 100!r} {NOW + 900.5!r} {NOW!r} 1 ")
    assert together[fps["A2"]].startswith(f"{NOW - 100!r} {NOW + 900.55!r} ")
    assert together[fps["A3"]].startswith(f"{NOW - 40!r} {NOW + 900.55!r} ")
    assert together[fps["A4"]].startswith(f"{NOW - 100!r} {NOW + 600!r} ")


def test_a_fingerprint_twice_in_one_batch_merges_with_its_earlier_copy(store: AlertStore) -> None:
    other = Alert({"alertname": "B"}, {}, NOW - 5, NOW + 300, "", NOW, False, fingerprint({"alertname": "B"}))
    store.put([(other, []), (alert(NOW - 100, NOW + 240, NOW - 1, summary="first"), [])], NOW)
    batch = [(other, []), (alert(NOW - 50, NOW + 300, NOW, summary="second"), [])]
    batch.append((alert(NOW - 20, NOW + 600, NOW, summary="third"), []))
    assert store.put(batch, NOW) == 3
    a = next(a for a in store.alerts() if a.labels == LABELS)
    assert (a.starts_at, a.ends_at, a.annotations) == (NOW - 100, NOW + 600, {"summary": "third"})


def test_the_cluster_layout_keeps_a_copy_per_shard_and_lists_the_newest() -> None:
    """The cluster layout (its key names work on any Redis): an alert in groups of two shards is
    stored in both; while a post has reached only one of them, the listing shows that newer copy
    once, and each group reads its own shard's copy."""
    keys = Keys("t", cluster=True)
    store = AlertStore(fakeredis.FakeRedis(server=fakeredis.FakeServer()), keys)
    g1, g2 = group("g1"), group("g2")
    assert keys.shard("g1") is not keys.shard("g2")
    store.put([(alert(NOW - 100, NOW + 240, NOW - 1, summary="both"), [g1, g2])], NOW)
    assert [len(dict(store.iter_raw_alerts(keys.shard(gid)))) for gid in ("g1", "g2")] == [1, 1]
    store.put([(alert(NOW - 100, NOW + 300, NOW, summary="newer"), [g1])], NOW)
    [listed] = store.alerts()
    assert listed.annotations == {"summary": "newer"}
    summaries = {g.gid: g.alerts[0].annotations["summary"] for g in store.load_groups(["g1", "g2"])}
    assert summaries == {"g1": "newer", "g2": "both"}
    assert store.group_ids() == ["g1", "g2"]


class _RecordedLines:
    """PUT_ALERTS as the store calls it, recording each call's group lines (ARGV[4])."""

    def __init__(self, script: Any) -> None:
        self.script = script
        self.lines: list[str] = []

    def __call__(self, keys: list[str], args: list[Any]) -> Any:
        self.lines.append(args[3])
        return self.script(keys=keys, args=args)


def test_a_batch_into_groups_stored_before_goes_without_their_lines(store: AlertStore) -> None:
    """Groups this process stored into are sent without their lines (PUT_ALERTS' ARGV[4] empty);
    one deleted since (here by another process's flush) makes that call write nothing and the
    store call again with the lines, which create the group anew."""
    calls = store._put = _RecordedLines(store._put)  # type: ignore[method-assign]
    store.put([(alert(NOW - 10, NOW + 300, NOW), [group()])], NOW)
    store.put([(alert(NOW - 10, NOW + 300, NOW + 5), [group()])], NOW + 5)
    assert [bool(lines) for lines in calls.lines] == [True, False]
    other = AlertStore(store.r, Keys("t"))  # another process: it deletes the group
    other.delete_group("g1")
    assert store.put([(alert(NOW - 10, NOW + 300, NOW + 40), [group()])], NOW + 40) == 1
    assert [bool(lines) for lines in calls.lines] == [True, False, False, True]
    [g] = store.load_groups(["g1"])
    assert g.receiver == "team" and [a.fingerprint for a in g.alerts] == [fingerprint(LABELS)]
    assert store.r.zscore("t:timers", "g1") == NOW + 40  # created due: older than group_wait


def test_without_lines_a_missing_group_leaves_everything_unwritten(store: AlertStore) -> None:
    keys = store.keys
    value = alert(NOW - 10, NOW + 300, NOW).encode()
    line = f"{fingerprint(LABELS)}\tg1\t"
    args = [
        NOW,
        keys.group_stem,
        keys.members_stem,
        "",
        line,
        0,
        keys.alertname_limit_stem,
        b"",
        30.0,
        "",
        value,
    ]
    assert store._put(keys=[keys.alerts, keys.timers, keys.groups, keys.alert_times], args=args) == [-1]
    assert store.r.keys("*") == []


def test_groups_with_different_group_waits_or_a_limit_always_go_with_their_lines() -> None:
    for limit, groups in ((0, [group("g1", 30.0), group("g2", 60.0)]), (5, [group()])):
        store = AlertStore(fakeredis.FakeRedis(server=fakeredis.FakeServer()), Keys("t"), limit)
        calls = store._put = _RecordedLines(store._put)  # type: ignore[method-assign]
        for t in (NOW, NOW + 5):
            store.put([(alert(NOW - 10, NOW + 300, t), groups)], t)
        assert all(calls.lines), limit


def test_a_group_of_a_batch_takes_alerts_with_and_without_times_and_unchanged_resends(
    store: AlertStore,
) -> None:
    """One group gets three alerts in a batch (the script keeps its first member alone, then a
    table): one posted with times, one without, and the re-send of an unchanged one, twice."""
    body = orjson.dumps(
        [
            {"labels": {"alertname": "A", "i": "1"}, "startsAt": "2023-11-14T22:13:00Z"},
            {"labels": {"alertname": "A", "i": "2"}},
            {"labels": {"alertname": "A", "i": "3"}, "annotations": {"s": "x"}},
        ]
    )
    for now in (NOW, NOW + 60):
        alerts, errors = parse_postable_alerts(body, now, 300.0)
        assert errors == []
        store.put([(a, [group(wait=3600.0)]) for a in alerts], now)
    raw = dict(store.iter_raw_alerts(store.keys))
    a1, a2, a3 = alerts
    assert raw[a1.fingerprint].split(" ", 1)[0] == repr(a1.starts_at)
    for a in (a2, a3):  # without times: the first post's startsAt, the re-send's other times
        body_json = orjson.dumps({"l": a.labels, "a": a.annotations, "g": ""}).decode()
        assert raw[a.fingerprint] == f"{NOW!r} {NOW + 360!r} {NOW + 60!r} 1 {body_json}"
    [g] = store.load_groups(["g1"])
    assert sorted(a.fingerprint for a in g.alerts) == sorted(a.fingerprint for a in alerts)
    assert store.r.zscore("t:timers", "g1") == NOW + 3600


def test_on_a_cluster_only_the_shard_whose_group_went_is_called_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each shard's call of a batch goes without lines once its groups are known; the one that
    finds its group deleted is sent again with them, the other is not repeated."""
    lines: list[list[str]] = []  # ARGV[4] of each call, by run_script call

    def recorded(client: Any, script: Any, calls: Any) -> Any:
        lines.append([args[3] for _, args in calls])
        return run_script(client, script, calls)

    monkeypatch.setattr("app.store.run_script", recorded)
    keys = Keys("t", cluster=True)
    store = AlertStore(fakeredis.FakeRedis(server=fakeredis.FakeServer()), keys)
    g1, g2 = group("g1"), group("g2")
    assert keys.shard("g1") is not keys.shard("g2")
    one = Alert({"alertname": "A"}, {}, NOW - 5, NOW + 300, "", NOW, False, fingerprint({"alertname": "A"}))
    two = Alert({"alertname": "B"}, {}, NOW - 5, NOW + 300, "", NOW, False, fingerprint({"alertname": "B"}))
    store.put([(one, [g1]), (two, [g2])], NOW)
    assert store.put([(one, [g1]), (two, [g2])], NOW + 1) == 2
    AlertStore(store.r, keys).delete_group("g2")  # another process
    assert store.put([(one, [g1]), (two, [g2])], NOW + 2) == 2
    sent_lines = [[bool(text) for text in run] for run in lines]
    assert sent_lines == [[True, True], [False, False], [False, False], [True]]
    groups = {g.gid: [a.fingerprint for a in g.alerts] for g in store.load_groups(["g1", "g2"])}
    assert groups == {"g1": [one.fingerprint], "g2": [two.fingerprint]}
    assert store.r.hget(keys.shard("g2").group("g2"), "flushed") == b"0"
    assert store.r.zscore(keys.shard("g1").timers, "g1") == NOW + 30
    assert store.r.zscore(keys.shard("g2").timers, "g2") == NOW + 32  # created anew at NOW + 2


def posted_without_times(now: float, *alerts: tuple[str, str], resolve: float = 300.0) -> list[Alert]:
    """Alerts (alertname, summary) as a post without startsAt and endsAt makes them at `now`."""
    body = orjson.dumps([{"labels": {"alertname": n}, "annotations": {"summary": v}} for n, v in alerts])
    parsed, errors = parse_postable_alerts(body, now, resolve)
    assert errors == []
    return parsed


def split_parts(store: AlertStore, a: Alert) -> tuple[bytes | None, bytes | None]:
    """What Redis holds for the alert: its P:alerts value and its P:alert-times entry."""
    return store.r.hget("t:alerts", a.fingerprint), store.r.hget("t:alert-times", a.fingerprint)


def test_an_alert_posted_without_times_is_stored_split_and_a_resend_rewrites_its_times(
    store: AlertStore,
) -> None:
    """P:alerts holds the body as it came, P:alert-times the times; a re-send without times keeps
    the stored startsAt, takes the new endsAt, updatedAt and body, and reads back whole from
    the listing and the groups alike."""
    [first] = posted_without_times(NOW, ("A", "one"))
    store.put([(first, [group()])], NOW)
    assert split_parts(store, first) == (first.encode_body(), f"{NOW!r} {NOW + 300!r} {NOW!r} 1".encode())
    [again] = posted_without_times(NOW + 60, ("A", "two"))
    assert store.put([(again, [group()])], NOW + 60) == 1
    assert split_parts(store, again) == (
        again.encode_body(),
        f"{NOW!r} {NOW + 360!r} {NOW + 60!r} 1".encode(),
    )
    [listed] = store.alerts()
    [g] = store.load_groups(["g1"])
    assert g.alerts == [listed]
    assert (listed.starts_at, listed.ends_at, listed.updated_at, listed.timeout) == (
        NOW,
        NOW + 360,
        NOW + 60,
        True,
    )
    assert listed.annotations == {"summary": "two"}
    assert g.raw[listed.fingerprint] == f"{NOW!r} {NOW + 360!r} {NOW + 60!r} 1 {again.encode_body().decode()}"


def test_a_whole_value_written_before_the_split_merges_and_changes_form(store: AlertStore) -> None:
    """A rolling upgrade: the value main's code wrote (whole, in P:alerts) merges with a re-send
    without times (the stored startsAt kept) and is then stored split; a post with times makes it
    whole again and drops its P:alert-times entry."""
    [old] = posted_without_times(NOW, ("A", "one"))
    store.r.hset("t:alerts", old.fingerprint, old.encode())  # as main's PUT_ALERTS stored it
    store.r.sadd("t:gmembers:g1", old.fingerprint)
    [again] = posted_without_times(NOW + 60, ("A", "two"))
    store.put([(again, [group()])], NOW + 60)
    assert split_parts(store, again) == (
        again.encode_body(),
        f"{NOW!r} {NOW + 360!r} {NOW + 60!r} 1".encode(),
    )
    with_times = Alert(
        {"alertname": "A"}, {"summary": "three"}, NOW + 90, NOW + 900, "", NOW + 90, False, again.fingerprint
    )
    store.put([(with_times, [group()])], NOW + 90)
    value, times = split_parts(store, again)
    assert times is None
    assert value == f"{NOW!r} {NOW + 900!r} {NOW + 90!r} 0 ".encode() + with_times.encode_body()
    [listed] = store.alerts()
    assert (listed.starts_at, listed.ends_at, listed.annotations) == (NOW, NOW + 900, {"summary": "three"})


@pytest.mark.parametrize("times_last", [False, True])
def test_a_fingerprint_with_and_without_times_in_one_batch_keeps_the_last_form(
    store: AlertStore, times_last: bool
) -> None:
    """A split result and then a whole one for one fingerprint in a batch (or the other way round):
    P:alert-times holds the alert's times exactly when P:alerts holds its body."""
    [bare] = posted_without_times(NOW, ("A", "bare"))
    whole = Alert(
        {"alertname": "A"}, {"summary": "whole"}, NOW - 5, NOW + 600, "", NOW, False, bare.fingerprint
    )
    store.put([(bare, [])], NOW - 60)  # stored split already
    batch = [(bare, []), (whole, [])] if times_last else [(whole, []), (bare, [])]
    store.put(batch, NOW)
    value, times = split_parts(store, bare)
    assert value is not None
    assert (times is None) == times_last
    assert (value[0] == ord("{")) == (not times_last)
    [listed] = store.alerts()
    assert listed.annotations == {"summary": "whole" if times_last else "bare"}


def test_alerts_resent_together_share_their_merge_and_each_keeps_its_own(store: AlertStore) -> None:
    """PUT_ALERTS merges a line whose stored times are the line before's the same way (one merge
    for alerts first posted together): an alert between them with other stored times, a resolved
    one that fires again (a new startsAt) and a younger stored one (a sender whose clock runs
    ahead: its body, endsAt and updatedAt stay, the earlier startsAt wins) each merge as they
    would alone."""
    store.put([(a, []) for a in posted_without_times(NOW - 120, ("A", "1"), ("B", "1"))], NOW - 120)
    store.put([(a, []) for a in posted_without_times(NOW - 60, ("C", "1"))], NOW - 60)
    store.put([(a, []) for a in posted_without_times(NOW - 120, ("D", "1"), resolve=10.0)], NOW - 120)
    store.put([(a, []) for a in posted_without_times(NOW + 30, ("E", "1"))], NOW + 30)
    again = posted_without_times(NOW, ("A", "2"), ("C", "2"), ("B", "2"), ("D", "2"), ("E", "2"))
    assert store.put([(a, []) for a in again], NOW) == 5
    got = {a.labels["alertname"]: a for a in store.alerts()}
    assert {n: (a.starts_at, a.ends_at, a.annotations["summary"]) for n, a in got.items()} == {
        "A": (NOW - 120, NOW + 300, "2"),
        "B": (NOW - 120, NOW + 300, "2"),
        "C": (NOW - 60, NOW + 300, "2"),
        "D": (NOW, NOW + 300, "2"),  # resolved at NOW - 110: fired again
        "E": (NOW, NOW + 330, "1"),
    }
    assert got["E"].updated_at == NOW + 30


def test_gc_and_drops_compare_a_split_alert_whole(store: AlertStore) -> None:
    """A resolved split alert goes with its times once its group let go of it; one that a re-send
    changed after the flush read it stays in its group."""
    [done] = posted_without_times(NOW - 400, ("A", "1"))
    store.put([(done, [group()])], NOW - 400)
    [g] = store.load_groups(["g1"])
    [again] = posted_without_times(NOW - 390, ("A", "1"))
    store.put([(again, [group()])], NOW - 390)  # same body, later times
    assert store.drop_unchanged_alerts(g, [done.fingerprint]) is False
    [g] = store.load_groups(["g1"])
    assert store.gc_resolved(NOW) == 0  # its group still holds it
    assert store.drop_unchanged_alerts(g, [done.fingerprint]) is True
    assert store.gc_resolved(NOW) == 1
    assert split_parts(store, done) == (None, None)


def test_the_embedded_snapshot_keeps_a_split_alert(store: AlertStore, tmp_path: Path) -> None:
    """--storage.path: the snapshot saves P:alert-times with P:alerts, and a restart merges the
    next re-send without times with the restored times."""
    store.put([(a, [group()]) for a in posted_without_times(NOW, ("A", "1"))], NOW)
    settings = Settings(storage_path=str(tmp_path))
    backend.save_snapshot(store.r, store.keys, settings, Writer())
    restored = AlertStore(fakeredis.FakeRedis(server=fakeredis.FakeServer()), Keys("t"))
    backend.load_snapshot(restored.r, settings)
    assert restored.alerts() == store.alerts()
    restored.put([(a, [group()]) for a in posted_without_times(NOW + 60, ("A", "2"))], NOW + 60)
    [a] = restored.alerts()
    assert (a.starts_at, a.ends_at, a.annotations) == (NOW, NOW + 360, {"summary": "2"})
