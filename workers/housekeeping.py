"""RQ job: the periodic sweep (`--cluster.pushpull-interval`).

Re-arms group timers lost to a crash or a failover, drops expired notification-log entries,
drops silences expired for longer than `--data.retention`,
and every `--alerts.gc-interval` drops resolved alerts from the alert store (groups keep their
own copies until the resolution is notified). In embedded mode it also snapshots the state
under `--storage.path`, which lets the write-ahead log start afresh. The notification-log and
silence steps are Alertmanager's maintenance of those two states, and counted as such
(`alertmanager_nflog_*`, `alertmanager_silences_*`).
"""

from __future__ import annotations

import logging
import time

from app import backend, metrics
from app.jobs import bound_runtime
from app.runtime import Runtime

log = logging.getLogger(__name__)


def sweep() -> dict[str, int]:
    rt = bound_runtime()
    now = time.time()
    done = {"rearmed": rt.store.rearm_lost_timers(now)}
    if rt.membership is not None:
        done["peers_forgotten"] = rt.membership.prune(now)
    gc_ms = max(1, int(rt.settings.gc_interval * 1000))
    if rt.client.set(rt.keys.gc_lock, "1", nx=True, px=gc_ms):
        done["alerts_gc"] = rt.store.gc_resolved(now)
    with metrics.maintenance():
        with metrics.NFLOG_MAINTENANCE.gc_duration.time():
            done["nflog_expired"] = rt.nflog.gc(now)
        with metrics.SILENCES_MAINTENANCE.gc_duration.time(), metrics.silences_gc_errors.count_exceptions():
            done["silences_dropped"] = rt.silences.gc(now)
        if rt.settings.embedded:
            done["snapshot_keys"] = _snapshot(rt)
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
