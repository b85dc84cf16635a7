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

Each thread keeps its own curl handle per transport (a handle is not thread-safe), and with it
the handle's kept-alive connections; a forked worker has its own transports (transport.py keys
them by process), so no socket is shared across a fork.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from functools import lru_cache

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
    """A thread's curl handle, what was last set on it, and the lists its callbacks fill.

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


# Longer than any send's timeout (about 24 days, the largest a curl long takes on every platform).
_NO_CONNECT_LIMIT = 2**31 - 1


class CurlSender:
    """POSTs for one transport setup; one curl handle (and its connections) per thread."""

    def __init__(self) -> None:
        self._local = threading.local()

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
        """POST `body` to the absolute http:// `url` with exactly `headers` (plus Host and
        Content-Length); `timeout` bounds the whole exchange. Raises CurlError when no answer
        came, ValueError for a header line http.client would refuse."""
        try:
            handle: _Handle = self._local.handle
        except AttributeError:
            handle = self._local.handle = _Handle()
        curl = handle.curl
        if url != handle.url:
            curl.setopt(pycurl.URL, url)
            handle.url = url
        items = tuple(headers.items())
        header_key = (items, len(body))
        if header_key != handle.header_key:
            lines = [_IDENTITY, b"Content-Length: %d" % len(body), *_header_lines(items)]
            curl.setopt(pycurl.HTTPHEADER, lines)
            handle.header_key = header_key
        millis = int(timeout * 1000)
        if millis < 1:
            millis = 1
        if millis != handle.millis:
            curl.setopt(pycurl.TIMEOUT_MS, millis)
            handle.millis = millis
        curl.setopt(pycurl.POSTFIELDS, body)
        heads, chunks = handle.heads, handle.chunks
        try:
            curl.perform()
            return Answer(curl.getinfo(pycurl.RESPONSE_CODE), heads[:], b"".join(chunks))
        except pycurl.error as err:
            raise _failure(curl, err) from None
        finally:
            heads.clear()
            chunks.clear()


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


def _failure(handle: pycurl.Curl, err: pycurl.error) -> CurlError:
    code, message = err.args
    errno = handle.getinfo(pycurl.OS_ERRNO)
    detail = os.strerror(errno) if errno else str(message)
    if code in _CONNECT_FAILURES:
        return CurlError("connect", detail)
    if code == pycurl.E_OPERATION_TIMEDOUT:
        # A request that got as far as being sent had its connection: the answer was late.
        sent = handle.getinfo(pycurl.PRETRANSFER_TIME) > 0
        return CurlError("read-timeout" if sent else "connect-timeout", detail)
    return CurlError("protocol", detail)
