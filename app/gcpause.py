"""Pausing Python's cyclic garbage collector around reads that build very large responses, and
keeping a process's start-up objects out of its full collections.

Listing 100,000 alerts allocates millions of dicts and strings, none of them in reference cycles,
and the collector's full passes over them doubled the time of `GET /api/v2/alerts` (2.9 s with
it, 1.4 s without, in-process). Reference counting still frees everything; only the cycle
search waits until the read is done. Several threads of one web process may read at once, so
the collector comes back when the last of them finishes.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_readers = 0


@contextmanager
def gc_paused() -> Iterator[None]:
    global _readers
    with _lock:
        # A collector that was already off is someone else's choice: leave it alone.
        counted = _readers > 0 or gc.isenabled()
        if counted:
            if _readers == 0:
                gc.disable()
            _readers += 1
    try:
        yield
    finally:
        if counted:
            with _lock:
                _readers -= 1
                if _readers == 0:
                    gc.enable()


def freeze_startup_objects() -> None:
    """Leave every object made so far (the imported modules, classes and functions: about 60,000
    in a worker) out of all later collections.

    A worker's flush batch keeps its objects (groups, tasks, messages, leases) alive while its
    sends run, across several young collections, so they reach the oldest generation, and every
    tenth collection of the middle one then walks the whole heap: with the start-up objects in
    it, those full collections took about a fifth of a worker's CPU (bench/inprocess --what=notify
    --groups=10000: 459 ms of 2.2 s; 157-163 ms of 1.95 s with them frozen). Frozen objects are
    still freed by reference counting; only garbage in a reference cycle among them would be
    kept, and modules live as long as the process. Called before the config is loaded, so that
    the objects of a config replaced by a reload stay collectable.
    """
    gc.freeze()
