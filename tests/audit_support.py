"""Generated history for the audit (issue #17): past return decisions labelled from the Store Returns
terms alone, with disagreements injected at known places.

The label of an honest record comes from the contract text, not from the engine: RT 1.1 (new: 30
days after delivery) and RT 1.2 (refurbished and open-box: 14 days); RT 4.1 (damaged by the
customer: not returnable). Deliveries fall from 1 March to 30 September, so the RT 1.3 holiday
season never applies, and the purchases are consumer purchases in Ohio (no regional addendum).
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from typing import Any

FIRST_DELIVERY = date(2024, 3, 1)


def _facts(rng: random.Random) -> tuple[dict[str, Any], str, str]:
    delivered = FIRST_DELIVERY + timedelta(days=rng.randrange(214))
    condition = rng.choice(["new", "refurbished", "open_box"])
    window, window_clause = (30, "RT 1.1") if condition == "new" else (14, "RT 1.2")
    day = rng.randint(0, 45)
    opened = rng.random() < 0.6
    defective = opened and rng.random() < 0.5
    damaged = rng.random() < 0.08
    facts = {
        "claim": {"type": "return", "requested_service": "refund", "reported_on": (delivered + timedelta(days=day)).isoformat(),
                  "return_reason": "defective" if defective else "no_reason"},
        "product": {"condition": condition, "price": {"amount": f"{rng.randint(50, 3000)}.00", "currency": "USD"},
                    "serial_number": f"NW-{rng.randrange(10**6):06d}", "serial_intact": True, "proof_of_purchase": True,
                    "opened": opened, "defective": defective, "damaged_by_customer": damaged},
        "delivery": {"delivered_on": delivered.isoformat(), "invoice_date": (delivered - timedelta(days=2)).isoformat()},
        "purchase": {"seller": "northwind_store", "channel": "online", "buyer": "consumer", "country": "US",
                     "delivery_country": "US"},
        "location": {"country": "US", "subdivision": "US-OH"},
    }
    if damaged:  # RT 4.1
        return facts, "deny", "RT 4.1"
    if day <= window:  # "within N days after the Delivery Date"
        return facts, "approve", window_clause
    return facts, "deny", window_clause


def generate(count: int, seed: int = 17, inject_every: int = 40) -> tuple[list[str], set[str], dict[str, set[str]]]:
    """JSONL lines, the claim ids of the injected disagreements, and those ids by kind."""
    rng = random.Random(seed)
    lines: list[str] = []
    injected: dict[str, set[str]] = {"wrong_outcome": set(), "twin": set(), "no_clause": set(), "unknown_clause": set()}
    previous: list[tuple[dict[str, Any], str]] = []
    for index in range(count):
        claim_id = f"H-{index:06d}"
        agent = rng.randrange(40)
        record: dict[str, Any] = {"claim_id": claim_id, "agent": f"A-{agent:02d}", "team": f"team-{agent % 5}"}
        facts, outcome, clause = _facts(rng)
        human: dict[str, Any] = {"outcome": outcome, "clause": clause}
        kind = None
        if index % inject_every == inject_every - 1:
            kind = ("wrong_outcome", "twin", "no_clause", "unknown_clause")[(index // inject_every) % 4]
        if kind == "twin" and previous:  # the same facts as an earlier claim, decided the other way
            facts, earlier_outcome = previous[rng.randrange(len(previous))]
            outcome = earlier_outcome
            human = {"outcome": "deny" if outcome == "approve" else "approve", "reason": "seemed fine to me"}
        elif kind == "no_clause":
            human = {"outcome": "deny" if outcome == "approve" else "approve", "reason": "customer seemed dishonest"}
        elif kind == "unknown_clause":
            human = {"outcome": "deny" if outcome == "approve" else "approve", "clause": "RT 9.9", "reason": "policy"}
        elif kind == "wrong_outcome":
            human = {"outcome": "deny" if outcome == "approve" else "approve", "clause": clause}
        if kind is not None:
            injected[kind].add(claim_id)
        elif len(previous) < 5000:
            previous.append((facts, outcome))
        record["facts"] = facts
        record["human"] = human
        lines.append(json.dumps(record, sort_keys=True))
    every = set().union(*injected.values())
    return lines, every, injected
