"""The notification history: the notifier records each attempt, bounded per group and in time,
written off the send path, kept by the embedded snapshot."""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path

import fakeredis
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app import backend, history
from app.durability import Writer
from app.history import PER_GROUP, HistoryLog, attempt_to_api
from app.nflog import NotificationLog
from app.notify import integrations
from app.notify.errors import NotifyError
from app.notify.pipeline import Notifier, Outcome
from app.redis_keys import Keys
from app.settings import Settings
from tests.support.ports import free_port
from tests.unit.test_notify import FakeSender, run, task_for

WORKER = f"{socket.gethostname()}/{os.getpid()}"


@pytest.fixture
def nflog() -> NotificationLog:
    return NotificationLog(fakeredis.FakeRedis(server=fakeredis.FakeServer()), Keys("t"), retention=3600)


def test_the_notifier_records_a_retried_then_delivered_notification(nflog, monkeypatch) -> None:
    notifier = Notifier(nflog, lease_ttl=15)
    sender = FakeSender(NotifyError("webhook POST answered 503", retryable=True), None)
    monkeypatch.setitem(integrations.SENDERS, "webhook", sender)
    try:
        assert run(notifier, task_for("A")) == [Outcome.RETRY]
        assert run(notifier, task_for("A", retry=True)) == [Outcome.SENT]  # the group's retry
    finally:
        notifier.drain(5)
    history.flush()

    found = HistoryLog(nflog.r, nflog.keys).group("g-A")
    assert found is not None
    group, attempts = found
    assert (group.key, group.receiver, group.labels, group.kept) == (
        '{}:{alertname="A"}',
        "team",
        {"alertname": "A"},
        2,
    )
    shown = [attempt_to_api(a) for a in attempts]
    assert [(a["outcome"], a["attempt"], a["error"]) for a in shown] == [
        ("sent", 2, ""),
        ("retrying", 1, "webhook POST answered 503"),
    ]
    assert {
        (a["receiver"], a["integration"], a["index"], a["worker"], a["firing"], a["resolved"]) for a in shown
    } == {("team", "webhook", 0, WORKER, 1, 0)}
    assert shown[0]["at"] >= shown[1]["at"]
    assert [g.gid for g in HistoryLog(nflog.r, nflog.keys).groups()] == ["g-A"]


def test_a_failure_the_notifier_gives_up_on_is_recorded_as_failed(nflog, monkeypatch) -> None:
    notifier = Notifier(nflog, lease_ttl=15)
    monkeypatch.setitem(
        integrations.SENDERS, "webhook", FakeSender(NotifyError("400 bad request", retryable=False))
    )
    try:
        assert run(notifier, task_for("A")) == [Outcome.FAILED]
    finally:
        notifier.drain(5)
    history.flush()
    _, attempts = HistoryLog(nflog.r, nflog.keys).group("g-A") or (None, [])
    assert [(a["o"], a["a"], a["e"]) for a in attempts] == [("failed", 1, "400 bad request")]


def test_records_queued_together_are_those_queued_one_by_one(nflog) -> None:
    """A sender's batch of commits queues its records at once (record_attempts): each is the
    record record_attempt would have made, the batch's records sharing one time."""
    history.record_attempt(nflog, task_for("A"), 1, "sent")
    history.record_attempts(nflog, [(task_for("B"), 1), (task_for("C", retry=True), 2)], "sent")
    history.flush()
    log = HistoryLog(nflog.r, nflog.keys)
    records = {}
    for name in ("A", "B", "C"):
        group, [attempt] = log.group(f"g-{name}") or (None, [])
        assert group is not None and (group.key, group.receiver) == (f'{{}}:{{alertname="{name}"}}', "team")
        records[name] = attempt
    assert records["B"]["t"] == records["C"]["t"]
    single = {k: v for k, v in records["A"].items() if k != "t"}
    assert {k: v for k, v in records["B"].items() if k != "t"} == single
    assert {k: v for k, v in records["C"].items() if k != "t"} == {**single, "a": 2}


def test_each_group_keeps_its_last_attempts_only(nflog) -> None:
    task = task_for("A")
    for n in range(1, PER_GROUP + 6):
        history.record_attempt(nflog, task, n, "retrying", "x" * 2000)
    history.flush()
    group, attempts = HistoryLog(nflog.r, nflog.keys).group("g-A") or (None, [])
    assert group is not None and group.kept == PER_GROUP
    assert [a["a"] for a in attempts] == list(range(PER_GROUP + 5, 5, -1))  # the newest, newest first
    assert len(attempts[0]["e"]) == history.MAX_ERROR


def test_the_sweep_forgets_groups_last_attempted_before_the_retention(nflog) -> None:
    log = HistoryLog(nflog.r, nflog.keys)
    for name in ("Old", "New"):
        history.record_attempt(nflog, task_for(name), 1, "sent")
    history.flush()
    nflog.r.zadd(nflog.keys.history_index, {"g-Old": time.time() - 7200})
    assert log.gc(time.time(), retention=3600) == 1
    assert [g.gid for g in log.groups()] == ["g-New"]
    assert log.group("g-Old") is None
    assert not nflog.r.exists(nflog.keys.history("g-Old"))
    assert nflog.r.hkeys(nflog.keys.history_groups) == [b"g-New"]


def test_an_unreachable_redis_drops_the_records_with_a_warning(caplog) -> None:
    client = redis.Redis(port=free_port(), socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    down = NotificationLog(client, Keys("t"), retention=3600)
    history.record_attempt(down, task_for("A"), 1, "sent")
    with caplog.at_level(logging.WARNING, logger="app.history"):
        history.flush()  # no exception: the send it records has happened whatever Redis says
    assert "notification history not written: Redis unreachable" in caplog.text


def test_the_embedded_snapshot_keeps_the_history(nflog, tmp_path: Path) -> None:
    history.record_attempt(nflog, task_for("A"), 1, "retrying", "503")
    history.record_attempt(nflog, task_for("A"), 2, "sent")
    history.flush()
    settings = Settings(storage_path=str(tmp_path))
    backend.save_snapshot(nflog.r, nflog.keys, settings, Writer())
    restored = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    backend.load_snapshot(restored, settings)
    assert HistoryLog(restored, nflog.keys).group("g-A") == HistoryLog(nflog.r, nflog.keys).group("g-A")
    assert [g.gid for g in HistoryLog(restored, nflog.keys).groups()] == ["g-A"]
