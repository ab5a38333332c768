"""Policy conditions to durable_rules conditions.

Each rule (a document's applicability, a clause's condition, a clause's 'otherwise' branch) becomes
one durable_rules rule over a single flat fact. Comparisons of claim facts, constants and
``date + N days`` compile to native durable_rules tests (dates as day ordinals, ``$m`` references,
``$add``/``$sub``). What durable_rules cannot express natively (months with end-of-month clamping,
business days, territories, counts, money) is computed per claim into a *term* field of that fact,
and durable_rules compares the term. Negation is pushed to the leaves, and a fact or term that is
unknown is left out of the fact, so a rule fires exactly when its condition is *true* in
three-valued logic: never on an unknown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from claimrules.engine.evaluate import ConditionCompiler, Context
from claimrules.policy import expr as ast
from claimrules.policy.model import PolicySet

Json = dict[str, Any]
TRUE: Json = {"one": 1}
FALSE: Json = {"one": 0}
NATIVE = frozenset({"date", "number", "text", "bool"})
_NEGATE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_ORDERING = frozenset({"<", "<=", ">", ">="})
_OPS = {"==": "$eq", "!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}


def to_engine(value: Any) -> Any:
    """A value as durable_rules compares it (dates as day ordinals); None when it is not comparable."""
    if isinstance(value, bool) or isinstance(value, (int, str)):
        return value
    if isinstance(value, date):
        return value.toordinal()
    if isinstance(value, Decimal):
        return float(value)
    return None


@dataclass(frozen=True, slots=True)
class Projection:
    """How to fill one field of the fact durable_rules sees: a claim fact by path, or a computed term."""

    name: str
    compute: Callable[[Context], Any]
    path: str | None = None
    #: The computed term, for generated code to compute as ``compute`` does (a value, not a traced test).
    node: ast.Expr | None = None


class DurableCompiler:
    """Compiles the rules of one policy set; collects the fact fields and terms they need."""

    def __init__(self, policy: PolicySet, conditions: ConditionCompiler) -> None:
        self.policy = policy
        self.conditions = conditions
        self.fields: dict[str, Projection] = {}
        self._terms: dict[ast.Expr, str] = {}
        self._facts: dict[str, str] = {}  # the field of each claim fact read, by path
        self._variants: dict[str, list[ast.Expr | None]] = {}
        self._nested: dict[str, bool] = {}
        for document in policy.documents:
            for clause in document.clauses:
                combined: ast.Expr | None = clause.when
                if clause.applies is not None:
                    combined = clause.applies if clause.when is None else ast.All((clause.applies, clause.when))
                self._variants.setdefault(clause.id, []).append(combined)

    # -- types -----------------------------------------------------------------------------------
    def type_of(self, node: ast.Expr) -> str:
        if isinstance(node, ast.Const):
            value = node.value
            if isinstance(value, bool):
                return "bool"
            if isinstance(value, (int, Decimal)):
                return "number"
            if isinstance(value, str):
                return "text"
            if isinstance(value, date):
                return "date"
            return "money"
        if isinstance(node, ast.Fact):
            if node.path.startswith("item."):
                return "other"
            return self.policy.vocabulary.fact_type(node.path)
        if isinstance(node, ast.Ref):
            definition = self.policy.definitions[node.name]
            return self.type_of(definition.value) if definition.value is not None else "set"
        if isinstance(node, ast.Shift):
            return "date"
        if isinstance(node, ast.Call):
            if node.name in ("coalesce", "max", "min"):
                return self.type_of(node.args[0]) if node.args else "other"
            return "text" if node.name == "month_day" else "date"
        if isinstance(node, ast.Arith):
            kinds = {self.type_of(node.left), self.type_of(node.right)}
            return "money" if "money" in kinds else "number"
        if isinstance(node, ast.Table):
            return "number" if node.aggregate == "count" else self.type_of(node.rows[0].value)
        if isinstance(node, ast.Exceptions):
            return "date"
        if isinstance(node, ast.GrantQuery):
            return "number" if node.kind == "count" else "bool"
        if isinstance(node, ast.Quantified):
            if node.kind == "sum":
                return self.type_of(node.value) if node.value is not None else "other"
            return "number" if node.kind == "count" else "bool"
        return "bool"

    # -- operands --------------------------------------------------------------------------------
    def _field(self, path: str) -> str:
        name = self._facts.get(path)
        if name is None:
            # A short name (f0, f1...): durable_rules parses each name in every fact it is sent and
            # copies the fact into every action it starts, so long names cost on every claim.
            name = self._facts[path] = f"f{len(self._facts)}"

            def read(ctx: Any, path: str = path) -> Any:
                return ctx.values.get(path)
            self.fields[name] = Projection(name, read, path)
        return name

    def _term(self, node: ast.Expr) -> str:
        name = self._terms.get(node)
        if name is None:
            name = f"t{len(self._terms)}"
            self._terms[node] = name
            # A true/false term that is also a traced test shares its per-claim result with the trace.
            traced = self.type_of(node) == "bool"
            self.fields[name] = Projection(name, self.conditions.compile(node, record=traced),
                                           node=None if traced else node)
        return name

    def traced_terms(self) -> dict[str, ast.Expr]:
        """The computed true/false values, by field name: their closures are traced (``_term``)."""
        return {name: node for node, name in self._terms.items() if self.type_of(node) == "bool"}

    def operand(self, node: ast.Expr) -> tuple[str, Any] | None:
        """('field', name), ('const', value) or ('expr', json) for a native operand; None otherwise."""
        kind = self.type_of(node)
        if kind not in NATIVE:
            return None
        if isinstance(node, ast.Const):
            value = to_engine(node.value)
            if isinstance(value, float) and "e" in repr(value):
                return None  # durable_rules cannot read exponent notation: compare it as a computed term
            return ("const", value)
        if isinstance(node, ast.Fact) and not node.path.startswith("item."):
            return ("field", self._field(node.path))
        if isinstance(node, ast.Shift) and node.duration.unit == "days":
            base = self.operand(node.base)
            if base is not None and base[0] == "field":
                op = "$add" if node.sign > 0 else "$sub"
                return ("expr", {op: {"$l": {"$m": base[1]}, "$r": node.duration.amount}})
        if self._has_item(node):
            return None
        return ("field", self._term(node))

    @staticmethod
    def _has_item(node: ast.Expr) -> bool:
        return any(isinstance(sub, ast.Fact) and sub.path.startswith("item.") for sub in ast.walk(node))

    @staticmethod
    def _right(operand: tuple[str, Any]) -> Any:
        kind, value = operand
        if kind == "const":
            return value
        if kind == "field":
            return {"$m": value}
        return value

    # -- conditions ------------------------------------------------------------------------------
    def compile_rule(self, node: ast.Expr | None) -> Json:
        """A rule's condition, kept within durable_rules' per-rule limits.

        durable_rules walks at most 64 alpha paths per fact and allows 15 ``$and``/``$or`` nodes
        per rule (docs/durable-rules.md). A condition over those limits keeps its simple parts
        native and has its heaviest parts computed per claim as true/false terms.
        """
        compiled = self.compile(node)
        if _fits(compiled) or node is None:
            return compiled
        inner = node
        while isinstance(inner, ast.Labelled):
            inner = inner.item
        if isinstance(inner, (ast.All, ast.AnyOf)):
            op = "$and" if isinstance(inner, ast.All) else "$or"
            parts = [(self.compile(item), item) for item in inner.items]
            parts.sort(key=lambda pair: -_cost(pair[0])[0] * 100 - _cost(pair[0])[1])
            for index, (part, item) in enumerate(parts):
                if _cost(part) != (1, 0):
                    parts[index] = ({"$eq": {self._term(item): True}}, item)
                candidate = {op: [part for part, _ in parts]}
                if _fits(candidate):
                    return candidate
        return {"$eq": {self._term(node): True}}

    def compile(self, node: ast.Expr | None, negate: bool = False) -> Json:
        if node is None:
            return FALSE if negate else TRUE
        if isinstance(node, ast.Labelled):
            return self.compile(node.item, negate)
        if isinstance(node, ast.Not):
            return self.compile(node.item, not negate)
        if isinstance(node, (ast.All, ast.AnyOf)):
            conjunction = isinstance(node, ast.All) != negate
            op = "$and" if conjunction else "$or"
            parts: list[Json] = []
            for item in node.items:
                part = self.compile(item, negate)
                parts.extend(part[op] if set(part) == {op} else [part])
            return parts[0] if len(parts) == 1 else {op: parts}
        if isinstance(node, ast.Const) and isinstance(node.value, bool):
            return TRUE if node.value != negate else FALSE
        if isinstance(node, ast.Holds) and self._holds_nested(node.clause):
            # holds() of a clause that itself reads holds(): inlining would repeat shared clauses
            # (exponentially for A = holds(B) and holds(C), B = holds(C) and ...). Computed per claim
            # as a term instead, with the evaluator's per-claim memo.
            return {"$eq": {self._term(node): not negate}}
        if isinstance(node, ast.Holds):
            variants = [self.compile(variant) if variant is not None else TRUE for variant in self._variants[node.clause]]
            if negate:
                variants = [self.compile(variant, True) if variant is not None else FALSE
                            for variant in self._variants[node.clause]]
                return variants[0] if len(variants) == 1 else {"$and": variants}
            return variants[0] if len(variants) == 1 else {"$or": variants}
        if isinstance(node, ast.Compare):
            native = self._compare(node.op if not negate else _NEGATE[node.op], node.left, node.right)
            if native is not None:
                return native
        if isinstance(node, ast.Within):
            native = self._within(node, negate)
            if native is not None:
                return native
        if isinstance(node, ast.Member) and isinstance(node.container, ast.SetOf):
            operand = self.operand(node.item)
            if operand is not None and operand[0] == "field" and node.container.items:
                inside = node.negated == negate
                tests = [{("$eq" if inside else "$neq"): {operand[1]: to_engine(const.value)}}
                         for const in node.container.items]
                return tests[0] if len(tests) == 1 else {("$or" if inside else "$and"): tests}
        if isinstance(node, ast.Known):
            operand = self.operand(node.operand)
            if operand is not None and operand[0] == "field":
                exists = node.negated == negate
                return {("$ex" if exists else "$nex"): {operand[1]: 1}}
        if isinstance(node, ast.Fact) and self.type_of(node) == "bool":
            return {"$eq": {self._field(node.path): not negate}}
        # Anything else: computed per claim as a true/false term.
        return {"$eq": {self._term(node): not negate}}

    def _holds_nested(self, clause_id: str) -> bool:
        found = self._nested.get(clause_id)
        if found is None:
            found = any(isinstance(sub, ast.Holds) for variant in self._variants.get(clause_id, ()) if variant is not None
                        for sub in ast.walk(variant))
            self._nested[clause_id] = found
        return found

    def _compare(self, op: str, left_node: ast.Expr, right_node: ast.Expr) -> Json | None:
        if op in _ORDERING and "text" in (self.type_of(left_node), self.type_of(right_node)) and not (
                _ascii_text(left_node) and _ascii_text(right_node)):
            # durable_rules orders text by its JSON-escaped bytes ("\u00e9" < "m"), Python by code
            # points ("é" > "m"): ordering on text is computed as a term, so both always agree.
            return None
        left, right = self.operand(left_node), self.operand(right_node)
        if left is None or right is None:
            return None
        if self.type_of(left_node) != self.type_of(right_node):
            return None
        if left[0] != "field" and right[0] == "field":
            left, right, op = right, left, _FLIP[op]
        if left[0] != "field":
            return None
        return {_OPS[op]: {left[1]: self._right(right)}}

    def _within(self, node: ast.Within, negate: bool) -> Json | None:
        anchor = node.anchor
        if node.duration.unit == "days":
            end: ast.Expr = ast.Shift(anchor, 1, node.duration)
        else:
            end = ast.Shift(anchor, 1, node.duration, text=f"{anchor.text} + {node.duration.text}")
        if negate:
            before = self._compare("<", node.event, anchor)
            after = self._compare(">", node.event, end)
            return None if before is None or after is None else {"$or": [before, after]}
        since = self._compare(">=", node.event, anchor)
        until = self._compare("<=", node.event, end)
        return None if since is None or until is None else {"$and": [since, until]}


MAX_WEIGHT = 48
MAX_LOGIC_NODES = 12
#: Fact fields one rule may read natively (durable_rules parses at most 251 per fact, and each
#: ruleset is sent the fields of its rules: the wrapper packs rulesets by this count too).
MAX_RULE_FIELDS = 200


def _ascii_text(node: ast.Expr) -> bool:
    """Text that is always ASCII, where byte and code point order agree: an ASCII constant or a
    month_day() ('MM-DD'). JSON escapes quotes, backslashes and control characters,
    so those are not safe either."""
    if isinstance(node, ast.Const):
        return isinstance(node.value, str) and all(" " <= c <= "~" and c not in '"\\' for c in node.value)
    return isinstance(node, ast.Call) and node.name == "month_day"


def _cost(condition: Json) -> tuple[int, int]:
    """(alpha paths, $and/$or nodes) of a durable_rules condition."""
    ((key, value),) = condition.items()
    if key == "$and":
        weight, nodes = 1, 1
        for item in value:
            item_weight, item_nodes = _cost(item)
            weight *= item_weight
            nodes += item_nodes
        return weight, nodes
    if key == "$or":
        weight, nodes = 0, 1
        for item in value:
            item_weight, item_nodes = _cost(item)
            weight += item_weight
            nodes += item_nodes
        return weight, nodes
    return 1, 0


def _fields(condition: Any, found: set[str] | None = None) -> set[str]:
    """The fact fields a durable_rules condition reads (iteratively: conditions may be long)."""
    found = set() if found is None else found
    stack = [condition]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            for key, value in current.items():
                if key == "$m" and isinstance(value, str):
                    found.add(value)
                elif not key.startswith("$"):
                    found.add(key)
                if isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(current, list):
            stack.extend(current)
    return found


def engine_fields(condition: Json) -> set[str]:
    """The claim's fields (facts and computed values) a compiled rule reads."""
    return _fields(condition)


def _fits(condition: Json) -> bool:
    weight, nodes = _cost(condition)
    return weight <= MAX_WEIGHT and nodes <= MAX_LOGIC_NODES and len(_fields(condition)) <= MAX_RULE_FIELDS


def fact_for(fields: Mapping[str, Projection], ctx: Context) -> dict[str, Any]:
    """The flat fact durable_rules sees for one claim; unknown values are left out."""
    fact: dict[str, Any] = {"one": 1}
    values = ctx.values
    for name, projection in fields.items():
        path = projection.path
        value = values.get(path) if path is not None else projection.compute(ctx)
        if value is None:
            continue
        kind = type(value)
        if kind is str or kind is int or kind is bool:
            fact[name] = value
        elif kind is date:
            fact[name] = value.toordinal()
        else:
            converted = to_engine(value)
            if converted is not None:
                fact[name] = converted
    return fact
