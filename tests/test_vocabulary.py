"""The claim vocabulary a policy set declares (facts.yaml), and the laws of the claim model built from it.

The law (#13): any JSON value of the wrong type in any field of a valid claim is rejected with that
field named, never accepted with another meaning (``true`` is not 1, ``1726444800`` is not a date).
"""

from __future__ import annotations

import copy
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import claimrules
from claimrules.errors import ClaimError, PolicyError
from claimrules.facts import fact_values
from claimrules.vocabulary import FactSpec, Vocabulary

ROOT = Path(__file__).resolve().parents[1]
NORTHWIND = ROOT / "policies" / "northwind"
VOCABULARY = claimrules.load_vocabulary(NORTHWIND)

# A valid claim giving every fact of the Northwind vocabulary (checked below), so that the law can
# put a wrong value into each of them.
FULL_CLAIM: dict[str, Any] = {
    "claim": {"type": "repair", "requested_service": "depot", "reported_on": "2024-09-16", "reported_after_17h": False,
              "return_reason": "defective", "description": "Screen flickers.", "claimant_id": "C-1"},
    "product": {"serial_number": "NW-1", "serial_intact": True, "serial_registered_to_claimant": True,
                "proof_of_purchase": True, "condition": "new", "category": "computer", "price": "USD 1299.00",
                "opened": True, "defective": True, "damaged_by_customer": False, "licence_activated": False,
                "missing_accessories": [{"name": "charger", "list_price": "USD 49.00"}], "failure": "minor"},
    "delivery": {"delivered_on": "2024-06-03", "picked_up_on": "2024-06-03", "invoice_date": "2024-05-30"},
    "purchase": {"seller": "other", "channel": "online", "buyer": "consumer", "country": "US", "delivery_country": "US",
                 "delivery_charge": "USD 10.00"},
    "location": {"country": "US", "subdivision": "US-OH", "military_address": False, "miles_to_service_location": 12},
    "plan": {"code": "CARE-3Y+ADP", "purchased_on": "2024-05-30", "cancelled_on": "2024-09-20", "price": "USD 229.00",
             "paid_to_date": "USD 0.00"},
    "incident": {"occurred_on": "2024-09-10", "cause": "defect", "screen_only": False, "part": "display",
                 "battery_capacity_pct": 90, "remote_diagnosis": "depot_only", "caused_by_natural_disaster": False,
                 "description": "It flickers.", "consumer_caused_proven": False,
                 "cause_stated_by": "customer"},
    "prior_incidents": [{"occurred_on": "2024-07-01", "kind": "defect", "covered": True}],
    "prior_repairs": [{"repaired_on": "2024-07-05", "part": "keyboard", "under": "warranty"}],
    "unauthorized_work": [{"performed_on": "2024-08-01", "touched_failed_part": False}],
    "extensions": [{"grantor_id": "A-1", "grantor_role": "agent", "granted_on": "2024-06-10", "new_end": "2024-07-10"}],
    "deployment": {"kind": "emergency_response", "documented_on": "2024-06-10", "ends_on": "2024-08-10"},
    "repair_estimate": "USD 300.00",
}


def _fields(specs: tuple[FactSpec, ...], prefix: str) -> list[tuple[str, FactSpec]]:
    """Every declared fact with the path a claim error names it by (list items as extensions[0].new_end)."""
    found: list[tuple[str, FactSpec]] = []
    for spec in specs:
        path = prefix + spec.name
        found.append((path, spec))
        if spec.type == "group":
            found += _fields(spec.fields, path + ".")
        elif spec.type == "list":
            found += _fields(spec.fields, path + "[0].")
    return found


FIELDS = _fields(VOCABULARY.groups, "")


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    parts = re.findall(r"[a-z0-9_]+|\[0\]", path)
    target: Any = document
    for part in parts[:-1]:
        target = target[0] if part == "[0]" else target[part]
    target[parts[-1]] = value


def _get(document: dict[str, Any], path: str) -> Any:
    target: Any = document
    for part in re.findall(r"[a-z0-9_]+|\[0\]", path):
        target = target[0] if part == "[0]" else target[part]
    return target


# -- the vocabulary and the model built from it ---------------------------------------------------------

def test_the_full_claim_is_valid_and_gives_every_declared_fact() -> None:
    facts = claimrules.parse_claim(FULL_CLAIM, VOCABULARY)
    for path, _ in FIELDS:
        assert _get(FULL_CLAIM, path) is not None, f"{path} is declared but the full claim does not give it"
    assert facts.plan.code == "CARE-3Y+ADP"
    assert len(FIELDS) >= 76  # 14 groups and lists, 62 facts (more as policies add facts)


