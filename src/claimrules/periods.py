"""Contract periods and Business Days.

Conventions (as the policy texts use them):

* "within N days after" an event ends at the end of the Nth calendar day after
  the day of the event: the event day is day 0 and day N is included.
* Periods of months or years run to the same calendar date; where that date
  does not exist (29 February, the 31st of a short month) the period ends on
  the last day of that month.
* "Until" a date includes that date.
* A Business Day is Monday to Friday, excluding public holidays at the
  Product's location.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

__all__ = [
    "InvalidLocation",
    "InvalidPeriod",
    "add_business_days",
    "add_days",
    "add_months",
    "add_years",
    "count_between",
    "is_business_day",
    "next_business_day",
    "within",
]

_COUNTRY_RE = re.compile(r"[A-Z]{2}")
_SUBDIVISION_RE = re.compile(r"([A-Z]{2})-([A-Z0-9]{1,3})")


class InvalidPeriod(ValueError):
    """A period or a count of days was given that the conventions do not allow."""


class InvalidLocation(ValueError):
    """A country or subdivision code is not in ISO 3166 form."""


def add_days(d: date, n: int) -> date:
    """The calendar date ``n`` days after ``d`` (before it when ``n`` is negative)."""
    return d + timedelta(days=n)


def add_months(d: date, n: int) -> date:
    """The same calendar date ``n`` months later, clamped to the month's last day.

    The rule relativedelta applies (tests/test_periods.py checks the two agree), worked out
    directly: building a relativedelta per call was a visible share of a decision (issue #15),
    and a book of distinct claims has too many distinct dates for a cache to help.
    """
    months = d.month - 1 + n
    year, month = d.year + months // 12, months % 12 + 1
    day = d.day
    if day > 28:
        day = min(day, _DAYS_IN_MONTH[month] if month != 2 else 29 if calendar.isleap(year) else 28)
    return date(year, month, day)


_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def add_years(d: date, n: int) -> date:
    """The same calendar date ``n`` years later; 29 February becomes 28 February."""
    return add_months(d, 12 * n)


def within(
    event: date,
    anchor: date,
    *,
    days: int = 0,
    months: int = 0,
    years: int = 0,
) -> bool:
    """Whether ``event`` falls within the period starting on ``anchor``.

    The period ends on ``anchor`` shifted by ``years`` and ``months`` (clamped to
    the end of a short month) and then by ``days``; both ends are included.
    """
    for name, value in (("days", days), ("months", months), ("years", years)):
        if value < 0:
            raise InvalidPeriod(f"{name}={value} given; a period length must be >= 0")
    end = add_days(add_months(anchor, 12 * years + months), days)
    return anchor <= event <= end


def _holidays_subdivision(country: str, subdivision: str | None) -> str | None:
    """The part of an ISO 3166-2 code after the dash, checked against ``country``."""
    if not _COUNTRY_RE.fullmatch(country):
        raise InvalidLocation(
            f"country {country!r} given; expected an uppercase ISO 3166-1 alpha-2 code such as 'US'"
        )
    if subdivision is None:
        return None
    match = _SUBDIVISION_RE.fullmatch(subdivision)
    if match is None:
        raise InvalidLocation(
            f"subdivision {subdivision!r} given; expected an uppercase ISO 3166-2 code such as 'US-AL'"
        )
    if match.group(1) != country:
        raise InvalidLocation(
            f"subdivision {subdivision!r} given for country {country!r}; "
            f"expected a subdivision code starting with '{country}-'"
        )
    return match.group(2)


@lru_cache(maxsize=1024)
def _holiday_dates(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    """Public holidays (observed days included) at a location in one year.

    Only dates are kept: holiday names depend on the environment's locale, dates
    do not. An unsupported country has no holidays; an unsupported subdivision
    falls back to the country's holidays.
    """
    import holidays  # its country tables take ~0.1 s to import: only when a business day is counted

    supported = holidays.list_supported_countries(include_aliases=False)
    if country not in supported:
        return frozenset()
    if subdiv is not None and subdiv not in supported[country]:
        subdiv = None
    return frozenset(holidays.country_holidays(country, subdiv=subdiv, years=year).keys())


def is_business_day(d: date, country: str, subdivision: str | None = None) -> bool:
    """Whether ``d`` is a Business Day at the location (Mon–Fri, not a public holiday)."""
    subdiv = _holidays_subdivision(country, subdivision)
    if d.weekday() >= 5:
        return False
    return d not in _holiday_dates(country, subdiv, d.year)


def next_business_day(d: date, country: str, subdivision: str | None = None) -> date:
    """The first Business Day strictly after ``d``."""
    candidate = add_days(d, 1)
    while not is_business_day(candidate, country, subdivision):
        candidate = add_days(candidate, 1)
    return candidate


def add_business_days(d: date, n: int, country: str, subdivision: str | None = None) -> date:
    """The ``n``th Business Day after ``d``; ``d`` itself when ``n`` is 0."""
    if n < 0:
        raise InvalidPeriod(f"n={n} business days given; expected n >= 0")
    return _add_business_days(d, n, country, _holidays_subdivision(country, subdivision))


@lru_cache(maxsize=65536)
def _add_business_days(d: date, n: int, country: str, subdiv: str | None) -> date:
    one_day = timedelta(days=1)
    result = d
    year, closed = -1, frozenset[date]()
    for _ in range(n):
        result += one_day
        while True:
            if result.year != year:
                year, closed = result.year, _holiday_dates(country, subdiv, result.year)
            if result.weekday() < 5 and result not in closed:
                break
            result += one_day
    return result


def count_between(dates: Iterable[date], start: date, end: date) -> int:
    """How many of ``dates`` fall from ``start`` until ``end``, both included."""
    return sum(1 for d in dates if start <= d <= end)
