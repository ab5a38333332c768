"""The Gulf story end to end (issue #17 acceptance), through the example script, the CLI and HTTP.

From the Store Returns terms: Dana's Certified Refurbished laptop was delivered 2024-06-03, so RT 1.2
("within 14 days after the Delivery Date") ends 2024-06-17 and a request on day 18 (2024-06-21) is
refused under RT 1.2. RT 3.1: a recorded extension binds the Store; RT 3.2: an extension may move
the end of the window no further than 7 days for an agent (2024-06-24), 60 days for a manager
(2024-08-16), and one beyond its grantor's authority is valid up to that limit. So a manager's
extension granted on day 12 to 1 August stands and the day-18 request is approved citing RT 3.1; an
agent's extension to 1 August is valid to 2024-06-24 only (RT 3.2), which still covers day 18.
Opened and found defective, the refund is the full price (RT 2.1).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from record_support import ROOT
from service_support import CLI, running_service

STORY = ROOT / "examples" / "gulf_story.py"


def _story(*arguments: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, str(STORY), "--json", *arguments], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded


def _check(steps: dict[str, Any]) -> None:
    assert steps["refused"]["outcome"] == "deny" and steps["refused"]["deciding"] == "RT 1.2"
    assert steps["manager_grant"]["status"] == "granted"
    assert steps["manager_grant"]["effective_end"] == "2024-08-01" and steps["manager_grant"]["clause"] == "RT 3.1"
    assert steps["approved"]["outcome"] == "approve" and steps["approved"]["deciding"] == "RT 3.1"
    assert "RT 2.1" in steps["approved"]["grounds"]
    assert steps["agent_grant"]["status"] == "capped"
    assert steps["agent_grant"]["effective_end"] == "2024-06-24" and steps["agent_grant"]["clause"] == "RT 3.2"
    assert steps["with_capped"]["outcome"] == "approve" and steps["with_capped"]["deciding"] == "RT 3.2"
    assert steps["history"]["GULF-MANAGER"] == ["facts", "decision", "exception", "decision"]
    assert steps["history"]["GULF-AGENT"] == ["facts", "decision", "exception", "decision"]


def test_gulf_story_library_cli_and_http_agree(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    ledger = str(tmp_path / "library.sqlite")
    library = _story("--ledger", ledger)
    _check(library)

    # history shows it all, on one screen
    shown = subprocess.run([*CLI, "history", "GULF-MANAGER", "--ledger", ledger], capture_output=True, text=True,
                           timeout=120, check=True).stdout
    lines = shown.splitlines()
    assert len(lines) <= 24
    assert lines[1].startswith("Now: APPROVE under RT 3.1")
    assert "DENY under RT 1.2" in shown and "extension by M-0412 (manager)" in shown
    assert "granted to 2024-08-01 (RT 3.1)" in shown and "changed: outcome deny -> approve" in shown
    agent = subprocess.run([*CLI, "history", "GULF-AGENT", "--ledger", ledger, "--format", "json"],
                           capture_output=True, text=True, timeout=120, check=True).stdout
    events = json.loads(agent)["events"]
    assert events[2]["authority"]["status"] == "capped" and events[2]["authority"]["clause"] == "RT 3.2"

    # the same run over HTTP gives the same decision ids
    with running_service(str(tmp_path / "http.sqlite"), api_key="k-gulf") as base:
        http = _story("--http", base, "--api-key", "k-gulf")
    _check(http)
    for step in ("refused", "approved", "with_capped"):
        assert http[step]["decision_id"] == library[step]["decision_id"]
    assert http["agent_grant"] == library["agent_grant"]


def test_gulf_story_on_postgresql_gives_the_same_decisions(tmp_path: Path) -> None:
    from record_support import postgres_database

    with postgres_database() as dsn:
        on_postgres = _story("--ledger", dsn)
    _check(on_postgres)
    on_sqlite = _story("--ledger", str(tmp_path / "sqlite.sqlite"))
    for step in ("refused", "approved", "with_capped"):
        assert on_postgres[step]["decision_id"] == on_sqlite[step]["decision_id"]
