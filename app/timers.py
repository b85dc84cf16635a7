"""Group timers: one due time per aggregation group in a Redis sorted set, claimed atomically.

RQ's scheduler keeps due times in whole seconds and its lock can stall every timer for minutes
after a worker is killed (its scheduler lock outlives the worker), so each worker process runs
this loop instead.
Claiming is one Lua call: it re-arms each due group for group_interval *before* the flush runs
(Alertmanager's fixed cadence) and marks a flush in flight, so however many processes run the
loop, a group has one timer and one pending flush job. The mark expires by itself, so a flush
lost to a crash is retried at the group's next tick.

The same loop claims due retries (app/retries.py) and queues them as flush jobs of their own
(`retry=True`): they share the in-flight mark, so a group still has one pending flush at most.

While BACKLOG_JOBS flush jobs already wait in the queue, the loop claims nothing: every worker
is busy, and groups claimed now would only wait in jobs of their own. Claimed a moment later
they go into the jobs a freed worker takes next, as they would have, but fewer and fuller:
claims made as each group fell due gave 10,000 groups due within half a second 70 jobs of 143
groups on average, and RQ's bookkeeping per job and the loop's own claims were 12 % of the busy
workers' samples (py-spy, bench/notify). A group's next tick is armed from its claim, as
Alertmanager arms it when its timer fires, which a busy Alertmanager also does late.

On a Redis Cluster each shard has its own timers and retries (app/redis_keys.py): a tick claims
every shard in one pipelined round trip per master, and each shard's groups go to jobs of their
own, so that a flush job reads and writes one shard.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence

import redis

from app import redis_scripts
from app.redis_keys import Keys
from app.rediscluster import register, run_script
from app.retries import RetrySchedule

log = logging.getLogger(__name__)

# Queued jobs that make the loop hold its claims (none of the workers is free), and how often it
# looks again meanwhile: a job takes a busy worker about a tenth of a second, so a worker freed
# by one finds the next waiting, and the claim after it comes within a few milliseconds.
BACKLOG_JOBS = 2
BACKLOG_POLL = 0.02


class TimerLoop:
    """Claims due group timers and due retries and hands their ids to `enqueue` (with whether
    they are retries); also triggers housekeeping.

    `housekeeping` runs at most once per `sweep_interval` across the whole cluster (a lock in
    Redis decides which process does it). While `hold(now)` is true nothing is claimed
    (--dispatch.start-delay, app.startdelay), nor while `backlog()` (the flush jobs waiting in
    the queue) is BACKLOG_JOBS or more.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        retries: RetrySchedule,
        enqueue: Callable[[list[str], bool], None],
        housekeeping: Callable[[], None],
        *,
        inflight_ttl: float,
        sweep_interval: float,
        poll_interval: float = 0.1,
        batch: int = 500,
        hold: Callable[[float], bool] | None = None,
        backlog: Callable[[], int] | None = None,
    ) -> None:
        self.r = client
        self.keys = keys
        self.retries = retries
        self.enqueue = enqueue
        self.housekeeping = housekeeping
        self.inflight_ttl = inflight_ttl
        self.sweep_interval = sweep_interval
        self.poll_interval = poll_interval
        self.batch = batch
        self.hold = hold
        self.backlog = backlog
        self._held = False
        self._backlogged = False
        # On a cluster: each shard's first due time (timer or retry) at the last wait-time read;
        # None until then.
        self._due_at: list[float] | None = None
        self._sweep_at = 0.0  # time.monotonic() at which the housekeeping lock may be free
        self._claim = register(client, redis_scripts.CLAIM_DUE_GROUPS)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def claim_due(self, now: float) -> list[str]:
        """The groups claimed, whatever their shards."""
        return [gid for gids in self.claim_due_by_shard(now) for gid in gids]

    def claim_due_by_shard(self, now: float, shards: Sequence[Keys] | None = None) -> list[list[str]]:
        """The claimed groups (up to `batch` a shard) of each of `shards` (default: every one),
        in one round trip per master."""
        ttl = int(self.inflight_ttl * 1000)
        calls = [
            ([shard.timers, shard.retries], [now, shard.group_stem, shard.inflight_stem, self.batch, ttl])
            for shard in (self.keys.shards() if shards is None else shards)
        ]
        # A shard whose claim failed (its slot half-way through a migration) waits for the next
        # tick; the others' groups are queued now.
        replies = run_script(self.r, self._claim, calls, partial=True)
        return [[g.decode() for g in reply or ()] for reply in replies]

    def _due_shards(self, now: float) -> Sequence[Keys]:
        """The shards to claim: every one, except on a cluster once a wait-time read has said
        which have something due by `now`. Claiming all 64 at every idle tick cost the cluster
        2 ms of Redis CPU a tick (bench/cluster); a timer armed since that read waits at most
        one poll, as it would on a plain Redis, where the read comes after the claim too."""
        shards = self.keys.shards()
        if len(shards) == 1 or self._due_at is None:
            return shards
        return [shard for shard, due in zip(shards, self._due_at, strict=True) if due <= now]

    def tick(self) -> int:
        """One pass: claim and enqueue everything due now, sweep if it is this process's turn."""
        claimed = 0
        self._held = self.hold is not None and self.hold(time.time())
        self._backlogged = not self._held and self.backlog is not None and self.backlog() >= BACKLOG_JOBS
        for retry in (False, True):
            while not (self._held or self._backlogged):
                now = time.time()
                shards = self._due_shards(now)
                if not shards:
                    break
                if retry:
                    found = self.retries.claim_due_by_shard(now, self.batch, self.inflight_ttl, shards)
                else:
                    found = self.claim_due_by_shard(now, shards)
                for gids in found:
                    if gids:
                        self.enqueue(gids, retry)
                        claimed += len(gids)
                if all(len(gids) < self.batch for gids in found):
                    break
        if time.monotonic() >= self._sweep_at and self._take_sweep_lock():
            self.housekeeping()
        return claimed

    def _take_sweep_lock(self) -> bool:
        """Whether this process takes the housekeeping lock for `sweep_interval`; either way the
        loop asks again only once the lock has expired.

        Asked at every tick, the lock was a round trip per tick (50 a second while flush jobs
        wait in the queue) that one process at most could win per sweep_interval: by estimate
        some 200 of the 4,400 round trips of two workers sending 10,000 notifications in 2 s
        (bench/notify). Its remaining time comes back in the same round trip, so the sweep is
        still taken at the first tick after the lock expires."""
        lock_ms = max(1, int(self.sweep_interval * 1000))
        pipe = self.r.pipeline(transaction=False)
        pipe.set(self.keys.housekeeping_lock, "1", nx=True, px=lock_ms)
        pipe.pttl(self.keys.housekeeping_lock)
        taken, left_ms = pipe.execute()
        self._sweep_at = time.monotonic() + max(left_ms, 0) / 1000
        return bool(taken)

    def _wait_time(self) -> float:
        if self._held:
            return self.poll_interval
        if self._backlogged:
            return BACKLOG_POLL
        pipe = self.r.pipeline(transaction=False)
        shards = self.keys.shards()
        for shard in shards:
            pipe.zrange(shard.timers, 0, 0, withscores=True)
            pipe.zrange(shard.retries, 0, 0, withscores=True)
        replies = pipe.execute()
        firsts = [found[0][1] if found else math.inf for found in replies]
        if len(shards) > 1:
            self._due_at = [min(firsts[i], firsts[i + 1]) for i in range(0, len(firsts), 2)]
        first = min(firsts, default=math.inf)
        if first == math.inf:
            return self.poll_interval
        return min(self.poll_interval, max(0.0, first - time.time()))

    def run(self) -> None:
        backoff = self.poll_interval
        while not self._stop.is_set():
            try:
                self.tick()
                wait = self._wait_time()
                backoff = self.poll_interval
            except redis.RedisError as err:
                log.warning("group timers paused: Redis unreachable (%s); retrying in %.1fs", err, backoff)
                wait, backoff = backoff, min(backoff * 2, 5.0)
            except Exception:
                log.exception("group timer loop failed; retrying")
                wait = 1.0
            self._stop.wait(wait)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="group-timers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
