"""Conditions as SMT formulas (z3), so lint and diff can *prove* things about every claim.

Encoding (what is exact and what is not):

* dates are day numbers; ``+ N days`` is exact; ``+ N months/years`` is exact, including the
  end-of-month clamp (the date is split into year, month and day with linear integer arithmetic);
  ``month_day()`` compared with ``'MM-DD'`` and ``next_on()`` are exact;
* amounts of money and numbers are reals (amounts with at most two decimals);
* booleans are booleans; text and enum facts range over the values the vocabulary lists and the
  constants the policies compare them with, plus one value that is none of them;
* ``location in <territory>`` is exact: the location ranges over one representative per cell of
  the partition that the policies' code sets make of the world (every code they name, and one
  country none of them names), and membership is computed by the engine's own ``in_territory``;
* list facts (``count``/``any``/``sum``) hold at most ``MAX_ITEMS`` items;
* three-valued logic is exact: every fact may be unknown unless the vocabulary requires it, and
  every condition is encoded as the pair (certainly true, certainly false), as Kleene logic says;
* decision tables (first / unique / collect), ``if C then A else B`` and ``X up to Y`` are exact,
  with the evaluator's three-valued rules; exceptions declarations and their grant queries are
  exact (``claimrules.analysis.exceptions``);
* anything else (``N business days`` - public holidays -, ordering comparisons of free text,
  membership in a derived list, functions this module does not know) is *uninterpreted*: a fresh
  value with only the bounds its type gives. That over-approximates the claims the policy can see,
  so "no claim satisfies this" stays a proof, while a satisfying model is only a *candidate*: lint
  and diff turn it into a claim and confirm it by deciding it with the engine.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import z3

from claimrules.money import Money
from claimrules.policy import expr as ast
from claimrules.policy.model import Clause, Document, PolicySet
from claimrules.territory import NAMED_SETS, in_territory, subdivision_country

if TYPE_CHECKING:
    from claimrules.analysis.exceptions import EncodedExceptions

MAX_ITEMS = 3
EPOCH = date(1970, 1, 1)
LOW, HIGH = date(2015, 1, 1), date(2035, 12, 31)


def day_number(value: date) -> int:
    return (value - EPOCH).days


def from_day_number(number: int) -> date:
    return EPOCH + timedelta(days=number)


# -- the vocabulary, as read from the claim JSON Schema ------------------------------------------------

@dataclass(frozen=True)
class FactSpec:
    """One fact of the vocabulary: its kind, allowed values and whether a claim must give it."""

    path: str
    kind: str                      # date, money, number, integer, bool, text, list, group
    values: tuple[str, ...] = ()   # for enums
    required: bool = False
    items: Mapping[str, FactSpec] = field(default_factory=dict)


def _resolve(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        name = str(node["$ref"]).rsplit("/", 1)[-1]
        node = schema["$defs"][name]
    return node


def _non_null(schema: Mapping[str, Any], node: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    node = _resolve(schema, node)
    for key in ("anyOf", "oneOf"):
        if key in node:
            options = [_resolve(schema, option) for option in node[key] if option.get("type") != "null"]
            nullable = len(options) < len(node[key])
            if len(options) == 1:
                return options[0], nullable
            return {"anyOf": options}, nullable
    return node, False


def _kind(node: Mapping[str, Any]) -> str:
    props = node.get("properties", {})
    if node.get("type") == "object" and set(props) == {"amount", "currency"}:
        return "money"
    if node.get("type") == "object" or "properties" in node:
        return "group"
    if node.get("type") == "array":
        return "list"
    if node.get("format") == "date":
        return "date"
    if node.get("type") == "boolean":
        return "bool"
    if node.get("type") == "integer":
        return "integer"
    if node.get("type") == "number" or "anyOf" in node:
        return "number"
    return "text"


def vocabulary(schema: Mapping[str, Any]) -> dict[str, FactSpec]:
    """Every fact path of a claim JSON Schema (groups, scalars and lists with their item fields)."""
    found: dict[str, FactSpec] = {}

    def walk(node: Mapping[str, Any], prefix: str, into: dict[str, FactSpec]) -> None:
        required = set(node.get("required", ()))
        for name, raw in sorted(node.get("properties", {}).items()):
            sub, _ = _non_null(schema, raw)
            path = prefix + name
            kind = _kind(sub)
            values = tuple(str(v) for v in sub.get("enum", ()))
            if kind == "list":
                item = _resolve(schema, sub.get("items", {}))
                items: dict[str, FactSpec] = {}
                walk(item, "item.", items)
                into[path] = FactSpec(path, kind, required=name in required, items=items)
            else:
                into[path] = FactSpec(path, kind, values, required=name in required)
                if kind == "group":
                    walk(sub, path + ".", into)

    walk(_resolve(schema, schema), "", found)
    return found


# -- the calendar in linear integer arithmetic ------------------------------------------------------
# Years are bounded (FIRST_YEAR..LAST_YEAR, which holds every date a witness may use), so the day
# number of a year/month/day is a case split on the year over constants: no division, no products.

FIRST_YEAR, LAST_YEAR = 2015, 2036
_CUMULATIVE = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
_LENGTHS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@dataclass
class Calendar:
    """A date split into year, month and day, with the linear facts that tie them together."""

    year: z3.ArithRef
    month: z3.ArithRef
    day: z3.ArithRef
    leap: z3.BoolRef
    ordinal: z3.ArithRef


def calendar(claims: Claims, year: z3.ArithRef, month: z3.ArithRef, day: z3.ArithRef | None) -> Calendar:
    """Year/month(/day) as a date: constraints go to ``claims``; a missing day is clamped later."""
    claims.constraints.append(z3.And(year >= FIRST_YEAR, year <= LAST_YEAR, month >= 1, month <= 12))
    start: z3.ArithRef = z3.IntVal(0)
    leap: z3.BoolRef = z3.BoolVal(False)
    for number in range(LAST_YEAR, FIRST_YEAR - 1, -1):
        start = z3.If(year == number, (date(number, 1, 1) - EPOCH).days - 1, start)
        if _is_leap(number):
            leap = z3.Or(leap, year == number)
    if day is None:
        day = claims.fresh("int", "day")
    before: z3.ArithRef = z3.IntVal(0)
    for number in range(12, 0, -1):
        before = z3.If(month == number, _CUMULATIVE[number - 1], before)
    ordinal = start + before + z3.If(z3.And(leap, month > 2), 1, 0) + day
    return Calendar(year, month, day, leap, ordinal)


def month_length(month: z3.ArithRef, leap: z3.BoolRef) -> z3.ArithRef:
    result: z3.ArithRef = z3.IntVal(31)
    for number in range(12, 0, -1):
        length = z3.If(leap, 29, 28) if number == 2 else z3.IntVal(_LENGTHS[number - 1])
        result = z3.If(month == number, length, result)
    return result


# -- values and truth ---------------------------------------------------------------------------------

@dataclass
class Value:
    value: Any          # a z3 expression (Int day number, Real amount, Bool, Int text index) or a Python constant
    known: z3.BoolRef
    kind: str


@dataclass
class Truth:
    true: z3.BoolRef
    false: z3.BoolRef


TRUE = Truth(z3.BoolVal(True), z3.BoolVal(False))
UNKNOWN = Truth(z3.BoolVal(False), z3.BoolVal(False))


class Unsupported(Exception):
    """A construct the encoding treats as uninterpreted."""


@dataclass(frozen=True)
class Place:
    """Where a claim puts the product, by the vocabulary's roles: the group that ``in <territory>``
    tests (``location``), and the paths of its country and subdivision facts."""

    group: str
    country: str
    subdivision: str | None


def place_of(vocabulary: Any) -> Place | None:
    """The place a policy set's claims give (its ``country`` role), or None if it names none."""
    roles = vocabulary.roles
    country = roles.get("country")
    if country is None:
        return None
    return Place(country.rsplit(".", 1)[0] if "." in country else country, country, roles.get("subdivision"))


