"""claimrules: adjudicate warranty, protection-plan and return claims against declarative policies.

    >>> import claimrules
    >>> policy = claimrules.load_policy("path/to/policy-set")      # a folder with policy-set.yaml
    >>> facts = policy.load_claim("path/to/claim.json")           # read with the set's facts.yaml
    >>> decision = claimrules.adjudicate(policy, facts)
    >>> decision.outcome, decision.remedy, decision.deciding.clause

Same facts and same policy give the same decision, with the same ``decision_id``, every time.

Importing the package is cheap: each public name is imported from its module the first time it is
used (PEP 562), so the command's thin client (``claimrules.launch``) can start without pydantic.
"""

from __future__ import annotations

from importlib import import_module

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads it the same way)
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from datetime import date
    from pathlib import Path
    from typing import Any

    from claimrules.api import CompiledPolicy, adjudicate, load_policy, load_vocabulary
    from claimrules.batch import BatchResult
    from claimrules.decision import Citation, ClauseTrace, Decision
    from claimrules.errors import ClaimError, ClaimrulesError, EvaluationError, PolicyError
    from claimrules.facts import ClaimFacts, claim_json_schema, load_claim, parse_claim
    from claimrules.money import Money
    from claimrules.vocabulary import Vocabulary

#: Where each public name lives; imported on first use.
_HOMES = {
    "CompiledPolicy": "claimrules.api", "adjudicate": "claimrules.api", "load_policy": "claimrules.api",
    "load_vocabulary": "claimrules.api",
    "Citation": "claimrules.decision", "ClauseTrace": "claimrules.decision", "Decision": "claimrules.decision",
    "ClaimError": "claimrules.errors", "ClaimrulesError": "claimrules.errors", "EvaluationError": "claimrules.errors",
    "PolicyError": "claimrules.errors",
    "ClaimFacts": "claimrules.facts", "claim_json_schema": "claimrules.facts", "load_claim": "claimrules.facts",
    "parse_claim": "claimrules.facts",
    "Money": "claimrules.money",
    "Vocabulary": "claimrules.vocabulary",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        # A submodule (``claimrules.api``, ``claimrules.decide``...), as when this package imported them eagerly.
        if not name.startswith("_") and name.isidentifier():
            try:
                return import_module(f"claimrules.{name}")
            except ModuleNotFoundError as missing:
                if missing.name != f"claimrules.{name}":
                    raise
        raise AttributeError(f"module 'claimrules' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # later look-ups find it directly
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


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
