"""The notification pipeline for the receiver integrations of a flush batch.

Stages, as in Alertmanager: dedup against the notification log, take the send lease, send,
commit the log entry. Muting stages (inhibition, time intervals, silences) run before this, in
the dispatcher. Alertmanager retries a failed send inside the flush; here a flush (or a retry)
makes one attempt per integration and a retryable failure goes back to the dispatcher, which
schedules the group's retry in Redis (app/retries.py). Attempts run on the process's send pool
(app/notify/sendpool.py) and the flush job does not wait for them: a receiver that fails or hangs
holds up nothing but its own sends.
"""

from __future__ import annotations

import functools
import logging
import operator
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import redis
from prometheus_client import Counter

from app import history, metrics
from app.alerts import Alert
from app.config import Route
from app.nflog import Lease, LogRead, NotificationLog, notify_reason
from app.notify import steps, transport
from app.notify.curlhttp import MULTI_SAFE, CurlMulti
from app.notify.errors import NotifyError
from app.notify.integrations import SendContext, SendSteps, sender_for, steps_for
from app.notify.message import REASON_NONE, REASON_UNKNOWN, Notification
from app.notify.sendpool import SendPool
from app.store import GroupState
from app.template import Templates
from app.template.routelabels import render_route_labels

log = logging.getLogger(__name__)

# Sends running at once in a process, on the send threads and the curl driver together, their
# commits pending included (a SIGKILL costs at most this many sent-but-unlogged notifications,
# each sent again once its lease expires), and at most this many of them to one receiver
# integration, so that a receiver that hangs keeps only its own share.
SEND_THREADS = 16
SENDS_PER_TARGET = 4
# Sends to one integration started at once while it answers quickly (app/notify/sendpool.py).
SENDS_AT_ONCE = 2
# The same for sends on the send pool's curl driver: all SENDS_PER_TARGET at once. There a send
# in flight takes no thread, and more answers per poll mean fewer wake-ups: 4 against 2,
# bench/inprocess --what=notify --groups=10000, interleaved, 0.117-0.154 ms against
# 0.142-0.194 ms CPU per notification (docs/performance.md, "Tenth session").
CURL_SENDS_AT_ONCE = SENDS_PER_TARGET


class Outcome(Enum):
    """What one integration's pipeline run did; the dispatcher needs more than sent/not sent.

    BUSY matters after a crash: a lease still held by a worker that died between sending and
    committing means the notification is *not* known to be delivered, so the group must keep its
    resolved alerts until a later flush has sent and logged their resolution. RETRY is a
    notification still owed that a retry may deliver before the group's next flush: the attempt
    failed and may pass next time, or it was not made (the lease was lost before sending, the
    process is stopping).
    """

    SENT = "sent"
    UP_TO_DATE = "up to date"
    BUSY = "busy"
    FAILED = "failed"
    RETRY = "retry"


_FINGERPRINT = operator.attrgetter("fingerprint")

# How a flush learns each task's outcome: done(task index, outcome).
Done = Callable[[int, Outcome], None]


@dataclass(frozen=True)
class IntegrationTarget:
    """One integration of a receiver; a flush batch makes one per integration and shares it
    between its groups' tasks, so what is derived from it is derived once per batch."""

    receiver: str
    integration: str
    index: int
    config: Any

    @property
    def send_resolved(self) -> bool:
        return bool(self.config.send_resolved)

    @functools.cached_property
    def name(self) -> str:
        """ "receiver/integration/index": one integration of the config, whatever the group."""
        return f"{self.receiver}/{self.integration}/{self.index}"

    @functools.cached_property
    def send_steps(self) -> SendSteps | None:
        """The steps of this integration's send (app/notify/steps.py), None when it has a plain
        sender only."""
        return steps_for(self.integration)

    @functools.cached_property
    def on_curl_driver(self) -> bool:
        """Whether its sends start on the send pool's curl driver: its send has steps, and its
        http_config neither fetches oauth2 tokens (a request the driver would wait for) nor
        names a proxy (every request would go to a send thread anyway)."""
        http = getattr(self.config, "http_config", None)
        return self.send_steps is not None and http is not None and transport.direct_curl(http)

    @functools.cached_property
    def series(self) -> metrics.IntegrationSeries:
        """The notification metrics' series for this integration (with its receiver's name under
        --enable-feature=receiver-name-in-metrics), looked up once per flush batch rather than
        twice per notification."""
        return metrics.integration_series(self.integration, self.receiver)

    def log_field(self, gid: str) -> str:
        """This integration's entry for group `gid` in the notification log."""
        return NotificationLog.field(gid, self.receiver, self.integration, self.index)


