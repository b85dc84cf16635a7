"""YAML values as Go's yaml.v2 reads them into `interface{}`: plain scalars resolved by its rules.

Alertmanager's Jira integration reads every rendered custom field as YAML (a field rendered to
`5` is sent as the number 5, `[a, b]` as a list), and it reads the config's `fields` the same
way. PyYAML resolves plain scalars by YAML 1.1's rules, which differ from yaml.v2's: `y`/`n` are
booleans for yaml.v2, `010` is octal, `0o17` and `1e3` are numbers, `1:30` is a string (PyYAML:
90) and timestamps stay strings. This module applies yaml.v2's resolution, so that a value
reaches Jira with the type it would have from Alertmanager. Quoted scalars are strings in both.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

_PLAIN = "tag:alerter,2024:go-plain"  # a plain scalar, resolved by `plain_scalar`
_MERGE = "tag:yaml.org,2002:merge"
_IMPLICIT = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "str", "timestamp")
)

_TRUE = frozenset(["y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"])
_FALSE = frozenset(["n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"])
_NULL = frozenset(["", "~", "null", "Null", "NULL"])
_SPECIAL_FLOATS = {
    **dict.fromkeys((".nan", ".NaN", ".NAN"), float("nan")),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf")),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), float("-inf")),
}
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INT64 = (-(2**63), 2**63 - 1)
_UINT64_MAX = 2**64 - 1
_BASES = {"0x": 16, "0o": 8, "0b": 2}


def _go_parse_int(text: str) -> int | None:
    """Go's strconv.ParseInt(text, 0, 64) (or ParseUint for what only fits unsigned)."""
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.removeprefix("+"))
    base = _BASES.get(digits[:2].lower(), 0)
    if base:
        digits = digits[2:]
    elif len(digits) > 1 and digits.startswith("0"):
        base, digits = 8, digits[1:]
    else:
        base = 10
    if not digits or not digits.isascii():
        return None
    try:
        value = sign * int(digits, base)
    except ValueError:
        return None
    if _INT64[0] <= value <= _INT64[1] or (sign > 0 and value <= _UINT64_MAX and not text.startswith("+")):
        return value
    return None


def plain_scalar(text: str) -> Any:
    """The value yaml.v2 gives an unquoted scalar decoded into `interface{}`."""
    if text in _NULL:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if text[0] not in "0123456789+-.":
        return text
    plain = text.replace("_", "")
    number = _go_parse_int(plain)
    if number is not None:
        return number
    if _FLOAT.fullmatch(plain):
        return float(plain)
    return text


class _Constructor(SafeConstructor):
    """SafeConstructor with plain scalars left to `plain_scalar`."""


_Constructor.add_constructor(_PLAIN, lambda _loader, node: plain_scalar(node.value))


class _Resolver(Resolver):
    def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode and implicit[0] and value != "<<":
            return _PLAIN
        return str(super().resolve(kind, value, implicit))


class _Loader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    _Constructor,
    _Resolver,
):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _Constructor.__init__(self)
        _Resolver.__init__(self)


def load(text: str) -> Any:
    """`text` read as one YAML document the way yaml.v2 reads it; raises yaml.YAMLError."""
    return yaml.load(text, Loader=_Loader)  # a SafeConstructor: no arbitrary objects


def _retag(node: Node) -> None:
    if isinstance(node, ScalarNode):
        if node.style is None and node.tag in _IMPLICIT:
            node.tag = _PLAIN
    elif isinstance(node, SequenceNode):
        for item in node.value:
            _retag(item)
    elif isinstance(node, MappingNode):
        for key, value in node.value:
            if key.tag != _MERGE:
                _retag(key)
            _retag(value)


def from_node(node: Node) -> Any:
    """The value of an already composed node (a part of alertmanager.yml), as yaml.v2 reads it."""
    mine = copy.deepcopy(node)  # the node may be an alias that other parts of the file decode
    _retag(mine)
    return _Constructor().construct_document(mine)
