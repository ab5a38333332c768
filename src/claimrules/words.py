"""Values as a customer reads them: dates in words, amounts with their currency, places by name,
counts as ordinals, and claim facts by their label (never the internal field path).

Core module: renderers and the reasons both use it; it imports nothing from them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
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

    This is the one place labels come from: the fact's ``label:`` in the vocabulary; else its
    ``description``, cut to its first clause and without section references; else the path in words.
    """
    spec = vocabulary.specs.get(path) if vocabulary is not None else None
    if spec is not None and spec.label:
        return str(spec.label)
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
    return re.sub(r"[._]+", " ", name).strip()


def written_words(texts: Iterable[str]) -> dict[str, str]:
    """How a policy's own texts write the words that are not plain lowercase words, by their
    lowercase form: an acronym ('EEA', 'UK', 'RT') written in capitals at least as often as in
    lowercase, and a proper noun ('Canada') capitalised in mid-sentence and never in lowercase.
    A word capitalised only where a sentence or title starts is a plain word."""
    capitals: dict[str, dict[str, int]] = {}
    lowercase: dict[str, int] = {}
    for text in texts:
        for match in re.finditer(r"[A-Za-z]+", text):
            word, key = match.group(), match.group().lower()
            if word == key:
                lowercase[key] = lowercase.get(key, 0) + 1
                continue
            at = match.start() - 1  # the character before the word, spaces skipped
            while at >= 0 and text[at].isspace():
                at -= 1
            acronym = word.isupper() and len(word) > 1
            if acronym or (at >= 0 and text[at] not in ".:;!?()\"'-\u2013\u2014"):
                forms = capitals.setdefault(key, {})
                forms[word] = forms.get(word, 0) + 1
    written: dict[str, str] = {}
    for key, forms in sorted(capitals.items()):
        word = max(sorted(forms), key=forms.__getitem__)  # the most frequent form; ties alphabetically
        count = forms[word]
        if (word.isupper() and len(word) > 1 and count >= lowercase.get(key, 0)) or key not in lowercase:
            written[key] = word
    return written


def name_in_words(name: str, written: Mapping[str, str]) -> str:
    """An identifier as words, each as ``written`` (``written_words``) has it:
    'us_and_canada' -> 'US and Canada', 'rt_window_end' -> 'RT window end'."""
    return " ".join(written.get(word.lower(), word) for word in re.split(r"[._]+", name) if word)
