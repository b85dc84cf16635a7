"""Text read as YAML the way Go's gopkg.in/yaml.v2 reads it into an `interface{}`.

Alertmanager's config is decoded by yaml.v2, and since 0.30 Alertmanager also reads every rendered
PagerDuty `details` value as YAML (so that `{{ .Alerts.Firing | toJson }}` gives JSON structure
and `{{ len .Alerts }}` a number). yaml.v2 resolves plain scalars by its own rules, not PyYAML's
YAML 1.1 ones: `y`/`n` are booleans, `0o17` and `017` are octal integers, `1:30` and dates stay
strings, `_` separators are dropped from numbers. PyYAML only parses here; every plain scalar is
resolved by those rules. A leaf: it imports nothing from alerter.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# yaml.v2's boolean words (its resolve table), shared with the config reader.
TRUE_WORDS = frozenset(["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"])
FALSE_WORDS = frozenset(["n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"])

_NULL_WORDS = frozenset(["", "~", "null", "Null", "NULL"])
_SPECIAL_FLOATS = {
    **dict.fromkeys([".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"], math.inf),
    **dict.fromkeys(["-.inf", "-.Inf", "-.INF"], -math.inf),
    **dict.fromkeys([".nan", ".NaN", ".NAN"], math.nan),
}
_YAML_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}
_INT64 = range(-(1 << 63), 1 << 63)
_UINT64 = range(1 << 64)


class NotYAML(ValueError):
    """Text that yaml.v2 would not parse."""


def _go_parse_int(text: str) -> int | None:
    """Go's strconv.ParseInt(text, 0, 64), falling back to ParseUint; None when both fail."""
    rest, negative = text, text[:1] == "-"
    if rest[:1] in ("+", "-"):
        rest = rest[1:]
    base = 10
    if len(rest) > 1 and rest[0] == "0":
        prefix = rest[1].lower()
        base, rest = {"x": (16, rest[2:]), "o": (8, rest[2:]), "b": (2, rest[2:])}.get(prefix, (8, rest[1:]))
    if not rest or any(c not in _DIGITS[base] for c in rest):
        return None
    value = -int(rest, base) if negative else int(rest, base)
    if value in _INT64 or (value in _UINT64 and text[:1] != "+"):
        return value
    return None


def resolve_plain(text: str) -> Any:
    """A plain (unquoted) scalar as yaml.v2 resolves it: None, bool, int, float or the text."""
    if text in _NULL_WORDS:
        return None
    if text in TRUE_WORDS or text in FALSE_WORDS:
        return text in TRUE_WORDS
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if text[0] == ".":  # handed to ParseFloat as written, which takes `_` between digits
        return _finite_float(text, text)
    if text[0] in "+-0123456789":
        plain = text.replace("_", "")
        number = _go_parse_int(plain)
        if number is not None:
            return number
        if _YAML_FLOAT.fullmatch(plain):
            return _finite_float(plain, text)
    return text


def _finite_float(number: str, text: str) -> Any:
    """Go's ParseFloat: out of range (or not a number) leaves the scalar a string. Python's
    float() takes the same `_` separators as Go's (between digits), but only ASCII digits."""
    if not number.isascii():
        return text
    try:
        value = float(number)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def _value(node: Node) -> Any:
    if isinstance(node, ScalarNode):
        return resolve_plain(node.value) if node.style is None else node.value
    if isinstance(node, SequenceNode):
        return [_value(item) for item in node.value]
    if isinstance(node, MappingNode):
        out: dict[str, Any] = {}
        for key, value in node.value:
            name = _value(key)
            if isinstance(name, str):  # Alertmanager keeps string keys only
                out[name] = _value(value)
        return out
    raise NotYAML(f"unexpected node {type(node).__name__}")


def load(text: str) -> Any:
    """`text` read as one YAML document into plain values (maps with string keys only, as
    Alertmanager normalises them); an empty document is None. Raises NotYAML.

    Not reproduced: merge keys (`<<: *anchor`) stay a key named `<<`."""
    try:
        node = yaml.compose(text, Loader=yaml.BaseLoader)
        return None if node is None else _value(node)
    except (yaml.YAMLError, RecursionError) as err:  # RecursionError: an alias inside itself
        raise NotYAML(str(err)) from None
