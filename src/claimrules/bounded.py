"""A per-adjudicator cache bounded by the bytes it holds, not by its number of entries.

A policy that reads free text (a claim's description) makes every claim a new cache key: a cache
bounded by count alone grew about 4.4 MB per 1,000 distinct claims. :class:`ByteBoundedCache` is a
dict that estimates each entry's size when it is stored and drops the oldest entries once the
total passes ``max_bytes``.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["DEFAULT_CACHE_BYTES", "ByteBoundedCache", "estimate_bytes"]

#: Per cache: large enough for every distinct trace of a real policy set, small next to a process.
DEFAULT_CACHE_BYTES = 8_000_000
_OVERHEAD = 120  # a dict slot, a tuple header, a small object


def estimate_bytes(value: Any, depth: int = 0) -> int:
    """An estimate of the memory ``value`` keeps alive (text counted by its length)."""
    if isinstance(value, (str, bytes)):
        return sys.getsizeof(value)
    if depth < 4 and isinstance(value, (tuple, list, frozenset, set)):
        return _OVERHEAD + sum(estimate_bytes(item, depth + 1) for item in value)
    if depth < 4 and hasattr(value, "__dict__"):
        return _OVERHEAD + sum(estimate_bytes(item, depth + 1) for item in vars(value).values())
    return _OVERHEAD


class ByteBoundedCache(dict[Any, Any]):
    """A dict whose stored entries take at most about ``max_bytes``; the oldest go first."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self.bytes = 0
        self._sizes: dict[Any, int] = {}

    def __setitem__(self, key: Any, value: Any) -> None:
        size = estimate_bytes(key) + estimate_bytes(value)
        if key in self._sizes:
            self.bytes -= self._sizes.pop(key)
            super().__delitem__(key)
        while self and self.bytes + size > self.max_bytes:
            oldest = next(iter(self))
            self.bytes -= self._sizes.pop(oldest)
            super().__delitem__(oldest)
        if size <= self.max_bytes:
            super().__setitem__(key, value)
            self._sizes[key] = size
            self.bytes += size

    def clear(self) -> None:
        super().clear()
        self._sizes.clear()
        self.bytes = 0
