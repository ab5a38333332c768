"""Every shipped example claim is a test: the engine must return the decision written beside it.

The expected decisions were written from the contract texts, not from the engine's output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import claimrules
from claimrules.decision import Decision

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples" / "claims").glob("*.json"))


@pytest.fixture(scope="module")
def northwind() -> claimrules.CompiledPolicy:
    policy = claimrules.load_policy(ROOT / "policies" / "northwind")
    yield policy
    policy.close()


def _expected(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))["expected"]


def check_expected(decision: Decision, expected: dict[str, Any]) -> list[str]:
    """Every way the decision differs from what the example expects (empty when it matches)."""
    problems: list[str] = []
    grounds = [citation.clause for citation in decision.grounds]

    def differ(what: str, want: Any, got: Any) -> None:
        if want != got:
            problems.append(f"{what}: expected {want!r}, got {got!r}")

    differ("outcome", expected["outcome"], decision.outcome)
    if "deciding_clause" in expected:
        differ("deciding clause", expected["deciding_clause"], decision.deciding.clause)
    for clause in expected.get("grounds_include", []):
        if clause not in grounds:
            problems.append(f"ground {clause} missing from {grounds}")
    for clause in expected.get("grounds_exclude", []):
        if clause in grounds:
            problems.append(f"ground {clause} should not be among {grounds}")
    if "remedy" in expected:
        differ("remedy", expected["remedy"], decision.remedy)
    if "responsible" in expected:
        differ("responsible", expected["responsible"], decision.responsible.id)
    for kind, text in expected.get("amounts", {}).items():
        money = decision.amount(kind)
        differ(f"amount {kind}", text, str(money) if money is not None else None)
    notices = [notice.clause for notice in decision.notices]
    for clause in expected.get("notices_include", []):
        if clause not in notices:
            problems.append(f"notice {clause} missing from {notices}")
    if "missing_facts" in expected:
        differ("missing facts", sorted(expected["missing_facts"]), sorted(decision.missing_facts))
    if "escalation_first" in expected:
        differ("first review step", expected["escalation_first"], decision.escalation[0].clause if decision.escalation else None)
    if "under_addendum" in expected:
        differ("under addendum", expected["under_addendum"], decision.under_addendum)
    return problems


def test_there_are_enough_examples() -> None:
    assert len(EXAMPLES) >= 40


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_decision(northwind: claimrules.CompiledPolicy, path: Path) -> None:
    facts = northwind.load_claim(path)
    decision = northwind.adjudicate(facts)
    problems = check_expected(decision, _expected(path))
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)
    if decision.outcome in ("deny", "refer"):
        assert decision.grounds and decision.escalation
