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


def _chain_order(records: list[Record]) -> list[Record]:
    """The records in the order their links say they were written, from the first one on."""
    by_prev: dict[str, Record] = {}
    for record in records:
        by_prev.setdefault(record.prev_hash, record)
    chain: list[Record] = []
    link = GENESIS
    while link in by_prev and len(chain) < len(records):
        record = by_prev[link]
        chain.append(record)
        link = record.hash
    return chain


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def verify(records: Iterable[Record], head: tuple[int, str] | None) -> Verification:
    """Check every record's own hash, every link, the numbering and the recorded head of the chain."""
    ordered = list(records)
    problems: list[Problem | str] = []
    for record in ordered:
        own = record_hash(record.prev_hash, record.claim_id, record.kind, record.at, record.actor, record.body)
        if own != record.hash:
            problems.append(Problem(record.seq, record.claim_id, record.kind,
                                    "edited: its content no longer matches its hash"))
    previous_seq = 0
    for record in ordered:
        if record.seq != previous_seq + 1:
            missing = (f"record {previous_seq + 1}" if record.seq == previous_seq + 2
                       else f"records {previous_seq + 1}-{record.seq - 1}")
            problems.append(f"{missing} deleted (the chain jumps from record {previous_seq} to {record.seq})")
        previous_seq = record.seq
    chain = _chain_order(ordered)
    if len(chain) == len(ordered):  # every record is linked: any that is not in its written place was moved
        for position, (stored, written) in enumerate(zip(ordered, chain, strict=True)):
            if stored is not written:
                place = chain.index(stored) + 1
                problems.append(Problem(stored.seq, stored.claim_id, stored.kind,
                                        f"out of order: it was written {_ordinal(place)}, "
                                        f"not {_ordinal(position + 1)}"))
    else:  # a link is broken where no deletion or edit explains it
        explained = {problem.seq for problem in problems if isinstance(problem, Problem)}
        previous: Record | None = None
        for record in ordered:
            expected = previous.hash if previous is not None else GENESIS
            contiguous = record.seq == (previous.seq + 1 if previous is not None else 1)
            if record.prev_hash != expected and contiguous and record.seq not in explained:
                problems.append(Problem(record.seq, record.claim_id, record.kind,
                                        "does not follow the record before it: a record was replaced or moved"))
            previous = record
    last_seq, last_hash = (ordered[-1].seq, ordered[-1].hash) if ordered else (0, GENESIS)
    if head is not None:
        head_seq, head_hash = head
        if head_seq != last_seq or head_hash != last_hash:
            problems.append(f"the ledger's head says {head_seq} record(s) ending in {head_hash[:12]}, "
                            f"but the chain ends at record {last_seq}: records at the end were deleted or changed")
    elif ordered:
        problems.append("the ledger's head is missing")
    return Verification(len(ordered), tuple(problems))