def test_plan_codes_are_read_by_the_declared_pattern() -> None:
    """CP 1.1: CARE-3Y+ADP+ONSITE is the 3-year plan with the ADP and ONSITE options."""
    document = copy.deepcopy(FULL_CLAIM)
    document["plan"]["code"] = "CARE-3Y+ONSITE+ADP"
    values = fact_values(claimrules.parse_claim(document, VOCABULARY))
    assert values["plan.term_years"] == 3
    assert values["plan.base"] == "CARE-3Y"
    assert values["plan.options"] == ("ADP", "ONSITE")
    del document["plan"]
    values = fact_values(claimrules.parse_claim(document, VOCABULARY))
    assert values["plan.term_years"] is None and values["plan.options"] is None
    assert VOCABULARY.derived_from == {"plan.term_years": "plan.code", "plan.base": "plan.code", "plan.options": "plan.code"}


def test_list_facts_come_in_one_canonical_order() -> None:
    first = copy.deepcopy(FULL_CLAIM)
    first["prior_repairs"] = [{"repaired_on": "2024-07-05", "part": "keyboard"}, {"repaired_on": "2024-07-01", "part": "fan"}]
    second = copy.deepcopy(first)
    second["prior_repairs"].reverse()
    one, two = (claimrules.parse_claim(document, VOCABULARY) for document in (first, second))
    assert one.model_dump_json() == two.model_dump_json()


def test_the_schema_is_built_from_the_vocabulary() -> None:
    schema = claimrules.claim_json_schema(VOCABULARY)
    assert schema["required"] == ["claim", "product", "delivery", "purchase", "location"]
    claim = schema["$defs"]["Claim"]["properties"]
    assert claim["type"]["enum"] == ["return", "repair", "cancel_plan"]
    assert claim["reported_on"]["format"] == "date"
    battery = schema["$defs"]["Incident"]["properties"]["battery_capacity_pct"]["anyOf"][0]
    assert battery == {"type": "integer", "minimum": 0, "maximum": 100}


def test_a_python_datetime_is_not_a_date() -> None:
    document = copy.deepcopy(FULL_CLAIM)
    document["claim"]["reported_on"] = datetime(2024, 9, 16, 0, 0)
    with pytest.raises(ClaimError) as raised:
        claimrules.parse_claim(document, VOCABULARY)
    assert raised.value.field == "claim.reported_on"
    document["claim"]["reported_on"] = date(2024, 9, 16)
    assert claimrules.parse_claim(document, VOCABULARY).claim.reported_on == date(2024, 9, 16)


# -- the law: a wrong JSON type in any field is refused, naming the field ------------------------------

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONEY = re.compile(r"\s*[A-Za-z]{3} +\S+\s*")
JSON_SCALARS = (st.none() | st.booleans() | st.integers(-10**12, 10**12)
                | st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10**6, max_value=10**6)
                | st.text(max_size=12) | st.sampled_from(["1726444800", "20240916", "2024-09-16T00:00:00+14:00", "true",
                                                          "90", "12.5", "USD"]))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, Decimal)) and not isinstance(value, bool)


def _right_type(spec: FactSpec, value: Any) -> bool:
    """Whether a JSON value has the type the fact declares (its value may still be out of range)."""
    if value is None:
        return not spec.required and not spec.has_default and spec.type != "list"
    kind = spec.type
    if kind == "date":
        return isinstance(value, str) and bool(_ISO.fullmatch(value))
    if kind == "bool":
        return isinstance(value, bool)
    if kind in ("integer", "decimal"):
        return _is_number(value)
    if kind == "enum":
        return value in spec.values
    if kind in ("text", "country", "subdivision"):
        return isinstance(value, str)
    if kind == "money":
        return (isinstance(value, str) and bool(_MONEY.fullmatch(value))) or isinstance(value, dict)
    if kind == "group":
        return isinstance(value, dict)
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


@st.composite
def wrong_values(draw: st.DrawFn) -> tuple[str, Any]:
    path, spec = draw(st.sampled_from(FIELDS))
    value = draw(JSON_VALUES.filter(lambda candidate: not _right_type(spec, candidate)))
    return path, value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(wrong_values())
def test_a_wrong_type_in_any_field_is_refused_naming_that_field(case: tuple[str, Any]) -> None:
    path, value = case
    document = copy.deepcopy(FULL_CLAIM)
    _set(document, path, value)
    with pytest.raises(ClaimError) as raised:
        claimrules.parse_claim(document, VOCABULARY)
    field = raised.value.field or ""
    assert field == path or field.startswith((path + ".", path + "[")), (field, str(raised.value))


