"""A policy set compiled once: its rules on durable_rules, and the same rules as traced closures.

``Program.evaluate`` runs one claim: the claim's fact goes to durable_rules, which reports the
rules that fired; the traced closures give every rule's three-valued result and the values behind
it. The two must agree on every rule that is true — a disagreement is an ``EvaluationError``,
never a silent decision.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from claimrules.engine.compiler import DurableCompiler, engine_fields, fact_for
from claimrules.engine.durable import EngineError, RuleNetwork
from claimrules.engine.evaluate import Atom, Compiled, ConditionCompiler, Context
from claimrules.engine.generated import generate
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
        if fast:
            self.generated_source, functions, self.project = generate(
                self.conditions, [(index, rule.condition) for index, rule in enumerate(rules)], self.durable.fields,
                self.durable.traced_terms())
            rules = [replace(rule, fn=functions[index]) if index in functions else rule for index, rule in enumerate(rules)]
        self.rules = tuple(rules)
        self.rules_by_key = {rule.key: rule for rule in rules}
        self.document_rules = tuple(rule for rule in rules if rule.clause is None)
        self.clause_rules = tuple(
            (f"doc:{document.id}", tuple(rule for rule in rules if rule.clause is not None and rule.document is document))
            for document in policy.documents)
        self._by_name = {rule.name: rule for rule in rules}
        self.engine_rules = engine_rules
        self._all_fields = frozenset(self.durable.fields)
        if len(self.durable.fields) > MAX_ENGINE_FIELDS:
            raise PolicyError(f"the policy set needs {len(self.durable.fields)} facts and computed values per claim",
                              file=policy.source.file, expected=f"at most {MAX_ENGINE_FIELDS} (limit MAX_ENGINE_FIELDS)")
        try:
            self.network = RuleNetwork(engine_rules, label=f"claimrules_{policy.id}")
        except (EngineError, ValueError) as problem:  # a durable_rules limit the compiler did not keep to
            raise PolicyError(f"durable_rules cannot hold this policy set: {problem}", file=policy.source.file,
                              expected="rules within durable_rules' limits (docs/durable-rules.md)") from None
        self.amounts: dict[int, Compiled] = {}
        for document in policy.documents:
            for clause in document.clauses:
                for case in clause.amount:
                    if case.when is not None:
                        self.amounts[id(case.when)] = self.conditions.compile(case.when, record=False)
                    self.amounts[id(case.amount)] = self.conditions.compile(case.amount, record=False)
                if clause.refund is not None:
                    self.amounts[id(clause.refund)] = self.conditions.compile(clause.refund, record=False)
        self._lock = threading.Lock()

    def value(self, node: ast.Expr, ctx: Context) -> Any:
        return self.amounts[id(node)](ctx)

    def evaluate(self, values: dict[str, Any]) -> Evaluation:
        """durable_rules decides which rules hold; the traced closures settle what it cannot.

        A rule whose fields the claim all gives is two-valued, and what fired is its result: its
        trace is built later, when the decision is explained, and checked against what fired then
        (``check_trace``). A rule that reads a missing value may be unknown: its traced closure runs
        now and must agree with durable_rules on whether it holds. A document that does not apply
        needs no explanation: its clauses take durable_rules' answer as it is.
        """
        ctx = Context(values)
        if self.network.closed:
            raise EvaluationError(f"policy set '{self.policy.id}' was closed", expected="an open policy set",
                                  help="load the policy set again (claimrules.load_policy) to decide claims")
        fact = self.project(ctx)
        try:
            fired = self.network.fired(fact)
        except (EngineError, ValueError) as problem:
            raise EvaluationError(f"durable_rules failed on this claim: {problem}",
                                  help="this is a bug in claimrules; please report it with the claim") from None
        # The reference path treats every field as possibly absent: every traced closure runs now.
        absent = self._all_fields.difference(fact) if self.fast else self._all_fields
        truth: dict[str, bool | None] = {}
        for rule in self.document_rules:
            truth[rule.key] = (rule.name in fired if absent.isdisjoint(rule.engine_fields)
                               else self._checked(rule, rule.fn(ctx), fired))
        for document_key, rules in self.clause_rules:
            if truth[document_key] is False:
                for rule in rules:
                    truth[rule.key] = rule.name in fired
            elif absent:
                for rule in rules:
                    truth[rule.key] = (rule.name in fired if absent.isdisjoint(rule.engine_fields)
                                       else self._checked(rule, rule.fn(ctx), fired))
            else:
                for rule in rules:
                    truth[rule.key] = rule.name in fired
        return Evaluation(truth, ctx, fired)

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
