"""A separate process that writes to a ledger, for the concurrency and SIGKILL tests.

    python tests/ledger_worker.py overlap LOCATION INDEX   # decide 6 shared claims, grant one, decide again
    python tests/ledger_worker.py loop LOCATION START      # decide claim after claim until killed

Each decision is printed as a JSON line once it is recorded (flushed), so the test knows what was written.
"""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta

from record_support import POLICY, gulf_return

import claimrules
from claimrules.ledger import Ledger, open_store

SHARED = [f"OV-{n}" for n in range(6)]


def facts_for(claim_id: str) -> dict[str, object]:
    number = int(claim_id.rsplit("-", 1)[1])
    return gulf_return((date(2024, 6, 15) + timedelta(days=number % 9)).isoformat())


def say(**fields: object) -> None:
    print(json.dumps(fields, sort_keys=True), flush=True)


def main() -> None:
    mode, location, number = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ledger = Ledger(open_store(location), claimrules.load_policy(POLICY))
    if mode == "overlap":
        order = SHARED[number % len(SHARED):] + SHARED[:number % len(SHARED)]
        for claim_id in order:
            entry = ledger.decide(claim_id, facts_for(claim_id), actor=f"W-{number}")
            say(claim=claim_id, seq=entry.record.seq, decision_id=entry.decision.decision_id)
        target = SHARED[number % len(SHARED)]
        granted = ledger.grant_extension(target, grantor_id=f"W-{number}", grantor_role="agent",
                                         granted_on=date(2024, 6, 15), new_end=date(2024, 6, 20) + timedelta(days=number % 4),
                                         actor=f"W-{number}")
        say(claim=target, seq=granted.record.seq, granted=granted.authority.status)
        for claim_id in reversed(order):
            entry = ledger.decide(claim_id, facts_for(claim_id), actor=f"W-{number}")
            say(claim=claim_id, seq=entry.record.seq, decision_id=entry.decision.decision_id)
    elif mode == "loop":
        while True:
            claim_id = f"LOOP-{number}"
            entry = ledger.decide(claim_id, facts_for(claim_id), actor="looper")
            say(claim=claim_id, seq=entry.record.seq, decision_id=entry.decision.decision_id)
            number += 1


if __name__ == "__main__":
    main()
