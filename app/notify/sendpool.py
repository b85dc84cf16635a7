"""The threads of one process that run notification sends, a few at a time per receiver.

A flush job hands its sends over and returns: a receiver that hangs must hold up neither the
job's other groups nor the RQ worker that runs the next job. Two bounds keep a slow receiver to
its own share of the process:

- `threads` sends run at once in the process, whatever their receiver. Each runs under its own
  send lease, so a worker killed mid-send leaves at most `threads` notifications sent and not
  logged (each sent again once its lease expires: the duplicates a kill can cost).
- `per_target` of them at most go to one target (a receiver's integration): the sends of a
  target that does not answer wait in that target's line while other targets' sends pass.

Sends wait in memory, not in Redis, because they hold their lease while waiting: no other
worker sends them meanwhile, and a kill only lets the lease expire (nothing was sent). The
threads start with the first send and stay.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Work:
    """One send: `run` does it; `cancel` gives it up unsent (the process is stopping)."""

    target: str
    run: Callable[[], None]
    cancel: Callable[[], None]


class SendPool:
    def __init__(self, threads: int, per_target: int) -> None:
        self.threads = threads
        self.per_target = per_target
        self._cond = threading.Condition()
        # Targets with waiting work, oldest first; a target goes to the back once served, so
        # that targets take turns.
        self._waiting: dict[str, deque[Work]] = {}
        self._running: Counter[str] = Counter()
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
                # Wake a waiting thread for each send that a free slot of its target lets
                # through (each notify wakes a different one); the others wait for the thread
                # that frees their target's slot.
                passing = Counter(work.target for work in works)
                self._cond.notify(
                    sum(min(n, max(0, self.per_target - self._running[t])) for t, n in passing.items())
                )
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

    def _take(self) -> Work | None:
        for target, line in self._waiting.items():
            if self._running[target] < self.per_target:
                work = line.popleft()
                del self._waiting[target]
                if line:
                    self._waiting[target] = line
                self._running[target] += 1
                return work
        return None

    def _serve(self) -> None:
        while True:
            with self._cond:
                while (work := self._take()) is None:
                    self._cond.wait()
            try:
                work.run()
            except Exception:
                log.exception(
                    "a notification send failed unexpectedly", extra={"fields": {"target": work.target}}
                )
            finally:
                with self._cond:
                    self._running[work.target] -= 1
                    if not self._running[work.target]:
                        del self._running[work.target]
                    # This thread takes the send the freed slot lets through itself; only a
                    # drain waits on the count.
                    if self._stopping:
                        self._cond.notify_all()
