"""durable_rules and the traced evaluator must agree on every rule, for any condition and any claim.

A policy of randomly composed conditions (fixed seed) is compiled once; hypothesis then throws
claims at it with facts present, absent and at boundaries. ``Program.evaluate`` raises
EvaluationError on any disagreement, and this test also checks the agreement itself.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import NORTHWIND, claim, clause, document, write_policy

import claimrules
from claimrules.facts import fact_values, parse_claim

ATOMS = [
    "claim.reported_on within 14 days after delivery.delivered_on",
    "claim.reported_on within 30 days after delivery_date",
    "claim.reported_on within 1 month after delivery_date",
    "claim.reported_on within 1 year after delivery_date",
    "claim.reported_on <= delivery_date + 10 business days",
    "product.condition in {'refurbished', 'open_box'}",
    "product.condition == 'new'",
    "product.opened",
    "product.defective == false",
    "product.price > USD 300",
    "incident.cause == 'drop'",
    "incident.cause in accidental",
    "location in territory",
    "count(prior_incidents where item.covered) >= 1",
    "any(prior_incidents where item.occurred_on >= incident.occurred_on - 12 months)",
    "plan is known",
    "incident.occurred_on is missing",
    "'ADP' in plan.options",
    "incident.occurred_on - 12 months <= claim.reported_on",
    "location.miles_to_service_location <= 100",
    "month_day(delivery_date) >= '11-15'",
    "claim.reported_on <= next_on(delivery_date, 1, 31)",
    "plan.purchased_on > delivery_date + 30 days",
    "incident.battery_capacity_pct < 80",
]


def random_condition(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth >= 3 or roll < 0.4:
        atom = rng.choice(ATOMS)
        return f"not ({atom})" if rng.random() < 0.25 else atom
    joiner = " and " if roll < 0.7 else " or "
    parts = [random_condition(rng, depth + 1) for _ in range(rng.randint(2, 3))]
    text = joiner.join(f"({part})" for part in parts)
    return f"not ({text})" if rng.random() < 0.15 else text


@pytest.fixture(scope="module")
def random_policy(tmp_path_factory: pytest.TempPathFactory) -> claimrules.CompiledPolicy:
    rng = random.Random(20261125)
    clauses = [clause(f"X {index}", "covers", when=random_condition(rng), remedy="repair") for index in range(1, 41)]
    definitions = {
        "delivery_date": {"value": "coalesce(delivery.delivered_on, delivery.invoice_date + 5 days)"},
        "territory": {"sets": ["us_states_and_dc", "eea"], "codes": ["CA", "GB"]},
        "accidental": {"constants": ["drop", "liquid", "impact"]},
    }
    folder = write_policy(tmp_path_factory.mktemp("random") / "p", [document("X", clauses, definitions=definitions)])
    policy = claimrules.load_policy(folder)
    yield policy
    policy.close()


def dates(start: date = date(2023, 10, 1), days: int = 800) -> st.SearchStrategy[date]:
    return st.integers(0, days).map(lambda offset: start + timedelta(days=offset))


@st.composite
def claims(draw: st.DrawFn) -> dict:
    delivered = draw(dates())
    reported = delivered + timedelta(days=draw(st.sampled_from([0, 13, 14, 15, 29, 30, 31, 60, 365, 366, 400])))
    location = draw(st.sampled_from([("US", "US-AL"), ("US", None), ("PR", None), ("FR", None), ("MX", None), ("CA", None)]))
    facts: dict = {
        "claim": {"type": "repair", "reported_on": reported.isoformat()},
        "product": {"condition": draw(st.sampled_from(["new", "refurbished", "open_box"])),
                    "price": draw(st.sampled_from(["USD 299.00", "USD 300.00", "USD 999.00"])),
                    "opened": draw(st.none() | st.booleans()), "defective": draw(st.none() | st.booleans())},
        "delivery": {"delivered_on": draw(st.none() | st.just(delivered.isoformat())),
                     "invoice_date": (delivered - timedelta(days=2)).isoformat()},
        "purchase": {"seller": "northwind_store", "channel": "online", "buyer": "consumer", "country": "US",
                     "delivery_country": "US"},
        "location": {"country": location[0], "subdivision": location[1],
                     "miles_to_service_location": draw(st.none() | st.sampled_from([Decimal("99"), Decimal("100"), Decimal("100.5"), Decimal("140")]))},
    }
    if draw(st.booleans()):
        facts["plan"] = {"code": draw(st.sampled_from(["CARE-2Y", "CARE-3Y+ADP", "CARE-3Y+ADP+ONSITE"])),
                         "purchased_on": (delivered + timedelta(days=draw(st.sampled_from([0, 30, 31, 61])))).isoformat()}
    if draw(st.booleans()):
        occurred = draw(st.none() | st.just((reported - timedelta(days=3)).isoformat()))
        facts["incident"] = {"occurred_on": occurred, "cause": draw(st.none() | st.sampled_from(["drop", "defect", "liquid"])),
                             "battery_capacity_pct": draw(st.none() | st.sampled_from([79, 80]))}
        facts["prior_incidents"] = [
            {"occurred_on": (reported - timedelta(days=days)).isoformat(), "kind": "accidental", "covered": covered}
            for days, covered in draw(st.lists(st.tuples(st.sampled_from([100, 365, 366, 367]), st.booleans()), max_size=3))
        ]
    return facts


def signature_of(program: object, truth: dict) -> tuple[int, int]:
    """``Evaluation.signature`` worked out from the results: bit i for the i-th rule that holds, and
    for the i-th rule unknown."""
    rules = program.rules  # type: ignore[attr-defined]
    return (sum(1 << index for index, rule in enumerate(rules) if truth[rule.key] is True),
            sum(1 << index for index, rule in enumerate(rules) if truth[rule.key] is None))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=claims())
def test_engine_and_trace_agree(random_policy: claimrules.CompiledPolicy, raw: dict) -> None:
    facts = parse_claim(raw, random_policy)
    program = random_policy.program
    evaluation = program.evaluate(fact_values(facts))  # raises EvaluationError if a rule that may be unknown disagrees
    from claimrules.engine.compiler import fact_for

    fired = program.network.fired(fact_for(program.durable.fields, evaluation.context))
    assert fired == {rule.name for rule in program.rules if evaluation.truth[rule.key] is True}
    # The decision reads the results in rule order and scans for unknowns only when told there are some.
    assert tuple(evaluation.truth) == tuple(rule.key for rule in program.rules)
    assert evaluation.unknown == (None in evaluation.truth.values())
    assert evaluation.signature == signature_of(program, evaluation.truth)
    decision = random_policy.adjudicate(facts)
    assert decision.outcome in ("approve", "deny", "refer", "needs_information")
    # Building the trace runs every traced closure of the documents that may apply and checks it
    # against what fired (a rule that fired is not re-run by Program.evaluate).
    assert len(decision.trace) >= sum(1 for rule in program.rules if rule.branch == "applies")


def test_conditions_over_durable_rules_limits_still_compile_and_agree(tmp_path: Path) -> None:
    """An and of five 4-way memberships has 4**5 alpha paths: far over the 64 durable_rules walks."""
    sets = " and ".join(
        f"({field} in {{{values}}})" for field, values in [
            ("product.serial_number", "'S1', 'S2', 'S3', 'S4'"),  # text: enum facts only compare with declared values
            ("incident.cause", "'drop', 'liquid', 'impact', 'surge'"),
            ("purchase.channel", "'online', 'phone', 'in_store', 'reseller'"),
            ("claim.requested_service", "'any', 'depot', 'on_site', 'refund'"),
            ("claim.claimant_id", "'C1', 'C2', 'C3', 'C4'"),
        ])
    deep = " or ".join(f"(claim.reported_on within {days} days after delivery.delivered_on and product.opened)"
                       for days in range(1, 18))
    folder = write_policy(tmp_path / "heavy", [document("H", [
        clause("H 1", "covers", when=sets, remedy="repair"),
        clause("H 2", "covers", when=deep, remedy="repair"),
    ])])
    with claimrules.load_policy(folder) as policy:
        program = policy.program
        raw = {"claim": {"type": "repair", "reported_on": "2025-03-05", "requested_service": "depot", "claimant_id": "C2"},
               "product": {"condition": "new", "price": "USD 1.00", "opened": True, "serial_number": "S3"},
               "delivery": {"delivered_on": "2025-03-01", "invoice_date": "2025-03-01"},
               "purchase": {"seller": "other", "channel": "phone", "buyer": "consumer", "country": "US",
                            "delivery_country": "US"},
               "location": {"country": "US", "subdivision": "US-OH"},
               "incident": {"cause": "liquid"}}
        evaluation = program.evaluate(fact_values(parse_claim(raw, policy)))
        assert evaluation.truth["H 1"] is True and evaluation.truth["H 2"] is True
        raw["incident"] = {"cause": "theft"}
        raw["claim"]["reported_on"] = "2025-03-25"
        evaluation = program.evaluate(fact_values(parse_claim(raw, policy)))
        assert evaluation.truth["H 1"] is False and evaluation.truth["H 2"] is False


# -- the language additions: conditional values, decision tables, 'up to', exceptions ----------------
# Each is compiled to durable_rules (natively or as a computed term) and evaluated by the traced
# evaluator; every clause below uses one of them, alone, negated and combined, and the two engines
# must agree on every claim.

NEW_ATOMS = [
    "claim.reported_on <= if product.condition == 'new' then delivery_date + 30 days else delivery_date + 14 days",
    "claim.reported_on <= window_first",
    "claim.reported_on <= window_unique",
    "claim.reported_on <= window_latest",
    "window_count >= 2",
    "if product.opened then product.defective == false else false",
    "product.price * 15% up to USD 100 >= USD 100",
    "product.price up to USD 400 < USD 400",
    "claim.reported_on <= extended",
    "any(extended where item.status == 'capped')",
    "any(extended where item.status == 'void' and item.kind == 'recorded')",
    "count(extended where item.status == 'counted') >= 1",
    "any(extended where item.kind == 'deployment' and claim.reported_on <= item.end)",
]

NEW_DEFINITIONS = {
    "delivery_date": {"value": "coalesce(delivery.delivered_on, delivery.invoice_date + 5 days)"},
    "window_first": {"table": {"hit": "first", "rows": [
        {"when": "month_day(delivery_date) >= '11-15'", "value": "next_on(delivery_date, 1, 31)"},
        {"when": "product.condition == 'new'", "value": "delivery_date + 30 days"},
        {"otherwise": "delivery_date + 14 days"}]}},
    "window_unique": {"table": {"hit": "unique", "rows": [
        {"when": "product.condition == 'new'", "value": "delivery_date + 1 month"},
        {"when": "product.condition == 'refurbished'", "value": "delivery_date + 10 business days"},
        {"otherwise": "delivery_date + 7 days"}]}},
    "window_latest": {"table": {"hit": "collect", "aggregate": "max", "rows": [
        {"when": "true", "value": "delivery_date + 14 days"},
        {"when": "product.condition == 'new'", "value": "delivery_date + 30 days"},
        {"when": "month_day(delivery_date) >= '11-15'", "value": "next_on(delivery_date, 1, 31)"}]}},
    "window_count": {"table": {"hit": "collect", "aggregate": "count", "rows": [
        {"when": "product.opened", "value": "1"},
        {"when": "product.defective", "value": "1"},
        {"when": "product.condition == 'new'", "value": "1"}]}},
    "extended": {"exceptions": {
        "window_end": "window_first",
        "recorded": {"list": "extensions", "role": "grantor_role"},
        "authority": {"caps": {"agent": "7 days", "supervisor": "30 days", "manager": "2 months"}},
        "events": [{"name": "deployment", "when": "deployment is known", "role": "manager",
                    "granted_on": "deployment.documented_on", "new_end": "deployment.ends_on + 14 days"}]}},
}


@pytest.fixture(scope="module")
def language_policy(tmp_path_factory: pytest.TempPathFactory) -> claimrules.CompiledPolicy:
    rng = random.Random(20261127)
    whens = list(NEW_ATOMS) + [f"not ({atom})" for atom in NEW_ATOMS]
    for _ in range(20):
        parts = rng.sample(NEW_ATOMS + ATOMS[:6], 3)
        whens.append((" and " if rng.random() < 0.5 else " or ").join(f"({part})" for part in parts))
    clauses = [clause(f"L {index}", "covers", when=when, remedy="repair") for index, when in enumerate(whens, start=1)]
    definitions = {**NEW_DEFINITIONS, "territory": {"sets": ["us_states_and_dc"]}, "accidental": {"constants": ["drop"]}}
    folder = write_policy(tmp_path_factory.mktemp("language") / "p", [document("L", clauses, definitions=definitions)])
    policy = claimrules.load_policy(folder)
    yield policy
    policy.close()


@st.composite
def claims_with_grants(draw: st.DrawFn) -> dict:
    facts = draw(claims())
    facts["claim"]["type"] = "return"
    delivered = date.fromisoformat(facts["delivery"]["invoice_date"]) + timedelta(days=2)
    grants = []
    for _ in range(draw(st.integers(0, 3))):
        granted = delivered + timedelta(days=draw(st.sampled_from([5, 14, 15, 30, 31, 40, 75])))
        grants.append({"grantor_id": "S-1", "grantor_role": draw(st.sampled_from(["agent", "supervisor", "manager"])),
                       "granted_on": granted.isoformat(),
                       "new_end": (granted + timedelta(days=draw(st.sampled_from([1, 6, 7, 8, 25, 40, 70])))).isoformat()})
    facts["extensions"] = grants
    if draw(st.booleans()):
        documented = delivered + timedelta(days=draw(st.sampled_from([3, 14, 20, 45])))
        facts["deployment"] = {"kind": "armed_forces", "documented_on": documented.isoformat(),
                               "ends_on": (documented + timedelta(days=draw(st.sampled_from([1, 30, 90])))).isoformat()}
    return facts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=claims_with_grants())
def test_engine_and_trace_agree_on_tables_conditionals_ceilings_and_exceptions(
        language_policy: claimrules.CompiledPolicy, raw: dict) -> None:
    from claimrules.engine.compiler import fact_for

    facts = parse_claim(raw, language_policy)
    program = language_policy.program
    evaluation = program.evaluate(fact_values(facts))  # raises EvaluationError if a rule that may be unknown disagrees
    fired = program.network.fired(fact_for(program.durable.fields, evaluation.context))
    assert fired == {rule.name for rule in program.rules if evaluation.truth[rule.key] is True}
    # The decision reads the results in rule order and scans for unknowns only when told there are some.
    assert tuple(evaluation.truth) == tuple(rule.key for rule in program.rules)
    assert evaluation.unknown == (None in evaluation.truth.values())
    assert evaluation.signature == signature_of(program, evaluation.truth)
    decision = language_policy.adjudicate(facts)
    assert len(decision.trace) >= sum(1 for rule in program.rules if rule.branch == "applies")  # checks every closure
    assert len(decision.exceptions) == len(raw["extensions"]) + (1 if "deployment" in raw else 0) or (
        decision.fact("extended") == "unknown")


def test_a_clause_of_a_document_that_does_not_apply_never_holds(tmp_path: Path) -> None:
    """A repair decided under a regional addendum ("R 1" approves what "W 1" refuses). Plan "P"
    applies to returns only, so its clauses naming the store responsible over the addendum do not
    hold for a repair, although the condition of "P 8" does and "P 9" has none: the addendum's
    own party answers, and no clause of "P" is true."""
    folder = write_policy(tmp_path / "p", [
        document("W", [clause("W 1", "excludes", when="claim.type == 'repair'")]),
        document("R", [clause("R 1", "covers", when="claim.type == 'repair'", remedy="repair")],
                 regional=True, applies_when="location.country == 'US'"),
        document("P", [clause("P 1", "covers", when="claim.type == 'return'", remedy="refund"),
                       clause("P 8", "responsible", when="claim.type == 'repair'", party="store", over=["R"]),
                       clause("P 9", "responsible", party="store", over=["R"])],
                 applies_when="claim.type == 'return'"),
    ])
    with claimrules.load_policy(folder) as policy:
        facts = parse_claim(claim(), policy)  # a repair in Ohio, US
        decision = policy.adjudicate(facts)
        assert (decision.outcome, decision.under_addendum, decision.responsible.id) == ("approve", "R", "maker")
        assert decision.responsible_clause is None
        evaluation = policy.program.evaluate(fact_values(facts))
        assert evaluation.truth["doc:P"] is False
        plan_rules = [rule.key for rule in policy.program.rules if rule.clause is not None and rule.document.id == "P"]
        assert len(plan_rules) == 2 and not any(evaluation.truth[key] for key in plan_rules)


def test_a_decision_does_not_depend_on_the_claims_decided_before_it() -> None:
    """Shared pieces of decisions (answer shapes, resolutions, review dates, traces, fills, the engine's live states) never carry
    one claim's values into another's decision: every example, decided in file order by one loaded
    policy set and in reverse order by another, gets the same explained JSON."""
    examples = sorted((Path(__file__).resolve().parents[1] / "examples" / "claims").glob("*.json"))
    assert len(examples) > 100
    with claimrules.load_policy(NORTHWIND) as forward, claimrules.load_policy(NORTHWIND) as backward:
        first = {path.name: forward.adjudicate(forward.load_claim(path)).model_dump_json() for path in examples}
        second = {path.name: backward.adjudicate(backward.load_claim(path)).model_dump_json() for path in reversed(examples)}
        # And again by the first, every shared piece now found kept rather than built.
        again = {path.name: forward.adjudicate(forward.load_claim(path)).model_dump_json() for path in examples}
    assert [name for name in first if first[name] != second[name]] == []
    assert again == first
    assert len({json for json in first.values()}) == len(examples)  # distinct claims, distinct decisions


def test_the_rules_left_open_by_absent_values_are_remembered_within_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Which clause rules a set of absent values leaves open is worked out once per set and kept
    within a bound: with a bound far below what the examples need, every example is decided as a
    fresh policy set decides it, and the remembered sets never hold more than the bound."""
    from claimrules.engine import program as program_module

    examples = sorted((Path(__file__).resolve().parents[1] / "examples" / "claims").glob("*.json"))
    with claimrules.load_policy(NORTHWIND) as roomy:
        expected = [roomy.adjudicate(roomy.load_claim(path)).model_dump_json() for path in examples]
        assert len(roomy.program._traced) > 3  # the examples leave different sets of values absent
    monkeypatch.setattr(program_module, "_MAX_ABSENT_MEMBERS", 40)
    with claimrules.load_policy(NORTHWIND) as tight:
        seen = []
        for path in examples:
            seen.append(tight.adjudicate(tight.load_claim(path)).model_dump_json())
            assert tight.program._traced_members <= 40 or len(tight.program._traced) == 1
    assert seen == expected
