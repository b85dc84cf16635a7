"""The notification pipeline: dedup, lease, retries with backoff until the deadline, commit."""

from __future__ import annotations

import time
from typing import Any

import fakeredis
import pytest

from app.alerts import Alert
from app.config import Route, WebhookConfig
from app.labels import fingerprint
from app.nflog import NotificationLog
from app.notify import integrations
from app.notify.errors import NotifyError
from app.notify.pipeline import IntegrationTarget, Notifier, NotifyTask, Outcome
from app.redis_keys import Keys
from app.store import GroupState
from app.template import Templates


class FakeSender:
    def __init__(self, *outcomes: Exception | None) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[Any] = []

    def __call__(self, cfg: Any, n: Any, ctx: Any) -> None:
        self.calls.append(n)
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome


@pytest.fixture
def nflog() -> NotificationLog:
    return NotificationLog(fakeredis.FakeRedis(server=fakeredis.FakeServer()), Keys("t"), retention=3600)


def job_for(name: str, deadline: float = 30) -> NotifyTask:
    labels = {"alertname": name}
    now = time.time()
    alert = Alert(labels, {}, now - 10, now + 300, "", now, False, fingerprint(labels))
    group = GroupState(f"g-{name}", f'{{}}:{{alertname="{name}"}}', "{}", "team", labels, [alert], {})
    target = IntegrationTarget("team", "webhook", 0, WebhookConfig(url="http://x/"))
    return NotifyTask(group, Route(receiver="team"), target, [alert], [], now, now + deadline)


def run(pipeline: Notifier, sender: FakeSender, monkeypatch: pytest.MonkeyPatch, deadline: float = 30) -> Any:
    monkeypatch.setitem(integrations.SENDERS, "webhook", sender)
    return pipeline.run_many([job_for("A", deadline)], "http://am", Templates())[0]


def test_retryable_errors_are_retried_with_growing_backoff_then_committed(nflog, monkeypatch) -> None:
    waits: list[float] = []
    pipeline = Notifier(nflog, lease_ttl=15, sleep=waits.append)
    sender = FakeSender(NotifyError("503", retryable=True), NotifyError("503", retryable=True), None)
    assert run(pipeline, sender, monkeypatch) is Outcome.SENT
    assert len(sender.calls) == 3
    assert 0.24 <= waits[0] <= 0.75 and 0.36 <= waits[1] <= 1.125  # 0.5 s then x1.5, +-50 %
    # Logged: the same content is not sent again.
    assert run(pipeline, FakeSender(), monkeypatch) is Outcome.UP_TO_DATE


def test_permanent_error_is_not_retried_and_releases_the_lease(nflog, monkeypatch) -> None:
    pipeline = Notifier(nflog, lease_ttl=15, sleep=lambda s: None)
    sender = FakeSender(NotifyError("400 bad request", retryable=False))
    assert run(pipeline, sender, monkeypatch) is Outcome.FAILED
    assert len(sender.calls) == 1
    retry = FakeSender()
    assert run(pipeline, retry, monkeypatch) is Outcome.SENT  # the next flush may try again at once
    assert len(retry.calls) == 1


def test_gives_up_at_the_deadline(nflog, monkeypatch) -> None:
    pipeline = Notifier(nflog, lease_ttl=15, sleep=lambda s: None)
    sender = FakeSender(*[NotifyError("timeout", retryable=True)] * 100)
    assert run(pipeline, sender, monkeypatch, deadline=0.0) is Outcome.FAILED
    assert len(sender.calls) == 1


def test_a_worker_whose_lease_was_taken_over_does_not_send(nflog, monkeypatch) -> None:
    def steal(_: float) -> None:
        for key in nflog.r.scan_iter(nflog.keys.lease("*")):
            nflog.r.set(key, "another-worker")

    pipeline = Notifier(nflog, lease_ttl=15, sleep=steal)
    sender = FakeSender(NotifyError("503", retryable=True), None)
    assert run(pipeline, sender, monkeypatch) is Outcome.FAILED
    assert len(sender.calls) == 1  # the retry after the takeover never happened


def test_a_batch_sends_what_is_due_and_leaves_what_another_worker_holds(nflog, monkeypatch) -> None:
    pipeline = Notifier(nflog, lease_ttl=15, sleep=lambda s: None)
    sender = FakeSender()
    monkeypatch.setitem(integrations.SENDERS, "webhook", sender)
    logged, held, due = job_for("Logged"), job_for("Held"), job_for("Due")
    assert pipeline.run_many([logged], "http://am", Templates()) == [Outcome.SENT]
    nflog.acquire(held.log_field, "", held.firing_set, held.resolved_set, ttl=15)  # another worker's
    sender.calls.clear()

    outcomes = pipeline.run_many([logged, held, due], "http://am", Templates())
    assert outcomes == [Outcome.UP_TO_DATE, Outcome.BUSY, Outcome.SENT]
    assert [n.group_labels["alertname"] for n in sender.calls] == ["Due"]


def test_a_lease_grown_old_during_the_batch_is_checked_before_its_first_send(nflog, monkeypatch) -> None:
    """Leases are taken for the whole batch at once: one whose holder spent longer than a third
    of the TTL on earlier sends is refreshed first, and not used if another worker took it."""
    pipeline = Notifier(nflog, lease_ttl=0.3, sleep=lambda s: None)
    first, second = job_for("First"), job_for("Second")

    def slow_send_then_takeover(cfg: Any, n: Any, ctx: Any) -> None:
        calls.append(n.group_labels["alertname"])
        time.sleep(0.15)
        nflog.r.set(
            nflog.lease_key(second.log_field, second.firing_set, second.resolved_set), "another-worker"
        )

    calls: list[str] = []
    monkeypatch.setitem(integrations.SENDERS, "webhook", slow_send_then_takeover)
    assert pipeline.run_many([first, second], "http://am", Templates()) == [Outcome.SENT, Outcome.FAILED]
    assert calls == ["First"]


def test_a_receiver_being_retried_does_not_hold_up_the_rest_of_the_batch(nflog, monkeypatch) -> None:
    pipeline = Notifier(nflog, lease_ttl=15, sleep=lambda s: None)
    sent: list[str] = []
    failures = {"Broken": 2}

    def send(cfg: Any, n: Any, ctx: Any) -> None:
        name = n.group_labels["alertname"]
        sent.append(name)
        if failures.get(name):
            failures[name] -= 1
            raise NotifyError("503", retryable=True)

    monkeypatch.setitem(integrations.SENDERS, "webhook", send)
    outcomes = pipeline.run_many([job_for("Broken"), job_for("Healthy")], "http://am", Templates())
    assert outcomes == [Outcome.SENT, Outcome.SENT]
    assert sent == ["Broken", "Healthy", "Broken", "Broken"]
