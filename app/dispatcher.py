"""The dispatcher: routes alerts into aggregation groups and flushes a group when its timer fires.

Ingest (`put_alerts`) routes each alert down the tree and hands the store one batch: the merge,
the group insertion and the first timer of a new group happen in a single Redis script. A flush
(`flush_many`, run by an RQ worker) reads the group, drops muted alerts and starts the
notification pipeline for every integration of the route's receiver. When a group's sends are
over, it removes the resolved alerts they notified (a group left with no alert is deleted) and
gives the group a retry if a send failed in a way that may pass.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from app import metrics
from app.alerts import Alert
from app.config import Config, Route
from app.memo import FirstUseCache
from app.notify.pipeline import IntegrationTarget, Notifier, NotifyTask, Outcome
from app.retries import RetrySchedule
from app.route import (
    LabelKey,
    find_route,
    group_key,
    group_labels,
    match_routes,
    route_id,
    routing_keyer,
    routing_labels,
)
from app.snapshot import ConfigSnapshot
from app.store import AlertStore, GroupRef, GroupRefs, GroupState

log = logging.getLogger(__name__)

# Stages that drop alerts before dedup (inhibition, time intervals, silences).
MuteStage = Callable[[list[Alert], GroupState, Route, float], list[Alert]]


# Routing keys remembered per config (their groups): past this many the cache starts afresh, and
# a config with more routing keys routes each of them once more.
ROUTE_CACHE_SIZE = 65536


def group_id(route_identity: str, key: str) -> str:
    """A short stable id for Redis key names; the readable group key is stored beside it."""
    return hashlib.blake2b(f"{route_identity}\x00{key}".encode(), digest_size=10).hexdigest()


@dataclass
class FlushResult:
    gid: str
    notified: int
    failed: int
    deleted: bool


# Told a flushed group's result once its sends are over; None when its flush failed (logged).
FlushDone = Callable[[FlushResult | None], None]


class Dispatcher:
    def __init__(
        self,
        store: AlertStore,
        snapshot: Callable[[], ConfigSnapshot],
        notifier: Notifier,
        retries: RetrySchedule,
        mute_stages: Iterable[MuteStage] = (),
    ) -> None:
        self.store = store
        self._snapshot = snapshot
        self.notifier = notifier
        self.retries = retries
        self.mute_stages = list(mute_stages)
        self._routes: tuple[ConfigSnapshot, FirstUseCache[LabelKey, GroupRefs]] | None = None

    @staticmethod
    def _compute_groups(root: Route, key: LabelKey) -> GroupRefs:
        labels = routing_labels(root, key)
        refs = []
        for route in match_routes(root, labels):
            rid = route_id(route)
            gkey = group_key(route, labels)
            refs.append(
                GroupRef(
                    gid=group_id(rid, gkey),
                    key=gkey,
                    route_id=rid,
                    receiver=route.receiver,
                    labels=group_labels(route, labels),
                    group_wait=route.group_wait,
                    group_interval=route.group_interval,
                )
            )
        return GroupRefs(refs)

    def groups_for(self, labels: dict[str, str]) -> GroupRefs:
        """The groups an alert with these labels belongs to, cached per config and per the
        labels routing reads (route.routing_key)."""
        routes, key = self._route_cache()
        return routes[key(labels)]

    def _route_cache(self) -> tuple[FirstUseCache[LabelKey, GroupRefs], Callable[[dict[str, str]], LabelKey]]:
        """The current config's `routing key -> groups` cache and its routing key function.

        One cache per config, its keys computed against that config's tree: a key holds only
        the values of the labels its tree reads, so it means nothing to another tree."""
        snapshot = self._snapshot()
        held = self._routes
        if held is None or held[0] is not snapshot:
            compute = partial(self._compute_groups, snapshot.config.route)
            held = self._routes = (snapshot, FirstUseCache(compute, ROUTE_CACHE_SIZE))
        return held[1], routing_keyer(snapshot.config.route)

    def put_alerts(self, alerts: list[Alert], now: float) -> int:
        """Store a validated batch and insert it into its groups; one Redis round trip.

        The groups are looked up in a list comprehension, straight in the route cache, not
        through `groups_for` in a generator: a generator's resumption and the lookup's own call
        cost per alert as much as the cache lookup itself."""
        routes, key = self._route_cache()
        with metrics.alert_processing.time():
            return self.store.put([(a, routes[key(a.labels)]) for a in alerts], now)

    def receivers_for(self, labels: dict[str, str]) -> list[str]:
        return list(dict.fromkeys(g.receiver for g in self.groups_for(labels)))

    def flush_many(self, gids: list[str], external_url: str, done: FlushDone, retry: bool = False) -> int:
        """Flush a batch of groups whose timers (or retries) fired; `done` is called once for
        each group that still exists (their number is returned), on the thread that ends the
        group's sends, possibly before this returns. A callback rather than a Future per group:
        a Future makes a threading.Condition, and with the Future's own locking it cost 2-3 %
        of a worker's CPU per notification while nothing needed more than the callback.

        The reads are batched (the groups and their in-flight marks in one round trip, every
        integration's log entry in another) so that a notification costs only its lease and its
        commit: per-group reads were most of a worker's Redis time. Entries read up front may
        be stale by the time a group's turn comes; the lease notices and the pipeline re-reads.
        Returns once the sends are started: the caller (an RQ job) does not wait for receivers.
        """
        snapshot = self._snapshot()
        plans = []
        targets: dict[str, list[IntegrationTarget]] = {}
        for group in self.store.load_groups(gids, release_inflight=True):
            try:
                plans.append(self._plan(group, snapshot.config, retry, targets))
            except Exception:
                _log_group_failure(group.key)
        pending = _PendingFlushes(plans, self._finish, done)
        tasks = [task for plan in plans for task in plan.tasks]
        self.notifier.run_many(tasks, external_url, snapshot.templates, pending.record)
        for plan in plans:
            if not plan.tasks:
                pending.end(plan)  # nothing to notify (all muted, or the route is gone)
        return len(plans)

    def _plan(
        self,
        group: GroupState,
        config: Config,
        retry: bool,
        targets: dict[str, list[IntegrationTarget]],
    ) -> _Plan:
        """What one flush of `group` has to tell whom, after the muting stages. `targets` holds
        the integrations of the receivers the batch has met so far (most groups of a batch
        share a few receivers), filled in as it goes."""
        route = find_route(config.route, group.route_id)
        if route is None:
            return _Plan(group, None, [], time.time(), [], [])
        now = time.time()
        # An alert that no longer routes here (the config was reloaded) leaves the group
        # unannounced, as Alertmanager's rebuilt groups would not have it: the group reads each
        # alert's current value, so it would otherwise go on notifying it. It routes here when
        # the group's route is among its routes with the group's labels as its group labels (the
        # group's id is made of the route's id and key and those labels). Asked this way the
        # routes come from a cache keyed on the labels the matchers read, which new alerts hit;
        # their groups (Dispatcher.groups_for) are cached per alert and were computed afresh for
        # each alert a worker had not met: 8 % of the workers' py-spy samples while 10,000 new
        # groups fell due (bench/notify), 1.0 us an alert now against about 8 us.
        members, strays = [], []
        root = config.route
        for a in group.alerts:
            here = route in match_routes(root, a.labels) and group_labels(route, a.labels) == group.labels
            (members if here else strays).append(a)
        alerts = members
        for stage in self.mute_stages:
            if not alerts:
                break
            alerts = stage(alerts, group, route, now)
        integrations = targets.get(route.receiver)
        if integrations is None:
            receiver = config.receivers[route.receiver]
            integrations = targets[route.receiver] = [
                IntegrationTarget(receiver.name, name, index, cfg)
                for name, index, cfg in receiver.integrations()
            ]
        firing: list[Alert] = []
        resolved: list[Alert] = []
        for a in alerts:
            (resolved if a.resolved(now) else firing).append(a)
        deadline = now + max(route.group_interval, 10.0)
        # As in Alertmanager's pipeline, nothing left after muting means nothing to notify or log.
        tasks = [
            NotifyTask(group, route, target, firing, resolved, now, deadline, retry)
            for target in (integrations if alerts else [])
        ]
        return _Plan(group, route, tasks, now, members, [a.fingerprint for a in strays])

    def _finish(self, plan: _Plan, outcomes: list[Outcome]) -> FlushResult:
        """Drop what the flush has notified, and give the group a retry for what may still
        pass; a group whose route is gone goes entirely."""
        group = plan.group
        if plan.route is None:
            # The config in effect no longer has this route: nothing may be sent for it.
            log.warning(
                "dropping aggregation group whose route is gone from the config",
                extra={"fields": {"group": group.key, "route": group.route_id}},
            )
            self.store.delete_group(group.gid)
            return FlushResult(group.gid, 0, 0, True)
        owed = [task for task, outcome in zip(plan.tasks, outcomes, strict=True) if outcome is Outcome.RETRY]
        if owed and self.retries.schedule(group.gid, time.time()) is None:
            self.notifier.give_up(owed)
        failed = outcomes.count(Outcome.FAILED) + len(owed)
        deleted = False
        # Resolved alerts leave the group only once every integration has logged them; a busy
        # lease may belong to a worker that died before committing, and the next tick retries.
        if not failed and Outcome.BUSY not in outcomes:
            stale = [a.fingerprint for a in plan.members if a.resolved(plan.now)] + plan.strays
            if stale or not plan.members:
                deleted = self.store.drop_unchanged_alerts(group, stale)
        return FlushResult(group.gid, outcomes.count(Outcome.SENT), failed, deleted)


def _log_group_failure(key: str) -> None:
    """One broken group must not hold up the rest of its batch; its next tick retries it."""
    log.exception("flushing an aggregation group failed", extra={"fields": {"group": key}})


class _PendingFlushes:
    """A flush batch's groups whose sends are under way: their outcomes as they come in, and a
    group's result (`finish`, on the thread that brings its last outcome) once all are in.

    One for the batch, its lock shared by the groups (a group's count is held for a subtraction),
    where an object with a lock of its own per group, reached through a closure, cost every
    notification a call and every group an object and a lock."""

    def __init__(
        self, plans: list[_Plan], finish: Callable[[_Plan, list[Outcome]], FlushResult], done: FlushDone
    ) -> None:
        self.finish = finish
        self.done = done
        self.lock = threading.Lock()
        for plan in plans:
            plan.outcomes = [Outcome.UP_TO_DATE] * len(plan.tasks)
            plan.left = len(plan.tasks)
        # Task i of the batch (as run_many numbers them) is task k of plan: slots[i] == (plan, k).
        self.slots = [(plan, k) for plan in plans for k in range(len(plan.tasks))]

    def record(self, i: int, outcome: Outcome) -> None:
        """Task `i`'s outcome; the last of its group ends the group (a group with no task is
        ended by the flush itself)."""
        plan, k = self.slots[i]
        plan.outcomes[k] = outcome
        with self.lock:
            plan.left -= 1
            if plan.left:
                return
        self.end(plan)

    def end(self, plan: _Plan) -> None:
        """Every outcome of `plan` is in: the group's result."""
        try:
            result: FlushResult | None = self.finish(plan, plan.outcomes)
        except Exception:
            _log_group_failure(plan.group.key)
            result = None
        self.done(result)


@dataclass
class _Plan:
    """One group's flush after muting: a notify task per integration to run, and once they run
    (_PendingFlushes) their outcomes and how many are still to come."""

    group: GroupState
    route: Route | None  # None: the route is gone from the config in effect
    tasks: list[NotifyTask]
    now: float
    members: list[Alert]  # the group's alerts that still route to it
    strays: list[str]  # fingerprints of those that no longer do
    outcomes: list[Outcome] = field(init=False)
    left: int = field(init=False)
