"""Batch adjudication (issue #15): one record per input line, in order, bad lines reported and
skipped, the same decisions as one claim at a time, and a run killed with SIGKILL resumes to
exactly one decision per line.

The decisions themselves come from the contract and are checked claim by claim in
tests/test_examples.py; here the batch must reproduce them byte for byte (its record is the
decision's JSON) and keep the input's order and line numbers.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support import claims_mix

import claimrules
from claimrules import adjudicate_many, batch
from claimrules.batch import csv_claim, decide_jsonl, decide_records, resume_point
from claimrules.engine import durable

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "northwind"
EXAMPLES = sorted((ROOT / "examples" / "claims").glob("*.json"))



@pytest.fixture(scope="module")
def policy() -> claimrules.CompiledPolicy:
    return claimrules.load_policy(POLICY)


def _example(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_adjudicate_many_gives_each_example_its_own_decision_in_order(policy: claimrules.CompiledPolicy) -> None:
    claims = [_example(path) for path in EXAMPLES]
    results = list(adjudicate_many(policy, claims))
    assert [result.line for result in results] == list(range(1, len(claims) + 1))
    for path, claim, result in zip(EXAMPLES, claims, results):
        alone = policy.adjudicate(claimrules.parse_claim(claim, policy))
        assert result.decision == alone, path.name
    gulf = results[EXAMPLES.index(ROOT / "examples" / "claims" / "gulf-onsite-request.json")]
    # CP 6.2: "mail-in depot repair" when on-site condition (b) (within 100 miles) fails.
    assert gulf.decision is not None and gulf.decision.deciding.clause == "CP 6.2"


def test_bad_lines_are_error_records_with_their_line_numbers(policy: claimrules.CompiledPolicy) -> None:
    good = json.dumps(_example(EXAMPLES[0]))
    lines = [good, "{not json", "", json.dumps({"claim": {"type": "teleport"}}), good]
    records = [json.loads(record) for record in decide_records(policy, enumerate(lines, start=1), workers=1)]
    assert [record["line"] for record in records] == [1, 2, 3, 4, 5]
    assert "decision" in records[0] and "decision" in records[4]
    assert records[0]["decision"] == records[4]["decision"]
    assert records[1]["error"]["family"] == "claim" and records[1]["error"]["expected"] == "valid JSON"
    assert records[2]["error"]["message"] == "empty line"
    assert records[3]["error"]["family"] == "claim" and "claim.type" in records[3]["error"]["text"]


def test_pool_of_two_gives_the_same_records_in_the_same_order(policy: claimrules.CompiledPolicy) -> None:
    claims: list[Any] = claims_mix(150, seed=5)
    claims.insert(77, "[1, 2]")
    numbered = list(enumerate(claims, start=1))
    alone = list(decide_records(policy, numbered, workers=1))
    pooled = list(decide_records(policy, numbered, workers=2, chunk=16))
    assert pooled == alone
    assert json.loads(alone[77])["error"]["message"] == "a claim must be a JSON object"


@pytest.mark.skipif("fork" not in __import__("multiprocessing").get_all_start_methods(), reason="workers are spawned here")
def test_forked_workers_decide_with_the_callers_compiled_policy(
        policy: claimrules.CompiledPolicy, monkeypatch: pytest.MonkeyPatch) -> None:
    """A forked worker does not compile the policy again: with loading made to fail (in the caller,
    so in every worker forked from it) the pool still decides every claim as the caller does."""
    numbered = list(enumerate(claims_mix(40, seed=6), start=1))
    alone = list(decide_records(policy, numbered, workers=1))

    def no_loading(folder: Any) -> Any:
        raise AssertionError(f"a worker compiled {folder} again")

    monkeypatch.setattr(batch, "load_policy", no_loading)
    assert list(decide_records(policy, numbered, workers=2, chunk=8)) == alone
    assert batch._INHERITED == {}  # only while the pool runs


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_fork_waits_for_the_engine_to_be_quiet() -> None:
    """Forking while another thread is between the C calls of one fact waits until it is done,
    and the child starts with the engine's lock free (it would deadlock on its first fact else)."""
    held, released_at = threading.Event(), []

    def busy() -> None:
        with durable._ENGINE_LOCK:
            held.set()
            time.sleep(0.2)
            released_at.append(time.monotonic())

    worker = threading.Thread(target=busy)
    worker.start()
    held.wait(5)
    child = os.fork()
    if child == 0:  # the child: the lock must be free
        os._exit(0 if durable._ENGINE_LOCK.acquire(timeout=5) else 1)
    forked_at = time.monotonic()
    worker.join()
    _, status = os.waitpid(child, 0)
    assert released_at and forked_at >= released_at[0]
    assert os.waitstatus_to_exitcode(status) == 0


def _flatten(value: Any, prefix: str, row: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}{key}.", row)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}{index}.", row)
    elif value is not None:
        row[prefix[:-1]] = str(value).lower() if isinstance(value, bool) else str(value)


