"""What a condition *is*: a small, immutable AST that the engine, the linter and a solver all read.

Nodes are frozen dataclasses. Each keeps the source text it was parsed from (``text``), so a trace
can show the condition as the policy author wrote it. Nothing here evaluates anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, TypeAlias
from typing import Literal as TypingLiteral

from claimrules.money import Money

Scalar: TypeAlias = str | int | Decimal | bool | date | Money
DurationUnit: TypeAlias = TypingLiteral["days", "months", "years", "business_days"]
CompareOp: TypeAlias = TypingLiteral["==", "!=", "<", "<=", ">", ">="]


@dataclass(frozen=True, slots=True)
class Node:
    text: str = field(default="", compare=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Const(Node):
    value: Scalar


@dataclass(frozen=True, slots=True)
class Fact(Node):
    """A claim fact by its dotted path, e.g. ``product.condition``; ``item.x`` inside count/any."""

    path: str


@dataclass(frozen=True, slots=True)
class Ref(Node):
    """A named definition of the policy set, e.g. ``delivery_date`` or ``service_territory``."""

    name: str


@dataclass(frozen=True, slots=True)
class Duration(Node):
    amount: int
    unit: DurationUnit


@dataclass(frozen=True, slots=True)
class Shift(Node):
    """A date moved by a duration: ``delivery_date + 1 year``, ``incident.occurred_on - 12 months``."""

    base: Expr
    sign: int
    duration: Duration


@dataclass(frozen=True, slots=True)
class Arith(Node):
    """Money arithmetic: ``product.price * 0.15``, ``purchase.price + purchase.delivery_charge``."""

    op: TypingLiteral["+", "-", "*"]
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: CompareOp
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Member(Node):
    """``x in {'a', 'b'}`` or ``x in named_set``; ``negated`` for ``not in``."""

    item: Expr
    container: SetOf | Ref | Fact
    negated: bool = False


@dataclass(frozen=True, slots=True)
class SetOf(Node):
    items: tuple[Const, ...]


@dataclass(frozen=True, slots=True)
class Within(Node):
    """``event within N days after anchor``: anchor <= event <= anchor + N (day N included)."""

    event: Expr
    anchor: Expr
    duration: Duration


@dataclass(frozen=True, slots=True)
class Known(Node):
    """``x is known`` (negated: ``x is missing``)."""

    operand: Expr
    negated: bool = False


@dataclass(frozen=True, slots=True)
class All(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class AnyOf(Node):
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not(Node):
    item: Expr


@dataclass(frozen=True, slots=True)
class Labelled(Node):
    """A condition with the contract's own name for it, e.g. ``(a) in the United States or Canada``."""

    label: str
    item: Expr


@dataclass(frozen=True, slots=True)
class Quantified(Node):
    """``count(extensions where item.role == 'manager')``, ``any(...)`` or ``sum(list, item.x where ...)``."""

    kind: TypingLiteral["count", "any", "sum"]
    collection: str
    where: Expr | None
    value: Expr | None = None


