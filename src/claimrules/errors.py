"""The two families of errors a caller can act on: a bad policy and a bad claim.

Each carries structured fields (file, line, column, clause, field, expected, help) so that the CLI,
an HTTP layer and tests can use them without parsing the message. ``str(error)`` renders them the
way a compiler does: ``policies/x.yaml:41:7: clause RT 1.2: unknown fact 'product.conditon'
(did you mean 'product.condition'?)``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ClaimrulesError(Exception):
    """Base of every error claimrules raises on purpose."""

    family = "error"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        clause: str | None = None,
        field: str | None = None,
        expected: str | None = None,
        help: str | None = None,
    ) -> None:
        self.message = _capped(message)
        self.file = file
        self.line = line
        self.column = column
        self.clause = clause
        self.field = field
        self.expected = None if expected is None else _capped(expected)
        self.help = None if help is None else _capped(help)
        super().__init__(self.render())

    def render(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        parts = [where]
        if self.clause:
            parts.append(f"clause {self.clause}: ")
        if self.field:
            parts.append(f"{self.field}: ")
        parts.append(self.message)
        if self.expected:
            parts.append(f" (expected {self.expected})")
        text = "".join(parts)
        if self.help:
            text += f"\n  help: {self.help}"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "family": self.family,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "clause": self.clause,
            "field": self.field,
            "expected": self.expected,
            "help": self.help,
            "text": self.render(),
        }


class PolicyError(ClaimrulesError):
    """A policy file that cannot be loaded, parsed or validated."""

    family = "policy"


class ClaimError(ClaimrulesError):
    """Claim facts that are malformed, of the wrong type, unknown or impossible."""

    family = "claim"


class EvaluationError(ClaimrulesError):
    """The engine met a state it cannot decide on (a bug, never a silent approval)."""

    family = "evaluation"


#: Longest message, 'expected' or 'help' an error carries: a 5,000-digit number or a cycle through
#: 1,500 clauses is not echoed whole.
MAX_MESSAGE_CHARS = 500


def _capped(text: str) -> str:
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return text[: MAX_MESSAGE_CHARS - 40] + f"... ({len(text) - MAX_MESSAGE_CHARS + 40} more characters)"


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A 'did you mean' hint for a misspelled name, or None."""
    close = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.75)
    return f"did you mean '{close[0]}'?" if close else None
