"""The second reference policy set, policies/bestbuy: Best Buy's public Return & Exchange Policy.

Every example under policies/bestbuy/examples/ is a test: the engine must return the decision
written beside it. The expected decisions were written from the paraphrased terms
(policies/bestbuy/TERMS.md, each story names the section that decides), not from the engine's
output. Nothing in src/ knows this policy: its claim facts are its own facts.yaml.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_examples import check_expected

import claimrules

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "bestbuy"
EXAMPLES = sorted((POLICY / "examples").glob("*.json"))
SECTION = re.compile(r"\*\*(BB \d+\.\d+)\*\*")


def _terms_sections() -> list[str]:
    return SECTION.findall((POLICY / "TERMS.md").read_text(encoding="utf-8"))


def _clause_ids() -> list[str]:
    documents = yaml.safe_load((POLICY / "returns.yaml").read_text(encoding="utf-8"))["documents"]
    return [clause["id"] for document in documents for clause in document["clauses"]]


def _expected(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))["expected"]


# -- the policy text and its encoding (need no vocabulary loader) ----------------------------------

def test_there_are_enough_examples() -> None:
    assert len(EXAMPLES) >= 20


def test_every_clause_is_a_section_of_the_terms_and_back() -> None:
    """Clause id = section number of TERMS.md: each section encoded once, no clause without a section."""
    sections, clauses = _terms_sections(), _clause_ids()
    assert len(clauses) == len(set(clauses))
    assert sorted(sections) == sorted(clauses)


def test_every_file_names_its_source() -> None:
    for name in ("TERMS.md", "policy-set.yaml", "returns.yaml", "facts.yaml"):
        header = (POLICY / name).read_text(encoding="utf-8")[:1500]
        assert "Best Buy" in header and "Return & Exchange Policy" in header, name
        assert "2023-09-12" in header or "12 September 2023" in header, name
        assert "2026-11-27" in header, name


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_every_example_cites_existing_sections(path: Path) -> None:
    """The story says which section decides, and every clause the expectation names exists."""
    document = json.loads(path.read_text(encoding="utf-8"))
    clauses = set(_clause_ids())
    assert re.search(r"BB \d+\.\d+", document["story"]), "the story names no section"
    expected = document["expected"]
    named = [expected.get("deciding_clause"), expected.get("escalation_first")]
    for key in ("grounds_include", "grounds_exclude", "notices_include"):
        named += expected.get(key, [])
    for clause in named:
        assert clause is None or clause in clauses, clause


def test_no_northwind_fact_in_the_vocabulary() -> None:
    """The vocabulary is Best Buy's own: none of the Northwind-only facts, and Best Buy's are there."""
    facts = yaml.safe_load((POLICY / "facts.yaml").read_text(encoding="utf-8"))["facts"]

    def paths(groups: dict[str, Any], prefix: str = "") -> Iterator[str]:
        for name, node in groups.items():
            yield prefix + name
            if isinstance(node, dict) and "fields" in node:
                yield from paths(node["fields"], prefix + name + ".")

    declared = set(paths(facts))
    assert {"customer.membership", "product.category", "product.received_on", "purchase.final_sale"} <= declared
    for northwind_only in ("plan", "incident", "delivery", "extensions", "deployment", "product.serial_number"):
        assert northwind_only not in declared


# -- deciding the examples (needs the policy-declared vocabulary, issue #12.1) ----------------------

@pytest.fixture(scope="module")
def bestbuy() -> Iterator[claimrules.CompiledPolicy]:
    pytest.importorskip("claimrules.vocabulary", reason="the policy-declared vocabulary loader (facts.yaml, "
                        "issue #12.1) is not in this build: policies/bestbuy cannot be loaded without it")
    policy = claimrules.load_policy(POLICY)
    yield policy
    policy.close()


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_decision(bestbuy: claimrules.CompiledPolicy, path: Path) -> None:
    facts = bestbuy.load_claim(path)
    decision = bestbuy.adjudicate(facts)
    problems = check_expected(decision, _expected(path))
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)
    if decision.outcome in ("deny", "refer"):
        assert decision.grounds and decision.escalation


def test_schema_differs_from_northwind(bestbuy: claimrules.CompiledPolicy) -> None:
    northwind = claimrules.load_policy(ROOT / "policies" / "northwind")
    try:
        ours, theirs = bestbuy.claim_schema(), northwind.claim_schema()
    finally:
        northwind.close()
    assert ours != theirs
    text = json.dumps(ours)
    assert "my_best_buy_total" in text and "holiday_decoration" in text
    assert "my_best_buy_total" not in json.dumps(theirs)


def test_a_northwind_claim_is_not_a_best_buy_claim(bestbuy: claimrules.CompiledPolicy) -> None:
    """Strict vocabulary: a claim in Northwind's facts is refused, naming a field Best Buy does not know."""
    with pytest.raises(claimrules.ClaimError) as problem:
        bestbuy.load_claim(ROOT / "examples" / "claims" / "rt-new-return-day-30.json")
    assert problem.value.field