class Claims:
    """The variables of one symbolic claim, shared by every policy encoded against it."""

    def __init__(self, facts: Mapping[str, FactSpec], derived: Mapping[str, str] | None = None) -> None:
        self.facts = facts
        self.derived = dict(derived or {})  # facts the engine derives (not in the schema): path -> kind
        self.derived_vars: dict[str, tuple[Any, z3.BoolRef]] = {}
        self.derived_members: dict[tuple[str, Any], tuple[z3.BoolRef, z3.BoolRef]] = {}
        self.constraints: list[z3.BoolRef] = []
        self.vars: dict[str, tuple[Any, z3.BoolRef]] = {}
        self.items: dict[str, list[tuple[z3.BoolRef, dict[str, tuple[Any, z3.BoolRef]]]]] = {}
        self.texts: dict[str, int] = {}
        self.counter = itertools.count()
        self.location_cells: list[tuple[str, str | None]] | None = None
        self.place: Place | None = None  # set with location_cells, from the policy set's vocabulary
        self.splits: dict[int, list[tuple[Any, Calendar]]] = {}
        self.free_texts: dict[str, Any] = {}
        self.text_links: set[tuple[str, str]] = set()
        self.text_domains: dict[str, set[str]] = {}

    def free_text_groups(self) -> dict[str, frozenset[str]]:
        """For each free-text fact, the facts it is compared with, directly or through others (itself included)."""
        linked: dict[str, set[str]] = {path: {path} for path in self.free_texts}
        links = set(self.text_links)
        # a condition inside count/any/sum speaks of 'item.x': that is the field x of every list slot
        for path in self.free_texts:
            if "]." in path:
                links.add((path, "item." + path.rsplit("].", 1)[1]))
        for first, second in sorted(links):
            group = linked.setdefault(first, {first}) | linked.setdefault(second, {second})
            for member in group:
                linked[member] = group
        return {path: frozenset(linked.get(path, {path})) for path in self.free_texts}

    def free_text_domains(self) -> dict[str, set[str]]:
        """For each free-text fact, the constants compared with it (or with a fact it is compared with)."""
        return {path: set().union(*(self.text_domains.get(other, set()) for other in group))
                for path, group in self.free_text_groups().items()}

    def text_constraints(self) -> list[z3.BoolRef]:
        """A free-text fact is one of the constants compared with it (or with a fact it is compared
        with), or a value none of them is: -1, -2, ... one per free-text fact of its group, so that
        two facts compared with each other can be different values no policy names (two parts)."""
        groups, domains = self.free_text_groups(), self.free_text_domains()
        out = []
        for path, var in sorted(self.free_texts.items()):
            others = max(1, sum(1 for member in groups[path] if member in self.free_texts))
            allowed = sorted(self.text_index(text) for text in domains[path])
            out.append(z3.Or(*[var == -number for number in range(1, others + 1)], *[var == index for index in allowed]))
        return out

    def note_text(self, node: ast.Expr, other: ast.Expr) -> None:
        if isinstance(node, ast.Fact) and isinstance(other, ast.Const) and isinstance(other.value, str):
            self.text_domains.setdefault(node.path, set()).add(other.value)
        if isinstance(node, ast.Fact) and isinstance(other, ast.Fact):
            self.text_links.add((node.path, other.path))

    # text values are small integers; -1 is "a value no policy names"
    def text_index(self, text: str) -> int:
        if text not in self.texts:
            self.texts[text] = len(self.texts)
        return self.texts[text]

    def fresh(self, kind: str, hint: str = "u") -> Any:
        name = f"{hint}#{next(self.counter)}"
        if kind == "bool":
            return z3.Bool(name)
        if kind in ("money", "number"):
            return z3.Real(name)
        if kind == "text":
            return z3.Int(name)
        return z3.Int(name)

    def _scalar(self, path: str, spec: FactSpec, prefix: str) -> tuple[Any, z3.BoolRef]:
        name = prefix + path
        value = self.fresh(spec.kind, name)
        known = z3.BoolVal(True) if spec.required and not prefix else z3.Bool("known:" + name)
        if spec.kind == "date":
            self.constraints.append(z3.And(value >= day_number(LOW), value <= day_number(HIGH)))
        elif spec.kind == "money":
            self.constraints.append(z3.And(value >= 0, value <= 10_000_000, z3.IsInt(value * 100)))
        elif spec.kind == "integer":
            self.constraints.append(z3.And(value >= 0, value <= 10_000))
        elif spec.kind == "text":
            if spec.values:
                self.constraints.append(z3.Or(*[value == self.text_index(v) for v in spec.values]))
            else:
                self.free_texts[name] = value   # -1 (the seed's own value) or a constant it is compared with
        return value, known

    def fact(self, path: str) -> Value:
        if path in self.derived:
            kind = self.derived[path]
            if kind == "tuple":
                raise Unsupported(f"the list '{path}' used as a value")
            if path not in self.derived_vars:
                self.derived_vars[path] = (self.fresh(kind, path), z3.Bool("known:" + path))
            value, known = self.derived_vars[path]
            return Value(value, known, kind)
        spec = self.facts.get(path)
        if spec is not None and spec.kind == "group":
            known = z3.BoolVal(True) if spec.required else self.group_known(path)
            return Value(z3.IntVal(0), known, "group")
        if spec is None or spec.kind == "list":
            raise Unsupported(path)
        if path not in self.vars:
            value, known = self._scalar(path, spec, "")
            group = path.rsplit(".", 1)[0] if "." in path else None
            if group is not None and group in self.facts and not self.facts[group].required:
                if spec.required:   # given exactly when its optional group is (deployment.documented_on)
                    known = self.group_known(group)
                else:
                    self.constraints.append(z3.Implies(known, self.group_known(group)))
            self.vars[path] = (value, known)
        value, known = self.vars[path]
        return Value(value, known, spec.kind)

    def member(self, path: str, item: Any) -> Truth:
        """``'X' in <derived list>`` (e.g. a plan code's options): fixed per seed."""
        if self.derived.get(path) != "tuple":
            raise Unsupported("membership in a derived list")
        key = (path, item)
        if key not in self.derived_members:
            self.derived_members[key] = (z3.Bool(f"member:{path}:{item}"), z3.Bool("known:" + path))
        inside, known = self.derived_members[key]
        return Truth(z3.And(known, inside), z3.And(known, z3.Not(inside)))

    def group_known(self, group: str) -> z3.BoolRef:
        return z3.Bool("known:" + group)

    def collection(self, path: str) -> list[tuple[z3.BoolRef, dict[str, tuple[Any, z3.BoolRef]]]]:
        if path not in self.items:
            spec = self.facts.get(path)
            if spec is None or spec.kind != "list":
                raise Unsupported(path)
            slots: list[tuple[z3.BoolRef, dict[str, tuple[Any, z3.BoolRef]]]] = []
            for index in range(MAX_ITEMS):
                exists = z3.Bool(f"exists:{path}[{index}]")
                if index:
                    self.constraints.append(z3.Implies(exists, slots[-1][0]))
                slots.append((exists, {}))
            self.items[path] = slots
        return self.items[path]

    def item_field(self, path: str, index: int, name: str) -> Value:
        exists, fields = self.collection(path)[index]
        spec = self.facts[path].items.get(f"item.{name}")
        if spec is None or spec.kind in ("group", "list"):
            raise Unsupported(f"{path}.{name}")
        if name not in fields:
            value, known = self._scalar(f"{path}[{index}].{name}", spec, "")
            if spec.required:
                known = exists   # given exactly when the item exists (a constraint 'known == exists' on a
                                 # constant True would force every slot to exist)
            else:
                self.constraints.append(z3.Implies(known, exists))
            fields[name] = (value, known)
        value, known = fields[name]
        return Value(value, known, spec.kind)


