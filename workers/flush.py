"""RQ job: flush aggregation groups whose timers fired.

The timer loop hands over the groups it claimed in batches: one RQ job per group cost about a
hundred Redis commands of RQ bookkeeping per notification, more than the flush itself, and a
batch lets the dispatcher read its groups and their log entries in two round trips.
"""

from __future__ import annotations

import logging

from app.jobs import bound_runtime

log = logging.getLogger(__name__)


def flush_groups(gids: list[str]) -> None:
    rt = bound_runtime()
    for result in rt.dispatcher.flush_many(gids, rt.external_url):
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
