"""The policy language: parsing, three-valued evaluation, dates, and how clauses combine."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from support import claim, clause, document, write_policy

import claimrules
from claimrules.errors import PolicyError
from claimrules.facts import FACT_ROOTS
from claimrules.policy import expr as ast
from claimrules.policy.parser import parse_condition


def parse(text: str) -> ast.Expr:
    return parse_condition(text, FACT_ROOTS)


# -- parsing --------------------------------------------------------------------------------------

def test_precedence_of_and_over_or() -> None:
    node = parse("product.opened or product.defective and claim.type == 'return'")
    assert isinstance(node, ast.AnyOf)
    assert isinstance(node.items[1], ast.All)


def test_within_parses_duration_and_anchor() -> None:
    node = parse("claim.reported_on within 30 days after delivery_date")
    assert node == ast.Within(ast.Fact("claim.reported_on"), ast.Ref("delivery_date"), ast.Duration(30, "days"))


def test_business_days_and_months_shift() -> None:
    node = parse("plan.purchased_on + 10 business days >= incident.occurred_on - 12 months")
    assert isinstance(node, ast.Compare)
    assert node.left == ast.Shift(ast.Fact("plan.purchased_on"), 1, ast.Duration(10, "business_days"))
    assert node.right == ast.Shift(ast.Fact("incident.occurred_on"), -1, ast.Duration(12, "months"))


def test_money_percent_and_sets() -> None:
    node = parse("product.price * 15% > USD 49 and incident.cause not in {'drop', 'liquid'}")
    assert isinstance(node, ast.All)
    product = node.items[0]
    assert isinstance(product, ast.Compare) and isinstance(product.left, ast.Arith)
    assert str(product.right.value) == "USD 49.00"  # type: ignore[union-attr]
    member = node.items[1]
    assert isinstance(member, ast.Member) and member.negated


def test_count_where_and_holds() -> None:
    node = parse("count(prior_incidents where item.covered) >= 2 and not holds('LW 5.1')")
    assert isinstance(node, ast.All)
    assert isinstance(node.items[0].left, ast.Quantified)  # type: ignore[union-attr]
    assert node.items[1] == ast.Not(ast.Holds("LW 5.1"))


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("product.condition ==", 21, "expected a value"),
        ("claim.reported_on within 30 after delivery_date", 29, "expected a unit"),
        ("product.condition = 'new'", 19, "unexpected character '='"),
        ("frobnicate(product.price)", 1, "unknown function 'frobnicate'"),
        ("product.condition == 'new' product.opened", 28, "unexpected text after the condition"),
        ("claim.reported_on > 2025-02-30", 21, "2025-02-30 is not a real date"),
    ],
)
def test_parse_errors_point_at_the_column(text: str, column: int, fragment: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse(text)
    assert caught.value.column == column
    assert fragment in caught.value.message


def test_nesting_limit() -> None:
    with pytest.raises(PolicyError, match="nested more than 32 levels"):
        parse("(" * 40 + "product.opened" + ")" * 40)


# -- evaluation through a real compiled policy --------------------------------------------------------

@pytest.fixture()
def window_policy(tmp_path: Path) -> claimrules.CompiledPolicy:
    folder = write_policy(tmp_path / "p", [document("RT", [
        clause("RT 1", "covers", applies="product.condition == 'refurbished'",
               when="claim.reported_on within 14 days after delivery_date", otherwise="excludes",
               remedy="refund", refund="product.price"),
        clause("RT 2", "covers", applies="product.condition == 'new'",
               when="claim.reported_on within 1 month after delivery_date", otherwise="excludes", remedy="refund",
               refund="product.price"),
        clause("RT 3", "extends", when="claim.reported_on > delivery_date + 14 days and claim.reported_on <= rt_extended",
               overrides=["RT 1"], remedy="refund", refund="product.price"),
        clause("RT 4", "fee", when="product.opened and not product.defective", fee="restocking_fee",
               amount="product.price * 15%"),
    ], definitions={"delivery_date": {"value": "coalesce(delivery.delivered_on, delivery.invoice_date + 5 days)"},
                    "rt_extended": {"exceptions": {
                        "window_end": "delivery_date + 14 days",
                        "recorded": {"list": "extensions", "role": "grantor_role"},
                        "authority": {"caps": {"agent": "7 days", "supervisor": "30 days", "manager": "60 days"}},
                        "events": [{"name": "deployment", "when": "deployment is known", "role": "manager",
                                    "granted_on": "deployment.documented_on", "new_end": "deployment.ends_on + 14 days"}],
                    }}})])
    policy = claimrules.load_policy(folder)
    yield policy
    policy.close()


@pytest.mark.parametrize(("reported", "outcome"), [("2025-03-15", "approve"), ("2025-03-16", "deny")])
def test_day_n_is_inside_day_n_plus_1_is_outside(window_policy: claimrules.CompiledPolicy, reported: str, outcome: str) -> None:
    facts = claim(claim={"type": "return", "reported_on": reported}, product={"condition": "refurbished", "opened": False})
    decision = window_policy.adjudicate(facts)
    assert decision.outcome == outcome
    assert decision.deciding.clause == "RT 1"


def test_month_window_clamps_to_month_end(window_policy: claimrules.CompiledPolicy) -> None:
    base = {"delivered_on": "2025-01-31", "invoice_date": "2025-01-30"}
    sealed = {"opened": False}
    inside = window_policy.adjudicate(claim(claim={"type": "return", "reported_on": "2025-02-28"}, delivery=base, product=sealed))
    outside = window_policy.adjudicate(claim(claim={"type": "return", "reported_on": "2025-03-01"}, delivery=base, product=sealed))
    assert (inside.outcome, outside.outcome) == ("approve", "deny")


def test_invoice_plus_five_days_when_no_delivery_recorded(window_policy: claimrules.CompiledPolicy) -> None:
    delivery = {"delivered_on": None, "invoice_date": "2025-03-01"}
    facts = claim(claim={"type": "return", "reported_on": "2025-03-20"}, delivery=delivery,
                  product={"condition": "refurbished", "opened": False})
    assert window_policy.adjudicate(facts).outcome == "approve"  # window ends 2025-03-20
    late = claim(claim={"type": "return", "reported_on": "2025-03-21"}, delivery=delivery,
                 product={"condition": "refurbished", "opened": False})
    assert window_policy.adjudicate(late).outcome == "deny"


def test_extension_overrides_window_and_is_the_deciding_ground(window_policy: claimrules.CompiledPolicy) -> None:
    extension = {"grantor_id": "M-7", "grantor_role": "manager", "granted_on": "2025-03-10", "new_end": "2025-04-30"}
    facts = claim(claim={"type": "return", "reported_on": "2025-04-20"}, product={"condition": "refurbished", "opened": False},
                  extensions=[extension])
    decision = window_policy.adjudicate(facts)
    assert decision.outcome == "approve"
    assert decision.deciding.clause == "RT 3"
    assert "RT 1" not in [citation.clause for citation in decision.grounds]


def test_agent_extension_is_capped_at_seven_days(window_policy: claimrules.CompiledPolicy) -> None:
    extension = {"grantor_id": "A-1", "grantor_role": "agent", "granted_on": "2025-03-10", "new_end": "2025-04-30"}
    inside = claim(claim={"type": "return", "reported_on": "2025-03-22"}, product={"condition": "refurbished", "opened": False},
                   extensions=[extension])
    outside = claim(claim={"type": "return", "reported_on": "2025-03-23"}, product={"condition": "refurbished", "opened": False},
                    extensions=[extension])
    assert window_policy.adjudicate(inside).outcome == "approve"
    assert window_policy.adjudicate(outside).outcome == "deny"


def test_restocking_fee_is_deducted_from_refund(window_policy: claimrules.CompiledPolicy) -> None:
    facts = claim(claim={"type": "return", "reported_on": "2025-03-05"}, product={"condition": "new", "opened": True,
                                                                                   "defective": False})
    decision = window_policy.adjudicate(facts)
    assert str(decision.amount("restocking_fee")) == "USD 75.00"
    assert str(decision.amount("refund")) == "USD 425.00"


def test_missing_fact_that_matters_holds_the_claim(window_policy: claimrules.CompiledPolicy) -> None:
    facts = claim(claim={"type": "return", "reported_on": "2025-03-05"}, product={"condition": "new", "opened": True})
    decision = window_policy.adjudicate(facts)
    assert decision.outcome == "needs_information"
    assert decision.missing_facts == ("product.defective",)


def test_missing_fact_that_cannot_matter_is_not_asked_for(window_policy: claimrules.CompiledPolicy) -> None:
    facts = claim(claim={"type": "return", "reported_on": "2025-06-05"}, product={"condition": "refurbished", "opened": True})
    decision = window_policy.adjudicate(facts)
    assert decision.outcome == "deny"
    assert decision.missing_facts == ()


def test_trace_shows_each_condition_with_the_facts_it_read(window_policy: claimrules.CompiledPolicy) -> None:
    facts = claim(claim={"type": "return", "reported_on": "2025-03-16"}, product={"condition": "refurbished", "opened": False})
    decision = window_policy.adjudicate(facts)
    rt1 = next(trace for trace in decision.trace if trace.clause == "RT 1" and trace.branch == "otherwise")
    assert rt1.result == "true"
    window = next(condition for condition in rt1.conditions if "within" in condition.condition)
    assert window.result == "false"
    assert {(name, decision.fact(name)) for name in window.reads} >= {("claim.reported_on", "2025-03-16"),
                                                                  ("delivery_date", "2025-03-01")}


def test_decision_id_is_stable_and_depends_on_the_date(window_policy: claimrules.CompiledPolicy) -> None:
    facts = claimrules.parse_claim(claim(claim={"type": "return", "reported_on": "2025-03-05"}, product={"opened": False}))
    first = window_policy.adjudicate(facts)
    again = window_policy.adjudicate(facts)
    later = window_policy.adjudicate(facts, on=date(2025, 3, 6))
    assert first == again
    assert first.decision_id == again.decision_id != later.decision_id


def test_comparing_amounts_in_two_currencies_is_a_claim_error(tmp_path: Path) -> None:
    folder = write_policy(tmp_path / "usd", [document("P", [
        clause("P 1", "covers", when="product.price > USD 1000", remedy="repair")])])
    with claimrules.load_policy(folder) as policy:
        with pytest.raises(claimrules.ClaimError) as caught:
            policy.adjudicate(claim(product={"price": "EUR 1299.00"}))
    assert caught.value.field == "currency"
    assert "an amount in EUR cannot be compared with USD" in caught.value.message
