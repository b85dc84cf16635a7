"""The classic matcher parser (Alertmanager <= 0.26, `pkg/labels`): `name op value` with a
Prometheus label name, an optionally double-quoted value and tolerant escaping, several matchers
split on the commas outside double quotes."""

from __future__ import annotations

import re

from app.matchers.matcher import Matcher

_MATCHER_RE = re.compile(
    r"^[ \t\n\f\r]*([a-zA-Z_:][a-zA-Z0-9_:]*)[ \t\n\f\r]*(=~|=|!=|!~)[ \t\n\f\r]*(.*?)[ \t\n\f\r]*\Z",
    re.DOTALL,
)


def _unescape(raw: str) -> str:
    """Apply the classic parser's OpenMetrics-style unescaping to a matcher value."""
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    out: list[str] = []
    escaped = False
    for i, ch in enumerate(body):
        if escaped:
            escaped = False
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(ch, "\\" + ch))
        elif ch == "\\" and i < len(body) - 1:
            escaped = True
        elif ch == '"':
            if not quoted or i < len(body) - 1:
                raise ValueError(f"matcher value contains unescaped double quote: {raw}")
            quoted = False
        else:
            out.append(ch)
    if quoted:
        raise ValueError(f"matcher value contains unescaped double quote: {raw}")
    return "".join(out)


def parse_matcher(text: str) -> Matcher:
    """One classic matcher (`a="b"`, `a=~x.*`); ValueError worded like Alertmanager's."""
    found = _MATCHER_RE.match(text)
    if not found:
        raise ValueError(f"bad matcher format: {text}")
    name, op, raw = found.groups()
    return Matcher(name, op, _unescape(raw))


def _split(text: str) -> list[str]:
    """Split on commas outside double quotes, the classic parser's tokenisation."""
    text = text.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside_quotes = escaped = False
    for ch in text:
        if ch == "," and not inside_quotes:
            tokens.append("".join(token))
            token = []
            continue
        if ch == '"':
            if escaped:
                escaped = False
            else:
                inside_quotes = not inside_quotes
        elif ch == "\\":
            escaped = not escaped
        elif ch != ",":
            escaped = False
        token.append(ch)
    last = "".join(token).strip()
    if last:
        tokens.append(last)
    return tokens


def parse_matchers(text: str) -> list[Matcher]:
    """Classic matchers separated by commas, braces optional (`{a="b", c!=d}`)."""
    return [parse_matcher(token) for token in _split(text)]
