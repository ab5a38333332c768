"""One condition against one claim, in three-valued logic, with the trace that explains it.

Conditions are compiled once into Python closures (no ``eval``). A value of ``None`` means
*unknown*: the claim does not give a fact the condition needs. ``and``/``or``/``not`` follow
Kleene's logic, so a condition is unknown only when its answer really depends on a missing fact.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from claimrules.engine.functions import FUNCTIONS
from claimrules.engine.grants import GrantRequest, resolve_grants
from claimrules.errors import ClaimError, EvaluationError
from claimrules.money import Money
from claimrules.periods import add_business_days, add_days, add_months
from claimrules.policy import expr as ast
from claimrules.policy.model import Clause, PolicySet
from claimrules.territory import in_territory

Value = Any
Compiled = Callable[["Context"], Value]


class Context:
    """The state of evaluating one claim: its facts, and values computed so far."""

    __slots__ = ("atoms", "item", "memo", "values")

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values
        self.memo: dict[object, Value] = {}
        self.item: dict[str, Any] | None = None
        self.atoms: dict[int, Value] = {}


@dataclass(frozen=True, slots=True)
class Atom:
    """A leaf test of a condition, as the trace shows it."""

    index: int
    node: ast.Expr
    label: str | None
    reads: tuple[str, ...]
    definitions: tuple[str, ...]
    fn: Compiled


_MISSING = object()
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}


class ConditionCompiler:
    """Turns AST nodes into closures over a Context, for one policy set."""

    def __init__(self, policy: PolicySet) -> None:
        self.policy = policy
        # Business days and territories are counted where the facts with these roles place the claim.
        self.country_fact = policy.vocabulary.roles.get("country", "")
        self.subdivision_fact = policy.vocabulary.roles.get("subdivision", "")
        self.atoms: list[Atom] = []
        self.definitions: dict[str, Compiled] = {}
        self.holds: dict[str, Compiled] = {}
        self._interned: dict[tuple[ast.Expr, str | None], tuple[Atom, Compiled]] = {}
        self._collecting: list[Atom] | None = None
        self._clause_variants: dict[str, list[Clause]] = {}
        for document in policy.documents:
            for clause in document.clauses:
                self._clause_variants.setdefault(clause.id, []).append(clause)
        for name, definition in policy.definitions.items():
            if definition.value is not None:
                self.definitions[name] = self._memoised(name, definition.value)

    def _memoised(self, key: str, node: ast.Expr) -> Compiled:
        """A definition, computed at most once per claim; compiled on first use, so definitions may
        refer to one another in any order (cycles are refused when the policy is loaded)."""
        inner_holder: list[Compiled] = []

        def run(ctx: Context) -> Value:
            found = ctx.memo.get(key, _MISSING)
            if found is _MISSING:
                if not inner_holder:
                    inner_holder.append(self.compile(node, record=False))
                found = inner_holder[0](ctx)
                ctx.memo[key] = found
            return found

        return run

    def holds_fn(self, clause_id: str) -> Compiled:
        if clause_id not in self.holds:
            self.holds[clause_id] = lambda ctx: None  # placeholder, replaced below (cycles are refused at load)
            variants = [self.compile(_holding(clause), record=False) for clause in self._clause_variants[clause_id]]
            key = ("holds", clause_id)

            def run(ctx: Context) -> Value:
                found = ctx.memo.get(key, _MISSING)
                if found is _MISSING:
                    found = _any_of([variant(ctx) for variant in variants])
                    ctx.memo[key] = found
                return found

            self.holds[clause_id] = run
        return self.holds[clause_id]

    # -- compile ---------------------------------------------------------------------------------
    def compile_traced(self, node: ast.Expr) -> tuple[Compiled, tuple[Atom, ...]]:
        """A rule's condition, and the atoms (leaf tests) its trace shows, in source order.

        Atoms are shared: the same test in two rules (a clause and its 'otherwise' branch, or a
        condition repeated in several clauses) is evaluated once per claim.
        """
        self._collecting = []
        fn = self.compile(node)
        atoms = tuple(dict.fromkeys(self._collecting))
        self._collecting = None
        return fn, atoms

    def compile(self, node: ast.Expr, *, record: bool = True, label: str | None = None) -> Compiled:
        if isinstance(node, ast.Labelled) and not _is_atom(node.item):
            # The contract names this whole condition ("(a) ..."): the trace shows it as one test.
            label, node = node.label, node.item
            if record:
                return self._atom(node, label)
        if record and _is_atom(node):
            return self._atom(node, label)
        return self._compile(node, record)

    def _atom(self, node: ast.Expr, label: str | None) -> Compiled:
        known = self._interned.get((node, label))
        if known is None:
            index = len(self.atoms)
            atom_fn = self._compile(node, False)

            def recorded(ctx: Context) -> Value:
                atoms = ctx.atoms
                if index in atoms:
                    return atoms[index]
                result = atom_fn(ctx)
                atoms[index] = result
                return result

            definitions = tuple(sorted(name for name in ast.refs_of(node) if self.policy.definitions[name].value is not None))
            atom = Atom(index, node, label, tuple(sorted(ast.facts_of(node))), definitions, atom_fn)
            self.atoms.append(atom)
            known = (atom, recorded)
            self._interned[(node, label)] = known
        if self._collecting is not None:
            self._collecting.append(known[0])
        return known[1]

    def _compile(self, node: ast.Expr, record: bool) -> Compiled:
        if isinstance(node, ast.Const):
            value = node.value
            return lambda ctx: value
        if isinstance(node, ast.Fact):
            path = node.path
            if path.startswith("item."):
                field = path[5:]
                return lambda ctx: ctx.item.get(field) if ctx.item is not None else None
            return lambda ctx: ctx.values.get(path)
        if isinstance(node, ast.Ref):
            definition = self.policy.definitions[node.name]
            if definition.value is not None:
                return self.definitions[node.name]
            constants = definition.constants if definition.constants is not None else definition.codes
            return lambda ctx: constants
        if isinstance(node, ast.Labelled):
            return self.compile(node.item, record=record, label=node.label)
        if isinstance(node, ast.All):
            items = [self.compile(item, record=record) for item in node.items]
            if not record:  # nothing to show for the items a false one makes moot: stop there
                return lambda ctx: _all_of(item(ctx) for item in items)
            return lambda ctx: _all_of([item(ctx) for item in items])
        if isinstance(node, ast.AnyOf):
            items = [self.compile(item, record=record) for item in node.items]
            if not record:
                return lambda ctx: _any_of(item(ctx) for item in items)
            return lambda ctx: _any_of([item(ctx) for item in items])
        if isinstance(node, ast.Not):
            inner = self.compile(node.item, record=record)

            def negate(ctx: Context) -> Value:
                value = inner(ctx)
                return None if value is None else not _truth(value, node)

            return negate
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Member):
            return self._member(node)
        if isinstance(node, ast.Within):
            event = self._compile(node.event, False)
            anchor = self._compile(node.anchor, False)
            shift = self._shift(node.duration, 1)

            def within(ctx: Context) -> Value:
                when, start = event(ctx), anchor(ctx)
                if when is None or start is None:
                    return None
                end = shift(ctx, start)
                return None if end is None else start <= when <= end

            return within
        if isinstance(node, ast.Shift):
            base = self._compile(node.base, False)
            shift = self._shift(node.duration, node.sign)

            def shifted(ctx: Context) -> Value:
                value = base(ctx)
                return None if value is None else shift(ctx, value)

            return shifted
        if isinstance(node, ast.Known):
            operand = self._compile(node.operand, False)
            negated = node.negated
            return lambda ctx: (operand(ctx) is None) if negated else (operand(ctx) is not None)
        if isinstance(node, ast.Arith):
            return self._arith(node)
        if isinstance(node, ast.Quantified):
            return self._quantified(node)
        if isinstance(node, ast.Holds):
            clause_id = node.clause
            return lambda ctx: self.holds_fn(clause_id)(ctx)
        if isinstance(node, ast.Call):
            function = FUNCTIONS[node.name]
            args = [self._compile(arg, False) for arg in node.args]
            text = node.text

            def call(ctx: Context) -> Value:
                values = [arg(ctx) for arg in args]
                try:
                    return function(*values)
                except (TypeError, ValueError) as problem:  # e.g. 'EUR 800 up to USD 50'
                    raise _combination_error(values, text, problem) from None

            return call
        if isinstance(node, ast.Table):
            return self._table(node)
        if isinstance(node, ast.Exceptions):
            resolved = self._exceptions(node)
            return lambda ctx: (lambda found: None if found is None else found[0])(resolved(ctx))
        if isinstance(node, ast.GrantQuery):
            return self._grant_query(node)
        raise EvaluationError(f"cannot evaluate {type(node).__name__}")

    # -- conditional values -------------------------------------------------------------------------
    def _table(self, node: ast.Table) -> Compiled:
        """A decision table in three-valued logic: a row whose condition is unknown makes the value
        unknown where that row could change it (first: until a row holds; unique: unless another row
        holds; collect: always)."""
        rows = [(self._compile(row.when, False) if row.when is not None else None, self._compile(row.value, False), row)
                for row in node.rows]
        hit, aggregate, text = node.hit, node.aggregate, node.text

        def first(ctx: Context) -> Value:
            for when, value, _ in rows:
                if when is None:
                    return value(ctx)
                holds = when(ctx)
                if holds is None:
                    return None
                if _truth(holds, node):
                    return value(ctx)
            raise _no_row(node)

        def unique(ctx: Context) -> Value:
            chosen, unknown, fallback = [], False, None
            for when, value, row in rows:
                if when is None:
                    fallback = value
                    continue
                holds = when(ctx)
                if holds is None:
                    unknown = True
                elif _truth(holds, node):
                    chosen.append((value, row))
            if len(chosen) > 1:
                raise EvaluationError(f"rows '{chosen[0][1].text}' and '{chosen[1][1].text}' of a 'unique' table both hold",
                                      help="a 'unique' table's rows must not overlap; use 'first' to order them")
            if chosen:
                return chosen[0][0](ctx)
            if unknown:
                return None
            if fallback is None:
                raise _no_row(node)
            return fallback(ctx)

        def collect(ctx: Context) -> Value:
            values = []
            for when, value, _ in rows:
                holds = True if when is None else when(ctx)
                if holds is None:
                    return None
                if _truth(holds, node):
                    found = value(ctx)
                    if found is None and aggregate != "count":
                        return None
                    values.append(found)
            if aggregate == "count":
                return len(values)
            if not values:
                raise EvaluationError(f"no row of the table '{text}' holds, so there is no {aggregate}",
                                      help="add a row that always holds, or use 'count'")
            try:
                if aggregate == "max":
                    return max(values)
                if aggregate == "min":
                    return min(values)
                total = values[0]
                for item in values[1:]:
                    total = total + item
                return total
            except (TypeError, ValueError) as problem:
                raise _combination_error(values, text, problem) from None

        return {"first": first, "unique": unique, "collect": collect}[hit]

    # -- exceptions (authority-capped grants) ---------------------------------------------------------
    def _exceptions(self, node: ast.Exceptions) -> Callable[[Context], tuple[date, tuple[dict[str, Any], ...]] | None]:
        """The window's end as validly extended and every grant's outcome, once per claim; None when a
        figure it needs is unknown."""
        window_end = self._compile(node.window_end, False)
        caps = {grantor.role: self._shift(grantor.cap, 1) for grantor in node.grantors}
        events = [(event, self._compile(event.when, False), self._compile(event.granted_on, False),
                   self._compile(event.new_end, False)) for event in node.events]
        key = ("exceptions", id(node))

        def resolved(ctx: Context) -> tuple[date, tuple[dict[str, Any], ...]] | None:
            cached = ctx.memo.get(key, _MISSING)
            if cached is not _MISSING:
                return cached  # type: ignore[no-any-return]
            found: tuple[date, tuple[dict[str, Any], ...]] | None = None
            base = window_end(ctx)
            if base is not None:
                requests = self._grant_requests(node, ctx, base, caps, events)
                found = None if requests is None else resolve_grants(base, requests)
            ctx.memo[key] = found
            return found

        return resolved

    def _grant_requests(self, node: ast.Exceptions, ctx: Context, base: date,
                        caps: dict[str, Callable[[Context, date], date | None]],
                        events: list[tuple[ast.GrantEvent, Compiled, Compiled, Compiled]]) -> list[GrantRequest] | None:
        def limit(role: str) -> date | bool | None:
            shift = caps.get(role)
            if shift is None:
                return None  # no authority
            return shift(ctx, base) or False  # False: the limit itself is unknown

        requests: list[GrantRequest] = []
        if node.recorded is not None:
            for index, item in enumerate(ctx.values.get(node.recorded) or ()):
                role, granted_on, new_end = item.get(node.role_field), item.get(node.granted_field), item.get(node.end_field)
                if role is None or granted_on is None or new_end is None:
                    return None
                until = limit(role)
                if until is False:
                    return None
                requests.append(GrantRequest("recorded", node.recorded_clause or "", f"{node.recorded}[{index + 1}]", role,
                                             granted_on, new_end, until if isinstance(until, date) else None))
        for event, when, granted, asked in events:
            holds = when(ctx)
            if holds is None:
                return None
            if not _truth(holds, event.when):
                continue
            granted_on, new_end, until = granted(ctx), asked(ctx), limit(event.role)
            if granted_on is None or new_end is None or until is False:
                return None
            requests.append(GrantRequest(event.name, event.clause, event.name, event.role, granted_on, new_end,
                                         until if isinstance(until, date) else None))
        return requests

    def grants_of(self, name: str) -> Callable[[Context], tuple[dict[str, Any], ...] | None]:
        """The grants of the exceptions declared as definition ``name`` (None when unknown)."""
        definition = self.policy.definitions[name]
        if not isinstance(definition.value, ast.Exceptions):
            raise EvaluationError(f"'{name}' is not an exceptions declaration")
        resolved = self._exceptions(definition.value)
        return lambda ctx: (lambda found: None if found is None else found[1])(resolved(ctx))

    def _grant_query(self, node: ast.GrantQuery) -> Compiled:
        grants = self.grants_of(node.declaration.name)
        where = self._compile(node.where, False) if node.where is not None else (lambda ctx: True)
        counting = node.kind == "count"

        def query(ctx: Context) -> Value:
            items = grants(ctx)
            return None if items is None else _over_items(ctx, items, where, counting)

        return query

    def _shift(self, duration: ast.Duration, sign: int) -> Callable[[Context, date], date | None]:
        amount = duration.amount * sign
        if duration.unit == "days":
            return lambda ctx, value: add_days(value, amount)
        if duration.unit == "months":
            return lambda ctx, value: add_months(value, amount)
        if duration.unit == "years":
            return lambda ctx, value: add_months(value, 12 * amount)

        country_fact, subdivision_fact = self.country_fact, self.subdivision_fact

        def business(ctx: Context, value: date) -> date | None:
            country = ctx.values.get(country_fact)
            if country is None:
                return None
            return add_business_days(value, amount, country, ctx.values.get(subdivision_fact))

        return business

    def _compare(self, node: ast.Compare) -> Compiled:
        test = _OPERATORS[node.op]
        text = node.text
        if isinstance(node.left, ast.Fact) and not node.left.path.startswith("item.") and isinstance(node.right, ast.Const):
            path, constant = node.left.path, node.right.value

            def fact_against_constant(ctx: Context) -> Value:
                value = ctx.values.get(path)
                if value is None:
                    return None
                try:
                    return test(value, constant)
                except (TypeError, ValueError) as problem:
                    raise _comparison_error(value, constant, text, problem) from None

            return fact_against_constant
        left = self._compile(node.left, False)
        right = self._compile(node.right, False)

        def compare(ctx: Context) -> Value:
            a = left(ctx)
            if a is None:
                return None
            b = right(ctx)
            if b is None:
                return None
            try:
                return test(a, b)
            except (TypeError, ValueError) as problem:
                raise _comparison_error(a, b, text, problem) from None

        return compare

    def _member(self, node: ast.Member) -> Compiled:
        item = self._compile(node.item, False)
        negated = node.negated
        if isinstance(node.container, ast.SetOf):
            members = frozenset(const.value for const in node.container.items)
            return lambda ctx: (lambda value: None if value is None else (value in members) != negated)(item(ctx))
        if isinstance(node.container, ast.Fact):
            values = self._compile(node.container, False)

            def contained(ctx: Context) -> Value:
                value, collection = item(ctx), values(ctx)
                return None if value is None or collection is None else (value in collection) != negated

            return contained
        definition = self.policy.definitions[node.container.name]
        if definition.codes is not None:
            codes = definition.codes

            country_fact, subdivision_fact = self.country_fact, self.subdivision_fact

            def located(ctx: Context) -> Value:
                country = ctx.values.get(country_fact)
                if country is None:
                    return None
                result = in_territory(codes, country, ctx.values.get(subdivision_fact))
                return None if result is None else result != negated

            return located
        constants = definition.constants or frozenset()
        return lambda ctx: (lambda value: None if value is None else (value in constants) != negated)(item(ctx))

    def _arith(self, node: ast.Arith) -> Compiled:
        left = self._compile(node.left, False)
        right = self._compile(node.right, False)
        op = node.op

        def arith(ctx: Context) -> Value:
            a, b = left(ctx), right(ctx)
            if a is None or b is None:
                return None
            try:
                if op == "+":
                    return a + b
                if op == "-":
                    return a - b
                if isinstance(b, Money) and not isinstance(a, Money):
                    a, b = b, a
                return (a * b).quantized() if isinstance(a, Money) else a * b
            except (TypeError, ValueError) as problem:
                raise _arithmetic_error(node, a, b, problem) from None

        return arith

    def _quantified(self, node: ast.Quantified) -> Compiled:
        collection = node.collection
        where = self._compile(node.where, False) if node.where is not None else (lambda ctx: True)
        counting = node.kind == "count"
        if node.kind == "sum":
            value = self._compile(node.value, False) if node.value is not None else (lambda ctx: None)

            def total(ctx: Context) -> Value:
                outer = ctx.item
                result: Any = None
                try:
                    for item in ctx.values.get(collection) or ():
                        ctx.item = item
                        chosen = where(ctx)
                        if chosen is None:
                            return None
                        if chosen:
                            amount = value(ctx)
                            if amount is None:
                                return None
                            result = amount if result is None else result + amount
                except (TypeError, ValueError) as problem:
                    raise EvaluationError(f"cannot add up '{node.text}': {problem}") from None
                finally:
                    ctx.item = outer
                return result

            return total

        def quantify(ctx: Context) -> Value:
            return _over_items(ctx, ctx.values.get(collection) or (), where, counting)

        return quantify


def _comparison_error(left: Any, right: Any, text: str, problem: Exception) -> Exception:
    """A claim whose amounts are in another currency than the policy prices in is a bad claim for
    that policy (ClaimError); any other failed comparison is a bug (EvaluationError)."""
    if isinstance(left, Money) and isinstance(right, Money) and left.currency != right.currency:
        return ClaimError(f"an amount in {left.currency} cannot be compared with {right.currency} in '{text}'",
                          field="currency", expected=f"amounts in {right.currency} for this policy")
    return EvaluationError(f"cannot compare {left!r} with {right!r} in '{text}': {problem}")


def _combination_error(values: list[Any], text: str, problem: Exception) -> Exception:
    """Values that cannot be combined (min, max, a table's sum): amounts in two currencies are a claim
    in another currency than the policy prices in (ClaimError); anything else is a bug."""
    amounts = [value for value in values if isinstance(value, Money)]
    other = next((value for value in amounts if value.currency != amounts[0].currency), None)
    if other is not None:
        return _comparison_error(amounts[0], other, text, problem)
    return EvaluationError(f"cannot compute '{text}' with {values!r}: {problem}")


def _arithmetic_error(node: ast.Arith, left: Any, right: Any, problem: Exception) -> EvaluationError:
    return EvaluationError(f"cannot compute '{node.text}' with {left!r} and {right!r}: {problem}")


def _no_row(node: ast.Table) -> EvaluationError:
    return EvaluationError(f"no row of the table '{node.text}' holds", help="end the table with an 'otherwise' row")


def _holding(clause: Clause) -> ast.Expr:
    """What ``holds('X')`` means: the clause applies and its condition holds."""
    parts = tuple(part for part in (clause.applies, clause.when) if part is not None)
    if not parts:
        return ast.Const(True, text="true")
    return parts[0] if len(parts) == 1 else ast.All(parts, text=" and ".join(part.text for part in parts))


def _is_atom(node: ast.Expr) -> bool:
    return isinstance(node, (ast.Compare, ast.Member, ast.Within, ast.Known, ast.Holds, ast.Fact, ast.Const, ast.Quantified,
                             ast.Table, ast.GrantQuery))


def _truth(value: Value, node: ast.Expr) -> bool:
    if isinstance(value, bool):
        return value
    raise EvaluationError(f"'{node.text}' is not true or false (it is {value!r})")


def _all_of(values: Iterable[Value]) -> Value:
    """Kleene's 'and'; over a generator, the items after a false one are never computed."""
    unknown = False
    for value in values:
        if value is False:
            return False
        if value is None:
            unknown = True
        elif value is not True:
            raise EvaluationError(f"a condition gave {value!r}, not true or false")
    return None if unknown else True


def _any_of(values: Iterable[Value]) -> Value:
    """Kleene's 'or'; over a generator, the items after a true one are never computed."""
    unknown = False
    for value in values:
        if value is True:
            return True
        if value is None:
            unknown = True
        elif value is not False:
            raise EvaluationError(f"a condition gave {value!r}, not true or false")
    return None if unknown else False


def _over_items(ctx: Context, items: Iterable[Any], where: Compiled, counting: bool) -> Value:
    """``count(... where ...)`` or ``any(... where ...)`` over list items, three-valued: each item
    is ``item.`` while its test runs."""
    outer = ctx.item
    results = []
    try:
        for item in items:
            ctx.item = item
            results.append(where(ctx))
    finally:
        ctx.item = outer
    if counting:
        return None if any(result is None for result in results) else sum(1 for result in results if result)
    return _any_of(results)


def render_value(value: Any) -> str:
    """A fact value as the trace and letters show it."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (tuple, list)):
        if all(isinstance(item, str) for item in value):
            return "{" + ", ".join(value) + "}" if value else "none"
        return f"{len(value)} item(s)"
    if isinstance(value, frozenset):
        return "{" + ", ".join(sorted(str(item) for item in value)) + "}"
    if isinstance(value, Money):  # before the tests below: a model's missing attribute costs an exception
        return str(value)
    if hasattr(value, "country") and hasattr(value, "subdivision"):  # a location: its ISO 3166 code
        place = value.subdivision or value.country
        return f"{place} (military address)" if getattr(value, "military_address", False) else place
    if hasattr(type(value), "model_fields"):
        # A record: each given field as the trace shows it (its money as money, not as a dump of
        # the model's fields), by name.
        fields = value.__dict__
        return ", ".join(f"{key}={render_value(fields[key])}" for key in sorted(type(value).model_fields)
                         if fields.get(key) is not None)
    return str(value)