@dataclass(slots=True)
class NotifyTask:
    """One integration of one group flush: what to report and the log entry as read.

    `retry`: the flush is a retry, so a send continues a notification already counted in
    alertmanager_notifications_total. `error` is the last attempt's failure, if any.
    """

    group: GroupState
    route: Route
    target: IntegrationTarget
    firing: list[Alert]
    resolved: list[Alert]
    now: float
    deadline: float
    retry: bool = False
    error: NotifyError | None = field(init=False, default=None)
    # Why it is sent (Alertmanager's NotifyReason), decided when the log entry is read.
    reason: str = field(init=False, default=REASON_UNKNOWN)
    firing_set: frozenset[str] = field(init=False)
    resolved_set: frozenset[str] = field(init=False)
    log_field: str = field(init=False)

    def __post_init__(self) -> None:
        # map() over an attrgetter runs in C; a generator expression resumed a Python frame
        # per alert, twice per task.
        self.firing_set = frozenset(map(_FINGERPRINT, self.firing))
        self.resolved_set = frozenset(map(_FINGERPRINT, self.resolved))
        self.log_field = self.target.log_field(self.group.gid)


class Notifier:
    def __init__(self, nflog: NotificationLog, lease_ttl: float) -> None:
        self.nflog = nflog
        self.lease_ttl = lease_ttl
        self.pool = SendPool(
            SEND_THREADS,
            SENDS_PER_TARGET,
            SENDS_AT_ONCE,
            finish_many=self._log_sent,
            curl=CurlMulti if MULTI_SAFE else None,
            curl_at_once=CURL_SENDS_AT_ONCE,
        )
        # Set when the process shuts down: sends not started yet are given back (their groups'
        # retries let another worker make them) instead of holding the shutdown up.
        self.stopping = threading.Event()
        self._held: set[_Delivery] = set()
        self._held_lock = threading.Lock()
        self._keeper: threading.Thread | None = None

    def run_many(self, tasks: list[NotifyTask], external_url: str, templates: Templates, done: Done) -> None:
        """Start a flush batch's notifications: every log entry read in one round trip, every
        due notification's lease taken in another, then one attempt each on the send pool.

        Returns at once; `done(i, outcome)` is called once for each task `i`, right away when
        nothing is sent, else on the send pool when the attempt ends. One task failing (Redis
        gone mid-batch) counts as FAILED and does not stop the others.
        """
        reads = self._read([task.log_field for task in tasks])
        refused = self._refused([task for task in tasks if task.retry])
        due = [
            i for i, task in enumerate(tasks) if task.log_field not in refused and self._due(task, reads[i])
        ]
        wanted = [(tasks[i].log_field, reads[i][1], tasks[i].firing_set, tasks[i].resolved_set) for i in due]
        leases = dict(zip(due, self.nflog.acquire_many(wanted, self.lease_ttl), strict=True))
        works: list[_Delivery] = []
        # alertmanager_notifications_total, counted here and added once per series at the end.
        notified: dict[Counter, int] = {}
        for i, task in enumerate(tasks):
            if task.log_field in refused:
                done(i, Outcome.FAILED)  # refused for good: left to the group's next flush
                continue
            if i not in leases:
                done(i, Outcome.UP_TO_DATE)
                continue
            verdict, lease = leases[i]
            try:
                got = self._acquire_again(task) if verdict == "changed" else lease or self._busy(task)
                if isinstance(got, Outcome):
                    done(i, got)
                    continue
                if not task.retry:
                    counter = task.target.series.notifications
                    notified[counter] = notified.get(counter, 0) + 1
                prepared = self._prepare(task, got, external_url, templates, i, done)
            except Exception:
                log.exception("notifying failed", extra={"fields": {"group": task.group.key}})
                prepared = Outcome.FAILED
            if isinstance(prepared, Outcome):
                done(i, prepared)
                continue
            works.append(prepared)
        for counter, count in notified.items():
            counter.inc(count)
        self._hold(works)
        self.pool.submit_many(works)

    def give_up(self, tasks: list[NotifyTask]) -> None:
        """The group's next flush comes before another retry could: these notifications have
        finally failed, as Alertmanager's retry stage fails at its flush's deadline."""
        for task in tasks:
            if task.error is None:
                continue  # never attempted (lease lost, shutdown): the next flush sends it
            metrics.notifications_failed.labels(*task.target.series.labels, task.error.reason).inc()
            log.warning(
                "notification failed; giving up until the group's next flush",
                extra={"fields": {**_fields(task), "err": str(task.error)}},
            )

    def drain(self, timeout: float) -> bool:
        """Shut down: give back the sends not started, wait up to `timeout` seconds for those
        running (so what was sent is also logged). True when none is left running."""
        self.stopping.set()
        return self.pool.drain(timeout)

    def _refused(self, retries: list[NotifyTask]) -> set[str]:
        """The integrations of these retried groups that were refused for good since the group's
        last flush: Alertmanager retries an attempt only when it may pass, so a group's retry
        (owed to another integration) must not send them again before the next flush."""
        gids = sorted({task.group.gid for task in retries})
        if not gids:
            return set()
        with self.nflog.r.pipeline(transaction=False) as pipe:
            for gid in gids:
                pipe.smembers(self.nflog.keys.refused(gid))
            return {field.decode() for members in pipe.execute() for field in members}

    def _mark_refused(self, task: NotifyTask) -> None:
        key = self.nflog.keys.refused(task.group.gid)
        with self.nflog.r.pipeline(transaction=False) as pipe:
            pipe.sadd(key, task.log_field)
            pipe.pexpire(key, max(1, int(task.route.group_interval * 1000)))
            pipe.execute()

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
        task.reason = notify_reason(
            known[0],
            task.firing_set,
            task.resolved_set,
            task.target.send_resolved,
            task.route.repeat_interval,
            task.now,
        )
        return task.reason != REASON_NONE

    def _prepare(
        self, task: NotifyTask, lease: Lease, external_url: str, templates: Templates, i: int, done: Done
    ) -> Outcome | _Delivery:
        """The message to send under `lease`, or SENT when there is nothing to send."""
        # With send_resolved off, resolved alerts are left out of the message but still logged;
        # a notification with nothing firing is then not sent at all.
        alerts = task.firing + task.resolved if task.target.send_resolved else task.firing
        if not alerts:
            self._commit(task, lease)
            return Outcome.SENT
        route_labels: dict[str, str] = {}
        if task.route.labels:
            # Rendered against all the flush's alerts, before send_resolved leaves some out.
            every = Notification.build(
                task.target.receiver,
                task.group.key,
                task.group.labels,
                task.firing + task.resolved,
                task.now,
                external_url,
            )
            route_labels = render_route_labels(templates, task.route.labels, every)
        notification = Notification.build(
            receiver=task.target.receiver,
            group_key=task.group.key,
            group_labels=task.group.labels,
            alerts=alerts,
            now=task.now,
            external_url=external_url,
            route_labels=route_labels,
            notification_reason=task.reason,
        )
        return _Delivery(self, templates, task, lease, notification, i, done)

    def _commit(self, task: NotifyTask, lease: Lease) -> None:
        self.nflog.commit(lease, task.firing_set, task.resolved_set, time.time(), task.route.repeat_interval)

    # -- on the send pool ------------------------------------------------------------------

    def _steps(self, d: _Delivery) -> steps.Steps[_Delivery | None]:
        """One attempt; a send that reached its receiver comes back to be logged (`_log_sent`,
        batched with others by the send pool), any other ends here. A generator of the
        attempt's requests (app/notify/steps.py): the send pool makes them."""
        try:
            outcome = yield from self._attempt(d)
        except Exception:
            log.exception("notifying failed", extra={"fields": _fields(d.task)})
            outcome = Outcome.FAILED
        if outcome is Outcome.SENT:
            return d
        self._unhold(d)
        d.report(d.index, outcome)
        return None

    def _log_sent(self, sent: list[_Delivery]) -> None:
        """Commit the log entries of sends that reached their receivers, in one round trip, then
        give their outcomes. Their leases stay kept until then. Their requests are counted here,
        together (IntegrationSeries.requests_succeeded)."""
        logged = []
        took: dict[metrics.IntegrationSeries, list[float]] = {}
        for d in sent:
            d.settled = True
            logged.append((d.lease, d.task.firing_set, d.task.resolved_set, d.task.route.repeat_interval))
            series = d.task.target.series
            if series in took:
                took[series].append(d.took)
            else:
                took[series] = [d.took]
        for series, latencies in took.items():
            series.requests_succeeded(latencies)
        try:
            self.nflog.commit_many(logged, time.time())
            outcome = Outcome.SENT
        except Exception:
            for d in sent:
                log.exception("notifying failed", extra={"fields": _fields(d.task)})
            outcome = Outcome.FAILED
        with self._held_lock:
            self._held.difference_update(sent)
        if outcome is Outcome.SENT:
            history.record_attempts(self.nflog, [(d.task, _attempt_number(d.task)) for d in sent], "sent")
            # Alertmanager's levels: a first attempt's success is debug, a retry's is info. The
            # levels are asked once per batch, and the fields built only for a record that is
            # logged: at the default level they cost more than the rest of the line.
            debug = log.isEnabledFor(logging.DEBUG)
            if debug or log.isEnabledFor(logging.INFO):
                for d in sent:
                    task = d.task
                    if debug or task.retry:
                        fields = {**_fields(task), "alerts": len(d.notification.alerts), "retry": task.retry}
                        log.log(
                            logging.INFO if task.retry else logging.DEBUG,
                            "notify success",
                            extra={"fields": fields},
                        )
        for d in sent:
            d.report(d.index, outcome)

    def _cancel(self, d: _Delivery) -> None:
        """Give an unsent notification back (the process stops): its retry is for any worker."""
        try:
            d.settled = True
            self.nflog.release(d.lease)
        except redis.RedisError:
            pass  # the lease expires by itself
        finally:
            self._unhold(d)
        d.report(d.index, Outcome.RETRY)

    def _attempt(self, d: _Delivery) -> steps.Steps[Outcome]:
        task, target = d.task, d.task.target
        if self.stopping.is_set():
            d.settled = True
            self.nflog.release(d.lease)
            return Outcome.RETRY
        # A worker paused past its lease (GC stall, SIGSTOP, partition) must not send what
        # another worker has taken over: the lease keeper reports a loss, and a lease that may
        # have gone stale since it last looked is checked once more here.
        stale = d.lease_age() >= self.lease_ttl / 3
        if not d.lost and stale and not self.nflog.refresh(d.lease, self.lease_ttl):
            self._lease_lost(d, "before sending")
        if d.lost:
            return Outcome.RETRY  # its new holder sends, or the group's retry decides again
        started = time.time()
        ctx = SendContext(d.templates, max(1.0, task.deadline - started))
        try:
            send_steps = target.send_steps
            if send_steps is None:
                sender_for(target.integration)(target.config, d.notification, ctx)
            else:
                yield from send_steps(target.config, d.notification, ctx)
        except NotifyError as err:
            return self._failed(d, err, time.time() - started)
        except BaseException:
            target.series.requests.inc()  # an attempt all the same (a sender's bug, a cancel)
            raise
        # Counted with the rest of its batch once logged (IntegrationSeries.requests_succeeded).
        d.took = time.time() - started
        return Outcome.SENT  # sent, not yet logged: `_log_sent` commits it

    def _failed(self, d: _Delivery, err: NotifyError, took: float) -> Outcome:
        task = d.task
        series = task.target.series
        series.requests.inc()
        series.latency.observe(took)
        series.requests_failed.inc()
        task.error = err
        d.settled = True
        if not self.nflog.release(d.lease) and not d.lost:
            self._lease_lost(d, "while sending")
        log.warning(
            "notify attempt failed; "
            + (
                "will retry"
                if err.retryable
                else "not retried before the group's next flush: it would fail again"
            ),
            extra={"fields": {**_fields(task), "retry": task.retry, "err": str(err)}},
        )
        outcome = "retrying" if err.retryable else "failed"
        history.record_attempt(self.nflog, task, _attempt_number(task), outcome, str(err))
        if err.retryable:
            return Outcome.RETRY
        self._mark_refused(task)
        metrics.notifications_failed.labels(*series.labels, err.reason).inc()
        return Outcome.FAILED

    def _lease_lost(self, d: _Delivery, when: str) -> None:
        d.lost = True
        metrics.nflog_lease_lost.inc()
        log.warning(f"send lease lost {when}", extra={"fields": _fields(d.task)})

    # -- keeping leases alive --------------------------------------------------------------

    def _hold(self, sends: list[_Delivery]) -> None:
        """Keep the leases of `sends` alive until they are over; a batch's at once (one lock)."""
        if not sends:
            return
        with self._held_lock:
            self._held.update(sends)
            if self._keeper is None:
                self._keeper = threading.Thread(target=self._keep_leases, name="lease-keeper", daemon=True)
                self._keeper.start()

    def _unhold(self, d: _Delivery) -> None:
        with self._held_lock:
            self._held.discard(d)

    def _keep_leases(self) -> None:
        """Extend the leases of the sends waiting or running in this process, so that a slow
        receiver or a long line never lets another worker send the same notification while
        this one still may. A lease whose holder dies or freezes expires within its TTL."""
        while True:
            time.sleep(self.lease_ttl / 4)
            with self._held_lock:
                due = [d for d in self._held if not d.lost and d.lease_age() >= self.lease_ttl / 3]
            if not due:
                continue
            asked = time.monotonic()
            try:
                kept = self.nflog.refresh_many([d.lease for d in due], self.lease_ttl)
            except redis.RedisError as err:
                log.warning("cannot extend send leases: Redis unreachable (%s); trying again", err)
                continue
            for d, ok in zip(due, kept, strict=True):
                if ok:
                    d.refreshed_at = asked
                elif not d.settled:  # a send that committed meanwhile dropped its lease itself
                    self._lease_lost(d, "while waiting to send or sending")


