"""Every ground, every time: the grounds of a decision are exactly the clauses it relied on.

LW 7.1, CP 8.2 and RT 5.1 say a decision "states all grounds at once" and a ground not stated may
not be relied on later; RG 0.1 says an addendum weighed is cited beside the contract's sections.
docs/policy-language.md ("Grounds") defines which clauses those are; these tests read that
definition against the trace of random claims (the trace records every branch of every clause,
independently of how the resolver picks grounds).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from test_properties import any_claims

import claimrules
from claimrules import CompiledPolicy, Decision
from claimrules.facts import parse_claim
from claimrules.policy.model import COVERING_EFFECTS, REFUSING_EFFECTS, Clause, Effect, PolicySet

Key = tuple[str, str | None]


@pytest.fixture(scope="module")
def northwind() -> Iterator[CompiledPolicy]:
    policy = claimrules.load_policy("policies/northwind")
    yield policy
    policy.close()


@st.composite
def claims(draw: st.DrawFn) -> dict[str, Any]:
    """Random claims, with the facts RG EU.3 / UK.3 and RG AU.1 read given or left out."""
    facts = draw(any_claims())
    if draw(st.integers(0, 2)) == 0:
        # A repair reported after the first year, where periods end and LW 5.1 refuses.
        delivery = facts["delivery"]
        received = date.fromisoformat(delivery.get("delivered_on") or delivery.get("picked_up_on"))
        facts["claim"]["type"] = "repair"
        facts["claim"]["reported_on"] = (received + timedelta(days=draw(st.integers(366, 1200)))).isoformat()
    if "incident" in facts and draw(st.booleans()):
        facts["incident"]["cause_stated_by"] = draw(st.sampled_from(["customer", "inspection", "seller"]))
    if draw(st.booleans()):
        facts["product"]["failure"] = draw(st.sampled_from(["major", "minor"]))
    return facts


def branches(decision: Decision, policy: PolicySet) -> dict[str, set[tuple[Key, Effect]]]:
    """Per applying document, the branches that hold: (clause, effect of the branch), less those set aside."""
    applying = {trace.document for trace in decision.trace if trace.clause.endswith("(applies)") and trace.result == "true"}
    clauses: dict[Key, Clause] = {(clause.id, clause.version): clause for document in policy.documents
                                  for clause in document.clauses}
    holding: dict[str, set[tuple[Key, Effect]]] = {document: set() for document in applying}
    for key, clause in clauses.items():
        if clause.document in applying and clause.when is None and clause.applies is None:
            holding[clause.document].add((key, clause.effect))
    for trace in decision.trace:
        key = (trace.clause, trace.version)
        if trace.result != "true" or trace.document not in applying or key not in clauses:
            continue
        clause = clauses[key]
        effect = clause.otherwise if trace.branch == "otherwise" else clause.effect
        assert effect is not None
        holding[trace.document].add((key, effect))
    for document, found in holding.items():
        set_aside = {target for key, effect in found if effect == clauses[key].effect for target in clauses[key].overrides}
        holding[document] = {(key, effect) for key, effect in found if key[0] not in set_aside}
    return holding


def expected_grounds(decision: Decision, policy: PolicySet) -> set[Key] | None:
    """The definition, for refusals and referrals: every refusing (referring) branch that holds in a
    document whose answer is a refusal (referral). None for other outcomes."""
    holding = branches(decision, policy)
    refusing = {document: {key for key, effect in found if effect in REFUSING_EFFECTS} for document, found in holding.items()}
    if decision.outcome == "deny":
        return set().union(*refusing.values()) if refusing else set()
    if decision.outcome == "refer":
        return {key for document, found in holding.items() if not refusing[document]
                for key, effect in found if effect == Effect.REFERS}
    return None


@given(claims())
def test_grounds_are_exactly_the_clauses_relied_on(northwind: CompiledPolicy, facts: dict[str, Any]) -> None:
    decision = northwind.adjudicate(parse_claim(facts, northwind))
    event(decision.outcome)
    policy = northwind.policy
    grounds = {(ground.clause, ground.version) for ground in decision.grounds}
    cited = [ground.clause for ground in decision.grounds]
    expected = expected_grounds(decision, policy)
    if expected is not None:
        # Refusals and referrals: every refusing (referring) branch that holds, and nothing else.
        if not expected:  # no document answered: the set's 'otherwise' clause
            assert decision.outcome == "deny"
            assert cited == [policy.otherwise_clause]
        else:
            assert grounds == expected
    if decision.outcome == "approve":
        # Approvals: every covering clause of the deciding document, and only clauses that hold.
        holding = branches(decision, policy)
        covering = {key for key, effect in holding[decision.deciding.document] if effect in COVERING_EFFECTS}
        assert covering <= grounds
        everywhere = {key for found in holding.values() for key, effect in found
                      if effect in (*COVERING_EFFECTS, Effect.REMEDY, Effect.FEE)}
        assert grounds <= everywhere, f"grounds that do not hold: {grounds - everywhere}"
    if "LW 5.1" in cited:
        # LW 5.1 relies on 'the warranty period', set by LW 2.1 (new, open-box) or LW 2.2 (refurbished).
        event("LW 5.1 refusal")
        assert ("LW 2.2" if facts["product"]["condition"] == "refurbished" else "LW 2.1") in cited
    if decision.outcome == "approve" and "CP 3.2" in cited:
        # CP 4.1: the count of incidents in 12 months is relied on whenever CP 3.2 approves.
        event("CP 3.2 approval")
        assert "CP 4.1" in cited
