"""Values as a customer reads them: dates in words, amounts with their currency, places by name,
counts as ordinals, and claim facts by their label (never the internal field path).

Core module: renderers and the reasons both use it; it imports nothing from them.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from claimrules.isodata import country_names, subdivision_names
from claimrules.money import Money

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
_ORDINALS = ("zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
             "eleventh", "twelfth")


def long_date(value: date) -> str:
    """``2025-05-19`` -> ``'19 May 2025'``: unambiguous in every country, whatever the locale."""
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def ordinal(number: int) -> str:
    """``3`` -> ``'third'``; beyond twelve, ``'21st'``."""
    if 0 <= number < len(_ORDINALS):
        return _ORDINALS[number]
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def place_name(code: str) -> str:
    """An ISO 3166 code by name: ``US-AL`` -> ``'Alabama, United States'``, ``FR`` -> ``'France'``."""
    if "-" in code:
        subdivision = subdivision_names().get(code)
        country = code.split("-", 1)[0]
        return f"{subdivision}, {country_names().get(country, country)}" if subdivision is not None else code
    return country_names().get(code, code)


def location_words(country: str | None, subdivision: str | None, military: bool = False) -> str:
    """Where the Product is, by name: ``'Alabama, United States'``."""
    if subdivision:
        words = place_name(subdivision)
    elif country:
        words = place_name(country)
    else:
        words = "unknown"
    return f"{words} (military address)" if military else words


def money_words(value: Money) -> str:
    """An amount with its currency, as the letter and the reasons print it: ``'USD 899.00'``."""
    return str(value)


def value_words(value: Any) -> str:
    """Any value of a fact or definition, in words."""
    if value is None:
        return "not given"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return long_date(value)
    if isinstance(value, Money):
        return money_words(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    if isinstance(value, (tuple, list, frozenset, set)):
        items = sorted(str(item) for item in value) if isinstance(value, (frozenset, set)) else [str(item) for item in value]
        if all(isinstance(item, str) for item in value):
            return ", ".join(items) if items else "none"
        return f"{len(value)} item(s)"
    if isinstance(value, str):
        return value.replace("_", " ")
    return str(value)


# -- labels of facts --------------------------------------------------------------------------------

_CITATION = re.compile(r"\s*\((?:[A-Z]{2}[ -]|e\.g\.|ISO )[^)]*\)")


def fact_label(path: str, vocabulary: Any = None) -> str:
    """The customer-facing name of a claim fact.

    This is the one place labels come from: the fact's ``description`` (the pydantic Field
    description today; the policy set's vocabulary ``description:`` once it declares one), cut to
    its first clause and without section references; a humanised path where there is none.
    """
    spec = vocabulary.specs.get(path) if vocabulary is not None else None
    description = spec.description if spec is not None else None
    if description and not description.startswith(_NOT_A_LABEL):
        text = _CITATION.sub("", description).split(";")[0].split(", by ")[0].strip().rstrip(".")
        if text and len(text) <= 80:
            return text[0].lower() + text[1:] if not text[:2].isupper() else text
    return humanise(path)


# Today's Field descriptions are notes for developers as often as labels: these are not labels.
_NOT_A_LABEL = ("False", "True", "For ", "As ", "When ", "e.g.", "ISO ", "Completed ", "What ", "Carrier")


def humanise(name: str) -> str:
    """An internal name as words: ``'product.serial_number'`` -> ``'product serial number'``."""
    words = re.sub(r"[._]+", " ", name).strip()
    return _RENAMES.get(name, words)


# Paths whose humanised form reads badly; used only where the vocabulary gives no description.
_RENAMES = {
    "claim.reported_on": "the day you reported the claim",
    "claim.type": "the kind of request",
    "claim.requested_service": "the service you asked for",
    "delivery.received_on": "the day you received the Product",
    "delivery.invoice_date": "the invoice date",
    "incident.occurred_on": "the day the damage occurred or the defect appeared",
    "incident.cause": "the cause of the damage",
    "plan.purchased_on": "the day you bought the plan",
    "plan.cancelled_on": "the day the plan was cancelled",
    "plan.options": "the plan's options",
    "product.condition": "the Product's condition",
    "product.price": "the price you paid",
    "product.serial_number": "the Product's serial number",
    "product.proof_of_purchase": "proof of purchase",
    "location": "the Product's location",
    "repair_estimate": "the repair estimate",
    "delivery.delivered_on": "the delivery date",
    "delivery.picked_up_on": "the pick-up date",
    "incident.battery_capacity_pct": "the battery's capacity (% of its design capacity)",
    "incident.remote_diagnosis": "the remote diagnosis",
    "incident.caused_by_natural_disaster": "caused by a natural disaster",
    "incident.description": "a description of how the damage happened",
    "location.military_address": "an APO/FPO/DPO (military) address",
    "plan": "a Care Plan",
    "plan.term_years": "the plan's term in years",
    "plan.paid_to_date": "what the plan has paid for repairs so far",
    "product.serial_intact": "the serial number intact",
    "product.defective": "found defective on inspection",
    "product.opened": "opened",
    "product.damaged_by_customer": "damaged by you",
    "product.licence_activated": "the software licence activated",
    "product.missing_accessories": "missing accessories",
    "purchase.buyer": "the buyer",
    "purchase.seller": "the seller",
    "purchase.channel": "how you bought it",
    "product.category": "the kind of product",
    "product.serial_registered_to_claimant": "the serial number registered to you",
    "purchase.country": "the country of purchase",
    "purchase.delivery_country": "the country of delivery",
    "unauthorized_work": "outside repairs",
    "extensions": "recorded extensions of the return window",
    "deployment": "a documented deployment",
    "deployment.documented_on": "the day the deployment was documented",
    "prior_incidents": "earlier incidents",
    "prior_repairs": "earlier repairs",
}


