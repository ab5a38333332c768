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
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

__all__ = ["BoundedCache", "deep_size"]

#: One entry in SAMPLE is measured with deep_size; the others are charged the mean so far.
SAMPLE = 32


def _slots_of(cls: type) -> tuple[str, ...]:
    """The attributes an instance of ``cls`` holds in slots (a slotted dataclass has no ``__dict__``)."""
    found = _SLOTS.get(cls)
    if found is None:
        names: list[str] = []
        for klass in cls.__mro__:
            declared = klass.__dict__.get("__slots__", ())
            names += [declared] if isinstance(declared, str) else [name for name in declared if name not in names]
        found = _SLOTS[cls] = tuple(name for name in names if name not in ("__dict__", "__weakref__"))
    return found


_SLOTS: dict[type, tuple[str, ...]] = {}


def deep_size(value: object, _seen: set[int] | None = None) -> int:
    """Bytes of ``value`` and of the tuples, lists, dicts, strings, model fields and slotted
    attributes it reaches."""
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
        size += deep_size(fields, seen)
    # A slotted object (a frozen dataclass with slots, as the decision's template is) keeps its
    # values out of __dict__: counted too, or an entry holding one would seem to weigh nothing.
    return size + sum(deep_size(getattr(value, name, None), seen) for name in _slots_of(type(value)))


class BoundedCache(Generic[K, V]):
    """A mapping that keeps at most about ``max_bytes`` of entries, evicting the oldest first."""

    __slots__ = ("_entries", "_measured", "_measured_bytes", "_sets", "_weigh", "bytes", "max_bytes")

    def __init__(self, max_bytes: int, weigh: Callable[[K, V], int] | None = None) -> None:
        """``weigh(key, value)``: the bytes an entry holds of its own (default ``deep_size`` of both,
        which also counts what the entry shares with others)."""
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self._weigh = weigh
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
            cost = deep_size((key, value)) if self._weigh is None else self._weigh(key, value)
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
