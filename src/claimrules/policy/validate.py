"""Checks a loaded policy set as a whole: every name it uses exists, and nothing refers to itself."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from claimrules.engine.functions import ARITY
from claimrules.errors import PolicyError, did_you_mean
from claimrules.policy import expr as ast
from claimrules.policy.model import Clause, PolicySet, Source

MAX_DEPTH = 40
#: Longest chain of holds() (clause A reads holds('B'), B reads holds('C'), ...).
MAX_HOLDS_DEPTH = 32
_GRANTS = "<grants>"  # the item scope of a query over the grants of an exceptions declaration


class _ErrorMaker(Protocol):
    def error(self, message: str, mapping: Any = None, key: str | None = None, *, clause: str | None = None,
              expected: str | None = None, help: str | None = None) -> PolicyError: ...


def _fail(source: Source, message: str, *, clause: str | None = None, expected: str | None = None,
          help: str | None = None) -> PolicyError:
    return PolicyError(message, file=source.file, line=source.line, clause=clause, expected=expected, help=help)


def _check_names(node: ast.Expr, policy: PolicySet, source: Source, clause: str | None, clause_ids: set[str]) -> None:
    if ast.depth(node) > MAX_DEPTH:
        raise _fail(source, f"condition nested {ast.depth(node)} levels deep", clause=clause, expected=f"at most {MAX_DEPTH}")
    _check_scope(node, policy, source, clause, clause_ids, item_of=None)


def _enum_values(node: ast.Expr, policy: PolicySet, item_of: str | None) -> tuple[str, tuple[str, ...]] | None:
    """(fact path, declared values) when ``node`` is a fact of type enum."""
    if not isinstance(node, ast.Fact):
        return None
    path = node.path
    if path.startswith("item."):
        if item_of is None:
            return None
        spec = policy.vocabulary.specs.get(f"{item_of}[].{path[5:]}")
    else:
        spec = policy.vocabulary.specs.get(path)
    return (path, spec.values) if spec is not None and spec.type == "enum" else None


def _check_enum_values(node: ast.Expr, policy: PolicySet, source: Source, clause: str | None, item_of: str | None) -> None:
    """A value compared with an enum fact must be one of its declared values: a typo would never match."""
    pairs: list[tuple[ast.Expr, tuple[object, ...]]] = []
    if isinstance(node, ast.Compare):
        for fact, other in ((node.left, node.right), (node.right, node.left)):
            if isinstance(other, ast.Const):
                pairs.append((fact, (other.value,)))
    elif isinstance(node, ast.Member):
        if isinstance(node.container, ast.SetOf):
            pairs.append((node.item, tuple(item.value for item in node.container.items)))
        elif isinstance(node.container, ast.Ref):
            definition = policy.definitions.get(node.container.name)
            if definition is not None and definition.constants is not None:
                pairs.append((node.item, tuple(sorted(definition.constants, key=str))))
    for fact, constants in pairs:
        found = _enum_values(fact, policy, item_of)
        if found is None:
            continue
        path, values = found
        for value in constants:
            if isinstance(value, str) and value not in values:
                raise _fail(source, f"'{value}' is not a value of {path}", clause=clause,
                            expected="one of " + ", ".join(values), help=did_you_mean(value, values))


def _check_scope(node: ast.Expr, policy: PolicySet, source: Source, clause: str | None, clause_ids: set[str],
                 item_of: str | None) -> None:
    _check_enum_values(node, policy, source, clause, item_of)
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
            item_fields = policy.vocabulary.item_fields[item_of]
            if field not in item_fields:
                raise _fail(source, f"unknown field '{field}' of {item_of}", clause=clause,
                            expected="one of " + ", ".join(sorted(item_fields)),
                            help=did_you_mean(field, item_fields))
        elif node.path not in policy.vocabulary.paths:
            raise _fail(source, f"unknown fact '{node.path}'", clause=clause, expected="a claim fact",
                        help=did_you_mean(node.path, policy.vocabulary.paths))
        return
    if isinstance(node, ast.Ref):
        if node.name not in policy.definitions:
            raise _fail(source, f"unknown definition '{node.name}'", clause=clause, expected="a name under 'definitions'",
                        help=did_you_mean(node.name, list(policy.definitions) + list(policy.vocabulary.paths)))
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
                        help=did_you_mean(node.declaration.name, [*policy.vocabulary.list_facts, *(name for name, known in
                                          policy.definitions.items() if isinstance(known.value, ast.Exceptions))]))
        if node.where is not None:
            _check_scope(node.where, policy, source, clause, clause_ids, item_of=_GRANTS)
        return
    if isinstance(node, ast.Exceptions) and node.recorded is not None:
        lists = policy.vocabulary.list_facts
        if node.recorded not in lists:
            raise _fail(source, f"exceptions recorded in '{node.recorded}', which is not a list", clause=clause,
                        expected="one of " + ", ".join(lists), help=did_you_mean(node.recorded, lists))
        item_fields = policy.vocabulary.item_fields[node.recorded]
        for field in (node.role_field, node.granted_field, node.end_field):
            if field not in item_fields:
                raise _fail(source, f"unknown field '{field}' of {node.recorded}", clause=clause,
                            expected="one of " + ", ".join(sorted(item_fields)), help=did_you_mean(field, item_fields))
    if isinstance(node, ast.Quantified):
        if node.kind == "sum" and node.value is None:
            raise _fail(source, "sum() needs the value to add up", clause=clause,
                        expected="sum(list, item.field) or sum(list, item.field where condition)")
        if node.collection not in policy.vocabulary.list_facts:
            raise _fail(source, f"{node.kind}() over '{node.collection}', which is not a list", clause=clause,
                        expected="one of " + ", ".join(policy.vocabulary.list_facts))
        for part in (node.where, node.value):
            if part is not None:
                _check_scope(part, policy, source, clause, clause_ids, item_of=node.collection)
        return
    if isinstance(node, ast.Member) and isinstance(node.container, ast.Fact):
        if node.container.path not in policy.vocabulary.collections:
            raise _fail(source, f"'{node.container.path}' is not a list to test membership in", clause=clause,
                        expected="a set {...}, a defined set, or a list or derived set fact")
    if isinstance(node, ast.Member) and isinstance(node.container, ast.Ref):
        definition = policy.definitions.get(node.container.name)
        if definition is None:
            raise _fail(source, f"unknown set '{node.container.name}'", clause=clause, expected="a defined set",
                        help=did_you_mean(node.container.name, policy.definitions))
        place = policy.vocabulary.roles.get("country", "").rpartition(".")[0]  # the group of the 'country' role
        if definition.codes is not None and not (place and isinstance(node.item, ast.Fact) and node.item.path == place):
            raise _fail(source, f"territory '{definition.name}' can only be tested with '{place or '<place>'} in {definition.name}'",
                        clause=clause, expected=f"{place or 'a group holding a fact with role: country'} in {definition.name}")
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
    seen_documents: dict[str, Source] = {}
    for document in policy.documents:
        if document.id in seen_documents:
            raise _fail(document.source, f"duplicate document id '{document.id}' (also at {seen_documents[document.id]})",
                        expected="each document id once in a policy set")
        seen_documents[document.id] = document.source
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
    repeated = sorted({document_id for document_id in policy.tie_order if policy.tie_order.count(document_id) > 1})
    if repeated:
        raise _fail(policy.source, "tie_order names " + ", ".join(repeated) + " more than once",
                    expected="every document once")
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
            for condition in clause.expressions:
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
                if path not in policy.vocabulary.paths:
                    raise _fail(clause.source, f"requires unknown fact '{path}'", clause=clause.id, expected="a claim fact",
                                help=did_you_mean(path, policy.vocabulary.paths))
    _check_cycles(policy, clauses)
    _check_holds_depth(policy)
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
        for condition in clause.expressions:
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


def _fact_type(policy: PolicySet, path: str) -> str:
    if path.startswith("item."):
        return "any"
    kind = policy.vocabulary.fact_type(path)
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
            return _fact_type(self.policy, node.path)
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


def _check_holds_depth(policy: PolicySet) -> None:
    """holds() chains no longer than MAX_HOLDS_DEPTH (no cycles: checked before). Linear: each clause
    id's chain length is computed once, dependencies first, without recursion."""
    reads: dict[str, set[str]] = {}
    where: dict[str, Clause] = {}
    for document in policy.documents:
        for clause in document.clauses:
            where.setdefault(clause.id, clause)
            found = reads.setdefault(clause.id, set())
            for condition in clause.expressions:
                found |= _holds_through_definitions(condition, policy)
    length: dict[str, int] = {}
    for start in sorted(reads):
        stack = [start]
        while stack:
            current = stack[-1]
            pending = [target for target in sorted(reads.get(current, ())) if target not in length]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            if current not in length:
                length[current] = 1 + max((length[target] for target in reads.get(current, ())), default=0) \
                    if reads.get(current) else 0
                if length[current] > MAX_HOLDS_DEPTH:
                    clause = where[current]
                    raise _fail(clause.source, f"holds() chained {length[current]} clauses deep", clause=clause.id,
                                expected=f"at most {MAX_HOLDS_DEPTH} (limit MAX_HOLDS_DEPTH)")


