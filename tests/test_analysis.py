"""lint and diff: seeded faults in copies of the reference policy are caught, each with a witness claim
that ``claimrules check`` confirms; the reference set lints with documented findings only; a diff
that only shortens the battery period reports exactly the battery claims it changes.

Expected findings come from the contract text (which clause should decide); witnesses are re-decided
through the CLI so the finding is confirmed by the engine, not by the analysis that made it.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
import z3
from dateutil.relativedelta import relativedelta
from typer.testing import CliRunner

import claimrules
from claimrules.analysis import cases, diff, lint
from claimrules.analysis.solver import Claims, PolicyFormulas, place_of, territory_cells, vocabulary
from claimrules.analysis.witness import Seed, claim_constraints, derived_kinds, seeds_from
from claimrules.cli import app
from claimrules.facts import claim_json_schema, fact_values
from claimrules.territory import US_STATES_AND_DC, in_territory

ROOT = Path(__file__).resolve().parents[1]
NORTHWIND = ROOT / "policies" / "northwind"
EXAMPLES = ROOT / "examples" / "claims"
runner = CliRunner()


@pytest.fixture(scope="module")
def schema() -> dict[str, object]:
    return claim_json_schema(claimrules.load_vocabulary(NORTHWIND))


@pytest.fixture(scope="module")
def seeds(schema: dict[str, object]) -> list[Seed]:
    examples = [(case.name, case.claim) for case in cases.load_cases([EXAMPLES])]
    return seeds_from(examples, vocabulary(schema), claimrules.load_vocabulary(NORTHWIND))


@pytest.fixture(scope="module")
def reference() -> Iterator[claimrules.CompiledPolicy]:
    with claimrules.load_policy(NORTHWIND) as policy:
        yield policy


def mutated(tmp_path: Path, file: str, change: Callable[[str], str]) -> Path:
    copy = tmp_path / "policy"
    shutil.copytree(NORTHWIND, copy)
    target = copy / file
    before = target.read_text(encoding="utf-8")
    after = change(before)
    assert after != before, "the seeded fault did not apply"
    target.write_text(after, encoding="utf-8")
    return copy


def check(policy: Path, claim: dict[str, object], tmp_path: Path) -> dict[str, object]:
    """Decide a witness with the command line, as a user would."""
    file = tmp_path / f"witness-{abs(hash(json.dumps(claim, sort_keys=True)))}.json"
    file.write_text(json.dumps(claim), encoding="utf-8")
    result = runner.invoke(app, ["check", str(file), "--policy", str(policy), "--format", "json"])
    assert result.exit_code == 0, result.output
    decided: dict[str, object] = json.loads(result.output)
    return decided


def test_reference_set_has_only_documented_findings(reference: claimrules.CompiledPolicy, seeds: list[Seed],
                                                    schema: dict[str, object], tmp_path: Path) -> None:
    report = lint.lint(reference, seeds, schema)
    kinds = sorted({finding.kind for finding in report.findings})
    # docs/analysis.md: the only finding on the reference set is a gap (a repair claim that gives no
    # incident at all reaches no clause); each gap's witness must be decided by the default alone.
    assert set(kinds) <= {"gap"}, lint.text_report(report)
    # every construct the Northwind set uses is encoded, and no search was left unconfirmed
    assert report.uninterpreted == [] and report.unconfirmed == [], lint.text_report(report)
    for finding in report.findings:
        assert finding.witness is not None
        decided = check(NORTHWIND, finding.witness, tmp_path)
        assert decided["deciding"]["clause"] == reference.policy.otherwise_clause  # type: ignore[index]


def test_lint_finds_the_missing_precedence_between_rt_1_3_and_rt_1_2(seeds: list[Seed], schema: dict[str, object],
                                                                       tmp_path: Path) -> None:
    policy = mutated(tmp_path, "store-returns.yaml", lambda text: text.replace(
        "        overrides: [RT 1.1, RT 1.2]\n", "", 1))
    with claimrules.load_policy(policy) as faulty:
        report = lint.lint(faulty, seeds, schema)
    conflicts = [f for f in report.findings if f.kind == "conflict" and f.clause == "RT 1.3"]
    assert conflicts, lint.text_report(report)
    assert any("RT 1.2" in f.message or "RT 1.1" in f.message for f in conflicts)
    witness = conflicts[0].witness
    assert witness is not None
    # RT 1.3: a holiday delivery (15 Nov - 31 Dec) may be returned until 31 January: the witness is
    # such a request; without the precedence the faulty policy refuses it.
    delivered = date.fromisoformat(witness["delivery"].get("delivered_on") or witness["delivery"].get("picked_up_on")
                                   or witness["delivery"]["invoice_date"])
    assert (delivered.month, delivered.day) >= (11, 10)
    decided = check(policy, witness, tmp_path)
    assert decided["outcome"] == "deny"
    assert check(NORTHWIND, witness, tmp_path)["outcome"] in ("approve", "needs_information")  # not refused


def test_lint_finds_a_clause_giving_on_site_service_to_every_request(seeds: list[Seed], schema: dict[str, object],
                                                                       tmp_path: Path) -> None:
    clause = """      - id: CP 6.9
        title: On-site service for everyone (seeded fault)
        text: Every request for on-site service is served on site.
        effect: remedy
        remedy: on_site_repair
        priority: 1
        when: "claim.requested_service == 'on_site'"
