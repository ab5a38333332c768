"""A decision as plain text for a terminal or an e-mail, and as JSON."""

from __future__ import annotations

import json
from typing import Any

from claimrules.decision import Decision
from claimrules.vocabulary import Vocabulary
from claimrules.words import fact_label

OUTCOME_WORDS = {
    "approve": "APPROVED",
    "deny": "REFUSED",
    "refer": "REFERRED",
    "needs_information": "HELD: INFORMATION NEEDED",
}
REMEDY_WORDS = {
    "refund": "refund",
    "depot_repair": "mail-in depot repair, shipping both ways paid",
    "depot_repair_customer_ships": "mail-in depot repair once shipped to an address in the Service Territory, at your cost",
    "on_site_repair": "on-site repair by a technician",
    "repair_or_replacement": "repair or replacement",
    "replacement": "replacement",
    "repair": "repair",
    "refund_or_replacement": "refund or replacement, at your choice",
    "price_reduction_or_refund": "price reduction or refund",
}


def decision_text(decision: Decision, *, trace: bool = False, vocabulary: Vocabulary | None = None) -> str:
    """The decision in plain text. With the policy set's ``vocabulary`` (its facts.yaml), facts are
    named by their description there; without it, by their humanised path."""
    lines: list[str] = []
    lines.append(f"{OUTCOME_WORDS[decision.outcome]} under {decision.deciding.clause} (decision {decision.decision_id})")
    deciding = decision.reason(decision.deciding.clause)
    if deciding is not None:
        lines.append(f"Why: {deciding.text}")
    lines.append(f"Decided on {decision.decided_on.isoformat()} under policy set {decision.policy.id} "
                 f"({', '.join(decision.policy.documents)})")
    if decision.under_addendum:
        lines.append(f"Decided under the regional addendum {decision.under_addendum}")
    lines.append(f"Deciding clause: {decision.deciding.clause} {decision.deciding.title}")
    if decision.remedy:
        remedy = REMEDY_WORDS.get(decision.remedy, decision.remedy)
        lines.append(f"Remedy: {remedy}" + (f" (under {decision.remedy_clause})" if decision.remedy_clause else ""))
    for amount in decision.amounts:
        lines.append(f"{amount.kind.replace('_', ' ').capitalize()}: {amount.money} ({amount.clause})")
    if decision.referred_to:
        lines.append(f"Referred to: {decision.referred_to}")
    if decision.missing_facts:
        lines.append("Facts needed before a decision: " + ", ".join(fact_label(path, vocabulary) for path in decision.missing_facts))
    lines.append("")
    lines.append("Grounds (all of them):")
    for citation in decision.grounds:
        version = f" (version {citation.version})" if citation.version else ""
        lines.append(f"  {citation.clause}{version} {citation.title}: \"{citation.text}\"")
        reason = decision.reason(citation.clause)
        if reason is not None and citation.clause != decision.deciding.clause:
            lines.append(f"    Why: {reason.text}")
    if decision.displaced:
        lines.append("Sections the addendum displaces:")
        for citation in decision.displaced:
            lines.append(f"  {citation.clause} {citation.title}")
    if decision.remedy_clause:
        why = _why_not(decision, decision.remedy_clause)
        if why:
            lines.append(why)
    if decision.exceptions:
        lines.append("Exceptions recorded:")
        for item in decision.exceptions:
            under = f" ({item.status_clause})" if item.status_clause else ""
            lines.append(f"  {item.source}, {item.role}, under {item.clause}: {item.status}{under}: {item.reason}")
    for notice in decision.notices:
        lines.append(f"Note ({notice.clause}): {notice.text}")
    lines.append("")
    responsible = f"Responsible: {decision.responsible.name}"
    if decision.responsible_clause:
        responsible += f" ({decision.responsible_clause})"
    lines.append(responsible)
    if decision.escalation:
        step = decision.escalation[0]
        ask = f" by {step.ask_by.isoformat()}" if step.ask_by else ""
        answer = f"; answer within {step.answer_within}" if step.answer_within else ""
        contact = f" ({step.contact})" if step.contact else ""
        lines.append(f"If you disagree: ask for review by {step.who}{contact}{ask} ({step.clause}){answer}.")
        for later in decision.escalation[1:]:
            contact = f" ({later.contact})" if later.contact else ""
            lines.append(f"  then: {later.who}{contact} ({later.clause})")
    if trace:
        lines.append("")
        lines.extend(trace_lines(decision))
    return "\n".join(lines) + "\n"


def _why_not(decision: Decision, remedy_clause: str) -> str | None:
    """Why a service was not given: the labelled conditions of each remedy that did not hold (CP 6.2)."""
    reasons = []
    for clause_trace in decision.trace:
        if clause_trace.effect != "remedy" or clause_trace.clause == remedy_clause or clause_trace.result != "false":
            continue
        labelled = [c for c in clause_trace.conditions if c.label]
        if not labelled or not any(c.result == "false" for c in labelled):
            continue
        parts = []
        for condition in labelled:
            word = {"true": "met", "false": "NOT met", "unknown": "unknown"}[condition.result]
            values = ", ".join(f"{name} = {decision.fact(name)}" for name in condition.reads)
            parts.append(f"{word}: {condition.label}" + (f" [{values}]" if values else ""))
        reasons.append(f"{clause_trace.clause}: " + "; ".join(parts))
    return "Why not another service:\n  " + "\n  ".join(reasons) if reasons else None


def trace_lines(decision: Decision) -> list[str]:
    lines = ["Trace (every clause of the documents that spoke to this claim):"]
    for clause in decision.trace:
        lines.append(f"  [{clause.result:>7}] {clause.clause} ({clause.effect}{', otherwise branch' if clause.branch == 'otherwise' else ''})")
        for condition in clause.conditions:
            label = f"{condition.label}: " if condition.label else ""
            facts = "; ".join(f"{name} = {decision.fact(name)}" for name in condition.reads)
            lines.append(f"      {condition.result:>7}  {label}{condition.condition}" + (f"   [{facts}]" if facts else ""))
    return lines


def decision_json(decision: Decision, *, trace: bool = True) -> str:
    data: dict[str, Any] = decision.model_dump(mode="json", exclude=None if trace else {"trace"})
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
