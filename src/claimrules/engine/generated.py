"""Generated Python for the per-claim hot path: the fact projection and each rule's traced condition.

The closures of ``claimrules.engine.evaluate`` stay the reference. Where interpretation overhead
dominates (a lambda and a list per ``and``/``or``, a loop over projections), this module writes the
same computation as plain Python source, once per policy set, and compiles it, as Jinja2 compiles a
template: the generator is the only clever part, the generated code is simple. The rule conditions,
the leaf tests (atoms), computed terms, definitions and ``holds()`` are generated, each mirroring its
reference closure (same value, order of evaluation and errors); exceptions and grants, 'unique' and
'collect' tables and sums keep their reference closures. Constants, fact paths and policy objects
are bound by name in the module's namespace.

The source is deterministic (same policy, same text: ``Program.generated_source``), built only from
identifiers and integers this module chooses and ``repr`` of field names (a string literal,
whatever the name); no policy text is ever code. ``tests/test_generated.py`` checks that decisions are identical with and without it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from claimrules.engine.compiler import Projection, to_engine
from claimrules.engine.durable import encode_member, encode_str, encode_value
from claimrules.engine.evaluate import (
    _MISSING,
    Atom,
    Compiled,
    ConditionCompiler,
    Context,
    _any_of,
    _arithmetic_error,
    _combination_error,
    _comparison_error,
    _holding,
    _is_atom,
    _no_row,
    _over_items,
    _truth,
)
from claimrules.engine.functions import FUNCTIONS
from claimrules.errors import EvaluationError
from claimrules.money import Money
from claimrules.periods import add_months
from claimrules.policy import expr as ast
from claimrules.territory import in_territory

__all__ = ["RuleCode", "generate"]


#: Vocabulary types whose values are str, bool or int (compared with == / in without raising).
_PLAIN_TYPES = frozenset({"enum", "text", "country", "subdivision", "bool", "integer"})


def _unknown(value: Any) -> bool:
    """True for an unknown item of and/or (None); anything but true, false or None is an error."""
    if value is None:
        return True
    raise EvaluationError(f"a condition gave {value!r}, not true or false")


def _put(fact: dict[str, Any], encoded: dict[str, str], name: str, value: Any) -> None:
    """A value that is not str, int, bool, date or Decimal, as durable_rules compares it (left out
    if it cannot), and the field with its JSON."""
    converted = to_engine(value)
    if converted is not None:
        fact[name] = converted
        encoded[name] = "," + encode_member(name, converted)


def _negate(value: Any, node: ast.Expr) -> Any:
    return None if value is None else not _truth(value, node)


def _always(ctx: Context) -> bool:
    return True


#: Python's comparison for each comparison of the policy language (the reference's ``_OPERATORS``).
_COMPARISONS = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class RuleCode:
    """Builds the module source: one function per rule condition and one projection function."""

    def __init__(self, conditions: ConditionCompiler) -> None:
        self.conditions = conditions
        self.namespace: dict[str, Any] = {"_negate": _negate,
                                          "_date": date, "_put": _put, "_Decimal": Decimal, "_number": encode_value,
                                          "_unknown": _unknown, "_str": encode_str, "_int": int.__repr__,
                                          "_MISSING": _MISSING, "_Money": Money, "_add_months": add_months,
                                          "_in_territory": in_territory, "_over_items": _over_items,
                                          "_truth": _truth, "_always": _always, "_no_row": _no_row,
                                          "_comparison_error": _comparison_error,
                                          "_combination_error": _combination_error,
                                          "_arithmetic_error": _arithmetic_error,
                                          "_any_of": _any_of}
        self.lines: list[str] = []
        self.helpers: list[str] = []  # the functions of and/or (RuleCode._junction)
        self.junctions = 0
        self._names: dict[int, str] = {}
        self._values: dict[tuple[ast.Expr, str], str] = {}  # a value's function, by node and arguments
        self._definitions: dict[str, str] = {}  # a definition's function, by name
        self._holds: dict[str, str] = {}  # the function of holds('<clause>'), by clause id

    def _bind(self, value: Any, prefix: str) -> str:
        """A name in the generated module's namespace for a Python object (a closure, an AST node)."""
        key = id(value)
        name = self._names.get(key)
        if name is None:
            name = f"{prefix}{len(self._names)}"
            self._names[key] = name
            self.namespace[name] = value
        return name

    # -- rule conditions ---------------------------------------------------------------------------
    def rule(self, index: int, condition: ast.Expr) -> str:
        """A function ``rule_<index>(ctx)`` with the same value, side effects and order as
        ``ConditionCompiler.compile(condition)``."""
        name = f"rule_{index}"
        body = self._expr(condition, None)
        self.lines += [f"def {name}(ctx):", "    A = ctx.atoms", "    V = ctx.values", f"    return {body}", ""]
        return name

    def _expr(self, node: ast.Expr, label: str | None) -> str:
        # Mirrors ConditionCompiler.compile(node, record=True, label=label).
        if isinstance(node, ast.Labelled) and not _is_atom(node.item):
            return self._atom(node.item, node.label)
        if _is_atom(node):
            return self._atom(node, label)
        # Mirrors ConditionCompiler._compile(node, record=True).
        if isinstance(node, ast.Labelled):
            return self._expr(node.item, node.label)
        if isinstance(node, (ast.All, ast.AnyOf)):
            return self._junction(node)
        if isinstance(node, ast.Not):
            return f"_negate({self._expr(node.item, None)}, {self._bind(node, 'n')})"
        # Anything else (a definition, a function call...) records nothing: its value.
        return self._value(node)

    def _junction(self, node: ast.All | ast.AnyOf) -> str:
        """``and``/``or`` as a function of its own that stops at the first item deciding it (false
        for ``and``, true for ``or``), cheapest items first: Kleene's ``and``/``or`` do not depend on
        the order of their items, so the value is the reference's. The tests a deciding item makes
        moot are not recorded now; the trace computes them when it is built."""
        name = f"j{self.junctions}"
        self.junctions += 1  # the name is taken before the items: they may be and/or too
        decisive, other = ("False", "True") if isinstance(node, ast.All) else ("True", "False")
        items = sorted(node.items, key=self._cost)
        body = [f"def {name}(ctx, A, V):", "    unknown = False"]
        for item in items:  # two lines an item: CPython compiles long functions superlinearly
            body += [f"    if (v := {self._expr(item, None)}) is {decisive}: return {decisive}",
                     f"    if v is not {other}: unknown = _unknown(v)"]
        body += [f"    return None if unknown else {other}", ""]
        self.helpers += body
        return f"{name}(ctx, A, V)"

    def _cost(self, node: ast.Expr) -> int:
        """A rough cost of a test: written out (a plain fact against constants) 1, a reference
        closure 10, holds() 40; and/or/not the sum of their parts."""
        if isinstance(node, ast.Labelled) and not _is_atom(node.item):
            return self._cost(node.item)
        if isinstance(node, (ast.All, ast.AnyOf)):
            return sum(self._cost(item) for item in node.items)
        if isinstance(node, ast.Not):
            return self._cost(node.item)
        if isinstance(node, ast.Labelled):
            node = node.item
        if isinstance(node, ast.Holds):
            return 40
        if isinstance(node, ast.Compare) and node.op in ("==", "!=") and isinstance(node.right, ast.Const):
            if self._plain_fact(node.left) is not None and self._plain_constants((node.right.value,)):
                return 1
        if isinstance(node, ast.Member) and isinstance(node.container, ast.SetOf):
            if self._plain_fact(node.item) is not None and self._plain_constants(
                    tuple(const.value for const in node.container.items)):
                return 1
        return 10

    def _atom(self, node: ast.Expr, label: str | None) -> str:
        if (node, label) not in self.conditions._interned:  # compile_traced interned it already
            self.conditions._atom(node, label)
        atom, _ = self.conditions._interned[(node, label)]
        # Recorded as the reference's ``recorded`` wrapper does (first result kept), in C.
        return f"(A[{atom.index}] if {atom.index} in A else A.setdefault({atom.index}, {self._test(atom)}))"

    def _test(self, atom: Atom) -> str:
        """An atom's value: in line for the tests that cannot raise, a generated value otherwise.

        Written out: ``fact == constant`` / ``!=`` and ``fact in {constants}`` where the fact is
        declared text-like, yes/no or a whole number and the constants are str, bool or int
        (Python compares those without raising); unknown (None) when the fact is not given.
        """
        node = atom.node
        if isinstance(node, ast.Compare) and node.op in ("==", "!=") and isinstance(node.right, ast.Const):
            path, constants = self._plain_fact(node.left), (node.right.value,)
            if path is not None and self._plain_constants(constants):
                return f"(None if (v := V.get({path!r})) is None else v {node.op} {self._bind(node.right.value, 'c')})"
        if isinstance(node, ast.Member) and isinstance(node.container, ast.SetOf):
            path = self._plain_fact(node.item)
            members = tuple(const.value for const in node.container.items)
            if path is not None and self._plain_constants(members):
                test = "not in" if node.negated else "in"
                return f"(None if (v := V.get({path!r})) is None else v {test} {self._bind(frozenset(members), 's')})"
        return self._value(node)

    def _plain_fact(self, node: ast.Expr) -> str | None:
        if not isinstance(node, ast.Fact) or node.path.startswith("item."):
            return None
        spec = self.conditions.policy.vocabulary.specs.get(node.path)
        return node.path if spec is not None and spec.type in _PLAIN_TYPES else None

    @staticmethod
    def _plain_constants(values: tuple[Any, ...]) -> bool:
        return all(type(value) in (str, bool, int) for value in values)

    # -- values ------------------------------------------------------------------------------------
    def _value(self, node: ast.Expr) -> str:
        """An expression, where ``ctx`` and ``V`` (its values) are defined, with the value, errors
        and order of evaluation of ``ConditionCompiler._compile(node, record=False)``: a fact or a
        constant in line, a definition through its per-claim memo, anything else through a function
        of its own written below; what is not written out (exceptions, 'unique' and 'collect'
        tables, sums) keeps its reference closure."""
        if isinstance(node, ast.Labelled):
            return self._value(node.item)
        if isinstance(node, ast.Const):
            return self._bind(node.value, "c")
        if isinstance(node, ast.Fact):
            if node.path.startswith("item."):
                return f"(None if ctx.item is None else ctx.item.get({self._bind(node.path[5:], 'k')}))"
            return f"V.get({self._bind(node.path, 'k')})"
        if isinstance(node, ast.Ref):
            definition = self.conditions.policy.definitions[node.name]
            if definition.value is None:
                return self._bind(definition.constants if definition.constants is not None else definition.codes, "c")
            return f"{self._definition(node.name, definition.value)}(ctx, V)"
        if isinstance(node, ast.Not):
            return f"_negate({self._value(node.item)}, {self._bind(node, 'n')})"
        if isinstance(node, ast.Known):
            return f"(({self._value(node.operand)}) is {'' if node.negated else 'not '}None)"
        if isinstance(node, ast.Quantified) and node.kind != "sum":
            return self._function(node, [f"    items = V.get({self._bind(node.collection, 'k')})",
                                         *self._over(node.where, node.kind == "count")]) + "(ctx, V)"
        if isinstance(node, ast.Holds):
            return f"{self._held(node.clause)}(ctx, V)"
        if isinstance(node, ast.GrantQuery):
            grants = self._bind(self.conditions.grants_of(node.declaration.name), "f")
            return self._function(node, ["    items = " + grants + "(ctx)", "    if items is None: return None",
                                         *self._over(node.where, node.kind == "count")]) + "(ctx, V)"
        body = self._body(node)
        if body is None:
            return f"{self._bind(self.conditions._compile(node, False), 'f')}(ctx)"
        return f"{self._function(node, body)}(ctx, V)"

    def _function(self, node: ast.Expr, body: list[str], arguments: str = "ctx, V") -> str:
        """The name of a function with ``body`` computing ``node`` (written once per node)."""
        key = (node, arguments)
        name = self._values.get(key)
        if name is None:
            name = f"x{len(self._values)}"
            self._values[key] = name
            self.helpers += [f"def {name}({arguments}):", *body, ""]
        return name

    def _definition(self, name: str, value: ast.Expr) -> str:
        """A definition's function: computed at most once per claim, in ``ctx.memo`` under its name
        (where the reference closure keeps it: either finds what the other computed)."""
        function = self._definitions.get(name)
        if function is None:  # named before its value is written: definitions refer to one another
            function = self._definitions[name] = f"d{len(self._definitions)}"
            self._memoised(function, name, lambda: self._value(value))
        return function

    def _over(self, where: ast.Expr | None, counting: bool) -> list[str]:
        """``count``/``any`` of ``items`` where ``where`` holds (each item as ``item.``), as
        ``_over_items`` gives it: none (no list, or an empty one) counts 0 and is not any."""
        test = "_always" if where is None else self._function(
            where, ["    V = ctx.values", f"    return {self._value(where)}"], arguments="ctx")
        return [f"    if not items: return {0 if counting else False}",
                f"    return _over_items(ctx, items, {test}, {counting})"]

    def _held(self, clause_id: str) -> str:
        """holds('<clause>'): whether any version of the clause applies and holds, computed at most
        once per claim, in ``ctx.memo`` where the reference closure (``ConditionCompiler.holds_fn``)
        keeps it; every version is computed, as the reference does."""
        function = self._holds.get(clause_id)
        if function is None:
            function = self._holds[clause_id] = f"h{len(self._holds)}"
            variants = self.conditions._clause_variants[clause_id]
            self._memoised(function, ("holds", clause_id),
                           lambda: f"_any_of([{', '.join(self._value(_holding(clause)) for clause in variants)}])")
        return function

    def _memoised(self, function: str, key: object, value: Callable[[], str]) -> None:
        """Writes ``function(ctx, V)``: the expression ``value()`` at most once per claim, kept in
        ``ctx.memo`` under ``key``."""
        name = self._bind(key, "k")
        self.helpers += [f"def {function}(ctx, V):", "    m = ctx.memo", f"    v = m.get({name}, _MISSING)",
                         "    if v is _MISSING:", f"        v = m[{name}] = {value()}", "    return v", ""]

    def _shifted(self, duration: ast.Duration, sign: int, start: str) -> str:
        amount = duration.amount * sign
        if duration.unit == "days":
            return f"{start} + {self._bind(timedelta(days=amount), 'c')}"
        if duration.unit in ("months", "years"):
            return f"_add_months({start}, {amount * (12 if duration.unit == 'years' else 1)})"
        return f"{self._bind(self.conditions._shift(duration, sign), 'f')}(ctx, {start})"

    def _body(self, node: ast.Expr) -> list[str] | None:
        """The statements of a value's function (as the reference closure of ``node`` runs), or
        None to keep the closure."""
        if isinstance(node, (ast.All, ast.AnyOf)):
            decisive, other = ("False", "True") if isinstance(node, ast.All) else ("True", "False")
            body = ["    unknown = False"]
            for item in node.items:  # in their order: the reference stops at the first deciding item
                body += [f"    v = {self._value(item)}", f"    if v is {decisive}: return {decisive}",
                         "    if v is None: unknown = True", f"    elif v is not {other}: _unknown(v)"]
            return [*body, f"    return None if unknown else {other}"]
        if isinstance(node, ast.Compare):
            text = f"{self._bind(node, 'n')}.text"
            right = ["    b = " + self._value(node.right)]
            if not (isinstance(node.left, ast.Fact) and not node.left.path.startswith("item.")
                    and isinstance(node.right, ast.Const)):  # the reference compares a fact with a constant None
                right.append("    if b is None: return None")
            return [f"    a = {self._value(node.left)}", "    if a is None: return None", *right,
                    f"    try: return a {_COMPARISONS[node.op]} b",
                    f"    except (TypeError, ValueError) as problem: raise _comparison_error(a, b, {text}, problem) from None"]
        if isinstance(node, ast.Member):
            test = "not in" if node.negated else "in"
            container = node.container
            if isinstance(container, ast.Fact):
                return [f"    v = {self._value(node.item)}", f"    c = {self._value(container)}",
                        f"    return None if v is None or c is None else v {test} c"]
            if isinstance(container, ast.SetOf):
                members = self._bind(frozenset(const.value for const in container.items), "c")
            else:
                definition = self.conditions.policy.definitions[container.name]
                if definition.codes is not None:  # a territory: where the claim is, not the item
                    country = self._bind(self.conditions.country_fact, "k")
                    return [f"    country = V.get({country})", "    if country is None: return None",
                            f"    found = _in_territory({self._bind(definition.codes, 'c')}, country, "
                            f"V.get({self._bind(self.conditions.subdivision_fact, 'k')}))",
                            f"    return None if found is None else found != {node.negated}"]
                members = self._bind(definition.constants or frozenset(), "c")
            return [f"    v = {self._value(node.item)}", f"    return None if v is None else v {test} {members}"]
        if isinstance(node, ast.Within):
            return [f"    when = {self._value(node.event)}", f"    start = {self._value(node.anchor)}",
                    "    if when is None or start is None: return None",
                    f"    end = {self._shifted(node.duration, 1, 'start')}",
                    "    return None if end is None else start <= when <= end"]
        if isinstance(node, ast.Shift):
            return [f"    v = {self._value(node.base)}",
                    f"    return None if v is None else {self._shifted(node.duration, node.sign, 'v')}"]
        if isinstance(node, ast.Arith):
            failed = f"raise _arithmetic_error({self._bind(node, 'n')}, a, b, problem) from None"
            if node.op in ("+", "-"):
                compute = [f"    try: return a {node.op} b"]
            else:
                compute = ["    try:", "        if isinstance(b, _Money) and not isinstance(a, _Money): a, b = b, a",
                           "        return (a * b).quantized() if isinstance(a, _Money) else a * b"]
            return [f"    a = {self._value(node.left)}", f"    b = {self._value(node.right)}",
                    "    if a is None or b is None: return None", *compute,
                    f"    except (TypeError, ValueError) as problem: {failed}"]
        if isinstance(node, ast.Call):
            function = self._bind(FUNCTIONS[node.name], "f")
            return [f"    values = [{', '.join(self._value(arg) for arg in node.args)}]",
                    f"    try: return {function}(*values)",
                    "    except (TypeError, ValueError) as problem: "
                    f"raise _combination_error(values, {self._bind(node, 'n')}.text, problem) from None"]
        if isinstance(node, ast.Table) and node.hit == "first":
            table = self._bind(node, "n")
            body = []
            for row in node.rows:
                if row.when is None:
                    return [*body, f"    return {self._value(row.value)}"]
                body += [f"    h = {self._value(row.when)}", "    if h is None: return None",
                         f"    if _truth(h, {table}): return {self._value(row.value)}"]
            return [*body, f"    raise _no_row({table})"]
        return None

    # -- the fact durable_rules sees ---------------------------------------------------------------
    #: Fields per generated projection function: CPython compiles many small functions faster than
    #: one long one (2,000 fields: 0.46 s as one function, 0.22 s in chunks of 200).
    CHUNK = 100

    def projection(self, fields: Mapping[str, Projection], tests: Mapping[str, ast.Expr] | None = None,
                   parts: Sequence[Sequence[str]] = ()) -> None:
        """``project(ctx)``: what ``compiler.fact_for(fields, ctx)`` returns, as straight-line code,
        filled by ``fill_<i>(ctx, fact, encoded)`` for each of ``parts`` (disjoint), then for the
        other fields: each adds its own fields only, so a caller may fill only the parts it needs,
        and writes each field with its value's JSON in ``encoded`` as ``RuleNetwork.fired`` takes its
        members (``,`` and what ``durable.encode_member`` writes, written where the value's type is known).

        ``tests``: the computed true/false values (by field name) whose closure is the traced
        ``compile(node, record=True)``; they are written out as the rule conditions are. The fields
        are filled by functions of at most ``CHUNK`` fields each, in declared order."""
        tests = tests or {}
        order = {name: index for index, name in enumerate(fields)}
        placed = {name for part in parts for name in part}
        rest = [name for name in fields if name not in placed]
        for number, part in enumerate([*parts, rest]):
            self._fill(str(number), sorted(part, key=order.__getitem__), fields, tests)
        self.lines += ["def project(ctx):", "    fact = {'one': 1}", "    encoded = {'one': ',\"one\":1'}"]
        self.lines += [f"    fill_{number}(ctx, fact, encoded)" for number in range(len(parts) + 1)]
        self.lines += ["    return fact", ""]

    def _fill(self, suffix: str, names: list[str], fields: Mapping[str, Projection], tests: Mapping[str, ast.Expr]) -> None:
        chunks = [names[start:start + self.CHUNK] for start in range(0, len(names), self.CHUNK)]
        for number, chunk in enumerate(chunks):
            self.lines += [f"def fill_{suffix}_{number}(ctx, fact, E):", "    A = ctx.atoms", "    V = ctx.values"]
            for name in chunk:
                self._project_field(name, fields[name], tests.get(name))
            self.lines += ["    return fact", ""]
        self.lines += [f"def fill_{suffix}(ctx, fact, E):"]
        self.lines += [f"    fill_{suffix}_{number}(ctx, fact, E)" for number in range(len(chunks))] or ["    pass"]
        self.lines += [""]

    def _project_field(self, name: str, projection: Projection, test: ast.Expr | None) -> None:
        # As fact_for: str, int and bool as they are, dates as day ordinals, decimals as floats, the
        # rest via to_engine; the field with its JSON as encode_member writes them (the field's
        # part written here once: str escaped, int by repr, bool as true/false, a float by
        # encode_value).
        field = repr(name)
        key = "," + encode_member(name, 0)[:-1]  # ',"name":' (RuleNetwork.fired's members)
        true, false = repr(key + "true"), repr(key + "false")
        key = repr(key)
        if projection.path is not None:
            self.lines.append(f"    v = V.get({projection.path!r})")
        elif test is not None:
            self.lines += [f"    v = {self._expr(test, None)}",
                           f"    if v is True: fact[{field}] = True; E[{field}] = {true}",
                           f"    elif v is False: fact[{field}] = False; E[{field}] = {false}",
                           f"    elif v is not None: _put(fact, E, {field}, v)"]
            return
        elif projection.node is not None:
            self.lines.append(f"    v = {self._value(projection.node)}")
        else:
            self.lines.append(f"    v = {self._bind(projection.compute, 'p')}(ctx)")
        self.lines += [
            "    if v is not None:",
            "        k = type(v)",
            f"        if k is bool: fact[{field}] = v; E[{field}] = {true} if v else {false}",
            f"        elif k is str: fact[{field}] = v; E[{field}] = {key} + _str(v)",
            f"        elif k is int: fact[{field}] = v; E[{field}] = {key} + _int(v)",
            f"        elif k is _date: fact[{field}] = v = v.toordinal(); E[{field}] = {key} + _int(v)",
            f"        elif k is _Decimal: fact[{field}] = v = float(v); E[{field}] = {key} + _number(v)",
            f"        else: _put(fact, E, {field}, v)",
        ]

    def build(self) -> tuple[str, dict[str, Any]]:
        source = "\n".join(self.helpers + self.lines)
        return source, define(source, "<claimrules generated rules>", self.namespace)


