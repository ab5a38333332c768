from __future__ import annotations

from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from claimrules.periods import (
    InvalidLocation,
    InvalidPeriod,
    add_business_days,
    add_days,
    add_months,
    add_years,
    count_between,
    is_business_day,
    next_business_day,
    within,
)

dates = st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 12, 31))


# --- calendar arithmetic -------------------------------------------------------


def test_add_days_crosses_month_and_year() -> None:
    assert add_days(date(2026, 12, 31), 1) == date(2027, 1, 1)
    assert add_days(date(2024, 2, 28), 1) == date(2024, 2, 29)
    assert add_days(date(2025, 2, 28), 1) == date(2025, 3, 1)
    assert add_days(date(2026, 3, 1), -1) == date(2026, 2, 28)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 15), 1, date(2026, 2, 15)),
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
        (date(2026, 1, 31), 2, date(2026, 3, 31)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 5, 10), 0, date(2026, 5, 10)),
        (date(2026, 5, 10), 24, date(2028, 5, 10)),
    ],
)
def test_add_months_clamps_to_end_of_short_month(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_add_years_leap_day() -> None:
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert add_years(date(2024, 2, 29), -1) == date(2023, 2, 28)
    assert add_years(date(2023, 3, 1), 1) == date(2024, 3, 1)


def test_add_years_is_twelve_months() -> None:
    assert add_years(date(2026, 6, 30), 2) == add_months(date(2026, 6, 30), 24)


# --- within -------------------------------------------------------------------


def test_within_days_day_n_included_day_n_plus_one_excluded() -> None:
    purchase = date(2026, 3, 1)
    assert within(date(2026, 3, 31), purchase, days=30)  # day 30
    assert not within(date(2026, 4, 1), purchase, days=30)  # day 31


def test_within_event_day_is_day_zero() -> None:
    anchor = date(2026, 3, 1)
    assert within(anchor, anchor, days=30)
    assert within(anchor, anchor)  # a zero-length period still contains its own day
    assert not within(date(2026, 3, 2), anchor)


def test_within_rejects_events_before_anchor() -> None:
    assert not within(date(2026, 2, 28), date(2026, 3, 1), days=30)


def test_within_months_runs_to_same_calendar_date() -> None:
    anchor = date(2026, 1, 15)
    assert within(date(2026, 4, 15), anchor, months=3)
    assert not within(date(2026, 4, 16), anchor, months=3)


def test_within_months_clamped_end() -> None:
    anchor = date(2026, 1, 31)
    assert within(date(2026, 2, 28), anchor, months=1)
    assert not within(date(2026, 3, 1), anchor, months=1)


def test_within_years_from_leap_day() -> None:
    anchor = date(2024, 2, 29)
    assert within(date(2025, 2, 28), anchor, years=1)
    assert not within(date(2025, 3, 1), anchor, years=1)
    assert within(date(2028, 2, 29), anchor, years=4)
    assert not within(date(2028, 3, 1), anchor, years=4)


def test_within_combined_period_applies_months_then_days() -> None:
    # 31 Jan + 1 month = 28 Feb; + 1 day = 1 Mar.
    anchor = date(2026, 1, 31)
    assert within(date(2026, 3, 1), anchor, months=1, days=1)
    assert not within(date(2026, 3, 2), anchor, months=1, days=1)
    assert within(date(2027, 7, 31), date(2026, 1, 31), years=1, months=6)
    assert not within(date(2027, 8, 1), date(2026, 1, 31), years=1, months=6)


@pytest.mark.parametrize("kwargs", [{"days": -1}, {"months": -2}, {"years": -1}])
def test_within_rejects_negative_period(kwargs: dict[str, int]) -> None:
    name, value = next(iter(kwargs.items()))
    with pytest.raises(InvalidPeriod, match=f"{name}={value}"):
        within(date(2026, 1, 1), date(2026, 1, 1), **kwargs)


@given(d=st.dates(), n=st.integers(min_value=-1200, max_value=1200))
def test_add_months_is_relativedeltas_rule(d: date, n: int) -> None:
    """add_months works the month out itself (speed); relativedelta's rule is the reference."""
    try:
        expected: date | type[ValueError] = d + relativedelta(months=n)
    except ValueError:
        expected = ValueError
    if expected is ValueError:
        with pytest.raises(ValueError, match="out of range"):
            add_months(d, n)
    else:
        assert add_months(d, n) == expected


@given(d=dates, n=st.integers(min_value=-240, max_value=240))
def test_add_months_day_never_grows(d: date, n: int) -> None:
    result = add_months(d, n)
    assert result.day <= d.day
    assert (result.year * 12 + result.month) - (d.year * 12 + d.month) == n
    if result.day < d.day:  # clamped: must be the last day of its month
        assert add_days(result, 1).day == 1


@given(d=dates, n=st.integers(min_value=0, max_value=120))
def test_add_months_never_goes_backwards(d: date, n: int) -> None:
    assert add_months(d, n) >= d


@given(event=dates, anchor=dates, days=st.integers(min_value=0, max_value=2000), extra=st.integers(0, 400))
def test_within_days_is_monotone_in_period(event: date, anchor: date, days: int, extra: int) -> None:
    if within(event, anchor, days=days):
        assert within(event, anchor, days=days + extra)


@given(event=dates, anchor=dates, months=st.integers(min_value=0, max_value=120), extra=st.integers(0, 60))
def test_within_months_is_monotone_in_period(event: date, anchor: date, months: int, extra: int) -> None:
    if within(event, anchor, months=months):
        assert within(event, anchor, months=months + extra)


@given(anchor=dates, days=st.integers(min_value=0, max_value=2000))
def test_within_days_boundary(anchor: date, days: int) -> None:
    assert within(anchor + timedelta(days=days), anchor, days=days)
    assert not within(anchor + timedelta(days=days + 1), anchor, days=days)
    assert not within(anchor - timedelta(days=1), anchor, days=days)


# --- business days ------------------------------------------------------------


def test_weekend_is_not_business_day() -> None:
    assert not is_business_day(date(2026, 11, 28), "US")  # Saturday
    assert not is_business_day(date(2026, 11, 29), "US")  # Sunday
    assert is_business_day(date(2026, 11, 30), "US")  # Monday


def test_us_federal_holidays() -> None:
    assert not is_business_day(date(2026, 11, 26), "US")  # Thanksgiving
    assert is_business_day(date(2026, 11, 27), "US")  # day after Thanksgiving is not federal
    assert not is_business_day(date(2026, 12, 25), "US")  # Christmas (Friday)
    assert not is_business_day(date(2026, 7, 3), "US")  # Independence Day observed (4 July is a Saturday)


def test_observed_holiday_across_year_boundary() -> None:
    # 1 Jan 2022 was a Saturday; the federal holiday was observed on Friday 31 Dec 2021.
    assert not is_business_day(date(2021, 12, 31), "US")
    # 1 Jan 2028 is a Saturday; observed on Friday 31 Dec 2027.
    assert not is_business_day(date(2027, 12, 31), "US")


def test_uk_bank_holidays() -> None:
    assert not is_business_day(date(2026, 4, 3), "GB")  # Good Friday
    assert not is_business_day(date(2026, 5, 25), "GB")  # Spring Bank Holiday
    assert not is_business_day(date(2026, 12, 28), "GB")  # Boxing Day observed (26 Dec is a Saturday)
    assert is_business_day(date(2026, 11, 26), "GB")  # US Thanksgiving is a UK working day


def test_uk_holidays_that_differ_by_nation_need_the_subdivision() -> None:
    # `holidays` gives GB-wide only the holidays common to all four nations: Easter Monday
    # and the Summer Bank Holiday (last Monday of August) appear only with a subdivision.
    assert is_business_day(date(2026, 8, 31), "GB")
    assert not is_business_day(date(2026, 8, 31), "GB", "GB-ENG")
    assert not is_business_day(date(2026, 4, 6), "GB", "GB-ENG")  # Easter Monday
    assert is_business_day(date(2026, 4, 6), "GB", "GB-SCT")


def test_uk_subdivision_holidays() -> None:
    # Scotland: St Andrew's Day and 2 January; its summer holiday is in August's first week.
    assert not is_business_day(date(2026, 11, 30), "GB", "GB-SCT")
    assert is_business_day(date(2026, 11, 30), "GB")
    assert not is_business_day(date(2026, 1, 2), "GB", "GB-SCT")
    assert is_business_day(date(2026, 1, 2), "GB", "GB-ENG")
    assert not is_business_day(date(2026, 8, 3), "GB", "GB-SCT")
    assert is_business_day(date(2026, 8, 31), "GB", "GB-SCT")


def test_us_state_holidays_for_subdivision() -> None:
    # Alabama: Confederate Memorial Day (4th Monday of April) and Jefferson Davis' birthday.
    assert not is_business_day(date(2026, 4, 27), "US", "US-AL")
    assert not is_business_day(date(2026, 6, 1), "US", "US-AL")
    assert is_business_day(date(2026, 4, 27), "US")
    assert is_business_day(date(2026, 4, 27), "US", "US-NY")
    # Louisiana: Mardi Gras (Shrove Tuesday); `holidays` does not give it to Alabama statewide.
    assert not is_business_day(date(2026, 2, 17), "US", "US-LA")
    assert is_business_day(date(2026, 2, 17), "US", "US-AL")
    # State holidays add to, never replace, the federal ones.
    assert not is_business_day(date(2026, 11, 26), "US", "US-AL")


def test_unsupported_subdivision_falls_back_to_country() -> None:
    # GB-EDH (Edinburgh) is a valid ISO 3166-2 code that `holidays` does not model.
    assert not is_business_day(date(2026, 12, 25), "GB", "GB-EDH")
    assert is_business_day(date(2026, 11, 30), "GB", "GB-EDH")


def test_unsupported_country_uses_weekends_only() -> None:
    # holidays 0.109 covers every ISO 3166-1 country, so only a code it lacks shows the fallback.
    assert is_business_day(date(2026, 12, 25), "XX")
    assert is_business_day(date(2026, 1, 1), "XX")
    assert is_business_day(date(2026, 12, 28), "XX", "XX-AB")
    assert not is_business_day(date(2026, 12, 26), "XX")  # Saturday
    assert not is_business_day(date(2026, 12, 27), "XX")  # Sunday
    assert add_business_days(date(2026, 12, 24), 1, "XX") == date(2026, 12, 25)


@pytest.mark.parametrize(
    ("country", "subdivision"),
    [("us", None), ("USA", None), ("US", "AL"), ("US", "us-al"), ("US", "GB-SCT")],
)
def test_malformed_location_rejected(country: str, subdivision: str | None) -> None:
    with pytest.raises(InvalidLocation, match=repr(subdivision if subdivision else country)):
        is_business_day(date(2026, 1, 5), country, subdivision)


def test_next_business_day_is_strictly_after() -> None:
    assert next_business_day(date(2026, 11, 30), "US") == date(2026, 12, 1)  # Mon -> Tue
    assert next_business_day(date(2026, 11, 25), "US") == date(2026, 11, 27)  # skips Thanksgiving
    assert next_business_day(date(2026, 12, 24), "US") == date(2026, 12, 28)  # Christmas Fri + weekend
    assert next_business_day(date(2026, 12, 31), "US") == date(2027, 1, 4)  # New Year (Fri) + weekend


def test_add_business_days() -> None:
    wednesday = date(2026, 11, 25)
    assert add_business_days(wednesday, 0, "US") == wednesday
    assert add_business_days(wednesday, 1, "US") == date(2026, 11, 27)
    assert add_business_days(wednesday, 2, "US") == date(2026, 11, 30)
    assert add_business_days(wednesday, 5, "US") == date(2026, 12, 3)
    # From a Saturday, the first business day after is Monday.
    assert add_business_days(date(2026, 11, 28), 1, "US") == date(2026, 11, 30)


def test_add_business_days_respects_subdivision() -> None:
    friday = date(2026, 4, 24)
    assert add_business_days(friday, 1, "US") == date(2026, 4, 27)
    assert add_business_days(friday, 1, "US", "US-AL") == date(2026, 4, 28)


def test_add_business_days_rejects_negative() -> None:
    with pytest.raises(InvalidPeriod, match="n=-1"):
        add_business_days(date(2026, 1, 5), -1, "US")


@given(d=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)), n=st.integers(1, 30))
def test_add_business_days_lands_on_business_day(d: date, n: int) -> None:
    result = add_business_days(d, n, "US")
    assert result > d
    assert is_business_day(result, "US")
    between = [add_days(d, i) for i in range(1, (result - d).days + 1)]
    assert sum(is_business_day(x, "US") for x in between) == n


# --- counting -----------------------------------------------------------------


def test_count_between_is_inclusive() -> None:
    claims = [date(2026, 1, 1), date(2026, 1, 15), date(2026, 1, 31), date(2026, 2, 1), date(2025, 12, 31)]
    assert count_between(claims, date(2026, 1, 1), date(2026, 1, 31)) == 3
    assert count_between(claims, date(2026, 1, 2), date(2026, 1, 30)) == 1
    assert count_between([], date(2026, 1, 1), date(2026, 12, 31)) == 0
    assert count_between(claims, date(2026, 2, 1), date(2026, 1, 1)) == 0


def test_count_between_accepts_any_iterable_and_counts_duplicates() -> None:
    same_day = (date(2026, 5, 5) for _ in range(3))
    assert count_between(same_day, date(2026, 5, 5), date(2026, 5, 5)) == 3
