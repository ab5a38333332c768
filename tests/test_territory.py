from __future__ import annotations

import re

import pytest

from claimrules.territory import (
    EEA,
    EU,
    NAMED_SETS,
    US_STATES_AND_DC,
    US_TERRITORIES,
    SubdivisionMismatch,
    UnknownCountry,
    UnknownSubdivision,
    in_territory,
    location_codes,
    subdivision_country,
    validate_country,
    validate_subdivision,
)

# --- validation -----------------------------------------------------------------


@pytest.mark.parametrize("code", ["US", "GB", "FR", "PR", "JP"])
def test_validate_country_accepts(code: str) -> None:
    assert validate_country(code) == code


@pytest.mark.parametrize("code", ["XX", "UK", "EL", "XK", "ZZ"])
def test_validate_country_rejects_unassigned_codes(code: str) -> None:
    with pytest.raises(UnknownCountry, match=rf"^{re.escape(repr(code))} is not an ISO 3166-1 alpha-2 country code$"):
        validate_country(code)


@pytest.mark.parametrize("code", ["us", "Us", "USA", "U", "", "US-AL", "840"])
def test_validate_country_requires_uppercase_alpha2(code: str) -> None:
    with pytest.raises(UnknownCountry, match=rf"^{re.escape(repr(code))} is not an ISO 3166-1 alpha-2 country code"):
        validate_country(code)


def test_validate_country_rejects_non_text() -> None:
    with pytest.raises(UnknownCountry, match="None"):
        validate_country(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["US-AL", "US-DC", "US-PR", "GB-SCT", "FR-75C", "CA-ON"])
def test_validate_subdivision_accepts(code: str) -> None:
    assert validate_subdivision(code) == code


@pytest.mark.parametrize("code", ["US-XX", "US-ZZ", "GB-XYZ", "XX-AB"])
def test_validate_subdivision_rejects_unknown(code: str) -> None:
    with pytest.raises(UnknownSubdivision, match=rf"^{re.escape(repr(code))} is not an ISO 3166-2 subdivision code$"):
        validate_subdivision(code)


@pytest.mark.parametrize("code", ["us-al", "US-al", "AL", "US", "USAL", "US-ALAB", ""])
def test_validate_subdivision_requires_iso_form(code: str) -> None:
    with pytest.raises(UnknownSubdivision, match=rf"^{re.escape(repr(code))} is not an ISO 3166-2 subdivision code"):
        validate_subdivision(code)


def test_subdivision_country() -> None:
    assert subdivision_country("US-AL") == "US"
    assert subdivision_country("GB-SCT") == "GB"
    assert subdivision_country("US-PR") == "US"
    with pytest.raises(UnknownSubdivision, match="'US-XX'"):
        subdivision_country("US-XX")


# --- named sets -----------------------------------------------------------------


def test_us_states_and_dc() -> None:
    assert len(US_STATES_AND_DC) == 51
    assert {"US-AL", "US-CA", "US-NY", "US-WY", "US-AK", "US-HI", "US-DC"} <= US_STATES_AND_DC
    for outlying in ("US-PR", "US-GU", "US-VI", "US-AS", "US-MP", "US-UM"):
        assert outlying not in US_STATES_AND_DC
    assert "PR" not in US_STATES_AND_DC
    assert all(code.startswith("US-") for code in US_STATES_AND_DC)
    assert all(validate_subdivision(code) == code for code in US_STATES_AND_DC)


def test_us_territories() -> None:
    assert US_TERRITORIES == {"PR", "GU", "VI", "AS", "MP", "US-PR", "US-GU", "US-VI", "US-AS", "US-MP"}
    assert US_TERRITORIES.isdisjoint(US_STATES_AND_DC)


def test_eu_and_eea() -> None:
    assert len(EU) == 27
    assert len(EEA) == 30
    assert EU < EEA
    assert EEA - EU == {"IS", "LI", "NO"}
    assert {"FR", "DE", "GR", "HR", "IE"} <= EU
    assert "GB" not in EU and "GB" not in EEA
    assert "CH" not in EU and "CH" not in EEA
    assert "EL" not in EU
    assert all(validate_country(code) == code for code in EEA)


