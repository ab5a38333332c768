"""claimrules: adjudicate warranty, protection-plan and return claims against declarative policies.

    >>> import claimrules
    >>> policy = claimrules.load_policy("path/to/policy-set")      # a folder with policy-set.yaml
    >>> facts = policy.load_claim("path/to/claim.json")           # read with the set's facts.yaml
    >>> decision = claimrules.adjudicate(policy, facts)
    >>> decision.outcome, decision.remedy, decision.deciding.clause

Same facts and same policy give the same decision, with the same ``decision_id``, every time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claimrules.api import CompiledPolicy, adjudicate, load_policy, load_vocabulary
from claimrules.decision import Citation, ClauseTrace, Decision
from claimrules.errors import ClaimError, ClaimrulesError, EvaluationError, PolicyError
from claimrules.facts import ClaimFacts, claim_json_schema, load_claim, parse_claim
from claimrules.money import Money
from claimrules.vocabulary import Vocabulary

if TYPE_CHECKING:
    from claimrules.batch import BatchResult


def adjudicate_many(policy: CompiledPolicy | str | Path, claims: Iterable[Any], *, on: date | None = None,
                    workers: int | None = None) -> Iterator[BatchResult]:
    """Decide many claims lazily, in order, on every core by default: see ``claimrules.batch``."""
    from claimrules.batch import adjudicate_many as run  # the batch machinery only when it is used

    return run(policy, claims, on=on, workers=workers)


__all__ = [
    "Citation", "ClaimError", "ClaimFacts", "ClaimrulesError", "ClauseTrace", "CompiledPolicy", "Decision",
    "EvaluationError", "Money", "PolicyError", "Vocabulary", "adjudicate", "adjudicate_many", "claim_json_schema",
    "load_claim", "load_policy", "load_vocabulary",
    "parse_claim",
]
__version__ = "0.1.0"
