"""Test cases for a policy: claims with the decision the contract text says they must get.

Two formats, both data beside the policy (as ``opa test`` and DMN test scenarios keep them):

* an example claim file (``*.json``): the claim facts plus ``"expected"`` (and an optional
  ``"story"``), as in ``examples/claims/``;
* a case table (``*.yaml``/``*.yml``): ``cases:`` rows, each with a ``name``, the claim (``claim``
  as a whole object, or ``base`` - a claim file relative to the table - with ``set`` overriding
  dotted fact paths), an optional decision date ``decided_on``, and ``expected``.

``expected`` keys: ``outcome``, ``deciding_clause``, ``grounds_include``, ``grounds_exclude``,
``remedy``, ``responsible``, ``amounts`` ({kind: "USD 49.00"}), ``notices_include``,
``missing_facts``, ``escalation_first``, ``under_addendum``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import yaml

from claimrules.decision import Decision
from claimrules.errors import ClaimError, ClaimrulesError, PolicyError

EXPECTED_KEYS = frozenset({
    "outcome", "deciding_clause", "grounds_include", "grounds_exclude", "remedy", "responsible", "amounts",
    "notices_include", "missing_facts", "escalation_first", "under_addendum",
})
MAX_CASE_FILE_BYTES = 2_000_000


class Deciding(Protocol):
    """What a case needs of a compiled policy (``claimrules.CompiledPolicy``)."""

    def adjudicate(self, facts: Mapping[str, Any], on: date | None = None) -> Decision: ...


@dataclass(frozen=True)
class Case:
    """One claim and the decision it must get."""

    name: str
    source: str
    claim: dict[str, Any]
    expected: dict[str, Any]
    on: date | None = None
    story: str = ""


@dataclass(frozen=True)
class CaseResult:
    case: Case
    problems: tuple[str, ...] = ()
    error: str | None = None
    decision: Decision | None = field(default=None, compare=False)

    @property
    def passed(self) -> bool:
        return not self.problems and self.error is None


def check_expected(decision: Decision, expected: Mapping[str, Any]) -> list[str]:
    """Every way ``decision`` differs from what ``expected`` says (empty when it matches)."""
    problems: list[str] = []
    grounds = [citation.clause for citation in decision.grounds]

    def differ(what: str, want: Any, got: Any) -> None:
        if want != got:
            problems.append(f"{what}: expected {want!r}, got {got!r}")

    if "outcome" in expected:
        differ("outcome", expected["outcome"], decision.outcome)
    if "deciding_clause" in expected:
        differ("deciding clause", expected["deciding_clause"], decision.deciding.clause)
    for clause in expected.get("grounds_include", []):
        if clause not in grounds:
            problems.append(f"ground {clause} missing from {grounds}")
    for clause in expected.get("grounds_exclude", []):
        if clause in grounds:
            problems.append(f"ground {clause} should not be among {grounds}")
    if "remedy" in expected:
        differ("remedy", expected["remedy"], decision.remedy)
    if "responsible" in expected:
        differ("responsible", expected["responsible"], decision.responsible.id)
    for kind, text in sorted(expected.get("amounts", {}).items()):
        money = decision.amount(kind)
        differ(f"amount {kind}", text, str(money) if money is not None else None)
    notices = [notice.clause for notice in decision.notices]
    for clause in expected.get("notices_include", []):
        if clause not in notices:
            problems.append(f"notice {clause} missing from {notices}")
    if "missing_facts" in expected:
        differ("missing facts", sorted(expected["missing_facts"]), sorted(decision.missing_facts))
    if "escalation_first" in expected:
        differ("first review step", expected["escalation_first"],
               decision.escalation[0].clause if decision.escalation else None)
    if "under_addendum" in expected:
        differ("under addendum", expected["under_addendum"], decision.under_addendum)
    return problems


def run_case(policy: Deciding, case: Case) -> CaseResult:
    """Decide one case; a claim the policy cannot decide is a failed case, never a crash."""
    try:
        decision = policy.adjudicate(case.claim, case.on)
    except ClaimrulesError as error:
        return CaseResult(case, error=f"{type(error).__name__}: {error}")
    return CaseResult(case, problems=tuple(check_expected(decision, case.expected)), decision=decision)


def run_cases(policy: Deciding, cases: Iterable[Case]) -> list[CaseResult]:
    return [run_case(policy, case) for case in cases]


# -- reading cases ---------------------------------------------------------------------------------

def discover(paths: Iterable[Path]) -> list[Path]:
    """Case files under ``paths`` (files as given, folders searched recursively), in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in (".json", ".yaml", ".yml") and p.is_file()))
        elif path.is_file():
            found.append(path)
        else:
            raise ClaimError("no such file or folder", file=str(path), expected="a case file or a folder of them")
    return found


