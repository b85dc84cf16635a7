"""The send pool: a target that hangs keeps at most its share of the threads, and stopping
gives back what has not started."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from app.notify.sendpool import SendPool
from tests.support.processes import wait_until


@dataclass(frozen=True)
class Work:
    """A send as the pool sees it (sendpool.Work), made of the test's own steps."""

    target: str
    run: Callable[[], Any]
    cancel: Callable[[], None]
    multi: bool = False  # on a thread (test_curldriver.py has the curl driver's)


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


def test_a_target_gets_its_at_once_sends_together_and_more_only_once_they_are_slow() -> None:
    pool = SendPool(threads=4, per_target=3, at_once=2, slow_after=1.0)
    release = threading.Event()
    started: list[str] = []
    pool.submit_many([Work("t", blocking(started, f"s{i}", release), lambda: None) for i in range(5)])
    wait_until(lambda: len(started) == 2, 10, message=f"not two at once: {started}")
    time.sleep(0.2)  # well within slow_after: the third must not have started
    assert len(started) == 2
    wait_until(lambda: len(started) == 3, 10, message=f"the slow target did not reach its cap: {started}")
    release.set()
    wait_until(lambda: len(started) == 5, 10)
    assert pool.drain(10)


def test_sends_that_run_one_after_another_are_finished_in_one_call() -> None:
    """A thread that has its next send at hand leaves the last step of the one before (the
    notifier's commit) for later, and the steps go to finish_many together."""
    calls: list[list[int]] = []
    pool = SendPool(threads=8, per_target=1, finish_many=calls.append, finish_after=60.0)
    gate = threading.Event()
    pool.submit_many([Work("t", lambda: gate.wait(10) and 0, lambda: None)])
    pool.submit_many([Work("t", lambda i=i: i, lambda: None) for i in range(1, 6)])
    gate.set()
    wait_until(lambda: sum(map(len, calls)) == 6, 10)
    # Usually one call. An idle thread woken to keep the time may take the next send between two
    # of the busy thread's (the target's one slot is free for an instant), which splits the run;
    # one call per send would mean no batching at all.
    assert [i for call in calls for i in call] == [0, 1, 2, 3, 4, 5]
    assert len(calls) < 6, calls
    assert pool.drain(10)


def test_sends_running_and_not_finished_never_exceed_the_threads() -> None:
    """What a kill may leave sent and not logged: at most `threads` sends, running or waiting for
    their last step."""
    open_most = 0
    running = 0
    finished: list[int] = []
    lock = threading.Lock()

    def run(i: int) -> int:
        nonlocal running, open_most
        with lock:
            running += 1
            open_most = max(open_most, running)
        return i

    def finish_many(steps: list[int]) -> None:
        nonlocal running
        with lock:
            running -= len(steps)
            finished.extend(steps)

    pool = SendPool(threads=3, per_target=1, finish_many=finish_many, finish_after=60.0)
    pool.submit_many([Work(f"t{i % 5}", lambda i=i: run(i), lambda: None) for i in range(40)])
    wait_until(lambda: len(finished) == 40, 10)
    assert sorted(finished) == list(range(40)) and open_most <= 3
    assert pool.drain(10)


def test_a_send_that_hangs_does_not_hold_up_the_steps_left_before_it() -> None:
    calls: list[list[str]] = []
    pool = SendPool(threads=2, per_target=1, finish_many=calls.append, finish_after=0.05)
    release = threading.Event()
    pool.submit_many(
        [Work("t", lambda: "sent", lambda: None), Work("t", lambda: release.wait(10) and None, lambda: None)]
    )
    wait_until(lambda: calls == [["sent"]], 5, message="the idle thread did not finish the step in time")
    release.set()
    assert pool.drain(10)


def test_drain_waits_for_the_steps_left() -> None:
    finishing = threading.Event()
    release = threading.Event()
    finished: list[list[str]] = []

    def finish_many(steps: list[str]) -> None:
        finishing.set()
        release.wait(10)
        finished.append(steps)

    pool = SendPool(threads=2, per_target=1, finish_many=finish_many)
    pool.submit_many([Work("t", lambda: "sent", lambda: None)])
    assert finishing.wait(10)
    assert not pool.drain(0.1)  # its commit is still under way
    release.set()
    assert pool.drain(10) and finished == [["sent"]]


@pytest.mark.parametrize(
    ("per_target", "at_once", "sends"),
    [
        (1, 1, [("b", "b"), ("c", "c")]),  # two targets' sends
        (2, 2, [("b", "b0"), ("b", "b1")]),  # one target's at_once sends, none of its running
    ],
)
def test_room_made_by_finished_steps_starts_every_send_it_can(
    per_target: int, at_once: int, sends: list[tuple[str, str]]
) -> None:
    """Threads shut out while the room was full are woken for each send the freed room lets
    through: here two sends that can only pass together, with a third send holding the last
    room."""
    finishing = threading.Event()
    commit = threading.Event()
    release = threading.Event()
    both = threading.Barrier(2, timeout=5)
    met: list[str] = []

    def finish_many(steps: list[str]) -> None:
        finishing.set()
        commit.wait(10)

    def meet(name: str) -> None:
        both.wait()
        met.append(name)

    # One send at a time first: one thread runs both of a's sends one after the other, then
    # holds their two steps in finish_many.
    pool = SendPool(threads=3, per_target=per_target, at_once=1, finish_many=finish_many, finish_after=60.0)
    pool.submit_many([Work("a", lambda: "a0", lambda: None), Work("a", lambda: "a1", lambda: None)])
    assert finishing.wait(10)
    pool.at_once = at_once
    pool.submit_many([Work("hold", lambda: release.wait(30) and None, lambda: None)])
    pool.submit_many([Work(target, lambda n=name: meet(n), lambda: None) for target, name in sends])
    time.sleep(0.2)  # the threads woken by the submission find the room full and wait again
    commit.set()  # frees two rooms: both sends must start, while "hold" keeps the third
    wait_until(lambda: sorted(met) == [name for _, name in sends], 10, message=f"only {met} passed")
    release.set()
    assert pool.drain(10)
