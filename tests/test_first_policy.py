"""The "write your first policy" walkthrough (docs/policy-language.md) works as written.

The page shows the files of examples/first-policy/ verbatim; this test checks that the page and
the files are the same, then decides every claim there and compares the decision with the one
written beside it from the Pedal & Co. terms (examples/first-policy/TERMS.md), and runs the
command the walkthrough tells the reader to run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_examples import check_expected

import claimrules

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "examples" / "first-policy"
CLAIMS = sorted((FOLDER / "claims").glob("*.json"))
SHOWN = re.compile(r"<!-- file: (?P<path>[^ ]+) -->\n```[a-z]*\n(?P<body>.*?)```\n", re.DOTALL)


def walkthrough() -> str:
    text = (ROOT / "docs" / "policy-language.md").read_text(encoding="utf-8")
    return text[text.index("## Write your first policy"):]


def test_the_page_shows_the_example_files_exactly() -> None:
    shown = {match["path"]: match["body"] for match in SHOWN.finditer(walkthrough())}
    assert {"examples/first-policy/policy-set.yaml", "examples/first-policy/returns.yaml",
            "examples/first-policy/TERMS.md"} <= set(shown)
    for path, body in shown.items():
        assert (ROOT / path).read_text(encoding="utf-8") == body, f"{path} differs from the walkthrough"


def test_there_is_an_approval_and_a_refusal() -> None:
    outcomes = {json.loads(path.read_text(encoding="utf-8"))["expected"]["outcome"] for path in CLAIMS}
    assert {"approve", "deny"} <= outcomes


@pytest.mark.parametrize("path", CLAIMS, ids=[path.stem for path in CLAIMS])
def test_first_policy_claims_decide_as_the_terms_say(path: Path) -> None:
    with claimrules.load_policy(FOLDER) as policy:
        decision = policy.adjudicate(claimrules.load_claim(path))
    problems = check_expected(decision, json.loads(path.read_text(encoding="utf-8"))["expected"])
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


def test_the_command_the_walkthrough_runs() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    command = "claimrules check examples/first-policy/claims/new-bike-day-30.json --policy examples/first-policy"
    assert command in walkthrough()
    result = subprocess.run([sys.executable, "-m", "claimrules.cli", *command.split()[1:]], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for expected in ("APPROVED", "Deciding clause: PC 1.1", "Restocking fee: USD 50.00 (PC 2.1)", "Refund: USD 750.00"):
        assert expected in result.stdout