def kind_of_constant(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, date):
        return "date"
    if isinstance(value, Money):
        return "money"
    if isinstance(value, (int, Decimal, float)):
        return "number"
    if isinstance(value, (tuple, list, frozenset)):
        return "tuple"
    return "text"


def constant(claims: Claims, value: Any) -> Any:
    if value is None:
        return z3.IntVal(0)
    if isinstance(value, bool):
        return z3.BoolVal(value)
    if isinstance(value, date):
        return z3.IntVal(day_number(value))
    if isinstance(value, Money):
        return z3.RealVal(str(value.amount))
    if isinstance(value, (int, Decimal, float)):
        return z3.RealVal(str(value))
    if isinstance(value, str):
        return z3.IntVal(claims.text_index(value))
    if isinstance(value, (tuple, list, frozenset)):
        return tuple(value)
    raise Unsupported(type(value).__name__)


class PolicyFormulas:
    """One policy set's documents and clauses as formulas over a shared symbolic claim."""

    def __init__(self, policy: PolicySet, claims: Claims) -> None:
        self.policy = policy
        self.claims = claims
        self._definitions: dict[str, Value | Truth] = {}
        self._holds: dict[str, Truth] = {}
        self._variants: dict[str, list[Clause]] = {}
        for document in policy.documents:
            for clause in document.clauses:
                self._variants.setdefault(clause.id, []).append(clause)
        self.uninterpreted: set[str] = set()
        self._encoded: dict[tuple[str, int], EncodedExceptions] = {}
        self._rules: dict[tuple[str, str], Truth] = {}   # each clause's and document's rules, encoded once

    # -- what the policy says of a claim -------------------------------------------------------
    def applies(self, document: Document) -> z3.BoolRef:
        return self.applies_truth(document).true

    def version_guard(self, document: Document, clause: Clause) -> z3.BoolRef:
        """Always true: the loader writes an earlier version's guard into its clauses' conditions."""
        del document, clause
        return z3.BoolVal(True)

    def holds(self, clause: Clause) -> Truth:
        """The clause's ``applies`` and ``when`` (the rule that fires when it holds)."""
        key = ("holds", clause.key)
        if key not in self._rules:
            parts = [self.truth(part) for part in (clause.applies, clause.when) if part is not None]
            self._rules[key] = _all(parts) if parts else TRUE
        return self._rules[key]

    def otherwise(self, clause: Clause) -> Truth:
        """The clause's 'otherwise' branch: it applies and its condition is false."""
        if clause.otherwise is None or clause.when is None:
            return Truth(z3.BoolVal(False), z3.BoolVal(True))
        key = ("otherwise", clause.key)
        if key not in self._rules:
            parts = [self.truth(clause.applies)] if clause.applies is not None else []
            when = self.truth(clause.when)
            self._rules[key] = _all([*parts, Truth(when.false, when.true)])
        return self._rules[key]

    def active(self, document: Document, clause: Clause) -> z3.BoolRef:
        return z3.And(self.applies(document), self.version_guard(document, clause), self.holds(clause).true)

    def active_otherwise(self, document: Document, clause: Clause) -> z3.BoolRef:
        return z3.And(self.applies(document), self.version_guard(document, clause), self.otherwise(clause).true)

    def applies_truth(self, document: Document) -> Truth:
        if document.applies_when is None:
            return TRUE
        key = ("applies", document.id)
        if key not in self._rules:
            self._rules[key] = self.truth(document.applies_when)
        return self._rules[key]

    def settled_silent(self, document: Document, clause: Clause) -> z3.BoolRef:
        """Certainly neither the clause nor its 'otherwise' branch holds (nothing unknown about it):
        the document certainly does not apply, or the clause's rules are certainly false."""
        applies = self.applies_truth(document)
        rules = [self.holds(clause).false]
        if clause.otherwise is not None and clause.when is not None:
            rules.append(self.otherwise(clause).false)
        return z3.Or(applies.false, z3.And(*rules))

    # -- conditions ------------------------------------------------------------------------------
    def truth(self, node: ast.Expr) -> Truth:
        try:
            return self._truth(node)
        except Unsupported as problem:
            self.uninterpreted.add(f"{problem} in '{node.text}'" if node.text else str(problem))
            fresh = self.claims.fresh("bool", "uninterpreted")
            other = self.claims.fresh("bool", "uninterpreted")
            self.claims.constraints.append(z3.Not(z3.And(fresh, other)))
            return Truth(fresh, other)

    def _truth(self, node: ast.Expr) -> Truth:
        if isinstance(node, ast.Labelled):
            return self.truth(node.item)
        if isinstance(node, ast.All):
            return _all([self.truth(item) for item in node.items])
        if isinstance(node, ast.AnyOf):
            parts = [self.truth(item) for item in node.items]
            return Truth(z3.Or(*[p.true for p in parts]), z3.And(*[p.false for p in parts]))
        if isinstance(node, ast.Not):
            inner = self.truth(node.item)
            return Truth(inner.false, inner.true)
        if isinstance(node, ast.Const) and isinstance(node.value, bool):
            return TRUE if node.value else Truth(z3.BoolVal(False), z3.BoolVal(True))
        if isinstance(node, ast.Holds):
            if node.clause not in self._holds:
                self._holds[node.clause] = Truth(z3.BoolVal(False), z3.BoolVal(True))  # a cycle is refused at load
                variants = [self.holds(clause) for clause in self._variants.get(node.clause, [])]
                self._holds[node.clause] = Truth(z3.Or(*[v.true for v in variants]), z3.And(*[v.false for v in variants]))
            return self._holds[node.clause]
        if isinstance(node, ast.Known):
            value = self.value(node.operand)
            known = value.known if not node.negated else z3.Not(value.known)
            return Truth(known, z3.Not(known))
        if isinstance(node, ast.Within):
            event, anchor = self.value(node.event), self.value(node.anchor)
            end = self.shift(anchor, 1, node.duration)
            both = z3.And(event.known, anchor.known)
            inside = z3.And(anchor.value <= event.value, event.value <= end.value)
            return Truth(z3.And(both, inside), z3.And(both, z3.Not(inside)))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Member):
            return self.member(node)
        if isinstance(node, ast.Quantified) and node.kind == "any":
            slots = self.claims.collection(node.collection)
            pairs: list[tuple[z3.BoolRef, Truth]] = [
                (exists, self._item_truth(node, index)) for index, (exists, _) in enumerate(slots)]
            return Truth(z3.Or(*[z3.And(e, item.true) for e, item in pairs]),
                         z3.And(*[z3.Or(z3.Not(e), item.false) for e, item in pairs]))
        if isinstance(node, ast.GrantQuery) and node.kind == "any":
            return self.grants(node.declaration).any(node.where)
        if isinstance(node, (ast.Fact, ast.Ref, ast.Table)):
            value = self.value(node)
            if value.kind == "bool":
                return Truth(z3.And(value.known, value.value), z3.And(value.known, z3.Not(value.value)))
        raise Unsupported(type(node).__name__)

    def _item_truth(self, node: ast.Quantified, index: int) -> Truth:
        if node.where is None:
            return TRUE
        return _ItemScope(self, node.collection, index).truth(node.where)

    def compare(self, node: ast.Compare) -> Truth:
        month_day = self._month_day_compare(node)
        if month_day is not None:
            return month_day
        self.claims.note_text(node.left, node.right)
        self.claims.note_text(node.right, node.left)
        left, right = self.value(node.left), self.value(node.right)
        if "text" in (left.kind, right.kind) and node.op not in ("==", "!="):
            raise Unsupported("ordering of text")
        if left.kind == "bool" or right.kind == "bool":
            if node.op not in ("==", "!="):
                raise Unsupported("ordering of booleans")
        both = z3.And(left.known, right.known)
        holds = _OPS[node.op](left.value, right.value)
        return Truth(z3.And(both, holds), z3.And(both, z3.Not(holds)))

    def _month_day_compare(self, node: ast.Compare) -> Truth | None:
        left, right = node.left, node.right
        flipped = False
        if isinstance(right, ast.Call) and right.name == "month_day":
            left, right, flipped = right, left, True
        if not (isinstance(left, ast.Call) and left.name == "month_day" and isinstance(right, ast.Const)
                and isinstance(right.value, str) and len(right.value) == 5 and right.value[2] == "-"):
            return None
        day = self.value(left.args[0])
        split = self.split(day.value)
        target = int(right.value[:2]) * 100 + int(right.value[3:])
        op = _FLIP[node.op] if flipped else node.op
        holds = _OPS[op](split.month * 100 + split.day, target)
        return Truth(z3.And(day.known, holds), z3.And(day.known, z3.Not(holds)))

    def member(self, node: ast.Member) -> Truth:
        container = node.container
        if isinstance(container, ast.Ref):
            definition = self.policy.definitions.get(container.name)
            if definition is not None and definition.codes is not None:
                result = self.territory(node.item, definition.codes)
                return Truth(result.false, result.true) if node.negated else result
            if definition is not None and definition.constants is not None:
                container = ast.SetOf(tuple(ast.Const(c) for c in sorted(definition.constants, key=str)))  # type: ignore[arg-type]
        if isinstance(container, ast.Fact) and isinstance(node.item, ast.Const):
            result = self.claims.member(container.path, node.item.value)
            return Truth(result.false, result.true) if node.negated else result
        if not isinstance(container, ast.SetOf):
            raise Unsupported("membership in a derived list")
        for const in container.items:
            self.claims.note_text(node.item, const)
        item = self.value(node.item)
        inside = z3.Or(*[item.value == constant(self.claims, const.value) for const in container.items]) \
            if container.items else z3.BoolVal(False)
        result = Truth(z3.And(item.known, inside), z3.And(item.known, z3.Not(inside)))
        return Truth(result.false, result.true) if node.negated else result

    def territory(self, item: ast.Expr, codes: frozenset[str]) -> Truth:
        place = self.claims.place
        if place is None or not (isinstance(item, ast.Fact) and item.path == place.group):
            raise Unsupported("territory of something other than the place the vocabulary's country role names")
        cells = self.location_cells()
        country = self.claims.fact(place.country)
        subdivision = self.claims.fact(place.subdivision) if place.subdivision is not None else None
        true, false = [], []
        for index, (code, sub) in enumerate(cells):
            chosen = self.cell_var() == index
            answer = in_territory(frozenset(codes), code, sub)
            if answer is True:
                true.append(chosen)
            elif answer is False:
                false.append(chosen)
        del country, subdivision
        return Truth(z3.Or(*true) if true else z3.BoolVal(False), z3.Or(*false) if false else z3.BoolVal(False))

    def cell_var(self) -> z3.ArithRef:
        return z3.Int("location-cell")

    def location_cells(self) -> list[tuple[str, str | None]]:
        if self.claims.location_cells is None:
            raise Unsupported("territories")
        return self.claims.location_cells

    # -- values ----------------------------------------------------------------------------------
    def value(self, node: ast.Expr) -> Value:
        if isinstance(node, ast.Const):
            value = node.value
            return Value(constant(self.claims, value), z3.BoolVal(True), kind_of_constant(value))
        if isinstance(node, ast.Fact):
            return self.claims.fact(node.path)
        if isinstance(node, ast.Ref):
            if node.name not in self._definitions:
                definition = self.policy.definitions.get(node.name)
                if definition is None or definition.value is None:
                    raise Unsupported(f"set '{node.name}' used as a value")
                if _is_boolean(definition.value):
                    self._definitions[node.name] = self.truth(definition.value)
                else:
                    self._definitions[node.name] = self.value(definition.value)
            found = self._definitions[node.name]
            if isinstance(found, Truth):   # a condition used as a value: known when true or false
                return Value(found.true, z3.Or(found.true, found.false), "bool")
            return found
        if isinstance(node, ast.Shift):
            return self.shift(self.value(node.base), node.sign, node.duration)
        if isinstance(node, ast.Arith):
            left, right = self.value(node.left), self.value(node.right)
            result = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}[node.op](
                _real(left), _real(right))
            kind = "money" if "money" in (left.kind, right.kind) else "number"
            return Value(result, z3.And(left.known, right.known), kind)
        if isinstance(node, ast.Quantified) and node.kind != "any":
            return self.quantified(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Labelled):
            return self.value(node.item)
        if isinstance(node, ast.Table):
            return self.table(node)
        if isinstance(node, ast.Exceptions):
            return self.exceptions(node).end
        if isinstance(node, ast.GrantQuery) and node.kind == "count":
            return self.grants(node.declaration).count(node.where)
        if isinstance(node, ast.GrantQuery) and node.kind == "any":
            found = self.grants(node.declaration).any(node.where)
            return Value(found.true, z3.Or(found.true, found.false), "bool")
        if _is_boolean(node):
            found = self.truth(node)
            return Value(found.true, z3.Or(found.true, found.false), "bool")
        raise Unsupported(type(node).__name__)

    # -- conditional values: decision tables and 'if C then A else B' (engine.evaluate._table) -------
    def table(self, node: ast.Table) -> Value:
        """A table's value and when it is known, in the evaluator's three-valued logic.

        ``first``: the first row that holds; unknown when a row's condition is unknown and no row
        above it held. ``unique``: the one row that holds (even if others are unknown), else the
        'otherwise' row when every row is false, else unknown; two rows holding at once is an error
        in the engine (no decision), encoded as no value. ``collect``: unknown when any row's
        condition is unknown; ``count`` the rows that hold, ``sum``/``max``/``min`` their values
        (no row holding is an error in the engine: no value).
        """
        rows = [(None if row.when is None else self.truth(row.when), self.value(row.value)) for row in node.rows]
        values = _unified([value for _, value in rows])
        kind = _table_kind([value.kind for value in values])
        conditions = [when for when, _ in rows]
        nothing = _zero(values[0].value)
        if node.hit == "first":
            result: Any = nothing
            known: z3.BoolRef = z3.BoolVal(False)
            for when, value in reversed(list(zip(conditions, values, strict=True))):
                if when is None:
                    result, known = value.value, value.known
                    continue
                result = z3.If(when.true, value.value, result)
                known = z3.Or(z3.And(when.true, value.known), z3.And(when.false, known))
            return Value(result, known, kind)
        if node.hit == "unique":
            ruled = [(when, value) for when, value in zip(conditions, values, strict=True) if when is not None]
            fallback = next((value for when, value in zip(conditions, values, strict=True) if when is None), None)
            alone = [z3.And(when.true, *[z3.Not(other.true) for other, _ in ruled if other is not when])
                     for when, _ in ruled]
            none_holds = z3.And(*[when.false for when, _ in ruled])
            result = fallback.value if fallback is not None else nothing
            for chosen, (_, value) in reversed(list(zip(alone, ruled, strict=True))):
                result = z3.If(chosen, value.value, result)
            known = z3.Or(*[z3.And(chosen, value.known) for chosen, (_, value) in zip(alone, ruled, strict=True)],
                          z3.And(none_holds, fallback.known) if fallback is not None else z3.BoolVal(False))
            return Value(result, known, kind)
        holds = [TRUE if when is None else when for when in conditions]
        decided = z3.And(*[z3.Or(when.true, when.false) for when in holds])
        if node.aggregate == "count":
            total: Any = z3.IntVal(0)
            for when in holds:
                total = total + z3.If(when.true, 1, 0)
            return Value(z3.ToReal(total), decided, "number")
        valued = z3.And(*[z3.Implies(when.true, value.known) for when, value in zip(holds, values, strict=True)])
        some = z3.Or(*[when.true for when in holds])
        if node.aggregate == "sum":
            result = nothing
            for when, value in zip(holds, values, strict=True):
                result = result + z3.If(when.true, value.value, _zero(value.value))
            return Value(result, z3.And(decided, valued, some), kind)
        result, seen = nothing, z3.BoolVal(False)
        for when, value in zip(holds, values, strict=True):
            better = value.value > result if node.aggregate == "max" else value.value < result
            result = z3.If(when.true, z3.If(z3.Or(z3.Not(seen), better), value.value, result), result)
            seen = z3.Or(seen, when.true)
        return Value(result, z3.And(decided, valued, some), kind)

    # -- authority-capped exceptions (engine.grants) ----------------------------------------------
    def exceptions(self, node: ast.Exceptions) -> EncodedExceptions:
        from claimrules.analysis.exceptions import encode_exceptions

        key = ("exceptions", id(node))
        if key not in self._encoded:
            self._encoded[key] = encode_exceptions(self, node)
        return self._encoded[key]

    def grants(self, declaration: ast.Ref) -> EncodedExceptions:
        definition = self.policy.definitions.get(declaration.name)
        if definition is None or not isinstance(definition.value, ast.Exceptions):
            raise Unsupported(f"'{declaration.name}' is not an exceptions declaration")
        return self.exceptions(definition.value)

    def quantified(self, node: ast.Quantified) -> Value:
        slots = self.claims.collection(node.collection)
        total: Any = z3.RealVal(0) if node.kind == "sum" else z3.IntVal(0)
        known: list[z3.BoolRef] = []
        for index, (exists, _) in enumerate(slots):
            scope = _ItemScope(self, node.collection, index)
            where = scope.truth(node.where) if node.where is not None else TRUE
            if node.kind == "count":
                total = total + z3.If(z3.And(exists, where.true), 1, 0)
                known.append(z3.Or(z3.Not(exists), where.true, where.false))
            elif node.kind == "sum" and node.value is not None:
                item = scope.value(node.value)
                total = total + z3.If(z3.And(exists, where.true), _real(item), 0)
                known.append(z3.Or(z3.Not(exists), z3.And(where.true, item.known), where.false))
            else:
                raise Unsupported(node.kind)
        kind = "number" if node.kind == "count" else "money"
        return Value(total if node.kind == "sum" else z3.ToReal(total), z3.And(*known) if known else z3.BoolVal(True), kind)

    def shift(self, base: Value, sign: int, duration: ast.Duration) -> Value:
        if duration.unit == "days":
            return Value(base.value + sign * duration.amount, base.known, "date")
        if duration.unit in ("months", "years"):
            months = duration.amount * (12 if duration.unit == "years" else 1) * sign
            start = self.split(base.value)
            new_year, new_month = self.claims.fresh("int", "year"), self.claims.fresh("int", "month")
            self.claims.constraints.append(
                12 * new_year + new_month - 1 == 12 * start.year + start.month - 1 + months)
            target = calendar(self.claims, new_year, new_month, None)
            length = month_length(new_month, target.leap)
            self.claims.constraints.append(target.day == z3.If(start.day <= length, start.day, length))
            return Value(target.ordinal, base.known, "date")
        # business days: public holidays at the location are not encoded
        self.uninterpreted.add(f"{duration.amount} business days (public holidays)")
        result = self.claims.fresh("date", "business")
        low = duration.amount
        high = duration.amount * 7 // 5 + 20
        if sign > 0:
            self.claims.constraints.append(z3.And(result >= base.value + low, result <= base.value + high))
        else:
            self.claims.constraints.append(z3.And(result <= base.value - low, result >= base.value - high))
        return Value(result, base.known, "date")

    def split(self, day_value: Any) -> Calendar:
        key = day_value.hash() if hasattr(day_value, "hash") else hash(str(day_value))
        for known_value, found in self.claims.splits.get(key, []):
            if known_value.eq(day_value):
                return found
        split = self._split(day_value)
        self.claims.splits.setdefault(key, []).append((day_value, split))
        return split

    def _split(self, day_value: Any) -> Calendar:
        year, month, day = (self.claims.fresh("int", hint) for hint in ("year", "month", "day"))
        split = calendar(self.claims, year, month, day)
        self.claims.constraints.append(z3.And(day >= 1, day <= month_length(month, split.leap),
                                              split.ordinal == day_value))
        return split

    def call(self, node: ast.Call) -> Value:
        args = node.args
        if node.name == "coalesce":
            values = [self.value(arg) for arg in args]
            result = values[-1].value
            for value in reversed(values[:-1]):
                result = z3.If(value.known, value.value, result)
            return Value(result, z3.Or(*[v.known for v in values]), values[0].kind)
        if node.name in ("max", "min"):
            values = [self.value(arg) for arg in args]
            result = values[0].value
            for value in values[1:]:
                pick = value.value > result if node.name == "max" else value.value < result
                result = z3.If(pick, value.value, result)
            return Value(result, z3.And(*[v.known for v in values]), values[0].kind)
        if node.name == "next_on" and all(isinstance(a, ast.Const) for a in args[1:]):
            base = self.value(args[0])
            month, day = int(args[1].value), int(args[2].value)  # type: ignore[union-attr, arg-type]
            year = self.split(base.value).year
            this_year = calendar(self.claims, year, z3.IntVal(month), z3.IntVal(day)).ordinal
            next_year = calendar(self.claims, year + 1, z3.IntVal(month), z3.IntVal(day)).ordinal
            return Value(z3.If(this_year > base.value, this_year, next_year), base.known, "date")
        raise Unsupported(f"{node.name}()")


