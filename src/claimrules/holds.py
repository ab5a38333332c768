"""Which missing facts could change a decision (LW 6.3), found by case-splitting on their values.

A claim that leaves facts out is held only for the facts whose value can change the outcome, the
remedy or the charge; a fact that cannot change the decision is not asked for (LW 6.3). The
analysis is exact for the policy language:

1. The facts considered are the missing facts read by the tests (atoms) that came out *unknown* in
   the rules that came out unknown. A rule that is already true or false stays so whatever values
   the missing facts take (Kleene logic is monotone), so no other fact can matter.
2. Each such fact gets a finite set of candidate values that reaches every outcome of every test
   that reads it: every value of an enumeration, both truth values, and for numbers, amounts and
   dates the constants, amounts and dates of the claim that the policy compares them with, shifted
   by every duration the policy names, with the neighbours on either side of each boundary.
   Values that give the same result in every leaf test (through ``holds()`` too) and amount
   reading the fact are interchangeable, so one of each such class is kept; a leaf that also reads
   another missing fact keeps two values apart unless it is already decided by this fact alone.
3. Every combination of the candidates is decided (the rules that can change by the traced
   closures, then the resolver), and a fact is asked for iff two combinations that differ only in
   that fact decide differently (outcome, remedy or charge).

``tests/test_holds.py`` cross-checks this by brute force against whole decisions of completed claims.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from claimrules.engine.evaluate import Context
from claimrules.errors import ClaimrulesError
from claimrules.isodata import subdivisions_of
from claimrules.money import Money
from claimrules.periods import add_days, add_months
from claimrules.policy import expr as ast

if TYPE_CHECKING:
    from claimrules.decide import Resolution, Resolver
    from claimrules.engine.program import Program

# Facts computed from another fact: a test of them asks for the fact they come from.
# More combinations than this are not enumerated: the analysis falls back to asking for every
# fact that some unknown test reads (never fewer than could matter).
MAX_COMBINATIONS = 20_000


@dataclass(frozen=True, eq=False)
class Test:
    """A leaf test or an amount, with the claim facts it depends on."""

    fn: Callable[[Context], Any]
    facts: frozenset[str]
    presence: frozenset[str]  # the facts whose presence it tests ('is known', coalesce)


_LEAF_TYPES = (ast.Compare, ast.Member, ast.Within, ast.Known, ast.Quantified, ast.Fact, ast.Const)


def _leaves_of(node: ast.Expr, conditions: dict[str, list[ast.Expr]], seen: frozenset[str] = frozenset(),
               memo: dict[str, list[ast.Expr]] | None = None) -> list[ast.Expr]:
    """The leaf tests of a condition: what ``and``, ``or``, ``not``, labels and ``holds()`` combine.

    A clause's leaves are found once (``memo``): a diamond of ``holds()`` stays linear."""
    memo = {} if memo is None else memo
    if isinstance(node, _LEAF_TYPES):
        return [node]
    if isinstance(node, (ast.All, ast.AnyOf)):
        return list(dict.fromkeys(leaf for item in node.items for leaf in _leaves_of(item, conditions, seen, memo)))
    if isinstance(node, (ast.Not, ast.Labelled)):
        return _leaves_of(node.item, conditions, seen, memo)
    if isinstance(node, ast.Holds):
        if node.clause in seen:
            return []
        if node.clause not in memo:
            memo[node.clause] = list(dict.fromkeys(
                leaf for part in conditions.get(node.clause, [])
                for leaf in _leaves_of(part, conditions, seen | {node.clause}, memo)))
        return memo[node.clause]
    return [node]


@dataclass(frozen=True)
class HoldResult:
    """The facts to ask for, and (when none) the resolution every value of the missing facts gives."""

    missing: tuple[str, ...]
    resolution: Resolution | None


