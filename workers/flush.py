"""RQ job: flush one aggregation group (its timer fired)."""

from __future__ import annotations

import logging

from workers.context import runtime

log = logging.getLogger(__name__)


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
