"""The ledger under real processes (issue #17): 8 processes deciding and granting on overlapping
claims lose and duplicate nothing; a SIGKILL mid-write leaves a ledger that verifies, and the
decision can be redone. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from record_support import BACKENDS, POLICY, ledger_location

import claimrules
from claimrules.ledger import Ledger, open_store

HERE = Path(__file__).resolve().parent
WORKER = HERE / "ledger_worker.py"


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with ledger_location(request.param, tmp_path) as where:
        yield where


def _worker(mode: str, location: str, number: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    return subprocess.Popen([sys.executable, str(WORKER), mode, location, str(number)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_eight_processes_on_overlapping_claims_lose_and_duplicate_nothing(location: str) -> None:
    open_store(location).close()  # create the tables once, before the race
    workers = [_worker("overlap", location, number) for number in range(8)]
    said: list[dict[str, object]] = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        said.extend(json.loads(line) for line in out.splitlines())
    store = open_store(location)
    try:
        records = store.records()
        with claimrules.load_policy(POLICY) as policy:
            ledger = Ledger(store, policy)
            assert ledger.verify().ok, ledger.verify().problems
            by_seq = {record.seq: record for record in records}
            # nothing lost: every record a worker was told about is there, as it was told
            for line in said:
                record = by_seq[int(str(line["seq"]))]
                assert record.claim_id == line["claim"]
                if "decision_id" in line:
                    assert record.kind == "decision" and record.data["decision_id"] == line["decision_id"]
                else:
                    assert record.kind == "exception"
            grants = [record for record in records if record.kind == "exception"]
            assert sorted(record.actor for record in grants) == [f"W-{n}" for n in range(8)]
            # nothing duplicated: one facts record per claim; never the same decision twice in a row
            assert Counter(record.claim_id for record in records if record.kind == "facts") == {
                f"OV-{n}": 1 for n in range(6)}
            for claim_id in (f"OV-{n}" for n in range(6)):
                decisions = [r.data["decision_id"] for r in records if r.claim_id == claim_id and r.kind == "decision"]
                assert all(a != b for a, b in pairwise(decisions)), claim_id
                # the last decision recorded used every extension granted on the claim
                last = next(r for r in reversed(records) if r.claim_id == claim_id and r.kind == "decision")
                granted = [r.seq for r in grants if r.claim_id == claim_id]
                assert last.data["exceptions"] == granted
                from ledger_worker import facts_for

                assert not ledger.decide(claim_id, facts_for(claim_id), actor="check").new
    finally:
        store.close()


def test_sigkill_mid_write_leaves_a_ledger_that_verifies(location: str) -> None:
    open_store(location).close()
    killed_during: list[str] = []
    for round_number in range(3):
        worker = _worker("loop", location, round_number * 1000)
        assert worker.stdout is not None
        written = 0
        while written < 5 + round_number * 3:  # let it write, then kill it wherever it is
            line = worker.stdout.readline()
            assert line, worker.stderr.read() if worker.stderr else ""
            written += 1
        time.sleep(0.003 * round_number)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        killed_during.append(f"LOOP-{round_number * 1000 + written}")
    store = open_store(location)
    try:
        with claimrules.load_policy(POLICY) as policy:
            ledger = Ledger(store, policy)
            check = ledger.verify()
            assert check.ok, check.problems
            records = store.records()
            # a claim's facts and its decision are written in one transaction: never one without the other
            facts = Counter(r.claim_id for r in records if r.kind == "facts")
            decisions = Counter(r.claim_id for r in records if r.kind == "decision")
            assert facts == decisions
            from ledger_worker import facts_for

            for claim_id in killed_during:  # the decision the worker was making when it died can be redone
                entry = ledger.decide(claim_id, facts_for(claim_id), actor="redo")
                again = ledger.decide(claim_id, facts_for(claim_id), actor="redo")
                assert entry.decision.outcome in ("approve", "deny")
                assert again.record.seq == entry.record.seq and not again.new
            assert ledger.verify().ok
    finally:
        store.close()
