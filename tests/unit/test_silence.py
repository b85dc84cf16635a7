"""Silences: Alertmanager's validation, update-or-replace rules, expiry and retention."""

from __future__ import annotations

import fakeredis
import pytest
from prometheus_client import REGISTRY

from app.alerts import Alert
from app.api.postable_silence import silence_from_api
from app.redis_keys import Keys
from app.silence import Silence, SilenceError, SilenceNotFound, SilenceStage, SilenceStore
from app.timeutil import format_rfc3339

NOW = 1_700_000_000.0


def parse(b: dict) -> Silence:
    return silence_from_api(b, retention=3600)


def body(starts: float, ends: float, matchers=None, sid: str = "") -> dict:
    return {
        "id": sid,
        "matchers": matchers
        or [{"name": "alertname", "value": "DiskFull", "isRegex": False, "isEqual": True}],
        "startsAt": format_rfc3339(starts),
        "endsAt": format_rfc3339(ends),
        "createdBy": "ops",
        "comment": "maintenance",
    }


@pytest.fixture
def store() -> SilenceStore:
    return SilenceStore(fakeredis.FakeRedis(server=fakeredis.FakeServer()), Keys("t"), retention=3600)


def test_times_are_validated_like_alertmanager(store: SilenceStore) -> None:
    with pytest.raises(SilenceError, match="start time must be before end time"):
        store.set(parse(body(NOW + 60, NOW + 60)), NOW)
    with pytest.raises(SilenceError, match="end time can't be in the past"):
        store.set(parse(body(NOW - 60, NOW - 1)), NOW)
    with pytest.raises(SilenceNotFound):
        store.set(parse(body(NOW, NOW + 60, sid="no-such-id")), NOW)


def test_new_silence_is_active_and_mutes_matching_labels(store: SilenceStore) -> None:
    sid = store.set(parse(body(NOW - 10, NOW + 60)), NOW)
    sil = store.get(sid)
    assert sil.starts_at == NOW  # a start in the past is clamped to now
    assert sil.state(NOW) == "active"
    assert store.silenced_by({"alertname": "DiskFull", "x": "y"}, NOW) == [sid]
    assert store.silenced_by({"alertname": "Other"}, NOW) == []


def test_changing_only_end_or_comment_keeps_the_id(store: SilenceStore) -> None:
    sid = store.set(parse(body(NOW, NOW + 60)), NOW)
    update = {**body(NOW, NOW + 600, sid=sid), "comment": "longer"}
    assert store.set(parse(update), NOW + 5) == sid
    assert store.get(sid).ends_at == NOW + 600 and store.get(sid).comment == "longer"


def test_changing_matchers_expires_the_old_silence_and_makes_a_new_id(store: SilenceStore) -> None:
    sid = store.set(parse(body(NOW, NOW + 60)), NOW)
    other = [{"name": "alertname", "value": "CPU", "isRegex": False, "isEqual": True}]
    new_id = store.set(parse(body(NOW, NOW + 60, matchers=other, sid=sid)), NOW + 5)
    assert new_id != sid
    assert store.get(sid).state(NOW + 6) == "expired"
    assert store.get(new_id).state(NOW + 6) == "active"


def test_expire_pending_sets_both_times_to_now_and_twice_changes_nothing(store: SilenceStore) -> None:
    sid = store.set(parse(body(NOW + 100, NOW + 200)), NOW)
    assert store.get(sid).state(NOW) == "pending"
    store.expire(sid, NOW + 1)
    sil = store.get(sid)
    assert (sil.starts_at, sil.ends_at) == (NOW + 1, NOW + 1)
    version = store.r.get(store.version_key)
    store.expire(sid, NOW + 2)  # Alertmanager's expire is idempotent
    assert (store.get(sid).ends_at, store.r.get(store.version_key)) == (NOW + 1, version)


def test_a_second_store_sees_changes_made_through_the_first(store: SilenceStore) -> None:
    other = SilenceStore(store.r, Keys("t"), retention=3600)
    assert other.all() == []
    sid = store.set(parse(body(NOW, NOW + 60)), NOW)
    assert [s.id for s in other.all()] == [sid]
    store.expire(sid, NOW + 1)
    assert other.all()[0].state(NOW + 2) == "expired"


def test_a_worker_checks_for_other_processes_changes_at_most_once_per_max_age(store: SilenceStore) -> None:
    worker = SilenceStore(store.r, Keys("t"), retention=3600)
    assert worker.all(max_age=3600) == []
    sid = store.set(parse(body(NOW, NOW + 60)), NOW)
    assert worker.all(max_age=3600) == []  # checked moments ago: the cached list is used
    assert [s.id for s in worker.all(max_age=0.0)] == [sid]  # the API's read checks every time
    assert [s.id for s in worker.all(max_age=3600)] == [sid]


def test_expired_silences_are_kept_for_the_retention_then_dropped(store: SilenceStore) -> None:
    sid = store.set(parse(body(NOW, NOW + 60)), NOW)
    store.expire(sid, NOW + 10)
    assert store.gc(NOW + 10 + 3599) == 0
    assert store.gc(NOW + 10 + 3601) == 1
    assert store.all() == []


def test_the_silence_stage_makes_no_query_while_no_silence_is_active_or_pending(
    store: SilenceStore,
) -> None:
    """Alertmanager's silencer makes no query for an alert when no silence was added and none
    applied to it; the stage makes none while its cache holds no silence that could mute."""

    def queries() -> float:
        return REGISTRY.get_sample_value("alertmanager_silences_queries_total") or 0.0

    stage = SilenceStage(store, max_age=3600)
    alert = Alert({"alertname": "DiskFull"}, fingerprint="f")
    before = queries()
    assert stage([alert], None, None, NOW) == [alert]  # the first read checks the version: a query
    assert stage([alert], None, None, NOW) == [alert]
    assert queries() - before == 1
    store.set(parse(body(NOW + 60, NOW + 120)), NOW)  # pending
    assert len(store.all()) == 1  # the API's read (a query) brings the cache up to date
    assert stage([alert], None, None, NOW) == [alert]  # pending: each flush queries
    assert stage([alert], None, None, NOW + 90) == []  # active
    assert queries() - before == 4
    assert stage([alert], None, None, NOW + 121) == [alert]  # expired: no query again
    assert queries() - before == 4
