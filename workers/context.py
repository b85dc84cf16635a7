"""The Runtime that RQ jobs of this process use; set once when a worker process starts."""

from __future__ import annotations

from app.runtime import Runtime

_current: Runtime | None = None


def set_runtime(runtime: Runtime) -> None:
    global _current
    _current = runtime


def runtime() -> Runtime:
    if _current is None:
        raise RuntimeError(
            "no alerter runtime in this process: start workers with `alerter worker`, not `rq worker`"
        )
    return _current
