"""The notification pipeline for one receiver integration of one group flush.

Stages, as in Alertmanager: dedup against the notification log, take the send lease, send with
exponential-backoff retries until the flush deadline, commit the log entry. Muting stages
(inhibition, time intervals, silences) run before this, in the dispatcher.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import redis

from app import metrics
from app.alerts import Alert
from app.config import Route
from app.nflog import Lease, LogRead, NotificationLog, needs_update
from app.notification import Notification
from app.notifiers import NotifyError
from app.notifiers.email import send_email
from app.notifiers.webhook import send_webhook
from app.store import GroupState

log = logging.getLogger(__name__)

Sender = Callable[[Any, Notification, float], None]

SENDERS: dict[str, Sender] = {"webhook": send_webhook, "email": send_email}

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


class Pipeline:
    def __init__(
        self, nflog: NotificationLog, lease_ttl: float, sleep: Callable[[float], None] | None = None
    ) -> None:
        self.nflog = nflog
        self.lease_ttl = lease_ttl
        # Set when the process shuts down: a retry wait ends at once and the retries are left to
        # the next flush (of this or another worker), instead of holding the shutdown up.
        self.stopping = threading.Event()
        self.sleep = sleep or self.stopping.wait

    def run(
        self,
        group: GroupState,
        route: Route,
        target: IntegrationTarget,
        firing: list[Alert],
        resolved: list[Alert],
        now: float,
        deadline: float,
        external_url: str,
        known: LogRead | None = None,
    ) -> Outcome:
        """Notify one integration if the log says so, and say what happened.

        `known` is the log entry as the caller already read it (a batched read); if it is stale
        the lease says so and the entry is read again.
        """
        field = target.log_field(group.gid)
        firing_set = frozenset(a.fingerprint for a in firing)
        resolved_set = frozenset(a.fingerprint for a in resolved)
        for _ in range(3):
            metrics.nflog_queries.inc()
            try:
                entry, seen = known if known is not None else self.nflog.read(field)
            except (redis.RedisError, ValueError):
                metrics.nflog_query_errors.inc()
                raise
            known = None
            if not needs_update(
                entry, firing_set, resolved_set, target.send_resolved, route.repeat_interval, now
            ):
                return Outcome.UP_TO_DATE
            verdict, lease = self.nflog.acquire(field, seen, firing_set, resolved_set, self.lease_ttl)
            if verdict == "busy":
                metrics.nflog_lease_busy.labels(target.integration).inc()
                return Outcome.BUSY
            if lease is not None:
                break
        else:
            return Outcome.BUSY  # the log keeps changing under us: other workers are on it

        # With send_resolved off, resolved alerts are left out of the message but still logged;
        # a notification with nothing firing is then not sent at all.
        alerts = firing + resolved if target.send_resolved else firing
        if not alerts:
            self.nflog.commit(lease, firing_set, resolved_set, time.time(), route.repeat_interval)
            return Outcome.SENT
        notification = Notification.build(
            receiver=target.receiver,
            group_key=group.key,
            group_labels=group.labels,
            alerts=alerts,
            now=now,
            external_url=external_url,
        )
        if self._send_with_retries(target, notification, deadline, lease):
            self.nflog.commit(lease, firing_set, resolved_set, time.time(), route.repeat_interval)
            return Outcome.SENT
        self.nflog.release(lease)
        return Outcome.FAILED

    def _send_with_retries(
        self, target: IntegrationTarget, n: Notification, deadline: float, lease: Lease
    ) -> bool:
        send = SENDERS[target.integration]
        backoff = _BACKOFF_START
        attempt = 0
        while True:
            # A worker paused past its lease (GC stall, SIGSTOP, partition) must not send what
            # another worker has taken over: check the lease before every retry (the first
            # attempt follows the acquisition at once).
            if attempt and not self.nflog.refresh(lease, self.lease_ttl):
                metrics.nflog_lease_lost.inc()
                log.warning(
                    "send lease lost before sending; leaving this notification to the worker that took over",
                    extra={"fields": {"group": n.group_key, "receiver": target.receiver}},
                )
                return False
            attempt += 1
            metrics.notifications.labels(target.integration).inc()
            started = time.time()
            try:
                send(target.config, n, max(1.0, deadline - started))
                metrics.notification_latency.labels(target.integration).observe(time.time() - started)
                log.info(
                    "notify success",
                    extra={
                        "fields": {
                            "receiver": target.receiver,
                            "integration": f"{target.integration}[{target.index}]",
                            "group": n.group_key,
                            "alerts": len(n.alerts),
                            "attempts": attempt,
                        }
                    },
                )
                return True
            except NotifyError as err:
                reason = "retryable" if err.retryable else "permanent"
                metrics.notifications_failed.labels(target.integration, reason).inc()
                delay = min(backoff * random.uniform(0.5, 1.5), _BACKOFF_MAX)
                backoff *= _BACKOFF_FACTOR
                give_up = not err.retryable or time.time() + delay > deadline
                log.warning(
                    "notify attempt failed"
                    + ("; giving up until the next flush" if give_up else "; retrying"),
                    extra={
                        "fields": {
                            "receiver": target.receiver,
                            "integration": f"{target.integration}[{target.index}]",
                            "group": n.group_key,
                            "attempt": attempt,
                            "err": str(err),
                        }
                    },
                )
                if give_up:
                    return False
                self.sleep(delay)
                if self.stopping.is_set():
                    return False
