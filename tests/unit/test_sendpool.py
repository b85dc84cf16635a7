"""The send pool: a target that hangs keeps at most its share of the threads, and stopping
gives back what has not started."""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.notify.sendpool import SendPool, Work
from tests.support.processes import wait_until


def blocking(started: list[str], name: str, release: threading.Event) -> Callable[[], None]:
    def run() -> None:
        started.append(name)
        release.wait(10)

    return run


def test_a_hanging_target_keeps_its_share_and_others_pass() -> None:
    pool = SendPool(threads=4, per_target=2)
    release = threading.Event()
    started: list[str] = []
    for i in range(5):
        pool.submit_many([Work("hanging", blocking(started, f"h{i}", release), lambda: None)])
    done = threading.Event()
    pool.submit_many([Work("healthy", done.set, lambda: None)])
    assert done.wait(10), "the healthy target's send waited behind the hanging one"
    wait_until(lambda: len(started) == 2, 10)
    assert sorted(started) == ["h0", "h1"]  # the other three wait for a slot of their target
    release.set()
    wait_until(lambda: len(started) == 5, 10, message=f"only {started} ran")
    assert pool.drain(10)


def test_targets_take_turns_when_every_thread_is_busy() -> None:
    pool = SendPool(threads=1, per_target=1)
    gate = threading.Event()
    order: list[str] = []
    pool.submit_many([Work("a", blocking(order, "a0", gate), lambda: None)])
    wait_until(lambda: order == ["a0"], 10)
    for name in ("a1", "a2", "b1"):
        pool.submit_many([Work(name[0], lambda n=name: order.append(n), lambda: None)])
    gate.set()
    wait_until(lambda: len(order) == 4, 10)
    assert order == ["a0", "a1", "b1", "a2"]  # b's first send comes before a's third


def test_drain_cancels_what_waits_and_waits_for_what_runs() -> None:
    pool = SendPool(threads=2, per_target=1)
    release = threading.Event()
    started: list[str] = []
    cancelled: list[str] = []
    pool.submit_many([Work("t", blocking(started, "running", release), lambda: cancelled.append("running"))])
    pool.submit_many([Work("t", blocking(started, "waiting", release), lambda: cancelled.append("waiting"))])
    wait_until(lambda: started == ["running"], 10)
    assert not pool.drain(0.1)  # still running
    assert cancelled == ["waiting"]
    release.set()
    assert pool.drain(10)
    pool.submit_many([Work("t", blocking(started, "late", release), lambda: cancelled.append("late"))])
    assert cancelled == ["waiting", "late"] and started == ["running"]


def test_a_target_gets_another_send_only_once_its_running_ones_are_slow() -> None:
    """One send at a time while the target answers; more, up to its cap, once they all hang."""
    pool = SendPool(threads=4, per_target=3, slow_after=1.0)
    release = threading.Event()
    started: list[str] = []
    pool.submit_many([Work("slow", blocking(started, f"s{i}", release), lambda: None) for i in range(5)])
    wait_until(lambda: len(started) == 1, 10)
    assert len(started) == 1  # the first has not yet run 1 s: the others wait
    wait_until(lambda: len(started) == 3, 10, message=f"the slow target did not reach its cap: {started}")
    release.set()
    wait_until(lambda: len(started) == 5, 10)
    assert pool.drain(10)
