"""Pausing Python's cyclic garbage collector around reads that build very large responses, and
keeping a process's start-up objects out of its full collections, and making a worker's young
collections less frequent.

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

# New objects between two young collections in a worker (collect_young_less_often).
YOUNG_THRESHOLD = 10_000

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


def collect_young_less_often() -> None:
    """Run the young collection after YOUNG_THRESHOLD new objects instead of Python's 700.

    A worker's flush batch makes a few dozen objects per notification that live until its sends
    are over: at 700, each young collection found many of them still alive and moved them on to
    the older generations, whose collections then walked them again. Fewer, larger young
    collections find most of them gone: 1.5 % fewer instructions per notification
    (bench/inprocess --what=notify --groups=2000 --callgrind, interleaved: 0.7718M and 0.7688M
    against 0.7877M and 0.7760M). A web worker's objects die with their request, and ingest
    measured no difference (3.99M-4.00M instructions per request either way), so only workers
    do this. Collections still come; garbage in a reference cycle waits longer, bounded by the
    count.
    """
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
