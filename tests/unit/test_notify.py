"""The notification pipeline: dedup, lease, one attempt per flush on the send pool, commit."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import fakeredis
import pytest

from app import metrics
from app.alerts import Alert
from app.config import Route, WebhookConfig
from app.labels import fingerprint
from app.nflog import NotificationLog
from app.notify import integrations
from app.notify.errors import NotifyError
from app.notify.message import REASON_FIRST
from app.notify.pipeline import IntegrationTarget, Notifier, NotifyTask, Outcome
from app.redis_keys import Keys
from app.store import GroupState
from app.template import Templates
from tests.support.processes import wait_until

# A lease TTL for tests that outlast it: the keeper extends a lease once it is a third of a TTL
# old, looking every quarter TTL, so a thread starved for about 0.4 TTL loses it. At 0.4 s a busy
# CI machine's stall did; at 2 s the starvation must last 0.8 s.
SHORT_LEASE_TTL = 2.0


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


@pytest.fixture
def notifier(nflog: NotificationLog) -> Iterator[Notifier]:
    made = Notifier(nflog, lease_ttl=15)
    yield made
    made.drain(5)


def task_for(name: str, receiver: str = "team", retry: bool = False, url: str = "http://x/") -> NotifyTask:
    labels = {"alertname": name}
    now = time.time()
    alert = Alert(labels, {}, now - 10, now + 300, "", now, False, fingerprint(labels))
    group = GroupState(f"g-{name}", f'{{}}:{{alertname="{name}"}}', "{}", receiver, labels, [alert], {})
    target = IntegrationTarget(receiver, "webhook", 0, WebhookConfig(url=url))
    return NotifyTask(group, Route(receiver=receiver), target, [alert], [], now, now + 30, retry)


class Outcomes:
    """The outcomes run_many reports, task by task, as they come."""

    def __init__(self, count: int) -> None:
        self.got: list[Outcome | None] = [None] * count
        self.cond = threading.Condition()

    def __call__(self, i: int, outcome: Outcome) -> None:
        with self.cond:
            assert self.got[i] is None, f"task {i} reported twice"
            self.got[i] = outcome
            self.cond.notify_all()

    def wait(self, *which: int) -> list[Outcome | None]:
        """The outcomes of tasks `which` (all by default) once all of those are in."""
        indexes = which or range(len(self.got))
        with self.cond:
            assert self.cond.wait_for(lambda: all(self.got[i] is not None for i in indexes), 10)
            return [self.got[i] for i in indexes]


def start(notifier: Notifier, *tasks: NotifyTask) -> Outcomes:
    outcomes = Outcomes(len(tasks))
    notifier.run_many(list(tasks), "http://am", Templates(), outcomes)
    return outcomes


def run(notifier: Notifier, *tasks: NotifyTask) -> list[Outcome | None]:
    """Run the tasks and wait for their attempts to end."""
    return start(notifier, *tasks).wait()


def lease_holder(nflog: NotificationLog, task: NotifyTask) -> bytes | None:
    return nflog.r.get(nflog.lease_key(task.log_field, task.firing_set, task.resolved_set))


def sample(counter: Any, *labels: str) -> float:
    return counter.labels(*labels)._value.get() if labels else counter._value.get()


def test_a_retryable_failure_is_one_attempt_that_gives_the_lease_back_for_the_retry(
    notifier: Notifier, nflog: NotificationLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = FakeSender(NotifyError("503", retryable=True, reason="serverError"))
    monkeypatch.setitem(integrations.SENDERS, "webhook", sender)
    counted = sample(metrics.notifications, "webhook")
    requests = sample(metrics.notification_requests, "webhook")
    failed_requests = sample(metrics.notification_requests_failed, "webhook")
    task = task_for("A")
    assert run(notifier, task) == [Outcome.RETRY]
    assert sample(metrics.notification_requests, "webhook") == requests + 1
    assert len(sender.calls) == 1
    assert task.error is not None and task.error.reason == "serverError"
    assert lease_holder(nflog, task) is None

    retry = task_for("A", retry=True)
    assert run(notifier, retry) == [Outcome.SENT]
    assert len(sender.calls) == 2
    # One notification however many attempts; every attempt is a request.
    assert sample(metrics.notifications, "webhook") == counted + 1
    assert sample(metrics.notification_requests, "webhook") == requests + 2
    assert sample(metrics.notification_requests_failed, "webhook") == failed_requests + 1
    assert run(notifier, task_for("A")) == [Outcome.UP_TO_DATE]  # logged: not sent again


def test_a_batch_counts_each_notification_once_per_series_as_one_by_one_would(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """alertmanager_notifications_total is added once per series and batch: the same totals as
    an increment per notification, retries left out, every attempt still a request."""
    monkeypatch.setitem(integrations.SENDERS, "webhook", FakeSender())
    counted = sample(metrics.notifications, "webhook")
    requests = sample(metrics.notification_requests, "webhook")
    observed = metrics.notification_latency.labels("webhook")._buckets[0].get()
    tasks = [task_for("A"), task_for("B"), task_for("C", receiver="other"), task_for("D", retry=True)]
    assert run(notifier, *tasks) == [Outcome.SENT] * 4
    assert sample(metrics.notifications, "webhook") == counted + 3
    assert sample(metrics.notification_requests, "webhook") == requests + 4
    # Each request's latency observed (all under the first bucket's second).
    assert metrics.notification_latency.labels("webhook")._buckets[0].get() == observed + 4


def test_a_permanent_failure_is_not_retried_and_counts_as_failed(
    notifier: Notifier, nflog: NotificationLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(
        integrations.SENDERS,
        "webhook",
        FakeSender(NotifyError("400 bad request", retryable=False, reason="clientError")),
    )
    failed = sample(metrics.notifications_failed, "webhook", "clientError")
    task = task_for("A")
    assert run(notifier, task) == [Outcome.FAILED]
    assert sample(metrics.notifications_failed, "webhook", "clientError") == failed + 1
    assert lease_holder(nflog, task) is None  # the next flush may try again at once


def test_give_up_counts_each_attempted_notification_once_with_its_reason(notifier: Notifier) -> None:
    attempted, never_attempted = task_for("A"), task_for("B")
    attempted.error = NotifyError("503", retryable=True, reason="serverError")
    before = sample(metrics.notifications_failed, "webhook", "serverError")
    notifier.give_up([attempted, never_attempted])
    assert sample(metrics.notifications_failed, "webhook", "serverError") == before + 1


def test_a_batch_sends_what_is_due_and_leaves_what_another_worker_holds(
    notifier: Notifier, nflog: NotificationLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = FakeSender()
    monkeypatch.setitem(integrations.SENDERS, "webhook", sender)
    logged, held, due = task_for("Logged"), task_for("Held"), task_for("Due")
    assert run(notifier, logged) == [Outcome.SENT]
    nflog.acquire(held.log_field, "", held.firing_set, held.resolved_set, ttl=15)  # another worker's
    sender.calls.clear()

    assert run(notifier, logged, held, due) == [Outcome.UP_TO_DATE, Outcome.BUSY, Outcome.SENT]
    assert [n.group_labels["alertname"] for n in sender.calls] == ["Due"]


def test_a_lease_lost_while_the_send_waits_is_not_used_and_the_group_is_retried(
    nflog: NotificationLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker keeps the leases of its waiting sends alive; one it finds taken over (a Redis
    failover lost it, another worker took it) is not sent under, and the group's retry sorts
    it out."""
    notifier = Notifier(nflog, lease_ttl=SHORT_LEASE_TTL)
    release = threading.Event()
    first, second = task_for("First"), task_for("Second")
    calls: list[str] = []

    def send(cfg: Any, n: Any, ctx: Any) -> None:
        calls.append(n.group_labels["alertname"])
        release.wait(10)

    monkeypatch.setitem(integrations.SENDERS, "webhook", send)
    notifier.pool.per_target = 1  # Second waits behind First
    lost = sample(metrics.nflog_lease_lost)
    outcomes = start(notifier, first, second)
    wait_until(lambda: calls == ["First"], 10)
    nflog.r.set(nflog.lease_key(second.log_field, second.firing_set, second.resolved_set), "another-worker")
    wait_until(lambda: sample(metrics.nflog_lease_lost) > lost, 10, message="the loss went unnoticed")
    release.set()
    assert outcomes.wait() == [Outcome.SENT, Outcome.RETRY]
    assert calls == ["First"]
    notifier.drain(5)


