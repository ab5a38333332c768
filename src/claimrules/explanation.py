"""A decision explained as trees: each clause's condition as its and/or/not tree, with the value at
each leaf, the three-valued result at each node, and the leaves that decided it marked; and the
"why not" view: for a refused or downgraded request, the smallest set of failed tests that would
have had to come out the other way.

Core module: a value (``Explanation``, frozen pydantic) built from the compiled policy, the claim
and its decision; ``claimrules.render.explain`` lays it out as text, and its JSON round-trips.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from claimrules.decision import ClauseTrace, Decision, Truth
from claimrules.engine.evaluate import render_value
from claimrules.facts import ClaimFacts, fact_values
from claimrules.money import Money
from claimrules.policy import expr as ast
from claimrules.policy.model import REFUSING_EFFECTS, Clause, Effect
from claimrules.reasons import Evaluator, deciding_leaves
from claimrules.words import place_name


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LeafValue(_Value):
    name: str
    value: str


class ConditionNode(_Value):
    """``kind``: ``all``, ``any``, ``not`` (with ``items``) or ``test`` (a leaf, with ``values``)."""

    kind: Literal["all", "any", "not", "test"]
    text: str
    label: str | None = None
    result: Truth
    decided: bool = False
    values: tuple[LeafValue, ...] = ()
    items: tuple[ConditionNode, ...] = ()


class ClauseExplanation(_Value):
    clause: str
    version: str | None = None
    title: str
    effect: str
    otherwise: str | None = None
    result: Truth
    otherwise_result: Truth | None = None
    condition: ConditionNode | None = None


class DocumentExplanation(_Value):
    id: str
    title: str
    applies: Truth
    condition: ConditionNode | None = None
    folded: int = 0
    clauses: tuple[ClauseExplanation, ...] = ()


class Needed(_Value):
    """A test that would have had to come out ``needed`` for the request to be granted."""

    clause: str
    test: str
    label: str | None = None
    needed: Truth
    result: Truth
    values: tuple[LeafValue, ...] = ()


class WhyNot(_Value):
    request: str
    needed: tuple[Needed, ...] = ()


class Explanation(_Value):
    decision_id: str
    outcome: str
    deciding: str
    reasons: tuple[str, ...] = ()
    why_not: WhyNot | None = None
    documents: tuple[DocumentExplanation, ...] = ()
    trace: tuple[ClauseTrace, ...] = ()
    """The decision's flat trace, for tools that read it (not part of the text)."""


def _truth(value: Any) -> Truth:
    return "unknown" if value is None else "true" if value is True else "false"


def short_value(value: Any) -> str:
    """A value compact and unambiguous for an agent: ISO dates, ``USD 899.00``, ``{ADP, ONSITE}``;
    as the trace shows it (``render_value``), but a group of facts is only "given"."""
    if isinstance(value, BaseModel) and not isinstance(value, Money):
        return "given"
    return render_value(value)