@pytest.mark.parametrize(("path", "spec"), FIELDS, ids=[path for path, _ in FIELDS])
def test_every_field_refuses_the_classic_coercions(path: str, spec: FactSpec) -> None:
    """true, 1726444800, '1726444800', '20240916' and '2024-09-16T00:00:00+14:00', wherever they are wrong."""
    for value in (True, 1726444800, "1726444800", "20240916", "2024-09-16T00:00:00+14:00", "90", {"x": 1}):
        if _right_type(spec, value):
            continue
        document = copy.deepcopy(FULL_CLAIM)
        _set(document, path, value)
        with pytest.raises(ClaimError) as raised:
            claimrules.parse_claim(document, VOCABULARY)
        field = raised.value.field or ""
        assert field == path or field.startswith((path + ".", path + "[")), (value, str(raised.value))


# -- any policy's vocabulary ------------------------------------------------------------------------------

def _write_set(folder: Path, facts: dict[str, Any], clauses: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"policy_set": {
        "id": "generated", "title": "Generated", "documents": ["terms.yaml"], "facts": "vocabulary.yaml",
        "parties": {"seller": {"name": "Seller"}},
        "precedence": {"rule": "most_favourable", "clause": "T 0.1", "tie_order": ["T"]},
        "otherwise": {"clause": "T 0.2"}, "needs_information": {"clause": "T 0.3"}}}
    base = [{"id": "T 0.1", "title": "Precedence", "text": "The best answer wins.", "effect": "precedence"},
            {"id": "T 0.2", "title": "Nothing else", "text": "Nothing else is covered.", "effect": "states"},
            {"id": "T 0.3", "title": "Information", "text": "We may ask for facts.", "effect": "states"}]
    terms = {"documents": [{"id": "T", "title": "Terms", "issuer": "Seller", "responsible": "seller", "version": "1",
                            "clauses": base + clauses}]}
    (folder / "policy-set.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    (folder / "vocabulary.yaml").write_text(yaml.safe_dump({"facts": facts}, sort_keys=False), encoding="utf-8")
    (folder / "terms.yaml").write_text(yaml.safe_dump(terms, sort_keys=False), encoding="utf-8")
    return folder


def test_another_makers_vocabulary_decides_by_its_own_facts(tmp_path: Path) -> None:
    """A product line the policy says is never returnable: the field exists because the policy declares it."""
    facts = {"order": {"fields": {
        "line": {"type": "enum", "values": ["laptop", "monitor", "printer"], "required": True},
        "placed_on": {"type": "date", "required": True},
        "returned_on": {"type": "date", "required": True, "not_before": "placed_on", "role": "decision_date"},
        "price": {"type": "money", "required": True}}}}
    clauses = [
        {"id": "T 1", "title": "Returns", "text": "Returns within 21 days.", "effect": "covers",
         "when": "order.returned_on <= order.placed_on + 21 days", "otherwise": "excludes", "remedy": "refund",
         "refund": "order.price"},
        {"id": "T 2", "title": "Printers", "text": "Printers are never returnable.", "effect": "excludes",
         "when": "order.line == 'printer'"}]
    with claimrules.load_policy(_write_set(tmp_path / "maker", facts, clauses)) as policy:
        claim = {"order": {"line": "printer", "placed_on": "2025-01-02", "returned_on": "2025-01-05", "price": "USD 17000.00"}}
        decision = policy.adjudicate(claim)
        assert (decision.outcome, decision.deciding.clause) == ("deny", "T 2")
        claim["order"]["line"] = "laptop"
        assert policy.adjudicate(claim).outcome == "approve"
        claim["order"]["returned_on"] = "2025-01-01"
        with pytest.raises(ClaimError, match=r"order.returned_on is before order.placed_on"):
            policy.parse_claim(claim)
        with pytest.raises(ClaimError) as raised:
            policy.parse_claim({"order": {**claim["order"], "line": "tv"}})
        assert raised.value.field == "order.line"
        assert "product" not in policy.claim_schema()["properties"]


def test_a_policy_naming_a_fact_its_vocabulary_lacks_is_refused(tmp_path: Path) -> None:
    facts = {"order": {"fields": {"placed_on": {"type": "date", "required": True}}}}
    clauses = [{"id": "T 1", "title": "T", "text": "T.", "effect": "covers", "when": "product.price > USD 1", "remedy": "refund"}]
    with pytest.raises(PolicyError, match=r"unknown fact 'product\.price'"):
        claimrules.load_policy(_write_set(tmp_path / "p", facts, clauses))


FACT_KINDS = [
    ({"type": "integer", "min": 0, "max": 1000}, "{f} > 500", 7, 900),
    ({"type": "bool"}, "{f}", False, True),
    ({"type": "date"}, "{f} < 2020-01-01", "2024-01-01", "2019-06-01"),
    ({"type": "enum", "values": ["a", "b", "c"]}, "{f} == 'c'", "a", "c"),
    ({"type": "decimal", "min": 0, "max": 100, "places": 2}, "{f} >= 99.5", "12.25", "99.75"),
    ({"type": "money"}, "{f} > USD 1000", "USD 5.00", "USD 1500.00"),
    ({"type": "text", "max_length": 20}, "{f} == 'bad'", "fine", "bad"),
    ({"type": "country"}, "{f} == 'FR'", "US", "FR"),
]


def _big_policy(folder: Path, count: int) -> tuple[Path, dict[str, Any]]:
    """A vocabulary of ``count`` facts, each read by its own refusal clause; and a claim giving them all."""
    fields: dict[str, Any] = {"asked_on": {"type": "date", "required": True, "role": "decision_date"}}
    clauses: list[dict[str, Any]] = [{"id": "T 1.0", "title": "Cover", "text": "Everything is covered.",
                                      "effect": "covers", "when": True, "remedy": "repair"}]
    claim: dict[str, Any] = {"asked_on": "2025-03-01"}
    for index in range(count):
        declaration, test, good, _ = FACT_KINDS[index % len(FACT_KINDS)]
        name = f"f{index:03d}"
        fields[name] = copy.deepcopy(declaration)
        clauses.append({"id": f"T 2.{index}", "title": f"Refusal {index}", "text": f"Refused when {name} is bad.",
                        "effect": "excludes", "when": test.format(f=f"facts.{name}")})
        claim[name] = Decimal(good) if declaration["type"] == "decimal" else good
    return _write_set(folder, {"facts": {"fields": fields}}, clauses), {"facts": claim}


def _bad_value(index: int) -> Any:
    declaration, _, _, bad = FACT_KINDS[index % len(FACT_KINDS)]
    return Decimal(bad) if declaration["type"] == "decimal" else bad


def test_a_vocabulary_of_200_facts_compiles_and_decides(tmp_path: Path) -> None:
    """Each clause T 2.i refuses the claim when fact i is bad; nothing else refuses (T 1.0 covers)."""
    folder, claim = _big_policy(tmp_path / "big", 200)
    with claimrules.load_policy(folder) as policy:
        assert len(policy.vocabulary.paths) == 202  # the group, the decision date and 200 facts read by clauses
        assert policy.adjudicate(claim).outcome == "approve"
        for index in (0, 57, 113, 199):
            bad = copy.deepcopy(claim)
            bad["facts"][f"f{index:03d}"] = _bad_value(index)
            decision = policy.adjudicate(bad)
            assert (decision.outcome, decision.deciding.clause) == ("deny", f"T 2.{index}")
            assert [ground.clause for ground in decision.grounds] == [f"T 2.{index}"]
        missing = copy.deepcopy(claim)
        del missing["facts"]["f042"]
        decision = policy.adjudicate(missing)  # the unknown fact could refuse the claim: it is asked for
        assert decision.outcome == "needs_information" and decision.missing_facts == ("facts.f042",)


def test_bad_vocabularies_are_refused_with_the_file_and_fact(tmp_path: Path) -> None:
    cases = [
        ({"g": {"fields": {"x": {"type": "enum"}}}}, "fact 'g.x': 'values' must be a non-empty list of text"),
        ({"g": {"fields": {"x": {"type": "date", "not_before": "y"}}}}, "'not_before: y' is not a date beside it"),
        ({"g": {"fields": {"x": {"type": "subdivision", "within": "x"}}}}, "'within: x' is not a country fact beside it"),
        ({"g": {"fields": {"X": {"type": "bool"}}}}, "fact name 'X' is not a lowercase name"),
        ({"g": {"fields": {"x": {"type": "bool", "required": True, "default": False}}}}, "is required and has a default"),
        ({"g": {"fields": {"x": {"type": "enum", "values": ["a"], "default": "b"}}}}, "default 'b' is not a valid enum"),
        ({"g": {"fields": {"x": {"type": "text", "pattern": "(?P<a>x)", "derive": {"y": {"type": "integer", "from": "{b}"}}}}}},
         "uses '{b}', which the pattern does not name"),
        ({"g": {"fields": {"x": {"type": "bool", "label": ["a"]}}}}, "fact 'g.x': 'label' must be one line of text"),
        ({"g": {"fields": {"x": {"type": "bool", "label": "x" * 81}}}}, "at most 80 characters"),
    ]
    for index, (facts, message) in enumerate(cases):
        folder = _write_set(tmp_path / f"v{index}", facts, [])
        with pytest.raises(PolicyError) as raised:
            claimrules.load_vocabulary(folder)
        assert message in str(raised.value) and "vocabulary.yaml" in str(raised.value), str(raised.value)


def test_the_vocabulary_type_matches_the_language(tmp_path: Path) -> None:
    assert isinstance(VOCABULARY, Vocabulary)
    assert VOCABULARY.fact_type("plan.options") == "list" and VOCABULARY.fact_type("plan.term_years") == "number"
    assert VOCABULARY.fact_type("incident.battery_capacity_pct") == "number"
    assert VOCABULARY.fact_type("purchase.seller") == "text" and VOCABULARY.fact_type("plan") == "other"


def test_a_label_names_the_fact_in_reasons_before_its_description(tmp_path: Path) -> None:
    """What the customer reads: the author's label, else the description's first clause, else the path."""
    facts = {"order": {"fields": {
        "placed_on": {"type": "date", "required": True, "description": "Placed (T 1).", "label": "the day you ordered"},
        "returned_on": {"type": "date", "required": True, "role": "decision_date", "description": "The day it came back."},
        "kept_box": {"type": "bool"}}}}
    clauses = [{"id": "T 1", "title": "Returns", "text": "Returns within 21 days of the order, box kept.",
                "effect": "covers", "when": "order.returned_on <= order.placed_on + 21 days and order.kept_box",
                "otherwise": "excludes", "remedy": "refund"}]
    with claimrules.load_policy(_write_set(tmp_path / "labels", facts, clauses)) as policy:
        decision = policy.adjudicate({"order": {"placed_on": "2025-01-02", "returned_on": "2025-03-05", "kept_box": True}})
        words = " ".join(reason.text for reason in decision.reasons)
        unboxed = policy.adjudicate({"order": {"placed_on": "2025-01-02", "returned_on": "2025-01-05", "kept_box": False}})
        unboxed_words = " ".join(reason.text for reason in unboxed.reasons)
    assert (decision.outcome, unboxed.outcome) == ("deny", "deny")
    assert "the day you ordered" in words and "Placed" not in words
    assert "the day it came back" in words
    assert "order kept box" in unboxed_words


def test_a_claim_flattens_to_every_path_with_none_under_an_absent_group(tmp_path: Path) -> None:
    """Every declared path is listed, a group before its fields; a fact may be named like a Python
    keyword; a list comes as its items' fields; under an absent (optional) group every path is None."""
    facts = {"order": {"fields": {
        "class": {"type": "enum", "values": ["retail", "business"], "required": True},
        "placed_on": {"type": "date", "required": True, "role": "decision_date"},
        "courier": {"required": False, "fields": {
            "from": {"type": "text", "required": True},
            "depot": {"required": False, "fields": {"code": {"type": "text", "required": False}}}}},
        "parcels": {"type": "list", "required": False, "item": {"weight": {"type": "integer", "required": True}}}}}}
    clauses = [{"id": "T 1", "title": "Business", "text": "Business orders are covered.", "effect": "covers",
                "when": "order.class == 'business'"}]
    with claimrules.load_policy(_write_set(tmp_path / "maker", facts, clauses)) as policy:
        bare = fact_values(policy.parse_claim({"order": {"class": "retail", "placed_on": "2025-01-02"}}))
        assert list(bare) == ["order", "order.class", "order.placed_on", "order.courier", "order.courier.from",
                              "order.courier.depot", "order.courier.depot.code", "order.parcels"]
        # An absent group is None, and so is every path under it; a list not given has no items.
        assert [bare[path] for path in list(bare)[1:]] == ["retail", date(2025, 1, 2), None, None, None, None, ()]
        full = fact_values(policy.parse_claim({"order": {
            "class": "business", "placed_on": "2025-01-02", "courier": {"from": "Mobile", "depot": {"code": "AL-7"}},
            "parcels": [{"weight": 3}, {"weight": 2}]}}))
        assert (full["order.courier.from"], full["order.courier.depot.code"]) == ("Mobile", "AL-7")
        assert sorted(item["weight"] for item in full["order.parcels"]) == [2, 3]
        assert policy.adjudicate({"order": {"class": "business", "placed_on": "2025-01-02"}}).outcome == "approve"
