"""``claimrules diff OLD NEW``: the claims two versions of a policy set decide differently.

Method. A decision is a function of which rules hold (documents that apply, clause conditions,
'otherwise' branches) and of the amounts. So two versions can only decide a claim differently if
some changed rule - a clause or document whose condition, after expanding definitions and
``holds()``, or whose attributes (effect, remedy, priority, overrides, amounts...) differ - holds
differently or holds at all. For every changed rule the solver is asked for claims in that region,
on each seed claim in turn; models are enumerated so that each differs in which of the changed
rules hold; each model becomes a claim that both versions decide. Only claims whose outcome,
remedy, fees or deciding clause really differ are reported, grouped by (old decision, new decision).

What is proven and what is not: an UNSAT region is proven empty (up to the encoding's
over-approximations, which only add claims). A reported change is real: both engines decided the
witness. Witnesses are built on the seeds' shapes (see ``witness``), so a change reachable only by a
claim shaped unlike every seed (an optional group no seed gives, dates in an order no seed has)
can be missed; ``--claims`` replays real claims through both versions as a complement.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import z3

from claimrules.analysis.solver import Claims, PolicyFormulas, place_of, territory_cells, vocabulary
from claimrules.analysis.witness import Seed, build_claim, defaults_for, derived_kinds, seed_constraints
from claimrules.decision import Decision
from claimrules.errors import ClaimrulesError
from claimrules.policy import expr as ast
from claimrules.policy.model import DECIDING_EFFECTS, REFUSING_EFFECTS, Clause, Document, Effect, PolicySet

if TYPE_CHECKING:
    from claimrules.api import CompiledPolicy

MODELS_PER_SEED = 6
SOLVER_TIMEOUT_MS = 4000


@dataclass(frozen=True)
class Verdict:
    outcome: str
    remedy: str | None
    deciding: str
    amounts: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, decision: Decision) -> Verdict:
        return cls(decision.outcome, decision.remedy, decision.deciding.clause,
                   tuple(sorted((a.kind, str(a.money)) for a in decision.amounts)))

    def __str__(self) -> str:
        text = f"{self.outcome} under {self.deciding}"
        if self.remedy:
            text += f" ({self.remedy})"
        if self.amounts:
            text += ", " + ", ".join(f"{kind} {money}" for kind, money in self.amounts)
        return text


@dataclass
class Change:
    rule: str
    description: str
    old: Verdict
    new: Verdict
    witness: dict[str, Any]
    seed: str
    count: int = 1

    @property
    def kind(self) -> str:
        """'outcome' when outcome, remedy or amounts change; 'deciding' when only the deciding clause does."""
        same = (self.old.outcome, self.old.remedy, self.old.amounts) == (self.new.outcome, self.new.remedy, self.new.amounts)
        return "deciding" if same else "outcome"


@dataclass
class DiffReport:
    changed_rules: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    replayed: list[tuple[str, Verdict, Verdict]] = field(default_factory=list)
    uninterpreted: list[str] = field(default_factory=list)
    proven_empty: list[str] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return bool(self.changes or self.replayed)




# -- what changed ------------------------------------------------------------------------------------

_IGNORED = {"source", "text", "title", "notice"}


def _expanded(policy: PolicySet, node: ast.Expr | None, seen: frozenset[str] = frozenset()) -> str:
    """A condition with definitions and holds() written out, to compare two versions."""
    if node is None:
        return "-"
    if isinstance(node, ast.Ref):
        definition = policy.definitions.get(node.name)
        if definition is None:
            return f"?{node.name}"
        if definition.value is not None and node.name not in seen:
            return f"({_expanded(policy, definition.value, seen | {node.name})})"
        if definition.codes is not None:
            return "codes" + repr(sorted(definition.codes))
        return "constants" + repr(sorted(map(str, definition.constants or ())))
    if isinstance(node, ast.Holds):
        if node.clause in seen:
            return f"holds({node.clause})"
        variants = [c for d in policy.documents for c in d.clauses if c.id == node.clause]
        return "holds(" + "|".join(_expanded(policy, ast.All(tuple(p for p in (c.applies, c.when) if p is not None)),
                                             seen | {node.clause}) for c in variants) + ")"
    parts = [type(node).__name__]
    for item in fields(node):
        if item.name == "text":
            continue
        value = getattr(node, item.name)
        if isinstance(value, tuple) and value and isinstance(value[0], ast.Node):
            parts.append("[" + ",".join(_expanded(policy, v, seen) for v in value) + "]")
        elif isinstance(value, ast.Node):
            parts.append(_expanded(policy, value, seen))  # type: ignore[arg-type]
        else:
            parts.append(repr(value))
    return "(" + " ".join(parts) + ")"


def _signature(policy: PolicySet, document: Document, clause: Clause) -> str:
    parts = [document.id, _expanded(policy, document.applies_when)]
    for item in fields(clause):
        if item.name in _IGNORED:
            continue
        value = getattr(clause, item.name)
        if isinstance(value, ast.Node):
            parts.append(_expanded(policy, value))  # type: ignore[arg-type]
        elif isinstance(value, tuple) and value and hasattr(value[0], "amount"):
            parts.append(repr([(_expanded(policy, case.when), _expanded(policy, case.amount)) for case in value]))
        else:
            parts.append(repr(value))
    earlier = [(v.version, _expanded(policy, v.applies_when)) for v in document.earlier_versions]
    parts.append(repr(earlier))
    return "|".join(parts)


def _clauses(policy: PolicySet) -> dict[str, tuple[Document, Clause]]:
    return {clause.key: (document, clause) for document in policy.documents for clause in document.clauses}


def changed_rules(old: PolicySet, new: PolicySet) -> list[str]:
    """Keys of the clauses whose meaning differs between two versions (sorted)."""
    before, after = _clauses(old), _clauses(new)
    changed = []
    for key in sorted(set(before) | set(after)):
        if key not in before or key not in after:
            changed.append(key)
        elif _signature(old, *before[key]) != _signature(new, *after[key]):
            changed.append(key)
    tie = (old.tie_order != new.tie_order, old.otherwise_clause != new.otherwise_clause,
           old.information_clause != new.information_clause)
    if any(tie):
        changed.append("(policy set precedence)")
    return changed


# -- the search --------------------------------------------------------------------------------------

def _quiet(old: PolicyFormulas, new: PolicyFormulas, key: str) -> list[z3.BoolRef]:
    """No refusal of the same document other than ``key``'s holds: where a change in one rule shows
    in that document's answer (another document may still answer the claim, LW 1.7)."""
    out = []
    for formulas in (old, new):
        home = _clauses(formulas.policy).get(key)
        for document in formulas.policy.documents:
            if home is None or document.id != home[0].id:
                continue
            for clause in document.clauses:
                if clause.key == key or (clause.when is None and clause.applies is None):
                    continue
                if clause.effect in REFUSING_EFFECTS or clause.effect == Effect.REFERS:
                    out.append(z3.Not(formulas.active(document, clause)))
                if clause.otherwise is not None:
                    out.append(z3.Not(formulas.active_otherwise(document, clause)))
    return out


