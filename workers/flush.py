"""RQ job: flush aggregation groups whose timers (or retries) fired.

The timer loop hands over the groups it claimed in batches: one RQ job per group cost about a
hundred Redis commands of RQ bookkeeping per notification, more than the flush itself, and a
batch lets the dispatcher read its groups and their log entries in two round trips.

The sends run on the process's send pool. The job waits for them while they keep finishing, and
ends as soon as none has finished for SLOW_AFTER (a receiver is slow or hangs): its sends go on
without it, and the worker takes the next job. Waiting while sends are quick keeps the job's
thread from planning the next batch beside them: two busy threads in one process cost more CPU
in hand-overs of Python's interpreter lock (per-thread CPU times of two workers sending 3,000
notifications: 0.65-0.66 ms per notification with the job returning at once, 0.57-0.61 ms with
it waiting, 0.57-0.61 ms before sends had a pool of their own), and RQ spreads the jobs over
the workers as before.
"""

from __future__ import annotations

import logging
import threading

from app.dispatcher import FlushResult
from app.jobs import bound_runtime
from app.notify.sendpool import SLOW_AFTER

log = logging.getLogger(__name__)


def flush_groups(gids: list[str], retry: bool = False) -> None:
    rt = bound_runtime()
    progress = _Progress()
    progress.expect(rt.dispatcher.flush_many(gids, rt.external_url, progress.one_done, retry=retry))
    progress.wait_while_moving(SLOW_AFTER)


class _Progress:
    """How many of a job's groups still have sends running. Groups may finish before the job
    knows how many there are (`expect`), so the count may go below 0 until then."""

    def __init__(self) -> None:
        self.left = 0
        self.cond = threading.Condition()

    def expect(self, groups: int) -> None:
        with self.cond:
            self.left += groups

    def one_done(self, result: FlushResult | None) -> None:
        # Only the last one wakes the job: a wake-up per group cost a thread switch per
        # notification, and the wait below learns of progress when its `stall` runs out.
        with self.cond:
            self.left -= 1
            if not self.left:
                self.cond.notify()
        if result is not None:
            _log_result(result)

    def wait_while_moving(self, stall: float) -> None:
        """Return when every group is done, or when none finished for `stall` seconds."""
        with self.cond:
            while self.left:
                before = self.left
                self.cond.wait(stall)
                if self.left == before:
                    return


def _log_result(result: FlushResult) -> None:
    if not log.isEnabledFor(logging.DEBUG):
        return  # not logged: the fields would be built for nothing, once per group
    if result.notified or result.failed or result.deleted:
        log.debug(
            "flushed aggregation group",
            extra={
                "fields": {
                    "group": result.gid,
                    "notified": result.notified,
                    "failed": result.failed,
                    "deleted": result.deleted,
                }
            },
        )
