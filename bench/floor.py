"""The same small piece of the Northwind policies three ways, for the benchmark's floors.

The return window (RT 1.1 / RT 1.2: New Products within 30 days after the Delivery Date, Certified
Refurbished and Open-Box Products within 14) and Accidental Damage Protection (CP 3.2: +ADP covers
drops, impacts, liquid, cracked screens and surge during the term; CP 4.1: not a third covered
incident in 12 months; CP 4.2: USD 49 screen-only, USD 99 otherwise), as

* ``python_floor(row)``: a hand-written Python function, the cheapest a Python adjudicator can be;
* ``ZEN_TABLE``: a zen-engine (GoRules JDM) decision table with the same rows;

both over the same flat input ``row`` (``flat_row(claim)``, computed before any clock starts). They
decide far less than claimrules does (no other clause, no grounds, trace, citations, escalation):
they are floors, not competitors.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta

ACCIDENTAL = frozenset({"drop", "impact", "liquid", "screen_crack", "surge"})


def flat_row(claim: dict[str, Any]) -> dict[str, Any]:
    """The inputs of the floor logic, extracted from a claim dict (bench/claims_mix.py)."""
    reported = date.fromisoformat(claim["claim"]["reported_on"])
    delivered = date.fromisoformat(claim["delivery"]["delivered_on"])
    plan = claim.get("plan") or {}
    incident = claim.get("incident") or {}
    options = plan.get("code", "").split("+")[1:]
    in_term = False
    if plan:
        years = int(plan["code"].split("-")[1].split("Y")[0])
        start = date.fromisoformat(plan["purchased_on"])
        in_term = start <= reported <= start + relativedelta(years=years) - timedelta(days=1)
    occurred = date.fromisoformat(incident["occurred_on"]) if incident.get("occurred_on") else None
    prior = 0
    if occurred is not None:
        year_before = occurred - relativedelta(months=12)
        prior = sum(1 for item in claim.get("prior_incidents", ())
                    if item["kind"] == "accidental" and item["covered"]
                    and year_before <= date.fromisoformat(item["occurred_on"]) < occurred)
    return {"type": claim["claim"]["type"], "condition": claim["product"]["condition"],
            "days": (reported - delivered).days, "has_adp": "ADP" in options,
            "accidental": incident.get("cause") in ACCIDENTAL, "in_term": in_term, "prior": prior,
            "screen_only": bool(incident.get("screen_only"))}


def python_floor(row: dict[str, Any]) -> dict[str, Any]:
    if row["type"] == "return":
        window = 30 if row["condition"] == "new" else 14
        if 0 <= row["days"] <= window:
            return {"outcome": "approve", "clause": "RT 1.1" if window == 30 else "RT 1.2", "fee": 0}
        return {"outcome": "deny", "clause": "RT 1.1" if window == 30 else "RT 1.2", "fee": 0}
    if row["has_adp"] and row["accidental"] and row["in_term"]:
        if row["prior"] >= 2:
            return {"outcome": "deny", "clause": "CP 4.1", "fee": 0}
        return {"outcome": "approve", "clause": "CP 3.2", "fee": 49 if row["screen_only"] else 99}
    return {"outcome": "deny", "clause": "none", "fee": 0}


def _rule(index: int, type_: str, condition: str, days: str, adp: str, accidental: str, in_term: str, prior: str,
          screen: str, outcome: str, clause: str, fee: int) -> dict[str, str]:
    cells = [type_, condition, days, adp, accidental, in_term, prior, screen]
    rule = {"_id": f"r{index}", **{f"i{n}": cell for n, cell in enumerate(cells)}}
    rule.update({"o0": json.dumps(outcome), "o1": json.dumps(clause), "o2": str(fee)})
    return rule


_FIELDS = ["type", "condition", "days", "has_adp", "accidental", "in_term", "prior", "screen_only"]
_ROWS = [
    ('"return"', '"new"', "[0..30]", "", "", "", "", "", "approve", "RT 1.1", 0),
    ('"return"', '"new"', "", "", "", "", "", "", "deny", "RT 1.1", 0),
    ('"return"', "", "[0..14]", "", "", "", "", "", "approve", "RT 1.2", 0),
    ('"return"', "", "", "", "", "", "", "", "deny", "RT 1.2", 0),
    ("", "", "", "true", "true", "true", ">= 2", "", "deny", "CP 4.1", 0),
    ("", "", "", "true", "true", "true", "", "true", "approve", "CP 3.2", 49),
    ("", "", "", "true", "true", "true", "", "", "approve", "CP 3.2", 99),
    ("", "", "", "", "", "", "", "", "deny", "none", 0),
]
ZEN_TABLE: str = json.dumps({
    "nodes": [
        {"id": "request", "type": "inputNode", "name": "request", "position": {"x": 0, "y": 0}},
        {"id": "table", "type": "decisionTableNode", "name": "floor", "position": {"x": 200, "y": 0},
         "content": {"hitPolicy": "first",
                     "inputs": [{"id": f"i{n}", "name": field, "field": field} for n, field in enumerate(_FIELDS)],
                     "outputs": [{"id": "o0", "name": "outcome", "field": "outcome"},
                                 {"id": "o1", "name": "clause", "field": "clause"},
                                 {"id": "o2", "name": "fee", "field": "fee"}],
                     "rules": [_rule(index, *row) for index, row in enumerate(_ROWS)]}},
        {"id": "response", "type": "outputNode", "name": "response", "position": {"x": 400, "y": 0}},
    ],
    "edges": [{"id": "e1", "sourceId": "request", "targetId": "table", "type": "edge"},
              {"id": "e2", "sourceId": "table", "targetId": "response", "type": "edge"}],
})
