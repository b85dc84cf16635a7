"""The threads of one process that run notification sends, a few at a time per receiver.

A flush job hands its sends over and returns: a receiver that hangs must hold up neither the
job's other groups nor the RQ worker that runs the next job. Two bounds keep a slow receiver to
its own share of the process:

- `threads` sends run at once in the process, whatever their receiver. Each runs under its own
  send lease, so a worker killed mid-send leaves at most `threads` notifications sent and not
  logged (each sent again once its lease expires: the duplicates a kill can cost).
- `per_target` of them at most go to one target (a receiver's integration): the sends of a
  target that does not answer wait in that target's line while other targets' sends pass.

A target gets one send at a time while it answers quickly, and another one at once only when
all of its running sends have taken `slow_after` seconds or more. Every thread that runs beside
another costs CPU in hand-overs of Python's interpreter lock (workers/flush.py has the figures),
and a fast receiver gains nothing from parallel sends; a slow one does, and a hanging one
reaches its cap within a few `slow_after`.

Sends wait in memory, not in Redis, because they hold their lease while waiting: no other
worker sends them meanwhile, and a kill only lets the lease expire (nothing was sent). The
threads start with the first send and stay.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

# How long every running send of a target must have run before another may start beside them.
SLOW_AFTER = 0.05


@dataclass(frozen=True, slots=True)
class Work:
    """One send: `run` does it; `cancel` gives it up unsent (the process is stopping)."""

    target: str
    run: Callable[[], None]
    cancel: Callable[[], None]


class SendPool:
    def __init__(self, threads: int, per_target: int, slow_after: float = SLOW_AFTER) -> None:
        self.threads = threads
        self.per_target = per_target
        self.slow_after = slow_after
        self._cond = threading.Condition()
        # Targets with waiting work, oldest first; a target goes to the back once served, so
        # that targets take turns.
        self._waiting: dict[str, deque[Work]] = {}
        # Each target's running sends: when they started (time.monotonic()).
        self._running: dict[str, list[float]] = {}
        self._started = False
        self._stopping = False

    def submit_many(self, works: list[Work]) -> None:
        """Queue `works`; once the pool is stopping they are cancelled at once instead."""
        if not works:
            return
        with self._cond:
            if not self._stopping:
                for work in works:
                    self._waiting.setdefault(work.target, deque()).append(work)
                if not self._started:
                    self._started = True
                    for n in range(self.threads):
                        threading.Thread(target=self._serve, name=f"send-{n}", daemon=True).start()
                # A thread for each target: it starts the target's next send, or waits until
                # the target's running sends have been slow long enough to admit another.
                self._cond.notify(len({work.target for work in works}))
                return
        for work in works:
            work.cancel()

    def drain(self, timeout: float) -> bool:
        """Stop: cancel the sends not yet started and wait up to `timeout` seconds for those
        running. True when none is left running."""
        with self._cond:
            self._stopping = True
            cancelled = [w for q in self._waiting.values() for w in q]
            self._waiting.clear()
            self._cond.notify_all()
        for work in cancelled:
            work.cancel()
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._running and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            return not self._running

    def _admits_in(self, target: str, now: float) -> float:
        """Seconds until another send of `target` may start (0: now; inf: at its cap)."""
        running = self._running.get(target)
        if not running:
            return 0.0
        if len(running) >= self.per_target:
            return math.inf
        return max(0.0, max(running) + self.slow_after - now)

    def _take(self, now: float) -> tuple[Work | None, float]:
        """The next send to start, or None and how long until one may (inf: none in sight)."""
        soonest = math.inf
        for target, line in self._waiting.items():
            wait = self._admits_in(target, now)
            if wait == 0.0:
                work = line.popleft()
                del self._waiting[target]
                if line:
                    self._waiting[target] = line
                self._running.setdefault(target, []).append(now)
                return work, 0.0
            soonest = min(soonest, wait)
        return None, soonest

    def _serve(self) -> None:
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    work, wait = self._take(now)
                    if work is not None:
                        break
                    self._cond.wait(None if wait == math.inf else wait)
            try:
                work.run()
            except Exception:
                log.exception(
                    "a notification send failed unexpectedly", extra={"fields": {"target": work.target}}
                )
            finally:
                with self._cond:
                    running = self._running[work.target]
                    running.remove(now)
                    if not running:
                        del self._running[work.target]
                    # This thread takes the send the freed slot lets through itself; only a
                    # drain waits on the count.
                    if self._stopping:
                        self._cond.notify_all()