def define(source: str, label: str, namespace: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The names ``source`` defines, run in a copy of ``namespace``.

    The one exec in claimrules, for source that claimrules wrote itself from its own names,
    integers and repr() literals of field names, never policy or claim text as code: the rule
    code above and the claim flattening (``claimrules.facts``). tests/bad_input/test_security.py
    allows it here only.
    """
    names = dict(namespace or {})
    exec(compile(source, label, "exec"), names)
    return names


#: Adds some of the fields of the fact durable_rules sees to ``fact``, and each with its value's
#: JSON (``"field":<JSON>``) to the third argument (``fill_<i>(ctx, fact, encoded)``).
Fill = Callable[[Context, dict[str, Any], dict[str, str]], Any]


def generate(conditions: ConditionCompiler, rules: Sequence[tuple[int, ast.Expr | None]],
             fields: Mapping[str, Projection], tests: Mapping[str, ast.Expr] | None = None,
             parts: Sequence[Sequence[str]] = (),
             ) -> tuple[str, dict[int, Compiled], Callable[[Context], dict[str, Any]], list[Fill]]:
    """(source, generated function per rule index, projection function, a function filling each
    of ``parts``)."""
    code = RuleCode(conditions)
    names = {index: code.rule(index, condition) for index, condition in rules if condition is not None}
    code.projection(fields, tests, parts)
    source, namespace = code.build()
    return (source, {index: namespace[name] for index, name in names.items()}, namespace["project"],
            [namespace[f"fill_{number}"] for number in range(len(parts))])
