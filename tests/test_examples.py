"""Every shipped example claim is a test: the engine must return the decision written beside it.

The expected decisions were written from the contract texts, not from the engine's output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import claimrules
from claimrules.analysis.cases import check_expected

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples" / "claims").glob("*.json"))


@pytest.fixture(scope="module")
def northwind() -> claimrules.CompiledPolicy:
    policy = claimrules.load_policy(ROOT / "policies" / "northwind")
    yield policy
    policy.close()


def _expected(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))["expected"]


def test_there_are_enough_examples() -> None:
    assert len(EXAMPLES) >= 40


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_decision(northwind: claimrules.CompiledPolicy, path: Path) -> None:
    facts = claimrules.load_claim(path)
    decision = northwind.adjudicate(facts)
    problems = check_expected(decision, _expected(path))
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)
    if decision.outcome in ("deny", "refer"):
        assert decision.grounds and decision.escalation
