"""ISO 3166 and ISO 4217 code tables, read from pycountry's own database files on first use.

``import pycountry`` builds its object layer at import and the ISO 3166-2 table (5,000 subdivisions)
on first lookup: together about 0.7 s, most of a short command's run. claimrules needs only the
codes (and a subdivision's type), so it reads the same JSON files pycountry ships, once, lazily,
without importing pycountry: the data is pycountry's, the answers are the same
(tests/test_territory.py compares them with pycountry's API).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

__all__ = ["country_codes", "country_names", "currency_codes", "subdivision_names", "subdivision_types", "subdivisions_of"]


@lru_cache(maxsize=1)
def _databases() -> Path:
    spec = importlib.util.find_spec("pycountry")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pycountry is not installed (claimrules reads its ISO databases)")
    return Path(next(iter(spec.submodule_search_locations))) / "databases"


def _table(name: str, key: str) -> list[dict[str, str]]:
    with (_databases() / f"{name}.json").open(encoding="utf-8") as stream:
        entries: list[dict[str, str]] = json.load(stream)[key]
    return entries


@lru_cache(maxsize=1)
def country_names() -> Mapping[str, str]:
    """ISO 3166-1 alpha-2 code -> the country's name as people use it (pycountry's ``common_name``
    where it has one, else ``name``: 'BO' -> 'Bolivia', 'US' -> 'United States')."""
    return MappingProxyType({entry["alpha_2"]: entry.get("common_name") or entry["name"]
                             for entry in _table("iso3166-1", "3166-1")})


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes ('US', 'PR', ...)."""
    return frozenset(country_names())


@lru_cache(maxsize=1)
def _subdivisions() -> list[dict[str, str]]:
    return _table("iso3166-2", "3166-2")


@lru_cache(maxsize=1)
def subdivision_types() -> Mapping[str, str]:
    """ISO 3166-2 subdivision code -> its type ('US-AL' -> 'State', 'US-DC' -> 'District')."""
    return MappingProxyType({entry["code"]: entry["type"] for entry in _subdivisions()})


@lru_cache(maxsize=1)
def subdivision_names() -> Mapping[str, str]:
    """ISO 3166-2 subdivision code -> its name ('US-AL' -> 'Alabama')."""
    return MappingProxyType({entry["code"]: entry["name"] for entry in _subdivisions()})


@lru_cache(maxsize=256)
def subdivisions_of(country: str) -> tuple[str, ...]:
    """Every ISO 3166-2 subdivision code of a country, sorted ('US' -> ('US-AK', ..., 'US-WY'))."""
    prefix = f"{country}-"
    return tuple(sorted(code for code in subdivision_types() if code.startswith(prefix)))


@lru_cache(maxsize=1)
def currency_codes() -> frozenset[str]:
    """ISO 4217 alpha-3 currency codes ('USD', 'EUR', ...)."""
    return frozenset(entry["alpha_3"] for entry in _table("iso4217", "4217"))
