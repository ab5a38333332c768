"""The ledger (issue #17, points 1-2): append-only, hash-chained, on SQLite and on PostgreSQL.

Expected decisions come from the Store Returns terms: RT 1.2 gives a Certified Refurbished Product
14 days after delivery (Dana's laptop, delivered 2024-06-03: until 2024-06-17); an opened Product
found defective is refunded in full (RT 2.1). LW 7.1 and CP 8.2: a decision states every ground it
relies on, so a later decision on the same facts may not bring up a new one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from record_support import BACKENDS, POLICY, gulf_return, ledger_location, tamper
from typer.testing import CliRunner

import claimrules
from claimrules.api import CompiledPolicy
from claimrules.cli import app
from claimrules.ledger import Ledger, LedgerError, open_store


@pytest.fixture(scope="module")
def northwind() -> Iterator[CompiledPolicy]:
    with claimrules.load_policy(POLICY) as policy:
        yield policy


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with ledger_location(request.param, tmp_path) as where:
        yield where


@pytest.fixture
def ledger(location: str, northwind: CompiledPolicy) -> Iterator[Ledger]:
    store = open_store(location)
    yield Ledger(store, northwind)
    store.close()


def test_same_facts_same_policy_returns_the_recorded_decision(ledger: Ledger) -> None:
    first = ledger.decide("C-1", gulf_return("2024-06-21"), actor="agent-1")
    again = ledger.decide("C-1", gulf_return("2024-06-21"), actor="agent-2")
    # Day 18 is after the 14-day RT 1.2 window: refused under RT 1.2.
    assert first.new and first.decision.outcome == "deny" and first.decision.deciding.clause == "RT 1.2"
    assert not again.new
    assert again.decision.decision_id == first.decision.decision_id
    assert again.record.seq == first.record.seq
    assert again.decision == first.decision
    kinds = [record.kind for record in ledger.records("C-1")]
    assert kinds == ["facts", "decision"]  # the second ask duplicated nothing
    assert [record.actor for record in ledger.records("C-1")] == ["agent-1", "agent-1"]


def test_changed_facts_record_a_new_decision_with_what_changed(ledger: Ledger) -> None:
    inside = ledger.decide("C-2", gulf_return("2024-06-17"), actor="agent-1")   # day 14: RT 1.2 window's last day
    late = ledger.decide("C-2", gulf_return("2024-06-21"), actor="agent-2")     # day 18: outside it
    assert inside.decision.outcome == "approve" and late.decision.outcome == "deny"
    assert late.new and late.decision.decision_id != inside.decision.decision_id
    changes = late.changes
    assert changes["facts"] == [{"fact": "claim.reported_on", "before": "2024-06-17", "after": "2024-06-21"}]
    assert changes["outcome"] == {"before": "approve", "after": "deny"}
    assert "RT 2.1" in changes["grounds"]["removed"]  # the full refund of a defective Product no longer applies
    assert changes["amounts"]["refund"] == {"before": "USD 899.00", "after": None}
    records = ledger.records("C-2")
    assert [record.kind for record in records] == ["facts", "decision", "facts", "decision"]
    assert records[2].data["changes"] == changes["facts"]


def test_the_ledger_is_append_only(location: str, ledger: Ledger) -> None:
    ledger.decide("C-3", gulf_return(), actor="agent-1")
    with pytest.raises(Exception, match="append-only"):
        tamper_without_dropping(location, "UPDATE records SET actor = 'someone else'")
    assert ledger.verify().ok


def tamper_without_dropping(location: str, statement: str) -> None:
    if location.endswith(".sqlite"):
        import sqlite3

        db = sqlite3.connect(location, isolation_level=None)
        try:
            db.execute(statement)
        finally:
            db.close()
    else:
        import psycopg

        with psycopg.connect(location, autocommit=True) as db:
            db.execute(statement)


def _story(ledger: Ledger) -> None:
    ledger.decide("C-A", gulf_return("2024-06-17"), actor="agent-1")
    ledger.decide("C-B", gulf_return("2024-06-21"), actor="agent-2")
    ledger.decide("C-A", gulf_return("2024-06-21"), actor="agent-3")


def test_verify_names_a_changed_outcome(location: str, ledger: Ledger) -> None:
    _story(ledger)
    assert ledger.verify().ok and ledger.verify().records == 6
    tamper(location, ["UPDATE records SET body = replace(body, '\"outcome\":\"approve\"', '\"outcome\":\"deny\"') WHERE seq = 2"])
    problems = [str(problem) for problem in ledger.verify().problems]
    assert problems == ["record 2 (claim C-A, decision): edited: its content no longer matches its hash"]


def test_verify_names_a_deleted_record(location: str, ledger: Ledger) -> None:
    _story(ledger)
    tamper(location, ["DELETE FROM records WHERE seq = 3"])
    problems = [str(problem) for problem in ledger.verify().problems]
    assert problems == ["record 3 deleted (the chain jumps from record 2 to 4)"]


def test_verify_names_a_deleted_last_record(location: str, ledger: Ledger) -> None:
    _story(ledger)
    tamper(location, ["DELETE FROM records WHERE seq = 6"])
    problems = [str(problem) for problem in ledger.verify().problems]
    assert len(problems) == 1 and "the chain ends at record 5" in problems[0]


def test_verify_names_two_swapped_records(location: str, ledger: Ledger) -> None:
    _story(ledger)
    tamper(location, ["UPDATE records SET seq = -1 WHERE seq = 3", "UPDATE records SET seq = 3 WHERE seq = 4",
                      "UPDATE records SET seq = 4 WHERE seq = -1"])
    problems = [str(problem) for problem in ledger.verify().problems]
    assert problems == [
        "record 3 (claim C-B, decision): out of order: it was written 4th, not 3rd",
        "record 4 (claim C-B, facts): out of order: it was written 3rd, not 4th",
    ]


def test_cli_ledger_verify(tmp_path: Path, northwind: CompiledPolicy) -> None:
    where = str(tmp_path / "cli.sqlite")
    store = open_store(where)
    _story(Ledger(store, northwind))
    store.close()
    runner = CliRunner()
    ok = runner.invoke(app, ["ledger", "verify", "--ledger", where])
    assert ok.exit_code == 0 and "6 record(s), chain intact" in ok.output
    tamper(where, ["UPDATE records SET body = replace(body, '2024-06-21', '2024-06-20') WHERE seq = 5"])
    broken = runner.invoke(app, ["ledger", "verify", "--ledger", where])
    assert broken.exit_code == 6
    assert "record 5 (claim C-A, facts): edited" in broken.output


def test_unknown_claim_is_a_precise_error(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="holds no claim C-404"):
        ledger.records("C-404")
    with pytest.raises(LedgerError, match="decide it once before granting"):
        from datetime import date

        ledger.grant_extension("C-404", grantor_id="M-1", grantor_role="manager", granted_on=date(2024, 6, 15),
                               new_end=date(2024, 8, 1), actor="M-1")


# -- the law: no new ground on unchanged facts and policy (LW 7.1, CP 8.2) ---------------------

FACT_VARIANTS = st.fixed_dictionaries({
    "day": st.integers(min_value=0, max_value=60),
    "condition": st.sampled_from(["new", "refurbished", "open_box"]),
    "opened": st.booleans(),
    "defective": st.sampled_from([True, False, None]),
    "damaged": st.booleans(),
})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(variant=FACT_VARIANTS)
def test_law_no_new_ground_on_unchanged_facts(tmp_path_factory: pytest.TempPathFactory, northwind: CompiledPolicy,
                                              variant: dict[str, object]) -> None:
    from datetime import date, timedelta

    facts = gulf_return((date(2024, 6, 3) + timedelta(days=int(str(variant["day"])))).isoformat())
    facts["product"].update(condition=variant["condition"], opened=variant["opened"], defective=variant["defective"],
                            damaged_by_customer=variant["damaged"])
    where = str(tmp_path_factory.mktemp("law") / "law.sqlite")
    store = open_store(where)
    first = Ledger(store, northwind).decide("LAW", facts, actor="first")
    store.close()
    store = open_store(where)  # another session, later: the same facts and the same policy
    later = Ledger(store, northwind).decide("LAW", facts, actor="second")
    store.close()
    stated = {ground.clause for ground in first.decision.grounds}
    assert {ground.clause for ground in later.decision.grounds} <= stated
    assert later.decision.decision_id == first.decision.decision_id and not later.new


def test_grant_too_late_is_refused_and_never_used(tmp_path: Path, northwind: CompiledPolicy) -> None:
    # RT 3.3: an extension granted after the window it extends has ended (2024-06-17 for Dana's
    # refurbished laptop, RT 1.2) is void, even if recorded.
    where = str(tmp_path / "late.sqlite")
    store = open_store(where)
    ledger = Ledger(store, northwind)
    ledger.decide("LATE", gulf_return("2024-06-21"), actor="agent-1")
    store.close()
    letter = tmp_path / "confirmation.html"
    result = CliRunner().invoke(app, ["grant", "LATE", "--staff", "M-9", "--role", "manager", "--granted-on", "2024-06-19",
                                      "--new-end", "2024-08-01", "--ledger", where, "--letter", str(letter),
                                      "--letter-format", "html"])
    assert result.exit_code == 0, result.output
    assert "REFUSED" in result.output and "(RT 3.3)" in result.output
    page = letter.read_text()
    assert "could not be extended" in page and "RT 3.3" in page and "<blockquote>" in page
    store = open_store(where)
    again = Ledger(store, northwind).decide("LATE", gulf_return("2024-06-21"), actor="agent-2")
    store.close()
    assert not again.new and again.decision.outcome == "deny" and again.exceptions == ()
    bad_role = CliRunner().invoke(app, ["grant", "LATE", "--staff", "M-9", "--role", "boss", "--granted-on", "2024-06-15",
                                        "--new-end", "2024-08-01", "--ledger", where])
    assert bad_role.exit_code == 3 and "grantor_role: 'boss' is not allowed" in bad_role.output


def test_cli_ledger_decide_records_once(tmp_path: Path) -> None:
    import json

    claim = tmp_path / "day18.json"
    claim.write_text(json.dumps(gulf_return("2024-06-21")))
    where = str(tmp_path / "cli-decide.sqlite")
    runner = CliRunner()
    first = runner.invoke(app, ["ledger", "decide", str(claim), "--claim-id", "D-1", "--by", "A-1", "--ledger", where,
                                "--format", "json"])
    again = runner.invoke(app, ["ledger", "decide", str(claim), "--claim-id", "D-1", "--by", "A-2", "--ledger", where])
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    body = json.loads(first.output)
    assert body["new"] is True and body["decision"]["deciding"]["clause"] == "RT 1.2"  # day 18: past RT 1.2's 14 days
    assert f"unchanged: the recorded decision record #{body['record']}" in again.output
    story = runner.invoke(app, ["history", "D-1", "--ledger", where, "--format", "json"])
    assert [event["actor"] for event in json.loads(story.output)["events"]] == ["A-1", "A-1"]


def test_history_fits_one_screen(tmp_path: Path, northwind: CompiledPolicy) -> None:
    from datetime import date, timedelta

    where = str(tmp_path / "long.sqlite")
    store = open_store(where)
    ledger = Ledger(store, northwind)
    for day in range(20):  # 20 corrections of the request date: 40 records
        ledger.decide("LONG", gulf_return((date(2024, 6, 4) + timedelta(days=day)).isoformat()), actor="agent")
    store.close()
    short = CliRunner().invoke(app, ["history", "LONG", "--ledger", where])
    assert short.exit_code == 0
    assert "(24 earlier record(s) not shown: --all shows them)" in short.output
    assert len([line for line in short.output.splitlines() if line.startswith("#")]) == 16
    full = CliRunner().invoke(app, ["history", "LONG", "--ledger", where, "--all"])
    assert len([line for line in full.output.splitlines() if line.startswith("#")]) == 40
