"""RQ job: the periodic sweep. Each task runs at its own interval, once across the cluster (a
lock in Redis per task); the timer loop queues the sweep as often as the most frequent asks.

- every --dispatch.maintenance-interval: re-arm group timers lost to a crash or a failover
  (the dispatcher's maintenance; an emptied group is deleted by the flush that empties it);
- every --data.maintenance-interval: drop expired notification-log entries, silences expired
  for longer than --data.retention and the notification history of groups last attempted
  longer ago than that, and in embedded mode snapshot the state under
  --storage.path (Alertmanager's maintenance of its silences and notification log);
- every --alerts.gc-interval: drop resolved alerts from the alert store (groups keep their own
  copies until the resolution is notified);
- every sweep: forget peers whose heartbeat stopped long ago.

The embedded snapshot lets the write-ahead log start afresh; the notification-log and silence
steps are Alertmanager's maintenance of those two states, and counted as such
(`alertmanager_nflog_*`, `alertmanager_silences_*`).
"""

from __future__ import annotations

import logging
import time

from app import backend, metrics
from app.history import HistoryLog
from app.jobs import bound_runtime
from app.runtime import Runtime

log = logging.getLogger(__name__)


def _turn(rt: Runtime, lock: str, interval: float) -> bool:
    """Whether this sweep runs the task behind `lock`: the first sweep of each `interval`."""
    return bool(rt.client.set(lock, "1", nx=True, px=max(1, int(interval * 1000))))


def sweep() -> dict[str, int]:
    rt = bound_runtime()
    now = time.time()
    done: dict[str, int] = {}
    if _turn(rt, rt.keys.dispatch_maintenance_lock, rt.settings.dispatch_maintenance_interval):
        done["rearmed"] = rt.store.rearm_lost_timers(now)
    if _turn(rt, rt.keys.maintenance_lock, rt.settings.maintenance_interval):
        with metrics.maintenance():
            with metrics.NFLOG_MAINTENANCE.gc_duration.time():
                done["nflog_expired"] = rt.nflog.gc(now)
            with (
                metrics.SILENCES_MAINTENANCE.gc_duration.time(),
                metrics.silences_gc_errors.count_exceptions(),
            ):
                done["silences_dropped"] = rt.silences.gc(now)
            done["histories_dropped"] = HistoryLog(rt.client, rt.keys).gc(now, rt.settings.data_retention)
            if rt.settings.embedded:
                done["snapshot_keys"] = _snapshot(rt)
    if rt.membership is not None:
        done["peers_forgotten"] = rt.membership.prune(now)
    if _turn(rt, rt.keys.gc_lock, rt.settings.gc_interval):
        done["alerts_gc"] = rt.store.gc_resolved(now)
    log.info("housekeeping sweep done", extra={"fields": done})
    return done


def _snapshot(rt: Runtime) -> int:
    """Save the embedded state; the one file is both states' snapshot, so each records its
    duration, and its own part of the file as its size. Returns how many keys were saved."""
    started = time.perf_counter()
    sizes = backend.save_snapshot(rt.client, rt.keys, rt.settings, rt.writer)
    took = time.perf_counter() - started
    for state, key in (
        (metrics.NFLOG_MAINTENANCE, rt.keys.nflog),
        (metrics.SILENCES_MAINTENANCE, rt.keys.silences),
    ):
        state.snapshot_duration.observe(took)
        state.snapshot_size.set(sizes.get(key, 0))
    return len(sizes)