"""
    policy = mutated(tmp_path, "care-plan.yaml", lambda text: text.replace("      - id: CP 6.3\n", clause + "      - id: CP 6.3\n", 1))
    with claimrules.load_policy(policy) as faulty:
        report = lint.lint(faulty, seeds, schema)
    conflicts = [f for f in report.findings if f.kind == "conflict" and {"CP 6.2", "CP 6.9"} <= set(re.findall(r"CP 6\.\d", f.message))]
    assert conflicts, lint.text_report(report)
    witness = conflicts[0].witness
    assert witness is not None and witness["claim"]["requested_service"] == "on_site"
    traced = runner.invoke(app, ["explain", _write(tmp_path, witness), "--policy", str(policy), "--format", "json"])
    rows = {(row["clause"], row["branch"]): row["result"] for row in json.loads(traced.output)["trace"]}
    assert rows[("CP 6.9", "when")] == "true" and rows[("CP 6.2", "when")] == "true"


def _write(tmp_path: Path, claim: dict[str, object]) -> str:
    file = tmp_path / "w.json"
    file.write_text(json.dumps(claim), encoding="utf-8")
    return str(file)


def test_diff_finds_a_third_incident_allowed(reference: claimrules.CompiledPolicy, seeds: list[Seed],
                                             schema: dict[str, object], tmp_path: Path) -> None:
    policy = mutated(tmp_path, "care-plan.yaml", lambda text: text.replace(
        "and item.occurred_on < incident.occurred_on) < 2", "and item.occurred_on < incident.occurred_on) < 3", 1))
    with claimrules.load_policy(policy) as faulty:
        report = diff.semantic_diff(reference, faulty, seeds, schema)
    assert report.changed_rules == ["CP 4.1"]
    changes = [c for c in report.changes if c.kind == "outcome"]
    assert changes, diff.text_report(report)
    # CP 4.1: the third accidental-damage incident in 12 months is not covered; with the fault it is.
    assert any(c.old.outcome == "deny" and c.old.deciding == "CP 4.1" and c.new.outcome == "approve" for c in changes)
    for change in changes:
        assert check(NORTHWIND, change.witness, tmp_path)["outcome"] == change.old.outcome
        assert check(policy, change.witness, tmp_path)["outcome"] == change.new.outcome


def test_diff_finds_the_district_of_columbia_dropped(reference: claimrules.CompiledPolicy, seeds: list[Seed],
                                                     schema: dict[str, object], tmp_path: Path) -> None:
    states = ", ".join(sorted(US_STATES_AND_DC - {"US-DC"}))
    policy = mutated(tmp_path, "limited-warranty.yaml", lambda text: text.replace(
        "        sets: [us_states_and_dc, eea]\n        codes: [CA, GB, AU]",
        f"        sets: [eea]\n        codes: [CA, GB, AU, {states}]", 1))
    with claimrules.load_policy(policy) as faulty:
        report = diff.semantic_diff(reference, faulty, seeds, schema)
    changes = [c for c in report.changes if c.kind == "outcome"]
    assert changes, diff.text_report(report)
    # LW 1.5 / LW 5.2: a product in the District of Columbia is in the Service Territory (depot
    # repair, shipping paid both ways); without DC it would be served under LW 5.3 at the customer's cost.
    assert all(c.witness["location"].get("subdivision") == "US-DC" for c in changes), diff.text_report(report)
    for change in changes:
        assert check(NORTHWIND, change.witness, tmp_path)["remedy"] == change.old.remedy
        assert check(policy, change.witness, tmp_path)["remedy"] == change.new.remedy


def test_diff_of_a_six_month_battery_period_reports_only_those_batteries(
        reference: claimrules.CompiledPolicy, seeds: list[Seed], schema: dict[str, object], tmp_path: Path) -> None:
    policy = mutated(tmp_path, "limited-warranty.yaml", lambda text: text.replace(
        '        when: "claim.reported_on <= delivery_date + 1 year"\n        otherwise: excludes\n      - id: LW 2.4',
        '        when: "claim.reported_on <= delivery_date + 6 months"\n        otherwise: excludes\n      - id: LW 2.4', 1))
    with claimrules.load_policy(policy) as faulty:
        report = diff.semantic_diff(reference, faulty, seeds, schema)
    assert report.changed_rules == ["LW 2.3"]
    changes = [c for c in report.changes if c.kind == "outcome"]
    assert changes, diff.text_report(report)
    # LW 2.3 (2024-01): batteries 1 year from delivery for products delivered from 2024; the copy
    # says 6 months. An approval of such a battery reported after 6 months becomes a refusal under
    # LW 2.3 where nothing else gives the customer a right...
    assert any(c.old.outcome == "approve" and c.new.outcome == "deny" and c.new.deciding == "LW 2.3" for c in changes)
    for change in changes:
        # ... and every change lies in that region: a failed battery delivered from 2024, reported
        # more than 6 and at most 12 months after delivery (where a regional addendum still gives a
        # right, the claim is decided under it instead, RG 0.1 / LW 1.7).
        assert change.new.outcome in ("deny", "refer") or change.new.deciding.startswith("RG "), diff.text_report(report)
        witness = change.witness
        assert witness["incident"]["cause"] == "battery"
        delivery = witness["delivery"]
        delivered = date.fromisoformat(delivery.get("delivered_on") or delivery.get("picked_up_on")
                                       or (date.fromisoformat(delivery["invoice_date"]) + relativedelta(days=5)).isoformat())
        reported = date.fromisoformat(witness["claim"]["reported_on"])
        assert delivered >= date(2024, 1, 1)
        assert delivered + relativedelta(months=6) < reported <= delivered + relativedelta(years=1)
        assert check(NORTHWIND, witness, tmp_path)["outcome"] == change.old.outcome
        assert check(policy, witness, tmp_path)["outcome"] == change.new.outcome


def test_cli_lint_and_diff_exit_codes(tmp_path: Path) -> None:
    clean = runner.invoke(app, ["lint", str(NORTHWIND), "--structural"])
    assert clean.exit_code == 0 and clean.output.strip().endswith("0 finding(s)")
    same = runner.invoke(app, ["diff", str(NORTHWIND), str(NORTHWIND), "-e", str(EXAMPLES)])
    assert same.exit_code == 0 and "rules that changed: none" in same.output
    policy = mutated(tmp_path, "care-plan.yaml", lambda text: text.replace(
        "and item.occurred_on < incident.occurred_on) < 2", "and item.occurred_on < incident.occurred_on) < 3", 1))
    changed = runner.invoke(app, ["diff", str(NORTHWIND), str(policy), "-e", str(EXAMPLES), "--format", "json"])
    assert changed.exit_code == 1
    assert json.loads(changed.output)["changed_rules"] == ["CP 4.1"]


# -- every construct of the condition language is encoded, not left uninterpreted ----------------------
# tests/policies/analysis-constructs is a small contract (TERMS.md there) whose SP 4.x clauses the
# terms say can never hold, each guarded by one construct. An uninterpreted construct only adds
# claims, so lint can prove such a clause unreachable only when the construct is encoded exactly.

CONSTRUCTS = ROOT / "tests" / "policies" / "analysis-constructs"


@pytest.fixture(scope="module")
def constructs() -> Iterator[tuple[claimrules.CompiledPolicy, list[Seed], dict[str, object]]]:
    claim_vocabulary = claimrules.load_vocabulary(CONSTRUCTS)
    schema = claim_json_schema(claim_vocabulary)
    examples = [(case.name, case.claim) for case in cases.load_cases([CONSTRUCTS / "examples"])]
    with claimrules.load_policy(CONSTRUCTS) as policy:
        yield policy, seeds_from(examples, vocabulary(schema), claim_vocabulary), schema


@pytest.fixture(scope="module")
def constructs_report(constructs: tuple[claimrules.CompiledPolicy, list[Seed], dict[str, object]]) -> lint.LintReport:
    policy, seeds, schema = constructs
    return lint.lint(policy, seeds, schema, evidence=[])   # no example evidence: every answer is z3's


@pytest.mark.parametrize(("clause", "construct"), [
    ("SP 4.1", "exceptions: a grant counts at most its role's cap after the window (SP 3.1: manager 30 days)"),
    ("SP 4.2", "a 'first' decision table: a new bicycle hits the 30-day row before the 14-day one (SP 1.1)"),
    ("SP 4.3", "a 'collect' table with 'count': two marks at most (SP 5.1)"),
    ("SP 4.4", "a 'unique' table: USD 15 or USD 25, never below USD 10"),
    ("SP 4.5", "grant queries: a manager's grant made within the window is never void (SP 3.1)"),
    ("SP 4.6", "if/then/else: 'severe' only when the bicycle was damaged"),
    ("SP 4.7", "'up to': 10% of the price up to USD 50 is never above USD 50 (SP 2.1)"),
])
def test_lint_proves_each_construct_guarded_clause_unreachable(constructs_report: lint.LintReport, clause: str,
                                                               construct: str) -> None:
    unreachable = {f.clause for f in constructs_report.findings if f.kind == "unreachable"}
    assert clause in unreachable, f"{construct}: {lint.text_report(constructs_report)}"


def test_constructs_set_has_nothing_uninterpreted_and_no_false_unreachable(constructs_report: lint.LintReport) -> None:
    assert constructs_report.uninterpreted == []
    # SP 1.1, SP 1.2 and SP 6.1 can hold (SP 6.1: a chained extension, see the next test): a wrong
    # encoding of the window table or of the grants' fixed point would "prove" them unreachable.
    unreachable = {f.clause for f in constructs_report.findings if f.kind == "unreachable"}
    assert unreachable == {f"SP 4.{n}" for n in range(1, 8)}, lint.text_report(constructs_report)


def test_a_chained_extension_counts_so_sp_6_1_can_hold(tmp_path: Path) -> None:
    # SP 1.1: a refurbished bicycle delivered 2025-04-01 has until 2025-04-15. SP 3.1: an agent's
    # extension granted 2025-04-10 to 2025-04-22 counts (7 days); a manager's granted 2025-04-20,
    # after 2025-04-15 but while the agent's kept the window open, counts too: SP 6.1 refers.
    claim = {
        "claim": {"type": "return", "reported_on": "2025-04-25", "courier": "standard"},
        "product": {"condition": "refurbished", "price": {"amount": "500.00", "currency": "USD"}, "opened": False,
                    "damaged_by_customer": False},
        "delivery": {"delivered_on": "2025-04-01"},
        "location": {"country": "US", "subdivision": "US-OR"},
        "extensions": [{"role": "agent", "granted_on": "2025-04-10", "new_end": "2025-04-22"},
                       {"role": "manager", "granted_on": "2025-04-20", "new_end": "2025-05-01"}],
    }
    decided = check(CONSTRUCTS, claim, tmp_path)
    assert decided["outcome"] == "refer" and decided["deciding"]["clause"] == "SP 6.1"  # type: ignore[index]


def _window_end(claim: dict[str, object]) -> date:
    """The window as extended, read from TERMS.md: SP 1.1 (30 / 14 / 7 days), SP 3.1 (agent 7 days,
    manager 30 days from the SP 1.1 end, capped; void when granted after the window as extended)."""
    product, delivery = claim["product"], claim["delivery"]
    assert isinstance(product, dict) and isinstance(delivery, dict)
    days = {"new": 30, "refurbished": 14}.get(product["condition"], 7)
    base = date.fromisoformat(delivery["delivered_on"]) + relativedelta(days=days)
    caps = {"agent": 7, "manager": 30}
    grants = [(date.fromisoformat(g["granted_on"]), min(date.fromisoformat(g["new_end"]),
                                                         base + relativedelta(days=caps[g["role"]])))
              for g in claim.get("extensions") or [] if g["role"] in caps]  # type: ignore[attr-defined]
    end, changed = base, True
    while changed:
        changed = False
        for granted, until in grants:
            if granted <= end < until:
                end, changed = until, True
    return end


def test_lint_finds_the_drafting_gap_after_the_window(constructs_report: lint.LintReport, tmp_path: Path) -> None:
    # SP 1.1 refunds up to the end of the window, SP 1.2 refuses only more than 3 days after it: a
    # request 1-3 days after the window is answered by nothing but the default (SP 9.1).
    gaps = [f for f in constructs_report.findings if f.kind == "gap"]
    assert gaps, lint.text_report(constructs_report)
    witness = gaps[0].witness
    assert witness is not None
    reported = date.fromisoformat(witness["claim"]["reported_on"])
    end = _window_end(witness)
    assert end < reported <= end + relativedelta(days=3), (witness, end)
    assert check(CONSTRUCTS, witness, tmp_path)["deciding"]["clause"] == "SP 9.1"  # type: ignore[index]


def test_best_buy_lints_clean_with_nothing_uninterpreted() -> None:
    result = runner.invoke(app, ["lint", str(ROOT / "policies" / "bestbuy"), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["findings"] == [] and report["uninterpreted"] == [] and report["unconfirmed"] == []


# -- the encoding agrees with the engine on real claims ------------------------------------------------

def _agreement(policy_dir: Path, examples: Path, keep: Callable[[str, dict[str, object]], bool]) -> tuple[int, list[str]]:
    """Pin each kept example claim in the encoding (every fact fixed to its value) and compare each
    rule's encoded truth (true / false / unknown) with the engine's trace of the same claim."""
    claim_vocabulary = claimrules.load_vocabulary(policy_dir)
    schema = claim_json_schema(claim_vocabulary)
    found = list(cases.load_cases([examples]))
    seeds = seeds_from([(case.name, case.claim) for case in found], vocabulary(schema), claim_vocabulary)
    mismatches: list[str] = []
    checked = 0
    with claimrules.load_policy(policy_dir) as compiled:
        policy = compiled.policy
        cells = territory_cells([policy])
        claims = Claims(vocabulary(schema), derived_kinds(seeds))
        claims.location_cells = cells
        claims.place = place_of(policy.vocabulary)
        formulas = PolicyFormulas(policy, claims)
        rules = {}
        for document in policy.documents:
            rules[(f"{document.id} (applies)", None, "when")] = formulas.applies_truth(document)
            for clause in document.clauses:
                if clause.when is not None or clause.applies is not None:
                    rules[(clause.id, clause.version, "when")] = formulas.holds(clause)
                    rules[(clause.id, clause.version, "otherwise")] = formulas.otherwise(clause)
        code_sets = [d.codes for _, d in sorted(policy.definitions.items()) if d.codes is not None]
        solver = z3.Solver()
        solver.add(*claims.constraints, *claims.text_constraints())
        for case in found:
            if not keep(case.name, case.claim):
                continue
            decision = compiled.adjudicate(case.claim)
            pins = claim_constraints(claims, fact_values(compiled.parse_claim(case.claim)), cells,
                                     lambda cell: tuple(in_territory(codes, cell[0], cell[1]) for codes in code_sets))
            assert pins is not None, case.name
            solver.push()
            solver.add(*pins)
            assert solver.check() == z3.sat, f"the encoding has no room for the real claim {case.name}"
            model = solver.model()
            checked += 1
            for row in decision.trace:
                truth = rules.get((row.clause, row.version, row.branch))
                if truth is None:
                    continue
                encoded = ("true" if z3.is_true(model.eval(truth.true, model_completion=True)) else
                           "false" if z3.is_true(model.eval(truth.false, model_completion=True)) else "unknown")
                if encoded != row.result:
                    mismatches.append(f"{case.name}: {row.clause} {row.branch}: engine {row.result}, encoded {encoded}")
            solver.pop()
    return checked, mismatches


def test_the_encoding_agrees_with_the_engine_on_the_best_buy_and_construct_examples() -> None:
    for policy_dir in (ROOT / "policies" / "bestbuy", CONSTRUCTS):
        checked, mismatches = _agreement(policy_dir, policy_dir / "examples", lambda name, claim: True)
        assert checked >= 2 and mismatches == [], mismatches


def test_the_encoding_agrees_with_the_engine_on_northwind_returns_and_seeds(seeds: list[Seed]) -> None:
    # Every return example (window tables, RT 3.1-3.4's exceptions) and one example of each shape;
    # all 121 agree too, but take ~30 s (a pinned claim is one solver call on the whole encoding).
    shapes = {seed.name for seed in seeds}
    checked, mismatches = _agreement(NORTHWIND, EXAMPLES, lambda name, claim: name in shapes or
                                     claim["claim"]["type"] == "return")  # type: ignore[index]
    assert checked >= 40 and mismatches == [], mismatches


def _lint_with_no_evidence(folder: Path) -> lint.LintReport:
    """Lint a policy set seeded from its own examples, every answer z3's (no example evidence)."""
    claim_vocabulary = claimrules.load_vocabulary(folder)
    schema = claim_json_schema(claim_vocabulary)
    examples = [(case.name, case.claim) for case in cases.load_cases([folder / "examples"])]
    with claimrules.load_policy(folder) as policy:
        return lint.lint(policy, seeds_from(examples, vocabulary(schema), claim_vocabulary), schema, evidence=[])


