"""gc_paused: the collector is off while any large read runs and back on after the last one; the
start-up objects of workers (RQ and web) are frozen out of later collections."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

from app.gcpause import YOUNG_THRESHOLD, collect_young_less_often, freeze_startup_objects, gc_paused
from app.serve import _Gunicorn
from app.settings import Settings


def test_collector_comes_back_when_the_last_of_overlapping_reads_ends() -> None:
    assert gc.isenabled()
    first_in, first_may_end = threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with gc_paused():
            first_in.set()
            first_may_end.wait(5)
            seen.append(gc.isenabled())

    t = threading.Thread(target=first)
    t.start()
    assert first_in.wait(5)
    with gc_paused():
        seen.append(gc.isenabled())
    seen.append(gc.isenabled())  # the first read is still running
    first_may_end.set()
    t.join(5)
    assert seen == [False, False, False]
    assert gc.isenabled()


def test_a_collector_switched_off_by_someone_else_stays_off() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_start_up_objects_are_left_out_of_later_collections() -> None:
    before = gc.get_freeze_count()
    startup = [[] for _ in range(10)]  # tracked objects, made "at start"
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() >= before + len(startup)
        assert not any(o is startup[0] for o in gc.get_objects())  # no collection looks at it
        later: list[object] = []
        assert any(o is later for o in gc.get_objects())  # objects made afterwards: as before
    finally:
        gc.unfreeze()


def test_each_web_worker_freezes_its_start_up_objects_once_its_app_is_built(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text("route:\n  receiver: r\nreceivers:\n  - name: r\n")
    server = _Gunicorn(Settings(config_file=str(config), listen_addresses=["127.0.0.1:0"]))
    before = gc.get_freeze_count()
    try:
        server.cfg.post_worker_init(None)  # gunicorn calls it in the worker, after load()
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


def test_a_worker_collects_its_young_objects_less_often() -> None:
    before = gc.get_threshold()
    try:
        collect_young_less_often()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        assert before[0] < YOUNG_THRESHOLD
    finally:
        gc.set_threshold(*before)