PERIOD_CLAUSES = {"BB 2.1", "BB 2.2", "BB 2.3", "BB 2.4", "BB 3.1", "BB 3.2", "BB 3.3"}


def _moved(path: Path, days: int) -> dict[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    reported = date.fromisoformat(document["claim"]["reported_on"]) + timedelta(days=days)
    received = date.fromisoformat(document["product"]["received_on"])
    document["claim"]["reported_on"] = max(reported, received).isoformat()
    return {key: value for key, value in document.items() if key not in ("story", "expected")}


REFUSED_AS_LATE = [path for path in EXAMPLES
                   if _expected(path)["outcome"] == "deny" and _expected(path).get("deciding_clause") in PERIOD_CLAUSES]
APPROVED = [path for path in EXAMPLES if _expected(path)["outcome"] == "approve"]


def test_the_laws_have_examples_to_test() -> None:
    assert len(REFUSED_AS_LATE) >= 8 and len(APPROVED) >= 15


@pytest.mark.parametrize("path", REFUSED_AS_LATE, ids=[path.stem for path in REFUSED_AS_LATE])
def test_a_later_request_never_undoes_a_period_refusal(bestbuy: claimrules.CompiledPolicy, path: Path) -> None:
    """BB 2-3: every period ends; a request refused as too late is refused on any later day too."""
    for days in (1, 7, 30, 365):
        decision = bestbuy.adjudicate(_moved(path, days))
        assert decision.outcome == "deny", f"+{days} days: {decision.outcome}"


@pytest.mark.parametrize("path", APPROVED, ids=[path.stem for path in APPROVED])
def test_an_earlier_request_keeps_an_approval(bestbuy: claimrules.CompiledPolicy, path: Path) -> None:
    """BB 1.2: a period runs from the day of receipt; asking earlier in it changes neither outcome nor amounts."""
    original = bestbuy.adjudicate(bestbuy.load_claim(path))
    for days in (-1, -7, -60):
        decision = bestbuy.adjudicate(_moved(path, days))
        assert decision.outcome == "approve", f"{days} days: {decision.outcome}"
        assert [(a.kind, a.money) for a in decision.amounts] == [(a.kind, a.money) for a in original.amounts]


@pytest.mark.parametrize(("group", "name", "value", "expected"), [
    ("customer", "membership", "gold", "my_best_buy_total"),
    ("product", "opened", 1, "true or false"),
    ("product", "price", True, "amount"),
    ("product", "received_on", 1709251200, "date"),
    ("claim", "reported_on", "2024-03-15T10:00:00", "date"),
    ("claim", "reported_on", "2024-02-29", None),       # before the product was received
])
def test_a_wrong_fact_is_refused_naming_it(bestbuy: claimrules.CompiledPolicy, group: str, name: str, value: Any,
                                           expected: str | None) -> None:
    """Best Buy's vocabulary is strict: the error names the field and what it expected."""
    document = json.loads((POLICY / "examples" / "bb-standard-day-15.json").read_text(encoding="utf-8"))
    document[group][name] = value
    with pytest.raises(claimrules.ClaimError) as problem:
        bestbuy.parse_claim(document)
    # A date before another is reported by the whole-claim check: the message names the field.
    assert problem.value.field == f"{group}.{name}" or f"{group}.{name}" in str(problem.value)
    if expected is not None:
        assert expected in str(problem.value)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "claimrules.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


def test_the_command_line_decides_a_best_buy_claim_and_shows_its_own_schema(
        bestbuy: claimrules.CompiledPolicy) -> None:
    """Issue #12 acceptance: `claimrules schema --policy P` differs between the two sets."""
    ours = _cli("schema", "--policy", "policies/bestbuy")
    theirs = _cli("schema", "--policy", "policies/northwind")
    assert ours.returncode == 0 and theirs.returncode == 0, ours.stderr + theirs.stderr
    assert json.loads(ours.stdout) != json.loads(theirs.stdout)
    assert "customer" in json.loads(ours.stdout)["properties"]
    decided = _cli("check", "policies/bestbuy/examples/bb-holiday-laptop-jan-13.json", "--policy", "policies/bestbuy",
                   "--format", "json")
    assert decided.returncode == 0, decided.stderr
    decision = json.loads(decided.stdout)
    assert (decision["outcome"], decision["deciding"]["clause"]) == ("approve", "BB 3.1")
