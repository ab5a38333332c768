"""Authority-capped exceptions (a policy's ``exceptions:`` declaration) as SMT formulas.

The same rule as ``claimrules.engine.grants.resolve_grants``, written for the solver:

* every grant - an item of the ``recorded`` list (at most ``MAX_ITEMS`` of them, as every list) or
  an event whose ``when`` holds - asks to move the window's end to its ``new_end``;
* it counts up to ``min(new_end, window_end + cap of its role)``; a role with no cap gives nothing
  (its grant ends where the window did, and is void);
* the window's end as validly extended is the least fixed point of
  ``end = max(end, until(g) for every grant g granted on or before end)`` from ``window_end``: with
  N grants, N + 1 rounds of that step reach it (each round that changes the end adds a grant to
  the valid ones; a round that adds none changes nothing after it), so it is unrolled exactly;
* a grant is ``void`` (no authority, or granted after that end), else ``capped`` (asked past its
  authority; ``over_by_days`` says by how much), else ``counted``.

Three-valued as the evaluator: the whole declaration is unknown when the window's end, a recorded
grant's role, dates, an event's condition or a holding event's dates are unknown. ``any(...)`` and
``count(...)`` over the grants are the evaluator's ``_grant_query``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import z3

from claimrules.analysis.solver import TRUE, PolicyFormulas, Truth, Unsupported, Value, constant
from claimrules.policy import expr as ast


@dataclass(frozen=True)
class Grant:
    """One possible grant: ``present`` when it exists in the claim; its fields as ``item.x`` sees them."""

    present: z3.BoolRef
    fields: dict[str, Value]


@dataclass
class EncodedExceptions:
    """An exceptions declaration over the symbolic claim: its end (a date value) and its grants."""

    formulas: PolicyFormulas
    end: Value
    grants: list[Grant]

    def _where(self, grant: Grant, where: ast.Expr | None) -> Truth:
        if where is None:
            return TRUE
        return _GrantScope(self.formulas, grant).truth(where)

    def any(self, where: ast.Expr | None) -> Truth:
        """``any(name where ...)``: true when a grant satisfies it, false when every grant fails it."""
        tests = [(grant.present, self._where(grant, where)) for grant in self.grants]
        known = self.end.known
        true = z3.Or(*[z3.And(present, test.true) for present, test in tests]) if tests else z3.BoolVal(False)
        false = z3.And(*[z3.Or(z3.Not(present), test.false) for present, test in tests]) if tests else z3.BoolVal(True)
        return Truth(z3.And(known, true), z3.And(known, false))

    def count(self, where: ast.Expr | None) -> Value:
        """``count(name where ...)``: known when the declaration and every grant's test are."""
        tests = [(grant.present, self._where(grant, where)) for grant in self.grants]
        total: Any = z3.IntVal(0)
        for present, test in tests:
            total = total + z3.If(z3.And(present, test.true), 1, 0)
        decided = [z3.Or(z3.Not(present), test.true, test.false) for present, test in tests]
        return Value(z3.ToReal(total), z3.And(self.end.known, *decided), "number")


class _GrantScope(PolicyFormulas):
    """Conditions inside ``any``/``count`` over grants: ``item.x`` is a field of one grant."""

    def __init__(self, outer: PolicyFormulas, grant: Grant) -> None:
        self.__dict__.update(outer.__dict__)
        self._rules = {}   # what a rule means can depend on the grant: encoded afresh in the scope
        self._grant = grant

    def value(self, node: ast.Expr) -> Value:
        if isinstance(node, ast.Fact) and node.path.startswith("item."):
            found = self._grant.fields.get(node.path[5:])
            if found is None:
                raise Unsupported(f"grant field '{node.path}'")
            return found
        return super().value(node)


def encode_exceptions(formulas: PolicyFormulas, node: ast.Exceptions) -> EncodedExceptions:
    claims = formulas.claims
    base = formulas.value(node.window_end)
    if base.kind != "date":
        raise Unsupported("an exceptions window_end that is not a date")
    limits = {grantor.role: formulas.shift(base, 1, grantor.cap) for grantor in node.grantors}
    known: list[z3.BoolRef] = [base.known, *[limit.known for limit in limits.values()]]
    # (kind, clause, present, role, granted_on, new_end)
    requests: list[tuple[str, str, z3.BoolRef, Value, Value, Value]] = []
    if node.recorded is not None:
        for index, (exists, _) in enumerate(claims.collection(node.recorded)):
            role = claims.item_field(node.recorded, index, node.role_field)
            granted = claims.item_field(node.recorded, index, node.granted_field)
            asked = claims.item_field(node.recorded, index, node.end_field)
            known.append(z3.Implies(exists, z3.And(role.known, granted.known, asked.known)))
            requests.append(("recorded", node.recorded_clause or "", exists, role, granted, asked))
    for event in node.events:
        holds = formulas.truth(event.when)
        granted, asked = formulas.value(event.granted_on), formulas.value(event.new_end)
        known.append(z3.Or(holds.true, holds.false))
        known.append(z3.Implies(holds.true, z3.And(granted.known, asked.known)))
        role = Value(constant(claims, event.role), z3.BoolVal(True), "text")
        requests.append((event.name, event.clause, holds.true, role, granted, asked))

    # each grant's authority, the limit of that authority and the end it may give
    shaped = []
    for kind, clause, present, role, granted, asked in requests:
        authority = z3.Or(*[role.value == constant(claims, name) for name in limits]) if limits else z3.BoolVal(False)
        limit: Any = base.value
        for name, cap in sorted(limits.items(), reverse=True):
            limit = z3.If(role.value == constant(claims, name), cap.value, limit)
        until = z3.If(authority, z3.If(asked.value < limit, asked.value, limit), base.value)
        shaped.append((kind, clause, present, role, granted, asked, authority, limit, until))

    end: Any = base.value
    for _ in range(len(shaped) + 1 if shaped else 0):
        step: Any = end
        for _kind, _clause, present, _role, granted, _asked, _authority, _limit, until in shaped:
            step = z3.If(z3.And(present, granted.value <= end, until > step), until, step)
        following = claims.fresh("date", "extended")
        claims.constraints.append(following == step)
        end = following

    grants = []
    for kind, clause, present, role, granted, asked, authority, limit, until in shaped:
        void = z3.Or(z3.Not(authority), granted.value > end)
        capped = z3.And(z3.Not(void), asked.value > limit)
        status = z3.If(void, constant(claims, "void"), z3.If(capped, constant(claims, "capped"), constant(claims, "counted")))
        over = z3.If(capped, asked.value - limit, 0)
        grants.append(Grant(present, {
            "kind": Value(constant(claims, kind), z3.BoolVal(True), "text"),
            "clause": Value(constant(claims, clause), z3.BoolVal(True), "text"),
            "role": role, "granted_on": granted, "new_end": asked,
            "end": Value(until, z3.BoolVal(True), "date"),
            "status": Value(status, z3.BoolVal(True), "text"),
            "over_by_days": Value(z3.ToReal(over), z3.BoolVal(True), "number"),
        }))
    return EncodedExceptions(formulas, Value(end, z3.And(*known), "date"), grants)


__all__ = ["EncodedExceptions", "Grant", "encode_exceptions"]
