"""The notification pipeline for one receiver integration of one group flush.

Stages, as in Alertmanager: dedup against the notification log, take the send lease, send with
exponential-backoff retries until the flush deadline, commit the log entry. Muting stages
(inhibition, time intervals, silences) run before this, in the dispatcher.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

import redis

from app import history, metrics
from app.alerts import Alert
from app.config import Route
from app.nflog import Lease, LogRead, NotificationLog, needs_update
from app.notify.errors import NotifyError
from app.notify.integrations import SendContext, sender_for
from app.notify.message import Notification
from app.store import GroupState
from app.template import Templates

log = logging.getLogger(__name__)

# Alertmanager's retry stage: first wait 0.5 s, then x1.5 each time, +-50 % jitter, at most 60 s.
_BACKOFF_START = 0.5
_BACKOFF_FACTOR = 1.5
_BACKOFF_MAX = 60.0


class Outcome(Enum):
    """What one integration's pipeline run did; the dispatcher needs more than sent/not sent.

    BUSY matters after a crash: a lease still held by a worker that died between sending and
    committing means the notification is *not* known to be delivered, so the group must keep its
    resolved alerts until a later flush has sent and logged their resolution.
    """

    SENT = "sent"
    UP_TO_DATE = "up to date"
    BUSY = "busy"
    FAILED = "failed"


@dataclass(frozen=True)
class IntegrationTarget:
    receiver: str
    integration: str
    index: int
    config: Any

    @property
    def send_resolved(self) -> bool:
        return bool(self.config.send_resolved)

    def log_field(self, gid: str) -> str:
        """This integration's entry for group `gid` in the notification log."""
        return NotificationLog.field(gid, self.receiver, self.integration, self.index)


@dataclass
class NotifyTask:
    """One integration of one group flush: what to report and the log entry as read."""

    group: GroupState
    route: Route
    target: IntegrationTarget
    firing: list[Alert]
    resolved: list[Alert]
    now: float
    deadline: float
    firing_set: frozenset[str] = field(init=False)
    resolved_set: frozenset[str] = field(init=False)
    log_field: str = field(init=False)

    def __post_init__(self) -> None:
        self.firing_set = frozenset(a.fingerprint for a in self.firing)
        self.resolved_set = frozenset(a.fingerprint for a in self.resolved)
        self.log_field = self.target.log_field(self.group.gid)


