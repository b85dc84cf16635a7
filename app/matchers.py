"""Label matchers (`=`, `!=`, `=~`, `!~`) as Alertmanager parses and evaluates them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

OPS = ("=", "!=", "=~", "!~")


@dataclass(frozen=True)
class Matcher:
    """One matcher. An absent label matches as the empty string, as in Alertmanager."""

    name: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown matcher operator {self.op!r}")
        if self.op in ("=~", "!~"):
            # Alertmanager anchors regexes at both ends.
            object.__setattr__(self, "_regex", re.compile(f"^(?:{self.value})$", re.DOTALL))

    def matches(self, value: str) -> bool:
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        assert self._regex is not None
        found = self._regex.match(value) is not None
        return found if self.op == "=~" else not found


def matches_all(matchers: list[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches the label set (an empty list matches everything)."""
    return all(m.matches(labels.get(m.name, "")) for m in matchers)
