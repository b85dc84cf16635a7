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

Sends whose requests libcurl can make without waiting on anything else (`Work.multi`: a
webhook's plain-http POST) do not take a thread: one more thread, the curl driver, starts every
such send that may start (its steps, app/notify/steps.py, up to their first request), hands the
requests to one curl multi handle (app/notify/curlhttp.py) and waits in one poll for whichever
answer comes first. On threads, each send blocked in its own `perform`, and the interpreter
lock, the sends and their last steps passed between threads: about six futex calls and six
context switches per notification. The driver obeys the same bounds (`threads` counts its
sends, `per_target` applies to their targets, its last steps are finished in the same batches),
and a request it cannot make through curl (a redirect to https, say) is handed with the rest of
its send to a thread. Its own `curl_at_once` replaces `at_once`: a send in flight there costs
no thread, and more answers per poll cost fewer wake-ups.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from app.notify import steps

log = logging.getLogger(__name__)

# How long every running send of a target must have run before another may start beside them.
SLOW_AFTER = 0.05
# How long a thread may hold the last steps of its sends while it starts more: a fifth of
# SLOW_AFTER, so that a flush job waiting for its groups' outcomes sees them come in well
# before it would take its sends for stalled.
FINISH_AFTER = 0.01
# How long the curl driver pauses after its wait failed unexpectedly, so that a failure that
# repeats does not spin.
_AFTER_FAILURE = 0.1


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

    @property
    def multi(self) -> bool:
        """Whether the send starts on the curl driver (`begin`), not on a thread (`run`)."""

    def run(self) -> Any: ...

    def begin(self) -> steps.Steps[Any]:
        """The send as the generator of its requests, which returns what `run` returns."""

    def cancel(self) -> None: ...


class Curl(Protocol):
    """What the curl driver needs of app/notify/curlhttp.py's CurlMulti."""

    def add(self, request: steps.Request, token: object) -> bool: ...

    def wait(self, timeout: float | None) -> list[tuple[object, Any]]: ...

    def wake(self) -> None: ...


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
        curl: Callable[[], Curl] | None = None,
        curl_at_once: int | None = None,
    ) -> None:
        self.threads = threads
        self.per_target = per_target
        self.at_once = at_once
        self.curl_at_once = at_once if curl_at_once is None else curl_at_once
        self.slow_after = slow_after
        self.finish_many = finish_many
        self.finish_after = finish_after
        # Makes the curl driver's multi handle; None: every send runs on a thread.
        self._make_curl = curl
        # Held as `with self._lock`, not `with self._cond`: Condition's __enter__ and __exit__
        # are Python functions around the lock's, two calls more at each of the four or so
        # acquisitions per notification.
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        # Targets with waiting work, oldest first; a target goes to the back once served, so
        # that targets take turns. The threads' sends, and the curl driver's.
        self._waiting: dict[str, deque[Work]] = {}
        self._curl_waiting: dict[str, deque[Work]] = {}
        # Sends the curl driver started and handed over to a thread with their next request.
        self._handed: deque[tuple[Work, steps.Steps[Any], steps.Request, float]] = deque()
        self._curl: Curl | None = None  # the driver's, once started
        self._driver = 0  # the driver thread's ident
        self._drove = False  # sends of the driver's ended since it last looked at its lines
        # Each target's running sends: when they started (time.monotonic()).
        self._running: dict[str, list[float]] = {}
        # Sends started and not over: running, or their last step not yet finished.
        self._open = 0
        # The last steps sends left, to finish in one call, and when the oldest was left.
        self._later: list[Any] = []
        self._later_since = 0.0
        self._started = False
        self._stopping = False
        _pools.add(self)

    def _forked(self) -> None:
        """In a forked child: the parent's threads, sends and curl handles are not the child's
        (its sockets must not be used from two processes); it starts its own when it sends."""
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._waiting, self._curl_waiting, self._handed = {}, {}, deque()
        self._running, self._open, self._later = {}, 0, []
        self._started, self._curl, self._driver, self._drove = False, None, 0, False

    def submit_many(self, works: list[Work]) -> None:
        """Queue `works`; once the pool is stopping they are cancelled at once instead."""
        if not works:
            return
        with self._lock:
            if not self._stopping:
                threads, driver = set(), False
                for work in works:
                    if work.multi and self._make_curl is not None:
                        self._curl_waiting.setdefault(work.target, deque()).append(work)
                        driver = True
                    else:
                        self._waiting.setdefault(work.target, deque()).append(work)
                        threads.add(work.target)
                if driver:
                    self._wake_driver()
                if threads:
                    self._start_threads()
                    # A thread for each target: it starts the target's next send, or waits until
                    # the target's running sends have been slow long enough to admit another.
                    self._cond.notify(len(threads))
                return
        for work in works:
            work.cancel()

    def drain(self, timeout: float) -> bool:
        """Stop: cancel the sends not yet started and wait up to `timeout` seconds for those
        running (and their last steps). True when none is left."""
        with self._lock:
            self._stopping = True
            lines = (*self._waiting.values(), *self._curl_waiting.values())
            cancelled = [work for line in lines for work in line]
            self._waiting.clear()
            self._curl_waiting.clear()
            self._cond.notify_all()
            if self._curl is not None:
                self._curl.wake()  # to finish its last steps
        for work in cancelled:
            work.cancel()
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._open and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            return not self._open

    def _start_threads(self) -> None:
        """Start the send threads unless they run (the caller holds the lock)."""
        if not self._started:
            self._started = True
            for n in range(self.threads):
                threading.Thread(target=self._serve, name=f"send-{n}", daemon=True).start()

    def _wake_driver(self) -> None:
        """Start the curl driver, or wake it to look at its lines (the caller holds the lock)."""
        if self._curl is None:
            assert self._make_curl is not None
            self._curl = curl = self._make_curl()
            driver = threading.Thread(target=self._drive, args=(curl,), name="send-curl", daemon=True)
            driver.start()
            self._driver = driver.ident or 0
        else:
            self._curl.wake()

    def _admits_in(self, target: str, now: float, at_once: int) -> float:
        """Seconds until another send of `target` may start (0: now; inf: at its cap), when
        `at_once` may start together (`at_once` or `curl_at_once`)."""
        running = self._running.get(target)
        if not running:
            return 0.0
        if len(running) >= self.per_target:
            return math.inf
        if len(running) < at_once:
            return 0.0
        return max(0.0, max(running) + self.slow_after - now)

    def _startable_now(self, target: str) -> int:
        """How many sends of `target` may start together now, given that one may (_admits_in):
        up to `at_once` beside none running, else one."""
        running = len(self._running.get(target, ()))
        return min(self.per_target - running, max(1, self.at_once - running))

    def _take(self, now: float, waiting: dict[str, deque[Work]], at_once: int) -> tuple[Work | None, float]:
        """The next send of `waiting` (the threads' lines or the driver's, whose `at_once` is
        given) to start, or None and how long until one may (inf: none in sight)."""
        if self._open >= self.threads:
            return None, math.inf  # a thread finishing what it holds makes room
        soonest = math.inf
        for target, line in waiting.items():
            wait = self._admits_in(target, now, at_once)
            if wait == 0.0:
                work = line.popleft()
                del waiting[target]
                if line:
                    waiting[target] = line
                self._running.setdefault(target, []).append(now)
                self._open += 1
                return work, 0.0
            soonest = min(soonest, wait)
        return None, soonest

    def _serve(self) -> None:
        ran = False  # this thread has just run a send
        while True:
            handed = None
            with self._lock:
                while True:
                    if self._handed:
                        handed = self._handed.popleft()
                        work, now = handed[0], handed[3]
                        break
                    now = time.monotonic()
                    due = bool(self._later) and now - self._later_since >= self.finish_after
                    work, wait = (None, math.inf) if due else self._take(now, self._waiting, self.at_once)
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
                step = work.run() if handed is None else steps.run(handed[1], handed[2])
            except Exception:
                log.exception(
                    "a notification send failed unexpectedly", extra={"fields": {"target": work.target}}
                )
            finally:
                self._ended(work, now, step)

    def _drive(self, curl: Curl) -> None:
        """The curl driver: start the sends of its lines as they may start, make their requests
        through `curl`, resume each send with its answer, and finish last steps as `_serve`
        does (a send that hangs holds up nothing here either: its request just stays open).

        The driver finishes last steps itself (a Redis round trip for the notifier): its POSTs
        in flight wait meanwhile, as they wait for any other work of this thread."""
        while True:
            starts: list[tuple[Work, float]] = []
            later: list[Any] = []
            with self._lock:
                now = time.monotonic()
                while (work := self._take(now, self._curl_waiting, self.curl_at_once)[0]) is not None:
                    starts.append((work, now))
                due = bool(self._later) and now - self._later_since >= self.finish_after
                ended = self._drove and not starts  # the stream of sends that left them has ended
                self._drove = False
                if self._later and (due or ended or self._stopping or self._open >= self.threads):
                    later, self._later = self._later, []
            for work, started in starts:
                try:
                    begun = work.begin()
                except Exception:
                    log.exception(
                        "a notification send failed unexpectedly", extra={"fields": {"target": work.target}}
                    )
                    self._ended(work, started, None)
                    continue
                self._advance(curl, work, begun, started, None, None)
            if later:
                self._finish(later)
            with self._lock:
                wait = self._driver_wait(time.monotonic())
            try:
                answers = curl.wait(None if wait == math.inf else wait)
            except Exception:
                # Nothing it should raise; the sends it holds still end by their timeouts.
                log.exception("the curl driver's wait failed")
                time.sleep(_AFTER_FAILURE)
                continue
            for token, answer in answers:
                work, begun, started = token  # type: ignore[misc]
                if isinstance(answer, Exception):
                    self._advance(curl, work, begun, started, None, answer)
                else:
                    self._advance(curl, work, begun, started, answer, None)

    def _driver_wait(self, now: float) -> float:
        """How long the driver may wait for answers before it has something else to do: start
        a send, or finish last steps (the caller holds the lock). 0: at once; inf: no limit."""
        wait = math.inf
        if self._open < self.threads:
            for target in self._curl_waiting:
                wait = min(wait, self._admits_in(target, now, self.curl_at_once))
                if wait == 0.0:
                    return wait
        if self._later:
            if self._drove or self._stopping or self._open >= self.threads:
                return 0.0
            wait = min(wait, max(0.0, self._later_since + self.finish_after - now))
        return wait

    def _advance(
        self,
        curl: Curl,
        work: Work,
        begun: steps.Steps[Any],
        started: float,
        answer: Any,
        error: BaseException | None,
    ) -> None:
        """Resume a send the driver runs with its last request's answer (or `error`): its next
        request goes to `curl`, or to a thread when curl cannot make it; its end is `_ended`."""
        while True:
            try:
                request = begun.send(answer) if error is None else begun.throw(error)
            except StopIteration as end:
                self._ended(work, started, end.value)
                return
            except Exception:
                log.exception(
                    "a notification send failed unexpectedly", extra={"fields": {"target": work.target}}
                )
                self._ended(work, started, None)
                return
            try:
                if curl.add(request, (work, begun, started)):
                    return
            except ValueError as err:
                answer, error = None, err  # as `perform` would have raised it
                continue
            with self._lock:
                self._handed.append((work, begun, request, started))
                self._start_threads()
                self._cond.notify()
            return

    def _ended(self, work: Work, started: float, step: Any) -> None:
        """A send that started at `started` is over; `step` is its last step, if it left one."""
        with self._lock:
            running = self._running[work.target]
            running.remove(started)
            if not running:
                del self._running[work.target]
            if step is None:
                self._close(1)
            else:
                self._later.append(step)
                if len(self._later) == 1:
                    self._later_since = time.monotonic()
                    if threading.get_ident() != self._driver:
                        self._cond.notify()  # an idle thread keeps the time (the driver keeps its own)
            if threading.get_ident() == self._driver:
                self._drove = True
                if work.target in self._waiting:
                    self._cond.notify()  # a thread may start the target's next send now
            elif work.target in self._curl_waiting and self._curl is not None:
                self._curl.wake()  # the target's turn may have come (room frees in `_close`)

    def _finish(self, later: list[Any]) -> None:
        try:
            self.finish_many(later)
        except Exception:
            log.exception("finishing notification sends failed", extra={"fields": {"sends": len(later)}})
        finally:
            with self._lock:
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
        thread switch per notification. The curl driver is woken when room frees while its
        own sends wait, unless it is the caller."""
        full = self._open >= self.threads
        self._open -= sends
        if self._stopping:
            self._cond.notify_all()
            return
        if not full:
            return
        if self._curl_waiting and self._curl is not None and threading.get_ident() != self._driver:
            self._curl.wake()
        if self._waiting:
            now, startable, later = time.monotonic(), 0, False
            for target, line in self._waiting.items():
                wait = self._admits_in(target, now, self.at_once)
                if wait == 0.0:
                    startable += min(len(line), self._startable_now(target))
                elif wait != math.inf:
                    later = True
            # A thread calling starts (or times) one itself; the driver starts no thread's send.
            own = 0 if threading.get_ident() == self._driver else 1
            wake = min(sends, startable + int(later)) - own
            if wake > 0:
                self._cond.notify(wake)


_pools: weakref.WeakSet[SendPool] = weakref.WeakSet()


def _after_fork() -> None:
    for pool in list(_pools):
        pool._forked()


os.register_at_fork(after_in_child=_after_fork)
