"""The built-in functions a condition may call, and the value types the language knows.

Every function is total over known values and returns ``None`` (unknown) when an argument it
needs is unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any


def coalesce(*values: Any) -> Any:
    """The first known value (LW 1.3: proof of delivery, else pick-up, else invoice + 5 days)."""
    for value in values:
        if value is not None:
            return value
    return None


def latest(*values: Any) -> Any:
    if any(value is None for value in values):
        return None
    return max(values)


def earliest(*values: Any) -> Any:
    if any(value is None for value in values):
        return None
    return min(values)


def month_day(value: date | None) -> str | None:
    """'MM-DD' of a date, to test calendar seasons such as 15 November to 31 December (RT 1.3)."""
    return None if value is None else f"{value.month:02d}-{value.day:02d}"


def next_on(value: date | None, month: int | None, day: int | None) -> date | None:
    """The first date strictly after ``value`` falling on month/day (e.g. 31 January after a Christmas delivery)."""
    if value is None or month is None or day is None:
        return None
    candidate = date(value.year, month, day)
    return candidate if candidate > value else date(value.year + 1, month, day)


FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "coalesce": coalesce,
    "max": latest,
    "min": earliest,
    "month_day": month_day,
    "next_on": next_on,
}

ARITY: Mapping[str, tuple[int, int]] = {
    "coalesce": (1, 16),
    "max": (2, 16),
    "min": (2, 16),
    "month_day": (1, 1),
    "next_on": (3, 3),
}