class _ItemScope(PolicyFormulas):
    """Conditions inside ``count``/``any``/``sum``: ``item.x`` is the field of one list slot."""

    def __init__(self, outer: PolicyFormulas, collection: str, index: int) -> None:
        self.__dict__.update(outer.__dict__)
        self._rules = {}   # what a rule means can depend on the item: encoded afresh in the scope
        self._outer = outer
        self._collection, self._index = collection, index

    def value(self, node: ast.Expr) -> Value:
        if isinstance(node, ast.Fact) and node.path.startswith("item."):
            return self.claims.item_field(self._collection, self._index, node.path[5:])
        return super().value(node)

    def truth(self, node: ast.Expr) -> Truth:
        try:
            return self._truth(node)
        except Unsupported as problem:
            self._outer.uninterpreted.add(str(problem))
            fresh = self.claims.fresh("bool", "uninterpreted")
            other = self.claims.fresh("bool", "uninterpreted")
            self.claims.constraints.append(z3.Not(z3.And(fresh, other)))
            return Truth(fresh, other)


_OPS = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _all(parts: list[Truth]) -> Truth:
    return Truth(z3.And(*[p.true for p in parts]), z3.Or(*[p.false for p in parts]))


def _real(value: Value) -> Any:
    if value.kind == "date":
        raise Unsupported("arithmetic on dates")
    raw = value.value
    if isinstance(raw, z3.ArithRef) and raw.is_int():
        return z3.ToReal(raw)
    return raw


