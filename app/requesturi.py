"""The `uri` format of Alertmanager's API: what Go's url.ParseRequestURI takes.

Alertmanager's generated server checks an alert's non-empty `generatorURL` with go-openapi's
`uri` format, which is Go's ParseRequestURI (as Go 1.19 parses, the Go of Debian's Alertmanager
0.25): an absolute URI (`scheme:...`) or an absolute path, no control characters, valid `%`
escapes in the path, a host of allowed characters with a numeric port, a valid userinfo. Python's
urllib checks none of this, so a URL Alertmanager answers 422 to would be stored and handed to
every receiver as a link. A leaf: it imports nothing from alerter.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HOST_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
# ASCII that Go's url package lets into a host name unescaped; bytes above 0x7f pass too.
_HOST_CHARS = frozenset(string.ascii_letters + string.digits + "-_.~!$&'()*+,;=:[]<>\"")
_NOT_HOST_CHAR = re.compile(r"[^-A-Za-z0-9_.~!$&'()*+,;=:\[\]<>\"%\x80-\U0010ffff]")
_USERINFO = re.compile(r"[A-Za-z0-9\-._:~!$&'()*+,;=%@]*")
_PORT = re.compile(r"(:[0-9]*)?")


@lru_cache(maxsize=4096)
def request_uri_error(text: str) -> str | None:
    """Why Go's url.ParseRequestURI refuses `text`, or None when it takes it.

    Cached: every alert Prometheus sends has a generatorURL, the same one for all the alerts of a
    rule, and ingest checks each.
    """
    if _CONTROL.search(text):
        return "invalid control character in URL"
    if text in ("", "*"):
        return "empty url" if not text else None
    scheme, rest = "", text
    if text[0] == ":":
        return "missing protocol scheme"
    if m := _SCHEME.match(text):
        scheme, rest = m[1], text[m.end() :]
    rest = rest.partition("?")[0]
    if not rest.startswith("/"):
        return None if scheme else "invalid URI for request"
    if scheme and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        problem = _authority_error(authority)
        if problem:
            return problem
    return _escape_error(rest)


def _authority_error(authority: str) -> str | None:
    userinfo, at, host = authority.rpartition("@")
    problem = _host_error(host)
    if problem or not at:
        return problem
    if not _USERINFO.fullmatch(userinfo):
        return "invalid userinfo"
    return _escape_error(userinfo)


def _escape_error(text: str) -> str | None:
    """Go's complaint about the first `%` not followed by two hex digits, if any."""
    bad = _BAD_ESCAPE.search(text)
    return f"invalid URL escape {text[bad.start() : bad.start() + 3]!r}" if bad else None


def _host_error(host: str) -> str | None:
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0:
            return "missing ']' in host"
        port = host[end + 1 :]
    else:
        end = -1
        port = host[host.rfind(":") :] if ":" in host else ""
    if not _PORT.fullmatch(port):
        return f"invalid port {port!r} after host"
    zone = host.find("%25", 0, end) if end > 0 else -1
    if zone >= 0:  # an IPv6 zone (RFC 6874): "[fe80::1%25eth0]"
        return _host_chars_error(host[:zone] + host[end:]) or _host_chars_error(host[zone:end], zone=True)
    return _host_chars_error(host)


def _host_chars_error(host: str, zone: bool = False) -> str | None:
    """Go lets a host escape only bytes above 0x7f (and `%25`); a zone may also escape a space
    or any character a host may hold."""
    if problem := _escape_error(host):
        return problem
    for m in _HOST_ESCAPE.finditer(host):
        byte = chr(int(m[1], 16))
        allowed = byte >= "\x80" or (zone and (byte == " " or byte in _HOST_CHARS))
        if m[0] != "%25" and not allowed:
            return f"invalid URL escape {m[0]!r}"
    if bad := _NOT_HOST_CHAR.search(host):
        return f"invalid character {bad[0]!r} in host name"
    return None