def test_csv_columns_are_dotted_fact_paths(policy: claimrules.CompiledPolicy, tmp_path: Path) -> None:
    claims = [claim for claim in claims_mix(40, seed=9)]
    rows: list[dict[str, str]] = []
    for claim in claims:
        row: dict[str, str] = {}
        _flatten(claim, "", row)
        rows.append(row)
    columns = sorted({column for row in rows for column in row})
    assert "product.price.amount" in columns and any(column.startswith("prior_incidents.0.") for column in columns)
    source = tmp_path / "claims.csv"
    with source.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        stream.write("1,2\n")
    out = tmp_path / "out.jsonl"
    with out.open("w", encoding="utf-8") as sink:
        records, errors = decide_jsonl(policy, source, sink, workers=1)
    assert (records, errors) == (41, 1)
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [record["line"] for record in written] == list(range(2, 43))  # the header is line 1
    for claim, record in zip(claims, written):
        expected = json.loads(policy.adjudicate(claimrules.parse_claim(claim, policy)).model_dump_json(exclude={"trace"}))
        assert record["decision"] == expected
    assert "cells for" in written[-1]["error"]["message"]


def test_csv_claim_builds_nested_facts_and_lists() -> None:
    row = {"claim.type": "repair", "product.price.amount": "10.00", "extensions.0.new_end": "2025-01-02",
           "extensions.1.new_end": "2025-02-03", "plan.code": ""}
    assert csv_claim(row) == {"claim": {"type": "repair"}, "product": {"price": {"amount": "10.00"}},
                              "extensions": [{"new_end": "2025-01-02"}, {"new_end": "2025-02-03"}]}
    with pytest.raises(claimrules.ClaimError, match="without gaps"):
        csv_claim({"extensions.1.new_end": "2025-02-03"})


def test_resume_point_drops_a_record_cut_short(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"line":1,"decision":{}}\n{"line":2,"error":{}}\n{"line":3,"deci', encoding="utf-8")
    assert resume_point(out) == 2
    assert out.read_text(encoding="utf-8").endswith('{"line":2,"error":{}}\n')
    out.write_text('{"line":1,"dec', encoding="utf-8")
    assert resume_point(out) == 0 and out.read_text(encoding="utf-8") == ""


def _cli(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-m", "claimrules.cli", "batch", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_kill_9_mid_run_then_resume_gives_exactly_one_decision_per_line(tmp_path: Path) -> None:
    claims = claims_mix(900, seed=31)
    source = tmp_path / "claims.jsonl"
    with source.open("w", encoding="utf-8") as stream:
        for index, claim in enumerate(claims):
            stream.write(("not a claim" if index == 300 else json.dumps(claim)) + "\n")
    out = tmp_path / "out.jsonl"
    run = _cli(str(source), "-o", str(out), "-j", "2", "--policy", str(POLICY), start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while _lines(out) < 100 and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert run.poll() is None, f"the batch ended before it could be killed: {run.communicate()}"
        os.killpg(run.pid, signal.SIGKILL)  # the command and its pool workers, mid-run
    finally:
        run.wait(timeout=30)
    assert run.returncode == -signal.SIGKILL
    interrupted = _lines(out)
    assert 100 <= interrupted < len(claims)

    again = _cli(str(source), "-o", str(out), "--policy", str(POLICY))
    _, err = again.communicate(timeout=120)
    assert again.returncode == 2 and "--resume" in err  # never appends to an earlier run by accident

    resumed = _cli(str(source), "-o", str(out), "-j", "2", "--resume", "--policy", str(POLICY))
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert "resumed after line" in err
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [record["line"] for record in records] == list(range(1, len(claims) + 1))
    assert "error" in records[300] and all("decision" in record for index, record in enumerate(records) if index != 300)

    clean = tmp_path / "clean.jsonl"
    with clean.open("w", encoding="utf-8") as sink:
        decide_jsonl(POLICY, source, sink, workers=1)
    assert out.read_bytes() == clean.read_bytes()


def test_the_batch_command_freezes_its_own_heap_and_the_library_does_not(
        policy: claimrules.CompiledPolicy, tmp_path: Path) -> None:
    """The batch command and its pool workers move the compiled policy out of the collector's way
    (gc.freeze, in processes claimrules owns); adjudicate_many in a caller's process never does."""
    import gc

    claims = tmp_path / "claims.jsonl"
    claims.write_text((ROOT / "examples" / "claims" / "gulf-onsite-request.json").read_text().replace("\n", " ") + "\n")
    script = ("import gc, sys; from claimrules.cli import main\n"
              f"sys.argv = ['claimrules', 'batch', {str(claims)!r}, '-o', {str(tmp_path / 'out.jsonl')!r}, '-j', '1', '-q',"
              f" '--policy', {str(POLICY)!r}]\n"
              "try:\n    main()\nexcept SystemExit:\n    pass\n"
              "print(gc.get_freeze_count())\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert int(done.stdout.split()[-1]) > 10_000, done.stdout + done.stderr
    assert json.loads((tmp_path / "out.jsonl").read_text())["decision"]["outcome"] == "approve"  # CP 6.2
    before = gc.get_freeze_count()
    assert len(list(adjudicate_many(policy, [json.loads(claims.read_text())], workers=1))) == 1
    assert gc.get_freeze_count() == before
