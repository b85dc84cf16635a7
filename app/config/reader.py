"""Reading YAML nodes the way Go's yaml.v2 `UnmarshalStrict` does, and the basic field converters.

Alertmanager decodes alertmanager.yml strictly: unknown or repeated fields and values of the wrong
YAML kind are type errors, collected with their line numbers and reported together, while a
struct's own checks stop loading at once. `Reader` reproduces that, with yaml.v2's wording, over
PyYAML's node tree. Each section module describes its fields as a table of `Converter`s built from
the ones here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.config.model import ConfigError
from app.durations import parse_duration, parse_go_duration
from app.gostrings import go_quote
from app.labels import CLASSIC_LABEL_NAME
from app.matchers import MODE_CLASSIC
from app.yamlv2 import FALSE_WORDS, TRUE_WORDS, NotYAML, from_node, mapping_pairs

_TAG = "tag:yaml.org,2002:"

Converter = Callable[["Reader", Node], Any]
T = TypeVar("T")


def is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == _TAG + "null")


def line_number(node: Node) -> int:
    return node.start_mark.line + 1


def _short_tag(node: Node) -> str:
    return "!!" + node.tag[len(_TAG) :] if node.tag.startswith(_TAG) else node.tag


class Reader:
    """Converts YAML nodes to Python values with yaml.v2's strictness and wording.

    Type errors are collected in `errors` (reported together at the end, as yaml.v2 does); other
    errors raise ConfigError immediately.
    """

    def __init__(self, mode: str) -> None:
        self.errors: list[str] = []
        self.mode = mode

    def type_error(self, node: Node, go_type: str) -> None:
        shown = ""
        if isinstance(node, ScalarNode):
            value = node.value if len(node.value) <= 10 else node.value[:7] + "..."
            shown = f" `{value}`"
        self.errors.append(
            f"line {line_number(node)}: cannot unmarshal {_short_tag(node)}{shown} into {go_type}"
        )

    def struct(
        self, node: Node | None, go_type: str, table: Mapping[str, Converter]
    ) -> dict[str, Any] | None:
        """Decode a mapping into {field: converted value} for the fields present, in file order.

        None for a null node (Go leaves the struct unset). Unknown and repeated fields are type
        errors naming `go_type`, like `field foo not found in type config.plain`.
        """
        if is_null(node):
            return None
        assert node is not None
        if not isinstance(node, MappingNode):
            self.type_error(node, go_type)
            return {}
        values: dict[str, Any] = {}
        for key, value in mapping_pairs(node):
            name = key.value if isinstance(key, ScalarNode) else ""
            if name not in table:
                self.errors.append(f"line {line_number(key)}: field {name} not found in type {go_type}")
            elif name in values:
                self.errors.append(f"line {line_number(key)}: field {name} already set in type {go_type}")
            else:
                values[name] = table[name](self, value)
        return values

    def checked_struct(
        self, node: Node | None, go_type: str, table: Mapping[str, Converter]
    ) -> tuple[dict[str, Any] | None, bool]:
        """`struct`, plus whether it decoded without type errors (its own checks run only then)."""
        mark = len(self.errors)
        values = self.struct(node, go_type, table)
        return values, len(self.errors) == mark

    def string(self, node: Node, go_type: str = "string") -> str:
        if is_null(node):
            return ""
        if isinstance(node, ScalarNode):
            return str(node.value)
        self.type_error(node, go_type)
        return ""

    def boolean(self, node: Node) -> bool | None:
        if is_null(node):
            return None
        if isinstance(node, ScalarNode) and node.style is None:
            if node.value in TRUE_WORDS:
                return True
            if node.value in FALSE_WORDS:
                return False
        self.type_error(node, "bool")
        return None

    def integer(self, node: Node, go_type: str = "uint64") -> int | None:
        if is_null(node):
            return None
        if isinstance(node, ScalarNode) and node.tag == _TAG + "int":
            value = int(yaml.constructor.SafeConstructor().construct_yaml_int(node))
            if value >= 0 or not go_type.startswith("uint"):
                return value
        self.type_error(node, go_type)
        return None

    def sequence(self, node: Node, go_type: str) -> list[Node] | None:
        if is_null(node):
            return None
        if isinstance(node, SequenceNode):
            return list(node.value)
        self.type_error(node, go_type)
        return None

    def strings(self, node: Node, go_type: str = "[]string") -> list[str] | None:
        items = self.sequence(node, go_type)
        return None if items is None else [self.string(item) for item in items]

    def mapping(self, node: Node, go_type: str, item: Callable[[Node], T]) -> dict[str, T] | None:
        """A map with string keys, each value decoded by `item`; a repeated key is a type error."""
        if is_null(node):
            return None
        if not isinstance(node, MappingNode):
            self.type_error(node, go_type)
            return None
        out: dict[str, T] = {}
        for key, value in mapping_pairs(node):
            name = self.string(key)
            if name in out:
                self.errors.append(f"line {line_number(key)}: key {go_quote(name)} already set in map")
                continue
            out[name] = item(value)
        return out

    def string_map(self, node: Node, go_type: str = "map[string]string") -> dict[str, str] | None:
        return self.mapping(node, go_type, self.string)

    def duration(self, node: Node, parse: Callable[[str], float] = parse_duration) -> float | None:
        """A Prometheus duration (or what `parse` reads); a malformed one stops loading, as
        model.Duration (or a TextUnmarshaler) does."""
        if is_null(node):
            return None
        if not isinstance(node, ScalarNode):
            self.type_error(node, "string")
            return None
        try:
            return parse(node.value)
        except ValueError as err:
            raise ConfigError(str(err)) from None

    def go_duration(self, node: Node) -> float | None:
        """A Go time.Duration: yaml.v2 takes a duration string, or an integer of nanoseconds."""
        if is_null(node):
            return None
        if isinstance(node, ScalarNode) and node.tag == _TAG + "int":
            return int(yaml.constructor.SafeConstructor().construct_yaml_int(node)) / 1e9
        if isinstance(node, ScalarNode):
            try:
                return parse_go_duration(node.value)
            except ValueError:
                pass
        self.type_error(node, "time.Duration")
        return None

    def raw(self, node: Node) -> Any:
        """The plain Python value of a node, for sections alerter keeps as written."""
        # A copy: the constructor expands merge keys in place, and the node may be an alias that
        # another part of the document decodes field by field.
        return yaml.constructor.SafeConstructor().construct_document(copy.deepcopy(node))

    def label_name_ok(self, name: str) -> bool:
        """Alertmanager's IsValidLabelName: any non-empty name, or the classic pattern in classic mode."""
        if self.mode == MODE_CLASSIC:
            return CLASSIC_LABEL_NAME.match(name) is not None
        return name != ""