def test_a_hanging_receiver_holds_up_neither_the_batch_nor_another_receiver(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    sent: list[str] = []

    def send(cfg: Any, n: Any, ctx: Any) -> None:
        if n.receiver == "hanging":
            release.wait(10)
        sent.append(n.receiver)

    monkeypatch.setitem(integrations.SENDERS, "webhook", send)
    hanging = [task_for(f"H{i}", receiver="hanging") for i in range(notifier.pool.threads)]
    healthy = task_for("Healthy", receiver="healthy")
    outcomes = start(notifier, *hanging, healthy)  # returns at once
    assert outcomes.wait(len(hanging)) == [Outcome.SENT]
    assert sent == ["healthy"]
    assert outcomes.got[:-1] == [None] * len(hanging)
    release.set()
    assert outcomes.wait() == [Outcome.SENT] * (len(hanging) + 1)


def test_a_send_slower_than_the_lease_ttl_keeps_its_lease(
    nflog: NotificationLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a receiver takes its time, the lease stays the sender's: no other worker may send
    the same notification meanwhile."""
    ttl = SHORT_LEASE_TTL
    notifier = Notifier(nflog, lease_ttl=ttl)
    release = threading.Event()
    monkeypatch.setitem(integrations.SENDERS, "webhook", lambda cfg, n, ctx: release.wait(10))
    task = task_for("Slow")
    outcomes = start(notifier, task)
    wait_until(lambda: lease_holder(nflog, task) is not None, 5)
    deadline = time.monotonic() + 1.5 * ttl  # past the TTL: the lease was extended
    while time.monotonic() < deadline:
        verdict, _ = nflog.acquire(task.log_field, "", task.firing_set, task.resolved_set, ttl=ttl)
        assert verdict == "busy"
        time.sleep(0.05)
    release.set()
    assert outcomes.wait() == [Outcome.SENT]
    notifier.drain(5)


def test_drain_gives_back_the_sends_not_started_and_waits_for_those_running(
    notifier: Notifier, nflog: NotificationLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    started: list[str] = []

    def send(cfg: Any, n: Any, ctx: Any) -> None:
        started.append(n.group_labels["alertname"])
        release.wait(10)

    monkeypatch.setitem(integrations.SENDERS, "webhook", send)
    notifier.pool.per_target = 1
    running, waiting = task_for("Running"), task_for("Waiting")
    outcomes = start(notifier, running, waiting)
    wait_until(lambda: started == ["Running"], 10)
    threading.Timer(0.2, release.set).start()
    assert notifier.drain(10)
    assert outcomes.got == [Outcome.SENT, Outcome.RETRY]
    assert started == ["Running"]
    assert lease_holder(nflog, waiting) is None  # given back: another worker's retry sends it


def test_the_notification_says_why_it_is_sent(notifier: Notifier, monkeypatch: pytest.MonkeyPatch) -> None:
    """Alertmanager's NotifyReason reaches the integration (the webhook's notification_reason)."""
    sender = FakeSender()
    monkeypatch.setitem(integrations.SENDERS, "webhook", sender)
    assert run(notifier, task_for("Why")) == [Outcome.SENT]
    [sent] = sender.calls
    assert sent.notification_reason == REASON_FIRST


def test_a_groups_retry_leaves_an_integration_refused_for_good_to_the_next_flush(
    notifier: Notifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alertmanager retries an attempt only when it may pass: a retry the group owes to one
    integration does not send again to another that refused the notification for good."""
    refused = NotifyError("400 bad request", retryable=False)
    refusing = FakeSender(refused, refused)
    monkeypatch.setitem(integrations.SENDERS, "webhook", refusing)
    assert run(notifier, task_for("Mixed")) == [Outcome.FAILED]
    assert run(notifier, task_for("Mixed", retry=True)) == [Outcome.FAILED]  # the group's retry
    assert len(refusing.calls) == 1
    # The group's next regular flush tries it again, as Alertmanager's next flush does.
    assert run(notifier, task_for("Mixed")) == [Outcome.FAILED]
    assert len(refusing.calls) == 2