def test_territories_are_encoded_wherever_the_vocabulary_puts_the_place(tmp_path: Path) -> None:
    """The place is found by the vocabulary's country role, not by Northwind's 'location' group: in a
    copy of the constructs set whose place is 'shop', a clause asking for a shop both in and out of
    a territory is proven unreachable, and one asking for a shop in it is not (it holds for a shop
    in Oregon, US-OR, inside the 'us_only' set the test adds)."""
    import shutil

    folder = tmp_path / "shop-set"
    shutil.copytree(CONSTRUCTS, folder)
    facts = folder / "facts.yaml"
    facts.write_text(facts.read_text().replace("\n  location:\n", "\n  shop:\n"))
    for example in (folder / "examples").glob("*.json"):
        example.write_text(example.read_text().replace('"location"', '"shop"'))
    returns = folder / "returns.yaml"
    text = returns.read_text()
    text = text.replace("    definitions:\n", "    definitions:\n"
                        "      us_only: {clause: SP 4.8, codes: [US], description: The United States.}\n", 1)
    text = text.replace("    clauses:\n", "    clauses:\n"
                        "      - id: SP 4.8\n        title: In and out of the United States (never)\n"
                        "        text: Refers a return from a shop both in and outside the United States.\n"
                        "        effect: refers\n        refer_to: workshop\n"
                        "        when: \"shop in us_only and shop not in us_only\"\n"
                        "      - id: SP 4.9\n        title: From the United States\n"
                        "        text: Refers a return from a shop in the United States.\n"
                        "        effect: refers\n        refer_to: workshop\n"
                        "        when: \"shop in us_only and claim.courier == 'express'\"\n", 1)
    returns.write_text(text)
    report = _lint_with_no_evidence(folder)
    unreachable = {f.clause for f in report.findings if f.kind == "unreachable"}
    assert report.uninterpreted == [], lint.text_report(report)
    assert "SP 4.8" in unreachable and "SP 4.9" not in unreachable, lint.text_report(report)


