"""A claim's facts as a customer reads them, for any policy set: read through its vocabulary.

Letters and the coverage site show what a claim said. Nothing here names a fact of any policy set:
each fact is found by the vocabulary (``facts.yaml``) that the claim was read with, labelled by its
``description`` and shown in words by its type. Facts the renderers need a part for are found by
their ``role:`` (``claim_type``, ``decision_date``, ``requested_service``, ``country``); a
vocabulary that declares no fact for a role simply has no such line.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from claimrules.facts import ClaimFacts
from claimrules.vocabulary import FactSpec, Vocabulary
from claimrules.words import fact_label, long_date, place_name, value_words

# Common request kinds in a customer's words; any other value is shown as written ('exchange').
CLAIM_WORDS = {"return": "return", "repair": "repair claim", "cancel_plan": "plan cancellation"}


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def spec_words(spec: FactSpec | None, value: Any) -> str:
    """A fact's value in words by its declared type: places by name, dates in words, text as given."""
    if value is None:
        return "not given"
    kind = spec.type if spec is not None else None
    if kind in ("country", "subdivision") and isinstance(value, str):
        return place_name(value)
    if kind == "text" and isinstance(value, str):
        return value                      # the customer's own words, never rewritten
    if isinstance(value, date):
        return long_date(value)
    return value_words(value)


def role_path(vocabulary: Vocabulary, role: str) -> str | None:
    return vocabulary.roles.get(role)


def role_value(claim: ClaimFacts, role: str) -> Any:
    """The value of the fact playing ``role`` (None when the vocabulary declares none or the claim gives none)."""
    return claim.role_value(role)


def claim_word(claim: ClaimFacts | None) -> str:
    """What the request is called in a letter ('return', 'repair claim', 'exchange'); 'claim' when the
    vocabulary declares no ``claim_type`` fact or the claim does not give one."""
    if claim is None:
        return "claim"
    kind = role_value(claim, "claim_type")
    if not isinstance(kind, str) or not kind:
        return "claim"
    return CLAIM_WORDS.get(kind, kind.replace("_", " "))


def _leaves(claim: ClaimFacts) -> Iterator[tuple[str, FactSpec, Any]]:
    """Every fact the claim gives, in the vocabulary's order: (path, declaration, value). A list is one
    fact (its items are not walked); derived facts are not shown (their source is)."""
    vocabulary = claim.vocabulary

    def walk(spec: FactSpec, record: Any, prefix: str) -> Iterator[tuple[str, FactSpec, Any]]:
        value = getattr(record, spec.name, None)
        if value is None:
            return
        path = prefix + spec.name
        if spec.type == "group":
            for child in spec.fields:
                yield from walk(child, value, path + ".")
            return
        if spec.type == "list" and not value:
            return
        yield path, spec, value

    for group in vocabulary.groups:
        yield from walk(group, claim, "")


def _row(vocabulary: Vocabulary, path: str, spec: FactSpec, value: Any) -> tuple[str, str]:
    return capitalised(fact_label(path, vocabulary)), spec_words(spec, value)


def all_facts(claim: ClaimFacts) -> tuple[tuple[str, str], ...]:
    """Every fact the claim gives, labelled from the vocabulary, in its order (the site's worked examples)."""
    return tuple(_row(claim.vocabulary, path, spec, value) for path, spec, value in _leaves(claim))


def letter_facts(claim: ClaimFacts | None) -> tuple[tuple[str, str], ...]:
    """What the customer told us, for the letter: the request (``claim_type``), the day it was made
    (``decision_date``), the service asked for (``requested_service``, unless it is the vocabulary's
    default), then every text fact given, as written (a reference, a serial number, a description)."""
    if claim is None:
        return ()
    vocabulary = claim.vocabulary
    rows: list[tuple[str, str]] = []
    shown: set[str] = set()
    for role in ("claim_type", "decision_date", "requested_service"):
        path = role_path(vocabulary, role)
        value = role_value(claim, role)
        spec = vocabulary.specs.get(path or "")
        if path is None or spec is None or value is None:
            continue
        shown.add(path)
        if role == "requested_service" and spec.has_default and value == spec.default:
            continue                                     # not asked for: the default ('any')
        label, words = _row(vocabulary, path, spec, value)
        if role == "claim_type":
            words = claim_word(claim)
        rows.append((label, words))
    for path, spec, value in _leaves(claim):
        if spec.type == "text" and path not in shown:
            rows.append(_row(vocabulary, path, spec, value))
    return tuple(rows)


__all__ = ["CLAIM_WORDS", "all_facts", "capitalised", "claim_word", "letter_facts", "spec_words"]
