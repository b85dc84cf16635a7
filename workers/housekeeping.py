"""RQ job: the periodic sweep (`--cluster.pushpull-interval`).

Re-arms group timers lost to a crash or a failover, drops expired notification-log entries,
drops silences expired for longer than `--data.retention` and the notification history of
groups last attempted longer ago than that, and every `--alerts.gc-interval` drops resolved
alerts from the alert store (groups keep their own copies until the resolution is notified).
In embedded mode it also snapshots the state under `--storage.path`.
"""

from __future__ import annotations

import logging
import time

from app import backend
from app.history import HistoryLog
from app.jobs import bound_runtime

log = logging.getLogger(__name__)


def sweep() -> dict[str, int]:
    rt = bound_runtime()
    now = time.time()
    done = {
        "rearmed": rt.store.rearm_lost_timers(now),
        "nflog_expired": rt.nflog.gc(now),
        "silences_dropped": rt.silences.gc(now),
        "histories_dropped": HistoryLog(rt.client, rt.keys).gc(now, rt.settings.data_retention),
    }
    if rt.membership is not None:
        done["peers_forgotten"] = rt.membership.prune(now)
    gc_ms = max(1, int(rt.settings.gc_interval * 1000))
    if rt.client.set(rt.keys.gc_lock, "1", nx=True, px=gc_ms):
        done["alerts_gc"] = rt.store.gc_resolved(now)
    if rt.settings.embedded:
        done["snapshot_keys"] = backend.save_snapshot(rt.client, rt.keys, rt.settings)
    log.info("housekeeping sweep done", extra={"fields": done})
    return done
