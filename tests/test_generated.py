"""The hot path (issue #15) changes how fast a decision is made, never what it is.

The reference closures (``Program(policy, fast=False)``) and the generated code (the default) must
give the same decision, byte for byte in JSON with the full trace, on every example claim and on
thousands of generated ones; and the JSON each ruleset is sent must be the bytes the reference
encoder writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import claims_mix

from claimrules.decide import Adjudicator
from claimrules.engine import durable
from claimrules.engine.evaluate import Context
from claimrules.engine.program import DOCUMENTS, Program
from claimrules.facts import fact_values, load_claim, parse_claim
from claimrules.policy import loader

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "northwind"



@pytest.fixture(scope="module")
def paths() -> tuple[Adjudicator, Adjudicator]:
    policy = loader.load_policy(POLICY)
    return Adjudicator(Program(policy, fast=False)), Adjudicator(Program(policy))


def test_generated_code_decides_every_example_exactly_as_the_reference(paths: tuple[Adjudicator, Adjudicator]) -> None:
    reference, fast = paths
    examples = sorted((ROOT / "examples" / "claims").glob("*.json"))
    assert len(examples) > 50
    for path in examples:
        facts = load_claim(path, reference.policy)
        assert fast.decide(facts).model_dump_json() == reference.decide(facts).model_dump_json(), path.name


def test_generated_code_decides_thousands_of_generated_claims_exactly_as_the_reference(
        paths: tuple[Adjudicator, Adjudicator]) -> None:
    reference, fast = paths
    outcomes: set[str] = set()
    for claim in claims_mix(2000, seed=4242):
        facts = parse_claim(claim, reference.policy)
        expected = reference.decide(facts)
        assert fast.decide(facts).model_dump_json() == expected.model_dump_json(), json.dumps(claim)
        outcomes.add(expected.outcome)
    assert {"approve", "deny", "refer"} <= outcomes  # the sample reaches every outcome the mix can give


def test_a_decision_assembled_from_a_cached_template_is_the_decision_assembled_afresh(
        paths: tuple[Adjudicator, Adjudicator]) -> None:
    # What the rules' results and the answers decide is assembled once per combination of them
    # (issue #15): a claim whose combination was seen takes it from the cache, with its own values.
    # A claim missing a fact no rule reads has the rule results of one that gives it, not its answers.
    _, fast = paths
    warmed, afresh = Adjudicator(fast.program), Adjudicator(fast.program)
    examples = [load_claim(path, fast.policy) for path in sorted((ROOT / "examples" / "claims").glob("*.json"))]
    claims = [parse_claim(claim, fast.policy) for claim in claims_mix(800, seed=5151)] + examples
    for facts in claims:
        warmed.decide(facts)
    assert 0 < len(warmed._templates) < len(claims) * 3 // 4  # many claims share a combination with another
    approvals_with_amounts = 0
    for facts in reversed(claims):
        afresh._templates.clear()
        expected = afresh.decide(facts)
        assert warmed.decide(facts).model_dump_json() == expected.model_dump_json()
        approvals_with_amounts += bool(expected.amounts)
    assert approvals_with_amounts > 10  # amounts are the claim's own, never the template's


def test_generated_source_is_the_same_for_the_same_policy() -> None:
    first, second = loader.load_policy(POLICY), loader.load_policy(POLICY)
    with_first, with_second = Program(first), Program(second)
    try:
        assert with_first.generated_source == with_second.generated_source
        assert "def project(ctx):" in with_first.generated_source
        assert with_first.generated_source.count("\ndef rule_") + 1 >= len(with_first.rules) // 2
    finally:
        with_first.close()
        with_second.close()


_values = st.one_of(st.text(max_size=20), st.integers(-(2**62), 2**62), st.booleans(),
                    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9))


@given(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), _values, max_size=12))
def test_members_encoded_once_give_the_bytes_of_encoding_each_ruleset_s_fields(fact: dict[str, Any]) -> None:
    # RuleNetwork.fired's payload: the fact's head, then each member a ruleset reads (picked by one
    # itemgetter: a tuple, a lone string or nothing), as encoding that sub-object with the head gives.
    members = {field: "," + durable.encode_member(field, value) for field, value in fact.items()}
    fields = tuple(field for field in sorted(fact)[::2] if field not in ("sid", "id"))
    payload = durable._FACT_HEAD + "".join(durable._picker(fields)(members)) + "}"
    head = {"sid": durable.LIVE_SID, "id": "f", durable.GUARD_FIELD: 1}
    assert payload == durable._encode({**head, **{field: fact[field] for field in fields}})


@given(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), _values, max_size=12))
def test_a_member_encoded_alone_gives_the_bytes_of_encoding_the_fact(fact: dict[str, Any]) -> None:
    members = [durable.encode_member(field, value) for field, value in fact.items()]
    assert "{" + ",".join(members) + "}" == durable._encode(fact)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_float_json_cannot_write_is_refused_as_json_refuses_it(value: float) -> None:
    # encode_value writes a finite float itself (float.__repr__, as json does): anything else goes
    # to json, which refuses it, so no fact carries 'inf' or 'NaN' to durable_rules.
    with pytest.raises(ValueError):
        durable._encode(value)
    with pytest.raises(ValueError):
        durable.encode_value(value)


def test_the_fill_functions_write_the_json_durable_rules_is_sent_for_their_values() -> None:
    # The generated code writes each value and its JSON side by side; the JSON must be what
    # encoding the finished fact gives, for every kind of value (text, yes/no, whole numbers,
    # dates as day numbers, money and numbers as floats).
    program = Program(loader.load_policy(POLICY))
    try:
        kinds: set[type] = set()
        for claim in claims_mix(300, seed=99):
            ctx = Context(fact_values(parse_claim(claim, program.policy)))
            fact: dict[str, Any] = {"one": 1}
            encoded = {"one": ',"one":1'}
            for _, fill in program._fills:
                fill(ctx, fact, encoded)
            assert encoded == {field: "," + durable.encode_member(field, value) for field, value in fact.items()}, \
                json.dumps(claim)
            kinds |= {type(value) for value in fact.values()}
        assert {str, bool, int, float} <= kinds
    finally:
        program.close()


def test_generated_source_holds_no_policy_text_only_field_names() -> None:
    import ast as python_ast

    program = Program(loader.load_policy(POLICY))
    try:
        tree = python_ast.parse(program.generated_source)
        strings = {node.value for node in python_ast.walk(tree)
                   if isinstance(node, python_ast.Constant) and isinstance(node.value, str)}
        # Field names, and the JSON the fill functions write: each field's own part (',"name":'),
        # and with true or false, and the 'one' field.
        fields = program.durable.fields
        members = {f',"{name}":{value}' for name in fields for value in ("", "true", "false")}
        allowed = {"one", ',"one":1', *fields, *members, *(p.path for p in fields.values() if p.path)}
        assert strings <= allowed
        assert not any(isinstance(node, (python_ast.Import, python_ast.ImportFrom)) for node in python_ast.walk(tree))
    finally:
        program.close()


@pytest.mark.parametrize("fast", [True, False])
def test_clause_rulesets_of_a_document_that_does_not_apply_are_not_asked(monkeypatch: pytest.MonkeyPatch, fast: bool) -> None:
    """A return of a software licence: the Care Plan applies to repair claims under a plan only, so the
    default path never sends the claim to the Care Plan's clause rulesets, and none of its clauses
    holds; the reference path asks every ruleset."""
    policy = loader.load_policy(POLICY)
    program = Program(policy, fast=fast)
    asked: list[str] = []
    real = durable._assert_fact

    def recording(handle: int, payload: str) -> Any:
        asked.append(program.network._group[handle])
        return real(handle, payload)

    monkeypatch.setattr(durable, "_assert_fact", recording)
    try:
        facts = load_claim(ROOT / "examples" / "claims" / "rt-activated-software-licence.json", policy)
        evaluation = program.evaluate(fact_values(facts))
        may_apply = {document.id for document in policy.documents if evaluation.truth[f"doc:{document.id}"] is not False}
        assert "RT" in may_apply and "CP" not in may_apply
        if fast:
            assert set(asked) == {DOCUMENTS} | may_apply
        else:
            assert set(asked) == {DOCUMENTS} | {document.id for document in policy.documents
                                                if any(rule.document is document for rule in program.rules if rule.clause)}
        assert not any(evaluation.truth[rule.key] for rule in program.rules if rule.clause and rule.document.id == "CP")
    finally:
        program.close()
