"""What a policy *is*: documents of numbered clauses, definitions and parties, combined into a set.

Everything is immutable and carries where it came from (file and line), so an error or a decision
can point at the contract section and the policy file line that encodes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from claimrules.policy.expr import Duration, Expr
from claimrules.vocabulary import Vocabulary


class Effect(StrEnum):
    """What a clause does when its conditions hold."""

    COVERS = "covers"            # supports approval
    EXCLUDES = "excludes"        # a ground for refusal
    VOIDS = "voids"              # a ground for refusal that voids the whole document
    LIMITS = "limits"            # a ground for refusal from a limit (count, amount)
    REFERS = "refers"            # sends the claim to a person for decision
    REQUIRES = "requires"        # an approval needs these facts (LW 6.3 holds the claim otherwise)
    REMEDY = "remedy"            # sets how an approved claim is served
    FEE = "fee"                  # sets a fee or deduction
    EXTENDS = "extends"          # covers by extending a window: overrides the clauses it names
    NOTICE = "notice"            # tells the customer something (RT 5.3, CP 6.2)
    RESPONSIBLE = "responsible"  # names who decides (CP 8.1, RG 0.1)
    ESCALATION = "escalation"    # a review step (LW 7.2, CP 8.3, RT 5.2)
    DEFINES = "defines"          # a definition used by other clauses (LW 1.x)
    STATES = "states"            # a rule about the process, with no condition on the claim (LW 7.1)
    PRECEDENCE = "precedence"    # how documents combine (LW 1.7)


DECIDING_EFFECTS = frozenset({Effect.COVERS, Effect.EXTENDS, Effect.EXCLUDES, Effect.VOIDS, Effect.LIMITS, Effect.REFERS})
COVERING_EFFECTS = frozenset({Effect.COVERS, Effect.EXTENDS})
REFUSING_EFFECTS = frozenset({Effect.EXCLUDES, Effect.VOIDS, Effect.LIMITS})
CONDITIONAL_EFFECTS = frozenset(
    {Effect.COVERS, Effect.EXCLUDES, Effect.VOIDS, Effect.LIMITS, Effect.REFERS, Effect.REQUIRES,
     Effect.REMEDY, Effect.FEE, Effect.EXTENDS, Effect.NOTICE, Effect.RESPONSIBLE}
)


@dataclass(frozen=True, slots=True)
class Source:
    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


@dataclass(frozen=True, slots=True)
class AmountCase:
    """One row of an amount table: the amount applies when ``when`` holds (None = otherwise)."""

    when: Expr | None
    amount: Expr


@dataclass(frozen=True, slots=True)
class Clause:
    id: str
    document: str
    title: str
    text: str
    effect: Effect
    when: Expr | None
    source: Source
    version: str | None = None
    applies: Expr | None = None
    otherwise: Effect | None = None
    overrides: tuple[str, ...] = ()
    remedy: str | None = None
    priority: int = 0
    refund: Expr | None = None
    refer_to: str | None = None
    party: str | None = None
    over: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    fee_kind: str | None = None
    amount: tuple[AmountCase, ...] = ()
    notice: str | None = None
    if_outcome: tuple[str, ...] = ()
    reason: str | None = None            # the author's sentence when the clause holds, with {named} values
    reason_otherwise: str | None = None  # ... when its 'otherwise' branch decides

    @property
    def otherwise_key(self) -> str:
        """The rule key of the 'otherwise' branch: applies, and its condition does not hold."""
        return self.key + "!"

    @property
    def key(self) -> str:
        """The rule's unique key: the clause id, with the version for an earlier version's wording."""
        return f"{self.id}@{self.version}" if self.version else self.id

    @property
    def expressions(self) -> list[Expr]:
        """Every expression the clause holds: its condition, its 'applies', its amount table (each
        row's condition and amount) and its refund."""
        found = [self.when] if self.when is not None else []
        if self.applies is not None:
            found.append(self.applies)
        found += [case.when for case in self.amount if case.when is not None]
        found += [case.amount for case in self.amount]
        if self.refund is not None:
            found.append(self.refund)
        return found


@dataclass(frozen=True, slots=True)
class EscalationStep:
    clause: str
    who: str
    contact: str
    ask_within: Duration | None
    answer_within: Duration | None


@dataclass(frozen=True, slots=True)
class EarlierVersion:
    """An earlier version of a document that still governs some products (LW 2.3: delivered before 2024)."""

    version: str
    applies_when: Expr


DISCLOSURE_ITEMS = (
    "who_is_covered", "what_is_covered", "what_is_not_covered", "what_the_warrantor_will_do",
    "when_coverage_begins_and_ends", "how_to_claim", "informal_dispute_mechanism", "implied_warranty_limits",
    "state_law_rights",
)
"""The items a U.S. written warranty must disclose (16 CFR 701.3), as named in a document's ``disclosures``."""


@dataclass(frozen=True, slots=True)
class Document:
    id: str
    title: str
    issuer: str
    responsible: str
    version: str
    effective_from: date | None
    jurisdiction: str
    regional: bool
    applies_when: Expr | None
    escalation: tuple[EscalationStep, ...]
    clauses: tuple[Clause, ...]
    source: Source
    summary: str = ""
    earlier_versions: tuple[EarlierVersion, ...] = ()
    disclosures: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False, compare=False)
    version_date: Expr | None = None  # the date that chooses among versions dated by effective_from


@dataclass(frozen=True, slots=True)
class Definition:
    """A named term: an expression (``value``), a set of ISO 3166 codes, or a set of constants."""

    name: str
    clause: str | None
    source: Source
    value: Expr | None = None
    codes: frozenset[str] | None = None
    constants: frozenset[object] | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    name: str
    contact: str = ""


@dataclass(frozen=True)
class PolicySet:
    id: str
    title: str
    documents: tuple[Document, ...]
    definitions: dict[str, Definition]
    parties: dict[str, Party]
    tie_order: tuple[str, ...]
    precedence_clause: str
    otherwise_clause: str
    information_clause: str
    fingerprint: str
    source: Source
    clauses_by_key: dict[str, Clause] = field(default_factory=dict)
    site_url: str = ""  # where the coverage site (claimrules docs) is published: letters link there
    vocabulary: Vocabulary = field(default_factory=lambda: Vocabulary(groups=()))  # the facts it reads (facts.yaml)

    def clause(self, clause_id: str) -> Clause:
        return self.clauses_by_key[clause_id]

    def document(self, document_id: str) -> Document:
        for document in self.documents:
            if document.id == document_id:
                return document
        raise KeyError(document_id)

    @property
    def clause_ids(self) -> list[str]:
        return sorted({clause.id for document in self.documents for clause in document.clauses})
