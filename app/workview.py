"""The worker and queue view: is delivery keeping up, and who is doing it.

When notifications run late the questions are always the same: are jobs piling up in the queue,
are group timers overdue, which workers are alive and what is each running, which send leases
are held and by whom. Everything here is read from the shared Redis, so any web process answers
for the whole cluster.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from rq import Worker

from app.runtime import Runtime
from app.timeutil import format_rfc3339

# At most this many held leases are listed (all are counted): a few hundred rows is as many as
# anyone reads, and the listing costs a round trip per hundred.
LEASES_LISTED = 200


def _count_matching(client: redis.Redis, pattern: str) -> int:
    return sum(1 for _ in client.scan_iter(match=pattern, count=1000))


def _timers(rt: Runtime, now: float) -> dict[str, Any]:
    pipe = rt.client.pipeline(transaction=False)
    for shard in rt.keys.shards():  # every shard's on a cluster (app/redis_keys.py)
        pipe.scard(shard.groups)
        pipe.zcard(shard.timers)
        # Overdue as the alerter_group_timers_overdue metric counts it: more than a second past due.
        pipe.zcount(shard.timers, "-inf", now - 1)
        pipe.zrange(shard.timers, 0, 0, withscores=True)
        pipe.zrangebyscore(shard.timers, now, "+inf", start=0, num=1, withscores=True)
    replies = pipe.execute()
    groups, armed, overdue = (sum(replies[k::5]) for k in range(3))
    first = [found[0][1] for found in replies[3::5] if found]
    upcoming = [found[0][1] for found in replies[4::5] if found]
    return {
        "groups": groups,
        "armed": armed,
        "overdue": overdue,
        "mostOverdueSeconds": max(0.0, now - min(first)) if overdue else 0.0,
        "nextDueInSeconds": min(upcoming) - now if upcoming else None,
        "inFlight": _count_matching(rt.client, rt.keys.inflight_pattern),
    }


def _leases(rt: Runtime) -> dict[str, Any]:
    names = list(rt.client.scan_iter(match=rt.keys.lease_pattern, count=1000))
    listed = names[:LEASES_LISTED]
    pipe = rt.client.pipeline(transaction=False)
    for name in listed:
        pipe.get(name)
        pipe.pttl(name)
    replies = pipe.execute() if listed else []
    held = []
    for n, name in enumerate(listed):
        token, ttl_ms = replies[2 * n], replies[2 * n + 1]
        if token is None:  # released between the scan and the read
            continue
        held.append(
            {
                "lease": name.decode().rpartition(":")[2],  # the digest: hex, no colon
                "holder": token.decode(),
                "expiresInSeconds": max(0, ttl_ms) / 1000,
            }
        )
    return {"count": len(names), "held": held}


def _workers(rt: Runtime) -> list[dict[str, Any]]:
    out = []
    for w in Worker.all(queue=rt.queue):
        job = w.get_current_job()
        out.append(
            {
                "name": w.name,
                "hostname": w.hostname or "",
                "pid": w.pid,
                "state": str(w.get_state()),
                "job": job.description if job is not None else "",
                "startedAt": format_rfc3339(w.birth_date.timestamp()) if w.birth_date else "",
                "lastHeartbeat": format_rfc3339(w.last_heartbeat.timestamp()) if w.last_heartbeat else "",
                "jobsDone": w.successful_job_count,
                "jobsFailed": w.failed_job_count,
                "workingSeconds": round(w.total_working_time, 3),
            }
        )
    return sorted(out, key=lambda w: w["name"])


def work_view(rt: Runtime) -> dict[str, Any]:
    """The queue, the group timers, the held leases and the RQ workers, as of now."""
    now = time.time()
    queue = rt.queue
    return {
        "queue": {
            "name": queue.name,
            "waiting": queue.count,
            "running": queue.started_job_registry.count,
            "failed": queue.failed_job_registry.count,
        },
        "timers": _timers(rt, now),
        "leases": _leases(rt),
        "workers": _workers(rt),
    }
