"""Policies are data, never code (issue #7, docs/security.md): the checks that are not one bad input."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

import claimrules
from claimrules.errors import PolicyError
from claimrules.policy.parser import parse_condition

ROOT = Path(__file__).resolve().parent.parent.parent
HERE = Path(__file__).resolve().parent
SOURCE = ROOT / "src" / "claimrules"


# The one process claimrules starts (issue #15, docs/resident.md): its own resident server module, with
# this interpreter, from an argument list (never a shell), nothing in it from a claim or a policy.
RESIDENT_LAUNCH = {
    "import subprocess",
    "process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=descriptor, stderr=descriptor,",
}


def test_no_code_is_ever_run_from_a_policy_or_a_claim() -> None:
    """No eval/exec/pickle/marshal, no unsafe YAML loader, no shell anywhere in the library."""
    forbidden = re.compile(r"\b(eval|exec)\(|\bpickle\b|\bmarshal\b|yaml\.(unsafe_load|full_load)|"
                           r"\b(Full|Unsafe)?Loader=yaml\.(Full|Unsafe)?Loader\b|os\.system|\bsubprocess\b")
    for path in sorted(SOURCE.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if path == SOURCE / "engine" / "generated.py" and line.strip().startswith("exec(compile(source, "):
                continue  # the generated hot path (issue #15): source built from our own names, see its test
            if path == SOURCE / "resident" / "control.py" and line.strip() in RESIDENT_LAUNCH:
                continue  # `claimrules resident start` starts claimrules' own server module: checked below
            assert not forbidden.search(line), f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
    control = (SOURCE / "resident" / "control.py").read_text(encoding="utf-8")
    assert "shell" not in control and control.count("subprocess.") == 2
    assert ('command = [sys.executable, "-P", "-m", "claimrules.resident.server", "--socket", socket_path, '
            '"--lock", lock_path,') in control
    loader = (SOURCE / "policy" / "loader.py").read_text(encoding="utf-8")
    assert "class _Loader(yaml.SafeLoader)" in loader
    assert "class _FastLoader(_CSafeLoader)" in loader and '_CSafeLoader: Any = getattr(yaml, "CSafeLoader", None)' in loader
    assert all(re.search(r"Loader=(_Loader|yaml\.SafeLoader|_FastLoader|_CSafeLoader)\)", line)
               for line in loader.splitlines() if re.search(r"yaml\.(load|parse)\(", line))
    # The fast path (issue #15) is libyaml's safe loader with the same mapping constructor.
    import yaml

    from claimrules.policy import loader as module
    assert issubclass(module._FastLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert module._CSafeLoader in (getattr(yaml, "CSafeLoader", None), yaml.SafeLoader)


@pytest.mark.parametrize("text", [
    "a" + ".a" * 1900,                                    # the dotted-name pattern
    "1" * 3990 + "x",                                     # numbers
    "'" + "a" * 3990,                                     # an unterminated string
    "(" * 31 + "x" + " or x" * 700,                       # long, nested alternatives
    "2024-01-01" + "-01" * 1300,                          # a date followed by more dashes
    "product.price" + " + USD 1" * 480,                   # a long sum
])
def test_conditions_parse_in_linear_time(text: str) -> None:
    """The tokenizer's regular expressions cannot backtrack catastrophically (the language has no
    regular expressions of its own): every condition up to the 4,000-character limit is quick."""
    started = time.monotonic()
    try:
        parse_condition(text[:4000], claimrules.load_vocabulary(HERE / "valid-policy").roots)
    except PolicyError:
        pass
    assert time.monotonic() - started < 1.0


def test_html_output_escapes_policy_and_claim_text(tmp_path: Path) -> None:
    from claimrules.render.letter import render_letter

    for source in (HERE / "valid-policy").iterdir():
        text = source.read_text(encoding="utf-8")
        text = text.replace("title: Warranty period", "title: \"<script>alert('title')</script>\"")
        text = text.replace("text: One year from the delivery date.", "text: \"<img src=x onerror=alert(1)> One year.\"")
        text = text.replace('maker: {name: "Maker, Inc."}', 'maker: {name: "<b>Maker</b> & Sons"}')
        (tmp_path / source.name).write_text(text, encoding="utf-8")
    with claimrules.load_policy(tmp_path) as policy:
        facts = policy.load_claim(HERE / "valid-claim.json")
        decision = policy.adjudicate(facts)
        assert decision.deciding.clause == "W 2.1"
        html = render_letter(decision, policy.policy, format="html", claim=facts)
    assert "<script>" not in html and "<img src=x" not in html and "<b>Maker</b>" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x" in html and "&amp; Sons" in html
