"""Generated Python for the per-claim hot path: the fact projection and each rule's traced condition.

The closures of ``claimrules.engine.evaluate`` stay the reference. Where interpretation overhead
dominates (a lambda and a list per ``and``/``or``, a loop over projections), this module writes the
same computation as plain Python source, once per policy set, and compiles it, as Jinja2 compiles a
template: the generator is the only clever part, the generated code is simple. Leaf tests (atoms)
and computed terms are still the reference closures; only the plumbing between them is generated.

The source is deterministic (same policy, same text: ``Program.generated_source``), built only from
identifiers and integers this module chooses and ``repr`` of field names (a string literal,
whatever the name); no policy text is ever code. ``tests/test_generated.py`` checks that decisions are identical with and without it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any

from claimrules.engine.compiler import Projection, to_engine
from claimrules.engine.durable import encode_str, encode_value
from claimrules.engine.evaluate import Atom, Compiled, ConditionCompiler, Context, _is_atom, _truth
from claimrules.errors import EvaluationError
from claimrules.policy import expr as ast

__all__ = ["RuleCode", "generate"]


#: Vocabulary types whose values are str, bool or int (compared with == / in without raising).
_PLAIN_TYPES = frozenset({"enum", "text", "country", "subdivision", "bool", "integer"})


def _unknown(value: Any) -> bool:
    """True for an unknown item of and/or (None); anything but true, false or None is an error."""
    if value is None:
        return True
    raise EvaluationError(f"a condition gave {value!r}, not true or false")


def _put(fact: dict[str, Any], encoded: dict[str, str], name: str, value: Any) -> None:
    """A value that is not str, int, bool or date, as durable_rules compares it (left out if it
    cannot), and its JSON."""
    converted = to_engine(value)
    if converted is not None:
        fact[name] = converted
        encoded[name] = encode_value(converted)


def _negate(value: Any, node: ast.Expr) -> Any:
    return None if value is None else not _truth(value, node)


class RuleCode:
    """Builds the module source: one function per rule condition and one projection function."""

    def __init__(self, conditions: ConditionCompiler) -> None:
        self.conditions = conditions
        self.namespace: dict[str, Any] = {"_negate": _negate,
                                          "_date": date, "_put": _put,
                                          "_unknown": _unknown, "_str": encode_str, "_int": int.__repr__}
        self.lines: list[str] = []
        self.helpers: list[str] = []  # the functions of and/or (RuleCode._junction)
        self.junctions = 0
        self._names: dict[int, str] = {}

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
        # Anything else (a definition, a function call...) keeps its reference closure.
        return f"{self._bind(self.conditions.compile(node, record=True), 'f')}(ctx)"

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
        """An atom's value: written out for the tests that cannot raise, the reference closure otherwise.

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
        return f"{self._bind(atom.fn, 'a')}(ctx)"

    def _plain_fact(self, node: ast.Expr) -> str | None:
        if not isinstance(node, ast.Fact) or node.path.startswith("item."):
            return None
        spec = self.conditions.policy.vocabulary.specs.get(node.path)
        return node.path if spec is not None and spec.type in _PLAIN_TYPES else None

    @staticmethod
    def _plain_constants(values: tuple[Any, ...]) -> bool:
        return all(type(value) in (str, bool, int) for value in values)

    # -- the fact durable_rules sees ---------------------------------------------------------------
    #: Fields per generated projection function: CPython compiles many small functions faster than
    #: one long one (2,000 fields: 0.46 s as one function, 0.22 s in chunks of 200).
    CHUNK = 100

    def projection(self, fields: Mapping[str, Projection], tests: Mapping[str, ast.Expr] | None = None,
                   parts: Sequence[Sequence[str]] = ()) -> None:
        """``project(ctx)``: what ``compiler.fact_for(fields, ctx)`` returns, as straight-line code,
        filled by ``fill_<i>(ctx, fact, encoded)`` for each of ``parts`` (disjoint), then for the
        other fields: each adds its own fields only, so a caller may fill only the parts it needs,
        and writes each value's JSON in ``encoded`` as ``durable.encode_value`` does (what
        ``RuleNetwork.fired`` sends durable_rules, written where the value's type is known).

        ``tests``: the computed true/false values (by field name) whose closure is the traced
        ``compile(node, record=True)``; they are written out as the rule conditions are. The fields
        are filled by functions of at most ``CHUNK`` fields each, in declared order."""
        tests = tests or {}
        order = {name: index for index, name in enumerate(fields)}
        placed = {name for part in parts for name in part}
        rest = [name for name in fields if name not in placed]
        for number, part in enumerate([*parts, rest]):
            self._fill(str(number), sorted(part, key=order.__getitem__), fields, tests)
        self.lines += ["def project(ctx):", "    fact = {'one': 1}", "    encoded = {'one': '1'}"]
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
        # As fact_for: str, int and bool as they are, dates as day ordinals, the rest via to_engine;
        # the JSON as encode_value writes it (str escaped, int by repr, bool as true/false).
        field = repr(name)
        if projection.path is not None:
            self.lines.append(f"    v = V.get({projection.path!r})")
        elif test is not None:
            self.lines += [f"    v = {self._expr(test, None)}",
                           f"    if v is True: fact[{field}] = True; E[{field}] = 'true'",
                           f"    elif v is False: fact[{field}] = False; E[{field}] = 'false'",
                           f"    elif v is not None: _put(fact, E, {field}, v)"]
            return
        else:
            self.lines.append(f"    v = {self._bind(projection.compute, 'p')}(ctx)")
        self.lines += [
            "    if v is not None:",
            "        k = type(v)",
            f"        if k is bool: fact[{field}] = v; E[{field}] = 'true' if v else 'false'",
            f"        elif k is str: fact[{field}] = v; E[{field}] = _str(v)",
            f"        elif k is int: fact[{field}] = v; E[{field}] = _int(v)",
            f"        elif k is _date: fact[{field}] = v = v.toordinal(); E[{field}] = _int(v)",
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


#: Adds some of the fields of the fact durable_rules sees to ``fact``, and their JSON to the
#: third argument (``fill_<i>(ctx, fact, encoded)``).
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
