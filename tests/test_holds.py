"""LW 6.3 by brute force: a claim is held for exactly the missing facts whose value changes the decision.

"A claim that lacks a fact on which the decision depends is neither refused nor approved: it is held,
and the customer is asked in writing for exactly the missing facts. A fact that cannot change the
decision is not asked for." (LW 6.3)

Claims are generated complete, then 1-3 facts are removed. Each removed fact is given every value
the policy mentions for it (every value of an enumeration, both truth values, and for a date every
date of the claim moved by every duration written in the policy files, with the day either side),
every combination is decided as a whole claim (``adjudicate``, through durable_rules), and a fact
must be asked for iff two combinations that differ only in that fact decide differently (outcome,
remedy or amounts); a fact a clause 'requires' is asked for whenever an answer needs it and the
claim lacks it (LW 6.1, CP 7.2), whatever its value. This does not reuse the engine's own analysis (claimrules.holds): it reads the
durations from the policy text and decides completed claims end to end.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import re
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta

import claimrules
from claimrules.facts import parse_claim

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "northwind"
sys.path.insert(0, str(ROOT / "bench"))
from claims_mix import claim as mix_claim  # noqa: E402

CAUSES = ["defect", "battery", "drop", "impact", "liquid", "screen_crack", "surge", "cosmetic", "loss", "theft",
          "intentional", "abuse", "operating_conditions", "natural_disaster", "software", "data_loss", "consumable"]
ENUMS: dict[str, list[Any]] = {
    "incident.cause": CAUSES,
    "incident.remote_diagnosis": ["on_site_repairable", "depot_only"],
    "incident.cause_stated_by": ["customer", "inspection", "seller"],
    "product.failure": ["major", "minor"],
    "claim.return_reason": ["no_reason", "defective"],
}
BOOLS = ["incident.screen_only", "incident.caused_by_natural_disaster", "incident.consumer_caused_proven",
         "product.serial_intact", "product.opened", "product.defective", "product.damaged_by_customer",
         "product.licence_activated", "product.proof_of_purchase", "product.serial_registered_to_claimant"]
NUMBERS = {"incident.battery_capacity_pct": [0, 79, 80, 100]}
DATES = ["incident.occurred_on"]
REMOVABLE = sorted([*ENUMS, *BOOLS, *NUMBERS, *DATES])
BUDGET = 1200  # combinations decided per claim (a date and an enumeration together are too many)


def policy_durations() -> list[relativedelta]:
    """Every 'N days/months/years' written in the policy files (read from the text, not the engine)."""
    found = {(0, "days")}
    for path in POLICY.glob("*.yaml"):
        for amount, unit in re.findall(r"\b(\d+) (day|days|month|months|year|years)\b", path.read_text(encoding="utf-8")):
            found.add((int(amount), unit.rstrip("s") + "s"))
    return [relativedelta(**{unit: amount}) for amount, unit in sorted(found)]


DURATIONS = policy_durations()


def complete_claim(rng: random.Random) -> dict[str, Any]:
    """A claim from the benchmark mix with every fact the policies read given."""
    facts = mix_claim(rng)
    groups = {"product"} | ({"incident"} if "incident" in facts else set())
    if facts["claim"]["type"] == "return":
        groups.add("claim")
    for path in REMOVABLE:
        group, name = path.split(".")
        if group in groups and facts[group].get(name) is None:
            facts[group][name] = rng.choice(values_for(path, facts)) if path not in DATES else facts["claim"]["reported_on"]
    return facts


def dates_of(facts: dict[str, Any]) -> set[date]:
    found: set[date] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)
        elif isinstance(node, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", node):
            found.add(date.fromisoformat(node))

    visit(facts)
    delivery = facts["delivery"]
    invoice = date.fromisoformat(delivery["invoice_date"])
    found.add(invoice + timedelta(days=5))
    return found


def values_for(path: str, facts: dict[str, Any]) -> list[Any]:
    if path in ENUMS:
        return ENUMS[path]
    if path in BOOLS:
        return [False, True]
    if path in NUMBERS:
        return NUMBERS[path]
    days: set[date] = set()
    for anchor in dates_of(facts):
        for duration in DURATIONS:
            for moved in (anchor + duration, anchor - duration):
                days |= {moved - timedelta(days=1), moved, moved + timedelta(days=1)}
    return sorted(day.isoformat() for day in days)


def with_values(facts: dict[str, Any], assignment: dict[str, Any]) -> dict[str, Any]:
    filled = copy.deepcopy(facts)
    for path, value in assignment.items():
        group, name = path.split(".")
        filled.setdefault(group, {})[name] = value
    return filled


def signature(decision: claimrules.Decision) -> tuple[Any, ...]:
    return (decision.outcome, decision.remedy, tuple(sorted((a.kind, str(a.money)) for a in decision.amounts)),
            tuple(decision.missing_facts))


def removed_claims(seed: int, count: int) -> Iterator[tuple[dict[str, Any], list[str]]]:
    rng = random.Random(seed)
    produced = 0
    while produced < count:
        facts = complete_claim(rng)
        present = [path for path in REMOVABLE
                   if facts.get(path.split(".")[0], {}).get(path.split(".")[1]) is not None]
        if not present:
            continue
        removed = rng.sample(present, min(len(present), rng.randint(1, 3)))
        size = 1
        for path in removed:
            size *= len(values_for(path, facts))
        if size > BUDGET:
            continue
        for path in removed:
            group, name = path.split(".")
            del facts[group][name]
        produced += 1
        yield facts, sorted(removed)


def brute_force(policy: claimrules.CompiledPolicy, facts: dict[str, Any], removed: list[str]) -> tuple[set[str], set[Any]]:
    """The removed facts whose value changes the decision, and the signatures every combination gives."""
    domains = [values_for(path, facts) for path in removed]
    table: dict[tuple[int, ...], tuple[Any, ...]] = {}
    for choice in itertools.product(*(range(len(domain)) for domain in domains)):
        assignment = {path: domain[index] for path, domain, index in zip(removed, domains, choice)}
        try:
            claim = parse_claim(with_values(facts, assignment), policy)
        except claimrules.ClaimError:
            continue  # e.g. an incident date the claim model refuses
        table[choice] = signature(policy.adjudicate(claim))
    mattering = set()
    for position, path in enumerate(removed):
        seen: dict[tuple[int, ...], tuple[Any, ...]] = {}
        for choice, found in table.items():
            rest = choice[:position] + choice[position + 1:]
            if seen.setdefault(rest, found) != found:
                mattering.add(path)
                break
    return mattering, set(table.values())


@pytest.fixture(scope="module")
def northwind() -> Iterator[claimrules.CompiledPolicy]:
    policy = claimrules.load_policy(POLICY)
    yield policy
    policy.close()


CASES = list(removed_claims(seed=11, count=40))


@pytest.mark.parametrize("case", range(len(CASES)))
def test_missing_facts_are_exactly_those_that_change_the_decision(northwind: claimrules.CompiledPolicy, case: int) -> None:
    facts, removed = CASES[case]
    decision = northwind.adjudicate(parse_claim(facts, northwind))
    mattering, outcomes = brute_force(northwind, facts, removed)
    story = json.dumps({"removed": removed, "claim": facts})
    # A fact a clause 'requires' (LW 6.1, CP 7.2: "A claim lacking one is held") is asked for when
    # an answer needs it and the claim lacks it, whatever its value would be.
    required = {path for clause in northwind.policy.clauses_by_key.values() for path in clause.requires}
    asked = set(decision.missing_facts)
    assert asked - required == mattering - required, f"asked {sorted(asked)}, brute force says {sorted(mattering)}: {story}"
    assert all(path in removed for path in asked), story
    if not mattering and not asked:
        # Every value gives one decision, and it is the decision made without the facts.
        assert len(outcomes) == 1, story
        assert signature(decision) in outcomes, story


def test_a_document_that_applies_once_the_missing_fact_is_given_is_weighed(tmp_path: Path) -> None:
    """A document whose own rule tests whether the missing fact is given does not apply to the claim
    as it is, but does to every completion of it; its clauses count in the case split as they do
    when the fact is given. Expected by deciding each completed claim whole (LW 6.3's test above)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support import claim, clause, document, write_policy

    folder = write_policy(tmp_path / "p", [
        document("W", [clause("W 1", "covers", "incident.cause == 'defect'"),
                       clause("W 2", "excludes", "incident.cause_stated_by == 'customer'")],
                 applies_when="claim.type == 'repair'"),
        document("S", [clause("S 1", "covers", "product.condition == 'new'")],
                 applies_when="incident.cause_stated_by is known"),
    ])
    policy = claimrules.load_policy(folder)
    lacking = claim(incident={"cause": "drop", "occurred_on": "2025-03-10"})
    completed = {}
    for stated_by in ("customer", "inspection", "seller"):
        whole = policy.adjudicate(parse_claim(copy.deepcopy(lacking) | {"incident": {**lacking["incident"], "cause_stated_by": stated_by}}, policy))
        completed[stated_by] = (whole.outcome, whole.deciding.clause)
    assert set(completed.values()) == {("approve", "S 1")}  # S applies to every completion, and S 1 covers
    decision = policy.adjudicate(parse_claim(lacking, policy))
    assert (decision.outcome, decision.deciding.clause, decision.missing_facts) == ("approve", "S 1", ())
