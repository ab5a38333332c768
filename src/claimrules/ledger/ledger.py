"""The system of record: every decision on a claim, every recorded exception, who asked and when.

``Ledger.decide`` merges the exceptions recorded on the claim into its facts, decides, and returns
the recorded decision when nothing changed (same facts, same policy, same decision date: same
decision id), or records the new one with what changed. ``Ledger.grant_extension`` records an
exception after measuring it against the grantor's authority (``authority.measure``). Every write
happens inside one store transaction holding the ledger's write lock, so concurrent callers neither
lose nor duplicate records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from claimrules.api import CompiledPolicy
from claimrules.decision import Decision
from claimrules.facts import ClaimFacts, parse_claim
from claimrules.ledger.authority import Authority, measure
from claimrules.ledger.chain import Record, Verification, canonical, verify
from claimrules.ledger.diff import decision_changes, facts_changes
from claimrules.ledger.store import LedgerError, Store, UnknownClaim

MAX_CLAIM_ID = 200
EXTENSIONS = "extensions"


@dataclass(frozen=True)
class Entry:
    """A decision as the ledger holds it."""

    claim_id: str
    decision: Decision
    record: Record
    new: bool                                   # False: the recorded decision was returned
    changes: dict[str, Any] = field(default_factory=dict)
    exceptions: tuple[int, ...] = ()            # the exception records it used


@dataclass(frozen=True)
class RecordedException:
    claim_id: str
    record: Record
    authority: Authority
    item: dict[str, Any]


def _facts_json(facts: ClaimFacts) -> dict[str, Any]:
    dumped: dict[str, Any] = facts.model_dump(mode="json", exclude_none=True)
    return dumped


def _digest(value: Any) -> str:
    return hashlib.sha256(canonical(value).encode()).hexdigest()


def check_claim_id(claim_id: str) -> str:
    if not isinstance(claim_id, str) or not claim_id.strip() or len(claim_id) > MAX_CLAIM_ID or not claim_id.isprintable():
        raise LedgerError(f"claim id {claim_id!r} is not usable", field="claim_id",
                          expected=f"1-{MAX_CLAIM_ID} printable characters")
    return claim_id.strip()


def exceptions_in_force(records: list[Record]) -> list[Record]:
    return [record for record in records
            if record.kind == "exception" and record.data["authority"]["status"] != "refused"]


def merge_exceptions(facts: dict[str, Any], exceptions: list[Record]) -> dict[str, Any]:
    """The claim's facts with every recorded exception in force added (once) to its list fact."""
    merged = dict(facts)
    for record in exceptions:
        body = record.data
        items = list(merged.get(body["fact"], []))
        if body["item"] not in items:
            items.append(body["item"])
        merged[body["fact"]] = items
    return merged


class Ledger:
    """A policy and a store: decide, grant and tell the story of claims."""

    def __init__(self, store: Store, policy: CompiledPolicy) -> None:
        self.store = store
        self.policy = policy

    # -- decisions ---------------------------------------------------------------------------
    def decide(self, claim_id: str, facts: ClaimFacts | Mapping[str, Any], *, actor: str,
               on: date | None = None) -> Entry:
        claim_id = check_claim_id(claim_id)
        given = facts if isinstance(facts, ClaimFacts) else parse_claim(facts)
        given_json = _facts_json(given)
        with self.store.transaction() as tx:
            records = tx.records(claim_id)
            last_facts = next((r for r in reversed(records) if r.kind == "facts"), None)
            last_decision = next((r for r in reversed(records) if r.kind == "decision"), None)
            exceptions = exceptions_in_force(records)
            merged = parse_claim(merge_exceptions(given_json, exceptions))
            decision = self.policy.adjudicate(merged, on)
            if last_decision is not None and last_decision.data["decision_id"] == decision.decision_id:
                recorded = Decision.model_validate(last_decision.data["decision"])
                return Entry(claim_id, recorded, last_decision, False, last_decision.data.get("changes") or {},
                             tuple(last_decision.data["exceptions"]))
            facts_record = last_facts
            fact_changes: list[dict[str, str | None]] = []
            if last_facts is None or last_facts.data["facts"] != given_json:
                fact_changes = facts_changes(last_facts.data["facts"] if last_facts else None, given_json)
                facts_record = tx.append(claim_id, "facts", actor, {
                    "facts": given_json, "facts_hash": _digest(given_json),
                    "changes": fact_changes if last_facts is not None else []})
            assert facts_record is not None
            decision_json = decision.model_dump(mode="json")
            changes: dict[str, Any] = {}
            if last_decision is not None:
                changes = decision_changes(last_decision.data["decision"], decision_json)
                changes["facts"] = fact_changes
                used_before = set(last_decision.data["exceptions"])
                changes["exceptions_added"] = [r.seq for r in exceptions if r.seq not in used_before]
                if last_decision.data["policy"] != self.policy.fingerprint:
                    changes["policy"] = {"before": last_decision.data["policy"], "after": self.policy.fingerprint}
            record = tx.append(claim_id, "decision", actor, {
                "decision_id": decision.decision_id, "policy": self.policy.fingerprint,
                "on": on.isoformat() if on else None, "facts_seq": facts_record.seq,
                "facts_hash": _digest(merge_exceptions(given_json, exceptions)),
                "exceptions": [r.seq for r in exceptions], "decision": decision_json, "changes": changes})
            return Entry(claim_id, decision, record, True, changes, tuple(r.seq for r in exceptions))

    # -- recorded exceptions -----------------------------------------------------------------
    def grant_extension(self, claim_id: str, *, grantor_id: str, grantor_role: str, granted_on: date,
                        new_end: date, actor: str) -> RecordedException:
        """Record a return-window extension, measured against the grantor's authority (refused or capped, clause cited)."""
        claim_id = check_claim_id(claim_id)
        item = {"grantor_id": grantor_id, "grantor_role": grantor_role,
                "granted_on": granted_on.isoformat(), "new_end": new_end.isoformat()}
        with self.store.transaction() as tx:
            records = tx.records(claim_id)
            last_facts = next((r for r in reversed(records) if r.kind == "facts"), None)
            if last_facts is None:
                raise UnknownClaim(f"claim {claim_id} has no facts in the ledger: decide it once before granting",
                                  field="claim_id", expected="a claim the ledger holds")
            facts = merge_exceptions(last_facts.data["facts"], exceptions_in_force(records))
            # the item must be a valid fact (a role the claim model knows, dates in order) before it is measured
            parse_claim({**facts, EXTENSIONS: [*facts.get(EXTENSIONS, []), item]})
            authority = measure(self.policy, facts, EXTENSIONS, item, granted_on, new_end)
            record = tx.append(claim_id, "exception", actor, {
                "exception": "extension", "fact": EXTENSIONS, "item": item, "policy": self.policy.fingerprint,
                "authority": {"status": authority.status, "asked_end": authority.asked_end.isoformat(),
                              "effective_end": authority.effective_end.isoformat() if authority.effective_end else None,
                              "clause": authority.clause, "clause_title": authority.clause_title,
                              "clause_text": authority.clause_text, "reason": authority.reason}})
            return RecordedException(claim_id, record, authority, item)

    # -- reading -----------------------------------------------------------------------------
    def records(self, claim_id: str) -> list[Record]:
        records = self.store.records(check_claim_id(claim_id))
        if not records:
            raise UnknownClaim(f"the ledger holds no claim {claim_id}", field="claim_id",
                              expected="a claim id the ledger holds")
        return records

    def verify(self) -> Verification:
        return verify(self.store.records(), self.store.head())

    def close(self) -> None:
        self.store.close()
        self.policy.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
