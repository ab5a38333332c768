"""Fast start (issue #15) changes how policies and ISO tables are read, never what is read: libyaml's
parser gives the same values and the same line/column positions as the pure-Python one on every
policy file, and the ISO tables read from pycountry's files answer as pycountry's API does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from claimrules.isodata import (
    country_codes,
    country_names,
    currency_codes,
    subdivision_names,
    subdivision_types,
    subdivisions_of,
)
from claimrules.policy import loader

ROOT = Path(__file__).resolve().parents[1]
POLICY_FILES = sorted({*ROOT.glob("policies/**/*.yaml"), *ROOT.glob("tests/fixtures/**/*.yaml"),
                       *ROOT.glob("tests/bad_input/policies/**/*.yaml")})


def _shape(value: Any) -> Any:
    """Values with the positions the loader recorded for every mapping and key."""
    if isinstance(value, dict):
        return ("map", getattr(value, "line", None), getattr(value, "column", None),
                sorted(getattr(value, "positions", {}).items()),
                [(key, _shape(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ["seq", *[_shape(item) for item in value]]
    return (type(value).__name__, value)


@pytest.mark.skipif(not getattr(yaml, "__with_libyaml__", False), reason="PyYAML was built without libyaml")
@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda path: str(path.relative_to(ROOT)))
def test_libyaml_and_pure_python_read_the_same_values_at_the_same_positions(path: Path) -> None:
    assert loader._CSafeLoader is yaml.CSafeLoader
    text = path.read_text(encoding="utf-8", errors="replace")
    outcomes = []
    for fast in (True, False):
        try:
            outcomes.append(_shape(loader._parse(text, str(path), fast=fast)))
        except Exception as problem:  # the error type is what must agree here
            outcomes.append(("error", type(problem).__name__))
    fast, reference = outcomes
    if fast[0] == "error":
        return  # read_yaml re-reads such a file in pure Python: the error shown is the reference one
    assert fast == reference


def test_iso_tables_agree_with_pycountry() -> None:
    pycountry = pytest.importorskip("pycountry")
    assert country_codes() == {country.alpha_2 for country in pycountry.countries}
    assert currency_codes() == {currency.alpha_3 for currency in pycountry.currencies}
    assert dict(subdivision_types()) == {sub.code: sub.type for sub in pycountry.subdivisions}
    assert dict(subdivision_names()) == {sub.code: sub.name for sub in pycountry.subdivisions}
    assert dict(country_names()) == {c.alpha_2: getattr(c, "common_name", None) or c.name for c in pycountry.countries}
    for country in ("US", "FR", "PR", "AW"):
        found = pycountry.subdivisions.get(country_code=country) or []
        assert subdivisions_of(country) == tuple(sorted(sub.code for sub in found))


def test_the_check_command_does_not_import_what_it_does_not_use() -> None:
    # pycountry builds its object layer at import (claimrules reads its database files: isodata).
    code = ("import sys, claimrules.cli; heavy = sorted(m for m in ('jinja2', 'claimrules.render.site',"
            " 'claimrules.render.letter', 'dask', 'distributed', 'pycountry') if m in sys.modules); print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def test_the_lazy_package_gives_every_public_name_and_its_submodules() -> None:
    """``import claimrules`` imports its names on first use: every name of ``__all__`` is there, a
    submodule reads as it did when the package imported it eagerly, and a typo is an AttributeError."""
    code = ("import claimrules\n"
            "names = [getattr(claimrules, name) for name in claimrules.__all__]\n"
            "print(len(names), claimrules.decide.Adjudicator.__name__, claimrules.facts.ClaimFacts.__name__)\n"
            "print(hasattr(claimrules, 'no_such_name'))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    import claimrules

    assert result.stdout.split() == [str(len(claimrules.__all__)), "Adjudicator", "ClaimFacts", "False"]
