"""A bounded memo for the hot paths: a value computed on its key's first use, then a plain
dict subscript.

A dict subclass rather than functools.lru_cache: a hit is one subscript, all in C, where the
LRU's wrapper cost five times as much per call (its key tuple, its recency list). Bounded by
starting afresh when full: keys met again after that are computed once more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class FirstUseCache(dict[K, V], Generic[K, V]):
    """key -> compute(key), computed on the key's first use; emptied once `size` keys are held."""

    def __init__(self, compute: Callable[[K], V], size: int) -> None:
        super().__init__()
        self.compute = compute
        self.size = size

    def __missing__(self, key: K) -> V:
        if len(self) >= self.size:
            self.clear()
        value = self[key] = self.compute(key)
        return value
