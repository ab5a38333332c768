"""The audit (issue #17, point 5): past decisions people made, decided again and compared.

Hand-written cases take their expected decisions from the Store Returns terms (RT 1.2: a Certified
Refurbished Product may be returned within 14 days after delivery; Dana's laptop was delivered
2024-06-03). The generated history is labelled from the terms too (tests/audit_support.py), with
disagreements injected at known places: the audit must find exactly those.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from audit_support import generate
from record_support import POLICY, gulf_return
from typer.testing import CliRunner

import claimrules
from claimrules.api import CompiledPolicy
from claimrules.audit import audit
from claimrules.audit.history import HistoryRecord
from claimrules.cli import app
from claimrules.render.audit import audit_html

GENERATED = int(os.environ.get("CLAIMRULES_AUDIT_SIZE", "4000"))


@pytest.fixture(scope="module")
def northwind() -> Iterator[CompiledPolicy]:
    with claimrules.load_policy(POLICY) as policy:
        yield policy


def _line(claim_id: str, reported_on: str, outcome: str, clause: str | None, agent: str, reason: str | None = None) -> str:
    human: dict[str, Any] = {"outcome": outcome}
    if clause:
        human["clause"] = clause
    if reason:
        human["reason"] = reason
    return json.dumps({"claim_id": claim_id, "agent": agent, "team": "returns", "facts": gulf_return(reported_on),
                       "human": human})


def test_audit_of_a_small_history_from_the_command_line(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    history.write_text("\n".join([
        _line("R-1", "2024-06-17", "approve", "RT 1.2", "A-1"),                           # day 14: within RT 1.2
        _line("R-2", "2024-06-21", "approve", None, "A-2", "she was polite"),             # day 18: RT 1.2 refuses
        _line("R-3", "2024-06-13", "deny", "RT 1.2", "A-2", "too late"),                  # day 10: within RT 1.2
        _line("R-4", "2024-06-21", "deny", "RT 1.2", "A-1"),                              # day 18: refused, as R-2 was not
    ]) + "\n")
    html, report_file = tmp_path / "audit.html", tmp_path / "audit.json"
    result = CliRunner().invoke(app, ["audit", str(history), "--html", str(html), "--json", str(report_file)])
    assert result.exit_code == 0, result.output
    assert "Agreement: 2/4 = 50.00%" in result.output
    report = json.loads(report_file.read_text())
    assert [d["claim_id"] for d in report["wrongly_approved"]] == ["R-2"]
    assert [d["claim_id"] for d in report["wrongly_refused"]] == ["R-3"]
    assert report["wrongly_refused"][0]["grounds"][0] == "RT 1.2"
    assert report["disagreements_by_outcome"] == {"approve -> deny": 1, "deny -> approve": 1}
    assert report["by_agent"]["A-2"] == {"records": 2, "disagreements": 2}
    assert report["by_agent"]["A-1"] == {"records": 2, "disagreements": 0}
    assert [u["claim_id"] for u in report["unsupported_reasons"]] == ["R-2", "R-3"]  # "polite" and a clause that refuses nothing
    assert report["identical_facts_different_outcomes"] == [
        {"claims": ["R-2", "R-4"], "human_outcomes": ["approve", "deny"], "policy_outcome": "deny"}]
    page = html.read_text()
    assert "<svg" in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_bad_history_line_is_a_precise_error(tmp_path: Path) -> None:
    history = tmp_path / "bad.jsonl"
    history.write_text(_line("R-1", "2024-06-17", "approve", "RT 1.2", "A-1") + "\n"
                       + json.dumps({"claim_id": "R-2", "facts": {}, "human": {"outcome": "maybe"}}) + "\n")
    result = CliRunner().invoke(app, ["audit", str(history)])
    assert result.exit_code == 3
    assert f"{history}:2: human.outcome:" in result.output


def test_generated_history_finds_exactly_the_injected_disagreements(northwind: CompiledPolicy) -> None:
    lines, injected, kinds = generate(GENERATED)
    rows = [(number, HistoryRecord.model_validate_json(line)) for number, line in enumerate(lines, start=1)]
    report = audit(northwind, rows, workers=2, policy_dir=POLICY)
    assert not report.invalid
    assert {d["claim_id"] for d in report.disagreements} == injected
    assert report.agreed == GENERATED - len(injected)
    flagged = {u["claim_id"] for u in report.unsupported_reasons}
    assert flagged == injected  # every injected decision gives a reason no clause supports
    assert {u["claim_id"] for u in report.unsupported_reasons if u["why"] == "no such clause in the policy"} == kinds["unknown_clause"]
    twins = {claim for group in report.identical_facts_different_outcomes for claim in group["claims"]}
    assert kinds["twin"] <= twins
    wrong = {d["claim_id"] for d in report.wrongly_refused} | {d["claim_id"] for d in report.wrongly_approved}
    assert wrong == injected  # each injection flips approve and deny


def test_audit_report_in_a_browser(tmp_path: Path, northwind: CompiledPolicy) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CLAIMRULES_REQUIRE_BROWSER") == "1":
            pytest.fail("Playwright is not installed but CLAIMRULES_REQUIRE_BROWSER=1")
        pytest.skip("Playwright for Python is not installed")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        if os.environ.get("CLAIMRULES_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is not installed but CLAIMRULES_REQUIRE_BROWSER=1")
        pytest.skip("Debian chromium is not installed")
    lines, injected, _ = generate(400)
    rows = [(number, HistoryRecord.model_validate_json(line)) for number, line in enumerate(lines, start=1)]
    page_file = tmp_path / "audit.html"
    page_file.write_text(audit_html(audit(northwind, rows).as_dict()), encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable,
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        problems: list[str] = []
        requested: list[str] = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("request", lambda request: requested.append(request.url))
        page.goto(page_file.as_uri())
        assert problems == []
        assert requested == [page_file.as_uri()]  # nothing fetched from anywhere else
        charts = page.locator("svg[role=img]")
        assert charts.count() == 4
        bars = page.locator("svg rect.bar")
        assert bars.count() >= 4
        box = bars.first.bounding_box()
        assert box is not None and box["width"] > 10 and box["height"] > 10  # drawn, visible
        assert page.locator("#agreement strong").inner_text().endswith("%")
        shown = int(page.locator("#wrongly-refused h2").inner_text().split("(")[1].rstrip(")"))
        shown += int(page.locator("#wrongly-approved h2").inner_text().split("(")[1].rstrip(")"))
        assert shown == len(injected)
        out = Path(__file__).resolve().parents[1] / "out" / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out / "audit-report.png"), full_page=False)
        browser.close()
