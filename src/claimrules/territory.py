"""Places as ISO 3166 codes: countries, subdivisions and named territories."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType

from claimrules.isodata import country_codes, subdivision_types

__all__ = [
    "EEA",
    "EU",
    "NAMED_SETS",
    "US_STATES_AND_DC",
    "US_TERRITORIES",
    "SubdivisionMismatch",
    "UnknownCountry",
    "UnknownSubdivision",
    "in_territory",
    "location_codes",
    "subdivision_country",
    "validate_country",
    "validate_subdivision",
]

_COUNTRY_RE = re.compile(r"[A-Z]{2}")
_SUBDIVISION_RE = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")


class UnknownCountry(ValueError):
    """A code that is not an uppercase ISO 3166-1 alpha-2 country code."""


class UnknownSubdivision(ValueError):
    """A code that is not an uppercase ISO 3166-2 subdivision code."""


class SubdivisionMismatch(ValueError):
    """A subdivision given with a country it does not belong to."""


def validate_country(code: str) -> str:
    """Return ``code`` if it is an uppercase ISO 3166-1 alpha-2 code such as 'US'."""
    if not isinstance(code, str) or not _COUNTRY_RE.fullmatch(code):
        raise UnknownCountry(
            f"{code!r} is not an ISO 3166-1 alpha-2 country code (expected two uppercase letters, e.g. 'US')"
        )
    if code not in country_codes():
        raise UnknownCountry(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def validate_subdivision(code: str) -> str:
    """Return ``code`` if it is an uppercase ISO 3166-2 code such as 'US-AL'."""
    if not isinstance(code, str) or not _SUBDIVISION_RE.fullmatch(code):
        raise UnknownSubdivision(
            f"{code!r} is not an ISO 3166-2 subdivision code (expected e.g. 'US-AL', uppercase)"
        )
    if code not in subdivision_types():
        raise UnknownSubdivision(f"{code!r} is not an ISO 3166-2 subdivision code")
    return code


def subdivision_country(code: str) -> str:
    """The ISO 3166-1 alpha-2 country a subdivision belongs to ('US-AL' -> 'US')."""
    validate_subdivision(code)
    return code.split("-", 1)[0]


def _us_subdivisions(*types: str) -> frozenset[str]:
    return frozenset(code for code, kind in subdivision_types().items() if code.startswith("US-") and kind in types)


# The five inhabited U.S. territories that have both an ISO 3166-1 country code and
# an ISO 3166-2 'US-' subdivision code; a location matches either form.
_TERRITORY_ALIASES: Mapping[str, str] = MappingProxyType(
    {country: f"US-{country}" for country in ("PR", "GU", "VI", "AS", "MP")}
)
_TERRITORY_ALIASES_BY_SUBDIVISION: Mapping[str, str] = MappingProxyType(
    {subdivision: country for country, subdivision in _TERRITORY_ALIASES.items()}
)

US_STATES_AND_DC: frozenset[str] = _us_subdivisions("State", "District")
"""The 50 states and the District of Columbia, as ISO 3166-2 codes ('US-AL' ... 'US-DC')."""

US_TERRITORIES: frozenset[str] = frozenset(_TERRITORY_ALIASES) | frozenset(_TERRITORY_ALIASES.values())
"""Puerto Rico, Guam, the U.S. Virgin Islands, American Samoa and the Northern Mariana Islands, in both forms."""

EU: frozenset[str] = frozenset(
    {
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    }
)  # fmt: skip
"""The 27 member states of the European Union (Greece is ISO 'GR', not the EU's 'EL')."""

EEA: frozenset[str] = EU | {"IS", "LI", "NO"}
"""The European Economic Area: the EU plus Iceland, Liechtenstein and Norway."""

NAMED_SETS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "us_states_and_dc": US_STATES_AND_DC,
        "us_territories": US_TERRITORIES,
        "eu": EU,
        "eea": EEA,
    }
)
"""Code sets a policy may name instead of listing codes."""


def location_codes(country: str, subdivision: str | None) -> frozenset[str]:
    """Every code a location matches: its country, its subdivision, and U.S. territory aliases.

    ('US', 'US-AL') -> {'US', 'US-AL'}; ('PR', None) -> {'PR', 'US-PR'};
    ('US', 'US-PR') -> {'US', 'US-PR', 'PR'}.
    """
    validate_country(country)
    codes = {country}
    if country in _TERRITORY_ALIASES:
        codes.add(_TERRITORY_ALIASES[country])
    if subdivision is not None:
        owner = subdivision_country(subdivision)
        if owner != country and _TERRITORY_ALIASES.get(country) != subdivision:
            raise SubdivisionMismatch(
                f"subdivision {subdivision!r} given for country {country!r}; "
                f"{subdivision!r} belongs to {owner!r}"
            )
        codes.add(subdivision)
        if subdivision in _TERRITORY_ALIASES_BY_SUBDIVISION:
            codes.add(_TERRITORY_ALIASES_BY_SUBDIVISION[subdivision])
    return frozenset(codes)


@lru_cache(maxsize=4096)
def in_territory(codes: frozenset[str], country: str, subdivision: str | None) -> bool | None:
    """Whether a location lies in the territory named by ``codes``.

    None (unknown) when the answer turns on a subdivision that was not given: the
    territory lists subdivisions of the country but not the country itself.
    """
    matched = location_codes(country, subdivision)
    if matched & codes:
        return True
    if subdivision is None and country not in codes:
        prefix = f"{country}-"
        if any(code.startswith(prefix) for code in codes):
            return None
        if country == "US" and not codes.isdisjoint(_TERRITORY_ALIASES):
            return None  # e.g. {'PR'}: matched by ('US', 'US-PR'), not by ('US', 'US-AL')
    return False
