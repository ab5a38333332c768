"""Request and response bodies of the HTTP service (the OpenAPI document is generated from these)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from claimrules.decision import Decision

Facts = dict[str, Any]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecideRequest(_Body):
    facts: Facts = Field(description="Claim facts, as a claim file (GET /schema gives their JSON Schema).")
    claim_id: str | None = Field(None, max_length=200, description="Record the decision in the ledger under this claim id.")
    actor: str | None = Field(None, max_length=200, description="Who asks (staff id); recorded with the decision.")
    on: date | None = Field(None, description="Decision date (default: the day the claim was reported).")


class DecideResponse(_Body):
    decision: Decision
    claim_id: str | None = None
    record: int | None = Field(None, description="The ledger record holding the decision.")
    new: bool | None = Field(None, description="False: the recorded decision was returned (nothing changed).")
    changes: dict[str, Any] = Field(default_factory=dict, description="What changed since the claim's previous decision.")
    exceptions: list[int] = Field(default_factory=list, description="Recorded exceptions the decision used.")


class LetterRequest(_Body):
    facts: Facts
    on: date | None = None
    format: Literal["html", "md", "txt"] = "html"
    docs_base: str = Field("site/", max_length=500)


class GrantRequest(_Body):
    staff_id: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=50)
    new_end: date
    granted_on: date
    actor: str | None = Field(None, max_length=200)
    letter_format: Literal["html", "md", "txt"] = "txt"


class Authority(_Body):
    status: Literal["granted", "capped", "refused"]
    asked_end: date
    effective_end: date | None
    clause: str
    clause_title: str
    clause_text: str
    reason: str


class GrantResponse(_Body):
    claim_id: str
    record: int
    item: dict[str, Any]
    authority: Authority
    confirmation: str = Field(description="The customer's written confirmation.")


class ErrorBody(_Body):
    family: str = Field(description="claim, policy, ledger, request, auth or internal")
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    clause: str | None = None
    field: str | None = None
    expected: str | None = None
    help: str | None = None
    text: str


class ErrorResponse(_Body):
    error: ErrorBody
