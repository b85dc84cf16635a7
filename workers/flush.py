"""RQ job: flush aggregation groups whose timers fired.

The timer loop hands over the groups it claimed in batches: one RQ job per group cost about a
hundred Redis commands of RQ bookkeeping per notification, more than the flush itself.
"""

from __future__ import annotations

import logging

from workers.context import runtime

log = logging.getLogger(__name__)


def flush_groups(gids: list[str]) -> None:
    for gid in gids:
        try:
            flush_group(gid)
        except Exception:
            # One broken group must not hold up the others; its next tick retries it.
            log.exception("flushing an aggregation group failed", extra={"fields": {"group": gid}})


def flush_group(gid: str) -> None:
    rt = runtime()
    # From here on the group's next tick may queue a new flush; this one is running.
    rt.client.delete(rt.keys.inflight(gid))
    result = rt.dispatcher.flush(gid, rt.external_url)
    if result is not None and (result.notified or result.failed or result.deleted):
        log.debug(
            "flushed aggregation group",
            extra={
                "fields": {
                    "group": gid,
                    "notified": result.notified,
                    "failed": result.failed,
                    "deleted": result.deleted,
                }
            },
        )
