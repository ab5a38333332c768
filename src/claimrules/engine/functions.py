"""The built-in functions a condition may call, and the value types the language knows.

Every function is total over known values and returns ``None`` (unknown) when an argument it
needs is unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from claimrules.periods import add_days


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


def extended_end(
    base_end: date | None,
    extensions: Sequence[Mapping[str, Any]] | None,
    deployment: Any,
    agent_days: int | None,
    supervisor_days: int | None,
    manager_days: int | None,
    deployment_days: int | None,
) -> date | None:
    """The end of a return window after recorded extensions (RT 3.1-3.4).

    An extension counts up to its grantor's authority, measured from ``base_end`` (RT 3.2). It is
    void unless granted on or before the end of the window as already extended by valid extensions
    (RT 3.3); the latest valid end governs. A documented deployment is a manager's extension to
    ``deployment_days`` after the deployment ends, granted on the day it was documented (RT 3.4).
    The result does not depend on the order extensions are listed in: it is a fixed point.
    """
    if base_end is None or agent_days is None or supervisor_days is None or manager_days is None:
        return None
    caps = {"agent": agent_days, "supervisor": supervisor_days, "manager": manager_days}
    grants: list[tuple[date, date]] = []
    for extension in extensions or ():
        limit = add_days(base_end, caps[extension["grantor_role"]])
        grants.append((extension["granted_on"], min(extension["new_end"], limit)))
    if deployment is not None and deployment_days is not None:
        wanted = add_days(deployment.ends_on, deployment_days)
        grants.append((deployment.documented_on, min(wanted, add_days(base_end, manager_days))))
    end = base_end
    changed = True
    while changed:
        changed = False
        for granted_on, new_end in grants:
            if granted_on <= end < new_end:
                end = new_end
                changed = True
    return end


def _grants(base_end: date, extensions: Sequence[Mapping[str, Any]] | None, deployment: Any, caps: Mapping[str, int],
            deployment_days: int | None) -> list[tuple[date, date, date]]:
    """(granted on, asked-for end, end within the grantor's authority) per extension and deployment."""
    grants = []
    for extension in extensions or ():
        limit = add_days(base_end, caps[extension["grantor_role"]])
        grants.append((extension["granted_on"], extension["new_end"], min(extension["new_end"], limit)))
    if deployment is not None and deployment_days is not None:
        wanted = add_days(deployment.ends_on, deployment_days)
        grants.append((deployment.documented_on, wanted, min(wanted, add_days(base_end, caps["manager"]))))
    return grants


def _extension_grants(base_end: date | None, extensions: Sequence[Mapping[str, Any]] | None, deployment: Any,
                      agent_days: int | None, supervisor_days: int | None, manager_days: int | None,
                      deployment_days: int | None) -> tuple[date, list[tuple[date, date, date]]] | None:
    """The window's extended end and every grant, or None when a figure is unknown."""
    if base_end is None or agent_days is None or supervisor_days is None or manager_days is None:
        return None
    end = extended_end(base_end, extensions, deployment, agent_days, supervisor_days, manager_days, deployment_days)
    assert end is not None
    caps = {"agent": agent_days, "supervisor": supervisor_days, "manager": manager_days}
    return end, _grants(base_end, extensions, deployment, caps, deployment_days)


def extensions_void(*args: Any) -> int | None:
    """How many recorded extensions are void: granted after the window, as validly extended, ended (RT 3.3).

    Arguments as ``extended_end``.
    """
    found = _extension_grants(*args)
    if found is None:
        return None
    end, grants = found
    return sum(1 for granted_on, _, _ in grants if granted_on > end)


def extensions_capped(*args: Any) -> int | None:
    """How many valid extensions asked for more than their grantor's authority allows (RT 3.2).

    Arguments as ``extended_end``.
    """
    found = _extension_grants(*args)
    if found is None:
        return None
    end, grants = found
    return sum(1 for granted_on, wanted, allowed in grants if granted_on <= end and wanted > allowed)


FUNCTIONS: Mapping[str, Callable[..., Any]] = {
    "coalesce": coalesce,
    "max": latest,
    "min": earliest,
    "month_day": month_day,
    "next_on": next_on,
    "extended_end": extended_end,
    "extensions_void": extensions_void,
    "extensions_capped": extensions_capped,
}

ARITY: Mapping[str, tuple[int, int]] = {
    "coalesce": (1, 16),
    "max": (2, 16),
    "min": (2, 16),
    "month_day": (1, 1),
    "next_on": (3, 3),
    "extended_end": (7, 7),
    "extensions_void": (7, 7),
    "extensions_capped": (7, 7),
}
