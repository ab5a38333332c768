"""Caches bounded by bytes (issue #15): memory stays flat over many distinct claims."""

from __future__ import annotations

from claimrules.engine.cache import BoundedCache, deep_size


def test_oldest_entries_go_once_the_byte_budget_is_passed() -> None:
    cache: BoundedCache[int, str] = BoundedCache(max_bytes=10_000)
    for key in range(1000):
        cache[key] = "x" * 100
    assert cache.bytes <= 10_000
    assert 0 < len(cache) < 1000
    assert 999 in cache and 0 not in cache  # the newest stay, the oldest went
    assert cache.get(999) == "x" * 100 and cache.get(0) is None


def test_an_entry_larger_than_the_cache_is_not_kept_and_replacing_an_entry_recounts_it() -> None:
    cache: BoundedCache[str, str] = BoundedCache(max_bytes=1_000)
    cache["big"] = "y" * 5_000  # among the first entries: measured
    assert "big" not in cache and cache.bytes == 0
    cache["a"] = "small"
    first = cache.bytes
    cache["a"] = "small"
    assert cache.bytes == first and len(cache) == 1
    cache.clear()
    assert len(cache) == 0 and cache.bytes == 0


def test_deep_size_counts_what_an_entry_reaches() -> None:
    text = "z" * 1_000
    assert deep_size((text,)) > 1_000
    assert deep_size({"k": [text, text]}) < 2 * deep_size(text) + 500  # a shared object counts once
