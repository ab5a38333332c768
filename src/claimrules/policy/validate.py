"""Checks a loaded policy set as a whole: every name it uses exists, and nothing refers to itself."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from claimrules.engine.functions import ARITY
from claimrules.errors import PolicyError, did_you_mean
from claimrules.facts import FACT_PATHS, ITEM_FIELDS, LIST_FACTS, fact_type
from claimrules.policy import expr as ast
from claimrules.policy.model import Clause, PolicySet, Source

MAX_DEPTH = 40
_GRANTS = "<grants>"  # the item scope of a query over the grants of an exceptions declaration


class _ErrorMaker(Protocol):
    def error(self, message: str, mapping: Any = None, key: str | None = None, *, clause: str | None = None,
              expected: str | None = None, help: str | None = None) -> PolicyError: ...


def _fail(source: Source, message: str, *, clause: str | None = None, expected: str | None = None,
          help: str | None = None) -> PolicyError:
    return PolicyError(message, file=source.file, line=source.line, clause=clause, expected=expected, help=help)


def _conditions(clause: Clause) -> list[ast.Expr]:
    found = [clause.when] if clause.when is not None else []
    if clause.applies is not None:
        found.append(clause.applies)
    found += [case.when for case in clause.amount if case.when is not None]
    found += [case.amount for case in clause.amount]
    if clause.refund is not None:
        found.append(clause.refund)
    return found


def _check_names(node: ast.Expr, policy: PolicySet, source: Source, clause: str | None, clause_ids: set[str]) -> None:
    if ast.depth(node) > MAX_DEPTH:
        raise _fail(source, f"condition nested {ast.depth(node)} levels deep", clause=clause, expected=f"at most {MAX_DEPTH}")
    _check_scope(node, policy, source, clause, clause_ids, item_of=None)


def _check_scope(node: ast.Expr, policy: PolicySet, source: Source, clause: str | None, clause_ids: set[str],
                 item_of: str | None) -> None:
    if isinstance(node, ast.Fact):
        if node.path.startswith("item.") and item_of == _GRANTS:
            if node.path[5:] not in ast.GRANT_FIELDS:
                raise _fail(source, f"unknown field '{node.path[5:]}' of a grant", clause=clause,
                            expected="one of " + ", ".join(sorted(ast.GRANT_FIELDS)),
                            help=did_you_mean(node.path[5:], ast.GRANT_FIELDS))
            return
        if node.path.startswith("item."):
            field = node.path[5:]
            if item_of is None:
                raise _fail(source, f"'{node.path}' outside count() or any()", clause=clause,
                            expected="item.x only inside count(list where ...) or any(list where ...)")
            if field not in ITEM_FIELDS[item_of]:
                raise _fail(source, f"unknown field '{field}' of {item_of}", clause=clause,
                            expected="one of " + ", ".join(sorted(ITEM_FIELDS[item_of])),
                            help=did_you_mean(field, ITEM_FIELDS[item_of]))
        elif node.path not in FACT_PATHS:
            raise _fail(source, f"unknown fact '{node.path}'", clause=clause, expected="a claim fact",
                        help=did_you_mean(node.path, FACT_PATHS))
        return
    if isinstance(node, ast.Ref):
        if node.name not in policy.definitions:
            raise _fail(source, f"unknown definition '{node.name}'", clause=clause, expected="a name under 'definitions'",
                        help=did_you_mean(node.name, list(policy.definitions) + list(FACT_PATHS)))
        return
    if isinstance(node, ast.Holds):
        if node.clause not in clause_ids:
            raise _fail(source, f"holds() names clause '{node.clause}', which the policy set does not have", clause=clause,
                        expected="a clause id", help=did_you_mean(node.clause, clause_ids))
        return
    if isinstance(node, ast.Call):
        low, high = ARITY[node.name]
        if not low <= len(node.args) <= high:
            wanted = str(low) if low == high else f"{low} to {high}"
            raise _fail(source, f"{node.name}() takes {wanted} arguments, {len(node.args)} given", clause=clause,
                        expected=f"{wanted} arguments")
    if isinstance(node, ast.GrantQuery):
        definition = policy.definitions.get(node.declaration.name)
        if definition is None or not isinstance(definition.value, ast.Exceptions):
            raise _fail(source, f"{node.kind}() over '{node.declaration.name}', which is neither a list fact nor a "
                        "declaration of exceptions", clause=clause,
                        expected="a list such as 'prior_incidents', or a definition with 'exceptions'",
                        help=did_you_mean(node.declaration.name, [*LIST_FACTS, *(name for name, known in
                                          policy.definitions.items() if isinstance(known.value, ast.Exceptions))]))
        if node.where is not None:
            _check_scope(node.where, policy, source, clause, clause_ids, item_of=_GRANTS)
        return
    if isinstance(node, ast.Exceptions) and node.recorded is not None:
        if node.recorded not in LIST_FACTS:
            raise _fail(source, f"exceptions recorded in '{node.recorded}', which is not a list", clause=clause,
                        expected="one of " + ", ".join(LIST_FACTS), help=did_you_mean(node.recorded, LIST_FACTS))
        for field in (node.role_field, node.granted_field, node.end_field):
            if field not in ITEM_FIELDS[node.recorded]:
                raise _fail(source, f"unknown field '{field}' of {node.recorded}", clause=clause,
                            expected="one of " + ", ".join(sorted(ITEM_FIELDS[node.recorded])),
                            help=did_you_mean(field, ITEM_FIELDS[node.recorded]))
    if isinstance(node, ast.Quantified):
        if node.kind == "sum" and node.value is None:
            raise _fail(source, "sum() needs the value to add up", clause=clause,
                        expected="sum(list, item.field) or sum(list, item.field where condition)")
        if node.collection not in LIST_FACTS:
            raise _fail(source, f"{node.kind}() over '{node.collection}', which is not a list", clause=clause,
                        expected="one of " + ", ".join(LIST_FACTS))
        for part in (node.where, node.value):
            if part is not None:
                _check_scope(part, policy, source, clause, clause_ids, item_of=node.collection)
        return
    if isinstance(node, ast.Member) and isinstance(node.container, ast.Fact):
        if node.container.path not in ("plan.options",) and node.container.path not in LIST_FACTS:
            raise _fail(source, f"'{node.container.path}' is not a list to test membership in", clause=clause,
                        expected="a set {...}, a defined set, or plan.options")
    if isinstance(node, ast.Member) and isinstance(node.container, ast.Ref):
        definition = policy.definitions.get(node.container.name)
        if definition is None:
            raise _fail(source, f"unknown set '{node.container.name}'", clause=clause, expected="a defined set",
                        help=did_you_mean(node.container.name, policy.definitions))
        if definition.codes is not None and not (isinstance(node.item, ast.Fact) and node.item.path == "location"):
            raise _fail(source, f"territory '{definition.name}' can only be tested with 'location in {definition.name}'",
                        clause=clause, expected="location in " + definition.name)
        if definition.codes is None and definition.constants is None:
            raise _fail(source, f"'{definition.name}' is not a set", clause=clause, expected="a definition with codes or constants")
        _check_scope(node.item, policy, source, clause, clause_ids, item_of)
        return
    for child in ast.children(node):
        _check_scope(child, policy, source, clause, clause_ids, item_of)


def validate_policy(policy: PolicySet, reader: _ErrorMaker) -> None:
    """Raise PolicyError on the first dangling name, duplicate, cycle or unknown party."""
    clauses: dict[str, Clause] = {}
    seen_ids: dict[str, Clause] = {}
    for document in policy.documents:
        if document.responsible not in policy.parties:
            raise _fail(document.source, f"document {document.id} names unknown party '{document.responsible}'",
                        expected="a party under 'parties'", help=did_you_mean(document.responsible, policy.parties))
        for clause in document.clauses:
            if clause.key in clauses:
                other = clauses[clause.key]
                raise _fail(clause.source, f"duplicate clause id '{clause.id}' (also at {other.source})", clause=clause.id,
                            expected="each clause id once in a policy set")
            clauses[clause.key] = clause
            seen_ids.setdefault(clause.id, clause)
    ids = set(seen_ids)
    policy.clauses_by_key.update(clauses)
    for clause_id in (policy.precedence_clause, policy.otherwise_clause, policy.information_clause):
        if clause_id not in ids:
            raise _fail(policy.source, f"the policy set names clause '{clause_id}', which no document has",
                        expected="a clause id", help=did_you_mean(clause_id, ids))
    document_ids = {document.id for document in policy.documents}
    for document_id in policy.tie_order:
        if document_id not in document_ids:
            raise _fail(policy.source, f"tie_order names document '{document_id}', which the set does not have",
                        expected="one of " + ", ".join(sorted(document_ids)))
    missing_order = document_ids - set(policy.tie_order)
    if missing_order:
        raise _fail(policy.source, "tie_order leaves out " + ", ".join(sorted(missing_order)),
                    expected="every document once")
    for definition in policy.definitions.values():
        if definition.value is not None:
            _check_names(definition.value, policy, definition.source, definition.clause, ids)
    for document in policy.documents:
        if document.applies_when is not None:
            _check_names(document.applies_when, policy, document.source, None, ids)
        for earlier in document.earlier_versions:
            _check_names(earlier.applies_when, policy, document.source, None, ids)
        for item, cited in sorted(document.disclosures.items()):
            for clause_id in cited:
                if clause_id not in ids:
                    raise _fail(document.source, f"disclosure '{item}' cites clause '{clause_id}', which does not exist",
                                expected="a clause id", help=did_you_mean(clause_id, ids))
        for step in document.escalation:
            if step.clause not in ids:
                raise _fail(document.source, f"escalation step cites clause '{step.clause}', which does not exist",
                            expected="a clause id", help=did_you_mean(step.clause, ids))
        for clause in document.clauses:
            for condition in _conditions(clause):
                _check_names(condition, policy, clause.source, clause.id, ids)
            for target in clause.overrides:
                if target not in ids:
                    raise _fail(clause.source, f"overrides unknown clause '{target}'", clause=clause.id,
                                expected="a clause id", help=did_you_mean(target, ids))
                if target == clause.id:
                    raise _fail(clause.source, "a clause cannot override itself", clause=clause.id, expected="another clause")
            for document_id in clause.over:
                if document_id not in document_ids:
                    raise _fail(clause.source, f"'over' names unknown document '{document_id}'", clause=clause.id,
                                expected="a document id", help=did_you_mean(document_id, document_ids))
            if clause.party is not None and clause.party not in policy.parties:
                raise _fail(clause.source, f"unknown party '{clause.party}'", clause=clause.id, expected="a party under 'parties'",
                            help=did_you_mean(clause.party, policy.parties))
            for path in clause.requires:
                if path not in FACT_PATHS:
                    raise _fail(clause.source, f"requires unknown fact '{path}'", clause=clause.id, expected="a claim fact",
                                help=did_you_mean(path, FACT_PATHS))
    _check_cycles(policy, clauses)
    _check_types(policy)


def _check_cycles(policy: PolicySet, clauses: dict[str, Clause]) -> None:
    """No definition or holds() may depend on itself; overrides may not form a cycle."""
    edges: dict[str, set[str]] = {}
    where: dict[str, Source] = {}
    for name, definition in policy.definitions.items():
        node = f"definition {name}"
        where[node] = definition.source
        edges[node] = set()
        if definition.value is not None:
            edges[node] |= {f"definition {ref}" for ref in ast.refs_of(definition.value)}
            edges[node] |= {f"clause {target}" for target in ast.holds_of(definition.value)}
    for clause in clauses.values():
        node = f"clause {clause.id}"
        where.setdefault(node, clause.source)
        edges.setdefault(node, set())
        for condition in _conditions(clause):
            edges[node] |= {f"definition {ref}" for ref in ast.refs_of(condition)}
            edges[node] |= {f"clause {target}" for target in ast.holds_of(condition)}
    _find_cycle(edges, where, "refers to itself through")
    override_edges = {f"clause {clause.id}": {f"clause {target}" for target in clause.overrides} for clause in clauses.values()}
    _find_cycle(override_edges, where, "precedence cycle:")


def _find_cycle(edges: dict[str, set[str]], where: dict[str, Source], what: str) -> None:
    state: dict[str, int] = {}
    for start in sorted(edges):
        if state.get(start):
            continue
        stack: list[tuple[str, list[str]]] = [(start, sorted(edges.get(start, ())))]
        path = [start]
        state[start] = 1
        while stack:
            node, pending = stack[-1]
            if not pending:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            nxt = pending.pop(0)
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                source = where.get(start, Source("policy"))
                raise _fail(source, f"{cycle[0]} {what} " + " -> ".join(cycle), expected="no cycles")
            if not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, sorted(edges.get(nxt, ()))))


# -- types: refuse at load time what would otherwise fail on every claim ---------------------------
# Conservative: a node whose type cannot be told (an item field, a sum, a function not listed here)
# is "any" and is never an error; only a definite mismatch is.

_KINDS = {"date": "a date", "number": "a number", "money": "an amount of money", "text": "text", "bool": "true/false",
          "list": "a list", "set": "a set"}


def _fact_type(path: str) -> str:
    if path.startswith("item."):
        return "any"
    kind = fact_type(path)
    return "any" if kind == "other" else kind


class _Types:
    def __init__(self, policy: PolicySet, source: Source, clause: str | None, memo: dict[str, str]) -> None:
        self.policy, self.source, self.clause, self.memo = policy, source, clause, memo

    def fail(self, node: ast.Expr, message: str, expected: str) -> PolicyError:
        return _fail(self.source, f"{message} in '{node.text}'", clause=self.clause, expected=expected)

    def expect(self, node: ast.Expr, wanted: str, what: str) -> None:
        found = self.type_of(node)
        if found not in ("any", wanted):
            raise self.fail(node, f"{what} is {_KINDS.get(found, found)}", _KINDS[wanted])

    def type_of(self, node: ast.Expr) -> str:
        if isinstance(node, ast.Const):
            value = node.value
            return ("bool" if isinstance(value, bool) else "number" if isinstance(value, (int, Decimal))
                    else "text" if isinstance(value, str) else "date" if isinstance(value, date) else "money")
        if isinstance(node, ast.Fact):
            return _fact_type(node.path)
        if isinstance(node, ast.Ref):
            definition = self.policy.definitions.get(node.name)
            if definition is None or definition.value is None:
                return "set"
            if node.name not in self.memo:  # once per definition: a diamond of definitions stays linear
                self.memo[node.name] = _Types(self.policy, definition.source, definition.clause, self.memo).type_of(
                    definition.value)
            return self.memo[node.name]
        if isinstance(node, ast.Shift):
            self.expect(node.base, "date", "a duration is added to something that")
            return "date"
        if isinstance(node, ast.Within):
            self.expect(node.event, "date", "the event of 'within'")
            self.expect(node.anchor, "date", "the anchor of 'within'")
            return "bool"
        if isinstance(node, ast.Arith):
            left, right = self.type_of(node.left), self.type_of(node.right)
            if "any" in (left, right):
                return "money" if "money" in (left, right) else "any"
            if node.op == "*" and {left, right} <= {"money", "number"} and (left, right) != ("money", "money"):
                return "money" if "money" in (left, right) else "number"
            if node.op in "+-" and left == right and left in ("money", "number"):
                return left
            raise self.fail(node, f"cannot compute {_KINDS.get(left, left)} {node.op} {_KINDS.get(right, right)}",
                            "amounts of money added or subtracted, or multiplied by a number")
        if isinstance(node, ast.Compare):
            left, right = self.type_of(node.left), self.type_of(node.right)
            if "any" not in (left, right) and left != right:
                raise self.fail(node, f"cannot compare {_KINDS.get(left, left)} with {_KINDS.get(right, right)}",
                                "two values of the same kind")
            return "bool"
        if isinstance(node, (ast.All, ast.AnyOf)):
            for item in node.items:
                self.expect(item, "bool", "a part of an 'and'/'or'")
            return "bool"
        if isinstance(node, ast.Not):
            self.expect(node.item, "bool", "what 'not' negates")
            return "bool"
        if isinstance(node, ast.Labelled):
            return self.type_of(node.item)
        if isinstance(node, ast.Member):
            self.type_of(node.item)
            return "bool"
        if isinstance(node, ast.Known):
            self.type_of(node.operand)
            return "bool"
        if isinstance(node, ast.Quantified):
            if node.where is not None:
                self.expect(node.where, "bool", "the 'where' of " + node.kind + "()")
            return {"count": "number", "any": "bool"}.get(node.kind, "any")
        if isinstance(node, ast.Holds):
            return "bool"
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Table):
            return self.table(node)
        if isinstance(node, ast.Exceptions):
            self.expect(node.window_end, "date", "the 'window_end' of exceptions")
            for event in node.events:
                self.expect(event.when, "bool", f"the 'when' of event {event.name}")
                self.expect(event.granted_on, "date", f"the 'granted_on' of event {event.name}")
                self.expect(event.new_end, "date", f"the 'new_end' of event {event.name}")
            return "date"
        if isinstance(node, ast.GrantQuery):
            if node.where is not None:
                self.expect(node.where, "bool", "the 'where' of " + node.kind + "()")
            return "number" if node.kind == "count" else "bool"
        return "any"

    def table(self, node: ast.Table) -> str:
        kinds = set()
        for row in node.rows:
            if row.when is not None:
                self.expect(row.when, "bool", "the condition of a table row")
            kinds.add(self.type_of(row.value))
        if node.aggregate == "count":
            return "number"
        kinds.discard("any")
        if len(kinds) > 1:
            raise self.fail(node, "the rows give " + " and ".join(_KINDS.get(kind, kind) for kind in sorted(kinds)),
                            "values of one kind in every row")
        if node.aggregate == "sum" and kinds and kinds <= {"date", "text", "bool"}:
            raise self.fail(node, f"cannot add up {_KINDS.get(next(iter(kinds)), 'values')}", "numbers or amounts of money")
        return kinds.pop() if kinds else "any"

    def call(self, node: ast.Call) -> str:
        arity = {"month_day": 1, "next_on": 3}
        if node.name in arity and len(node.args) != arity[node.name]:
            raise self.fail(node, f"{node.name}() takes {arity[node.name]} argument(s), not {len(node.args)}",
                            f"{arity[node.name]} argument(s)")
        if node.name in ("coalesce", "max", "min"):
            if not node.args:
                raise self.fail(node, f"{node.name}() needs at least one argument", "one or more values")
            kinds = {self.type_of(arg) for arg in node.args} - {"any"}
            if len(kinds) > 1:
                raise self.fail(node, f"{node.name}() mixes " + " and ".join(_KINDS.get(k, k) for k in sorted(kinds)),
                                "values of one kind")
            return kinds.pop() if kinds else "any"
        if node.name == "month_day":
            self.expect(node.args[0], "date", "the argument of month_day()")
            return "text"
        if node.name == "next_on":
            self.expect(node.args[0], "date", "the first argument of next_on()")
            for arg, low, high, what in ((node.args[1], 1, 12, "month"), (node.args[2], 1, 31, "day")):
                self.expect(arg, "number", f"the {what} of next_on()")
                if isinstance(arg, ast.Const) and not (isinstance(arg.value, int) and low <= arg.value <= high):
                    raise self.fail(node, f"{arg.value} is not a {what}", f"a whole number from {low} to {high}")
            return "date"
        for arg in node.args:
            self.type_of(arg)
        return "any"


MAX_EFFECTIVE_DEPTH = 120


def _check_effective_depth(policy: PolicySet) -> None:
    """A condition's depth counting the definitions it uses (d2 = d1 + 1 day, d3 = d2 + 1 day, ...): the
    checks below and the engine recurse that deep. Definitions are measured dependencies first."""
    depths: dict[str, int] = {}

    def measure(node: ast.Expr) -> int:
        best = 0
        stack: list[tuple[ast.Expr, int]] = [(node, 1)]
        while stack:
            current, level = stack.pop()
            best = max(best, level + (depths.get(current.name, 0) if isinstance(current, ast.Ref) else 0))
            stack.extend((child, level + 1) for child in ast.children(current))
        return best

    def check(node: ast.Expr, source: Source, clause: str | None) -> int:
        found = measure(node)
        if found > MAX_EFFECTIVE_DEPTH:
            raise _fail(source, f"condition nested {found} levels deep, counting the definitions it uses", clause=clause,
                        expected=f"at most {MAX_EFFECTIVE_DEPTH}")
        return found

    pending = {name: definition for name, definition in policy.definitions.items() if definition.value is not None}
    while pending:  # no cycles (checked before): each round measures the definitions whose own are measured
        ready = [name for name, definition in pending.items()
                 if all(ref in depths or ref not in pending for ref in ast.refs_of(definition.value))]  # type: ignore[arg-type]
        for name in sorted(ready):
            definition = pending.pop(name)
            depths[name] = check(definition.value, definition.source, definition.clause)  # type: ignore[arg-type]
        if not ready:
            break
    for document in policy.documents:
        for clause in document.clauses:
            for condition in _conditions(clause):
                check(condition, clause.source, clause.id)


def _check_types(policy: PolicySet) -> None:
    _check_effective_depth(policy)
    memo: dict[str, str] = {}
    for name, definition in policy.definitions.items():
        if definition.value is not None:
            _Types(policy, definition.source, definition.clause, memo).type_of(ast.Ref(name, text=name))
    for document in policy.documents:
        checker = _Types(policy, document.source, None, memo)
        if document.applies_when is not None:
            checker.expect(document.applies_when, "bool", "'applies_when'")
        for earlier in document.earlier_versions:
            checker.expect(earlier.applies_when, "bool", "'applies_when'")
        for clause in document.clauses:
            checker = _Types(policy, clause.source, clause.id, memo)
            for key, condition in (("when", clause.when), ("applies", clause.applies)):
                if condition is not None:
                    checker.expect(condition, "bool", f"'{key}'")
            for case in clause.amount:
                if case.when is not None:
                    checker.expect(case.when, "bool", "the 'when' of an amount row")
                checker.expect(case.amount, "money", "the amount")
            if clause.refund is not None:
                checker.expect(clause.refund, "money", "'refund'")
