"""Authority-capped exceptions to a window: which grants count, which are capped, which are void.

The rule a policy declares with ``exceptions:`` (docs/policy-language.md, "Exceptions"): every
grant asks to move the end of a window to a new end; it counts at most up to its grantor role's authority measured from the window's own end; it is void when it
was granted after the window, as already extended by the valid grants, had ended; the latest valid
end governs. The result is a fixed point, so it does not depend on the order grants are listed in.
Nothing here knows any policy's roles, caps or events: they arrive as data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True, slots=True)
class GrantRequest:
    """One grant as the claim records it: who (role) granted it when, and the end it asked for.

    ``limit`` is the latest end the role's authority allows (None: the role has no authority).
    """

    kind: str
    clause: str
    source: str
    role: str
    granted_on: date
    new_end: date
    limit: date | None


def resolve_grants(window_end: date, requests: Sequence[GrantRequest]) -> tuple[date, tuple[dict[str, Any], ...]]:
    """The window's end as validly extended, and each grant's outcome (as ``item.x`` fields).

    Outcome fields: kind, clause, source, role, granted_on, new_end (asked), end (within authority),
    status ('counted', 'capped' or 'void'), over_by_days (how far past its authority it asked),
    reason (one sentence, for the written decision).
    """
    # A role without authority extends nothing: its grant ends where the window already did.
    allowed = [(request, min(request.new_end, request.limit) if request.limit is not None else window_end)
               for request in requests]
    end = window_end
    changed = True
    while changed:
        changed = False
        for request, until in allowed:
            if request.granted_on <= end < until:
                end = until
                changed = True
    outcomes = []
    # A total order (every field): requests equal on date and source but not on authority must not
    # come out in listing order (found by the order-free property test in a full run).
    for request, until in sorted(allowed, key=lambda pair: (
            pair[0].granted_on, pair[0].new_end, pair[0].source, pair[0].role, pair[0].kind, pair[0].clause,
            pair[0].limit is not None, pair[0].limit or pair[0].new_end)):
        over = (request.new_end - request.limit).days if request.limit is not None and request.new_end > request.limit else 0
        who = f"{'an' if request.role[:1].lower() in 'aeiou' else 'a'} {request.role}"
        if request.limit is None:
            status, reason, over = "void", f"{who} has no authority to extend this window", 0
        elif request.granted_on > end:
            status, over = "void", 0
            reason = (f"granted on {request.granted_on.isoformat()}, after the window as already extended ended "
                      f"on {end.isoformat()}")
        elif over:
            status = "capped"
            reason = (f"asked for {request.new_end.isoformat()}; {who}'s authority reaches "
                      f"{until.isoformat()}, so it counts up to then ({over} day{'s' if over != 1 else ''} less)")
        else:
            status = "counted"
            reason = (f"moves the end of the window to {until.isoformat()}" if until > window_end else
                      f"asks for {request.new_end.isoformat()}, no later than the window's own end "
                      f"{window_end.isoformat()}: it extends nothing")
        outcomes.append({
            "kind": request.kind, "clause": request.clause, "source": request.source, "role": request.role,
            "granted_on": request.granted_on, "new_end": request.new_end, "end": until, "status": status,
            "over_by_days": over, "reason": reason,
        })
    return end, tuple(outcomes)
