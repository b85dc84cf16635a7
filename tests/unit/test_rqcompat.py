"""The RQ internals app/rqcompat.py relies on are still there in the RQ that is installed."""

from __future__ import annotations

import inspect

import fakeredis
import pytest
from rq import SimpleWorker
from rq.exceptions import StopRequested

from app import rqcompat


def test_rq_still_has_the_private_names_alerter_relies_on() -> None:
    assert callable(SimpleWorker._install_signal_handlers)
    assert list(inspect.signature(SimpleWorker.request_stop).parameters) == ["self", "signum", "frame"]
    worker = SimpleWorker(["q"], connection=fakeredis.FakeRedis())
    assert rqcompat.stop_requested(worker) is False


def test_a_stop_request_is_seen_and_calls_on_stop() -> None:
    stopped: list[bool] = []
    worker = rqcompat.StoppingWorker(
        ["q"], connection=fakeredis.FakeRedis(), on_stop=lambda: stopped.append(True)
    )
    # An idle worker leaves its work loop by RQ's StopRequested, after recording the request.
    with pytest.raises(StopRequested):
        worker.request_stop(15, None)
    assert stopped == [True]
    assert rqcompat.stop_requested(worker) is True
