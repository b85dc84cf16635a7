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


def test_heartbeats_repeated_within_a_second_are_left_out_and_a_new_ttl_always_goes() -> None:
    client = fakeredis.FakeRedis()
    worker = rqcompat.StoppingWorker(["q"], connection=client, on_stop=lambda: None)
    client.hset(worker.key, "state", "x")
    worker.heartbeat()
    assert client.ttl(worker.key) == worker.worker_ttl + 60
    client.expire(worker.key, 5)
    worker.heartbeat()  # the same TTL a moment later: not sent again
    assert client.ttl(worker.key) == 5
    worker.heartbeat(3660)  # a job's TTL (RQ gives it through a pipeline or not): sent
    assert client.ttl(worker.key) == 3660
    worker.heartbeat()  # back to the worker's own TTL after the job: sent
    assert client.ttl(worker.key) == worker.worker_ttl + 60


def test_a_state_already_set_is_not_set_again() -> None:
    client = fakeredis.FakeRedis()
    worker = rqcompat.StoppingWorker(["q"], connection=client, on_stop=lambda: None)
    worker.set_state("idle")
    assert client.hget(worker.key, "state") == b"idle"
    client.hset(worker.key, "state", "changed behind its back")
    worker.set_state("idle")
    assert client.hget(worker.key, "state") == b"changed behind its back"
    worker.set_state("busy")
    assert client.hget(worker.key, "state") == b"busy"