def test_named_sets() -> None:
    assert set(NAMED_SETS) == {"us_states_and_dc", "us_territories", "eu", "eea"}
    assert NAMED_SETS["eu"] is EU
    assert NAMED_SETS["eea"] is EEA
    assert NAMED_SETS["us_states_and_dc"] is US_STATES_AND_DC
    assert NAMED_SETS["us_territories"] is US_TERRITORIES
    with pytest.raises(TypeError):
        NAMED_SETS["extra"] = frozenset()  # type: ignore[index]
    assert all(isinstance(codes, frozenset) for codes in NAMED_SETS.values())


# --- locations ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "subdivision", "expected"),
    [
        ("US", "US-AL", {"US", "US-AL"}),
        ("US", None, {"US"}),
        ("PR", None, {"PR", "US-PR"}),
        ("US", "US-PR", {"US", "US-PR", "PR"}),
        ("GU", None, {"GU", "US-GU"}),
        ("PR", "US-PR", {"PR", "US-PR"}),
        ("US", "US-UM", {"US", "US-UM"}),
        ("UM", None, {"UM"}),
        ("FR", None, {"FR"}),
        ("GB", "GB-SCT", {"GB", "GB-SCT"}),
    ],
)
def test_location_codes(country: str, subdivision: str | None, expected: set[str]) -> None:
    assert location_codes(country, subdivision) == expected


def test_location_codes_rejects_subdivision_of_another_country() -> None:
    with pytest.raises(SubdivisionMismatch, match="'GB-SCT' given for country 'US'; 'GB-SCT' belongs to 'GB'"):
        location_codes("US", "GB-SCT")
    with pytest.raises(SubdivisionMismatch, match="'US-GU' given for country 'PR'"):
        location_codes("PR", "US-GU")


def test_location_codes_rejects_unknown_codes() -> None:
    with pytest.raises(UnknownCountry, match="'XX'"):
        location_codes("XX", None)
    with pytest.raises(UnknownSubdivision, match="'US-XX'"):
        location_codes("US", "US-XX")
    with pytest.raises(UnknownSubdivision, match="'AL'"):
        location_codes("US", "AL")


# --- membership -----------------------------------------------------------------


def test_in_us_states_and_dc() -> None:
    assert in_territory(US_STATES_AND_DC, "US", "US-AL") is True
    assert in_territory(US_STATES_AND_DC, "US", "US-DC") is True
    assert in_territory(US_STATES_AND_DC, "US", "US-PR") is False
    assert in_territory(US_STATES_AND_DC, "PR", None) is False
    assert in_territory(US_STATES_AND_DC, "CA", "CA-ON") is False


def test_unknown_when_subdivision_decides() -> None:
    assert in_territory(US_STATES_AND_DC, "US", None) is None
    assert in_territory(US_TERRITORIES, "US", None) is None
    assert in_territory(frozenset({"GB-SCT"}), "GB", None) is None
    # A U.S. location without a state could be Puerto Rico given as ('US', 'US-PR').
    assert in_territory(frozenset({"PR"}), "US", None) is None


def test_known_without_subdivision_when_country_listed_or_absent() -> None:
    assert in_territory(frozenset({"US", "US-AL"}), "US", None) is True
    assert in_territory(EU, "US", None) is False
    assert in_territory(frozenset({"GB-SCT"}), "FR", None) is False


def test_in_us_territories_either_form() -> None:
    assert in_territory(US_TERRITORIES, "PR", None) is True
    assert in_territory(US_TERRITORIES, "US", "US-PR") is True
    assert in_territory(frozenset({"PR"}), "US", "US-PR") is True
    assert in_territory(frozenset({"US-GU"}), "GU", None) is True
    assert in_territory(US_TERRITORIES, "US", "US-AL") is False
    assert in_territory(US_TERRITORIES, "US", "US-UM") is False


def test_in_eu_and_eea() -> None:
    assert in_territory(EEA, "FR", None) is True
    assert in_territory(EEA, "NO", None) is True
    assert in_territory(EU, "NO", None) is False
    assert in_territory(EEA, "CH", None) is False
    assert in_territory(EU, "GB", None) is False
    assert in_territory(EU, "FR", "FR-75C") is True


def test_country_code_covers_its_subdivisions() -> None:
    assert in_territory(frozenset({"US"}), "US", "US-AL") is True
    assert in_territory(frozenset({"US"}), "US", "US-PR") is True


def test_in_territory_rejects_unknown_location() -> None:
    with pytest.raises(UnknownCountry, match="'QQ'"):
        in_territory(EU, "QQ", None)
