"""Retries of failed notifications as due times in Redis, like the group timers.

Alertmanager retries a failed notification inside the group's flush, with exponential backoff,
until the flush's deadline. Waiting inside a flush job would hold up every other group of the
job and the worker running it (one bad receiver delaying every other), so alerter writes the
retry down instead: a flush that leaves a retryable failure gives its group a due time in
`P:retries` (one member per group, so the backlog is bounded by the number of groups), and the
timer loop claims due retries as it claims due groups. A retry is a flush of the group that
does not re-arm its timer: the notification log's dedup leaves out every integration that was
notified, so only what failed is sent again, with the group's alerts as they are then.

Retries follow Alertmanager's backoff (0.5 s, x1.5 each time, +-50 % jitter, intervals capped at
60 s) and stop at the group's next regular flush, which starts the backoff afresh.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import redis

from app import redis_scripts
from app.redis_keys import Keys
from app.rediscluster import register, run_script

# Alertmanager's backoff (cenkalti/backoff's ExponentialBackOff as its retry stage sets it up).
BACKOFF_START = 0.5
BACKOFF_FACTOR = 1.5
BACKOFF_MAX_INTERVAL = 60.0
BACKOFF_JITTER = 0.5


class RetrySchedule:
    def __init__(self, client: redis.Redis, keys: Keys, jitter: Callable[[], float] | None = None) -> None:
        self.r = client
        self.keys = keys
        self.jitter = jitter or (lambda: random.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER))
        self._schedule = register(client, redis_scripts.SCHEDULE_RETRY)
        self._claim = register(client, redis_scripts.CLAIM_DUE_RETRIES)

    def schedule(self, gid: str, now: float) -> float | None:
        """Give the group its next retry; its due time, or None when the group's next regular
        flush comes first (or the group is gone): the regular flush takes over then."""
        shard = self.keys.shard(gid)
        due = self._schedule(
            keys=[shard.retries, shard.timers, shard.group(gid)],
            args=[gid, now, self.jitter(), BACKOFF_START, BACKOFF_FACTOR, BACKOFF_MAX_INTERVAL],
        )
        return float(due) if due is not None else None

    def claim_due(self, now: float, limit: int, inflight_ttl: float) -> list[str]:
        """Take the groups whose retry is due, each marked in flight (one pending flush per
        group, shared with the group timers)."""
        return [gid for gids in self.claim_due_by_shard(now, limit, inflight_ttl) for gid in gids]

    def claim_due_by_shard(
        self, now: float, limit: int, inflight_ttl: float, shards: Sequence[Keys] | None = None
    ) -> list[list[str]]:
        """claim_due() for each of `shards` (default: every one; up to `limit` a shard), in one
        round trip per master."""
        ttl = int(inflight_ttl * 1000)
        calls = [
            ([shard.retries], [now, shard.group_stem, shard.inflight_stem, limit, ttl])
            for shard in (self.keys.shards() if shards is None else shards)
        ]
        replies = run_script(self.r, self._claim, calls, partial=True)  # as TimerLoop's claims
        return [[g.decode() for g in reply or ()] for reply in replies]
