"""Every crash the fuzzers (fuzz/) and the hand probes of issue #7 found, replayed forever.

Inputs live in ``fuzz/regressions/<target>/`` (``claim``: claim JSON; ``policy``: a policy folder
packed as ``#@file name`` sections; ``expression``: one condition). Each is fed to the same harness
the fuzzer runs (which allows only the error of its family), and each must be *refused* with that
error: all of them are invalid inputs that once crashed claimrules or were silently misread.
A new crash is added by copying the fuzzer's crash file into the folder of its target.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "fuzz"))

import harnesses  # noqa: E402

from claimrules import ClaimError, PolicyError  # noqa: E402
from claimrules.facts import parse_claim, read_claim_text  # noqa: E402

NORTHWIND_FACTS = claimrules_vocabulary = __import__("claimrules").load_vocabulary(ROOT / "policies" / "northwind")
from claimrules.policy.loader import load_policy  # noqa: E402
from claimrules.policy.parser import parse_condition  # noqa: E402

REGRESSIONS = ROOT / "fuzz" / "regressions"
CASES = [(target, path) for target in ("claim", "policy", "expression")
         for path in sorted((REGRESSIONS / target).glob("*")) if path.is_file()]


@pytest.mark.parametrize(("target", "path"), CASES, ids=[f"{target}/{path.name}" for target, path in CASES])
def test_the_harness_survives(target: str, path: Path) -> None:
    started = time.monotonic()
    harnesses.TARGETS[target](path.read_bytes())
    assert time.monotonic() - started < 30, "an input that once hung must stay fast"


@pytest.mark.parametrize(("target", "path"), CASES, ids=[f"{target}/{path.name}" for target, path in CASES])
def test_the_input_is_refused_with_a_precise_error(target: str, path: Path, tmp_path: Path) -> None:
    data = path.read_bytes()
    if target == "claim":
        with pytest.raises(ClaimError):
            parse_claim(read_claim_text(data, source=path.name), NORTHWIND_FACTS, source=path.name)
    elif target == "expression":
        with pytest.raises(PolicyError):
            parse_condition(data.decode(), NORTHWIND_FACTS.roots)
    else:
        for name, body in harnesses.unpack(data).items():
            (tmp_path / name).write_bytes(body)
        with pytest.raises(PolicyError):
            load_policy(tmp_path)


def test_packing_round_trips(tmp_path: Path) -> None:
    files = harnesses.unpack(harnesses.pack(ROOT / "tests" / "bad_input" / "valid-policy"))
    assert sorted(files) == ["facts.yaml", "policy-set.yaml", "warranty.yaml"]
    assert harnesses.unpack(b"#@file ../../etc/passwd\nx") == {"_.._etc_passwd": b"x"}  # never outside the folder


# -- engine crashes found on the way: reported, kept visible until fixed ------------------------------

VALID_POLICY = ROOT / "tests" / "bad_input" / "valid-policy"
VALID_CLAIM = ROOT / "tests" / "bad_input" / "valid-claim.json"


def _policy_with(tmp_path: Path, condition: str) -> Path:
    for source in VALID_POLICY.iterdir():
        text = source.read_text()
        text = text.replace('"claim.reported_on within 1 year after delivery_date"', f'"{condition}"')
        (tmp_path / source.name).write_text(text)
    return tmp_path


def test_a_decision_date_in_year_9999_is_an_error_not_a_crash() -> None:
    import claimrules

    with claimrules.load_policy(VALID_POLICY) as policy:
        with pytest.raises(ClaimError):
            policy.adjudicate(policy.load_claim(VALID_CLAIM), date(9999, 12, 31))


def test_a_small_decimal_in_a_condition_compiles(tmp_path: Path) -> None:
    import claimrules

    with claimrules.load_policy(_policy_with(tmp_path, "location.miles_to_service_location > 0.00001")) as policy:
        decision = policy.adjudicate(policy.load_claim(VALID_CLAIM))
    assert decision.outcome in ("approve", "deny", "refer", "needs_information")


def test_date_arithmetic_past_the_year_9999_is_not_a_crash(tmp_path: Path) -> None:
    import claimrules

    with pytest.raises(PolicyError, match="9999-12-31 is outside the years 1900-2199"):
        claimrules.load_policy(_policy_with(tmp_path, "claim.reported_on < 9999-12-31 + 1 day"))
