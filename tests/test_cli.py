"""The claimrules command as an agent uses it: decisions in text and JSON, exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "claimrules.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_gulf_onsite_request_is_depot_repair_under_cp_6_2() -> None:
    result = run("check", "examples/claims/gulf-onsite-request.json", "--policy", "policies/northwind")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "APPROVED" in out
    assert "Deciding clause: CP 6.2" in out
    assert "mail-in depot repair" in out
    assert "met: (a) the Product is located in the United States" in out and "US-AL" in out
    assert "NOT met: (b)" in out
    assert "Responsible: Keystone Service Administrators, LLC" in out
    assert "ask for review by Keystone claims supervisor by 2024-11-15 (CP 8.3)" in out


def test_late_refurb_return_is_refused_under_rt_1_2_with_warranty_still_open() -> None:
    result = run("check", "examples/claims/gulf-late-refurb-return.json")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "REFUSED" in out and "Deciding clause: RT 1.2" in out
    assert "Note (RT 5.3)" in out and "warranty claim" in out
    assert "Responsible: Northwind Store" in out
    assert "Store supervisor by 2024-07-23 (RT 5.2)" in out


def test_json_format_is_the_decision_value() -> None:
    result = run("check", "examples/claims/gulf-return-with-manager-extension.json", "--format", "json")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["outcome"] == "approve"
    assert decision["deciding"]["clause"] == "RT 3.1"
    assert decision["decision_id"].startswith("dec-")
    assert "trace" not in decision


def test_explain_shows_every_condition() -> None:
    result = run("explain", "examples/claims/gulf-late-refurb-return.json")
    assert result.returncode == 0, result.stderr
    assert "RT 1.2" in result.stdout and "claim.reported_on = 2024-06-23" in result.stdout
    # RT 1.2: the window is 14 days after the Delivery Date (3 June 2024): it ended on 17 June.
    assert "rt_regular_window_end = 2024-06-17" in result.stdout


def test_schema_is_json_schema() -> None:
    result = run("schema")
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert "claim" in schema["properties"] and "product" in schema["required"]


def test_invalid_claim_exits_3_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    claim = json.loads((ROOT / "examples/claims/gulf-late-refurb-return.json").read_text())
    claim["product"]["conditon"] = claim["product"].pop("condition")
    path = tmp_path / "typo.json"
    path.write_text(json.dumps(claim))
    result = run("check", str(path))
    assert result.returncode == 3
    assert "product.conditon: unknown fact" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_invalid_policy_exits_4(tmp_path: Path) -> None:
    (tmp_path / "policy-set.yaml").write_text("policy_set: {id: x, title: [unclosed\n")
    result = run("check", "examples/claims/gulf-late-refurb-return.json", "--policy", str(tmp_path))
    assert result.returncode == 4
    assert "policy-set.yaml:" in result.stderr and "YAML syntax error" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_decision_date_and_format() -> None:
    assert run("check", "examples/claims/gulf-late-refurb-return.json", "--on", "2025-02-30").returncode == 3
    assert run("check", "examples/claims/gulf-late-refurb-return.json", "--format", "pdf").returncode == 2