def _region(old: PolicyFormulas, new: PolicyFormulas, key: str) -> tuple[z3.BoolRef, list[z3.BoolRef]]:
    """Claims where the rule ``key`` can make the versions differ, and the terms to enumerate over."""
    terms: list[z3.BoolRef] = []
    sides = []
    for formulas in (old, new):
        found = _clauses(formulas.policy).get(key)
        if found is None:
            sides.append((z3.BoolVal(False), z3.BoolVal(False)))
            continue
        document, clause = found
        sides.append((formulas.active(document, clause), formulas.active_otherwise(document, clause)))
    (a_old, o_old), (a_new, o_new) = sides
    terms = [a_old, o_old, a_new, o_new]
    # enumerate claims that differ in what else holds, so each kind of decision the region holds is met
    found_in = {document.id for formulas in (old, new) for document, clause in
                [_clauses(formulas.policy).get(key, (None, None))] if document is not None}
    for formulas in (old, new):
        for document in formulas.policy.documents:
            terms.append(formulas.applies(document))
            if document.id not in found_in and not document.regional:
                continue
            for clause in document.clauses:
                if clause.effect in DECIDING_EFFECTS and clause.key != key:
                    terms.append(formulas.active(document, clause))
    before, after = _clauses(old.policy).get(key), _clauses(new.policy).get(key)
    attributes_differ = before is None or after is None or _attributes(before[1]) != _attributes(after[1])
    if attributes_differ:
        return z3.Or(a_old, o_old, a_new, o_new), terms
    return z3.Or(a_old != a_new, o_old != o_new), terms


