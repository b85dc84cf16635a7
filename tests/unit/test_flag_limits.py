"""The limits the flags set on silences and alerts, and the dispatch start delay, on an
in-process Redis: Alertmanager's rules and messages."""

from __future__ import annotations

import logging
import time

import fakeredis
import pytest

from app import metrics
from app.alerts import Alert
from app.api.postable_silence import silence_from_api as parse_silence
from app.labels import fingerprint
from app.matchers import Matcher
from app.redis_keys import Keys
from app.retries import RetrySchedule
from app.silence import Silence, SilenceError, SilenceStore
from app.silencelimits import SilenceLimits, stored_size
from app.startdelay import StartDelay
from app.store import AlertStore, GroupRef
from app.timers import TimerLoop
from tests.unit.test_silence import body as silence_body

NOW = 1_700_000_000.0
UUID = "8e1b3a84-0a5e-4cb2-9a51-1d0f5d8c4e2a"


def silence_from_api(body: object) -> Silence:
    """A PostableSilence parsed as the API parses it (Alertmanager's default --data.retention)."""
    return parse_silence(body, 120 * 3600.0)


def client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


# -- the size Alertmanager counts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("silence", "retention", "size"),
    [
        (
            Silence(
                UUID, (Matcher("alertname", "=", "Disk"),), NOW, NOW + 3600, NOW + 0.25, "ops", "disk work"
            ),
            432000,
            114,
        ),
        (
            Silence(
                UUID,
                (Matcher("job", "=~", "node.*"), Matcher("env", "!=", "dev"), Matcher("é", "!~", "x" * 200)),
                NOW + 0.123,
                NOW + 86400,
                NOW + 0.999999,
                "c" * 300,
                "ü" * 100,
            ),
            0,
            836,
        ),
        (
            # Annotations (0.32+): a map whose entries keep an empty key and value.
            Silence(
                UUID,
                (Matcher("alertname", "=", "Disk"),),
                NOW,
                NOW + 3600,
                NOW + 0.25,
                "ops",
                "disk work",
                {"ticket": "OPS-1234", "": "", "é" * 70: "x" * 200},
            ),
            432000,
            490,
        ),
    ],
)
def test_stored_size_is_the_protobuf_size_alertmanager_counts(
    silence: Silence, retention: float, size: int
) -> None:
    """Sizes checked against google.protobuf's ByteSize of the same MeshSilence (Alertmanager
    0.34's silence.proto: matchers in one matcher set, annotations a map<string, string>, the
    expiry endsAt + retention)."""
    assert stored_size(silence, retention) == size


# -- --silences.max-silences, --silences.max-silence-size-bytes, --log.silences ----------------


def body(matcher_value: str = "Disk", comment: str = "maintenance", sid: str = "") -> dict:
    """A silence from NOW (as stored: an update in place must keep its start) for an hour."""
    matchers = [{"name": "alertname", "value": matcher_value, "isRegex": False, "isEqual": True}]
    return {**silence_body(NOW, NOW + 3600, matchers, sid), "comment": comment}


def limited(max_silences: int = 0, max_size: int = 0, log_changes: bool = False) -> SilenceStore:
    return SilenceStore(
        client(), Keys("t"), retention=0, limits=SilenceLimits(max_silences, max_size, log_changes)
    )


def test_the_count_limit_counts_expired_silences_until_they_are_collected() -> None:
    store = limited(max_silences=1)
    first = store.set(silence_from_api(body()), now=NOW)
    with pytest.raises(SilenceError, match=r"^exceeded maximum number of silences: 1 \(limit: 1\)$"):
        store.set(silence_from_api(body("Other")), now=NOW)
    store.expire(first, now=NOW + 1)
    with pytest.raises(SilenceError, match="exceeded maximum number of silences"):
        store.set(silence_from_api(body("Other")), now=NOW + 2)
    assert store.gc(NOW + 3) == 1
    store.set(silence_from_api(body("Other")), now=NOW + 3)


def test_an_update_in_place_is_not_counted_but_a_replacement_is() -> None:
    store = limited(max_silences=1)
    sid = store.set(silence_from_api(body()), now=NOW)
    assert store.set(silence_from_api(body(comment="longer", sid=sid)), now=NOW + 1) == sid
    with pytest.raises(SilenceError, match="exceeded maximum number of silences: 1"):
        store.set(silence_from_api(body("Changed", sid=sid)), now=NOW + 2)


def test_the_size_limit_applies_to_creations_and_updates() -> None:
    store = limited(max_size=300)
    sid = store.set(silence_from_api(body()), now=NOW)
    too_long = silence_from_api(body(comment="x" * 300, sid=sid))
    # What the update would store: the same silence, updated at NOW + 1.
    expected = stored_size(Silence(sid, too_long.matchers, NOW, NOW + 3600, NOW + 1, "ops", "x" * 300), 0)
    with pytest.raises(
        SilenceError, match=rf"^silence exceeded maximum size: {expected} bytes \(limit: 300 bytes\)$"
    ):
        store.set(too_long, now=NOW + 1)
    with pytest.raises(SilenceError, match="silence exceeded maximum size"):
        store.set(silence_from_api(body("Other", comment="x" * 300)), now=NOW + 1)
    assert [s.id for s in store.all()] == [sid]


