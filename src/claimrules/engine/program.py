"""A policy set compiled once: its rules on durable_rules, and the same rules as traced closures.

``Program.evaluate`` runs one claim: the claim's fact goes to durable_rules, which reports the
rules that fired; the traced closures give every rule's three-valued result and the values behind
it. The two must agree on every rule that is true — a disagreement is an ``EvaluationError``,
never a silent decision.

durable_rules asks in two steps (the default path): first the rules that say which documents
apply (group :data:`DOCUMENTS`), then the clause rules of each document that may apply (true or
unknown), each document's in rulesets of its own. A document that does not apply has no clause
that holds, so its clause rules are not asked and the values only they read are not computed:
about half the rules and computed values of the reference set per claim (docs/durable-rules.md).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from claimrules.engine.compiler import DurableCompiler, engine_fields, fact_for
from claimrules.engine.durable import EngineError, RuleNetwork
from claimrules.engine.evaluate import Atom, Compiled, ConditionCompiler, Context
from claimrules.engine.generated import Fill, generate
from claimrules.errors import EvaluationError, PolicyError
from claimrules.policy import expr as ast
from claimrules.policy.model import Clause, Document, PolicySet


@dataclass(frozen=True, slots=True)
class Rule:
    """One thing durable_rules decides: a document applies, a clause holds, or its 'otherwise' holds."""

    key: str
    name: str
    document: Document
    clause: Clause | None
    branch: str
    condition: ast.Expr | None
    fn: Compiled
    atoms: tuple[Atom, ...]
    reads: frozenset[str] = frozenset()
    #: The fact fields durable_rules reads for this rule: when the claim gives all of them, no test
    #: of the rule can be unknown, so what fired is its whole three-valued result.
    engine_fields: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One claim's rule results: True, False or None (unknown) per rule key."""

    truth: dict[str, bool | None]
    context: Context
    #: The rules durable_rules fired (``Rule.name``), to check the trace against when it is built.
    fired: frozenset[str] = frozenset()
    #: Whether a rule may be unknown (False: every result in ``truth`` is True or False).
    unknown: bool = True
    #: Every rule's result as two sets of bits in rule order (bit i: ``Program.rules[i]``): the rules
    #: that hold and those unknown. Two claims with the same signature have the same results: a
    #: small key for what depends on them alone (hashing the 83 results of the reference set, and
    #: comparing them on a hit, cost several microseconds a claim).
    signature: tuple[int, int] = (0, 0)


#: The group of durable_rules rulesets holding the rules that say whether a document applies.
DOCUMENTS = "documents:"
_DOCUMENT_GROUPS = frozenset({DOCUMENTS})
#: Sets of documents that may apply whose fill functions are remembered (a few hundred bytes each).
_MAX_DOCUMENT_SETS = 1024
#: Sets of absent values whose traced rules are remembered (a few dozen per policy set in
#: practice), bounded by the names and rules they hold together (about 8 bytes each in a tuple,
#: 30 in a set's table: a few MB at most, whatever the number of fields).
_MAX_ABSENT_MEMBERS = 100_000

#: Fields (claim facts and values computed per claim) one policy set may make durable_rules read.
MAX_ENGINE_FIELDS = 2000


