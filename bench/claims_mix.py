"""A deterministic, realistic mix of claims against the Northwind policies, for benchmarks.

Returns and repairs, new/refurbished/open-box goods, plans with and without options, incidents of
every cause, prior incidents, extensions and deployments, in the regions the policies name.
``claims_mix(n, seed)`` gives the same n claims (as JSON-ready dicts) for the same seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

PLACES = [
    ("US", "US-OH"), ("US", "US-AL"), ("US", "US-CA"), ("US", "US-NY"), ("US", "US-TX"), ("US", "US-DC"),
    ("CA", None), ("GB", None), ("FR", None), ("DE", None), ("IE", None), ("AU", None), ("PR", None), ("MX", None),
]
CURRENCY = {"US": "USD", "CA": "CAD", "GB": "GBP", "FR": "EUR", "DE": "EUR", "IE": "EUR", "AU": "AUD", "PR": "USD", "MX": "USD"}
CAUSES = ["defect", "defect", "defect", "battery", "drop", "liquid", "screen_crack", "surge", "cosmetic", "theft",
          "loss", "abuse", "natural_disaster", "software"]
PLANS = ["CARE-2Y", "CARE-3Y", "CARE-2Y+ADP", "CARE-3Y+ADP", "CARE-3Y+ADP+ONSITE", "CARE-2Y+ONSITE"]


def _iso(day: date) -> str:
    return day.isoformat()


def claim(rng: random.Random) -> dict[str, Any]:
    country, subdivision = rng.choice(PLACES)
    bought_in = country if rng.random() < 0.85 else "US"
    currency = CURRENCY[bought_in]
    delivered = date(2023, 6, 1) + timedelta(days=rng.randrange(0, 1100))
    is_return = rng.random() < 0.4
    offset = rng.choice([0, 5, 13, 14, 15, 20, 29, 30, 31, 45]) if is_return else rng.randrange(0, 1200)
    reported = delivered + timedelta(days=offset)
    price = rng.choice(["299.00", "499.00", "899.00", "1299.00", "1999.00"])
    facts: dict[str, Any] = {
        "claim": {"type": "return" if is_return else "repair", "reported_on": _iso(reported),
                  "requested_service": "refund" if is_return else rng.choice(["any", "on_site", "depot"])},
        "product": {"condition": rng.choice(["new", "new", "new", "refurbished", "open_box"]),
                    "price": {"amount": price, "currency": currency},
                    "serial_number": f"NW{rng.randrange(10**8):08d}", "serial_intact": rng.random() < 0.97,
                    "serial_registered_to_claimant": True},
        "delivery": {"delivered_on": _iso(delivered), "invoice_date": _iso(delivered - timedelta(days=rng.randrange(1, 6)))},
        "purchase": {"seller": "northwind_store", "channel": rng.choice(["online", "online", "phone"]),
                     "buyer": "consumer" if rng.random() < 0.9 else "business", "country": bought_in,
                     "delivery_country": bought_in},
        "location": {"country": country, "subdivision": subdivision,
                     "military_address": rng.random() < 0.02,
                     "miles_to_service_location": rng.choice([5, 40, 99, 100, 140, 300])},
    }
    if is_return:
        opened = rng.random() < 0.6
        facts["product"].update({"opened": opened, "defective": rng.random() < 0.3, "damaged_by_customer": rng.random() < 0.05,
                                 "licence_activated": False})
        facts["claim"]["return_reason"] = rng.choice(["no_reason", "defective"])
        if rng.random() < 0.12:
            granted = delivered + timedelta(days=rng.randrange(0, 20))
            facts["extensions"] = [{"grantor_id": f"S-{rng.randrange(1000)}",
                                    "grantor_role": rng.choice(["agent", "supervisor", "manager"]),
                                    "granted_on": _iso(granted), "new_end": _iso(granted + timedelta(days=rng.randrange(5, 90)))}]
        if rng.random() < 0.03:
            facts["deployment"] = {"kind": "disaster_response", "documented_on": _iso(delivered + timedelta(days=3)),
                                   "ends_on": _iso(delivered + timedelta(days=rng.randrange(20, 80)))}
    else:
        occurred = reported - timedelta(days=rng.choice([0, 3, 10, 59, 60, 61, 90]))
        if occurred < delivered:
            occurred = delivered
        cause = rng.choice(CAUSES)
        facts["incident"] = {"occurred_on": _iso(occurred), "cause": cause,
                             "screen_only": cause == "screen_crack" or rng.random() < 0.2,
                             "remote_diagnosis": rng.choice(["on_site_repairable", "depot_only"]),
                             "caused_by_natural_disaster": cause == "natural_disaster",
                             "battery_capacity_pct": rng.choice([60, 79, 80, 95]) if cause == "battery" else None,
                             "description": "Dropped while unpacking." if cause != "defect" else "Stopped working.",
                             "consumer_caused_proven": False}
        if rng.random() < 0.15:
            facts["prior_incidents"] = [
                {"occurred_on": _iso(max(delivered, occurred - timedelta(days=rng.randrange(1, 400)))),
                 "kind": "accidental", "covered": rng.random() < 0.8}
                for _ in range(rng.randrange(1, 4))]
        if rng.random() < 0.05:
            facts["unauthorized_work"] = [{"performed_on": _iso(max(delivered, occurred - timedelta(days=30))),
                                           "touched_failed_part": rng.random() < 0.5}]
    if rng.random() < 0.45:
        purchased = delivered + timedelta(days=rng.choice([0, 0, 0, 10, 31, 45, 61]))
        if purchased > reported:
            purchased = delivered
        facts["plan"] = {"code": rng.choice(PLANS), "purchased_on": _iso(purchased),
                         "price": {"amount": "199.00", "currency": currency},
                         "paid_to_date": {"amount": rng.choice(["0.00", "0.00", "400.00"]), "currency": currency}}
        if rng.random() < 0.1:
            facts["repair_estimate"] = {"amount": rng.choice(["150.00", "2500.00"]), "currency": currency}
        if rng.random() < 0.06:
            facts["plan"]["cancelled_on"] = _iso(purchased + timedelta(days=rng.randrange(0, 900)))
    if "incident" in facts:
        # Facts most claims leave out, so that both the given and the missing case are decided.
        if rng.random() < 0.2:
            facts["product"]["failure"] = rng.choice(["major", "minor"])
        if rng.random() < 0.3:
            facts["incident"]["cause_stated_by"] = rng.choice(["customer", "inspection", "seller"])
    return facts


def iter_claims(count: int, seed: int = 2026) -> Iterator[dict[str, Any]]:
    """The same claims as ``claims_mix``, one at a time (for runs too large to hold in memory)."""
    rng = random.Random(seed)
    for _ in range(count):
        yield claim(rng)


def claims_mix(count: int, seed: int = 2026) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [claim(rng) for _ in range(count)]
