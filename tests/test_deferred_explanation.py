"""A decision's explanation (trace, facts read, reasons) is built on first use (issue #15).

Whatever asks first, and in whatever order, the decision is the same bytes; nothing that reads a
decision (serialising it alone or inside another model, comparing, hashing, pickling, copying)
can see it without its explanation; and the check that durable_rules and the traced closures
agree still runs, when the trace is built.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from pydantic import BaseModel

import claimrules
from claimrules.decision import EXPLAINING, IDENTIFYING, Decision
from claimrules.errors import EvaluationError
from claimrules.facts import ClaimFacts, fact_values

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "claims" / "gulf-onsite-request.json"


@pytest.fixture(scope="module")
def policy() -> claimrules.CompiledPolicy:
    return claimrules.load_policy(ROOT / "policies" / "northwind")


@pytest.fixture(scope="module")
def claim(policy: claimrules.CompiledPolicy) -> ClaimFacts:
    return policy.load_claim(EXAMPLE)


def deferred(decision: Decision) -> set[str]:
    return {name for name in EXPLAINING if name not in decision.__dict__}


def test_nothing_is_explained_until_asked(policy: claimrules.CompiledPolicy, claim: ClaimFacts) -> None:
    decision = policy.adjudicate(claim)
    assert deferred(decision) == set(EXPLAINING)
    assert decision.outcome == "approve" and decision.deciding.clause == "CP 6.2"  # from the Gulf story
    assert deferred(decision) == set(EXPLAINING)


def test_the_same_bytes_whatever_is_asked_first(policy: claimrules.CompiledPolicy, claim: ClaimFacts) -> None:
    straight = policy.adjudicate(claim).model_dump_json()
    for first in EXPLAINING:
        decision = policy.adjudicate(claim)
        assert getattr(decision, first)  # every part is non-empty for this claim
        assert deferred(decision) == set(EXPLAINING) - {first}
        assert decision.model_dump_json() == straight
        assert deferred(decision) == set()
    assert '"trace":[{' in straight and '"reasons":[{' in straight and '"facts":[{' in straight


def test_an_excluded_part_is_not_built(policy: claimrules.CompiledPolicy, claim: ClaimFacts) -> None:
    decision = policy.adjudicate(claim)
    brief = decision.model_dump(mode="json", exclude={"trace"})
    assert "trace" not in brief and brief["reasons"] and brief["facts"]
    assert deferred(decision) == {"trace"}
    full = decision.model_dump(mode="json")
    assert {key: value for key, value in full.items() if key != "trace"} == brief
    assert full["trace"]


def test_inside_another_model_the_decision_is_whole(policy: claimrules.CompiledPolicy, claim: ClaimFacts) -> None:
    class Envelope(BaseModel):
        decision: Decision

    expected = policy.adjudicate(claim).model_dump(mode="json")
    wrapped = Envelope(decision=policy.adjudicate(claim)).model_dump(mode="json")
    assert wrapped["decision"] == expected
    assert wrapped["decision"]["trace"]


@pytest.mark.parametrize("options", [{}, {"exclude": {"trace"}}, {"indent": 2}, {"include": {"outcome", "reasons"}},
                                     {"exclude_defaults": True}, {"by_alias": True, "exclude_none": True}])
def test_written_directly_or_through_the_settling_wrap_the_same(policy: claimrules.CompiledPolicy, claim: ClaimFacts,
                                                                options: dict) -> None:
    # model_dump_json/model_dump settle first and then write without the wrap that settles (the
    # wrap costs a second pass); the wrap, which a decision inside another model still goes
    # through, must give the same output for every option.
    direct = policy.adjudicate(claim)
    through_wrap = policy.adjudicate(claim).settle()
    assert direct.model_dump_json(**options) == Decision.__pydantic_serializer__.to_json(through_wrap, **options).decode()
    assert direct.model_dump_json(**options) == BaseModel.model_dump_json(through_wrap, **options)
    python_options = {name: value for name, value in options.items() if name != "indent"}  # JSON only
    assert direct.model_dump(**python_options) == Decision.__pydantic_serializer__.to_python(through_wrap, **python_options)
    assert direct.model_dump(mode="json", **python_options) == Decision.__pydantic_serializer__.to_python(
        through_wrap, mode="json", **python_options)


def test_compare_hash_pickle_copy_see_the_whole_decision(policy: claimrules.CompiledPolicy, claim: ClaimFacts) -> None:
    stored = Decision.model_validate_json(policy.adjudicate(claim).model_dump_json())
    fresh = policy.adjudicate(claim)
    assert fresh == stored and stored == policy.adjudicate(claim)
    other = policy.adjudicate(policy.load_claim(ROOT / "examples" / "claims" / "gulf-late-refurb-return.json"))
    assert fresh != other and other != stored and not (policy.adjudicate(claim) == other)
    assert hash(policy.adjudicate(claim)) == hash(stored)
    assert pickle.loads(pickle.dumps(policy.adjudicate(claim))) == stored
    assert policy.adjudicate(claim).model_copy() == stored
    assert "trace=(ClauseTrace(" in repr(policy.adjudicate(claim))
    assert dict(policy.adjudicate(claim))["trace"] == stored.trace


def test_a_disagreement_between_the_engine_and_the_trace_is_still_caught(
        policy: claimrules.CompiledPolicy, claim: ClaimFacts, monkeypatch: pytest.MonkeyPatch) -> None:
    program = policy.program
    honest = program.network.fired
    fact = program.project(program.evaluate(fact_values(claim)).context)
    fired = honest(fact)
    # A rule that holds and reads only fields the claim gives: the fast path takes the engine's word for it.
    rule = next(rule for rule in program.rules if rule.name in fired and rule.clause is not None
                and rule.engine_fields & fact.keys() and rule.engine_fields <= {*fact, "one"} and rule.branch == "when")
    monkeypatch.setattr(program.network, "fired", lambda fact, groups=None, members=None: honest(fact, groups, members) - {rule.name})
    decision = policy.adjudicate(claim)
    with pytest.raises(EvaluationError, match=f"durable_rules and the trace disagree on {rule.key}"):
        decision.model_dump_json()


def test_a_trusted_value_is_the_validated_value() -> None:
    """``trusted()`` (no validation, for values claimrules computed) makes what validation makes:
    equal, same JSON, same fields set, defaults filled, and it pickles; a field it does not have, or
    a required field left out, is refused."""
    from claimrules.decision import FactUsed, Reason, ValueUsed

    value = ValueUsed.trusted(name="claim.reported_on", label="the day", kind="date", value="2024-06-23",
                              words="23 June 2024")
    validated = ValueUsed(name="claim.reported_on", label="the day", kind="date", value="2024-06-23", words="23 June 2024")
    reason = Reason.trusted(clause="RT 1.2", branch="otherwise", text="Too late.")
    assert value == validated and value.model_dump_json() == validated.model_dump_json()
    assert value.model_fields_set == validated.model_fields_set
    assert reason == Reason(clause="RT 1.2", branch="otherwise", text="Too late.") and reason.values == ()
    assert reason.model_dump_json() == Reason(clause="RT 1.2", branch="otherwise", text="Too late.").model_dump_json()
    assert pickle.loads(pickle.dumps(value)) == validated
    with pytest.raises(TypeError, match="has no field valu"):
        FactUsed.trusted(name="x", valu="typo")
    with pytest.raises(TypeError, match=r"ValueUsed.trusted\(\) is missing kind, words"):  # never a value without them
        ValueUsed.trusted(name="x", label="x", value="1")


def test_a_decision_built_for_later_explaining_is_the_validated_decision(policy: claimrules.CompiledPolicy,
                                                                          claim: ClaimFacts) -> None:
    """``Decision.explained_later`` (no validation) gives the decision validation gives once its parts
    are built; a field left out, an unknown one or a deferred part given
    as a value is refused."""
    decision = policy.adjudicate(claim)
    given = {name: value for name, value in decision.settle(IDENTIFYING).__dict__.items() if name not in EXPLAINING}
    validated = Decision.model_validate({**decision.model_dump(), **given})
    assert decision == validated and decision.model_dump_json() == validated.model_dump_json()
    explain = {name: (lambda name=name: getattr(validated, name)) for name in EXPLAINING}
    with pytest.raises(TypeError, match="is missing decision_id"):
        Decision.explained_later(explain, **{name: value for name, value in given.items() if name != "decision_id"})
    with pytest.raises(TypeError, match="cannot take verdict"):
        Decision.explained_later(explain, **given, verdict="approve")
    with pytest.raises(TypeError, match="cannot take reasons"):
        Decision.explained_later(explain, **given, reasons=())


def test_a_decision_completed_from_a_shared_part_is_the_decision_built_whole(policy: claimrules.CompiledPolicy,
                                                                              claim: ClaimFacts) -> None:
    """The part the decisions of many claims share, completed with one claim's own fields, gives the
    decision ``explained_later`` gives from all of them; the claim's fields must be exactly those
    the part leaves open, and no field may be both."""
    decision = policy.adjudicate(claim)
    given = {name: value for name, value in decision.settle(IDENTIFYING).__dict__.items() if name not in EXPLAINING}
    explain = {name: (lambda name=name: getattr(decision, name)) for name in EXPLAINING}
    own = ("decision_id", "claim_fingerprint")
    part = Decision.shared_part(own, **{name: value for name, value in given.items() if name not in own})
    completed = Decision.completed(part, explain, **{name: given[name] for name in own})
    whole = Decision.explained_later(explain, **given)
    assert completed == whole and completed.model_dump_json() == whole.model_dump_json()
    assert completed.model_fields_set == whole.model_fields_set
    assert list(completed.__dict__) == list(whole.__dict__)
    with pytest.raises(TypeError, match="needs the claim's own claim_fingerprint, decision_id"):
        Decision.completed(part, explain, decision_id=given["decision_id"])
    with pytest.raises(TypeError, match="decision_id given as shared and as the claim's own"):
        Decision.shared_part(own, **given)
    with pytest.raises(TypeError, match="cannot take verdict"):
        Decision.shared_part((*own, "verdict"), **{name: value for name, value in given.items() if name not in own})


def test_a_record_read_whole_shows_its_money_as_money(policy: claimrules.CompiledPolicy) -> None:
    """A condition reading a whole record (the plan) shows each of its given fields as the trace
    shows a value: its money as an amount with its currency, never a dump of the Money model."""
    decision = policy.adjudicate(policy.load_claim(ROOT / "examples" / "claims" / "soda-third-incident-on-12-month-boundary.json"))
    # The claim file's plan: CARE-3Y+ADP bought 2024-03-08 for USD 299.00, USD 610.00 paid out so far.
    assert decision.fact("plan") == "code=CARE-3Y+ADP, paid_to_date=USD 610.00, price=USD 299.00, purchased_on=2024-03-08"
    assert all("Decimal(" not in fact.value and "{'" not in fact.value for fact in decision.facts)


def test_a_value_replaced_is_the_validated_value_with_those_fields() -> None:
    """``replaced()`` (a dated escalation step from the party's undated one) makes what validating
    the changed fields makes, leaves the original as it was, and refuses a field the value lacks."""
    from datetime import date

    from claimrules.decision import EscalationStep

    undated = EscalationStep(clause="LW 9.1", who="Northwind customer relations", contact="+1 800 555 0100",
                             answer_within="30 days")
    dated = undated.replaced(ask_by=date(2026, 12, 27))
    validated = EscalationStep(clause="LW 9.1", who="Northwind customer relations", contact="+1 800 555 0100",
                               answer_within="30 days", ask_by=date(2026, 12, 27))
    assert dated == validated and dated.model_dump_json() == validated.model_dump_json()
    assert dated.model_fields_set == validated.model_fields_set
    assert undated.ask_by is None and pickle.loads(pickle.dumps(dated)) == validated
    with pytest.raises(TypeError, match="EscalationStep has no field ask_on"):
        undated.replaced(ask_on=date(2026, 12, 27))


def test_the_identity_is_built_on_first_use_and_is_the_same_whichever_is_asked_first(
        policy: claimrules.CompiledPolicy, claim: ClaimFacts, monkeypatch: pytest.MonkeyPatch) -> None:
    """The decision id and the claim fingerprint (hashes of the claim's canonical JSON) are built
    when first read, like the explanation: deciding a book for its outcomes does not pay for them.
    Read in any order, or only by writing the decision, they are the same, and the claim's JSON is
    made once for both."""
    import hashlib

    import claimrules.decide as decide

    written = policy.adjudicate(claim).model_dump_json()
    decision = policy.adjudicate(claim)
    assert not set(IDENTIFYING) & decision.__dict__.keys()
    assert decision.outcome == "approve"  # reading what was decided builds neither
    assert not set(IDENTIFYING) & decision.__dict__.keys()
    # docs/security.md: the fingerprint hashes the canonical claim; the id, it with the policy's and the date.
    fingerprint = hashlib.sha256(claim.model_dump_json(exclude_none=True).encode()).hexdigest()
    expected_id = "dec-" + hashlib.sha256(
        f"{fingerprint}|{policy.fingerprint}|{claim.decision_date.isoformat()}".encode()).hexdigest()[:24]
    first_fingerprint = policy.adjudicate(claim)
    assert first_fingerprint.claim_fingerprint == fingerprint and first_fingerprint.decision_id == expected_id
    first_id = policy.adjudicate(claim)
    assert first_id.decision_id == expected_id and first_id.claim_fingerprint == fingerprint
    for one in (decision, first_fingerprint, first_id):
        assert one.model_dump_json() == written
        assert list(one.__dict__) == list(Decision.model_fields)  # back in their declared places
    made = []
    monkeypatch.setattr(decide, "canonical_claim", lambda facts: made.append(facts) or facts.model_dump_json(exclude_none=True))
    assert policy.adjudicate(claim).model_dump_json() == written
    assert len(made) == 1


def test_a_decision_may_take_its_identity_as_values_or_build_it_later(policy: claimrules.CompiledPolicy,
                                                                       claim: ClaimFacts) -> None:
    """A shared part takes the claim's identifying fields as values of ``Decision.completed`` or,
    named ``later``, from the explanation; nothing else of the claim's own is built later, and a
    decision whose explanation cannot build what its part leaves for later is refused."""
    decision = policy.adjudicate(claim).settle()
    given = {name: value for name, value in decision.__dict__.items() if name not in EXPLAINING}
    explain = {name: (lambda name=name: getattr(decision, name)) for name in (*EXPLAINING, *IDENTIFYING)}
    own = (*IDENTIFYING, "decided_on")
    shared = {name: value for name, value in given.items() if name not in own}
    later = Decision.completed(Decision.shared_part(own, later=IDENTIFYING, **shared), explain,
                               decided_on=given["decided_on"])
    now = Decision.completed(Decision.shared_part(own, **shared), explain, **{name: given[name] for name in own})
    assert "decision_id" not in later.__dict__ and "decision_id" in now.__dict__
    assert later.model_dump_json() == now.model_dump_json() == decision.model_dump_json()
    assert later.model_fields_set == now.model_fields_set
    with pytest.raises(TypeError, match=r"only the claim's own identifying fields .* not decided_on"):
        Decision.shared_part(own, later=("decided_on",), **shared)
    part = Decision.shared_part(own, later=IDENTIFYING, **shared)
    with pytest.raises(TypeError, match="needs the claim's own decided_on; given decided_on, decision_id"):
        Decision.completed(part, explain, decided_on=given["decided_on"], decision_id=given["decision_id"])
    with pytest.raises(TypeError, match="needs its decision_id built later"):  # nothing to build the id from
        Decision.completed(part, {name: explain[name] for name in EXPLAINING}, decided_on=given["decided_on"])


def test_a_rule_reading_a_missing_value_that_holds_but_did_not_fire_is_caught_at_once(
        policy: claimrules.CompiledPolicy, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule that reads a value the claim lacks is traced when the claim is decided, unless it
    fired: if durable_rules leaves out a rule whose traced closure holds, deciding fails at once."""
    from support import claims_mix

    program = policy.program
    honest = program.network.fired
    for raw in claims_mix(400, 11):
        facts = parse_claim_for(policy, raw)
        evaluation = program.evaluate(fact_values(facts))
        fact = program.project(evaluation.context)  # the fields durable_rules is sent; a missing value is left out
        found = next((rule for rule in program.rules if rule.clause is not None and rule.name in evaluation.fired
                      and not rule.engine_fields <= fact.keys()), None)
        if found is not None:
            break
    else:
        pytest.fail("no generated claim fires a rule that reads a missing value")
    monkeypatch.setattr(program.network, "fired",
                        lambda fact, groups=None, members=None: honest(fact, groups, members) - {found.name})
    with pytest.raises(EvaluationError, match=f"durable_rules and the trace disagree on {found.key}"):
        policy.adjudicate(facts)


def parse_claim_for(policy: claimrules.CompiledPolicy, raw: dict) -> ClaimFacts:
    from claimrules.facts import parse_claim

    return parse_claim(raw, policy)
