"""Plain-HTTP POSTs through libcurl (pycurl): the cheap path for the notifications of a worker.

A notification is usually one POST of a small, already encoded JSON body over a kept-alive
connection to a receiver on plain http:// with no proxy in between. urllib3 and http.client
spend about 120 us of Python CPU on such a request on the 2-core machine kind (building and
validating the headers, parsing the answer's headers with the email package, two `Timeout`
objects, reading the body twice), libcurl about 12 us, and it releases the interpreter lock
while it waits, so the other send threads and the flush job keep running
(docs/performance.md, "libcurl for plain-HTTP sends").

transport.py sends only that case here: a POST with a body, straight to an http:// host. TLS,
proxies and every other method stay on urllib3, whose handling of `tls_config` and proxies the
rest of the transport is built on. The request on the wire is the one urllib3 sends: the same
header lines (with `Accept-Encoding: identity`, and none of curl's own `Accept` or `Expect`),
HTTP/1.1, no proxy whatever the environment says (curl would read `http_proxy` by itself), no
redirects followed (transport.py follows them by Go's rules), and header values with line breaks
refused as http.client refuses them, so that a credentials file cannot inject header lines.

A POST is a `CurlPost`, which a send's steps yield (app/notify/steps.py). A send thread makes
it on a curl handle of its own (a handle is not thread-safe), which keeps its kept-alive
connections; the send pool's curl driver makes many at once on a `CurlMulti`, whose handles share
the multi handle's connections. A forked child forgets its parent's handles (and the send pool
its curl driver), so no socket is shared across a fork.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import threading
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple

import pycurl
import urllib3

# curl's own request headers that urllib3 does not send, removed with an empty value, and the
# one urllib3 sends that curl does not (with Content-Length, in urllib3's order).
_NOT_SENT = (b"Accept:", b"Expect:")
_IDENTITY = b"Accept-Encoding: identity"

_CONNECT_FAILURES = frozenset(
    (pycurl.E_COULDNT_CONNECT, pycurl.E_COULDNT_RESOLVE_HOST, pycurl.E_COULDNT_RESOLVE_PROXY)
)


class Answer:
    """The answer, with the attribute names of urllib3's response that transport.py reads. Its
    header lines are parsed when `headers` is first read (a notification's answer usually has
    only its status looked at)."""

    __slots__ = ("_headers", "_lines", "data", "status")

    def __init__(self, status: int, lines: list[bytes], data: bytes) -> None:
        self.status = status
        self.data = data
        self._lines = lines
        self._headers: urllib3.HTTPHeaderDict | None = None

    @property
    def headers(self) -> urllib3.HTTPHeaderDict:
        if self._headers is None:
            self._headers = _header_dict(self._lines)
        return self._headers


class CurlError(Exception):
    """A request that got no answer. `kind` is one of transport.py's failure classes:
    "connect" (refused, unreachable, name not resolved), "connect-timeout", "read-timeout" or
    "protocol" (the connection broke or the answer was not HTTP); `detail` is what the system or
    curl said, without the URL."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(kind, detail)
        self.kind = kind
        self.detail = detail


