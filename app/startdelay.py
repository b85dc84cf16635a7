"""--dispatch.start-delay on a cluster of processes.

Alertmanager holds its dispatcher for the delay after its own start, so that an instance that
lost its alerts in a restart hears every alert again from Prometheus (--rules.alert.resend-delay)
before it notifies. In alerter the alerts live in Redis and survive a process restart; they are
lost when Redis loses its state. So the delay runs from the first start of a process against
this Redis state: the first process to look records its start time in Redis, every process
holds group flushes until that time plus the delay, and a process started later into a running
cluster holds nothing. If Redis comes back empty, the record is gone with the alerts, and the
next look records a new start. Embedded, the record is not in the snapshot: each start waits.
"""

from __future__ import annotations

import logging

import redis

from app.redis_keys import Keys

log = logging.getLogger(__name__)


class StartDelay:
    """`holds(now)`: True while group flushes must wait; the timer loop asks before claiming."""

    def __init__(self, client: redis.Redis, keys: Keys, delay: float, started_at: float) -> None:
        self.r = client
        self.key = keys.dispatch_start
        self.delay = delay
        self.started_at = started_at
        self._told = False

    def holds(self, now: float) -> bool:
        with self.r.pipeline(transaction=True) as pipe:
            pipe.setnx(self.key, repr(self.started_at))
            pipe.get(self.key)
            _, start = pipe.execute()
        until = float(start) + self.delay
        if now < until and not self._told:
            self._told = True
            log.info(
                "holding notifications until the cluster's --dispatch.start-delay has passed",
                extra={"fields": {"seconds_left": round(until - now, 3)}},
            )
        return now < until
