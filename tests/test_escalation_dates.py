"""The date by which to ask for review is counted from each decision's own date (CP 8.3, LW 7.2, RT 5.2).

Decisions on the same date share their dated review steps (``Adjudicator`` keeps them per party
and date, issue #15); whatever was decided before, each decision is dated from its own date.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import claimrules
from claimrules.facts import ClaimFacts

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def policy() -> claimrules.CompiledPolicy:
    return claimrules.load_policy(ROOT / "policies" / "northwind")


@pytest.fixture(scope="module")
def claim(policy: claimrules.CompiledPolicy) -> ClaimFacts:
    return policy.load_claim(ROOT / "examples" / "claims" / "gulf-onsite-request.json")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(days=st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=12))
def test_the_review_step_is_dated_from_each_decision_date(policy: claimrules.CompiledPolicy, claim: ClaimFacts,
                                                          days: list[int]) -> None:
    # CP 8.3: review by a Keystone claims supervisor "on request within 60 days after the decision".
    reported = claim.decision_date
    assert reported is not None
    for offset in days:
        on = reported + timedelta(days=offset)
        decision = policy.adjudicate(claim, on=on)
        assert decision.responsible.id == "keystone"
        assert decision.escalation[0].clause == "CP 8.3"
        assert decision.escalation[0].ask_by == on + timedelta(days=60)
        assert all(step.ask_by is None for step in decision.escalation[1:])
