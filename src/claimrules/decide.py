"""Many clauses to one decision: each document's answer, then the most favourable answer (LW 1.7).

Nothing here depends on the order of clauses or documents in the policy files: clauses are taken
by their effect and sorted by id, documents by the policy's declared ``tie_order``.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from claimrules.decision import (
    DEFERRABLE,
    IDENTIFYING,
    Amount,
    Citation,
    ClauseTrace,
    ConditionTrace,
    Decision,
    EscalationStep,
    ExceptionOutcome,
    FactUsed,
    Notice,
    Party,
    PolicyUsed,
    SharedPart,
)
from claimrules.engine.cache import BoundedCache, deep_size
from claimrules.engine.evaluate import Context, render_value
from claimrules.engine.program import Evaluation, Program
from claimrules.errors import EvaluationError
from claimrules.facts import ClaimFacts, fact_values
from claimrules.holds import HoldAnalysis
from claimrules.money import Money
from claimrules.periods import add_business_days, add_days, add_months
from claimrules.policy import expr as ast
from claimrules.policy.model import (
    CONDITIONAL_EFFECTS,
    COVERING_EFFECTS,
    REFUSING_EFFECTS,
    Clause,
    Document,
    Effect,
    PolicySet,
)
from claimrules.policy.model import EscalationStep as ReviewStep
from claimrules.reasons import Reasons

RANK = {"approve": 0, "needs_information": 1, "refer": 2, "deny": 3}
_ABSENT = object()


def document_applies(document: Document, truth: dict[str, bool | None]) -> bool:
    """Whether the document applies to the claim: its 'applies' rule holds, or it has none."""
    return truth.get(f"doc:{document.id}", document.applies_when is None) is True


@functools.lru_cache(maxsize=4096)
def clause_order(clause_id: str) -> tuple[Any, ...]:
    """Natural order of section numbers: LW 2.10 after LW 2.9."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", clause_id))


@dataclass
class Answer:
    """What one document says about the claim."""

    document: Document
    outcome: str
    grounds: list[Clause]
    remedy: str | None = None
    remedy_clause: Clause | None = None
    amounts: list[tuple[str, Money, Clause]] = field(default_factory=list)
    refer_to: str | None = None
    missing: tuple[str, ...] = ()
    _signature: tuple[Any, ...] | None = field(default=None, init=False, repr=False, compare=False)

    def signature(self) -> tuple[Any, ...]:
        """What a decision reads of the answer but its amounts' figures; worked out once (an answer
        is complete before a decision reads it, and never changed after: shared ones included)."""
        if self._signature is None:
            self._signature = (self.document.id, self.outcome, tuple([clause.key for clause in self.grounds]), self.remedy,
                               self.remedy_clause.key if self.remedy_clause is not None else None, self.refer_to,
                               self.missing, tuple([(kind, clause.key) for kind, _, clause in self.amounts]))
        return self._signature

    def charge(self) -> tuple[Any, ...]:
        """What the answer costs the customer: fees and deductions, less any refund (lower is better)."""
        total: dict[str, Any] = {}
        for kind, money, _ in self.amounts:
            sign = -1 if kind == "refund" else 1
            total[money.currency] = total.get(money.currency, 0) + sign * money.amount
        return tuple(sorted(total.items()))


@dataclass
class Resolution:
    outcome: str
    winner: Answer | None
    answers: list[Answer]
    under_addendum: Answer | None
    displaced: list[Clause]
    #: What a decision's template reads of it (``Adjudicator._answered``), worked out once.
    answered: tuple[Any, ...] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class _DocumentPlan:
    """A document's clauses sorted once by how the resolver uses them."""

    always: tuple[Clause, ...]
    conditional: tuple[tuple[Clause, str], ...]
    otherwise: tuple[tuple[Clause, str], ...]
    #: The rule keys of ``conditional`` then ``otherwise``: their results decide the answer's shape.
    keys: tuple[str, ...] = ()

    @classmethod
    def of(cls, document: Document) -> _DocumentPlan:
        deciding = [clause for clause in document.clauses if clause.effect in CONDITIONAL_EFFECTS]
        conditional = tuple((clause, clause.key) for clause in deciding if clause.when is not None or clause.applies is not None)
        otherwise = tuple((clause, clause.otherwise_key) for clause in document.clauses if clause.otherwise is not None)
        return cls(
            always=tuple(clause for clause in deciding if clause.when is None and clause.applies is None),
            conditional=conditional,
            otherwise=otherwise,
            keys=tuple(key for _, key in (*conditional, *otherwise)),
        )


@dataclass(frozen=True)
class _Shape:
    """What a document answers for one combination of its rules' results, before the claim's values
    are read: the whole answer where no value matters (a refusal, silence, most referrals and
    approvals), else the clauses whose amounts or required facts the claim's values settle."""

    fixed: Answer | None
    #: False when ``fixed`` is the answer; True when the claim's values are still to be read.
    open: bool = False
    requiring: tuple[Clause, ...] = ()
    referral: Answer | None = None
    covering: tuple[Clause, ...] = ()
    remedy_clause: Clause | None = None
    fees: tuple[Clause, ...] = ()
    refund_clause: Clause | None = None


#: Combinations of rule results whose answer shape a resolver remembers (a few hundred bytes each).
_MAX_SHAPES = 8192


