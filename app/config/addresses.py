"""URLs and `host:port` addresses, checked with the wording of Go's url.Parse and net.SplitHostPort.

Shared by the global section, webhooks and email smarthosts. URL errors deliberately give the
reason without the URL: Go quotes the whole URL, which may hold a token.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from yaml.nodes import Node

from app.config.model import SECRET, ConfigError
from app.config.reader import Reader, fail_on
from app.gostrings import go_quote
from app.gotemplate import ParseError, parse

_HOST_PUNCTUATION = frozenset("-._~!$&'()*+,;=[]<>\"%:")


def _host_problem(host: str) -> str | None:
    """Go's url.Parse checks of the host part: allowed characters and a numeric port."""
    name, port = host, ""
    if host.startswith("[") and "]" in host:
        name, port = host[: host.index("]") + 1], host[host.index("]") + 1 :]
    elif ":" in host:
        name, _, rest = host.rpartition(":")
        port = ":" + rest
    bad = next((c for c in name if c.isascii() and not c.isalnum() and c not in _HOST_PUNCTUATION), None)
    if bad is not None:
        return f"invalid character {go_quote(bad)} in host name"
    if port and (not port.startswith(":") or not port[1:].isdigit()):
        return f"invalid port {go_quote(port)} after host"
    return None


def url_problem(text: str) -> str | None:
    """Why Alertmanager's ParseURL refuses a URL (http/https with a host), without echoing it.

    Go's own messages quote the whole URL, which may hold a token, so only the reason is kept.
    """
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return "net/url: invalid control character in URL"
    try:
        parts = urlsplit(text)
    except ValueError:
        return "invalid URL syntax"
    host = parts.netloc.rpartition("@")[2]
    if problem := _host_problem(host):
        return problem
    if parts.scheme not in ("http", "https"):
        return f"unsupported scheme {go_quote(parts.scheme)} for URL"
    if not host:
        return "missing host for URL"
    return None


def url(r: Reader, node: Node) -> str:
    text = r.string(node)
    fail_on(url_problem(text) if text else None)
    return text


def secret_url(r: Reader, node: Node) -> str:
    text = r.string(node)
    fail_on(url_problem(text) if text and text != SECRET else None)
    return text


def template_url(r: Reader, node: Node) -> str:
    """A webhook URL: a templated one must parse as a template (it is rendered at every send),
    a plain one as a URL (Alertmanager's SecretTemplateURL)."""
    text = r.string(node)
    if not text or text == SECRET:
        return text
    if "{{" in text:
        try:
            parse("", text)
        except ParseError as err:
            raise ConfigError(f"invalid template syntax: {err}") from None
        return text
    problem = url_problem(text)
    fail_on(f"invalid URL: {problem}" if problem else None)
    return text


def _split_host_port(text: str) -> tuple[str, str]:
    """Go's net.SplitHostPort, with its error wording."""

    def fail(why: str) -> ConfigError:
        return ConfigError(f"address {text}: {why}")

    colon = text.rfind(":")
    if colon < 0:
        raise fail("missing port in address")
    start, after = 0, 0
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise fail("missing ']' in address")
        if end + 1 != colon:
            raise fail(
                "too many colons in address" if text[end + 1 : end + 2] == ":" else "missing port in address"
            )
        host, start, after = text[1:end], 1, end + 1
    else:
        host = text[:colon]
        if ":" in host:
            raise fail("too many colons in address")
    if "[" in text[start:]:
        raise fail("unexpected '[' in address")
    if "]" in text[after:]:
        raise fail("unexpected ']' in address")
    return host, text[colon + 1 :]


def host_port(r: Reader, node: Node) -> tuple[str, int]:
    """`host:port` (Alertmanager's HostPort) as (host, port); empty stays ("", 0)."""
    text = r.string(node)
    if not text:
        return ("", 0)
    host, port = _split_host_port(text)
    if not port:
        raise ConfigError(f"address {go_quote(text)}: port cannot be empty")
    if port.isdigit():
        return (host, int(port))
    try:
        return (host, socket.getservbyname(port, "tcp"))
    except OSError:
        raise ConfigError(f"address {text}: unknown port") from None


def join_host_port(address: tuple[str, int]) -> str:
    host, port = address
    if not host and not port:
        return ""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def host_or(own: tuple[str, int] | None, fallback: tuple[str, int]) -> tuple[str, int]:
    """Go's cmp.Or for HostPort: the config's own address unless it is empty."""
    return own if own and join_host_port(own) else fallback
