"""YAML read the way Go's gopkg.in/yaml.v2 reads it into an `interface{}`.

Alertmanager decodes alertmanager.yml with yaml.v2, and it reads some values with it again at
send time: every rendered Jira custom field and webhook `payload` string (a field rendered to
`5` is sent as the number 5, `[a, b]` as a list), and since 0.30 every rendered PagerDuty
`details` value (so that `{{ .Alerts.Firing | toJson }}` gives JSON structure). The config's
`any` values (Jira's `fields`, the webhook's `payload`) are read the same way. yaml.v2 resolves
plain scalars by its own rules, not PyYAML's YAML 1.1 ones: `y`/`n` are booleans, `0o17` and
`017` are octal integers, `1:30` and dates stay strings, `_` separators are dropped from numbers,
a number beyond float64 stays a string. PyYAML only composes here; every plain scalar is resolved
by those rules, quoted ones are strings. Maps keep their string keys only (Alertmanager drops the
others before it sends them), merge keys (`<<: *anchor`) are expanded, and a map or list as a
key, or an anchor inside its own value, is an error, as in yaml.v2. Not reproduced: an explicit
tag (`!!str 5`) does not change how a plain scalar resolves. A leaf: it imports nothing from
alerter.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_TAG = "tag:yaml.org,2002:"

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
# The tags PyYAML's SafeLoader gives an untagged plain scalar: such a scalar is yaml.v2's to resolve.
_IMPLICIT = frozenset(
    _TAG + name for name in ("null", "bool", "int", "float", "str", "timestamp", "merge", "value")
)


class NotYAML(ValueError):
    """Text that yaml.v2 would not read."""


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


def _go_parse_float(number: str, text: str) -> Any:
    """Go's strconv.ParseFloat of a decimal `number` (Python's float() takes the same `_`
    separators); what it refuses, or finds out of range, leaves the scalar the string `text`."""
    if not number.isascii():
        return text
    try:
        value = float(number)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def resolve_plain(text: str) -> Any:
    """A plain (unquoted) scalar as yaml.v2 resolves it: None, bool, int, float or the text."""
    if text in _NULL_WORDS:
        return None
    if text in TRUE_WORDS or text in FALSE_WORDS:
        return text in TRUE_WORDS
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if text[0] == ".":  # yaml.v2 hands these to ParseFloat as written
        return _go_parse_float(text, text)
    if text[0] in "+-0123456789":
        plain = text.replace("_", "")
        number = _go_parse_int(plain)
        if number is not None:
            return number
        if _YAML_FLOAT.fullmatch(plain):
            return _go_parse_float(plain, text)
    return text


def mapping_pairs(node: MappingNode) -> list[tuple[Node, Node]]:
    """The key/value pairs of a mapping with YAML merge keys (`<<: *anchor`) expanded.

    Keys written in the mapping itself win over merged ones, and an earlier map of a merged
    sequence over a later one. yaml.v2 agrees where `<<` comes first, as it is usually written
    (it applies a `<<` written after a key over that key). A merged value that is not a map is
    passed over.
    """
    explicit: list[tuple[Node, Node]] = []
    merged: list[tuple[Node, Node]] = []
    for key, value in node.value:
        if key.tag == _TAG + "merge":
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if isinstance(source, MappingNode):
                    merged += mapping_pairs(source)
            continue
        explicit.append((key, value))
    seen = {key.value for key, _ in explicit if isinstance(key, ScalarNode)}
    inherited = []
    for key, value in merged:
        if isinstance(key, ScalarNode) and key.value not in seen:
            seen.add(key.value)
            inherited.append((key, value))
    return inherited + explicit


def _value(node: Node, open_nodes: set[int]) -> Any:
    """The value of `node`; `open_nodes` are the collections being read around it, so that an
    alias to one of them (an anchor inside its own value) is refused rather than endless."""
    if isinstance(node, ScalarNode):
        return resolve_plain(node.value) if node.style is None and node.tag in _IMPLICIT else node.value
    if id(node) in open_nodes:
        raise NotYAML(f"anchor value contains itself (line {node.start_mark.line + 1})")
    open_nodes.add(id(node))
    try:
        if isinstance(node, SequenceNode):
            return [_value(item, open_nodes) for item in node.value]
        if isinstance(node, MappingNode):
            out: dict[str, Any] = {}
            for key, value in mapping_pairs(node):
                name = _value(key, open_nodes)
                if isinstance(name, (dict, list)):
                    raise NotYAML(f"invalid map key (line {key.start_mark.line + 1})")
                if isinstance(name, str):  # Alertmanager keeps string keys only
                    out[name] = _value(value, open_nodes)
            return out
    finally:
        open_nodes.discard(id(node))
    raise NotYAML(f"unexpected node {type(node).__name__}")


def from_node(node: Node) -> Any:
    """The value of a node already composed by SafeLoader (a part of alertmanager.yml), as
    yaml.v2 reads it into `interface{}`. Raises NotYAML."""
    return _value(node, set())


def load(text: str) -> Any:
    """`text` read as one YAML document the way yaml.v2 reads it; an empty document is None.
    Raises NotYAML."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        return None if node is None else from_node(node)
    except (yaml.YAMLError, RecursionError) as err:  # RecursionError: nested too deep
        raise NotYAML(str(err)) from None
