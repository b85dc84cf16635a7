"""The notification pipeline: dedup, lease, retries with backoff until the deadline, commit."""

from __future__ import annotations

import time
from typing import Any

import fakeredis
import pytest

from app import notify
from app.alerts import Alert
from app.config import Route, WebhookConfig
from app.labels import fingerprint
from app.nflog import NotificationLog
from app.notifiers import NotifyError
from app.notify import IntegrationTarget, Outcome, Pipeline
from app.store import GroupState, Keys


class FakeSender:
    def __init__(self, *outcomes: Exception | None) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[Any] = []

    def __call__(self, cfg: Any, n: Any, timeout: float) -> None:
        self.calls.append(n)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome


@pytest.fixture
def nflog() -> NotificationLog:
    return NotificationLog(fakeredis.FakeRedis(server=fakeredis.FakeServer()), Keys("t"), retention=3600)


def run(pipeline: Pipeline, sender: FakeSender, monkeypatch: pytest.MonkeyPatch, deadline: float = 30) -> Any:
    monkeypatch.setitem(notify.SENDERS, "webhook", sender)
    labels = {"alertname": "A"}
    now = time.time()
    alert = Alert(labels, {}, now - 10, now + 300, "", now, False, fingerprint(labels))
    group = GroupState("g1", '{}:{alertname="A"}', "{}", "team", {"alertname": "A"}, [alert], {})
    target = IntegrationTarget("team", "webhook", 0, WebhookConfig(url="http://x/"))
    return pipeline.run(group, Route(receiver="team"), target, [alert], [], now, now + deadline, "http://am")


def test_retryable_errors_are_retried_with_growing_backoff_then_committed(nflog, monkeypatch) -> None:
    waits: list[float] = []
    pipeline = Pipeline(nflog, lease_ttl=15, sleep=waits.append)
    sender = FakeSender(NotifyError("503", retryable=True), NotifyError("503", retryable=True), None)
    assert run(pipeline, sender, monkeypatch) is Outcome.SENT
    assert len(sender.calls) == 3
    assert 0.25 <= waits[0] <= 0.75 and 0.375 <= waits[1] <= 1.125  # 0.5 s then x1.5, +-50 %
    # Logged: the same content is not sent again.
    assert run(pipeline, FakeSender(), monkeypatch) is Outcome.UP_TO_DATE


def test_permanent_error_is_not_retried_and_releases_the_lease(nflog, monkeypatch) -> None:
    pipeline = Pipeline(nflog, lease_ttl=15, sleep=lambda s: None)
    sender = FakeSender(NotifyError("400 bad request", retryable=False))
    assert run(pipeline, sender, monkeypatch) is Outcome.FAILED
    assert len(sender.calls) == 1
    retry = FakeSender()
    assert run(pipeline, retry, monkeypatch) is Outcome.SENT  # the next flush may try again at once
    assert len(retry.calls) == 1


def test_gives_up_at_the_deadline(nflog, monkeypatch) -> None:
    pipeline = Pipeline(nflog, lease_ttl=15, sleep=lambda s: None)
    sender = FakeSender(*[NotifyError("timeout", retryable=True)] * 100)
    assert run(pipeline, sender, monkeypatch, deadline=0.0) is Outcome.FAILED
    assert len(sender.calls) == 1


def test_a_worker_whose_lease_was_taken_over_does_not_send(nflog, monkeypatch) -> None:
    def steal(_: float) -> None:
        for key in nflog.r.scan_iter("t:lease:*"):
            nflog.r.set(key, "another-worker")

    pipeline = Pipeline(nflog, lease_ttl=15, sleep=steal)
    sender = FakeSender(NotifyError("503", retryable=True), None)
    assert run(pipeline, sender, monkeypatch) is Outcome.FAILED
    assert len(sender.calls) == 1  # the retry after the takeover never happened