class _Handle:
    """A curl handle, what was last set on it, and the lists its callbacks fill.

    An option is set again only when it changes: setting the seven per-POST options cost about
    14,000 instructions of a 115,000-instruction POST (pycurl parses its arguments, copies the
    header list into a new curl_slist and looks up a write method at every call). The callbacks
    are bound once, to these lists, which every POST empties again."""

    __slots__ = ("chunks", "curl", "header_key", "heads", "millis", "url")

    def __init__(self) -> None:
        self.curl = curl = pycurl.Curl()
        curl.setopt(pycurl.NOSIGNAL, 1)  # timeouts without SIGALRM: threads send
        curl.setopt(pycurl.PROXY, "")  # direct, whatever http_proxy says
        curl.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP)
        curl.setopt(pycurl.PATH_AS_IS, 1)  # urllib3 already normalised the path
        curl.setopt(pycurl.FOLLOWLOCATION, 0)
        # The whole exchange, connecting included, is bounded by TIMEOUT_MS alone (set per POST,
        # as it changes with what is left of the flush): curl stops a connect at the earlier of
        # the two timeouts, so a connect timeout beyond any send's one is the same as setting it
        # to TIMEOUT_MS at every POST, without the setopt (curl's default would be 300 s).
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, _NO_CONNECT_LIMIT)
        self.chunks: list[bytes] = []
        self.heads: list[bytes] = []
        curl.setopt(pycurl.WRITEFUNCTION, self.chunks.append)
        curl.setopt(pycurl.HEADERFUNCTION, self.heads.append)
        self.url = ""
        self.header_key: tuple[tuple[tuple[str, str], ...], int] | None = None
        self.millis = 0

    def prepare(self, post: CurlPost) -> None:
        """Set what `post` needs that differs from the handle's last POST. Raises ValueError for
        a header line http.client would refuse."""
        curl = self.curl
        url, body = post.url, post.body
        if url != self.url:
            curl.setopt(pycurl.URL, url)
            self.url = url
        items = tuple(post.headers.items())
        header_key = (items, len(body))
        if header_key != self.header_key:
            lines = [_IDENTITY, b"Content-Length: %d" % len(body), *_header_lines(items)]
            curl.setopt(pycurl.HTTPHEADER, lines)
            self.header_key = header_key
        millis = int(post.timeout * 1000)
        if millis < 1:
            millis = 1
        if millis != self.millis:
            curl.setopt(pycurl.TIMEOUT_MS, millis)
            self.millis = millis
        curl.setopt(pycurl.POSTFIELDS, body)

    def answer(self) -> Answer:
        """The answer of the POST just made; the lists are emptied for the next."""
        heads, chunks = self.heads, self.chunks
        answer = Answer(self.curl.getinfo(pycurl.RESPONSE_CODE), heads[:], b"".join(chunks))
        heads.clear()
        chunks.clear()
        return answer

    def failure(self, code: int, message: str) -> CurlError:
        """Why the POST just made got no answer (curl's error `code`)."""
        self.heads.clear()
        self.chunks.clear()
        return _failure(self.curl, code, message)


# Longer than any send's timeout (about 24 days, the largest a curl long takes on every platform).
_NO_CONNECT_LIMIT = 2**31 - 1

# Each thread's handle for `CurlPost.perform` (a handle is not thread-safe), and with it its
# kept-alive connections. A forked child starts without: its parent's sockets are not its own.
_local = threading.local()


def _forget_handles() -> None:
    global _local
    _local = threading.local()


os.register_at_fork(after_in_child=_forget_handles)


class CurlPost(NamedTuple):
    """A POST of `body` to the absolute http:// `url` with exactly `headers` (plus Host and
    Content-Length); `timeout` bounds the whole exchange. A send's steps yield it
    (app/notify/steps.py): `perform` makes it on the calling thread, a `CurlMulti` among others."""

    url: str
    body: bytes
    headers: Mapping[str, str]
    timeout: float

    def perform(self) -> Answer:
        """Make the POST on this thread's handle. Raises CurlError when no answer came,
        ValueError for a header line http.client would refuse."""
        try:
            handle: _Handle = _local.handle
        except AttributeError:
            handle = _local.handle = _Handle()
        handle.prepare(self)
        try:
            handle.curl.perform()
        except pycurl.error as err:
            raise handle.failure(*err.args) from None
        return handle.answer()


# Whether this libcurl resolves host names without blocking (a resolver thread or c-ares). A
# multi handle on a libcurl that resolves them in the calling thread would hold up the curl
# driver, and every send it has in flight, for as long as a slow DNS server takes to answer;
# the send pool then sends on its threads only.
MULTI_SAFE = bool(pycurl.version_info()[4] & pycurl.VERSION_ASYNCHDNS)