def _holds_through_definitions(node: ast.Expr, policy: PolicySet) -> set[str]:
    found: set[str] = set()
    seen: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        found |= ast.holds_of(current)
        for name in ast.refs_of(current):
            definition = policy.definitions.get(name)
            if name not in seen and definition is not None and definition.value is not None:
                seen.add(name)
                stack.append(definition.value)
    return found


MAX_EFFECTIVE_DEPTH = 120


def _check_effective_depth(policy: PolicySet) -> None:
    """A condition's depth counting the definitions and the holds() it uses (d2 = d1 + 1 day, d3 = d2 +
    1 day, ...; A = holds('B') and ..., B = holds('C') and ...): the checks below and the engine
    recurse that deep. Each definition and clause is measured once, its dependencies first, without
    recursion (no cycles: checked before)."""
    depths: dict[str, int] = {}  # "d:<definition>" or "c:<clause id>" -> its depth
    bodies: dict[str, list[tuple[ast.Expr, Source, str | None]]] = {}
    for name, definition in policy.definitions.items():
        if definition.value is not None:
            bodies[f"d:{name}"] = [(definition.value, definition.source, definition.clause)]
    for document in policy.documents:
        for clause in document.clauses:
            bodies.setdefault(f"c:{clause.id}", []).extend((condition, clause.source, clause.id)
                                                           for condition in clause.expressions)

    def uses(key: str) -> list[str]:
        found: set[str] = set()
        for condition, _, _ in bodies.get(key, ()):
            found |= {f"d:{name}" for name in ast.refs_of(condition)} | {f"c:{name}" for name in ast.holds_of(condition)}
        return sorted(found & bodies.keys())

    def measure(node: ast.Expr) -> int:
        best = 0
        stack: list[tuple[ast.Expr, int]] = [(node, 1)]
        while stack:
            current, level = stack.pop()
            extra = (depths.get(f"d:{current.name}", 0) if isinstance(current, ast.Ref)
                     else depths.get(f"c:{current.clause}", 0) if isinstance(current, ast.Holds) else 0)
            best = max(best, level + extra)
            stack.extend((child, level + 1) for child in ast.children(current))
        return best

    for start in sorted(bodies):
        stack = [start]
        while stack:
            key = stack[-1]
            if key in depths:
                stack.pop()
                continue
            pending = [used for used in uses(key) if used not in depths]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            deepest = 0
            for condition, source, clause_id in bodies[key]:
                found = measure(condition)
                if found > MAX_EFFECTIVE_DEPTH:
                    raise _fail(source, f"condition nested {found} levels deep, counting the definitions it uses", clause=clause_id,
                                expected=f"at most {MAX_EFFECTIVE_DEPTH}")
                deepest = max(deepest, found)
            depths[key] = deepest


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
