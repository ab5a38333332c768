"""An explanation as text: each condition as its and/or/not tree, at most 100 columns wide.

A function of ``claimrules.explanation.Explanation`` only, so the JSON of an explanation, read
back, renders to exactly the same text.
"""

from __future__ import annotations

import textwrap

from claimrules.explanation import ConditionNode, DocumentExplanation, Explanation
from claimrules.render.text import OUTCOME_WORDS

WIDTH = 100
TAGS = {"true": "[T]", "false": "[F]", "unknown": "[?]"}
LEGEND = "[T] true  [F] false  [?] unknown (a fact is missing)  * a test that decided its clause"


def _wrap(text: str, first: str, rest: str) -> list[str]:
    return textwrap.wrap(" ".join(text.split()), width=WIDTH, initial_indent=first, subsequent_indent=rest,
                         break_long_words=True, break_on_hyphens=False) or [first.rstrip()]


def _values(node: ConditionNode) -> str:
    return "; ".join(f"{value.name} = {value.value}" for value in node.values)


def tree_lines(node: ConditionNode, prefix: str = "", branch: str = "", below: str = "") -> list[str]:
    """``prefix``: the columns of the ancestors; ``branch``: this node's connector; ``below``: what
    continues under it (for its wrapped lines, values and children)."""
    star = "*" if node.decided else " "
    head = f"{TAGS[node.result]}{star} "
    text = node.text
    if node.label:
        text = f"{node.label}: {text}" if node.kind == "test" else f"{node.label} ({node.text})"
    lines = _wrap(text, prefix + branch + head, prefix + below + " " * len(head))
    if node.values:
        lines += _wrap(_values(node), prefix + below + " " * len(head) + "  ", prefix + below + " " * len(head) + "  ")
    for index, item in enumerate(node.items):
        last = index == len(node.items) - 1
        lines += tree_lines(item, prefix + below, "└─ " if last else "├─ ", "   " if last else "│  ")
    return lines


def document_lines(document: DocumentExplanation) -> list[str]:
    lines = [""]
    if document.applies == "false":
        lines += _wrap(f"{document.id}  {document.title}: does not apply {TAGS['false']}; "
                       f"{document.folded} clause(s) folded", "", "    ")
    else:
        lines += _wrap(f"{document.id}  {document.title}: applies {TAGS[document.applies]}", "", "    ")
    if document.condition is not None:
        lines += tree_lines(document.condition, "    ")
    for clause in document.clauses:
        version = f" (version {clause.version})" if clause.version else ""
        lines += _wrap(f"{clause.clause}{version}  {clause.title}", "  ", "      ")
        outcome = f"{clause.effect} {TAGS[clause.result]}"
        if clause.otherwise and clause.otherwise_result:
            outcome += f"; otherwise {clause.otherwise} {TAGS[clause.otherwise_result]}"
        lines += _wrap(outcome, "      ", "      ")
        if clause.condition is not None:
            lines += tree_lines(clause.condition, "      ")
    return lines


def explanation_text(explanation: Explanation) -> str:
    lines = _wrap(f"{OUTCOME_WORDS.get(explanation.outcome, explanation.outcome)} under {explanation.deciding} "
                  f"(decision {explanation.decision_id})", "", "  ")
    if explanation.reasons:
        lines.append("Why:")
        for reason in explanation.reasons:
            lines += _wrap(reason, "  ", "    ")
    if explanation.why_not is not None and explanation.why_not.needed:
        lines.append(f"Why not {explanation.why_not.request}: the fewest tests that would have had to come out otherwise:")
        for needed in explanation.why_not.needed:
            lines += _wrap(f"{needed.clause}: {needed.test} (is {needed.result}; needed {needed.needed})", "  - ", "    ")
            if needed.values:
                lines += _wrap("; ".join(f"{value.name} = {value.value}" for value in needed.values), "    ", "    ")
    lines.append("")
    lines += _wrap(LEGEND, "", "  ")
    for document in explanation.documents:
        lines += document_lines(document)
    return "\n".join(line.rstrip() for line in lines) + "\n"


__all__ = ["WIDTH", "explanation_text", "tree_lines"]
