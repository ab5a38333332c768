"""Generated policies at each documented limit, and one past it (issue #13; docs/policy-language.md
"Limits").

At the limit a policy set loads, compiles to durable_rules and decides a claim in under 2 s of CPU
(process time, so a busy machine does not fail the test), and the decision is the one the generated
contract text gives. One past the limit it is refused with a PolicyError naming the limit.

The time is measured in a fresh process, as a user's command or service starts: compiling a large
set allocates a great deal, and in this test run's own process (hundreds of policy sets loaded by
earlier tests) the garbage collector's passes over that heap doubled the figure (CI: 2.05 s in the
run, 0.9-1.5 s alone).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import claim, clause, document, write_policy

import claimrules
from claimrules.engine.program import MAX_ENGINE_FIELDS
from claimrules.errors import PolicyError
from claimrules.policy.loader import MAX_CLAUSES, MAX_LIST_ITEMS, MAX_TESTS_PER_CONDITION
from claimrules.policy.validate import MAX_HOLDS_DEPTH

SECONDS = 2.0
# The claim every generated set decides: a product of USD 500.00, an incident on 2025-03-10.
CLAIM = claim(incident={"occurred_on": "2025-03-10", "cause": "defect"})
# Small facts about CLAIM, as definitions (short names keep long conditions within 4,000 characters).
DEFINITIONS = {f"d{n}": {"value": f"product.price > USD {n * 100}"} for n in range(10)}  # true for n <= 4


# Run in a fresh process: imports first, then the clock around loading, compiling and deciding.
_TIMED = """
import json, sys, time
from claimrules.api import load_policy  # imported before the clock: the package itself imports lazily
claim = json.loads(sys.argv[2])
started = time.process_time()
with load_policy(sys.argv[1]) as compiled:
    decision = compiled.adjudicate(claim)
print(json.dumps([decision.outcome, decision.deciding.clause, time.process_time() - started]))
"""


def _decide(folder: Path) -> tuple[str, str, float]:
    done = subprocess.run([sys.executable, "-c", _TIMED, str(folder), json.dumps(CLAIM)], capture_output=True,
                          text=True, timeout=300, check=True)
    outcome, deciding, seconds = json.loads(done.stdout)
    return str(outcome), str(deciding), float(seconds)


def _covers(when: str = "true") -> dict[str, Any]:
    return clause("W 1", "covers", when, remedy="repair")


def with_clauses(count: int) -> list[dict[str, Any]]:
    """W 1 covers every claim; W 2.. exclude products over USD 100,000+n (not this one)."""
    return [_covers()] + [clause(f"W {n}", "excludes", f"product.price > USD {100_000 + n}") for n in range(2, count + 1)]


def with_tests(count: int) -> list[dict[str, Any]]:
    """W 2 excludes when any of `count` tests holds; all are false (d5..d9: over USD 500)."""
    when = " or ".join(f"d{5 + n % 5}" for n in range(count))
    return [_covers(), clause("W 2", "excludes", when)]


def with_items(count: int) -> list[dict[str, Any]]:
    """W 2 excludes when all `count` listed conditions hold: d0..d4 all hold, so it excludes."""
    return [_covers(), clause("W 2", "excludes", {"all": [f"d{n % 5}" for n in range(count)]})]


def with_holds(depth: int) -> list[dict[str, Any]]:
    """H 0 holds for this claim; H n reads holds('H n-1') and holds('H n-2'): a chain and diamond of
    `depth` holds(); the last one excludes."""
    found = [_covers(), clause("H 0", "states", "d1")]
    for n in range(1, depth + 1):
        when = f"holds('H {n - 1}')" + (f" and holds('H {n - 2}')" if n > 1 else "")
        found.append(clause(f"H {n}", "excludes" if n == depth else "states", when))
    return found


def with_facts(count: int) -> list[dict[str, Any]]:
    """`count` distinct computed values (money comparisons, none true), four or five to a clause."""
    found = [_covers()]
    remaining, n = count, 0
    while remaining > 0:
        size = 5 if remaining == 5 else min(4, remaining)
        tests = " or ".join(f"product.price > USD {200_000 + n * 5 + k}" for k in range(size))
        found.append(clause(f"F {n}", "excludes", tests))
        remaining -= size
        n += 1
    return found


LIMITS: dict[str, tuple[int, Callable[[int], list[dict[str, Any]]], str, str]] = {
    # name: (limit, generator, the decision at the limit as (outcome, clause), text naming the limit)
    "clauses": (MAX_CLAUSES, with_clauses, "approve W 1", f"at most {MAX_CLAUSES}"),
    "tests per condition": (MAX_TESTS_PER_CONDITION, with_tests, "approve W 1", "MAX_TESTS_PER_CONDITION"),
    "list items": (MAX_LIST_ITEMS, with_items, "deny W 2", "MAX_LIST_ITEMS"),
    "holds() depth": (MAX_HOLDS_DEPTH, with_holds, f"deny H {MAX_HOLDS_DEPTH}", "MAX_HOLDS_DEPTH"),
    "facts": (MAX_ENGINE_FIELDS, with_facts, "approve W 1", "MAX_ENGINE_FIELDS"),
}


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_at_the_limit_it_compiles_and_decides_in_time(name: str, tmp_path: Path) -> None:
    limit, generate, expected, _ = LIMITS[name]
    clauses = generate(limit)
    write_policy(tmp_path, [document("W", clauses, definitions=DEFINITIONS)])
    outcome, deciding, seconds = _decide(tmp_path)
    assert f"{outcome} {deciding}" == expected
    assert seconds < SECONDS, f"{name}: {seconds:.2f} s of CPU at the limit ({limit})"


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_one_past_the_limit_is_refused_naming_it(name: str, tmp_path: Path) -> None:
    limit, generate, _, names = LIMITS[name]
    write_policy(tmp_path, [document("W", generate(limit + 1), definitions=DEFINITIONS)])
    with pytest.raises(PolicyError) as refused:
        claimrules.load_policy(tmp_path)
    assert names in str(refused.value)


def test_the_facts_limit_is_reached_exactly() -> None:
    """with_facts(n) makes exactly n computed values (so the test above is at the limit, not under it)."""
    assert sum(len(c["when"].split(" or ")) for c in with_facts(MAX_ENGINE_FIELDS)[1:]) == MAX_ENGINE_FIELDS
    assert len(with_facts(MAX_ENGINE_FIELDS)) <= MAX_CLAUSES


def test_clauses_of_a_set_count_across_documents(tmp_path: Path) -> None:
    half = MAX_CLAUSES // 2 + 1
    first = with_clauses(half)
    second = [clause(f"V {n}", "excludes", f"product.price > USD {300_000 + n}") for n in range(half)]
    write_policy(tmp_path, [document("W", first, definitions=DEFINITIONS), document("V", second)])
    with pytest.raises(PolicyError, match=f"{2 * half} clauses in the policy set .*at most {MAX_CLAUSES}"):
        claimrules.load_policy(tmp_path)
