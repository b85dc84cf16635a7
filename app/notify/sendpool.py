"""The threads of one process that run notification sends, a few at a time per receiver.

A flush job hands its sends over and returns: a receiver that hangs must hold up neither the
job's other groups nor the RQ worker that runs the next job. Two bounds keep a slow receiver to
its own share of the process:

- `threads` sends run at once in the process, whatever their receiver. Each runs under its own
  send lease, so a worker killed mid-send leaves at most `threads` notifications sent and not
  logged (each sent again once its lease expires: the duplicates a kill can cost).
- `per_target` of them at most go to one target (a receiver's integration): the sends of a
  target that does not answer wait in that target's line while other targets' sends pass.

A target gets `at_once` sends at a time while it answers quickly, and another one beyond those
only when all of its running sends have taken `slow_after` seconds or more. Every thread that
runs beside another costs CPU in hand-overs of Python's interpreter lock (workers/flush.py has the
figures), so a fast receiver gets few: two rather than one, as a lone send leaves its process idle
while it waits for the answer, and the answer comes late when the receiver shares the machine's
cores (bench/notify, two workers: 4,035-4,211 notifications/s with one, 4,393-4,883 with two). A
slow receiver gains from more, and a hanging one reaches its cap within a few `slow_after`.

Sends wait in memory, not in Redis, because they hold their lease while waiting: no other
worker sends them meanwhile, and a kill only lets the lease expire (nothing was sent). The
threads start with the first send and stay.

A send's last step (the notifier's commit to the notification log) may be left for later: `run`
returns it, the thread goes on to the next send it may start at once, and the steps left meanwhile
go to `finish_many` in one call (one Redis round trip for many commits, where a round trip per
notification was a sixth of a worker's CPU). They are finished as soon as the thread that ran
the last send has nothing more to start, when room runs short, or `finish_after` seconds after
the oldest was left (an idle thread sees to that). A send whose last step is pending still
counts against `threads`: the sends running and those not yet finished are never more than
`threads`, so a kill still leaves at most that many notifications sent and not logged.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

# How long every running send of a target must have run before another may start beside them.
SLOW_AFTER = 0.05
# How long a thread may hold the last steps of its sends while it starts more: a fifth of
# SLOW_AFTER, so that a flush job waiting for its groups' outcomes sees them come in well
# before it would take its sends for stalled.
FINISH_AFTER = 0.01


class Work(Protocol):
    """One send: `run` does it and returns its last step to take later in a batch (None: there
    is none, the send is over); `cancel` gives it up unsent (the process is stopping). A
    protocol, not a class of its own, so that the notifier's object for a send is its Work too:
    a frozen Work around two functools.partial, and a third for the outcome, were three more
    objects per notification (with the dispatcher's second lock per group, which went at the
    same time: 0.804-0.859M instructions per notification, 0.845M the median of three runs,
    against 0.781-0.796M; bench/inprocess --what=notify --groups=1000 --callgrind)."""

    @property
    def target(self) -> str: ...

    def run(self) -> Any: ...

    def cancel(self) -> None: ...


def _nothing_later(later: list[Any]) -> None:
    raise RuntimeError(f"no finish_many for the {len(later)} last steps sends returned")


class SendPool:
    def __init__(
        self,
        threads: int,
        per_target: int,
        at_once: int = 1,
        slow_after: float = SLOW_AFTER,
        finish_many: Callable[[list[Any]], None] = _nothing_later,
        finish_after: float = FINISH_AFTER,
    ) -> None:
        self.threads = threads
        self.per_target = per_target
        self.at_once = at_once
        self.slow_after = slow_after
        self.finish_many = finish_many
        self.finish_after = finish_after
        self._cond = threading.Condition()
        # Targets with waiting work, oldest first; a target goes to the back once served, so
        # that targets take turns.
        self._waiting: dict[str, deque[Work]] = {}
        # Each target's running sends: when they started (time.monotonic()).
        self._running: dict[str, list[float]] = {}
        # Sends started and not over: running, or their last step not yet finished.
        self._open = 0
        # The last steps sends left, to finish in one call, and when the oldest was left.
        self._later: list[Any] = []
        self._later_since = 0.0
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
        running (and their last steps). True when none is left."""
        with self._cond:
            self._stopping = True
            cancelled = [w for q in self._waiting.values() for w in q]
            self._waiting.clear()
            self._cond.notify_all()
        for work in cancelled:
            work.cancel()
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._open and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            return not self._open

    def _admits_in(self, target: str, now: float) -> float:
        """Seconds until another send of `target` may start (0: now; inf: at its cap)."""
        running = self._running.get(target)
        if not running:
            return 0.0
        if len(running) >= self.per_target:
            return math.inf
        if len(running) < self.at_once:
            return 0.0
        return max(0.0, max(running) + self.slow_after - now)

    def _startable_now(self, target: str) -> int:
        """How many sends of `target` may start together now, given that one may (_admits_in):
        up to `at_once` beside none running, else one."""
        running = len(self._running.get(target, ()))
        return min(self.per_target - running, max(1, self.at_once - running))

    def _take(self, now: float) -> tuple[Work | None, float]:
        """The next send to start, or None and how long until one may (inf: none in sight)."""
        if self._open >= self.threads:
            return None, math.inf  # a thread finishing what it holds makes room
        soonest = math.inf
        for target, line in self._waiting.items():
            wait = self._admits_in(target, now)
            if wait == 0.0:
                work = line.popleft()
                del self._waiting[target]
                if line:
                    self._waiting[target] = line
                self._running.setdefault(target, []).append(now)
                self._open += 1
                return work, 0.0
            soonest = min(soonest, wait)
        return None, soonest

    def _serve(self) -> None:
        ran = False  # this thread has just run a send
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    due = bool(self._later) and now - self._later_since >= self.finish_after
                    work, wait = (None, math.inf) if due else self._take(now)
                    if work is not None:
                        break
                    # Nothing to start: finish the last steps left if they are due, if the
                    # stream of sends that left them has ended (this thread ran one and has no
                    # next), or if room is short. Idle threads see to the delay: a thread busy
                    # with a send that hangs cannot.
                    if self._later and (due or ran or self._stopping or self._open >= self.threads):
                        later, self._later = self._later, []
                        break
                    ran = False
                    if self._later:
                        wait = min(wait, self._later_since + self.finish_after - now)
                    self._cond.wait(None if wait == math.inf else wait)
            if work is None:
                self._finish(later)
                ran = False
                continue
            ran = True
            step = None
            try:
                step = work.run()
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
                    if step is None:
                        self._close(1)
                    else:
                        self._later.append(step)
                        if len(self._later) == 1:
                            self._later_since = time.monotonic()
                            self._cond.notify()  # an idle thread keeps the time

    def _finish(self, later: list[Any]) -> None:
        try:
            self.finish_many(later)
        except Exception:
            log.exception("finishing notification sends failed", extra={"fields": {"sends": len(later)}})
        finally:
            with self._cond:
                self._close(len(later))

    def _close(self, sends: int) -> None:
        """`sends` are over (the caller holds the lock). This thread takes the send their room
        lets through itself; only a drain, or threads shut out while every room was taken,
        wait on it.

        Of those shut out, only as many are woken as the room has sends to start beside the
        caller's: as many as each target may start now (up to `at_once` for a target with
        fewer running), and one to keep the time for the targets that may later (a thread
        waiting for room waits without a timeout). Waking them all let 15 threads race for one
        receiver's next send each time its batched commits made room: about one needless
        thread switch per notification."""
        full = self._open >= self.threads
        self._open -= sends
        if self._stopping:
            self._cond.notify_all()
        elif full and self._waiting:
            now, startable, later = time.monotonic(), 0, False
            for target, line in self._waiting.items():
                wait = self._admits_in(target, now)
                if wait == 0.0:
                    startable += min(len(line), self._startable_now(target))
                elif wait != math.inf:
                    later = True
            wake = min(sends, startable + int(later)) - 1  # the caller starts (or times) one itself
            if wake > 0:
                self._cond.notify(wake)