class Resolver:
    def __init__(self, program: Program) -> None:
        self.program = program
        self.policy: PolicySet = program.policy
        self.order = {document_id: index for index, document_id in enumerate(self.policy.tie_order)}
        self.plans = {document.id: _DocumentPlan.of(document) for document in self.policy.documents}
        self._shapes: dict[tuple[str, tuple[bool | None, ...]], _Shape] = {}
        #: Per combination of every rule's results, the resolution where no answer read a claim value
        #: (at most _MAX_SHAPES, keyed by ``Evaluation.signature``; the answers shared).
        self._settled: dict[tuple[int, int], Resolution] = {}
        # What each node of the policy reads, by id (Resolver._read_by): at most one entry per node.
        self._reads: dict[int, tuple[ast.Expr, tuple[frozenset[str], tuple[str, ...]]]] = {}
        #: Each document with its 'applies' rule key and whether it applies when it has no such rule
        #: (``document_applies``, without building the key per claim).
        self._documents = tuple((document, f"doc:{document.id}", document.applies_when is None)
                                for document in self.policy.documents)

    # -- one document ----------------------------------------------------------------------------
    def holds(self, clause: Clause, truth: dict[str, bool | None]) -> bool:
        if clause.when is None and clause.applies is None:
            return True
        return truth.get(clause.key) is True

    def _shape_for(self, document: Document, truth: dict[str, bool | None]) -> _Shape:
        plan = self.plans[document.id]
        key = (document.id, tuple(map(truth.get, plan.keys)))
        shape = self._shapes.get(key)
        if shape is None:
            shape = self._shape(document, plan, truth)
            if len(self._shapes) >= _MAX_SHAPES:
                self._shapes.clear()
            self._shapes[key] = shape
        return shape

    def _read_answer(self, document: Document, shape: _Shape, ctx: Context) -> Answer | None:
        """The answer of an open shape: what the claim's values (required facts, amounts) settle."""
        values = ctx.values
        if shape.requiring:
            requiring = [clause for clause in shape.requiring if any(values.get(path) is None for path in clause.requires)]
            if requiring:
                missing = sorted({path for clause in requiring for path in clause.requires if values.get(path) is None})
                return Answer(document, "needs_information", _sorted(requiring), missing=tuple(missing))
        if shape.referral is not None:
            return shape.referral
        if shape.fixed is not None:  # an approval whose amounts do not depend on the claim
            return shape.fixed
        remedy_clause = shape.remedy_clause
        answer = Answer(document, "approve", list(shape.covering),
                        remedy=remedy_clause.remedy if remedy_clause else None, remedy_clause=remedy_clause)
        for clause in shape.fees:
            money = self._amount(clause, ctx)
            if money is None:
                return Answer(document, "needs_information", [clause], missing=tuple(self._missing_in_amount(clause, ctx)))
            if not money.is_zero():
                answer.amounts.append((clause.fee_kind or "service_fee", money, clause))
        refund_clause = shape.refund_clause
        if refund_clause is not None and refund_clause.refund is not None:
            refund = self.program.value(refund_clause.refund, ctx)
            if refund is None:
                return Answer(document, "needs_information", [refund_clause],
                              missing=tuple(sorted(self._facts_behind(refund_clause.refund, ctx))))
            for kind, money, _ in answer.amounts:
                if kind in ("restocking_fee", "accessory_deduction") and money.currency == refund.currency:
                    refund = refund - money
            answer.amounts.append(("refund", refund.quantized(), refund_clause))
        return answer

    def _shape(self, document: Document, plan: _DocumentPlan, truth: dict[str, bool | None]) -> _Shape:
        """The answer's shape for this claim's rule results (shared with every claim that has them:
        an answer is never changed once made)."""
        active = list(plan.always)
        active += [clause for clause, key in plan.conditional if truth.get(key) is True]
        otherwise = [clause for clause, key in plan.otherwise if truth.get(key) is True]
        set_aside = {target for clause in active for target in clause.overrides}
        if set_aside:
            live = [clause for clause in active if clause.id not in set_aside]
            otherwise = [clause for clause in otherwise if clause.id not in set_aside]
        else:
            live = active
        refusals = [clause for clause in otherwise if clause.otherwise in REFUSING_EFFECTS]
        refusals += [clause for clause in live if clause.effect in REFUSING_EFFECTS]
        if refusals:
            return _Shape(Answer(document, "deny", _sorted(refusals)))
        referrals = [clause for clause in live if clause.effect == Effect.REFERS]
        referrals += [clause for clause in otherwise if clause.otherwise == Effect.REFERS]
        covering = [clause for clause in live if clause.effect in COVERING_EFFECTS]
        if not referrals and not covering:
            return _Shape(None)
        requiring = tuple(clause for clause in live if clause.effect == Effect.REQUIRES and clause.requires)
        if referrals:
            referrals = _sorted(referrals)
            return _Shape(None, open=True, requiring=requiring,
                          referral=Answer(document, "refer", referrals, refer_to=referrals[0].refer_to))
        covering = _sorted(covering)
        remedies = sorted((clause for clause in live if clause.effect == Effect.REMEDY),
                          key=lambda clause: (-clause.priority, clause_order(clause.id)))
        remedy_clause = remedies[0] if remedies else next((clause for clause in covering if clause.remedy), None)
        remedy = remedy_clause.remedy if remedy_clause else None
        fees = tuple(_sorted([clause for clause in live if clause.effect == Effect.FEE]))
        refund_clause = remedy_clause if remedy_clause is not None and remedy_clause.refund is not None else next(
            (clause for clause in covering if clause.refund is not None), None)
        if refund_clause is None or remedy not in ("refund", "refund_or_replacement", "price_reduction_or_refund"):
            refund_clause = None
        if not fees and refund_clause is None:
            fixed = Answer(document, "approve", covering, remedy=remedy, remedy_clause=remedy_clause)
            return _Shape(fixed, open=bool(requiring), requiring=requiring)
        return _Shape(None, open=True, requiring=requiring, covering=tuple(covering), remedy_clause=remedy_clause,
                      fees=fees, refund_clause=refund_clause)

    def _amount(self, clause: Clause, ctx: Context) -> Money | None:
        for case in clause.amount:
            if case.when is not None:
                applies = self.program.value(case.when, ctx)
                if applies is None:
                    return None
                if not applies:
                    continue
            value = self.program.value(case.amount, ctx)
            if value is None:
                return None
            if not isinstance(value, Money):
                raise EvaluationError(f"amount of clause {clause.id} is {value!r}, not money", clause=clause.id)
            return value.quantized()
        raise EvaluationError(f"no row of the amount table of clause {clause.id} applies", clause=clause.id,
                              help="end the table with an 'otherwise' row")

    def _missing_in_amount(self, clause: Clause, ctx: Context) -> list[str]:
        paths: set[str] = set()
        for case in clause.amount:
            for node in (case.when, case.amount):
                if node is not None:
                    paths |= self._facts_behind(node, ctx)
        return sorted(paths)

    def _facts_behind(self, node: ast.Expr, ctx: Context | None = None) -> set[str]:
        """The claim facts a value depends on; with a claim, only those it is still missing.

        A definition this claim already knows (``coalesce`` found a value) needs nothing more,
        so the facts behind it are not asked for (LW 6.3).
        """
        facts, refs = self._read_by(node)
        paths = set(facts)
        for name in refs:
            if ctx is not None and self.program.conditions.definitions[name](ctx) is not None:
                continue
            value = self.policy.definitions[name].value
            assert value is not None  # _read_by keeps the definitions with a value
            paths |= self._facts_behind(value, ctx)
        if ctx is not None:
            paths = {path for path in paths if ctx.values.get(path) is None}
        return paths

    def _read_by(self, node: ast.Expr) -> tuple[frozenset[str], tuple[str, ...]]:
        """What ``node`` reads, found by walking it once: the facts it names (with the place's,
        where it tests a territory) and the definitions with a value it refers to. Kept by the
        node's id with the node itself, so an id is never taken for another node's."""
        kept = self._reads.get(id(node))
        if kept is not None and kept[0] is node:
            return kept[1]
        facts = set(ast.facts_of(node))
        if any(isinstance(sub, ast.Member) and isinstance(sub.container, ast.Ref)
               and self.policy.definitions[sub.container.name].codes is not None for sub in ast.walk(node)):
            roles = self.policy.vocabulary.roles
            facts |= {roles[role] for role in ("country", "subdivision") if role in roles}
        refs = tuple(sorted(name for name in ast.refs_of(node) if self.policy.definitions[name].value is not None))
        found = (frozenset(facts), refs)
        self._reads[id(node)] = (node, found)
        return found

    # -- the set ---------------------------------------------------------------------------------
    def key(self, answer: Answer) -> tuple[Any, ...]:
        return (RANK[answer.outcome], answer.charge() if answer.outcome == "approve" else (),
                self.order.get(answer.document.id, len(self.order)))

    def resolve(self, truth: dict[str, bool | None], ctx: Context,
                results: tuple[int, int] | None = None) -> Resolution:
        """The answers of the documents that apply, and which one decides.

        ``results``: every rule's result (``Evaluation.signature``), from a caller that has them.
        Where no answer reads a claim value (a refusal, silence, most referrals and approvals:
        about two claims in three) the resolution depends on them alone, and is kept for the next
        claim that has them (a resolution is never changed).
        """
        if results is not None:
            settled = self._settled.get(results)
            if settled is not None:
                return settled
        answers: list[Answer] = []
        read_values = False
        for document, applies, unconditional in self._documents:
            if truth.get(applies, unconditional) is not True:  # document_applies
                continue
            shape = self._shape_for(document, truth)
            if shape.open:
                read_values = True
                answer = self._read_answer(document, shape, ctx)
            else:
                answer = shape.fixed
            if answer is not None:
                answers.append(answer)
        resolution = self._resolution(answers)
        if results is not None and not read_values:
            if len(self._settled) >= _MAX_SHAPES:
                self._settled.clear()
            self._settled[results] = resolution
        return resolution

    def _resolution(self, answers: list[Answer]) -> Resolution:
        if not answers:
            return Resolution("deny", None, [], None, [])
        answers.sort(key=self.key)
        contract = [answer for answer in answers if not answer.document.regional]
        regional = [answer for answer in answers if answer.document.regional]
        best_contract = contract[0] if contract else None
        best_regional = regional[0] if regional else None
        if best_regional is not None and (best_contract is None or self._better(best_regional, best_contract)):
            displaced = _sorted([clause for answer in contract for clause in answer.grounds])
            return Resolution(best_regional.outcome, best_regional, answers, best_regional, displaced)
        assert best_contract is not None
        return Resolution(best_contract.outcome, best_contract, answers, None, [])

    def _better(self, first: Answer, second: Answer) -> bool:
        return self.key(first)[:2] < self.key(second)[:2]