def _is_boolean(node: ast.Expr) -> bool:
    if isinstance(node, ast.Labelled):
        return _is_boolean(node.item)
    if isinstance(node, (ast.Quantified, ast.GrantQuery)):
        return node.kind == "any"
    if isinstance(node, ast.Table):
        return node.aggregate is None and all(_is_boolean(row.value) for row in node.rows)
    return isinstance(node, ast.BOOLEAN_NODES) or (isinstance(node, ast.Const) and isinstance(node.value, bool))


def _unified(values: list[Value]) -> list[Value]:
    """Values of one table made one z3 sort: whole numbers become reals beside amounts."""
    if any(isinstance(v.value, z3.ArithRef) and not v.value.is_int() for v in values):
        return [Value(z3.ToReal(v.value), v.known, v.kind) if isinstance(v.value, z3.ArithRef) and v.value.is_int()
                and v.kind not in ("date", "text") else v for v in values]
    return values


def _table_kind(kinds: list[str]) -> str:
    for preferred in ("date", "money", "bool", "text"):
        if preferred in kinds:
            return preferred
    return kinds[0]


def _zero(like: Any) -> Any:
    if isinstance(like, z3.BoolRef):
        return z3.BoolVal(False)
    if isinstance(like, z3.ArithRef) and not like.is_int():
        return z3.RealVal(0)
    return z3.IntVal(0)


