"""A recorded exception measured against the grantor's authority, by the policy itself.

claimrules names no role and no limit here. It asks the policy: the claim is decided as if the
customer asked on the last day of the extension (the extension included), and on earlier days, and
without the extension. If the last day is approved, the extension stands as asked. If only earlier
days are approved that would not be without it, the extension is capped at the last of them. If it
approves nothing that would not be approved anyway, it is refused. Each answer cites the clause that
decided the probe at the asked end (the policy's authority or timing clause).

The search assumes the law the engine is tested for: a later request date never turns a window
refusal into an approval, so the approved days form one run.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from claimrules.api import CompiledPolicy
from claimrules.decision import Decision
from claimrules.errors import ClaimError
from claimrules.facts import parse_claim

Status = Literal["granted", "capped", "refused"]


@dataclass(frozen=True)
class Authority:
    status: Status
    asked_end: date
    effective_end: date | None
    clause: str               # the clause that decided the probe at the asked end
    clause_title: str
    clause_text: str
    reason: str


def _probe(policy: CompiledPolicy, facts: dict[str, Any], fact: str, item: dict[str, Any] | None,
           day: date) -> Decision | None:
    probe = copy.deepcopy(facts)
    probe.setdefault("claim", {})["reported_on"] = day.isoformat()
    if item is not None:
        probe[fact] = [*probe.get(fact, []), item]
    try:
        return policy.adjudicate(parse_claim(probe))
    except ClaimError:
        return None  # a day the claim cannot be asked on (before delivery, say)


def _approved(decision: Decision | None) -> bool:
    return decision is not None and decision.outcome == "approve"


def measure(policy: CompiledPolicy, facts: dict[str, Any], fact: str, item: dict[str, Any],
            start: date, asked_end: date) -> Authority:
    """How much of an extension ``item`` (added to the list fact ``fact``) the policy honours."""
    at_end = _probe(policy, facts, fact, item, asked_end)
    if at_end is None:
        raise ClaimError(f"the claim cannot be decided on {asked_end} with this extension", field="new_end",
                         expected="an end date on which the claim could be asked")
    deciding = at_end.deciding
    if _approved(at_end):
        return Authority("granted", asked_end, asked_end, deciding.clause, deciding.title, deciding.text,
                         f"the policy honours the extension to {asked_end} ({deciding.clause})")
    low, high = start, asked_end - timedelta(days=1)
    best: date | None = None
    while low <= high:  # the last approved day with the extension
        middle = low + (high - low) // 2
        if _approved(_probe(policy, facts, fact, item, middle)):
            best, low = middle, middle + timedelta(days=1)
        else:
            high = middle - timedelta(days=1)
    if best is not None and not _approved(_probe(policy, facts, fact, None, best)):
        return Authority("capped", asked_end, best, deciding.clause, deciding.title, deciding.text,
                         f"valid up to {best} only, not to {asked_end} ({deciding.clause})")
    return Authority("refused", asked_end, None, deciding.clause, deciding.title, deciding.text,
                     f"the extension does not extend the window ({deciding.clause})")