class _Delivery:
    """A notification to send under its lease, and the send pool's Work for it (`run`,
    `cancel`); `report(index, outcome)` gives the outcome, as task `index` of its batch, once
    the attempt ends.

    A plain class with slots: a dataclass with a __post_init__, a functools.partial for its
    outcome and a Work holding two more for its steps were five objects per notification."""

    __slots__ = (
        "index",
        "lease",
        "lost",
        "multi",
        "notification",
        "notifier",
        "refreshed_at",
        "report",
        "settled",
        "target",
        "task",
        "templates",
        "took",
    )

    def __init__(
        self,
        notifier: Notifier,
        templates: Templates,
        task: NotifyTask,
        lease: Lease,
        notification: Notification,
        index: int,
        report: Done,
    ) -> None:
        self.notifier = notifier
        self.templates = templates
        self.task = task
        self.target = task.target.name  # the send pool's line for it
        self.multi = task.target.on_curl_driver
        self.lease = lease
        self.notification = notification
        self.index = index
        self.report = report
        self.refreshed_at = lease.taken_at
        self.lost = False  # the lease was found taken over or expired
        self.settled = False  # committed or released by its holder: the lease is gone on purpose
        self.took = 0.0  # how long its request took, once it succeeded

    def run(self) -> _Delivery | None:
        return steps.run(self.begin())

    def begin(self) -> steps.Steps[_Delivery | None]:
        return self.notifier._steps(self)

    def cancel(self) -> None:
        self.notifier._cancel(self)

    def lease_age(self) -> float:
        """Seconds since the lease was taken or last extended."""
        return time.monotonic() - self.refreshed_at


def _attempt_number(task: NotifyTask) -> int:
    """What the notification history records as the attempt: 1 for a flush's first attempt, 2
    for an attempt of a scheduled retry (the retries of one group are not counted apart)."""
    return 2 if task.retry else 1


def _fields(task: NotifyTask) -> dict[str, Any]:
    target = task.target
    return {
        "receiver": target.receiver,
        "integration": f"{target.integration}[{target.index}]",
        "group": task.group.key,
    }
