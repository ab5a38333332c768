"""The reference policies encode the contract texts: every numbered section is a clause, no clause is
invented, and each clause quotes its section word for word.

The contract texts live beside the repository (``../shared/terms``); the tests that read them are
skipped where that folder is absent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from claimrules.engine.compiler import DurableCompiler
from claimrules.engine.evaluate import ConditionCompiler, _holding
from claimrules.policy import expr as ast
from claimrules.policy.loader import load_policy
from claimrules.policy.model import Effect, PolicySet
from claimrules.territory import EEA

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "northwind"
TERMS = Path(__file__).resolve().parents[1].parent / "shared" / "terms"

# A section is a bullet opening with its bold number: "- **LW 1.3 Delivery Date**: ...",
# "- **RG EU.1 Right of withdrawal.** ...", "- **CP 4.3** ...". Only "X.Y" numbers are sections
# ("RT 1" is a heading, not a clause).
SECTION_ID = re.compile(r"\*\*((?:LW|CP|RT) \d+\.\d+|RG (?:[A-Z]{2}|\d+)\.\d+)\b")
SECTION = re.compile(r"^- \*\*((?:LW|CP|RT) \d+\.\d+|RG (?:[A-Z]{2}|\d+)\.\d+)([^*]*)\*\*(.*)$")

CONDITIONAL = {Effect.COVERS, Effect.EXTENDS, Effect.EXCLUDES, Effect.VOIDS, Effect.LIMITS, Effect.REFERS,
               Effect.NOTICE}


@pytest.fixture(scope="module")
def policy() -> PolicySet:
    return load_policy(POLICY)


@pytest.fixture(scope="module")
def terms() -> list[Path]:
    files = sorted(TERMS.glob("*.md")) if TERMS.is_dir() else []
    if not files:
        pytest.skip(f"the contract texts are not here ({TERMS})")
    return files


def section_ids(files: list[Path]) -> set[str]:
    return {match.group(1) for file in files for match in SECTION_ID.finditer(file.read_text(encoding="utf-8"))}


def section_texts(files: list[Path]) -> dict[str, str]:
    """Each section's wording: its bold heading's words and the text after it, continuation lines
    joined, whitespace collapsed, markdown emphasis and code marks removed."""
    parts: dict[str, list[str]] = {}
    for file in files:
        current: str | None = None
        for line in file.read_text(encoding="utf-8").splitlines():
            match = SECTION.match(line)
            if match:
                current = match.group(1)
                parts[current] = [match.group(2).strip() + match.group(3)]
            elif current is not None and line.startswith("  ") and line.strip():
                parts[current].append(line.strip())
            else:
                current = None
    texts = {}
    for section, lines in parts.items():
        text = " ".join(" ".join(lines).split()).replace("`", "")
        texts[section] = re.sub(r"\*([^*]+)\*", r"\1", text)
    return texts


def current_clauses(policy: PolicySet) -> list:
    """Every clause in its current wording (earlier versions' wording left out)."""
    return [clause for document in policy.documents for clause in document.clauses if clause.version is None]


# -- the set -----------------------------------------------------------------------------------------

def test_the_set_loads(policy: PolicySet) -> None:
    assert policy.id == "northwind"
    assert {document.id for document in policy.documents} == {"LW", "CP", "RT", "RG-EU", "RG-UK", "RG-AU", "RG"}
    assert policy.tie_order == ("RG-EU", "RG-UK", "RG-AU", "RG", "CP", "LW", "RT")
    assert (policy.precedence_clause, policy.otherwise_clause, policy.information_clause) == ("LW 1.7", "LW 3.1", "LW 6.3")
    assert set(policy.parties) == {"northwind", "keystone", "northwind_store"}
    assert {document.id for document in policy.documents if document.regional} == {"RG-EU", "RG-UK", "RG-AU", "RG"}


def test_lw_2_3_has_its_2019_07_wording(policy: PolicySet) -> None:
    assert "LW 2.3@2019-07" in policy.clauses_by_key
    assert policy.document("LW").earlier_versions


# -- clause for clause -------------------------------------------------------------------------------

def test_every_section_of_the_terms_is_a_clause(policy: PolicySet, terms: list[Path]) -> None:
    missing = section_ids(terms) - set(policy.clause_ids)
    assert not missing, f"sections without a clause: {sorted(missing)}"


def test_no_clause_is_invented(policy: PolicySet, terms: list[Path]) -> None:
    extra = set(policy.clause_ids) - section_ids(terms)
    assert not extra, f"clauses that are no section of the terms: {sorted(extra)}"


def test_each_section_is_one_clause(policy: PolicySet) -> None:
    ids = [clause.id for clause in current_clauses(policy)]
    assert len(ids) == len(set(ids))


def test_clause_text_quotes_the_contract(policy: PolicySet, terms: list[Path]) -> None:
    texts = section_texts(terms)
    assert len(texts) == len(section_ids(terms))
    differing = [clause.id for clause in current_clauses(policy) if clause.text != texts.get(clause.id)]
    assert not differing, f"clause text differs from the contract wording: {differing}"


def test_every_clause_has_a_text_and_a_title(policy: PolicySet) -> None:
    for clause in policy.clauses_by_key.values():
        assert clause.text.strip(), clause.key
        assert clause.title.strip(), clause.key


def test_every_conditional_clause_has_a_condition(policy: PolicySet) -> None:
    unconditional = [clause.key for clause in policy.clauses_by_key.values()
                     if clause.effect in CONDITIONAL and clause.when is None]
    assert not unconditional


def test_a_referral_names_who_decides(policy: PolicySet) -> None:
    for clause in policy.clauses_by_key.values():
        if Effect.REFERS in (clause.effect, clause.otherwise):
            assert clause.refer_to, clause.key


# -- what the engine relies on -----------------------------------------------------------------------

def test_holds_reads_applies_and_when(policy: PolicySet) -> None:
    """holds('X') is X's whole condition, 'applies and when', in the traced evaluator as in the
    durable_rules compiler (RG EU.4 names RG EU.2, a clause with both)."""
    named: set[str] = set()
    for clause in policy.clauses_by_key.values():
        for node in (clause.when, clause.applies):
            if node is not None:
                named |= ast.holds_of(node)
    with_applies = [clause for clause in policy.clauses_by_key.values()
                    if clause.id in named and clause.applies is not None and clause.when is not None]
    assert with_applies
    compiler = DurableCompiler(policy, ConditionCompiler(policy))
    for clause in with_applies:
        holding = _holding(clause)
        assert isinstance(holding, ast.All) and holding.items == (clause.applies, clause.when), clause.key
        assert any(isinstance(variant, ast.All) and variant.items == (clause.applies, clause.when)
                   for variant in compiler._variants[clause.id]), clause.key


def test_a_definition_uses_only_definitions_named_before_it(policy: PolicySet) -> None:
    """The evaluator compiles definitions in name order and resolves a name when it compiles it."""
    for name, definition in policy.definitions.items():
        if definition.value is not None:
            later = sorted(ref for ref in ast.refs_of(definition.value) if ref >= name)
            assert not later, f"definition {name} uses {later}"


def test_eea_countries_are_the_eea(policy: PolicySet) -> None:
    """purchase.country cannot be tested against the built-in territory set, so RG-EU lists the codes."""
    constants = policy.definitions["eea_countries"].constants
    assert constants is not None and set(constants) == set(EEA)
