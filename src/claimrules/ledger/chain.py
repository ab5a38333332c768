"""The hash chain: every ledger record carries the hash of the record before it.

A record's hash covers its content (claim, kind, time, actor, body) and the previous record's hash,
not its position: editing a record breaks its own hash; deleting one, or swapping two, breaks the
links. ``verify`` walks the chain and names each record that does not fit, and how.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    """One JSON text per value: sorted keys, no spaces, non-ASCII kept (what is hashed and stored)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Record:
    """One line of the ledger."""

    seq: int
    claim_id: str
    kind: str           # "facts", "decision" or "exception"
    at: str             # when it was recorded (UTC, ISO 8601)
    actor: str          # who asked
    body: str           # canonical JSON
    prev_hash: str
    hash: str

    @property
    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "claim_id": self.claim_id, "kind": self.kind, "at": self.at, "actor": self.actor,
                "body": self.data, "prev_hash": self.prev_hash, "hash": self.hash}


def record_hash(prev_hash: str, claim_id: str, kind: str, at: str, actor: str, body: str) -> str:
    content = canonical({"claim_id": claim_id, "kind": kind, "at": at, "actor": actor, "body": body})
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


def seal(seq: int, prev_hash: str, claim_id: str, kind: str, at: str, actor: str, body: Mapping[str, Any]) -> Record:
    text = canonical(body)
    return Record(seq, claim_id, kind, at, actor, text, prev_hash, record_hash(prev_hash, claim_id, kind, at, actor, text))


@dataclass(frozen=True)
class Problem:
    seq: int
    claim_id: str
    kind: str
    what: str

    def __str__(self) -> str:
        return f"record {self.seq} (claim {self.claim_id}, {self.kind}): {self.what}"


@dataclass(frozen=True)
class Verification:
    records: int
    problems: tuple[Problem | str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(records: Iterable[Record], head: tuple[int, str] | None) -> Verification:
    """Check every record's own hash, every link, the numbering and the recorded head of the chain."""
    ordered = list(records)
    problems: list[Problem | str] = []
    by_hash = {record.hash: record for record in ordered}
    previous_hash, previous_seq = GENESIS, 0
    for position, record in enumerate(ordered):
        own = record_hash(record.prev_hash, record.claim_id, record.kind, record.at, record.actor, record.body)
        if own != record.hash:
            problems.append(Problem(record.seq, record.claim_id, record.kind,
                                    "edited: its content no longer matches its hash"))
        if record.seq != previous_seq + 1:
            missing = (f"record {previous_seq + 1}" if record.seq == previous_seq + 2
                       else f"records {previous_seq + 1}-{record.seq - 1}")
            problems.append(f"{missing} deleted (the chain jumps from record {previous_seq} to {record.seq})")
        elif record.prev_hash != previous_hash:
            earlier = by_hash.get(record.prev_hash)
            if earlier is not None and ordered.index(earlier) > position:
                problems.append(Problem(record.seq, record.claim_id, record.kind,
                                        f"out of order: it was written after the record now numbered {earlier.seq}"))
            elif earlier is None and own == record.hash:
                problems.append(Problem(record.seq, record.claim_id, record.kind,
                                        "the record before it was deleted or replaced"))
            elif own == record.hash:
                problems.append(Problem(record.seq, record.claim_id, record.kind,
                                        f"out of order: it follows record {earlier.seq if earlier else '?'} in the chain"))
        previous_hash, previous_seq = record.hash, record.seq
    if head is not None:
        head_seq, head_hash = head
        if head_seq != previous_seq or head_hash != previous_hash:
            problems.append(f"the ledger's head says {head_seq} record(s) ending in {head_hash[:12]}, "
                            f"but the chain ends at record {previous_seq}: records at the end were deleted or changed")
    elif ordered:
        problems.append("the ledger's head is missing")
    return Verification(len(ordered), tuple(problems))
