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


def test_deep_size_counts_what_a_slotted_object_holds() -> None:
    """A frozen dataclass with slots (as a decision's template) has no __dict__: what its slots hold
    counts, or a cache of them would seem to weigh nothing and grow without bound."""
    from dataclasses import dataclass

    @dataclass(frozen=True, slots=True)
    class Held:
        text: str
        items: tuple[str, ...]

    held = Held("x" * 10_000, ("y" * 5_000,))
    assert deep_size(held) >= 15_000
    assert deep_size(held) > deep_size(Held("", ()))


def test_a_cache_weighing_its_own_entries_keeps_to_its_budget() -> None:
    """``weigh`` replaces deep_size for entries that point to shared objects: the budget holds."""
    shared = "s" * 100_000  # the same object in every entry, owned elsewhere
    cache: BoundedCache[int, tuple[str, str]] = BoundedCache(50_000, lambda key, value: 1_000 + len(value[1]))
    for key in range(200):
        cache[key] = (shared, "o" * 500)
    assert cache.bytes <= 50_000 and len(cache) == 50_000 // 1_500
    assert 199 in cache and 0 not in cache  # the oldest went first


def test_the_decision_templates_keep_to_their_budget_with_their_own_weight() -> None:
    """The adjudicator's templates are weighed by what each holds of its own (key, the shared
    part's containers): never nothing, and the cache stays within its bytes over many claims."""
    import sys
    from pathlib import Path

    import claimrules
    from claimrules.facts import parse_claim

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from support import NORTHWIND, claims_mix

    policy = claimrules.load_policy(NORTHWIND)
    templates = policy.adjudicator._templates
    templates.max_bytes = 400_000  # small, so that the budget is reached within a test's claims
    for raw in claims_mix(1500, 3):
        policy.adjudicate(parse_claim(raw, policy))
    assert 0 < templates.bytes <= templates.max_bytes
    key, (template, cost) = next(iter(templates._entries.items()))
    assert cost >= sys.getsizeof(template.part.values) + deep_size(key)  # the part's dict counts