class Explainer:
    """Builds the explanation of one claim's decision against a compiled policy set."""

    def __init__(self, program: Any, facts: ClaimFacts) -> None:
        self.program = program
        self.policy = program.policy
        evaluation = program.evaluate(fact_values(facts))
        self.truth = evaluation.truth
        self.evaluator = Evaluator(program, evaluation.context)

    # -- trees -----------------------------------------------------------------------------------
    def leaf_values(self, node: ast.Expr) -> tuple[LeafValue, ...]:
        ev = self.evaluator
        found: list[LeafValue] = []
        operands: tuple[ast.Expr, ...] = ()
        if isinstance(node, ast.Compare):
            operands = (node.left, node.right)
        elif isinstance(node, ast.Within):
            operands = (node.event, node.anchor)
        elif isinstance(node, ast.Member):
            operands = (node.item,) if not isinstance(node.container, ast.Fact) else (node.container,)
            if isinstance(node.container, ast.Ref):
                definition = self.policy.definitions.get(node.container.name)
                if definition is not None and definition.codes is not None:
                    ctx = ev.ctx
                    roles = self.policy.vocabulary.roles
                    code = next((ctx.values.get(roles[role]) for role in ("subdivision", "country")
                                 if role in roles and ctx.values.get(roles[role])), None)
                    group = roles["country"].rsplit(".", 1)[0] if "country" in roles else "place"
                    found.append(LeafValue(name=group, value=f"{code} ({place_name(code)})" if code else "unknown"))
                    operands = ()
        elif isinstance(node, ast.Known):
            operands = (node.operand,)
        elif isinstance(node, (ast.Fact, ast.Quantified)):
            operands = (node,)
        for operand in operands:
            if isinstance(operand, (ast.Const, ast.SetOf)) or (isinstance(operand, ast.Fact) and operand.path.startswith("item.")):
                continue
            found.append(LeafValue(name=operand.text or getattr(operand, "path", "") or getattr(operand, "name", ""),
                                   value=short_value(ev.value(operand))))
        if isinstance(node, ast.Within):
            end = ev.value(ast.Shift(node.anchor, 1, node.duration))
            found.append(LeafValue(name="period ends", value=short_value(end)))
        return tuple(found)

    def tree(self, node: ast.Expr, marked: set[int]) -> ConditionNode:
        value = self.evaluator.truth(node)
        if isinstance(node, ast.Labelled) and isinstance(node.item, (ast.All, ast.AnyOf, ast.Not)):
            inner = self.tree(node.item, marked)
            return inner.model_copy(update={"label": node.label, "decided": id(node) in marked or inner.decided})
        label = None
        if isinstance(node, ast.Labelled):
            label, node = node.label, node.item
        if isinstance(node, (ast.All, ast.AnyOf)):
            return ConditionNode(kind="all" if isinstance(node, ast.All) else "any",
                                 text="all of" if isinstance(node, ast.All) else "any of", label=label,
                                 result=_truth(value), items=tuple(self.tree(item, marked) for item in node.items))
        if isinstance(node, ast.Not):
            return ConditionNode(kind="not", text="not", label=label, result=_truth(value),
                                 items=(self.tree(node.item, marked),))
        return ConditionNode(kind="test", text=node.text or "true", label=label, result=_truth(value),
                             decided=id(node) in marked, values=self.leaf_values(node))

    def marks(self, node: ast.Expr, value: bool | None) -> set[int]:
        """The tests that decided ``node``, through named (labelled) groups down to their leaves."""
        marked: set[int] = set()
        for leaf, leaf_value in deciding_leaves(node, value, self.evaluator):
            marked |= {id(leaf), id(_unlabelled(leaf))}
            if isinstance(leaf, ast.Labelled) and isinstance(leaf.item, (ast.All, ast.AnyOf, ast.Not)):
                marked |= self.marks(leaf.item, leaf_value)
        return marked

    def clause(self, clause: Clause) -> ClauseExplanation:
        parts = [part for part in (clause.applies, clause.when) if part is not None]
        condition = parts[0] if len(parts) == 1 else ast.All(tuple(parts), text=" and ".join(p.text for p in parts))
        applies = self.evaluator.truth(clause.applies) if clause.applies is not None else True
        decisive = clause.when if clause.when is not None and applies is True else condition
        value = self.evaluator.truth(decisive)
        marked = self.marks(decisive, value)
        otherwise = self.truth.get(clause.otherwise_key) if clause.otherwise is not None else None
        return ClauseExplanation(
            clause=clause.id, version=clause.version, title=clause.title, effect=clause.effect.value,
            otherwise=clause.otherwise.value if clause.otherwise else None,
            result=_truth(self.truth.get(clause.key)),
            otherwise_result=_truth(otherwise) if clause.otherwise is not None else None,
            condition=self.tree(condition, marked))

    # -- why not ---------------------------------------------------------------------------------
    def smallest_fix(self, node: ast.Expr, want: bool) -> list[tuple[ast.Expr, bool]]:
        """The fewest leaves that would have to change for ``node`` to come out ``want``."""
        if isinstance(node, ast.Labelled):
            return self.smallest_fix(node.item, want)
        if isinstance(node, ast.Not):
            return self.smallest_fix(node.item, not want)
        if isinstance(node, (ast.All, ast.AnyOf)):
            every = isinstance(node, ast.All) == want
            fixes = [self.smallest_fix(item, want) for item in node.items]
            if every:
                return [leaf for fix in fixes for leaf in fix]
            return min(fixes, key=len) if fixes else []
        return [] if self.evaluator.truth(node) is want else [(node, want)]

    def needed(self, clause: Clause, leaves: list[tuple[ast.Expr, bool]]) -> list[Needed]:
        return [Needed(clause=clause.id, test=leaf.text, needed=_truth(want), result=_truth(self.evaluator.truth(leaf)),
                       values=self.leaf_values(leaf)) for leaf, want in leaves]

    def why_not(self, decision: Decision) -> WhyNot | None:
        if decision.outcome == "deny":
            needed: list[Needed] = []
            for citation in decision.grounds:
                clause = self.policy.clauses_by_key.get(citation.clause if not citation.version
                                                        else f"{citation.clause}@{citation.version}")
                if clause is None:
                    continue
                if clause.otherwise is not None and self.truth.get(clause.otherwise_key) is True and clause.when is not None:
                    needed += self.needed(clause, self.smallest_fix(clause.when, True))
                elif clause.effect in REFUSING_EFFECTS and self.truth.get(clause.key) is True:
                    parts = tuple(part for part in (clause.applies, clause.when) if part is not None)
                    if parts:
                        needed += self.needed(clause, self.smallest_fix(ast.All(parts), False))
                elif clause.effect in (Effect.COVERS, Effect.EXTENDS) and self.truth.get(clause.key) is not True:
                    parts = tuple(part for part in (clause.applies, clause.when) if part is not None)
                    if parts:  # nothing covered the claim: what the covering ground needed
                        needed += self.needed(clause, self.smallest_fix(ast.All(parts), True))
            return WhyNot(request="an approval", needed=tuple(needed))
        if decision.outcome == "approve" and decision.remedy_clause:
            given = self.policy.clauses_by_key.get(decision.remedy_clause)
            documents = {citation.document for citation in decision.grounds}
            better = [clause for document in self.policy.documents if document.id in documents
                      for clause in document.clauses
                      if clause.effect == Effect.REMEDY and given is not None and clause.priority > given.priority
                      and self.truth.get(clause.key) is not True and clause.when is not None]
            if not better:
                return None
            needed = []
            for clause in sorted(better, key=lambda clause: clause.id):
                parts = tuple(part for part in (clause.applies, clause.when) if part is not None)
                needed += self.needed(clause, self.smallest_fix(ast.All(parts), True))
            return WhyNot(request=" or ".join(sorted({clause.remedy or clause.id for clause in better})).replace("_", " "),
                          needed=tuple(needed))
        return None

    # -- the whole ------------------------------------------------------------------------------
    def explain(self, decision: Decision) -> Explanation:
        documents = []
        for document in self.policy.documents:
            applies = self.truth.get(f"doc:{document.id}", True if document.applies_when is None else None)
            condition = None
            if document.applies_when is not None:
                marked = self.marks(document.applies_when, applies)
                condition = self.tree(document.applies_when, marked)
            rules = [clause for clause in document.clauses if clause.when is not None or clause.applies is not None]
            if applies is False:
                documents.append(DocumentExplanation(id=document.id, title=document.title, applies="false",
                                                     condition=condition, folded=len(rules)))
                continue
            documents.append(DocumentExplanation(
                id=document.id, title=document.title, applies=_truth(applies), condition=condition,
                clauses=tuple(self.clause(clause) for clause in rules)))
        return Explanation(
            decision_id=decision.decision_id, outcome=decision.outcome, deciding=decision.deciding.clause,
            reasons=tuple(f"{reason.clause}: {reason.text}" for reason in decision.reasons),
            why_not=self.why_not(decision), documents=tuple(documents), trace=decision.trace)


def _unlabelled(node: ast.Expr) -> ast.Expr:
    return node.item if isinstance(node, ast.Labelled) else node


def explain(program: Any, facts: ClaimFacts, decision: Decision) -> Explanation:
    """The explanation of ``decision`` (made for ``facts`` by ``program``, a compiled policy set)."""
    return Explainer(program, facts).explain(decision)


ConditionNode.model_rebuild()
