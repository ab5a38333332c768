"""``claimrules test``: cases beside a policy, pytest-like output, JUnit XML, exit 1 on a failure."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claimrules.analysis.cases import load_cases
from claimrules.cli import app
from claimrules.errors import ClaimError

ROOT = Path(__file__).resolve().parents[1]
NORTHWIND = ROOT / "policies" / "northwind"
LATE = ROOT / "examples" / "claims" / "gulf-late-refurb-return.json"
runner = CliRunner()


def test_shipped_cases_pass_and_count() -> None:
    result = runner.invoke(app, ["test", str(NORTHWIND)])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().splitlines()[-1].startswith("========== 6 passed, 0 failed")


def test_a_wrong_expectation_fails_with_a_diff(tmp_path: Path) -> None:
    case = json.loads(LATE.read_text(encoding="utf-8"))
    case["expected"] = {"outcome": "approve", "deciding_clause": "RT 1.1"}   # RT 1.2 refuses day 20
    (tmp_path / "wrong.json").write_text(json.dumps(case), encoding="utf-8")
    shutil.copy(LATE, tmp_path / "right.json")
    result = runner.invoke(app, ["test", str(NORTHWIND), str(tmp_path)])
    assert result.exit_code == 1
    assert "wrong.json::wrong FAILED" in result.output
    assert "right.json::right PASSED" in result.output
    assert "outcome: expected 'approve', got 'deny'" in result.output
    assert "deciding clause: expected 'RT 1.1', got 'RT 1.2'" in result.output
    assert "1 passed, 1 failed" in result.output


def test_junit_report_names_the_failure(tmp_path: Path) -> None:
    table = tmp_path / "cases.yaml"
    table.write_text(
        f"cases:\n"
        f"  - name: day 15 is late\n    base: {LATE}\n    set: {{claim.reported_on: 2024-06-18}}\n"
        f"    expected: {{outcome: deny, deciding_clause: RT 1.2}}\n"
        f"  - name: day 14 is not late\n    base: {LATE}\n    set: {{claim.reported_on: 2024-06-17}}\n"
        f"    expected: {{outcome: deny}}\n", encoding="utf-8")
    out = tmp_path / "report.xml"
    result = runner.invoke(app, ["test", str(NORTHWIND), str(table), "--format", "junit", "-o", str(out)])
    assert result.exit_code == 1
    suite = ET.parse(out).getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    failed = [case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None]
    assert failed == ["day 14 is not late"]


def test_a_claim_the_policy_rejects_is_a_failed_case_not_a_crash(tmp_path: Path) -> None:
    case = json.loads(LATE.read_text(encoding="utf-8"))
    case["claim"]["reported_on"] = "2024-02-30"
    (tmp_path / "bad.json").write_text(json.dumps(case), encoding="utf-8")
    result = runner.invoke(app, ["test", str(NORTHWIND), str(tmp_path)])
    assert result.exit_code == 1
    assert "ClaimError" in result.output and "claim.reported_on" in result.output


@pytest.mark.parametrize("text, message", [
    ("cases: [{name: x, expected: {outcome: deny}}]", "a case needs 'claim' or 'base'"),
    ("cases: [{name: x, claim: {}, expected: {outcom: deny}}]", "unknown key 'outcom' in expected"),
    ("cases: [{name: x, claim: {}, expected: {}}, {name: x, claim: {}, expected: {}}]", "appears twice"),
    ("nothing: here", "a case table needs a 'cases' list"),
    ("cases: [{name: x, claim: {}, decided_on: soon, expected: {}}]", "'soon' is not a date"),
])
def test_malformed_case_tables_are_named(tmp_path: Path, text: str, message: str) -> None:
    table = tmp_path / "t.yaml"
    table.write_text(text, encoding="utf-8")
    with pytest.raises(ClaimError, match=message):
        list(load_cases([table]))
    result = runner.invoke(app, ["test", str(NORTHWIND), str(table)])
    assert result.exit_code == 3 and message.split("'")[0] in result.output