class CurlMulti:
    """Many `CurlPost`s in progress at once, all driven by the one thread that calls `wait`.

    Sends on threads that each block in `perform` cost a worker about six futex calls and six
    context switches per notification, handing the interpreter lock, the sends and their commits
    between threads; here one thread starts every POST it is given, and one `poll` waits for
    whichever answers first (docs/performance.md, "Tenth session"). libcurl's socket interface
    (`socket_action`) tells which sockets to watch, so the poll is over those sockets and a pipe
    that `wake` writes to, which other threads use to hand over more work. The multi handle
    keeps the kept-alive connections of every handle added to it; finished handles are kept for
    the next POSTs, with the options they had (`_Handle.prepare`).

    Not thread-safe, but for `wake`. A process makes its own (a forked child must not share its
    parent's sockets).
    """

    def __init__(self) -> None:
        self._multi = multi = pycurl.CurlMulti()
        multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._poll = select.poll()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._poll.register(self._wake_read, select.POLLIN)
        self._free: list[_Handle] = []
        self._busy: dict[pycurl.Curl, tuple[_Handle, object]] = {}
        self._timer_at: float | None = None  # when curl wants socket_action(SOCKET_TIMEOUT)

    def add(self, request: object, token: object) -> bool:
        """Start `request` if it is a CurlPost (False: it is not, nothing is started); `wait`
        returns its outcome with `token`. Raises ValueError for a header line http.client would
        refuse (nothing is started then)."""
        if type(request) is not CurlPost:
            return False
        handle = self._free.pop() if self._free else _Handle()
        try:
            handle.prepare(request)
        except ValueError:
            self._free.append(handle)
            raise
        self._busy[handle.curl] = (handle, token)
        self._multi.add_handle(handle.curl)
        return True

    def wait(self, timeout: float | None) -> list[tuple[object, Answer | CurlError]]:
        """Wait until a socket is ready, `wake` is called, curl's timer is due or `timeout`
        seconds (None: no limit) have passed; then move the POSTs on and return those that
        ended, with their tokens: an Answer, or a CurlError for a POST that got none."""
        multi = self._multi
        # Due already (curl asks for 0 ms after each add): POSTs just added go out now, and the
        # poll below waits for their answers, rather than returning at once first.
        if self._run_due_timer() and (ended := self._ended()):
            return ended
        timer_at = self._timer_at
        if timer_at is not None:
            left = timer_at - time.monotonic()
            timeout = left if timeout is None or left < timeout else timeout
        millis = -1 if timeout is None else math.ceil(timeout * 1000) if timeout > 0 else 0
        for fd, events in self._poll.poll(millis):
            if fd == self._wake_read:
                with contextlib.suppress(BlockingIOError):
                    os.read(fd, 512)
                continue
            if events & select.POLLNVAL:  # closed without curl saying so: nothing to watch
                self._poll.unregister(fd)
                continue
            mask = 0
            if events & _READABLE:
                mask |= pycurl.CSELECT_IN
            if events & select.POLLOUT:
                mask |= pycurl.CSELECT_OUT
            if events & select.POLLERR:
                mask |= pycurl.CSELECT_ERR
            multi.socket_action(fd, mask)
        self._run_due_timer()
        return self._ended()

    def _run_due_timer(self) -> bool:
        """Tell curl its timer has fired if it is due (its timeouts, a POST just added)."""
        timer_at = self._timer_at
        if timer_at is None or timer_at > time.monotonic():
            return False
        self._timer_at = None
        self._multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
        return True

    def wake(self) -> None:
        """Make a `wait` in progress (or the next) return; from any thread."""
        with contextlib.suppress(BlockingIOError):  # the pipe is full: a wake-up is pending
            os.write(self._wake_write, b"w")

    def close(self) -> None:
        for curl in list(self._busy):
            self._multi.remove_handle(curl)
        self._busy.clear()
        self._multi.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _ended(self) -> list[tuple[object, Answer | CurlError]]:
        ended: list[tuple[object, Answer | CurlError]] = []
        multi, busy = self._multi, self._busy
        while True:
            queued, ok, failed = multi.info_read()
            for curl in ok:
                handle, token = busy.pop(curl)
                multi.remove_handle(curl)
                ended.append((token, handle.answer()))
                self._free.append(handle)
            for curl, code, message in failed:
                handle, token = busy.pop(curl)
                multi.remove_handle(curl)
                ended.append((token, handle.failure(code, message)))
                self._free.append(handle)
            if not queued:
                return ended

    def _on_socket(self, what: int, fd: int, multi: pycurl.CurlMulti, data: object) -> None:
        # Called about twice per POST (its socket watched, then removed as its transfer ends):
        # try/except rather than contextlib.suppress, which costs an object and two Python
        # calls (0.87-0.94 us against 0.16 us for a register and unregister, timeit).
        if what == _POLL_REMOVE:
            try:  # noqa: SIM105
                self._poll.unregister(fd)
            except KeyError:
                pass
        else:
            self._poll.register(fd, _POLL_EVENTS[what])

    def _on_timer(self, millis: int) -> None:
        if millis > 0:
            self._timer_at = time.monotonic() + millis / 1000
        else:
            # 0 (due now: curl asks so after every add) is any time past, no clock read needed.
            self._timer_at = None if millis < 0 else 0.0


