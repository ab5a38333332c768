"""A per-policy cache bounded by an estimate of the memory its entries hold, not by their count.

Decisions share immutable pieces (a clause's trace for the same test results, a rendered fact
value, the escalation steps for a party and date). Over millions of *distinct* claims a cache
bounded by count grows with the size of what it holds; this one evicts its oldest entries once
the estimated bytes of keys and values pass ``max_bytes``. The estimate (``deep_size``) counts
every object an entry reaches, shared ones included, so it errs on the high side; it costs tens of
microseconds, so it is taken for the first entries and every ``SAMPLE``-th one after, and the
others are charged the running mean.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

__all__ = ["BoundedCache", "deep_size"]

#: One entry in SAMPLE is measured with deep_size; the others are charged the mean so far.
SAMPLE = 32


def deep_size(value: object, _seen: set[int] | None = None) -> int:
    """Bytes of ``value`` and of the tuples, lists, dicts, strings and model fields it reaches."""
    seen = set() if _seen is None else _seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        return size
    if isinstance(value, dict):
        return size + sum(deep_size(key, seen) + deep_size(item, seen) for key, item in value.items())
    if isinstance(value, (tuple, list, frozenset, set)):
        return size + sum(deep_size(item, seen) for item in value)
    fields = getattr(value, "__dict__", None)
    if isinstance(fields, dict):
        return size + deep_size(fields, seen)
    return size


class BoundedCache(Generic[K, V]):
    """A mapping that keeps at most about ``max_bytes`` of entries, evicting the oldest first."""

    __slots__ = ("_entries", "_measured", "_measured_bytes", "_sets", "bytes", "max_bytes")

    def __init__(self, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._sets = self._measured = self._measured_bytes = 0

    def get(self, key: K, default: V | None = None) -> V | None:
        found = self._entries.get(key)
        return default if found is None else found[0]

    def __getitem__(self, key: K) -> V:
        return self._entries[key][0]

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __setitem__(self, key: K, value: V) -> None:
        self._sets += 1
        if self._measured < 8 or self._sets % SAMPLE == 0:
            cost = deep_size((key, value))
            self._measured += 1
            self._measured_bytes += cost
        else:
            cost = self._measured_bytes // self._measured
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old[1]
        if cost > self.max_bytes:
            return  # larger than the whole cache: not kept
        self._entries[key] = (value, cost)
        self.bytes += cost
        while self.bytes > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self.bytes -= evicted

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0