def _attributes(clause: Clause) -> tuple[Any, ...]:
    return (clause.effect, clause.otherwise, clause.overrides, clause.remedy, clause.priority, clause.refer_to,
            clause.party, clause.over, clause.requires, clause.fee_kind, repr(clause.amount), repr(clause.refund),
            clause.if_outcome)


def semantic_diff(old: CompiledPolicy, new: CompiledPolicy, seeds: list[Seed], schema: Mapping[str, Any],
                  *, models_per_seed: int = MODELS_PER_SEED, max_changes_per_rule: int = 8) -> DiffReport:
    report = DiffReport(changed_rules=changed_rules(old.policy, new.policy))
    facts = vocabulary(schema)
    cells = territory_cells([old.policy, new.policy])
    default_item = defaults_for(facts, seeds)
    found: dict[tuple[str, Verdict, Verdict], Change] = {}
    uninterpreted: set[str] = set()
    kinds = derived_kinds(seeds)
    for key in report.changed_rules:
        if key.startswith("("):
            continue
        claims = Claims(facts, kinds)
        claims.location_cells = cells
        claims.place = place_of(new.policy.vocabulary)
        old_f, new_f = PolicyFormulas(old.policy, claims), PolicyFormulas(new.policy, claims)
        region, terms = _region(old_f, new_f, key)
        quiet = [z3.And(*_quiet(old_f, new_f, key))]
        shaped: dict[str, z3.BoolRef] = {}
        uninterpreted |= old_f.uninterpreted | new_f.uninterpreted
        base = [z3.And(region, *claims.constraints, *claims.text_constraints())]
        if _check(base) == z3.unsat:
            report.proven_empty.append(key)
            continue
        per_rule = 0
        # a fresh solver per query: z3's incremental mode (push/pop) gives up on these far sooner
        for seed, extra in [(seed, quiet) for seed in seeds] + [(seed, []) for seed in seeds]:
            if per_rule >= max_changes_per_rule:
                break
            solver = z3.Solver()
            solver.set("timeout", SOLVER_TIMEOUT_MS)
            if seed.name not in shaped:
                shaped[seed.name] = z3.And(*seed_constraints(claims, seed, cells))
            solver.add(*base, *extra, shaped[seed.name])
            for model in _models(solver, terms, models_per_seed):
                claim = build_claim(claims, model, seed, cells, default_item)
                verdicts = _decide_both(old, new, claim)
                if verdicts is None or verdicts[0] == verdicts[1]:
                    continue
                group = (key, verdicts[0], verdicts[1])
                if group in found:
                    found[group].count += 1
                    continue
                per_rule += 1
                found[group] = Change(key, _describe(old.policy, new.policy, key), verdicts[0], verdicts[1], claim, seed.name)
    report.changes = [found[group] for group in sorted(found, key=lambda g: (g[0], str(g[1]), str(g[2])))]
    report.uninterpreted = sorted(uninterpreted)
    return report


def _check(constraints: list[z3.BoolRef]) -> Any:
    solver = z3.Solver()
    solver.set("timeout", SOLVER_TIMEOUT_MS)
    solver.add(*constraints)
    return solver.check()


def _models(solver: z3.Solver, terms: list[z3.BoolRef], limit: int) -> Iterable[z3.ModelRef]:
    for _ in range(limit):
        if solver.check() != z3.sat:
            return
        model = solver.model()
        yield model
        solver.add(z3.Or(*[term != model.evaluate(term, model_completion=True) for term in terms]) if terms else z3.BoolVal(False))


