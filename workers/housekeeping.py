"""RQ job: the periodic sweep. Each task runs at its own interval, once across the cluster (a
lock in Redis per task); the timer loop queues the sweep as often as the most frequent asks.

- every --dispatch.maintenance-interval: re-arm group timers lost to a crash or a failover
  (the dispatcher's maintenance; an emptied group is deleted by the flush that empties it);
- every --data.maintenance-interval: drop expired notification-log entries and silences expired
  for longer than --data.retention, and in embedded mode snapshot the state under
  --storage.path (Alertmanager's maintenance of its silences and notification log);
- every --alerts.gc-interval: drop resolved alerts from the alert store (groups keep their own
  copies until the resolution is notified);
- every sweep: forget peers whose heartbeat stopped long ago.
"""

from __future__ import annotations

import logging
import time

from app import backend
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
        done["nflog_expired"] = rt.nflog.gc(now)
        done["silences_dropped"] = rt.silences.gc(now)
        if rt.settings.embedded:
            done["snapshot_keys"] = backend.save_snapshot(rt.client, rt.keys, rt.settings)
    if rt.membership is not None:
        done["peers_forgotten"] = rt.membership.prune(now)
    if _turn(rt, rt.keys.gc_lock, rt.settings.gc_interval):
        done["alerts_gc"] = rt.store.gc_resolved(now)
    log.info("housekeeping sweep done", extra={"fields": done})
    return done
