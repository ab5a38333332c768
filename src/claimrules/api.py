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
from claimrules.facts import MAX_DATE, MIN_DATE, ClaimFacts, claim_json_schema, load_claim, parse_claim
from claimrules.policy import loader
from claimrules.policy.model import PolicySet
from claimrules.vocabulary import Vocabulary


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
        #: Vocabularies other than this policy set's that claims came read with, by identity (the
        #: object kept, so its id is never taken for another's): whether they equal this one.
        self._other_vocabularies: dict[int, tuple[Vocabulary, bool]] = {}

    @property
    def fingerprint(self) -> str:
        return self.policy.fingerprint

    @property
    def vocabulary(self) -> Vocabulary:
        """The claim facts this policy set reads (its facts.yaml)."""
        return self.policy.vocabulary

    def parse_claim(self, document: Mapping[str, Any], *, source: str | None = None) -> ClaimFacts:
        """Validate a claim (e.g. parsed JSON) against this policy set's vocabulary; raises ClaimError."""
        return parse_claim(document, self.policy.vocabulary, source=source)

    def load_claim(self, path: str | Path) -> ClaimFacts:
        """Read and validate a claim JSON file against this policy set's vocabulary."""
        return load_claim(path, self.policy.vocabulary)

    def claim_schema(self) -> dict[str, Any]:
        """The JSON Schema of a claim under this policy set."""
        return claim_json_schema(self.policy.vocabulary)

    def adjudicate(self, facts: ClaimFacts | Mapping[str, Any], on: date | None = None) -> Decision:
        if not isinstance(facts, ClaimFacts):
            facts = parse_claim(facts, self.policy.vocabulary)
        elif facts.vocabulary is not self.policy.vocabulary and not self._reads_alike(facts.vocabulary):
            facts = parse_claim(facts.model_dump(exclude_none=True), self.policy.vocabulary)
        if on is not None:
            if not isinstance(on, date):
                raise ClaimError(f"decision date {on!r} is not a date", field="on", expected="a date")
            if not MIN_DATE <= on <= MAX_DATE:
                raise ClaimError(f"decision date {on} is outside the years {MIN_DATE.year}-{MAX_DATE.year}",
                                 field="on", expected=f"a date from {MIN_DATE.year} to {MAX_DATE.year}")
            reported = facts.decision_date
            if reported is not None and on < reported:
                raise ClaimError(f"decision date {on} is before the claim was reported ({reported})",
                                 field="on", expected="a date on or after claim.reported_on")
        else:
            on = facts.decision_date
            if on is None:
                raise ClaimError("no decision date: the claim does not give one and none was passed", field="on",
                                 expected="on=<date>, or a fact with 'role: decision_date' in the policy's vocabulary")
        return self.adjudicator.decide(facts, on)

    def _reads_alike(self, vocabulary: Vocabulary) -> bool:
        """Whether claims read with ``vocabulary`` (another object) are read as with this policy set's:
        an equal vocabulary, e.g. the same facts.yaml loaded twice. Comparing two takes about 0.2 ms,
        so each other vocabulary is compared once (a few per process; at most 16 are remembered)."""
        known = self._other_vocabularies.get(id(vocabulary))
        if known is not None and known[0] is vocabulary:
            return known[1]
        alike = vocabulary == self.policy.vocabulary
        if len(self._other_vocabularies) >= 16:
            self._other_vocabularies.clear()
        self._other_vocabularies[id(vocabulary)] = (vocabulary, alike)
        return alike

    def close(self) -> None:
        self.program.close()

    def __enter__(self) -> CompiledPolicy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def load_policy(path: str | Path) -> CompiledPolicy:
    """Load, validate and compile a policy set (a folder with policy-set.yaml)."""
    return CompiledPolicy(loader.load_policy(path), Path(path).resolve())


def load_vocabulary(path: str | Path) -> Vocabulary:
    """Only the claim vocabulary of a policy set (its facts.yaml), without loading its documents."""
    return loader.load_vocabulary(path)


def adjudicate(policy: CompiledPolicy, facts: ClaimFacts | Mapping[str, Any], on: date | None = None) -> Decision:
    """Decide one claim. ``on`` is the decision date (default: the day the claim was reported)."""
    return policy.adjudicate(facts, on)