def _decide_both(old: CompiledPolicy, new: CompiledPolicy, claim: dict[str, Any]) -> tuple[Verdict, Verdict] | None:
    try:
        return Verdict.of(old.adjudicate(claim)), Verdict.of(new.adjudicate(claim))
    except ClaimrulesError:
        return None


def _describe(old: PolicySet, new: PolicySet, key: str) -> str:
    before, after = _clauses(old).get(key), _clauses(new).get(key)
    if before is None and after is not None:
        return f"{key} is new: {_condition_text(after[1])}"
    if after is None and before is not None:
        return f"{key} was removed (it said: {_condition_text(before[1])})"
    assert before is not None and after is not None
    old_text, new_text = _condition_text(before[1]), _condition_text(after[1])
    if old_text != new_text:
        return f"{key}: the condition changed from «{old_text}» to «{new_text}»"
    if _attributes(before[1]) != _attributes(after[1]):
        names = [f.name for f in fields(before[1]) if f.name not in _IGNORED
                 and getattr(before[1], f.name) != getattr(after[1], f.name)]
        return f"{key}: {', '.join(names) or 'its wording'} changed"
    return f"{key}: a definition or clause it relies on changed"


def _condition_text(clause: Clause) -> str:
    parts = [part.text for part in (clause.applies, clause.when) if part is not None]
    return " and ".join(parts) if parts else "(always)"


def replay(old: CompiledPolicy, new: CompiledPolicy, claims: Iterable[tuple[str, dict[str, Any]]]) -> list[tuple[str, Verdict, Verdict]]:
    changed = []
    for name, claim in claims:
        verdicts = _decide_both(old, new, claim)
        if verdicts is not None and verdicts[0] != verdicts[1]:
            changed.append((name, verdicts[0], verdicts[1]))
    return changed


def text_report(report: DiffReport) -> str:
    lines = [f"rules that changed: {', '.join(report.changed_rules) or 'none'}"]
    if report.proven_empty:
        lines.append("changed rules no claim can reach differently (proven): " + ", ".join(report.proven_empty))
    outcome = [c for c in report.changes if c.kind == "outcome"]
    deciding = [c for c in report.changes if c.kind == "deciding"]
    if not report.changes:
        lines.append("no claim is decided differently (every changed rule's region was searched)")
    for title, group in (("decisions that change (outcome, remedy or amounts)", outcome),
                         ("same outcome, another deciding clause", deciding)):
        if not group:
            continue
        lines.append(f"{title}: {len(group)}")
        described = None
        for number, change in enumerate(group, start=1):
            if change.description != described:
                lines.append(f"  {change.description}")
                described = change.description
            lines.append(f"  {number}. {change.old}  ->  {change.new}")
            lines.append(f"     witness (built on {change.seed}; {change.count} model(s) alike): "
                         + json.dumps(change.witness, sort_keys=True))
    if report.replayed:
        lines.append(f"replayed claims decided differently: {len(report.replayed)}")
        for name, old, new in report.replayed:
            lines.append(f"  {name}: {old} -> {new}")
    if report.uninterpreted:
        lines.append("treated as uninterpreted (over-approximated): " + "; ".join(report.uninterpreted))
    return "\n".join(lines) + "\n"


def json_report(report: DiffReport) -> str:
    return json.dumps({
        "changed_rules": report.changed_rules,
        "changes": [{"rule": c.rule, "kind": c.kind, "description": c.description, "old": str(c.old), "new": str(c.new),
                     "old_outcome": c.old.outcome, "new_outcome": c.new.outcome, "witness": c.witness,
                     "seed": c.seed, "models": c.count} for c in report.changes],
        "replayed": [{"claim": name, "old": str(old), "new": str(new)} for name, old, new in report.replayed],
        "uninterpreted": report.uninterpreted,
    }, indent=2, sort_keys=True) + "\n"


__all__ = ["Change", "DiffReport", "Verdict", "changed_rules", "json_report", "replace", "replay", "semantic_diff",
           "text_report"]
