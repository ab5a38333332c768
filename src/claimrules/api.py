"""The library's front door: load a policy set once, adjudicate many claims against it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from claimrules.decide import Adjudicator
from claimrules.decision import Decision
from claimrules.engine.program import Program
from claimrules.errors import ClaimError
from claimrules.facts import MAX_DATE, MIN_DATE, ClaimFacts, parse_claim
from claimrules.policy import loader
from claimrules.policy.model import PolicySet


class CompiledPolicy:
    """A policy set compiled into durable_rules rulesets, ready to decide claims.

    Thread-safe: durable_rules' global state is guarded inside ``claimrules.engine.durable``.
    Call ``close()`` (or use ``with``) to release the rulesets; they are also released when the
    object is garbage-collected.
    """

    def __init__(self, policy: PolicySet, path: Path | None = None) -> None:
        self.policy = policy
        #: The folder it was loaded from (worker processes of a batch load it again from there).
        self.path = path
        self.program = Program(policy)
        self.adjudicator = Adjudicator(self.program)

    @property
    def fingerprint(self) -> str:
        return self.policy.fingerprint

    def adjudicate(self, facts: ClaimFacts | Mapping[str, Any], on: date | None = None) -> Decision:
        if not isinstance(facts, ClaimFacts):
            facts = parse_claim(facts)
        if on is not None:
            if not isinstance(on, date):
                raise ClaimError(f"decision date {on!r} is not a date", field="on", expected="a date")
            if not MIN_DATE <= on <= MAX_DATE:
                raise ClaimError(f"decision date {on} is outside the years {MIN_DATE.year}-{MAX_DATE.year}",
                                 field="on", expected=f"a date from {MIN_DATE.year} to {MAX_DATE.year}")
            if on < facts.claim.reported_on:
                raise ClaimError(f"decision date {on} is before the claim was reported ({facts.claim.reported_on})",
                                 field="on", expected="a date on or after claim.reported_on")
        return self.adjudicator.decide(facts, on)

    def close(self) -> None:
        self.program.close()

    def __enter__(self) -> CompiledPolicy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def load_policy(path: str | Path) -> CompiledPolicy:
    """Load, validate and compile a policy set (a folder with policy-set.yaml)."""
    return CompiledPolicy(loader.load_policy(path), Path(path).resolve())


def adjudicate(policy: CompiledPolicy, facts: ClaimFacts | Mapping[str, Any], on: date | None = None) -> Decision:
    """Decide one claim. ``on`` is the decision date (default: the day the claim was reported)."""
    return policy.adjudicate(facts, on)
