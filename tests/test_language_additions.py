"""The language additions of issue #12: conditional values, decision tables, 'up to' ceilings,
document versions chosen by a date, and authority-capped exceptions.

Expected values are worked out by hand from the policies written here (and, for Northwind, from
the terms: ../shared/terms/store-returns.md, sections named in each test).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from support import claim, clause, document, write_policy

import claimrules
from claimrules.engine.grants import GrantRequest, resolve_grants
from claimrules.errors import EvaluationError, PolicyError
from claimrules.facts import FACT_ROOTS
from claimrules.policy import expr as ast
from claimrules.policy.parser import parse_condition

ROOT = Path(__file__).resolve().parents[1]
DELIVERY = {"value": "coalesce(delivery.delivered_on, delivery.invoice_date + 5 days)"}


def parse(text: str) -> ast.Expr:
    return parse_condition(text, FACT_ROOTS)


def one_clause_policy(tmp_path: Path, when: str, definitions: dict[str, Any] | None = None,
                      **fields: Any) -> claimrules.CompiledPolicy:
    folder = write_policy(tmp_path / "p", [document("T", [
        clause("T 1", "covers", when=when, remedy="refund", refund="product.price"),
    ], definitions={"delivery_date": DELIVERY, **(definitions or {})}, **fields)])
    return claimrules.load_policy(folder)


# -- if ... then ... else ------------------------------------------------------------------------

def test_if_then_else_is_a_two_row_first_hit_table() -> None:
    node = parse("claim.reported_on <= if product.condition == 'new' then delivery_date + 30 days else delivery_date + 14 days")
    assert isinstance(node, ast.Compare)
    table = node.right
    assert isinstance(table, ast.Table) and table.hit == "first"
    assert table.rows[0].when == parse("product.condition == 'new'")
    assert table.rows[1].when is None and table.rows[1].value == parse("delivery_date + 14 days")


@pytest.mark.parametrize(("text", "fragment"), [
    ("if product.opened then 1", "expected 'else'"),
    ("if product.opened 1 else 2", "expected 'then'"),
])
def test_if_without_then_or_else_is_refused_with_what_was_expected(text: str, fragment: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse(text)
    assert fragment in caught.value.message


@pytest.mark.parametrize(("condition", "reported", "outcome"), [
    ("new", "2025-03-31", "approve"),         # new: day 30 after 2025-03-01 is inside
    ("new", "2025-04-01", "deny"),            # day 31 is outside
    ("refurbished", "2025-03-15", "approve"),  # otherwise branch: day 14 inside
    ("refurbished", "2025-03-16", "deny"),
])
def test_if_then_else_chooses_the_window(tmp_path: Path, condition: str, reported: str, outcome: str) -> None:
    when = ("claim.reported_on <= if product.condition == 'new' then delivery_date + 30 days "
            "else delivery_date + 14 days")
    folder = write_policy(tmp_path / "p", [document("T", [
        clause("T 1", "covers", when=when, otherwise="excludes", remedy="refund", refund="product.price"),
    ], definitions={"delivery_date": DELIVERY})])
    with claimrules.load_policy(folder) as policy:
        facts = claimrules.parse_claim(claim(claim={"type": "return", "reported_on": reported},
                                             product={"condition": condition}))
        assert policy.adjudicate(facts).outcome == outcome


def test_an_unknown_condition_leaves_a_conditional_value_unknown_and_the_claim_held(tmp_path: Path) -> None:
    # 'if product.opened then ... else ...': without product.opened the amount cannot be told (LW 6.3 style hold).
    with one_clause_policy(tmp_path, "(if product.opened then product.price * 15% else USD 0) < USD 50") as policy:
        decision = policy.adjudicate(claimrules.parse_claim(claim(product={"price": "USD 500.00"})))
        assert decision.outcome == "needs_information"
        assert decision.missing_facts == ("product.opened",)
        opened = policy.adjudicate(claimrules.parse_claim(claim(product={"price": "USD 500.00", "opened": True})))
        assert opened.outcome == "deny"  # 75.00 is not below 50: no ground for approval
        sealed = policy.adjudicate(claimrules.parse_claim(claim(product={"price": "USD 500.00", "opened": False})))
        assert sealed.outcome == "approve"


# -- decision tables -------------------------------------------------------------------------------

WINDOW_TABLE = {"table": {"hit": "first", "rows": [
    {"clause": "T 1.3", "when": "month_day(delivery_date) >= '11-15'", "value": "next_on(delivery_date, 1, 31)"},
    {"clause": "T 1.1", "when": "product.condition == 'new'", "value": "delivery_date + 30 days"},
    {"clause": "T 1.2", "otherwise": "delivery_date + 14 days"},
]}}


@pytest.mark.parametrize(("delivered", "condition", "reported", "outcome"), [
    ("2025-03-01", "new", "2025-03-31", "approve"),
    ("2025-03-01", "new", "2025-04-01", "deny"),
    ("2025-03-01", "open_box", "2025-03-15", "approve"),
    ("2025-03-01", "open_box", "2025-03-16", "deny"),
    ("2025-11-20", "open_box", "2026-01-31", "approve"),   # first row wins for a holiday delivery
    ("2025-11-20", "new", "2026-02-01", "deny"),
])
def test_first_hit_table(tmp_path: Path, delivered: str, condition: str, reported: str, outcome: str) -> None:
    with one_clause_policy(tmp_path, "claim.reported_on <= window", {"window": WINDOW_TABLE}) as policy:
        facts = claimrules.parse_claim(claim(claim={"type": "return", "reported_on": reported},
                                             product={"condition": condition},
                                             delivery={"delivered_on": delivered, "invoice_date": delivered}))
        assert policy.adjudicate(facts).outcome == outcome


def test_collect_max_takes_the_latest_row_that_holds(tmp_path: Path) -> None:
    latest = {"table": {"hit": "collect", "aggregate": "max", "rows": [
        {"when": "true", "value": "delivery_date + 14 days"},
        {"when": "product.condition == 'new'", "value": "delivery_date + 30 days"}]}}
    with one_clause_policy(tmp_path, "claim.reported_on <= window", {"window": latest}) as policy:
        def outcome(condition: str, reported: str) -> str:
            return policy.adjudicate(claimrules.parse_claim(claim(
                claim={"type": "return", "reported_on": reported}, product={"condition": condition}))).outcome
        assert outcome("new", "2025-03-31") == "approve"
        assert outcome("refurbished", "2025-03-31") == "deny"
        assert outcome("refurbished", "2025-03-15") == "approve"


def test_unique_table_with_overlapping_rows_is_an_evaluation_error(tmp_path: Path) -> None:
    overlapping = {"table": {"hit": "unique", "rows": [
        {"when": "product.price > USD 100", "value": "USD 10"},
        {"when": "product.price > USD 200", "value": "USD 20"},
        {"otherwise": "USD 0"}]}}
    with one_clause_policy(tmp_path, "fee_due > USD 5", {"fee_due": overlapping}) as policy:
        assert policy.adjudicate(claimrules.parse_claim(claim(product={"price": "USD 150.00"}))).outcome == "approve"
        with pytest.raises(EvaluationError, match="unique"):
            policy.adjudicate(claimrules.parse_claim(claim(product={"price": "USD 250.00"})))


@pytest.mark.parametrize(("table", "fragment"), [
    ({"hit": "first", "rows": [{"when": "product.opened", "value": "USD 1"}]}, "must end with an 'otherwise' row"),
    ({"hit": "best", "rows": [{"otherwise": "USD 1"}]}, "unknown hit policy"),
    ({"hit": "collect", "rows": [{"when": "product.opened", "value": "USD 1"}]}, "needs 'aggregate'"),
    ({"hit": "first", "rows": [{"otherwise": "USD 1"}, {"when": "product.opened", "value": "USD 2"}]},
     "'otherwise' row must be the last"),
    ({"hit": "first", "rows": [{"when": "product.opened", "value": "USD 1"}, {"otherwise": "2025-01-01"}]},
     "the rows give"),
])
def test_malformed_tables_are_refused_naming_the_problem(tmp_path: Path, table: dict[str, Any], fragment: str) -> None:
    with pytest.raises(PolicyError) as caught:
        one_clause_policy(tmp_path, "fee_due > USD 0", {"fee_due": {"table": table}})
    assert fragment in str(caught.value)


# -- up to ---------------------------------------------------------------------------------------

def test_up_to_is_the_lower_of_amount_and_ceiling(tmp_path: Path) -> None:
    folder = write_policy(tmp_path / "p", [document("T", [
        clause("T 1", "covers", when="product.opened", remedy="refund", refund="product.price"),
        clause("T 2", "fee", when="product.opened", fee="restocking_fee", amount="product.price * 15% up to USD 50"),
    ])])
    with claimrules.load_policy(folder) as policy:
        small = policy.adjudicate(claimrules.parse_claim(claim(product={"price": "USD 200.00", "opened": True})))
        large = policy.adjudicate(claimrules.parse_claim(claim(product={"price": "USD 1000.00", "opened": True})))
    assert str(small.amount("restocking_fee")) == "USD 30.00"   # 15% of 200, under the ceiling
    assert str(large.amount("restocking_fee")) == "USD 50.00"   # 15% of 1000 = 150, capped at 50


# -- versions chosen by a date ---------------------------------------------------------------------

def test_the_version_in_effect_on_the_version_date_governs(tmp_path: Path) -> None:
    """2019-07 governs deliveries before 2022-01-01 (and anything older), 2022-01 until 2024-01-01,
    the current 2024-01 from then on."""
    def window(days: int) -> dict[str, Any]:
        return clause("T 1", "covers", when=f"claim.reported_on within {days} days after delivery_date",
                      otherwise="excludes", remedy="refund", refund="product.price")
    folder = write_policy(tmp_path / "p", [document(
        "T", [window(30)], definitions={"delivery_date": DELIVERY}, version="2024-01", effective_from="2024-01-01",
        version_date="delivery_date",
        earlier_versions=[{"version": "2022-01", "effective_from": "2022-01-01", "clauses": [window(20)]},
                          {"version": "2019-07", "effective_from": "2019-07-01", "clauses": [window(10)]}])])
    text = (folder / "documents.yaml").read_text()
    (folder / "documents.yaml").write_text(text.replace("'2024-01-01'", "2024-01-01").replace("'2022-01-01'", "2022-01-01")
                                           .replace("'2019-07-01'", "2019-07-01"))
    with claimrules.load_policy(folder) as policy:
        def decide(delivered: str, day: int) -> claimrules.Decision:
            reported = date.fromordinal(date.fromisoformat(delivered).toordinal() + day).isoformat()
            return policy.adjudicate(claimrules.parse_claim(claim(
                claim={"type": "return", "reported_on": reported},
                delivery={"delivered_on": delivered, "invoice_date": delivered})))
        cases = [("2018-05-01", 10, "approve", "2019-07"), ("2018-05-01", 11, "deny", "2019-07"),
                 ("2021-12-31", 11, "deny", "2019-07"), ("2022-01-01", 20, "approve", "2022-01"),
                 ("2023-12-31", 21, "deny", "2022-01"), ("2024-01-01", 30, "approve", "2024-01"),
                 ("2024-01-01", 31, "deny", "2024-01")]
        for delivered, day, outcome, version in cases:
            decision = decide(delivered, day)
            assert (delivered, day, decision.outcome) == (delivered, day, outcome)
            assert decision.policy.documents == (f"T {version}",)
            assert decision.deciding.version == (None if version == "2024-01" else version)


def test_dated_versions_need_a_version_date(tmp_path: Path) -> None:
    folder = write_policy(tmp_path / "p", [document(
        "T", [clause("T 1", "covers", when="product.opened", remedy="repair")], effective_from="2024-01-01",
        earlier_versions=[{"version": "2019-07", "effective_from": "2019-07-01",
                           "clauses": [clause("T 1", "covers", when="product.defective", remedy="repair")]}])])
    text = (folder / "documents.yaml").read_text()
    (folder / "documents.yaml").write_text(text.replace("'2024-01-01'", "2024-01-01").replace("'2019-07-01'", "2019-07-01"))
    with pytest.raises(PolicyError, match="version_date"):
        claimrules.load_policy(folder)


# -- exceptions ------------------------------------------------------------------------------------

def _request(role: str, granted: str, new_end: str, limit: str | None, source: str = "x") -> GrantRequest:
    return GrantRequest("recorded", "X 1", source, role, date.fromisoformat(granted), date.fromisoformat(new_end),
                        date.fromisoformat(limit) if limit else None)


def test_grants_are_capped_chained_and_voided_whatever_their_order() -> None:
    # Window ends 2025-03-31. An agent (limit 04-07) asks for 04-10: capped by 3 days. A supervisor,
    # granting on 04-05 (inside the window as extended to 04-07), asks for 04-20: chained, counted.
    # A manager granting on 04-25, after the window as extended (04-20) ended: void.
    requests = [_request("agent", "2025-03-20", "2025-04-10", "2025-04-07", "a"),
                _request("supervisor", "2025-04-05", "2025-04-20", "2025-04-30", "b"),
                _request("manager", "2025-04-25", "2025-05-20", "2025-05-30", "c")]
    for order in (requests, list(reversed(requests)), [requests[2], requests[0], requests[1]]):
        end, outcomes = resolve_grants(date(2025, 3, 31), order)
        assert end == date(2025, 4, 20)
        by_source = {outcome["source"]: outcome for outcome in outcomes}
        assert by_source["a"]["status"] == "capped" and by_source["a"]["over_by_days"] == 3
        assert by_source["a"]["end"] == date(2025, 4, 7)
        assert by_source["b"]["status"] == "counted"
        assert by_source["c"]["status"] == "void" and "after the window as already extended" in by_source["c"]["reason"]


def test_a_role_without_authority_extends_nothing() -> None:
    end, (outcome,) = resolve_grants(date(2025, 3, 31), [_request("intern", "2025-03-01", "2025-05-01", None)])
    assert end == date(2025, 3, 31)
    assert outcome["status"] == "void" and "no authority" in outcome["reason"]


def test_an_event_role_must_have_a_cap(tmp_path: Path) -> None:
    declaration = {"exceptions": {"window_end": "delivery_date + 14 days",
                                  "authority": {"caps": {"agent": "7 days"}},
                                  "events": [{"name": "deployment", "when": "deployment is known", "role": "manager",
                                              "granted_on": "deployment.documented_on", "new_end": "deployment.ends_on"}]}}
    with pytest.raises(PolicyError, match="event role 'manager' has no cap"):
        one_clause_policy(tmp_path, "claim.reported_on <= extended", {"extended": declaration})


def test_grant_fields_are_checked(tmp_path: Path) -> None:
    declaration = {"exceptions": {"window_end": "delivery_date + 14 days", "recorded": {"list": "extensions", "role": "grantor_role"},
                                  "authority": {"caps": {"agent": "7 days"}}}}
    with pytest.raises(PolicyError, match="unknown field 'stauts' of a grant"):
        one_clause_policy(tmp_path, "any(extended where item.stauts == 'void')", {"extended": declaration})


@pytest.fixture(scope="module")
def northwind() -> claimrules.CompiledPolicy:
    policy = claimrules.load_policy(ROOT / "policies" / "northwind")
    yield policy
    policy.close()


def test_northwind_decision_says_per_exception_counted_capped_or_void(northwind: claimrules.CompiledPolicy) -> None:
    # RT 3.2: an agent may move the end at most 7 days; rt-agent-extension-capped-request-day-9 asks for 10.
    capped = northwind.adjudicate(claimrules.load_claim(ROOT / "examples/claims/rt-agent-extension-capped-request-day-9.json"))
    (extension,) = capped.exceptions
    assert (extension.status, extension.capped_by_days, extension.status_clause) == ("capped", 3, "RT 3.2")
    assert extension.declaration == "RT 3.1" and extension.role == "agent"
    # RT 3.3: the second extension was granted after the window as extended by the first had ended.
    chained = northwind.adjudicate(claimrules.load_claim(ROOT / "examples/claims/rt-chained-extension-granted-too-late.json"))
    assert [(item.source, item.status) for item in chained.exceptions] == [("extensions[1]", "counted"),
                                                                             ("extensions[2]", "void")]
    assert chained.exceptions[1].status_clause == "RT 3.3"
    # RT 3.4: a deployment documented after the window ended does not count (void).
    late = northwind.adjudicate(claimrules.load_claim(ROOT / "examples/claims/gulf-return-deployment-documented-too-late.json"))
    assert [(item.source, item.clause, item.status) for item in late.exceptions] == [("deployment", "RT 3.4", "void")]


def test_northwind_window_is_written_once() -> None:
    text = (ROOT / "policies" / "northwind" / "store-returns.yaml").read_text(encoding="utf-8")
    conditions = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    body = "\n".join(conditions)
    assert body.count("delivery_date + 30 days") == 1 and body.count("delivery_date + 14 days") == 1
    assert body.count("next_on(delivery_date, 1, 31)") == 1
    assert "7, 30, 60" not in body and "extended_end" not in body


def test_a_ceiling_in_another_currency_is_a_claim_error_naming_the_currency(tmp_path: Path) -> None:
    from claimrules.errors import ClaimError

    folder = write_policy(tmp_path / "p", [document("T", [
        clause("T 1", "covers", when="product.opened", remedy="refund", refund="product.price"),
        clause("T 2", "fee", when="product.opened", fee="restocking_fee", amount="product.price * 10% up to USD 50"),
    ])])
    with claimrules.load_policy(folder) as policy, pytest.raises(ClaimError) as caught:
        policy.adjudicate(claimrules.parse_claim(claim(product={"price": "EUR 800.00", "opened": True})))
    assert "EUR" in caught.value.message and "USD" in str(caught.value)


def _grants_strategy():  # type: ignore[no-untyped-def]
    from hypothesis import strategies as st

    start = date(2025, 3, 31).toordinal()
    day = st.integers(start - 20, start + 90).map(date.fromordinal)
    limit = st.none() | st.integers(start, start + 60).map(date.fromordinal)
    request = st.builds(lambda role, granted, length, cap, source: GrantRequest(
        "recorded", "X 1", source, role, granted, date.fromordinal(granted.toordinal() + length), cap),
        st.sampled_from(["agent", "manager"]), day, st.integers(0, 80), limit, st.text("abc", min_size=1, max_size=3))
    return st.lists(request, max_size=6)


def test_grant_resolution_is_order_free_and_grants_only_extend() -> None:
    """RT 3.3's fixed point: listing order never matters; adding a grant never ends the window
    earlier; the end is the window's own end or some counted grant's end; nothing void reaches it."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    window_end = date(2025, 3, 31)

    @settings(max_examples=300, deadline=None)
    @given(requests=_grants_strategy(), extra=_grants_strategy(), seed=st.randoms())
    def check(requests: list[GrantRequest], extra: list[GrantRequest], seed: Any) -> None:
        end, outcomes = resolve_grants(window_end, requests)
        shuffled = list(requests)
        seed.shuffle(shuffled)
        assert resolve_grants(window_end, shuffled) == (end, outcomes)
        assert resolve_grants(window_end, requests + extra)[0] >= end
        assert end == window_end or end in {item["end"] for item in outcomes if item["status"] != "void"}
        for item in outcomes:
            if item["status"] == "void":
                assert item["granted_on"] > end or "no authority" in item["reason"]
            else:
                assert item["granted_on"] <= end and item["end"] <= end
            if item["status"] == "capped":
                assert item["over_by_days"] == (item["new_end"] - item["end"]).days > 0

    check()
