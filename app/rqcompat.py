"""The one place alerter relies on RQ internals, and why.

alerter runs RQ workers in two ways RQ's public API does not cover:
- inside threads of the all-in-one process, where only the main thread may install signal
  handlers, so the worker's `_install_signal_handlers` is replaced with nothing; and
- in `alerter worker`, where SIGTERM must also tell the notifier to start no more sends, so the
  worker's `request_stop` (RQ's signal handler) is extended.
`WorkerLoop` (app/serve.py) restarts RQ's work loop after a Redis outage unless a stop was
requested, which RQ records only in `_shutdown_requested_date`.
Both worker classes also send RQ's worker bookkeeping in fewer round trips (`_FewerRoundTrips`,
through RQ's public `heartbeat` and `set_state`).

These names are private to RQ, so pyproject.toml bounds RQ to the minor release they were
checked against, and tests/unit/test_rqcompat.py fails when an RQ release drops them. Widen the
bound only after re-checking them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from redis.client import Pipeline
from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty

# A heartbeat that repeats, with the same TTL, one sent less than this many seconds before is
# not sent again: the worker's key would expire at most this much earlier than RQ meant.
HEARTBEAT_REPEAT = 1.0


class _FewerRoundTrips(SimpleWorker):
    """RQ's worker bookkeeping in fewer round trips; what Redis holds is RQ's.

    Around each job RQ's work loop sends three heartbeats of its own (an HSET and two EXPIREs,
    three round trips each) within a millisecond, two of them repeating the heartbeat its
    suspension check has just sent, and sets the state `idle` twice in a row: 9 of a flush job's
    27 round trips. Here a heartbeat goes in one pipelined round trip, one that repeats the last
    with the same TTL within HEARTBEAT_REPEAT is left out, and a state already set is not set
    again: 18 round trips and 7.0M instructions per job instead of 8.3M (callgrind, jobs of 200
    group ids run by a burst worker, their enqueueing included), besides the system CPU of the
    round trips, which callgrind does not count. A heartbeat with another TTL (after a job,
    whose heartbeats gave the key the job's timeout) is always sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._beat: tuple[int, float] | None = None  # the last heartbeat's TTL and when it went

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        timeout = timeout or self.worker_ttl + 60
        at = time.monotonic()
        if pipeline is not None:
            self._beat = (timeout, at)
            super().heartbeat(timeout, pipeline)
            return
        if self._beat is not None and self._beat[0] == timeout and at - self._beat[1] < HEARTBEAT_REPEAT:
            return
        self._beat = (timeout, at)
        with self.connection.pipeline(transaction=False) as pipe:
            super().heartbeat(timeout, pipe)
            pipe.execute()

    def set_state(self, state: str, pipeline: Pipeline | None = None) -> None:
        if pipeline is None and state == self.get_state():
            return
        super().set_state(state, pipeline)


class ThreadWorker(_FewerRoundTrips):
    """An RQ worker that runs in a thread of the all-in-one process: no signal handlers (only
    the main thread may install them) and thread-safe job timeouts."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


class StoppingWorker(_FewerRoundTrips):
    """RQ's worker for `alerter worker`: on SIGTERM/SIGINT it also calls `on_stop` (the notifier
    starts no more sends: those waiting are given back to the cluster as the process drains).
    `on_stop` runs in a signal handler, so it may only set a flag."""

    def __init__(self, *args: Any, on_stop: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_stop = on_stop

    def request_stop(self, signum: int, frame: Any) -> None:
        self.on_stop()
        super().request_stop(signum, frame)


def stop_requested(worker: SimpleWorker) -> bool:
    """Whether RQ's signal handler recorded a stop request (SIGTERM/SIGINT) for this worker."""
    return worker._shutdown_requested_date is not None