def string(r: Reader, node: Node) -> str:
    return r.string(node)


def boolean(r: Reader, node: Node) -> bool | None:
    return r.boolean(node)


def raw(r: Reader, node: Node) -> Any:
    return r.raw(node)


def go_any(r: Reader, node: Node) -> Any:
    """A Go `any` field (the webhook's `payload`, Jira's `fields`): the value yaml.v2 gives it,
    each scalar resolved by its rules, since that value is what Alertmanager renders and sends."""
    try:
        return from_node(node)
    except NotYAML as err:
        raise ConfigError(f"yaml: {err}") from None


def strings(r: Reader, node: Node) -> list[str] | None:
    return r.strings(node)


def string_map(r: Reader, node: Node) -> dict[str, str] | None:
    return r.string_map(node)


def duration(r: Reader, node: Node) -> float | None:
    return r.duration(node)


def go_duration(r: Reader, node: Node) -> float | None:
    return r.go_duration(node)


def uint64(r: Reader, node: Node) -> int | None:
    return r.integer(node, "uint64")


def list_of(go_type: str, item: Converter) -> Converter:
    """Converter for a YAML list whose items are decoded by `item` (null items stay None)."""

    def convert(r: Reader, node: Node) -> list[Any] | None:
        items = r.sequence(node, go_type)
        if items is None:
            return None
        return [None if is_null(n) else item(r, n) for n in items]

    return convert


def at_most_one(values: Mapping[str, Any], *names: str) -> str | None:
    """Alertmanager's `at most one of a & b must be configured` check."""
    if sum(1 for name in names if values.get(name)) > 1:
        return f"at most one of {' & '.join(names)} must be configured"
    return None


def fail_on(*messages: str | None) -> None:
    for message in messages:
        if message:
            raise ConfigError(message)


def or_default(value: Any, default: Any) -> Any:
    return default if value is None else value