class Notifier:
    def __init__(
        self, nflog: NotificationLog, lease_ttl: float, sleep: Callable[[float], None] | None = None
    ) -> None:
        self.nflog = nflog
        self.lease_ttl = lease_ttl
        # Set when the process shuts down: a retry wait ends at once and the retries are left to
        # the next flush (of this or another worker), instead of holding the shutdown up.
        self.stopping = threading.Event()
        self.sleep = sleep or self.stopping.wait

    def run_many(self, tasks: list[NotifyTask], external_url: str, templates: Templates) -> list[Outcome]:
        """Run a flush batch's notifications: every log entry read in one round trip, every due
        notification's lease taken in another, then one send and one commit each.

        Sends go one at a time (a worker killed mid-batch leaves at most one notification sent
        and not logged), first attempts first: a receiver that fails and is retried with backoff
        does not hold up the rest of the batch. One task failing (Redis gone mid-batch) counts as
        FAILED and does not stop the others.
        """
        reads = self._read([task.log_field for task in tasks])
        outcomes: list[Outcome] = [Outcome.UP_TO_DATE] * len(tasks)
        due = [i for i, task in enumerate(tasks) if self._due(task, reads[i])]
        wanted = [(tasks[i].log_field, reads[i][1], tasks[i].firing_set, tasks[i].resolved_set) for i in due]
        deliveries: list[tuple[int, _Delivery]] = []
        for i, (verdict, lease) in zip(due, self.nflog.acquire_many(wanted, self.lease_ttl), strict=True):
            task = tasks[i]
            try:
                got = self._acquire_again(task) if verdict == "changed" else lease or self._busy(task)
                if isinstance(got, Outcome):
                    outcomes[i] = got
                    continue
                prepared = self._prepare(task, got, external_url)
                if isinstance(prepared, Outcome):
                    outcomes[i] = prepared
                else:
                    deliveries.append((i, prepared))
            except Exception:
                log.exception("notifying failed", extra={"fields": {"group": task.group.key}})
                outcomes[i] = Outcome.FAILED
        self._deliver(deliveries, outcomes, templates)
        return outcomes

    def _acquire_again(self, task: NotifyTask) -> Outcome | Lease:
        """The entry changed between reading it and taking the lease: read and decide again."""
        for _ in range(3):
            (known,) = self._read([task.log_field])
            if not self._due(task, known):
                return Outcome.UP_TO_DATE
            verdict, lease = self.nflog.acquire(
                task.log_field, known[1], task.firing_set, task.resolved_set, self.lease_ttl
            )
            if verdict != "changed":
                return lease or self._busy(task)
        return Outcome.BUSY  # the log keeps changing under us: other workers are on it

    def _busy(self, task: NotifyTask) -> Outcome:
        metrics.nflog_lease_busy.labels(task.target.integration).inc()
        return Outcome.BUSY

    def _read(self, fields: list[str]) -> list[LogRead]:
        metrics.nflog_queries.inc(len(fields))
        try:
            return self.nflog.read_many(fields)
        except (redis.RedisError, ValueError):
            metrics.nflog_query_errors.inc()
            raise

    def _due(self, task: NotifyTask, known: LogRead) -> bool:
        route, target = task.route, task.target
        return needs_update(
            known[0],
            task.firing_set,
            task.resolved_set,
            target.send_resolved,
            route.repeat_interval,
            task.now,
        )

    def _prepare(self, task: NotifyTask, lease: Lease, external_url: str) -> Outcome | _Delivery:
        """The message to send under `lease`, or SENT when there is nothing to send."""
        # With send_resolved off, resolved alerts are left out of the message but still logged;
        # a notification with nothing firing is then not sent at all.
        alerts = task.firing + task.resolved if task.target.send_resolved else task.firing
        if not alerts:
            self._commit(task, lease)
            return Outcome.SENT
        notification = Notification.build(
            receiver=task.target.receiver,
            group_key=task.group.key,
            group_labels=task.group.labels,
            alerts=alerts,
            now=task.now,
            external_url=external_url,
        )
        return _Delivery(task, lease, notification)

    def _commit(self, task: NotifyTask, lease: Lease) -> None:
        self.nflog.commit(lease, task.firing_set, task.resolved_set, time.time(), task.route.repeat_interval)

    def _deliver(
        self, deliveries: list[tuple[int, _Delivery]], outcomes: list[Outcome], templates: Templates
    ) -> None:
        """First attempts in batch order, then the retries, each when its backoff is over."""
        retries: list[tuple[float, int, _Delivery]] = []
        for i, d in deliveries:
            self._step(i, d, outcomes, retries, templates)
        while retries:
            retry_at, i, d = heapq.heappop(retries)
            wait = retry_at - time.time()
            if wait > 0:
                self.sleep(wait)
            if self.stopping.is_set():
                for j, rest in [(i, d)] + [(j, e) for _, j, e in retries]:
                    self.nflog.release(rest.lease)
                    outcomes[j] = Outcome.FAILED
                return
            self._step(i, d, outcomes, retries, templates)

    def _step(
        self,
        i: int,
        d: _Delivery,
        outcomes: list[Outcome],
        retries: list[tuple[float, int, _Delivery]],
        templates: Templates,
    ) -> None:
        """One attempt of delivery `d`; it ends as SENT or FAILED, or waits in `retries`."""
        try:
            result = self._attempt(d, templates)
            if result == "sent":
                self._commit(d.task, d.lease)
                outcomes[i] = Outcome.SENT
            elif result == "retry":
                heapq.heappush(retries, (d.retry_at, i, d))
            else:
                self.nflog.release(d.lease)
                outcomes[i] = Outcome.FAILED
        except Exception:
            log.exception("notifying failed", extra={"fields": {"group": d.task.group.key}})
            outcomes[i] = Outcome.FAILED

    def _attempt(self, d: _Delivery, templates: Templates) -> Literal["sent", "retry", "failed"]:
        target, n = d.task.target, d.notification
        # A worker paused past its lease (GC stall, SIGSTOP, partition) must not send what
        # another worker has taken over: check the lease before every retry, and before the
        # first attempt too when the batch's earlier sends took a share of its TTL.
        fresh = not d.attempt and d.lease.age() < self.lease_ttl / 3
        if not fresh and not self.nflog.refresh(d.lease, self.lease_ttl):
            metrics.nflog_lease_lost.inc()
            log.warning(
                "send lease lost before sending; leaving this notification to the worker that took over",
                extra={"fields": {"group": n.group_key, "receiver": target.receiver}},
            )
            return "failed"
        d.attempt += 1
        labels = metrics.integration_labels(target.integration, target.receiver)
        metrics.notifications.labels(*labels).inc()
        started = time.time()
        try:
            send = sender_for(target.integration)
            send(target.config, n, SendContext(templates, max(1.0, d.task.deadline - started)))
        except NotifyError as err:
            reason = "retryable" if err.retryable else "permanent"
            metrics.notifications_failed.labels(*labels, reason).inc()
            delay = min(d.backoff * random.uniform(0.5, 1.5), _BACKOFF_MAX)
            d.backoff *= _BACKOFF_FACTOR
            give_up = not err.retryable or time.time() + delay > d.task.deadline
            log.warning(
                "notify attempt failed" + ("; giving up until the next flush" if give_up else "; retrying"),
                extra={
                    "fields": {
                        "receiver": target.receiver,
                        "integration": f"{target.integration}[{target.index}]",
                        "group": n.group_key,
                        "attempt": d.attempt,
                        "err": str(err),
                    }
                },
            )
            history.record_attempt(
                self.nflog, d.task, d.attempt, "failed" if give_up else "retrying", str(err)
            )
            if give_up:
                return "failed"
            d.retry_at = time.time() + delay
            return "retry"
        metrics.notification_latency.labels(*labels).observe(time.time() - started)
        log.info(
            "notify success",
            extra={
                "fields": {
                    "receiver": target.receiver,
                    "integration": f"{target.integration}[{target.index}]",
                    "group": n.group_key,
                    "alerts": len(n.alerts),
                    "attempts": d.attempt,
                }
            },
        )
        history.record_attempt(self.nflog, d.task, d.attempt, "sent")
        return "sent"


@dataclass
class _Delivery:
    """A notification being sent under its lease, with its retry state."""

    task: NotifyTask
    lease: Lease
    notification: Notification
    attempt: int = 0
    backoff: float = _BACKOFF_START
    retry_at: float = 0.0
