"""The one place alerter relies on RQ internals, and why.

alerter runs RQ workers in two ways RQ's public API does not cover:
- inside threads of the all-in-one process, where only the main thread may install signal
  handlers, so the worker's `_install_signal_handlers` is replaced with nothing; and
- in `alerter worker`, where SIGTERM must also tell the notifier to start no more sends, so the
  worker's `request_stop` (RQ's signal handler) is extended.
`WorkerLoop` (app/serve.py) restarts RQ's work loop after a Redis outage unless a stop was
requested, which RQ records only in `_shutdown_requested_date`.

These names are private to RQ, so pyproject.toml bounds RQ to the minor release they were
checked against, and tests/unit/test_rqcompat.py fails when an RQ release drops them. Widen the
bound only after re-checking them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty


class ThreadWorker(SimpleWorker):
    """An RQ worker that runs in a thread of the all-in-one process: no signal handlers (only
    the main thread may install them) and thread-safe job timeouts."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


class StoppingWorker(SimpleWorker):
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