def test_lint_finds_overlapping_rows_of_a_unique_table(constructs_report: lint.LintReport, tmp_path: Path) -> None:
    """A 'unique' table promises that at most one row holds (DMN). SP 4.4's courier fee keeps it
    (a courier is standard or express, never both): no finding. A copy adding a handling fee whose
    rows 'opened' and 'damaged by the customer' can both hold gets an 'overlap' finding, with a
    claim that `claimrules check` refuses naming those two rows."""
    assert [f for f in constructs_report.findings if f.kind == "overlap"] == [], lint.text_report(constructs_report)
    folder = tmp_path / "overlap-set"
    shutil.copytree(CONSTRUCTS, folder)
    returns = folder / "returns.yaml"
    text = returns.read_text()
    text = text.replace("    definitions:\n", "    definitions:\n"
                        "      handling_fee:\n        clause: SP 4.8\n        description: A handling fee.\n"
                        "        table:\n          hit: unique\n          rows:\n"
                        "            - {when: \"product.opened == true\", value: \"USD 5\"}\n"
                        "            - {when: \"product.damaged_by_customer == true\", value: \"USD 10\"}\n"
                        "            - {otherwise: \"USD 0\"}\n", 1)
    text = text.replace("    clauses:\n", "    clauses:\n"
                        "      - id: SP 4.8\n        title: Handling\n"
                        "        text: Refers a return whose handling fee is above USD 8.\n"
                        "        effect: refers\n        refer_to: workshop\n"
                        "        when: \"handling_fee > USD 8\"\n", 1)
    returns.write_text(text)
    report = _lint_with_no_evidence(folder)
    overlaps = [f for f in report.findings if f.kind == "overlap"]
    assert len(overlaps) == 1, lint.text_report(report)
    assert "product.opened == true" in overlaps[0].message and "damaged_by_customer" in overlaps[0].message
    assert overlaps[0].witness is not None
    assert overlaps[0].witness["product"]["opened"] is True
    assert overlaps[0].witness["product"]["damaged_by_customer"] is True
    file = tmp_path / "overlap-witness.json"
    file.write_text(json.dumps(overlaps[0].witness), encoding="utf-8")
    result = runner.invoke(app, ["check", str(file), "--policy", str(folder)])
    assert result.exit_code != 0
    assert "of a 'unique' table both hold" in result.output, result.output
