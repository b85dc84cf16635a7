"""Dispatcher flushes on an in-process Redis: what a group keeps after each kind of outcome."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import yaml

from app.alerts import Alert
from app.dispatcher import FlushResult
from app.labels import fingerprint
from app.memo import FirstUseCache
from app.notify import integrations
from app.notify.errors import NotifyError
from app.runtime import Runtime
from app.settings import Settings
from app.store import GroupRefs, GroupState
from app.timers import TimerLoop

CONFIG = {
    "route": {"receiver": "team", "group_by": ["alertname"]},
    "receivers": [{"name": "team", "webhook_configs": [{"url": "http://127.0.0.1:9/"}]}],
}


@pytest.fixture
def rt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    path = tmp_path / "am.yml"
    path.write_text(yaml.safe_dump(CONFIG))
    settings = Settings(config_file=str(path), storage_path=str(tmp_path), peer_timeout=15.0)
    return Runtime(settings, fakeredis.FakeRedis(server=fakeredis.FakeServer()))


def put(rt: Runtime, ends_in: float) -> str:
    labels = {"alertname": "Disk"}
    now = time.time()
    alert = Alert(labels, {}, now - 60, now + ends_in, "", now, False, fingerprint(labels))
    rt.dispatcher.put_alerts([alert], now)
    (gid,) = rt.store.group_ids()
    return gid


def flush(rt: Runtime, gid: str, retry: bool = False) -> FlushResult | None:
    """Flush one group and wait for its sends (they run on the notifier's threads)."""
    results: list[FlushResult | None] = []
    finished = threading.Event()

    def done(result: FlushResult | None) -> None:
        results.append(result)
        finished.set()

    if not rt.dispatcher.flush_many([gid], "http://am", done, retry=retry):
        return None
    assert finished.wait(10), "the group's sends did not end within 10 s"
    return results[0]


def load(rt: Runtime, gid: str) -> GroupState | None:
    found = rt.store.load_groups([gid])
    return found[0] if found else None


def record_sends(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    statuses: list[str] = []

    def send(cfg: Any, n: Any, ctx: Any) -> None:
        statuses.append(n.status)

    monkeypatch.setitem(integrations.SENDERS, "webhook", send)
    return statuses


def test_resolution_sent_and_logged_drops_the_group(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    sent = record_sends(monkeypatch)
    gid = put(rt, ends_in=300)
    flush(rt, gid)
    put(rt, ends_in=-1)
    result = flush(rt, gid)
    assert sent == ["firing", "resolved"]
    assert result is not None and result.deleted
    assert load(rt, gid) is None


def test_resolution_whose_lease_a_dead_worker_holds_keeps_the_group_for_the_retry(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that sent the resolution and died before committing leaves its lease behind:
    the flush that finds it busy must keep the resolved alert, so the retry after the lease
    expires still has something to send."""
    sent = record_sends(monkeypatch)
    gid = put(rt, ends_in=300)
    flush(rt, gid)
    put(rt, ends_in=-1)
    group = load(rt, gid)
    assert group is not None
    field = rt.nflog.field(gid, "team", "webhook", 0)
    ((_, seen),) = rt.nflog.read_many([field])
    resolved = frozenset(a.fingerprint for a in group.alerts)
    verdict, _ = rt.nflog.acquire(field, seen, frozenset(), resolved, ttl=15)  # the dead worker's
    assert verdict == "ok"

    result = flush(rt, gid)
    assert sent == ["firing"]
    assert result is not None and not result.deleted
    kept = load(rt, gid)
    assert kept is not None and [a.fingerprint for a in kept.alerts] == list(resolved)

    for key in rt.client.scan_iter(rt.keys.lease("*")):
        rt.client.delete(key)  # the lease's TTL ran out
    flush(rt, gid)
    assert sent == ["firing", "resolved"]
    assert load(rt, gid) is None


def test_an_alert_that_routes_elsewhere_after_a_reload_leaves_its_old_group_unannounced(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Groups read each alert's current value; one the reloaded config sends to another group
    must not go on being notified by the old one (Alertmanager rebuilds its groups on reload)."""
    sent = record_sends(monkeypatch)
    old_gid = put(rt, ends_in=300)
    moved = {
        "route": {
            "receiver": "team",
            "group_by": ["alertname"],
            "routes": [{"receiver": "other", "matchers": ['alertname="Disk"']}],
        },
        "receivers": [
            {"name": "team", "webhook_configs": [{"url": "http://127.0.0.1:9/"}]},
            {"name": "other", "webhook_configs": [{"url": "http://127.0.0.1:9/"}]},
        ],
    }
    reload_then_send_again(rt, moved, {"alertname": "Disk"})
    (new_gid,) = set(rt.store.group_ids()) - {old_gid}

    result = flush(rt, old_gid)
    assert result is not None and result.deleted and result.notified == 0
    assert load(rt, old_gid) is None
    flush(rt, new_gid)
    assert sent == ["firing"]


def test_an_alert_grouped_by_other_labels_after_a_reload_leaves_its_old_group_unannounced(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same route (same id) with another group_by puts the alert in another group of it."""
    sent = record_sends(monkeypatch)
    labels = {"alertname": "Disk", "instance": "h1"}
    post(rt, labels)
    (old_gid,) = rt.store.group_ids()
    regrouped = {**CONFIG, "route": {"receiver": "team", "group_by": ["instance"]}}
    reload_then_send_again(rt, regrouped, labels)
    (new_gid,) = set(rt.store.group_ids()) - {old_gid}

    result = flush(rt, old_gid)
    assert result is not None and result.deleted and result.notified == 0
    flush(rt, new_gid)
    assert sent == ["firing"]
    group = load(rt, new_gid)
    assert group is not None and group.labels == {"instance": "h1"}


def reload_then_send_again(rt: Runtime, config: dict[str, Any], labels: dict[str, str]) -> None:
    """Reload `config`, then post the alert with `labels` again under it (a Prometheus re-send)."""
    Path(rt.settings.config_file).write_text(yaml.safe_dump(config))
    assert rt.reload() is None
    post(rt, labels)


def post(rt: Runtime, labels: dict[str, str]) -> None:
    """An alert with `labels`, started a minute ago, firing for five more minutes."""
    now = time.time()
    rt.dispatcher.put_alerts(
        [Alert(labels, {}, now - 60, now + 300, "", now, False, fingerprint(labels))], now
    )


def test_a_retryable_failure_gives_the_group_a_retry_that_sends_only_what_failed(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One of the receiver's two webhooks answers 503: the flush schedules the group's retry
    (without touching its timer), and the retry sends to that webhook alone."""
    two = {
        "route": {"receiver": "team", "group_by": ["alertname"]},
        "receivers": [
            {
                "name": "team",
                "webhook_configs": [{"url": "http://127.0.0.1:9/ok"}, {"url": "http://127.0.0.1:9/down"}],
            }
        ],
    }
    Path(rt.settings.config_file).write_text(yaml.safe_dump(two))
    assert rt.reload() is None
    calls: list[str] = []

    def send(cfg: Any, n: Any, ctx: Any) -> None:
        calls.append(cfg.url.rsplit("/", 1)[1])
        if cfg.url.endswith("/down") and calls.count("down") == 1:
            raise NotifyError("503", retryable=True, reason="serverError")

    monkeypatch.setitem(integrations.SENDERS, "webhook", send)
    gid = put(rt, ends_in=300)
    timers = TimerLoop(
        rt.client, rt.keys, rt.retries, lambda *_: None, lambda: None, inflight_ttl=15, sweep_interval=60
    )
    assert timers.claim_due(time.time()) == [gid]  # the timer fires: next flush in 5 min
    timer = rt.client.zscore(rt.keys.timers, gid)
    result = flush(rt, gid)
    assert result is not None and result.notified == 1 and result.failed == 1
    assert rt.client.zscore(rt.keys.retries, gid) is not None
    assert sorted(calls) == ["down", "ok"]

    result = flush(rt, gid, retry=True)
    assert result is not None and result.notified == 1 and result.failed == 0
    assert sorted(calls) == ["down", "down", "ok"]
    assert rt.client.zscore(rt.keys.timers, gid) == timer


def test_the_route_cache_computes_a_key_once_and_starts_afresh_when_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    computed: list[Any] = []

    def compute(key: Any) -> Any:
        computed.append(key)
        return GroupRefs([])

    routes: FirstUseCache[Any, Any] = FirstUseCache(compute, 2)
    a, b, c = ((("alertname", n),) for n in "abc")
    assert routes[a] is routes[a] and routes[b] is routes[b]
    assert computed == [a, b]
    routes[c]  # full: forgets a and b
    assert list(routes) == [c]
    routes[a]
    assert computed == [a, b, c, a]
