"""The audit's input: past claims with the decision and reason a person gave, one JSON object a line.

    {"claim_id": "R-1042", "agent": "A-17", "team": "returns-east", "on": "2024-06-21",
     "facts": { ...a claim file's facts... },
     "human": {"outcome": "deny", "clause": "RT 1.2", "reason": "past the 14 days"}}

``agent``, ``team``, ``on`` (the decision date) and ``human.clause`` / ``human.reason`` are optional.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from claimrules.errors import ClaimError

MAX_LINE_BYTES = 1_000_000


class HumanDecision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Literal["approve", "deny", "refer", "needs_information"]
    clause: str | None = Field(None, max_length=50, description="The clause the person cited, if any.")
    reason: str | None = Field(None, max_length=4000, description="The reason the person gave, in words.")


class HistoryRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    claim_id: str = Field(min_length=1, max_length=200)
    facts: dict[str, Any]
    human: HumanDecision
    agent: str | None = Field(None, max_length=200)
    team: str | None = Field(None, max_length=200)
    on: date | None = None


def read_history(path: str | Path) -> Iterator[tuple[int, HistoryRecord]]:
    """Each record with its line number; a malformed line is a ClaimError naming the file, line and field."""
    name = str(path)
    try:
        handle = open(path, encoding="utf-8")
    except OSError as problem:
        raise ClaimError(f"cannot read the history: {problem.strerror}", file=name) from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if len(line) > MAX_LINE_BYTES:
                raise ClaimError("line too long", file=name, line=number, expected=f"at most {MAX_LINE_BYTES} bytes")
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as problem:
                raise ClaimError(f"not JSON: {problem.msg}", file=name, line=number, column=problem.colno,
                                 expected="one JSON object per line") from None
            try:
                yield number, HistoryRecord.model_validate(raw)
            except ValidationError as problem:
                first = problem.errors()[0]
                field = ".".join(str(part) for part in first["loc"])
                raise ClaimError(first["msg"], file=name, line=number, field=field or None,
                                 expected="a history record (docs/audit.md)") from None