def territory_cells(policies: list[PolicySet]) -> list[tuple[str, str | None]]:
    """One location per cell of the partition the policies' code sets make of the world."""
    codes: set[str] = set()
    for policy in policies:
        for definition in policy.definitions.values():
            if definition.codes is not None:
                codes |= set(definition.codes)
    for named in NAMED_SETS.values():
        codes |= set(named) if codes & set(named) else set()
    cells: set[tuple[str, str | None]] = set()
    for code in codes:
        if "-" in code:
            cells.add((subdivision_country(code), code))
            cells.add((subdivision_country(code), None))
        else:
            cells.add((code, None))
    countries = {country for country, _ in cells}
    import pycountry

    for country in sorted(c.alpha_2 for c in pycountry.countries):
        if country not in countries:
            cells.add((country, None))   # a country no policy names
            break
    return sorted(cells, key=lambda cell: (cell[0], cell[1] or ""))


def iterate_models(solver: z3.Solver, block: list[Any], limit: int) -> Iterator[z3.ModelRef]:
    """Distinct models, each differing from the previous ones in the values of ``block``."""
    for _ in range(limit):
        if solver.check() != z3.sat:
            return
        model = solver.model()
        yield model
        solver.add(z3.Or(*[term != model.evaluate(term, model_completion=True) for term in block]))