class Program:
    """``fast=False`` is the reference: the closures of ``claimrules.engine.evaluate`` for every rule
    of every document that may apply, checked against durable_rules at once. The default runs
    generated code for the rule conditions and the projection (``claimrules.engine.generated``) and
    takes what fired as the result of every rule whose fields the claim gives (its trace is checked
    when it is built); decisions are identical, byte for byte (tests/test_generated.py)."""

    def __init__(self, policy: PolicySet, *, fast: bool = True) -> None:
        self.policy = policy
        self.fast = fast
        self.conditions = ConditionCompiler(policy)
        self.durable = DurableCompiler(policy, self.conditions)
        rules: list[Rule] = []
        engine_rules: dict[str, dict[str, Any]] = {}

        def add(key: str, document: Document, clause: Clause | None, branch: str, condition: ast.Expr | None) -> None:
            name = f"r{len(rules)}"
            if condition is not None:
                fn, atoms = self.conditions.compile_traced(condition)
            else:
                fn, atoms = (lambda ctx: True), ()
            reads = frozenset(name for atom in atoms for name in (*atom.reads, *atom.definitions))
            engine_rules[name] = self.durable.compile_rule(condition)
            rules.append(Rule(key, name, document, clause, branch, condition, fn, atoms, reads,
                              frozenset(engine_fields(engine_rules[name]))))

        for document in policy.documents:
            add(f"doc:{document.id}", document, None, "applies", document.applies_when)
            for earlier in document.earlier_versions:
                add(f"version:{document.id}:{earlier.version}", document, None, "version", earlier.applies_when)
            for clause in document.clauses:
                if clause.when is None and clause.applies is None:
                    continue
                holds = _both(clause.applies, clause.when)
                add(clause.key, document, clause, "when", holds)
                if clause.otherwise is not None and clause.when is not None:
                    negated = ast.Not(clause.when, text=f"not ({clause.when.text})")
                    add(clause.otherwise_key, document, clause, "otherwise", _both(clause.applies, negated))
        self.project: Callable[[Context], dict[str, Any]] = functools.partial(fact_for, self.durable.fields)
        self.generated_source = ""
        # durable_rules holds each document's clause rules in rulesets of their own, apart from the
        # rules that say which documents apply (group DOCUMENTS): the default path asks the clause
        # rulesets of a document only when it may apply, and projects only the values they read.
        groups = {rule.name: DOCUMENTS if rule.clause is None else rule.document.id for rule in rules}
        readers: dict[str, set[str]] = {}
        for rule in rules:
            for name in rule.engine_fields:
                readers.setdefault(name, set()).add(groups[rule.name])
        # Each field once: with the document rules if they read it, else with the documents reading it.
        signatures: dict[frozenset[str], list[str]] = {}
        for name in self.durable.fields:
            if name in readers:
                key = frozenset({DOCUMENTS}) if DOCUMENTS in readers[name] else frozenset(readers[name])
                signatures.setdefault(key, []).append(name)
        self._fills: list[tuple[frozenset[str], Fill]] = []
        self._fill_documents: Fill | None = None
        self._fills_for: dict[frozenset[str], tuple[tuple[Fill, ...], frozenset[str]]] = {}
        #: Per combination of the documents' 'applies' results, what ``_open`` gives.
        self._opened: dict[Any, tuple[frozenset[str], tuple[Fill, ...], frozenset[str]]] = {}
        if fast:
            self.generated_source, functions, self.project, fills = generate(
                self.conditions, [(index, rule.condition) for index, rule in enumerate(rules)], self.durable.fields,
                self.durable.traced_terms(), list(signatures.values()))
            rules = [replace(rule, fn=functions[index]) if index in functions else rule for index, rule in enumerate(rules)]
            self._fills = list(zip(signatures, fills, strict=True))
            self._fill_documents = next((fill for key, fill in self._fills if DOCUMENTS in key), None)
        self.rules = tuple(rules)
        self.rules_by_key = {rule.key: rule for rule in rules}
        self.document_rules = tuple(rule for rule in rules if rule.clause is None)
        # The results of the documents' 'applies' rules, read from a claim's truth in one C call
        # (a tuple, also for one document): the key of ``_opened``.
        applies_keys = [rule.key for rule in self.document_rules if rule.branch == "applies"]
        self._applies_of: Callable[[Mapping[str, bool | None]], Any] = (
            operator.itemgetter(*applies_keys) if len(applies_keys) > 1 else (lambda truth: tuple(truth[key] for key in applies_keys)))
        #: Per document: its 'applies' key and its clause rules (also read by the case split, claimrules.holds).
        self.clause_rules: tuple[tuple[str, tuple[Rule, ...]], ...] = tuple(
            (f"doc:{document.id}", tuple(rule for rule in rules if rule.clause is not None and rule.document is document))
            for document in policy.documents)
        self._by_name = {rule.name: rule for rule in rules}
        # Every rule's result before durable_rules answers: false, in the order of ``rules`` (a
        # copy per claim, then true for each rule that fired: cheaper than a result per rule).
        self._all_false: dict[str, bool | None] = dict.fromkeys((rule.key for rule in rules), False)
        self._key_of = {rule.name: rule.key for rule in rules}
        self._bit_of = {rule.name: 1 << index for index, rule in enumerate(rules)}
        self._traced: dict[frozenset[str], tuple[tuple[Rule, ...], ...]] = {}
        self._document_fields = frozenset(name for rule in self.document_rules for name in rule.engine_fields)
        self._traced_members = 0
        self.engine_rules = engine_rules
        #: Each rule's group in ``network``: DOCUMENTS, or the id of the document of its clause.
        self.engine_groups = groups
        self._all_fields = frozenset(self.durable.fields)
        if len(self.durable.fields) > MAX_ENGINE_FIELDS:
            raise PolicyError(f"the policy set needs {len(self.durable.fields)} facts and computed values per claim",
                              file=policy.source.file, expected=f"at most {MAX_ENGINE_FIELDS} (limit MAX_ENGINE_FIELDS)")
        try:
            self.network = RuleNetwork(engine_rules, label=f"claimrules_{policy.id}", groups=groups)
        except (EngineError, ValueError) as problem:  # a durable_rules limit the compiler did not keep to
            raise PolicyError(f"durable_rules cannot hold this policy set: {problem}", file=policy.source.file,
                              expected="rules within durable_rules' limits (docs/durable-rules.md)") from None
        self._blank_members = self.network.blank_members()
        if "one" in self._blank_members:
            self._blank_members["one"] = ',"one":1'
        self.amounts: dict[int, Compiled] = {}
        for document in policy.documents:
            for clause in document.clauses:
                for case in clause.amount:
                    if case.when is not None:
                        self.amounts[id(case.when)] = self.conditions.compile(case.when, record=False)
                    self.amounts[id(case.amount)] = self.conditions.compile(case.amount, record=False)
                if clause.refund is not None:
                    self.amounts[id(clause.refund)] = self.conditions.compile(clause.refund, record=False)

    def value(self, node: ast.Expr, ctx: Context) -> Any:
        return self.amounts[id(node)](ctx)

    def evaluate(self, values: dict[str, Any]) -> Evaluation:
        """durable_rules decides which rules hold; the traced closures settle what it cannot.

        A rule whose fields the claim all gives is two-valued, and what fired is its result: its
        trace is built later, when the decision is explained, and checked against what fired then
        (``check_trace``). A rule that reads a missing value and did not fire may be unknown: its
        traced closure runs now and must agree that it does not hold (one that fired holds, as no
        test of a missing value holds in durable_rules; its trace is checked later, as a
        two-valued rule's is). A document that does not apply
        needs no explanation: its clauses take durable_rules' answer as it is.
        """
        ctx = Context(values)
        if self.network.closed:
            raise EvaluationError(f"policy set '{self.policy.id}' was closed", expected="an open policy set",
                                  help="load the policy set again (claimrules.load_policy) to decide claims")
        if not self.fast:
            fact = self.project(ctx)
            fired = self._fired(fact, None)
            # The reference path treats every field as possibly absent: every traced closure runs now.
            absent: frozenset[str] = self._all_fields
        else:
            # First the rules that say which documents apply, then the clause rules of each document
            # that may apply: a document that does not apply has no clause that holds.
            fact = {"one": 1}
            # Each field durable_rules reads with its value's JSON, written by the fill functions
            # (RuleNetwork.fired's members; "" until written).
            encoded = self._blank_members.copy()
            if self._fill_documents is not None:
                self._fill_documents(ctx, fact, encoded)
            fired = self._fired(fact, _DOCUMENT_GROUPS, encoded)
            absent = self._document_fields.difference(fact)  # what the document rules read
        # What fired is the answer of a two-valued rule (and of every rule of a document that does
        # not apply, whose rulesets are not asked); a rule reading an absent value is settled by
        # its traced closure.
        truth = self._all_false.copy()
        key_of, bit_of = self._key_of, self._bit_of
        held = unknowns = 0  # the rules that hold, and those unknown, as bits in rule order
        for name in fired:
            truth[key_of[name]] = True
            held |= bit_of[name]
        checked = self._checked
        # A rule that fired holds whatever else it reads (no test of a missing value holds in
        # durable_rules): only those that did not fire may be unknown, and only a traced closure
        # says so. The trace checks them all.
        if absent:
            for rule in self.document_rules:
                if not absent.isdisjoint(rule.engine_fields) and rule.name not in fired:
                    result = truth[rule.key] = rule.fn(ctx)
                    if result is not False:  # None: unknown; True: it holds though it did not fire
                        unknowns |= bit_of[rule.name] if checked(rule, result, fired) is None else 0
        if self.fast:
            found = self._opened.get(self._applies_of(truth))
            if found is None:
                found = self._open(truth)
            open_documents, fills, wanted = found
            for fill in fills:
                fill(ctx, fact, encoded)
            if open_documents:
                clauses_fired = self._fired(fact, open_documents, encoded)
                for name in clauses_fired:
                    truth[key_of[name]] = True
                    held |= bit_of[name]
                fired |= clauses_fired
            absent = wanted.difference(fact)
        if absent:
            for (document_key, _), rules in zip(self.clause_rules, self._traced_of(absent), strict=True):
                if rules and truth[document_key] is not False:
                    for rule in rules:
                        if rule.name not in fired:
                            result = truth[rule.key] = rule.fn(ctx)
                            if result is not False:  # as above
                                unknowns |= bit_of[rule.name] if checked(rule, result, fired) is None else 0
        return Evaluation(truth, ctx, fired, unknowns != 0, (held, unknowns))

    def _traced_of(self, absent: frozenset[str]) -> tuple[tuple[Rule, ...], ...]:
        """Per document (as ``clause_rules``), its clause rules that read one of ``absent``: the
        same few sets of absent values recur over a book of claims, so each is worked out once."""
        found = self._traced.get(absent)
        if found is None:
            found = tuple(tuple(rule for rule in rules if not absent.isdisjoint(rule.engine_fields))
                          for _, rules in self.clause_rules)
            members = len(absent) + sum(map(len, found))
            if self._traced_members + members > _MAX_ABSENT_MEMBERS:
                self._traced.clear()
                self._traced_members = 0
            self._traced[absent] = found
            self._traced_members += members
        return found

    def _open(self, truth: Mapping[str, bool | None]) -> tuple[frozenset[str], tuple[Fill, ...], frozenset[str]]:
        """The documents that may apply, with their fill functions and the values their rules read:
        the same for every claim whose 'applies' rules have the same results (a few per policy set)."""
        documents = self.open_documents(truth)
        found = (documents, *self._fills_of(documents))
        if len(self._opened) < _MAX_DOCUMENT_SETS:
            self._opened[self._applies_of(truth)] = found
        return found

    def open_documents(self, truth: Mapping[str, bool | None]) -> frozenset[str]:
        """The documents that may apply (their 'applies' rule not false): the default path asks
        durable_rules the clause rules of these, in the groups named by their ids."""
        return frozenset(rule.document.id for rule in self.document_rules
                         if rule.branch == "applies" and truth[rule.key] is not False)

    def _fired(self, fact: dict[str, Any], groups: frozenset[str] | None,
               members: dict[str, str] | None = None) -> frozenset[str]:
        try:
            return self.network.fired(fact, groups, members)
        except (EngineError, ValueError) as problem:
            raise EvaluationError(f"durable_rules failed on this claim: {problem}",
                                  help="this is a bug in claimrules; please report it with the claim") from None

    def _fills_of(self, documents: frozenset[str]) -> tuple[tuple[Fill, ...], frozenset[str]]:
        """The fill functions for the values the clause rules of ``documents`` read (the document
        rules' values are filled already), and every value those rules read."""
        found = self._fills_for.get(documents)
        if found is None:
            fills = tuple(fill for key, fill in self._fills if DOCUMENTS not in key and not key.isdisjoint(documents))
            wanted = frozenset(name for rule in self.rules if rule.clause is None or rule.document.id in documents
                               for name in rule.engine_fields)
            found = (fills, wanted)
            if len(self._fills_for) < _MAX_DOCUMENT_SETS:  # a few per policy set in practice; bounded anyway
                self._fills_for[documents] = found
        return found

    def check_trace(self, rule: Rule, evaluation: Evaluation) -> None:
        """The traced closure of ``rule`` agrees with durable_rules (an ``EvaluationError`` if not)."""
        self._checked(rule, rule.fn(evaluation.context), evaluation.fired)

    @staticmethod
    def _checked(rule: Rule, traced: bool | None, fired: frozenset[str]) -> bool | None:
        if (rule.name in fired) != (traced is True):
            raise EvaluationError(
                f"durable_rules and the trace disagree on {rule.key}: engine "
                f"{'fired' if rule.name in fired else 'did not fire'}, trace says {traced}",
                help="this is a bug in claimrules; please report it with the claim",
            )
        return traced

    def close(self) -> None:
        self.network.close()


def _both(first: ast.Expr | None, second: ast.Expr | None) -> ast.Expr | None:
    if first is None:
        return second
    if second is None:
        return first
    return ast.All((first, second), text=f"{first.text} and {second.text}")