_READABLE = select.POLLIN | select.POLLHUP
_POLL_REMOVE = pycurl.POLL_REMOVE
_POLL_EVENTS = {
    pycurl.POLL_IN: select.POLLIN,
    pycurl.POLL_OUT: select.POLLOUT,
    pycurl.POLL_INOUT: select.POLLIN | select.POLLOUT,
}


@lru_cache(maxsize=256)
def _header_lines(headers: tuple[tuple[str, str], ...]) -> tuple[bytes, ...]:
    """The request's header lines after Content-Length, for its (name, value) headers.

    Cached: a receiver's sends repeat the same few header sets (credentials read from a file
    change only when the file does), and checking and encoding them at every send was a tenth
    of the Python CPU of a libcurl POST."""
    lines = list(_NOT_SENT)
    has_type = False
    for name, value in headers:
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name or "\0" in value:
            raise ValueError(f"invalid header value for {name}")
        # "Name:" would tell curl to leave the header out; "Name;" sends it empty. Latin-1, as
        # http.client encodes header lines (pycurl would take ASCII only).
        lines.append((f"{name}: {value}" if value else f"{name};").encode("latin-1"))
        has_type = has_type or name.lower() == "content-type"
    if not has_type:
        lines.append(b"Content-Type:")  # curl would add a form type to a POST
    return tuple(lines)


def _header_dict(lines: list[bytes]) -> urllib3.HTTPHeaderDict:
    """The final answer's header fields: those after the last status line (an informational
    1xx answer's come before it)."""
    start = 0
    for i, raw in enumerate(lines):
        if raw.startswith(b"HTTP/"):
            start = i + 1
    headers = urllib3.HTTPHeaderDict()
    for raw in lines[start:]:
        name, sep, value = raw.decode("latin-1").partition(":")
        if sep:
            headers.add(name.strip(), value.strip())
    return headers


def _failure(handle: pycurl.Curl, code: int, message: str) -> CurlError:
    errno = handle.getinfo(pycurl.OS_ERRNO)
    detail = os.strerror(errno) if errno else str(message)
    if code in _CONNECT_FAILURES:
        return CurlError("connect", detail)
    if code == pycurl.E_OPERATION_TIMEDOUT:
        # A request that got as far as being sent had its connection: the answer was late.
        sent = handle.getinfo(pycurl.PRETRANSFER_TIME) > 0
        return CurlError("read-timeout" if sent else "connect-timeout", detail)
    return CurlError("protocol", detail)
