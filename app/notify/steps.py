"""A send written as a generator of the requests it makes: the same code runs on a thread that
makes each request itself, or on the send pool's curl driver, which makes many at once.

A send's generator yields each request it needs (an object with `perform()`) and is resumed
with its answer, or has the request's exception thrown into it; what it returns is the send's
result. `run` makes the requests one after the other on the calling thread, as a plain function
call would: the integrations' plain senders and `transport.request` are `run` of their steps.
The curl driver (app/notify/sendpool.py) hands the requests it can make (plain-HTTP POSTs,
app/notify/curlhttp.py) to one curl multi handle, so that a flush batch's sends progress in one
thread, and passes any other to a send thread, which finishes the send with `run`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Request(Protocol):
    """A request a send waits for; `perform` makes it on the calling thread."""

    def perform(self) -> Any: ...


Steps = Generator[Request, Any, T]


def run(steps: Steps[T], first: Request | None = None) -> T:
    """Make the requests `steps` yields, one after the other on this thread, and return its
    result. `first`: a request it yielded already (a send the curl driver passes on)."""
    try:
        request = steps.send(None) if first is None else first
        while True:
            try:
                answer = request.perform()
            except Exception as err:
                request = steps.throw(err)
            else:
                request = steps.send(answer)
    except StopIteration as end:
        return end.value  # type: ignore[no-any-return]
