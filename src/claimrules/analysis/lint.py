"""``claimrules lint POLICY``: structural findings with file:line, and semantic findings proven by a
solver, each with a witness claim the engine confirms.

Structural (read off the policy model): a definition nothing uses; a document with no review step
(regional addenda excepted: their decisions are reviewed as the documents they displace say);
a clause with no wording; an ``overrides`` that names a clause of another document (it sets nothing
aside: a clause only sets aside clauses of its own document).

Semantic (``claimrules.analysis.solver``):

* **unreachable** - no claim makes the clause hold (applies and its condition) while its document
  applies. A proof (UNSAT), so it carries no witness.
* **shadowed** - the clause can hold, but whenever it holds a clause that overrides it holds too,
  so it never decides. Witness: a claim where it holds and is set aside.
* **conflict** - two clauses of one document that give different answers and that nothing orders:
  an extension (``extends``) that holds together with a window's refusal (an ``otherwise``
  branch) it does not override; or two remedy clauses of equal priority naming different
  remedies that hold together. (A refusal beside a covering ground is not a conflict: within a
  document a refusal prevails by the language's rule.) Witness: a claim where both hold.
* **overlap** - two rows of a ``unique`` decision table that can hold together: the engine refuses
  to pick one (an EvaluationError, no decision) for such a claim. Witness: a claim the engine
  refuses for those two rows.
* **gap** - a claim some document applies to, on which no clause of any document that applies
  decides anything (no covering, refusing or referring clause and no 'otherwise' branch holds),
  so only the policy set's default clause answers. Witness: such a claim. Not a gap: a claim the
  default clause rules out on its own terms (it is a clause of a document that applies and its
  condition is false), or one held for a missing fact (see ``_gaps``).

Example claims (``evidence``) are decided first: what they already show - a clause holds, holds
while none of its overriders does - is not asked of the solver.

A semantic finding is reported only when its witness, decided by the engine, shows what the
finding says (both clauses hold in the trace, the default decides, ...). What cannot be proven is
said: the encoding's uninterpreted parts are listed, and a search that finds no confirmed witness
reports nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import z3

from claimrules.analysis.solver import Claims, PolicyFormulas, Unsupported, place_of, territory_cells, vocabulary
from claimrules.analysis.witness import Seed, build_claim, defaults_for, derived_kinds, seed_constraints
from claimrules.decision import Decision
from claimrules.errors import ClaimrulesError
from claimrules.policy import expr as ast
from claimrules.policy.model import (
    COVERING_EFFECTS,
    DECIDING_EFFECTS,
    REFUSING_EFFECTS,
    Clause,
    Effect,
    PolicySet,
)

if TYPE_CHECKING:
    from claimrules.api import CompiledPolicy

SOLVER_TIMEOUT_MS = 4000
MODELS_PER_SEED = 2
MAX_CANDIDATES = 24   # claims decided per semantic finding before it is left unconfirmed


@dataclass
class Finding:
    kind: str
    where: str
    clause: str | None
    message: str
    witness: dict[str, Any] | None = None
    seed: str | None = None

    def line(self) -> str:
        head = f"{self.where}: {self.kind}: "
        if self.clause:
            head += f"clause {self.clause}: "
        return head + self.message


@dataclass
class LintReport:
    findings: list[Finding] = field(default_factory=list)
    uninterpreted: list[str] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)
    proven: list[str] = field(default_factory=list)   # what the solver proved that is not a finding


def _both_hold(trace_of: Callable[[Decision, str, str], bool], first: str, first_branch: str, second: str,
               second_branch: str) -> Callable[[Decision], bool]:
    def check(decision: Decision) -> bool:
        return trace_of(decision, first, first_branch) and trace_of(decision, second, second_branch)
    return check


# -- structural ----------------------------------------------------------------------------------------

def _used_definitions(policy: PolicySet) -> set[str]:
    used: set[str] = set()

    def visit(node: ast.Expr | None) -> None:
        if node is not None:
            used.update(ast.refs_of(node))

    for document in policy.documents:
        visit(document.applies_when)
        for earlier in document.earlier_versions:
            visit(earlier.applies_when)
        for clause in document.clauses:
            for part in clause.expressions:
                visit(part)
    pending = list(used)
    while pending:
        definition = policy.definitions.get(pending.pop())
        if definition is not None and definition.value is not None:
            for name in ast.refs_of(definition.value) - used:
                used.add(name)
                pending.append(name)
    return used


def structural(policy: PolicySet) -> list[Finding]:
    findings: list[Finding] = []
    used = _used_definitions(policy)
    for name, definition in sorted(policy.definitions.items()):
        if name not in used:
            findings.append(Finding("unused-definition", str(definition.source), definition.clause,
                                    f"definition '{name}' is not used by any condition or amount"))
    owner = {clause.key: document.id for document in policy.documents for clause in document.clauses}
    for document in policy.documents:
        never = isinstance(document.applies_when, ast.Const) and document.applies_when.value is False
        # a regional addendum's decisions are reviewed as the documents it displaces say (RG 0.1)
        if not document.escalation and not document.regional and not never:
            findings.append(Finding("no-escalation", str(document.source), None,
                                    f"document {document.id} names no review step (escalation)"))
        if document.responsible not in policy.parties:
            findings.append(Finding("no-responsible-party", str(document.source), None,
                                    f"document {document.id} names no known responsible party"))
        for clause in document.clauses:
            if not clause.text.strip():
                findings.append(Finding("no-wording", str(clause.source), clause.id,
                                        "the clause quotes no contract wording (text)"))
            for target in clause.overrides:
                if owner.get(target, document.id) != document.id:
                    findings.append(Finding("override-elsewhere", str(clause.source), clause.id,
                                            f"overrides {target}, a clause of document {owner[target]}: "
                                            f"a clause only sets aside clauses of its own document"))
    return findings


# -- semantic ------------------------------------------------------------------------------------------

def _remedy_setter(clause: Clause) -> bool:
    return clause.remedy is not None and clause.effect in (Effect.REMEDY, *COVERING_EFFECTS)


def _orders(first: Clause, second: Clause) -> bool:
    return second.id in first.overrides or first.id in second.overrides


def semantic(compiled: CompiledPolicy, seeds: list[Seed], schema: Mapping[str, Any],
             evidence: list[dict[str, Any]] | None = None) -> LintReport:
    policy = compiled.policy
    report = LintReport()
    facts = vocabulary(schema)
    cells = territory_cells([policy])
    claims = Claims(facts, derived_kinds(seeds))
    claims.location_cells = cells
    claims.place = place_of(policy.vocabulary)
    formulas = PolicyFormulas(policy, claims)
    default_item = defaults_for(facts, seeds)

    active: dict[str, z3.BoolRef] = {}
    otherwise: dict[str, z3.BoolRef] = {}
    applies: dict[str, z3.BoolRef] = {}
    for document in policy.documents:
        applies[document.id] = formulas.applies(document)
        for clause in document.clauses:
            if clause.when is None and clause.applies is None:
                continue
            active[clause.key] = formulas.active(document, clause)
            otherwise[clause.key] = formulas.active_otherwise(document, clause)
    base = z3.And(*claims.constraints, *claims.text_constraints())
    shaped: dict[tuple[str, bool], z3.BoolRef] = {}

    def fresh_solver(*constraints: z3.BoolRef) -> z3.Solver:
        # a fresh solver per query: z3's incremental mode (push/pop) gives up on these far sooner
        solver = z3.Solver()
        solver.set("timeout", SOLVER_TIMEOUT_MS)
        solver.add(base, *constraints)
        return solver

    def shape_of(seed: Seed, lists_as_seed: bool) -> z3.BoolRef:
        key = (seed.name, lists_as_seed)
        if key not in shaped:
            shaped[key] = z3.And(*seed_constraints(claims, seed, cells, lists_as_seed=lists_as_seed))
        return shaped[key]

    def proven_impossible(*goals: z3.BoolRef) -> bool:
        return bool(fresh_solver(*goals).check() == z3.unsat)

    def witness(goals: list[z3.BoolRef], confirm: Callable[[Decision], bool],
                refused: Callable[[ClaimrulesError], bool] | None = None) -> tuple[dict[str, Any], str] | None:
        """A claim built from a model of ``goals`` that the engine confirms: its decision passes
        ``confirm``, or (with ``refused``) deciding and explaining it fails with an error that passes ``refused``."""
        budget = MAX_CANDIDATES
        for seed, lists_as_seed in [(seed, True) for seed in seeds] + [(seed, False) for seed in seeds]:
            solver = fresh_solver(*goals, shape_of(seed, lists_as_seed))
            for _ in range(MODELS_PER_SEED):
                if budget <= 0:
                    return None
                budget -= 1
                if solver.check() != z3.sat:
                    break
                model = solver.model()
                claim = build_claim(claims, model, seed, cells, default_item)
                try:
                    decision = compiled.adjudicate(claim)
                    if refused is not None:
                        decision.model_dump_json()  # the explanation evaluates every test: a table may fail there
                except ClaimrulesError as error:
                    if refused is not None and refused(error):
                        return claim, seed.name
                    decision = None
                if decision is not None and confirm(decision):
                    return claim, seed.name
                solver.add(z3.Or(*[goal != model.evaluate(goal, model_completion=True) for goal in active.values()]))
        return None

    def trace_of(decision: Decision, key: str, branch: str) -> bool:
        clause = policy.clauses_by_key.get(key)
        return any(row.clause == (clause.id if clause else key) and row.result == "true" and row.branch == branch
                   and (clause is None or row.version == clause.version) for row in decision.trace)

    # The example claims, decided once: a clause seen holding on one of them is reachable (and one
    # seen holding while none of its overriders does is not shadowed) without asking z3.
    claims_seen = evidence if evidence is not None else [seed.claim for seed in seeds]
    seen = [_holding(policy, decision) for decision in _decide_all(compiled, claims_seen)]

    def seen_holding(key: str, *not_holding: str) -> bool:
        return any(key in holding and not holding & set(not_holding) for holding in seen)

    for document in policy.documents:
        by_key = {clause.key: clause for clause in document.clauses}
        for clause in document.clauses:
            if clause.key not in active or clause.effect not in DECIDING_EFFECTS | {Effect.REMEDY, Effect.FEE}:
                continue
            if not seen_holding(clause.key) and proven_impossible(active[clause.key]):
                report.findings.append(Finding("unreachable", str(clause.source), clause.id,
                                               "no claim makes this clause hold while its document applies (proven)"))
                continue
            overriders = [other for other in document.clauses if clause.id in other.overrides and other.key in active]
            if (overriders and not seen_holding(clause.key, *[o.key for o in overriders])
                    and proven_impossible(active[clause.key], *[z3.Not(active[o.key]) for o in overriders])):
                def set_aside(decision: Decision, shadowed: Clause = clause) -> bool:
                    return any(row.clause == shadowed.id and row.set_aside_by is not None for row in decision.trace)

                found = witness([active[clause.key]], set_aside)
                if found is not None:
                    report.findings.append(Finding(
                        "shadowed", str(clause.source), clause.id,
                        "whenever it holds, " + " or ".join(o.id for o in overriders) + " sets it aside: it never decides",
                        *found))
        # conflicts within the document
        clauses = [c for c in document.clauses if c.key in active]
        for first in clauses:
            for second in clauses:
                if first.key >= second.key and not (first.effect == Effect.EXTENDS):
                    continue
                kind = None
                if (first.effect == Effect.EXTENDS and second.otherwise in REFUSING_EFFECTS
                        and first.key != second.key and not _orders(first, second)):
                    goals = [active[first.key], otherwise[second.key]]
                    kind = (f"{first.id} extends (approval) while {second.id}'s 'otherwise' refuses, "
                            f"and neither overrides the other")
                    check = _both_hold(trace_of, first.key, "when", second.key, "otherwise")
                elif (first.key < second.key and _remedy_setter(first) and _remedy_setter(second)
                      and first.remedy != second.remedy and first.priority == second.priority
                      and not _orders(first, second)):
                    goals = [active[first.key], active[second.key]]
                    kind = (f"{first.id} ({first.remedy}) and {second.id} ({second.remedy}) set different "
                            f"remedies with the same priority ({first.priority}), and neither overrides the other")
                    check = _both_hold(trace_of, first.key, "when", second.key, "when")
                if kind is None or proven_impossible(*goals):
                    continue
                found = witness(goals, check)
                if found is None:
                    report.unconfirmed.append(f"conflict {first.id} / {second.id}: the solver found candidates, "
                                              "none confirmed by the engine")
                    continue
                report.findings.append(Finding("conflict", str(first.source), first.id, kind, *found))
        del by_key
    _overlaps(policy, formulas, report, proven_impossible, witness)
    settled = {clause.key: formulas.settled_silent(document, clause)
               for document in policy.documents for clause in document.clauses if clause.key in active}
    # the default clause answering on its own terms: a clause of a document that applies, whose condition is false
    default_rules = [z3.And(applies[document.id], formulas.holds(clause).false)
                     for document in policy.documents for clause in document.clauses
                     if clause.id == policy.otherwise_clause and clause.key in active]
    on_its_terms = z3.Or(*default_rules) if default_rules else z3.BoolVal(False)
    _gaps(policy, report, active, otherwise, applies, settled, on_its_terms, proven_impossible, witness)
    report.uninterpreted = sorted(formulas.uninterpreted)
    return report


def _unique_tables(policy: PolicySet) -> list[tuple[str, str, ast.Table]]:
    """Every ``unique`` decision table: (file, what holds it, the table), in policy order."""
    found: list[tuple[str, str, ast.Table]] = []

    def collect(node: ast.Expr | None, where: str, holder: str) -> None:
        if node is not None:
            found.extend((where, holder, sub) for sub in ast.walk(node) if isinstance(sub, ast.Table) and sub.hit == "unique")

    for name, definition in sorted(policy.definitions.items()):
        collect(definition.value, str(definition.source), f"definition '{name}'")
    for document in policy.documents:
        for clause in document.clauses:
            for part in clause.expressions:
                collect(part, str(clause.source), f"clause {clause.id}")
    return found


def _overlaps(policy: PolicySet, formulas: PolicyFormulas, report: LintReport, proven_impossible: Callable[..., bool],
              witness: Callable[..., tuple[dict[str, Any], str] | None]) -> None:
    """Two rows of a ``unique`` table that can hold together (DMN's 'unique' hit policy broken).

    Reported with a claim the engine refuses for exactly those two rows; a pair the solver cannot
    rule out but no candidate confirms (the table is not evaluated on them, say) is noted as unconfirmed."""
    for where, holder, table in _unique_tables(policy):
        rows = [row for row in table.rows if row.when is not None]
        for index, first in enumerate(rows):
            for second in rows[index + 1:]:
                assert first.when is not None and second.when is not None
                try:
                    goals = [formulas.truth(first.when).true, formulas.truth(second.when).true]
                except Unsupported as problem:  # e.g. rows reading the items of a list
                    report.unconfirmed.append(f"overlap in the unique table of {holder}: not encoded ({problem})")
                    continue
                if proven_impossible(*goals):
                    continue
                texts = (first.when.text, second.when.text)

                def both_rows(error: ClaimrulesError, named: tuple[str, str] = (first.text, second.text)) -> bool:
                    message = str(error)
                    return "'unique' table both hold" in message and all(f"'{text}'" in message for text in named)

                found = witness(goals, lambda decision: False, both_rows)
                if found is None:
                    report.unconfirmed.append(f"overlap in the unique table of {holder}: rows '{texts[0]}' and "
                                              f"'{texts[1]}' can both hold, but no candidate claim was refused for it")
                    continue
                report.findings.append(Finding(
                    "overlap", where, holder.removeprefix("clause ") if holder.startswith("clause ") else None,
                    f"rows '{texts[0]}' and '{texts[1]}' of the unique table of {holder} can both hold: "
                    f"such a claim gets no decision (use 'first' to order them, or make the rows exclusive)", *found))


def _gaps(policy: PolicySet, report: LintReport, active: dict[str, z3.BoolRef], otherwise: dict[str, z3.BoolRef],
          applies: dict[str, z3.BoolRef], settled: dict[str, z3.BoolRef], on_its_terms: z3.BoolRef,
          proven_impossible: Callable[..., bool],
          witness: Callable[[list[z3.BoolRef], Callable[[Decision], bool]], tuple[dict[str, Any], str] | None]) -> None:
    """A gap: a claim a document applies to that no clause decides, so that only the policy set's
    default answers it.

    Not a gap: a claim on which the default clause is itself a clause of a document that applies
    and its condition is false - the default then answers on that clause's own terms, as the policy
    set declares (e.g. a default clause "not a covered defect", on a claim whose cause that clause
    rules out). Where every remaining claim leaves some deciding clause unknown (a fact it reads is
    missing), the engine holds it for that fact (the policy set's information clause) instead of
    answering with the default: that is proven and said, not reported.
    Witnesses are searched among the claims on which every deciding clause is settled."""
    deciding = [(document, clause) for document in policy.documents for clause in document.clauses
                if clause.key in active and clause.effect in DECIDING_EFFECTS]
    silent = [z3.Not(active[clause.key]) for _, clause in deciding]
    silent += [z3.Not(otherwise[clause.key]) for _, clause in deciding]
    quiet = [settled[clause.key] for _, clause in deciding]
    for document in policy.documents:
        if document.regional:
            continue
        goals = [applies[document.id], z3.Not(on_its_terms), *silent]
        if proven_impossible(*goals):
            continue
        goals = [applies[document.id], z3.Not(on_its_terms), *quiet]
        if proven_impossible(*goals):
            report.proven.append(f"no gap under {document.id}: every claim it applies to that no clause decides "
                                 + (f"and that {policy.otherwise_clause} does not rule out on its own terms " if
                                    not z3.is_false(on_its_terms) else "")
                                 + f"lacks a fact a deciding clause reads, so it is held for that fact "
                                   f"({policy.information_clause}), never answered by the default")
            continue

        def default_decides(decision: Decision) -> bool:
            deciding_rows = [row for row in decision.trace if row.result == "true"
                             and row.effect in {e.value for e in DECIDING_EFFECTS} and row.set_aside_by is None]
            return decision.deciding.clause == policy.otherwise_clause and not deciding_rows

        found = witness(goals, default_decides)
        if found is None:
            report.unconfirmed.append(f"gap under {document.id}: the solver found candidates, none confirmed")
            continue
        report.findings.append(Finding("gap", str(document.source), None,
                                       f"a claim document {document.id} applies to that no clause decides: only the "
                                       f"policy set's default ({policy.otherwise_clause}) answers it", *found))


def _decide_all(compiled: CompiledPolicy, claims: list[dict[str, Any]]) -> list[Decision]:
    decisions = []
    for claim in claims:
        try:
            decisions.append(compiled.adjudicate(claim))
        except ClaimrulesError:
            continue   # an example this policy's vocabulary refuses is no evidence
    return decisions


def _holding(policy: PolicySet, decision: Decision) -> frozenset[str]:
    """The rule keys that hold on a decided claim while their document applies (read off the trace)."""
    applying = {row.document for row in decision.trace if row.effect == "applies" and row.result == "true"}
    conditional = {document.id for document in policy.documents if document.applies_when is not None}
    keys = set()
    for row in decision.trace:
        if row.result != "true" or row.effect == "applies" or (row.document in conditional and row.document not in applying):
            continue
        key = f"{row.clause}@{row.version}" if row.version else row.clause
        keys.add(key + "!" if row.branch == "otherwise" else key)
    return frozenset(keys)


def text_report(report: LintReport) -> str:
    lines = []
    for finding in report.findings:
        lines.append(finding.line())
        if finding.witness is not None:
            lines.append(f"  witness (built on {finding.seed}): " + json.dumps(finding.witness, sort_keys=True))
    for note in report.unconfirmed:
        lines.append(f"note: {note}")
    for note in report.proven:
        lines.append(f"proven: {note}")
    if report.uninterpreted:
        lines.append("note: treated as uninterpreted (over-approximated): " + "; ".join(report.uninterpreted))
    lines.append(f"{len(report.findings)} finding(s)")
    return "\n".join(lines) + "\n"


def json_report(report: LintReport) -> str:
    return json.dumps({
        "findings": [{"kind": f.kind, "where": f.where, "clause": f.clause, "message": f.message,
                      "witness": f.witness, "seed": f.seed} for f in report.findings],
        "unconfirmed": report.unconfirmed, "uninterpreted": report.uninterpreted, "proven": report.proven,
    }, indent=2, sort_keys=True) + "\n"


def lint(compiled: CompiledPolicy, seeds: list[Seed], schema: Mapping[str, Any], *, semantic_checks: bool = True,
         evidence: list[dict[str, Any]] | None = None) -> LintReport:
    """Structural and semantic findings. ``seeds`` shape the witnesses; ``evidence`` (default: the
    seeds' claims) are example claims decided first, so that what they already show (a clause
    holds, holds without its overriders) is not asked of the solver."""
    report = semantic(compiled, seeds, schema, evidence) if semantic_checks else LintReport()
    report.findings = structural(compiled.policy) + report.findings
    return report


__all__ = ["Finding", "LintReport", "json_report", "lint", "structural", "text_report"]