class HoldAnalysis:
    """Case-splitting on missing facts for one compiled policy set."""

    def __init__(self, program: Program, resolver: Resolver) -> None:
        self.program = program
        self._behind_clause: dict[str, frozenset[str]] = {}
        self._presence_clause: dict[str, frozenset[str]] = {}
        self._held: dict[int, tuple[ast.Expr, tuple[tuple[str, tuple[ast.Expr, ...]], ...]]] = {}  # _held_in, by node id
        self.resolver = resolver
        self.policy = program.policy
        self.atoms = tuple(program.conditions.atoms)
        self._presence = {atom.index: tested for atom in self.atoms
                          if (tested := self._tests_presence(atom.node, frozenset()))}
        # (atoms that test whether some fact is given: a known rule may change when it is)
        # Per rule, every fact whose presence one of its atoms tests (the union of ``_presence``).
        self._rule_presence = tuple(
            (rule.key, frozenset().union(*(self._presence.get(atom.index, frozenset()) for atom in rule.atoms)))
            for rule in program.rules)
        # The leaf tests inside each atom (a labelled atom may join several), compiled once: two
        # values of a fact that every leaf reading it treats alike are interchangeable.
        compiled: dict[ast.Expr, Test] = {}
        self._leaves: dict[int, tuple[Test, ...]] = {}
        leaves_memo: dict[str, list[ast.Expr]] = {}
        conditions: dict[str, list[ast.Expr]] = {}
        for clause in self.policy.clauses_by_key.values():
            conditions.setdefault(clause.id, []).extend(part for part in (clause.applies, clause.when) if part is not None)
        for atom in self.atoms:
            leaves: list[Test] = []
            for leaf in dict.fromkeys(_leaves_of(atom.node, conditions, memo=leaves_memo)):
                test = compiled.get(leaf)
                if test is None:
                    test = compiled[leaf] = Test(program.conditions.compile(leaf, record=False),
                                                 self._facts_behind(leaf, frozenset()),
                                                 self._tests_presence(leaf, frozenset()))
                leaves.append(test)
            self._leaves[atom.index] = tuple(leaves)
        # Amounts (fee tables, refunds) read facts too: their values are part of the answer.
        self._amount_tests = tuple(
            Test(program.amounts[id(node)], self._facts_behind(node, frozenset()), self._tests_presence(node, frozenset()))
            for clause in self.policy.clauses_by_key.values()
            for node in [*(part for case in clause.amount for part in (case.when, case.amount)), clause.refund]
            if node is not None)
        nodes = self._all_nodes()
        self.durations = sorted({(node.amount, node.unit) for node in nodes if isinstance(node, ast.Duration)
                                 and node.unit != "business_days"} | {(0, "days")})
        self.constants: dict[str, set[Any]] = {}
        for node in nodes:
            if isinstance(node, ast.Compare):
                for side, other in ((node.left, node.right), (node.right, node.left)):
                    if isinstance(side, ast.Fact) and isinstance(other, ast.Const):
                        self.constants.setdefault(side.path, set()).add(other.value)
            elif isinstance(node, ast.Member) and isinstance(node.item, ast.Fact) and isinstance(node.container, ast.SetOf):
                self.constants.setdefault(node.item.path, set()).update(item.value for item in node.container.items)
            elif isinstance(node, ast.Member) and isinstance(node.item, ast.Fact) and isinstance(node.container, ast.Ref):
                named = self.policy.definitions.get(node.container.name)   # a named set of constants or codes
                if named is not None:
                    self.constants.setdefault(node.item.path, set()).update(named.constants or named.codes or ())

    # -- static ----------------------------------------------------------------------------------
    def _all_nodes(self) -> list[ast.Expr]:
        roots: list[ast.Expr] = []
        for document in self.policy.documents:
            if document.applies_when is not None:
                roots.append(document.applies_when)
            for earlier in document.earlier_versions:
                if earlier.applies_when is not None:
                    roots.append(earlier.applies_when)
        for clause in self.policy.clauses_by_key.values():
            roots += [node for node in (clause.applies, clause.when, clause.refund) if node is not None]
            for case in clause.amount:
                roots += [node for node in (case.when, case.amount) if node is not None]
        for definition in self.policy.definitions.values():
            if definition.value is not None:
                roots.append(definition.value)
        return [node for root in roots for node in ast.walk(root)]

    def _tests_presence(self, node: ast.Expr, seen: frozenset[str]) -> frozenset[str]:
        """The facts whose presence a test reads ('is known', 'is missing', coalesce), through
        definitions and holds()."""
        found: set[str] = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Known) or (isinstance(sub, ast.Call) and sub.name == "coalesce"):
                found |= self._facts_behind(sub, seen)
            if isinstance(sub, ast.Ref) and sub.name not in seen:
                definition = self.policy.definitions[sub.name]
                if definition.value is not None:
                    found |= self._tests_presence(definition.value, seen | {sub.name})
            if isinstance(sub, ast.Holds) and sub.clause not in seen:
                if sub.clause not in self._presence_clause:   # once per clause: a diamond stays linear
                    inner: set[str] = set()
                    for clause in self.policy.clauses_by_key.values():
                        if clause.id == sub.clause:
                            for part in (clause.applies, clause.when):
                                if part is not None:
                                    inner |= self._tests_presence(part, seen | {sub.clause})
                    self._presence_clause[sub.clause] = frozenset(inner)
                found |= self._presence_clause[sub.clause]
        return frozenset(found)

    def _facts_behind(self, node: ast.Expr, seen: frozenset[str]) -> frozenset[str]:
        """Every claim fact a test depends on, through definitions and holds() (statically)."""
        paths = set(ast.facts_of(node))
        for name in ast.refs_of(node):
            definition = self.policy.definitions[name]
            if definition.value is not None and name not in seen:
                paths |= self._facts_behind(definition.value, seen | {name})
            if definition.codes is not None:
                roles = self.policy.vocabulary.roles
                paths |= {roles[role] for role in ("country", "subdivision", "military_address") if role in roles}
        for clause_id in ast.holds_of(node):
            if clause_id in seen:
                continue
            if clause_id not in self._behind_clause:   # once per clause: a diamond of holds() stays linear
                found: set[str] = set()
                for clause in self.policy.clauses_by_key.values():
                    if clause.id == clause_id:
                        for part in (clause.applies, clause.when):
                            if part is not None:
                                found |= self._facts_behind(part, seen | {clause_id})
                self._behind_clause[clause_id] = frozenset(found)
            paths |= self._behind_clause[clause_id]
        return frozenset(self.policy.vocabulary.derived_from.get(path, path) for path in paths)

    def _unknown_behind(self, node: ast.Expr, ctx: Context, seen: frozenset[str]) -> set[str]:
        """The missing facts behind a test of this claim: a definition the claim already knows
        (``coalesce`` found a value) needs nothing more (LW 6.3)."""
        paths = self.resolver._facts_behind(node, ctx)
        for clause_id, parts in self._held_in(node):
            if clause_id in seen:
                continue
            for part in parts:
                paths |= self._unknown_behind(part, ctx, seen | {clause_id})
        return {self.policy.vocabulary.derived_from.get(path, path) for path in paths}

    def _held_in(self, node: ast.Expr) -> tuple[tuple[str, tuple[ast.Expr, ...]], ...]:
        """Each clause ``node`` asks holds() of, with the conditions of every version of it, found
        by walking ``node`` once (kept by the node's id with the node itself, as
        ``Resolver._read_by`` keeps what a node reads)."""
        kept = self._held.get(id(node))
        if kept is not None and kept[0] is node:
            return kept[1]
        found = tuple((clause_id, tuple(part for clause in self.policy.clauses_by_key.values() if clause.id == clause_id
                                        for part in (clause.applies, clause.when) if part is not None))
                      for clause_id in sorted(ast.holds_of(node)))
        self._held[id(node)] = (node, found)
        return found

    # -- per claim -------------------------------------------------------------------------------
    def analyse(self, values: dict[str, Any], ctx: Context, unknown_rules: list[str],
                truth: dict[str, bool | None]) -> HoldResult:
        """The facts to ask for, given the baseline context, every rule's result for it (``truth``,
        as ``Program.evaluate`` gives it) and the relevant rules that came out unknown."""
        facts: set[str] = set()
        for key in unknown_rules:
            rule = self.program.rules_by_key[key]
            for atom in rule.atoms:
                if (ctx.atoms[atom.index] if atom.index in ctx.atoms else atom.fn(ctx)) is None:
                    facts |= {path for path in self._unknown_behind(atom.node, ctx, frozenset())
                              if self._missing(path, values)}
        ordered = sorted(facts)
        if not ordered:
            return HoldResult((), None)
        # Only the tests of the rules still unknown can change (a known rule stays known), and any
        # test of presence; then the amounts the answer charges or refunds.
        tests = tuple(dict.fromkeys(
            [test for key in unknown_rules for atom in self.program.rules_by_key[key].atoms
             for test in self._leaves[atom.index]]
            + [test for index, tested in sorted(self._presence.items()) if tested & facts
               for test in self._leaves[index]]
            + list(self._amount_tests)))
        candidates = {path: self._classes(path, values, ctx, set(ordered), tests) for path in ordered}
        total = 1
        for path in ordered:
            total *= max(1, len(candidates[path]))
        if total > MAX_COMBINATIONS or any(not candidates[path] for path in ordered):
            return HoldResult(tuple(ordered), None)
        # Only the rules still unknown, and those testing whether a missing fact is given, can
        # change; every other rule keeps the value it has for this claim.
        varying = sorted(set(unknown_rules) | {key for key, tested in self._rule_presence if not tested.isdisjoint(facts)})
        baseline = self._baseline(truth, ctx, varying)
        table: dict[tuple[int, ...], tuple[Any, ...]] = {}
        resolutions: dict[tuple[Any, ...], Resolution] = {}
        for choice in itertools.product(*(range(len(candidates[path])) for path in ordered)):
            assigned = dict(values)
            for path, index in zip(ordered, choice):
                assigned[path] = candidates[path][index]
            resolution = self._resolve(assigned, baseline, varying)
            signature = self.signature(resolution)
            table[choice] = signature
            resolutions.setdefault(signature, resolution)
        mattering = []
        for position, path in enumerate(ordered):
            seen: dict[tuple[int, ...], tuple[Any, ...]] = {}
            for choice, signature in table.items():
                rest = choice[:position] + choice[position + 1:]
                if seen.setdefault(rest, signature) != signature:
                    mattering.append(path)
                    break
        if mattering:
            return HoldResult(tuple(mattering), None)
        return HoldResult((), next(iter(resolutions.values())))

    def _baseline(self, truth: dict[str, bool | None], ctx: Context, varying: list[str]) -> dict[str, bool | None]:
        """Every rule's result for the claim as it is, an unknown one taken as not holding.

        ``truth`` has them: durable_rules' answer where the rule is two-valued for this claim (its
        traced closure agrees, ``Program.check_trace``), the closure's where it may be unknown.
        The clause rules of a document that does not apply were not asked (all false there); they
        are worked out here only where the document's own rule can change with a missing fact's
        value (it tests whether that fact is given), so the document may apply in some cases."""
        baseline: dict[str, bool | None] = {key: value is True for key, value in truth.items()}
        changing = set(varying)
        for applies, rules in self.program.clause_rules:
            if applies in changing and truth.get(applies) is False:
                for rule in rules:
                    baseline[rule.key] = rule.fn(ctx) is True
        return baseline

    @staticmethod
    def signature(resolution: Resolution) -> tuple[Any, ...]:
        winner = resolution.winner
        return (resolution.outcome, winner.remedy if winner else None, winner.charge() if winner else (),
                winner.missing if winner is not None and winner.outcome == "needs_information" else ())

    def _resolve(self, values: dict[str, Any], baseline: dict[str, bool | None], varying: list[str]) -> Resolution:
        ctx = Context(values)
        truth = dict(baseline)
        rules = self.program.rules_by_key
        for key in varying:
            value = rules[key].fn(ctx)
            truth[key] = value if value is not None else False
        return self.resolver.resolve(truth, ctx)

    def _missing(self, path: str, values: dict[str, Any]) -> bool:
        return values.get(path) is None and self._kind(path) != "section"

    def _kind(self, path: str) -> str:
        """enum, bool, date, money, number, text, or section (a group of facts), from the vocabulary."""
        spec = self.policy.vocabulary.specs.get(path)
        if spec is None or spec.is_record:
            return "section"
        return {"decimal": "number", "integer": "number", "country": "text", "subdivision": "text"}.get(spec.type, spec.type)

    # -- candidate values ------------------------------------------------------------------------
    def _classes(self, path: str, values: dict[str, Any], ctx: Context, missing: set[str],
                 tests: tuple[Test, ...]) -> list[Any]:
        """One candidate value per class of values that every test reading ``path`` treats alike.

        A test that also reads another missing fact separates two values unless it is already true
        or false (or has a value) with this one alone: Kleene logic keeps a known result known
        whatever the other facts turn out to be, except in a test of presence ('is known',
        coalesce), which always separates them.
        """
        reading = [test for test in tests if path in test.facts]
        kept: dict[tuple[Any, ...], Any] = {}
        for value in self._candidates(path, values, ctx):
            probe = Context({**values, path: value})
            key: list[Any] = []
            try:
                for test in reading:
                    result = test.fn(probe)
                    shared = len(test.facts & missing) > 1
                    key.append(("value", value) if shared and (result is None or test.presence & missing) else result)
            except (ValueError, ClaimrulesError):
                continue  # not a value this fact can take here (e.g. a subdivision of another country)
            kept.setdefault(tuple(key), value)
        return list(kept.values())

    def _candidates(self, path: str, values: dict[str, Any], ctx: Context) -> list[Any]:
        spec = self.policy.vocabulary.specs[path]
        kind = self._kind(path)
        if path == self.policy.vocabulary.roles.get("subdivision"):
            return list(subdivisions_of(str(values.get(self.policy.vocabulary.roles.get("country", "")))))
        if kind == "enum":
            return sorted(spec.values)
        if kind == "bool":
            return [False, True]
        if kind == "date":
            dates = set(self._dates(values, ctx))
            for constant in self.constants.get(path, ()):   # a date the policy compares the fact with
                if isinstance(constant, date):
                    dates |= {constant - timedelta(days=1), constant, constant + timedelta(days=1)}
            return sorted(dates)
        if kind == "money":
            return self._amounts(values)
        if kind == "number":
            return self._numbers(path, spec.type == "integer")
        if kind == "text":
            found = {str(value) for value in self.constants.get(path, ()) if isinstance(value, str)}
            field = path.rsplit(".", 1)[-1]
            for value in values.values():
                if isinstance(value, tuple):
                    found |= {str(item[field]) for item in value if isinstance(item, dict) and item.get(field) is not None}
            return sorted(found) + ["(another value)"]
        return []

    def _dates(self, values: dict[str, Any], ctx: Context) -> list[date]:
        anchors: set[date] = {value for value in values.values() if isinstance(value, date)}
        for value in values.values():
            if isinstance(value, tuple):
                for item in value:
                    if isinstance(item, dict):
                        anchors |= {field for field in item.values() if isinstance(field, date)}
        definitions = self.program.conditions.definitions
        for name in sorted(definitions):
            found = definitions[name](ctx)
            if isinstance(found, date):
                anchors.add(found)
        found_dates: set[date] = set()
        for anchor in anchors:
            for amount, unit in self.durations:
                for sign in (1, -1):
                    try:
                        moved = add_days(anchor, sign * amount) if unit == "days" else add_months(
                            anchor, sign * amount * (12 if unit == "years" else 1))
                    except (OverflowError, ValueError):
                        continue
                    for nudge in (-1, 0, 1):
                        try:
                            found_dates.add(moved + timedelta(days=nudge))
                        except OverflowError:
                            continue
        return sorted(found_dates)

    @staticmethod
    def _amounts(values: dict[str, Any]) -> list[Money]:
        known = [value for value in values.values() if isinstance(value, Money)]
        if not known:
            return []
        currency = known[0].currency
        step = Decimal("0.01")
        figures = {Decimal(0)}
        for first in known:
            figures |= {first.amount, first.amount + step, first.amount - step}
            for second in known:
                difference = first.amount - second.amount
                figures |= {difference, difference + step, difference - step}
        return [Money(amount=figure, currency=currency) for figure in sorted(figures) if figure >= 0]

    def _numbers(self, path: str, integer: bool) -> list[Any]:
        found: set[Any] = {0}
        for constant in self.constants.get(path, ()):
            if isinstance(constant, (int, Decimal)) and not isinstance(constant, bool):
                step = 1 if integer else Decimal("0.01")
                found |= {constant - step, constant, constant + step}
        return sorted(value for value in found if value >= 0)