def test_zero_or_negative_limits_are_no_limits() -> None:
    store = limited(max_silences=-1, max_size=0)
    for n in range(3):
        store.set(silence_from_api(body(f"n{n}", comment="x" * 5000)), now=NOW)
    assert len(store.all()) == 3


def test_log_silences_logs_alertmanagers_fields(caplog: pytest.LogCaptureFixture) -> None:
    store = limited(log_changes=True)
    with caplog.at_level(logging.INFO, logger="alerter.silences"):
        sid = store.set(silence_from_api(body()), now=NOW)
        store.set(silence_from_api(body(comment="longer", sid=sid)), now=NOW + 1)
        new = store.set(silence_from_api(body("Changed", sid=sid)), now=NOW + 2)
        store.expire(new, now=NOW + 3)
    records = [(r.getMessage(), r.fields) for r in caplog.records if r.name == "alerter.silences"]  # type: ignore[attr-defined]
    assert [m for m, _ in records] == [
        "create silence",
        "update silence",
        "expire silence",
        "create silence",
        "expire silence",
    ]
    assert records[0][1] == {
        "Id": sid,
        "CreatedBy": "ops",
        "Comment": "maintenance",
        "StartsAt": "2023-11-14T22:13:20Z",
        "EndsAt": "2023-11-14T23:13:20Z",
        "Matchers": "alertname=Disk",
    }
    assert records[2][1]["Id"] == sid and records[3][1]["Id"] == new


def test_without_log_silences_nothing_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="alerter.silences"):
        limited().set(silence_from_api(body()), now=NOW)
    assert not [r for r in caplog.records if r.name == "alerter.silences"]


# -- --alerts.per-alertname-limit --------------------------------------------------------------


def alert(instance: str, ends: float = NOW + 300, name: str = "Disk") -> Alert:
    labels = {"alertname": name, "instance": instance}
    return Alert(labels, {}, NOW - 10, ends, "", NOW, False, fingerprint(labels))


GROUP = GroupRef("g1", "k", "{}", "r", {"alertname": "Disk"}, 30, 300)


def test_alerts_over_the_per_alertname_limit_are_dropped_logged_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis = client()
    one, other = AlertStore(redis, Keys("t"), per_alertname_limit=2), AlertStore(redis, Keys("t"), 2)
    before = metrics.alerts_limited(False)._value.get()
    with caplog.at_level(logging.WARNING, logger="app.store"):
        one.put([(alert("a"), [GROUP]), (alert("b"), [GROUP])], NOW)
        other.put([(alert("c"), [GROUP]), (alert("x", name="Other"), [])], NOW)  # another process
    stored = sorted(a.labels["instance"] for a in one.alerts())
    assert stored == ["a", "b", "x"]
    assert sorted(fp.decode() for fp in redis.smembers("t:gmembers:g1")) == sorted(
        [alert("a").fingerprint, alert("b").fingerprint]
    )
    assert metrics.alerts_limited(False)._value.get() == before + 1
    [record] = [r for r in caplog.records if r.getMessage() == "error on set alert"]
    assert record.fields == {"alertname": "Disk", "err": "alert limited"}  # type: ignore[attr-defined]
    # An alert already stored is updated whatever the count.
    other.put([(alert("a", ends=NOW + 900), [GROUP])], NOW + 1)
    assert {a.labels["instance"]: a.ends_at for a in one.alerts()}["a"] == NOW + 900


def test_an_ended_alert_makes_room_under_the_limit() -> None:
    store = AlertStore(client(), Keys("t"), per_alertname_limit=1)
    store.put([(alert("a", ends=NOW + 60), [GROUP])], NOW)
    store.put([(alert("b"), [GROUP])], NOW + 30)
    assert [a.labels["instance"] for a in store.alerts()] == ["a"]
    store.put([(alert("b"), [GROUP])], NOW + 61)  # a has ended: b takes its place
    assert sorted(a.labels["instance"] for a in store.alerts()) == ["a", "b"]


# -- --dispatch.start-delay --------------------------------------------------------------------


def test_the_start_delay_runs_from_the_first_start_against_this_redis() -> None:
    redis = client()
    first = StartDelay(redis, Keys("t"), delay=60, started_at=NOW)
    later = StartDelay(redis, Keys("t"), delay=60, started_at=NOW + 50)
    assert first.holds(NOW + 10) and later.holds(NOW + 59)
    assert not later.holds(NOW + 60)  # the cluster started at NOW, not when `later` did
    redis.flushall()  # Redis lost its state (and the alerts with it): the delay starts again
    assert later.holds(NOW + 100) and not later.holds(NOW + 110)


def test_the_timer_loop_claims_nothing_while_held() -> None:
    redis = client()
    store = AlertStore(redis, Keys("t"))
    store.put([(alert("a"), [GroupRef("g1", "k", "{}", "r", {}, 0, 300)])], time.time() - 5)
    queued: list[list[str]] = []
    held = [True]
    loop = TimerLoop(
        redis,
        Keys("t"),
        RetrySchedule(redis, Keys("t")),
        lambda gids, retry: queued.append(gids),
        lambda: None,
        inflight_ttl=15,
        sweep_interval=60,
        hold=lambda _: held[0],
    )
    assert loop.tick() == 0 and queued == []
    held[0] = False
    assert loop.tick() == 1 and queued == [["g1"]]
