"""The Matcher type: one `name op value` test on a label set, printed, ordered and evaluated as
Alertmanager does (`pkg/labels`' Matcher, whatever parser produced it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from app.gostrings import go_quote
from app.regex import Regex, compile_anchored

OPS = ("=", "!=", "=~", "!~")

# Characters the UTF-8 matcher syntax does not allow unquoted (with white space): a label name
# holding one is printed Go-quoted.
_RESERVED = frozenset("{}!=~,\\\"'`")


def is_reserved(ch: str) -> bool:
    """True for a character that must be quoted in the UTF-8 matcher syntax."""
    return ch.isspace() or ch in _RESERVED


@dataclass(frozen=True)
class Matcher:
    """One matcher. An absent label matches as the empty string, as in Alertmanager."""

    name: str
    op: str
    value: str
    _regex: Regex | None = field(default=None, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown matcher operator {self.op!r}")
        if self.op in ("=~", "!~"):
            # Alertmanager compiles `^(?:value)$` and asks whether it matches the label value.
            object.__setattr__(self, "_regex", compile_anchored(self.value))

    def matches(self, value: str) -> bool:
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        assert self._regex is not None
        found = self._regex.search(value)
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        """Alertmanager's form: `name="value"`, or both parts Go-quoted when the name needs it."""
        if any(is_reserved(ch) for ch in self.name):
            return f"{go_quote(self.name)}{self.op}{go_quote(self.value)}"
        escaped = self.value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'

    def sort_key(self) -> tuple[str, str, int]:
        """Alertmanager's matcher order: name, then value, then operator (=, !=, =~, !~)."""
        return (self.name, self.value, OPS.index(self.op))


def matches_all(matchers: list[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches the label set (an empty list matches everything)."""
    return all(m.matches(labels.get(m.name, "")) for m in matchers)


def sort_matchers(matchers: Iterable[Matcher]) -> list[Matcher]:
    """Sort as Alertmanager does before printing or keying a matcher set."""
    return sorted(matchers, key=Matcher.sort_key)


def format_matchers(matchers: Iterable[Matcher]) -> str:
    """`{a="1",b=~"x"}`: Alertmanager's Matchers.String(), used in route keys and ids."""
    return "{" + ",".join(str(m) for m in matchers) + "}"