def load_cases(paths: Iterable[Path]) -> Iterator[Case]:
    for path in discover(paths):
        if path.suffix == ".json":
            yield _json_case(path)
        else:
            yield from _table_cases(path)


def _read(path: Path) -> str:
    if not path.is_file():
        raise ClaimError("not a regular file", file=str(path), expected="a case file")
    with path.open("rb") as stream:
        raw = stream.read(MAX_CASE_FILE_BYTES + 1)
    if len(raw) > MAX_CASE_FILE_BYTES:
        raise ClaimError(f"larger than {MAX_CASE_FILE_BYTES} bytes", file=str(path), expected="a smaller case file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as problem:
        raise ClaimError(f"not UTF-8 text (byte {problem.start})", file=str(path), expected="UTF-8") from None


def _checked_expected(expected: Any, source: str) -> dict[str, Any]:
    if not isinstance(expected, dict):
        raise ClaimError("'expected' is missing or not an object", file=source, field="expected",
                         expected="an object such as {outcome: deny, deciding_clause: RT 1.2}")
    unknown = sorted(set(expected) - EXPECTED_KEYS)
    if unknown:
        raise ClaimError(f"unknown key '{unknown[0]}' in expected", file=source, field="expected",
                         expected="one of " + ", ".join(sorted(EXPECTED_KEYS)))
    return dict(expected)


def _json_case(path: Path) -> Case:
    from claimrules.facts import read_claim_text

    document = read_claim_text(_read(path), source=str(path))
    expected = _checked_expected(document.get("expected"), str(path))
    claim = {key: value for key, value in document.items() if key not in ("expected", "story", "$schema")}
    story = document.get("story")
    return Case(name=path.stem, source=str(path), claim=claim, expected=expected,
                story=story if isinstance(story, str) else "")


def _plain(value: Any) -> Any:
    """YAML values as the JSON a claim file would hold (dates as ISO text)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _table_cases(path: Path) -> Iterator[Case]:
    source = str(path)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        document = yaml.load(_read(path), Loader=loader)
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        raise ClaimError(f"not valid YAML: {getattr(problem, 'problem', problem)}", file=source,
                         line=mark.line + 1 if mark else None, expected="a case table") from None
    if not isinstance(document, dict) or not isinstance(document.get("cases"), list):
        raise ClaimError("a case table needs a 'cases' list", file=source, expected="cases: [{name, claim|base, expected}]")
    names: set[str] = set()
    for number, row in enumerate(document["cases"], start=1):
        where = f"{source} case {number}"
        if not isinstance(row, dict):
            raise ClaimError("a case must be a mapping", file=where, expected="{name, claim|base, expected}")
        unknown = sorted(str(key) for key in set(row) - {"name", "claim", "base", "set", "decided_on", "expected", "story"})
        if unknown:
            raise ClaimError(f"unknown key '{unknown[0]}'", file=where, expected="name, claim, base, set, decided_on, expected, story")
        name = row.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ClaimError("a case needs a name", file=where, field="name", expected="text")
        if name in names:
            raise ClaimError(f"case name '{name}' appears twice", file=where, field="name", expected="unique names")
        names.add(name)
        claim = _table_claim(row, path, where)
        on = row.get("decided_on")
        if on is not None and not isinstance(on, date):
            raise ClaimError(f"'{on}' is not a date", file=where, field="decided_on", expected="a date YYYY-MM-DD")
        yield Case(name=name, source=where, claim=claim, expected=_checked_expected(_plain(row.get("expected")), where),
                   on=on, story=str(row.get("story") or ""))


def _table_claim(row: dict[str, Any], table: Path, where: str) -> dict[str, Any]:
    if "claim" in row and "base" in row:
        raise ClaimError("give either 'claim' or 'base', not both", file=where, expected="one claim")
    if "claim" in row:
        claim = _plain(row["claim"])
        if not isinstance(claim, dict):
            raise ClaimError("'claim' must be an object", file=where, field="claim", expected="claim facts")
    elif "base" in row:
        base = (table.parent / str(row["base"])).resolve()
        claim = _json_case_claim(base, where)
    else:
        raise ClaimError("a case needs 'claim' or 'base'", file=where, expected="claim facts or a base claim file")
    overrides = row.get("set") or {}
    if not isinstance(overrides, dict):
        raise ClaimError("'set' must map dotted fact paths to values", file=where, field="set",
                         expected="{claim.reported_on: 2024-06-18}")
    result: dict[str, Any] = copy.deepcopy(claim)
    for dotted, value in sorted(overrides.items()):
        _assign(result, str(dotted), _plain(value), where)
    return result


def _json_case_claim(path: Path, where: str) -> dict[str, Any]:
    from claimrules.facts import read_claim_text

    if not path.is_file():
        raise ClaimError(f"base claim {path} not found", file=where, field="base", expected="a claim file")
    document = read_claim_text(_read(path), source=str(path))
    return {key: value for key, value in document.items() if key not in ("expected", "story", "$schema")}


def _assign(claim: dict[str, Any], dotted: str, value: Any, where: str) -> None:
    parts = dotted.split(".")
    target: Any = claim
    for part in parts[:-1]:
        if not isinstance(target, dict):
            raise ClaimError(f"cannot set '{dotted}'", file=where, field=dotted, expected="a path through objects")
        target = target.setdefault(part, {})
    if not isinstance(target, dict):
        raise ClaimError(f"cannot set '{dotted}'", file=where, field=dotted, expected="a path through objects")
    if value is None:
        target.pop(parts[-1], None)
    else:
        target[parts[-1]] = value


# -- reports ---------------------------------------------------------------------------------------

def text_report(results: list[CaseResult], elapsed: float) -> str:
    lines: list[str] = []
    for result in results:
        status = "PASSED" if result.passed else "FAILED"
        lines.append(f"{result.case.source}::{result.case.name} {status}")
    failures = [result for result in results if not result.passed]
    if failures:
        lines.append("")
        lines.append("=" * 30 + " FAILURES " + "=" * 30)
        for result in failures:
            lines.append(f"___ {result.case.name} ___ ({result.case.source})")
            if result.case.story:
                lines.append(f"  story: {result.case.story[:300]}")
            if result.error:
                lines.append(f"  error: {result.error}")
            for problem in result.problems:
                lines.append(f"  - {problem}")
            if result.decision is not None:
                lines.append(f"  got: {result.decision.outcome} under {result.decision.deciding.clause}; grounds "
                             + ", ".join(c.clause for c in result.decision.grounds))
    passed = len(results) - len(failures)
    summary = f"{passed} passed, {len(failures)} failed"
    lines.append(f"{'=' * 10} {summary} in {elapsed:.2f}s {'=' * 10}")
    return "\n".join(lines) + "\n"


def junit_report(results: list[CaseResult], elapsed: float, suite: str) -> str:
    from xml.sax.saxutils import escape, quoteattr

    failures = sum(1 for result in results if result.problems)
    errors = sum(1 for result in results if result.error)
    out = ['<?xml version="1.0" encoding="utf-8"?>',
           f'<testsuite name={quoteattr(suite)} tests="{len(results)}" failures="{failures}" errors="{errors}" '
           f'time="{elapsed:.3f}">']
    for result in results:
        head = f'  <testcase classname={quoteattr(result.case.source)} name={quoteattr(result.case.name)}'
        if result.passed:
            out.append(head + "/>")
            continue
        out.append(head + ">")
        if result.error:
            out.append(f"    <error message={quoteattr(result.error[:500])}>{escape(result.error)}</error>")
        else:
            body = "\n".join(result.problems)
            out.append(f"    <failure message={quoteattr(result.problems[0][:500])}>{escape(body)}</failure>")
        out.append("  </testcase>")
    out.append("</testsuite>")
    return "\n".join(out) + "\n"


def json_report(results: list[CaseResult], elapsed: float) -> str:
    rows = [{"name": r.case.name, "source": r.case.source, "passed": r.passed, "problems": list(r.problems),
             "error": r.error, "decision_id": r.decision.decision_id if r.decision else None} for r in results]
    return json.dumps({"passed": sum(r.passed for r in results), "failed": sum(not r.passed for r in results),
                       "seconds": round(elapsed, 3), "cases": rows}, indent=2, sort_keys=True) + "\n"


__all__ = [
    "Case", "CaseResult", "PolicyError", "check_expected", "discover", "json_report", "junit_report", "load_cases",
    "run_case", "run_cases", "text_report",
]
