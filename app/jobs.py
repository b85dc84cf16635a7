"""The RQ jobs alerter queues, by name, and the runtime those jobs run against.

RQ imports a job's function from its dotted path when a worker runs it, so alerter names its
job functions (in the top-level `workers` package) by string here and never imports them: the
imports go one way, `workers` -> `app`. A worker process binds its runtime here before it takes
jobs (`bind_runtime`), and each job fetches it with `bound_runtime()`: RQ calls a job with its
queued arguments only, and a Redis client or a loaded config cannot be queued.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.runtime import Runtime

QUEUE_NAME = "alerter"

# Flush a batch of aggregation groups whose timers fired: workers/flush.py.
FLUSH_GROUPS = "workers.flush.flush_groups"
# The periodic sweep (maintenance at the intervals of the flags): workers/housekeeping.py.
HOUSEKEEPING_SWEEP = "workers.housekeeping.sweep"

_bound: Runtime | None = None


def bind_runtime(runtime: Runtime) -> None:
    """Make `runtime` the one this process's RQ jobs use (set once as a worker starts)."""
    global _bound
    _bound = runtime


def bound_runtime() -> Runtime:
    if _bound is None:
        raise RuntimeError(
            "no alerter runtime in this process: start workers with `alerter worker`, not `rq worker`"
        )
    return _bound