@dataclass(frozen=True, slots=True)
class Holds(Node):
    """``holds('LW 5.1')``: another clause's condition, by clause id (a cross-document reference)."""

    clause: str


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A built-in function (see ``claimrules.engine.functions``)."""

    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Row(Node):
    """One row of a decision table: ``value`` when ``when`` holds (``when`` None: the 'otherwise' row).

    ``clause`` is the contract section the row encodes (cited in traces and documentation).
    """

    when: Expr | None
    value: Expr
    clause: str | None = None


@dataclass(frozen=True, slots=True)
class Table(Node):
    """A conditional value: a decision table with a declared hit policy (DMN's first / unique / collect).

    ``if c then a else b`` is the two-row table ``first: (c, a), (otherwise, b)``. ``collect`` combines
    the values of every row that holds with ``aggregate`` (max, min, sum or count).
    """

    hit: TypingLiteral["first", "unique", "collect"]
    rows: tuple[Row, ...]
    aggregate: TypingLiteral["max", "min", "sum", "count"] | None = None


@dataclass(frozen=True, slots=True)
class Grantor(Node):
    """How far one role may move a window's end (``manager: 60 days``)."""

    role: str
    cap: Duration


@dataclass(frozen=True, slots=True)
class GrantEvent(Node):
    """An event that counts as a grant (RT 3.4: a documented deployment is a manager's extension,
    recorded on the day it was documented, to 14 days after the deployment ends)."""

    name: str
    clause: str
    when: Expr
    role: str
    granted_on: Expr
    new_end: Expr


@dataclass(frozen=True, slots=True)
class Exceptions(Node):
    """Authority-capped exceptions to a window, declared by the policy (RT 3.1-3.4).

    Each grant (an item of the ``recorded`` list, or an event that holds) moves the end of
    ``window_end`` to its ``new_end``, at most its grantor role's cap after ``window_end``; a grant
    made after the window as already extended by valid grants had ended is void; the latest valid
    end governs. As a value the declaration is that end; ``any(name where item.status == 'capped')``
    and ``count(...)`` query its grants.
    """

    window_end: Expr
    recorded: str | None
    recorded_clause: str | None
    role_field: str
    granted_field: str
    end_field: str
    grantors: tuple[Grantor, ...]
    authority_clause: str | None
    void_clause: str | None
    events: tuple[GrantEvent, ...] = ()
    recorded_list: Fact | None = None


@dataclass(frozen=True, slots=True)
class GrantQuery(Node):
    """``any(rt_window_extended where item.status == 'void')`` or ``count(...)`` over a declaration's grants."""

    kind: TypingLiteral["count", "any"]
    declaration: Ref
    where: Expr | None


GRANT_FIELDS = frozenset({"kind", "clause", "role", "granted_on", "new_end", "end", "status", "over_by_days"})
"""The fields of one grant as ``item.x`` inside a GrantQuery: ``kind`` is 'recorded' or the event's
name, ``new_end`` the end asked for, ``end`` the end within the grantor's authority, ``status``
'counted', 'capped' or 'void', ``over_by_days`` how far past the authority it asked."""


Expr: TypeAlias = Const | Fact | Ref | Shift | Arith | Compare | Member | SetOf | Within | Known | All | AnyOf | Not | Labelled | Quantified | Holds | Call | Duration | Table | Row | Exceptions | GrantEvent | Grantor | GrantQuery

BOOLEAN_NODES = (Compare, Member, Within, Known, All, AnyOf, Not, Labelled, Holds)


def _exception_children(node: Exceptions) -> tuple[Expr, ...]:
    listed: tuple[Expr, ...] = (node.recorded_list,) if node.recorded_list is not None else ()
    return (node.window_end, *listed, *node.events)


#: Each node type's direct sub-expressions, in source order (a node type not here has none).
_CHILDREN: dict[type, Callable[[Any], tuple[Expr, ...]]] = {
    Shift: lambda node: (node.base, node.duration),
    Arith: lambda node: (node.left, node.right),
    Compare: lambda node: (node.left, node.right),
    Member: lambda node: (node.item, node.container),
    SetOf: lambda node: node.items,
    Within: lambda node: (node.event, node.anchor, node.duration),
    Known: lambda node: (node.operand,),
    All: lambda node: node.items,
    AnyOf: lambda node: node.items,
    Not: lambda node: (node.item,),
    Labelled: lambda node: (node.item,),
    Quantified: lambda node: tuple(part for part in (node.value, node.where) if part is not None),
    Call: lambda node: node.args,
    Table: lambda node: node.rows,
    Row: lambda node: (node.value,) if node.when is None else (node.when, node.value),
    Exceptions: _exception_children,
    GrantEvent: lambda node: (node.when, node.granted_on, node.new_end),
    GrantQuery: lambda node: (node.declaration,) if node.where is None else (node.declaration, node.where),
}


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of a node, in source order."""
    found = _CHILDREN.get(type(node))
    return found(node) if found is not None else ()


def walk(node: Expr) -> list[Expr]:
    """Every node of a tree, depth first, in source order."""
    out: list[Expr] = []
    stack: list[Expr] = [node]
    pop, push, add, kinds = stack.pop, stack.extend, out.append, _CHILDREN
    while stack:
        current = pop()
        add(current)
        found = kinds.get(type(current))
        if found is not None:
            push(reversed(found(current)))
    return out


def facts_of(node: Expr) -> set[str]:
    """The claim fact paths a condition reads directly (not through definitions)."""
    found: set[str] = set()
    for sub in walk(node):
        if isinstance(sub, Fact) and not sub.path.startswith("item."):
            found.add(sub.path)
        elif isinstance(sub, Quantified):
            found.add(sub.collection)
    return found


def refs_of(node: Expr) -> set[str]:
    return {sub.name for sub in walk(node) if isinstance(sub, Ref)}


def holds_of(node: Expr) -> set[str]:
    return {sub.clause for sub in walk(node) if isinstance(sub, Holds)}


def depth(node: Expr) -> int:
    best = 0
    stack: list[tuple[Expr, int]] = [(node, 1)]
    while stack:
        current, level = stack.pop()
        best = max(best, level)
        stack.extend((child, level + 1) for child in children(current))
    return best
