"""RQ job: flush aggregation groups whose timers (or retries) fired.

The timer loop hands over the groups it claimed in batches: one RQ job per group cost about a
hundred Redis commands of RQ bookkeeping per notification, more than the flush itself, and a
batch lets the dispatcher read its groups and their log entries in two round trips. The job
ends once the sends are started (they run on the process's send pool), so that a receiver that
hangs does not keep this worker from the next job.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future

from app.dispatcher import FlushResult
from app.jobs import bound_runtime

log = logging.getLogger(__name__)


def flush_groups(gids: list[str], retry: bool = False) -> None:
    rt = bound_runtime()
    for pending in rt.dispatcher.flush_many(gids, rt.external_url, retry=retry):
        pending.add_done_callback(_log_result)


def _log_result(done: Future[FlushResult]) -> None:
    if done.exception() is not None:
        return  # the dispatcher logged it
    result = done.result()
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