def _sorted(clauses: list[Clause]) -> list[Clause]:
    """Clauses by declared priority (highest first), then section number: never by file order."""
    if len(clauses) < 2:
        return list(clauses)
    unique = {clause.key: clause for clause in clauses}
    return sorted(unique.values(), key=lambda clause: (-clause.priority, clause_order(clause.id), clause.version or ""))


# -- the decision ------------------------------------------------------------------------------------

def canonical_claim(facts: ClaimFacts) -> str:
    """The claim as canonical JSON.

    Fields come in the model's declared order (the same in every process, whatever order the
    claim file used) and list-valued facts were put in canonical order when the claim was read.
    """
    return facts.model_dump_json(exclude_none=True)


class _ClaimParts(Mapping[str, Callable[[], Any]]):
    """The parts of one claim's decision built on first use (``Decision.completed``), by field name:
    the explanation (trace, facts read, reasons in words) and what identifies the decision (the
    claim's fingerprint, the SHA-256 of its canonical JSON, and the decision id, which also names
    the policy set's fingerprint and the decision date). The claim is immutable, so each is the same
    value whenever it is asked for.

    One object per decision rather than a closure per part: a book of decisions kept in memory
    then holds a dozen fewer objects each for the garbage collector to traverse."""

    __slots__ = ("_adjudicator", "_decided_on", "_evaluation", "_facts", "_fingerprint", "_template")

    def __init__(self, adjudicator: Adjudicator, evaluation: Evaluation, template: _Template, facts: ClaimFacts,
                 decided_on: date) -> None:
        self._adjudicator, self._evaluation, self._template = adjudicator, evaluation, template
        self._facts, self._decided_on = facts, decided_on
        self._fingerprint: str | None = None

    def __getitem__(self, name: str) -> Callable[[], Any]:
        if name not in DEFERRABLE:
            raise KeyError(name)
        return getattr(self, name)  # type: ignore[no-any-return]

    def __contains__(self, name: object) -> bool:
        return name in DEFERRABLE

    def __iter__(self) -> Iterator[str]:
        return iter(DEFERRABLE)

    def __len__(self) -> int:
        return len(DEFERRABLE)

    def trace(self) -> tuple[ClauseTrace, ...]:
        return self._adjudicator._trace(self._evaluation)

    def facts(self) -> tuple[FactUsed, ...]:
        return self._adjudicator._facts_read(self._evaluation)

    def reasons(self) -> tuple[Any, ...]:
        template, evaluation = self._template, self._evaluation
        return self._adjudicator._reasons.for_grounds(template.grounds, evaluation.truth, evaluation.context,
                                                      template.outcome, list(template.part.values["missing_facts"]))

    def claim_fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = hashlib.sha256(canonical_claim(self._facts).encode()).hexdigest()
        return self._fingerprint

    def decision_id(self) -> str:
        fingerprint = self._adjudicator.policy.fingerprint
        return "dec-" + hashlib.sha256(
            f"{self.claim_fingerprint()}|{fingerprint}|{self._decided_on.isoformat()}".encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class _Template:
    """The part of a decision that the rules' results and the answers decide: the same for every
    claim that has them (``fields`` are the decision's, the rest what the claim's own part needs)."""

    outcome: str
    grounds: tuple[Clause, ...]
    responsible: str
    #: Whether the decision states the winning answer's amounts (an approval).
    amounts: bool
    #: The decision's fields but the claim's own, checked once: each claim adds ``_CLAIM_FIELDS``.
    part: SharedPart

    @staticmethod
    def weight(key: tuple[Any, ...], template: _Template) -> int:
        """The bytes a kept template holds of its own (``Adjudicator._templates``): its key, the
        shared part's containers and their tuples. The clauses, citations, parties and notices it
        points to are the policy set's and the adjudicator's, kept once whatever the templates."""
        part = template.part
        return (deep_size(key) + sys.getsizeof(template) + sys.getsizeof(template.grounds) + sys.getsizeof(part)
                + sys.getsizeof(part.values) + sum(sys.getsizeof(value) for value in part.values.values()
                                                   if isinstance(value, tuple)))


#: The fields of a decision that are each claim's own (``Adjudicator._decision``); the template gives the rest.
_CLAIM_FIELDS = ("decision_id", "decided_on", "amounts", "escalation", "claim_fingerprint", "exceptions")

#: The periods ``_shift`` counts from the date alone (business days also read the place).
_CALENDAR_UNITS = ("days", "months", "years")

#: The services a customer may ask for by name: the clause deciding which one they get decides.
_SERVICES = ("on_site", "depot", "replacement")


def _position(answers: list[Answer], answer: Answer | None) -> int | None:
    """Where ``answer`` is in ``answers``, by identity (None for no answer)."""
    if answer is None:
        return None
    for index, other in enumerate(answers):
        if other is answer:
            return index
    raise ValueError("the answer is not one of the answers")


class Adjudicator:
    """Evaluates claims against one compiled policy set."""

    def __init__(self, program: Program) -> None:
        self.program = program
        self.policy = program.policy
        self.resolver = Resolver(program)
        self.holds = HoldAnalysis(program, self.resolver)
        # Shared pieces of decisions, bounded by their estimated bytes (issue #15: flat memory over
        # millions of distinct claims; the count checks below never trigger at these budgets).
        self._trace_cache: BoundedCache[tuple[Any, ...], ClauseTrace] = BoundedCache(16 * 2**20)
        self._citations: dict[str, Citation] = {}
        self._notices: dict[tuple[str, str], Notice] = {}
        self._policies_used: dict[tuple[str, ...], PolicyUsed] = {}
        self._rendered: BoundedCache[tuple[str, Any], FactUsed] = BoundedCache(8 * 2**20)
        #: What a decision says per combination of rule results and answers (Adjudicator._template).
        self._templates: BoundedCache[tuple[Any, ...], _Template] = BoundedCache(16 * 2**20, _Template.weight)
        self._notice_clauses = tuple((doc, clause) for doc in self.policy.documents for clause in doc.clauses
                                     if clause.effect == Effect.NOTICE)
        self._parties = {party.id: Party(id=party.id, name=party.name, contact=party.contact)
                         for party in self.policy.parties.values()}
        self._reasons = Reasons(program)
        # The claim fact naming the service asked for (read from the flattened values, as role_value would give it).
        self._requested_path = self.policy.vocabulary.roles.get("requested_service")
        #: Per document, the rule key of each earlier version's guard and that version.
        self._version_guards = tuple(
            (document, tuple((f"version:{document.id}:{earlier.version}", earlier.version) for earlier in document.earlier_versions))
            for document in self.policy.documents)
        #: The versions of a claim whose version guards are all false or unknown (nearly every claim).
        self._current_versions = tuple(f"{document.id} {document.version}" for document in self.policy.documents)
        self._version_keys = tuple(key for _, guards in self._version_guards for key, _ in guards)
        # Per combination of documents ruled out (at most 2 ** documents): the rules a trace shows.
        self._explained: dict[tuple[bool, ...], tuple[tuple[Any, ...], tuple[str, ...]]] = {}
        # 'Responsible' clauses in policy order (documents, then clauses), and each document's own.
        self._responsibility_rules = tuple((doc, clause) for doc in self.policy.documents for clause in doc.clauses
                                           if clause.effect == Effect.RESPONSIBLE)
        # Per document, the 'responsible' clauses taking it over: in policy order, and by section number.
        self._over = {doc.id: tuple((other, clause) for other, clause in self._responsibility_rules if doc.id in clause.over)
                      for doc in self.policy.documents}
        self._takeovers = {doc_id: tuple(sorted(rules, key=lambda rule: clause_order(rule[1].id)))
                           for doc_id, rules in self._over.items()}
        self._own_responsibility: dict[str, str | None] = {}
        for doc in self.policy.documents:
            own = next((clause for clause in _sorted(list(doc.clauses)) if clause.effect == Effect.RESPONSIBLE
                        and not clause.over and clause.party == doc.responsible), None)
            self._own_responsibility[doc.id] = own.id if own else None
        self._escalating: dict[str, Document | None] = {}
        for party_id in self.policy.parties:
            documents = sorted((doc for doc in self.policy.documents if doc.responsible == party_id and doc.escalation),
                               key=lambda doc: self.resolver.order.get(doc.id, 99))
            self._escalating[party_id] = documents[0] if documents else None
        self._escalation_steps = {party_id: self._steps_of(party_id) for party_id in self.policy.parties}
        # A party whose steps have no time limit gives every claim the same steps (None: some are dated).
        self._undated_escalation: dict[str, tuple[EscalationStep, ...] | None] = {
            party_id: None if any(step.ask_within is not None for step, _ in steps) else tuple(built for _, built in steps)
            for party_id, steps in self._escalation_steps.items()}
        # The parties whose time limits are calendar periods: their dated steps depend on the decision
        # date alone, and the claims of a book share their dates (business days also read the place).
        self._calendar_escalation = frozenset(
            party_id for party_id, steps in self._escalation_steps.items()
            if all(step.ask_within is None or step.ask_within.unit in _CALENDAR_UNITS for step, _ in steps))
        self._dated_escalation: BoundedCache[tuple[str, date], tuple[EscalationStep, ...]] = BoundedCache(8 * 2**20)
        # Each exceptions declaration, its grants, and the document of the clause that declares it.
        self._declarations = tuple(
            (name, program.conditions.grants_of(name),
             next((clause.document for clause in self.policy.clauses_by_key.values() if clause.id == definition.clause), None))
            for name, definition in sorted(self.policy.definitions.items()) if isinstance(definition.value, ast.Exceptions))

    def decide(self, facts: ClaimFacts, on: date | None = None) -> Decision:
        decided_on = on or facts.decision_date
        assert decided_on is not None  # CompiledPolicy.adjudicate refuses a claim without one
        values = fact_values(facts)
        evaluation = self.program.evaluate(values)
        truth, ctx = evaluation.truth, evaluation.context
        relevant = self._relevant_unknowns(truth) if evaluation.unknown else []
        # Every rule's result, as the bits of the rules that hold and of those unknown.
        results = evaluation.signature
        # The baseline takes an unknown rule as not holding: the resolver only asks whether a rule is True.
        resolution = self.resolver.resolve(truth, ctx, results)
        missing: list[str] = []
        if relevant:
            # LW 6.3: case-split on the missing facts (claimrules.holds); ask for exactly those whose
            # value changes the outcome, remedy or charge.
            found = self.holds.analyse(values, ctx, relevant, truth)
            missing = list(found.missing)
            if (not missing and found.resolution is not None
                    and self.holds.signature(found.resolution) != self.holds.signature(resolution)):
                # Every value of the missing facts gives one answer, which the baseline (unknown
                # taken as not holding) does not: decide by the answer every value gives.
                resolution = found.resolution
        return self._decision(facts, decided_on, evaluation, results, resolution, missing)

    # -- unknowns (LW 6.3) -----------------------------------------------------------------------
    def _relevant_unknowns(self, truth: dict[str, bool | None]) -> list[str]:
        if None not in truth.values():  # nearly every claim: nothing is unknown
            return []
        unknown: list[str] = []
        for rule in self.program.rules:
            if truth[rule.key] is not None or rule.branch == "version":
                continue
            applies = truth.get(f"doc:{rule.document.id}")
            if rule.clause is None or applies is not False:
                if rule.clause is not None and rule.clause.effect not in (
                        *COVERING_EFFECTS, *REFUSING_EFFECTS, Effect.REFERS, Effect.REQUIRES, Effect.REMEDY,
                        Effect.FEE, Effect.RESPONSIBLE) and rule.branch != "otherwise":
                    continue
                unknown.append(rule.key)
        return sorted(unknown)

    # -- assembling the decision -----------------------------------------------------------------
    def _decision(self, facts: ClaimFacts, decided_on: date, evaluation: Evaluation, results: tuple[int, int],
                  resolution: Resolution, missing: list[str]) -> Decision:
        """The decision: the part that depends only on the rules' results and the answers (cached
        per combination of them, issue #15) plus the claim's own values (its date, the amounts, the
        dated escalation steps and the exceptions granted; its id and fingerprint on first use)."""
        truth, ctx = evaluation.truth, evaluation.context
        # Whether the customer asked for a service (the one thing the template reads of the values).
        service = (ctx.values.get(self._requested_path) if self._requested_path else None) in _SERVICES
        key = (results, tuple(missing), service, self._answered(resolution))
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = self._template(truth, resolution, missing, service)
        winner = resolution.winner
        amounts = () if not template.amounts or winner is None else tuple(
            [Amount.trusted(kind=kind, money=money, clause=clause.id) for kind, money, clause in winner.amounts])
        return Decision.completed(
            template.part,
            _ClaimParts(self, evaluation, template, facts, decided_on),
            decided_on=decided_on,
            amounts=amounts,
            escalation=self._escalation(template.responsible, decided_on, facts),
            exceptions=self._exception_outcomes(truth, ctx),
        )

    def _answered(self, resolution: Resolution) -> tuple[Any, ...]:
        """What the template reads of the answers: each answer but its amounts' figures, which one
        won and under which addendum, and (where figures could change them) which regional answers
        tie with the winner on outcome and charge."""
        if resolution.answered is not None:  # a resolution kept for many claims (Resolver.resolve)
            return resolution.answered
        answers, winner = resolution.answers, resolution.winner
        ties: tuple[bool, ...] = ()
        if winner is not None and resolution.under_addendum is None:
            regional = [answer for answer in answers if answer.document.regional and answer.outcome == winner.outcome]
            if regional:
                best = self.resolver.key(winner)[:2]
                ties = tuple([self.resolver.key(answer)[:2] == best for answer in regional])
        resolution.answered = (tuple([answer.signature() for answer in answers]), _position(answers, winner),
                               _position(answers, resolution.under_addendum), ties)
        return resolution.answered

    def _template(self, truth: dict[str, bool | None], resolution: Resolution, missing: list[str],
                  service: bool) -> _Template:
        """What a decision says for these rule results and answers, before the claim's own values."""
        policy = self.policy
        winner = resolution.winner
        outcome = "needs_information" if missing else resolution.outcome
        if winner is not None and winner.outcome == "needs_information" and not missing:
            missing = list(winner.missing)
        if outcome == "needs_information" or (winner is not None and winner.outcome == "needs_information"):
            outcome = "needs_information"
            deciding_clause = policy.clause(policy.information_clause)
            grounds = [deciding_clause] + ([c for c in winner.grounds if c.key != deciding_clause.key]
                                           if winner is not None and winner.outcome == "needs_information" else [])
        elif winner is None:
            deciding_clause = policy.clause(policy.otherwise_clause)
            grounds = [deciding_clause]
        else:
            supporting = [answer for answer in resolution.answers if answer.outcome == winner.outcome
                          and (resolution.under_addendum is not None or not answer.document.regional
                               or self.resolver.key(answer)[:2] == self.resolver.key(winner)[:2])]
            supporting.sort(key=lambda answer: answer is not winner)
            # Each clause once, first seen first (keyed by its unique key: comparing clauses field
            # by field, as the dataclass's == does, cost more than the rest of this assembly).
            by_key: dict[str, Clause] = {}
            for answer in supporting:
                for clause in answer.grounds:
                    by_key.setdefault(clause.key, clause)
                if answer.remedy_clause is not None:
                    by_key.setdefault(answer.remedy_clause.key, answer.remedy_clause)
                for _, _, clause in answer.amounts:
                    by_key.setdefault(clause.key, clause)
            deciding_clause = winner.grounds[0]
            if (winner.outcome == "approve" and service and winner.remedy_clause is not None
                    and winner.remedy_clause.effect == Effect.REMEDY):
                # The customer asked for a service: the clause that decided which service they get
                # decides, unless a covering clause declares a higher priority.
                candidates = [*winner.grounds, winner.remedy_clause]
                deciding_clause = max(candidates, key=lambda clause: (clause.priority, -candidates.index(clause)))
            grounds = [deciding_clause, *(clause for key, clause in by_key.items() if key != deciding_clause.key)]
        document = winner.document if winner is not None else policy.document(deciding_clause.document)
        responsible_id, responsible_clause = self._responsible(resolution, truth, document)
        party = policy.parties[responsible_id]
        notices = []
        for doc, clause in self._notice_clauses:
            if (document_applies(doc, truth) and truth.get(clause.key) is True
                    and (not clause.if_outcome or outcome in clause.if_outcome)):
                notices.append(self._notice(clause.id, clause.notice or clause.text))
        for clause in grounds:
            if clause.effect != Effect.NOTICE and clause.notice and outcome != "needs_information" and (
                    not clause.if_outcome or outcome in clause.if_outcome):
                notices.append(self._notice(clause.id, clause.notice))
        remedy = winner.remedy if winner is not None and outcome == "approve" else None
        fields = {
            "outcome": outcome,
            "deciding": self._cite(deciding_clause),
            "grounds": tuple(self._cite(clause) for clause in grounds),
            "remedy": remedy,
            "remedy_clause": winner.remedy_clause.id if remedy and winner and winner.remedy_clause else None,
            "responsible": self._parties[party.id],
            "responsible_clause": responsible_clause,
            "referred_to": winner.refer_to if winner is not None and outcome == "refer" else None,
            "under_addendum": resolution.under_addendum.document.id if resolution.under_addendum else None,
            "displaced": tuple(self._cite(clause) for clause in resolution.displaced),
            "notices": tuple(notices),
            "missing_facts": tuple(missing),
            "documents_answering": tuple(sorted(answer.document.id for answer in resolution.answers)),
            "policy": self._policy_used(self._versions(truth)),
        }
        return _Template(outcome=outcome, grounds=tuple(grounds), responsible=responsible_id,
                         amounts=winner is not None and outcome == "approve",
                         part=Decision.shared_part(_CLAIM_FIELDS, later=IDENTIFYING, **fields))

    def _exception_outcomes(self, truth: dict[str, bool | None], ctx: Context) -> tuple[ExceptionOutcome, ...]:
        """Per recorded exception of every declaration whose document applies: counted, capped or void."""
        found: list[ExceptionOutcome] = []
        for name, grants, document in self._declarations:
            declaration = self.policy.definitions[name]
            value = declaration.value
            assert isinstance(value, ast.Exceptions)
            if document is not None and truth.get(f"doc:{document}") is not True:
                continue
            for grant in grants(ctx) or ():
                status = grant["status"]
                found.append(ExceptionOutcome.trusted(
                    declaration=declaration.clause or name, clause=grant["clause"], source=grant["source"],
                    role=grant["role"], granted_on=grant["granted_on"], asked_end=grant["new_end"],
                    counted_end=grant["end"], status=status, capped_by_days=grant["over_by_days"],
                    status_clause={"capped": value.authority_clause, "void": value.void_clause}.get(status),
                    reason=grant["reason"]))
        return tuple(found)

    def _notice(self, clause: str, text: str) -> Notice:
        """A clause's notice (the same few for every claim: built once each)."""
        notice = self._notices.get((clause, text))
        if notice is None:
            notice = self._notices[(clause, text)] = Notice.trusted(clause=clause, text=text)
        return notice

    def _policy_used(self, versions: tuple[str, ...]) -> PolicyUsed:
        """The policy set with the versions that governed the claim (a few combinations per set)."""
        used = self._policies_used.get(versions)
        if used is None:
            if len(self._policies_used) >= 1024:  # a policy set with very many versions
                self._policies_used.clear()
            used = self._policies_used[versions] = PolicyUsed.trusted(
                id=self.policy.id, fingerprint=self.policy.fingerprint, documents=versions)
        return used

    def _cite(self, clause: Clause) -> Citation:
        citation = self._citations.get(clause.key)
        if citation is None:
            citation = Citation(clause=clause.id, document=clause.document, title=clause.title, text=clause.text,
                                version=clause.version)
            self._citations[clause.key] = citation
        return citation

    def _responsible(self, resolution: Resolution, truth: dict[str, bool | None], document: Document) -> tuple[str, str | None]:
        holds = self.resolver.holds
        if resolution.under_addendum is not None:
            regional = resolution.under_addendum.document
            # As for a take-over below: only a clause of a document that applies names the party.
            rule = next((clause for doc, clause in self._over[regional.id]
                         if holds(clause, truth) and document_applies(doc, truth)), None)
            return (rule.party or regional.responsible, rule.id) if rule else (regional.responsible, None)
        # The first by section number of the clauses taking the document over that hold.
        takeover = next((clause for doc, clause in self._takeovers[document.id]
                         if holds(clause, truth) and document_applies(doc, truth)), None)
        if takeover is not None:
            return takeover.party or document.responsible, takeover.id
        return document.responsible, self._own_responsibility[document.id]

    def _escalation(self, party_id: str, decided_on: date, facts: ClaimFacts) -> tuple[EscalationStep, ...]:
        """The review steps of the responsible party, with the date by which to ask: the steps are
        the party's (built once); only a step with a time limit depends on the claim. Dated in
        calendar periods, they are kept per party and date (8 MB at most: a book's claims share a
        few thousand dates); in business days they also depend on the claim's place and are dated
        afresh (a cache keyed by date and place missed for nearly every claim of a book)."""
        undated = self._undated_escalation.get(party_id, ())
        if undated is not None:
            return undated
        if party_id not in self._calendar_escalation:
            return self._dated_steps(party_id, decided_on, facts)
        key = (party_id, decided_on)
        steps = self._dated_escalation.get(key)
        if steps is None:
            steps = self._dated_escalation[key] = self._dated_steps(party_id, decided_on, facts)
        return steps

    def _dated_steps(self, party_id: str, decided_on: date, facts: ClaimFacts) -> tuple[EscalationStep, ...]:
        return tuple([built if step.ask_within is None else built.replaced(ask_by=_shift(decided_on, step.ask_within, facts))
                      for step, built in self._escalation_steps[party_id]])

    def _steps_of(self, party_id: str) -> tuple[tuple[ReviewStep, EscalationStep], ...]:
        """Each review step of the first document the party answers for that has them, as it
        reads before a claim's date is known (``ask_by`` empty)."""
        document = self._escalating.get(party_id)
        if document is None:
            return ()
        return tuple((step, EscalationStep(clause=step.clause, who=step.who, contact=step.contact, ask_by=None,
                                           answer_within=step.answer_within.text if step.answer_within is not None else None))
                     for step in document.escalation)

    def _versions(self, truth: dict[str, bool | None]) -> tuple[str, ...]:
        """Each document with the version that governs this claim (an earlier one where its guard holds)."""
        if not any(truth.get(key) is True for key in self._version_keys):
            return self._current_versions
        used = []
        for document, guards in self._version_guards:
            version = document.version
            for key, earlier in guards:
                if truth.get(key) is True:
                    version = earlier
            used.append(f"{document.id} {version}")
        return tuple(used)

    def _explained_rules(self, truth: dict[str, bool | None]) -> tuple[tuple[Any, ...], tuple[str, ...]]:
        """The rules a decision's trace shows (every rule of the documents that may apply) and the
        names of the values they read, sorted; the same for every claim that rules out the same documents."""
        key = tuple(truth.get(rule.key) is False for rule in self.program.document_rules)
        found = self._explained.get(key)
        if found is None:
            if len(self._explained) > 4096:  # a policy set with very many documents
                self._explained.clear()
            rules = tuple(rule for rule in self.program.rules if rule.branch != "version"
                          and (rule.clause is None or truth.get(f"doc:{rule.document.id}") is not False))
            found = self._explained[key] = (rules, tuple(sorted({name for rule in rules for name in rule.reads})))
        return found

    def _trace(self, evaluation: Evaluation) -> tuple[ClauseTrace, ...]:
        """Every rule of the documents that may apply, with each test's result.

        A clause's trace depends only on its tests' results, so trace objects are shared between
        decisions (they are immutable). Each rule's traced closure runs here and must agree with
        what durable_rules fired (``Program.check_trace``).
        """
        ctx, truth = evaluation.context, evaluation.truth
        traces = []
        cache = self._trace_cache
        check = self.program.check_trace
        if len(cache) > 100_000:
            cache.clear()
        for rule in self._explained_rules(truth)[0]:
            check(rule, evaluation)  # runs the traced closure: the atoms below are recorded
            atoms = ctx.atoms
            results = tuple([atoms[atom.index] if atom.index in atoms else atom.fn(ctx) for atom in rule.atoms])
            key = (rule.key, truth[rule.key], results)
            trace = cache.get(key)
            if trace is None:
                trace = self._clause_trace(rule, truth[rule.key], results)
                cache[key] = trace
            traces.append(trace)
        return tuple(traces)

    def _facts_read(self, evaluation: Evaluation) -> tuple[FactUsed, ...]:
        """The values (claim facts and definitions) the traced rules read, by name."""
        ctx = evaluation.context
        read = self._explained_rules(evaluation.truth)[1]
        definitions = self.program.conditions.definitions
        values, memo = ctx.values, ctx.memo
        rendered = self._rendered
        if len(rendered) > 100_000:
            rendered.clear()
        known = rendered.get
        used = []
        for name in read:
            value = values.get(name, _ABSENT)
            if value is _ABSENT:
                value = (memo[name] if name in memo else definitions[name](ctx)) if name in definitions else None
            if isinstance(value, tuple):  # a list: rendered afresh each time (its records may not hash)
                used.append(FactUsed.trusted(name=name, value=render_value(value)))
                continue
            fact = known((name, value))
            if fact is None:
                fact = rendered[(name, value)] = FactUsed.trusted(name=name, value=render_value(value))
            used.append(fact)
        return tuple(used)

    def _clause_trace(self, rule: Any, result: bool | None, results: tuple[Any, ...]) -> ClauseTrace:
        conditions = tuple(
            ConditionTrace(condition=atom.node.text, label=atom.label, result=_truth(value),
                           reads=tuple(sorted({*atom.reads, *atom.definitions})))
            for atom, value in zip(rule.atoms, results))
        clause = rule.clause
        return ClauseTrace(
            clause=clause.id if clause else f"{rule.document.id} (applies)",
            document=rule.document.id,
            version=clause.version if clause else None,
            effect=(clause.otherwise.value if rule.branch == "otherwise" and clause and clause.otherwise
                    else clause.effect.value if clause else "applies"),
            result=_truth(result),
            branch="otherwise" if rule.branch == "otherwise" else "when",
            conditions=conditions,
        )


def _truth(value: Any) -> str:
    return "unknown" if value is None else ("true" if value is True else "false")


def _shift(start: date, duration: ast.Duration, facts: ClaimFacts) -> date:
    if duration.unit == "days":
        return add_days(start, duration.amount)
    if duration.unit == "months":
        return add_months(start, duration.amount)
    if duration.unit == "years":
        return add_months(start, 12 * duration.amount)
    country = facts.role_value("country")  # no declared place: weekends only, no public holidays
    return add_business_days(start, duration.amount, country or "", facts.role_value("subdivision") if country else None)
