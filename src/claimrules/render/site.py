"""Coverage documentation for customers, generated from a policy set: a static site in HTML and Markdown.

``build_site`` writes one page per document (a plain-language summary drawn from the clauses'
effects, the full clause text with stable anchors, and, for a U.S. written warranty, the 16 CFR
701.3 disclosure), a glossary, and worked examples: every claim in ``examples_dir`` is decided by
the engine while the site is built, so the documentation shows the decision the policies give
today and cannot drift from them. Output is deterministic: sorted, no timestamps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

from claimrules.api import CompiledPolicy, load_policy
from claimrules.decide import clause_order
from claimrules.decision import Decision
from claimrules.errors import ClaimrulesError
from claimrules.facts import ClaimFacts, parse_claim, read_claim_text
from claimrules.files import read_claim_file
from claimrules.policy import expr as ast
from claimrules.policy.model import (
    COVERING_EFFECTS,
    DISCLOSURE_ITEMS,
    REFUSING_EFFECTS,
    Clause,
    Definition,
    Document,
    Effect,
    PolicySet,
)
from claimrules.render.anchors import clause_anchor, clause_href, document_page
from claimrules.render.claimfacts import all_facts
from claimrules.render.collisions import NameRegister, check_site_names
from claimrules.render.letter import (
    TEMPLATES,
    Cited,
    Letter,
    build_letter,
    environment,
    fact_words,
    long_date,
    render_letter,
)
from claimrules.render.text import OUTCOME_WORDS, REMEDY_WORDS
from claimrules.words import name_in_words, written_words

MANIFEST = ".claimrules-site"
STYLESHEET = "style.css"

# 16 CFR 701.3(a): what a written warranty on a consumer product must disclose, by the item names
# a document's ``disclosures`` uses.
DISCLOSURE_LABELS: dict[str, tuple[str, str]] = {
    "who_is_covered": ("Who is covered", "701.3(a)(1)"),
    "what_is_covered": ("What is covered", "701.3(a)(2)"),
    "what_is_not_covered": ("What is not covered", "701.3(a)(2)"),
    "what_the_warrantor_will_do": ("What the warrantor will do, and at whose expense", "701.3(a)(3)"),
    "when_coverage_begins_and_ends": ("When coverage begins and ends", "701.3(a)(4)"),
    "how_to_claim": ("How to make a claim, step by step, and whom to contact", "701.3(a)(5)"),
    "informal_dispute_mechanism": ("Informal dispute settlement", "701.3(a)(6)"),
    "implied_warranty_limits": ("Limits on implied warranties", "701.3(a)(7)"),
    "state_law_rights": ("Your rights under state law", "701.3(a)(9)"),
}
assert tuple(DISCLOSURE_LABELS) == DISCLOSURE_ITEMS

EFFECT_WORDS = {
    "covers": "covered", "extends": "extends a period", "excludes": "not covered", "voids": "voids the coverage",
    "limits": "limit", "refers": "referred to a person", "requires": "needed for a claim", "remedy": "service",
    "fee": "fee", "notice": "what we tell you", "responsible": "who decides", "escalation": "review",
    "defines": "definition", "states": "rule", "precedence": "precedence",
}
FEE_WORDS = {"service_fee": "service fee", "restocking_fee": "restocking fee",
             "accessory_deduction": "deducted from the refund", "shipping": "shipping charge"}
UNIT_WORDS = {"days": ("day", "days"), "months": ("month", "months"), "years": ("year", "years"),
              "business_days": ("business day", "business days")}


# -- the report ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MissingDisclosure:
    """A 16 CFR 701.3 item that a written warranty in the policy set does not disclose."""

    document: str
    item: str

    @property
    def label(self) -> str:
        return DISCLOSURE_LABELS[self.item][0]

    def __str__(self) -> str:
        label, rule = DISCLOSURE_LABELS[self.item]
        return (f"{self.document}: 16 CFR {rule} item '{self.item}' ({label}) is not disclosed by any clause "
                f"(add it under 'disclosures:' in the document)")


@dataclass(frozen=True)
class ExampleResult:
    """One worked example: the decision the engine gave at build time, or why it could not decide."""

    name: str
    file: str
    outcome: str | None = None
    deciding: str | None = None
    decision_id: str | None = None
    problem: str | None = None
    differs_from_expected: tuple[str, ...] = ()


@dataclass(frozen=True)
class SiteReport:
    """What ``build_site`` wrote, and what the policy lacks."""

    out_dir: Path
    policy_id: str
    files: tuple[str, ...]
    documents: tuple[str, ...]
    anchors: dict[str, str]
    missing_disclosures: tuple[MissingDisclosure, ...]
    examples: tuple[ExampleResult, ...]
    notes: tuple[str, ...] = ()

    @property
    def warnings(self) -> list[str]:
        found = [str(missing) for missing in self.missing_disclosures]
        for example in self.examples:
            if example.problem:
                found.append(f"example {example.file}: not shown: {example.problem}")
            for difference in example.differs_from_expected:
                found.append(f"example {example.file}: the engine's decision differs from 'expected': {difference}")
        return found + list(self.notes)


# -- small views the templates lay out ----------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One line of a summary list: words, and the clause that says so."""

    text: str
    cited: Cited


@dataclass(frozen=True)
class StepView:
    who: str
    contact: str
    ask_within: str | None
    answer_within: str | None
    cited: Cited | None


@dataclass(frozen=True)
class DisclosureView:
    item: str
    label: str
    rule: str
    clauses: tuple[Cited, ...]


@dataclass(frozen=True)
class ClauseView:
    anchor: str
    id: str
    title: str
    text: str
    effect: str
    version: str | None
    source: str


@dataclass(frozen=True)
class ExampleLink:
    anchor: str
    name: str
    title: str
    outcome: str
    outcome_words: str


@dataclass
class DocumentView:
    id: str
    page: str
    markdown_page: str
    title: str
    issuer: str
    version: str
    effective_from: str | None
    jurisdiction: str
    regional: bool
    summary: str
    responsible: str
    responsible_contact: str
    earlier_versions: tuple[str, ...]
    covered: list[Line] = field(default_factory=list)
    not_covered: list[Line] = field(default_factory=list)
    periods: list[Line] = field(default_factory=list)
    service: list[Line] = field(default_factory=list)
    how_to_claim: list[Line] = field(default_factory=list)
    told: list[Line] = field(default_factory=list)
    who_decides: list[Line] = field(default_factory=list)
    escalation: list[StepView] = field(default_factory=list)
    disclosure: list[DisclosureView] | None = None
    clauses: list[ClauseView] = field(default_factory=list)
    examples: list[ExampleLink] = field(default_factory=list)


@dataclass(frozen=True)
class GlossaryEntry:
    anchor: str
    term: str
    text: str
    names: tuple[str, ...]
    cited: Cited | None
    values: str


@dataclass(frozen=True)
class ExampleView:
    anchor: str
    name: str
    title: str
    story: str
    facts: tuple[tuple[str, str], ...]
    letter: Letter | None
    letter_page: str | None
    outcome: str | None
    outcome_words: str | None
    problem: str | None


# -- reading the policy for customers -----------------------------------------------------------------

def _duration_words(duration: ast.Duration) -> str:
    one, many = UNIT_WORDS.get(duration.unit, (duration.unit, duration.unit))
    return f"{duration.amount} {one if duration.amount == 1 else many}"


class _Reader:
    """Plain-language views of one policy set's documents."""

    def __init__(self, policy: PolicySet, base: str = "") -> None:
        self.policy = policy
        self.base = base
        self.defined_by = {clause.id: clause for document in policy.documents for clause in document.clauses
                           if clause.effect == Effect.DEFINES and clause.version is None}
        self._written_words = written_words(
            [document.title for document in policy.documents]
            + [part for document in policy.documents for clause in document.clauses for part in (clause.title, clause.text) if part]
            + [definition.description for definition in policy.definitions.values() if definition.description])

    def cite(self, clause: Clause) -> Cited:
        try:
            title = self.policy.document(clause.document).title
        except KeyError:
            title = clause.document
        return Cited(clause=clause.id, title=clause.title, text=clause.text, document=clause.document,
                     document_title=title, version=clause.version,
                     href=clause_href(clause.document, clause.id, clause.version, self.base))

    def cite_id(self, clause_id: str) -> Cited | None:
        clause = self.policy.clauses_by_key.get(clause_id)
        return self.cite(clause) if clause is not None else None

    def sets_a_period(self, clause: Clause) -> bool:
        """Whether a clause's conditions count time (``within N days after``, ``date + 1 year``),
        directly or through the definitions they use."""
        pending = [node for node in (clause.applies, clause.when) if node is not None]
        seen: set[str] = set()
        while pending:
            for node in ast.walk(pending.pop()):
                if isinstance(node, (ast.Within, ast.Duration)):
                    return True
                if isinstance(node, ast.Ref) and node.name not in seen:
                    seen.add(node.name)
                    definition = self.policy.definitions.get(node.name)
                    # A defined term (LW 1.3 Delivery Date: invoice date + 5 days) is not a period of this clause.
                    if definition is not None and definition.value is not None and definition.clause not in self.defined_by:
                        pending.append(definition.value)
        return False

    def document(self, document: Document, examples: list[ExampleView], decisions: dict[str, Decision]) -> DocumentView:
        party = self.policy.parties.get(document.responsible)
        view = DocumentView(
            id=document.id, page=document_page(document.id), markdown_page=document_page(document.id)[:-5] + ".md",
            title=document.title, issuer=document.issuer, version=document.version,
            effective_from=long_date(document.effective_from) if document.effective_from else None,
            jurisdiction=document.jurisdiction, regional=document.regional, summary=document.summary,
            responsible=party.name if party else document.responsible, responsible_contact=party.contact if party else "",
            earlier_versions=tuple(version.version for version in document.earlier_versions),
        )
        current = sorted((clause for clause in document.clauses),
                         key=lambda clause: (clause_order(clause.id), clause.version or ""))
        for clause in current:
            if clause.version is not None:
                continue
            cited = self.cite(clause)
            if clause.effect in COVERING_EFFECTS:
                view.covered.append(Line(clause.title, cited))
            elif clause.effect in REFUSING_EFFECTS:
                view.not_covered.append(Line(clause.title, cited))
            elif clause.effect == Effect.REMEDY:
                view.service.append(Line(f"{clause.title}: " + REMEDY_WORDS.get(clause.remedy or "", clause.remedy or ""),
                                         cited))
            elif clause.effect == Effect.FEE:
                view.service.append(Line(f"{clause.title}: " + FEE_WORDS.get(clause.fee_kind or "", clause.fee_kind or "fee"),
                                         cited))
            elif clause.effect == Effect.REQUIRES:
                view.how_to_claim.append(Line("A claim needs: " + ", ".join(fact_words(path, self.policy.vocabulary)
                                                                            for path in clause.requires),
                                              cited))
            elif clause.effect == Effect.REFERS:
                view.not_covered.append(Line(f"{clause.title}: decided by {clause.refer_to}", cited))
            elif clause.effect == Effect.NOTICE:
                view.told.append(Line(clause.notice or clause.text, cited))
            elif clause.effect == Effect.RESPONSIBLE:
                named = self.policy.parties.get(clause.party or "")
                view.who_decides.append(Line(f"{named.name if named else clause.party} decides"
                                             + (" claims under " + ", ".join(self._title(d) for d in clause.over)
                                                if clause.over else ""), cited))
            if clause.otherwise in REFUSING_EFFECTS:
                view.not_covered.append(Line(f"Claims outside the {_lower_first(clause.title)}", cited))
            if clause.effect in (*COVERING_EFFECTS, *REFUSING_EFFECTS, Effect.REFERS) and self.sets_a_period(clause):
                view.periods.append(Line(f"{clause.title}: {clause.text}", cited))
        for step in document.escalation:
            view.escalation.append(StepView(
                who=step.who, contact=step.contact,
                ask_within=f"within {_duration_words(step.ask_within)} after the written decision" if step.ask_within else None,
                answer_within=_duration_words(step.answer_within) if step.answer_within else None,
                cited=self.cite_id(step.clause)))
        listed = {line.cited.clause for line in view.how_to_claim}
        for clause_id in document.disclosures.get("how_to_claim", ()):
            cited_step = self.cite_id(clause_id)
            if cited_step is not None and clause_id not in listed:
                view.how_to_claim.append(Line(cited_step.title, cited_step))
        if _is_written_warranty(document):
            view.disclosure = [
                DisclosureView(item=item, label=DISCLOSURE_LABELS[item][0], rule=DISCLOSURE_LABELS[item][1],
                               clauses=tuple(cited for cited in (self.cite_id(clause_id) for clause_id in
                                                                 document.disclosures.get(item, ())) if cited))
                for item in DISCLOSURE_ITEMS]
        for clause in current:
            view.clauses.append(ClauseView(
                anchor=clause_anchor(clause.id, clause.version), id=clause.id, title=clause.title, text=clause.text,
                effect=EFFECT_WORDS.get(clause.effect.value, clause.effect.value), version=clause.version,
                source=str(clause.source)))
        for example in examples:
            decision = decisions.get(example.name)
            if decision is not None and document.id in {citation.document for citation in decision.grounds}:
                view.examples.append(ExampleLink(example.anchor, example.name, example.title, decision.outcome,
                                                 OUTCOME_WORDS[decision.outcome].capitalize()))
        return view

    def _title(self, document_id: str) -> str:
        try:
            return self.policy.document(document_id).title
        except KeyError:
            return document_id

    def glossary(self) -> list[GlossaryEntry]:
        entries: list[GlossaryEntry] = []
        named: dict[str, list[Definition]] = {}
        for definition in self.policy.definitions.values():
            if definition.clause in self.defined_by:
                named.setdefault(definition.clause, []).append(definition)
        for clause_id, clause in self.defined_by.items():
            entries.append(GlossaryEntry(
                anchor="term-" + clause_anchor(clause.title), term=clause.title, text=clause.text,
                names=tuple(sorted(definition.name for definition in named.get(clause_id, []))),
                cited=self.cite(clause), values=""))
        for definition in self.policy.definitions.values():
            if definition.clause in self.defined_by:
                continue
            values = ""
            if definition.codes is not None:
                values = "ISO 3166 codes: " + ", ".join(sorted(definition.codes))
            elif definition.constants is not None:
                values = "One of: " + ", ".join(sorted(str(value).replace("_", " ") for value in definition.constants))
            term = _term(definition.name, self._written_words)
            entries.append(GlossaryEntry(
                anchor="term-" + clause_anchor(definition.name), term=term, text=definition.description,
                names=(definition.name,), cited=self.cite_id(definition.clause) if definition.clause else None,
                values=values))
        entries.sort(key=lambda entry: entry.term.lower())
        return entries


def _term(name: str, written: dict[str, str]) -> str:
    """A definition's name as a glossary term, its words as the policy writes them:
    'us_and_canada' -> 'US and Canada', 'fee_zone_uk' -> 'Fee zone UK' (not 'Us and canada')."""
    term = name_in_words(name, written)
    return term[:1].upper() + term[1:]


def _lower_first(text: str) -> str:
    """'Return window' -> 'return window', but 'EU right' stays."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _is_written_warranty(document: Document) -> bool:
    """A document that must carry the 16 CFR 701.3 disclosure: one that declares ``disclosures``, or a
    non-regional document that calls itself a warranty."""
    if document.disclosures:
        return True
    return not document.regional and re.search(r"\bwarranty\b", document.title, re.IGNORECASE) is not None


def missing_disclosures(policy: PolicySet) -> list[MissingDisclosure]:
    """Every 16 CFR 701.3 item a written warranty of the set does not disclose, by name."""
    found = []
    for document in policy.documents:
        if not _is_written_warranty(document):
            continue
        for item in DISCLOSURE_ITEMS:
            if not document.disclosures.get(item):
                found.append(MissingDisclosure(document.id, item))
    return found


# -- examples -----------------------------------------------------------------------------------------

TASKS = (("What is covered", "what-is-covered"), ("How to claim", "how-to-claim"), ("Deadlines", "periods"),
         ("Who decides", "who-decides"), ("If you disagree", "if-you-disagree"))
"""The task index of the site's front page: what a reader comes to find, and the anchor on each document page."""


def _phrases(story: str) -> list[str]:
    text = re.sub(r"\s*\([^)]*\)", "", story)
    return [phrase.strip().rstrip(",") for phrase in re.split(r"(?<!\d)\.(?=\s|$)|: |; | -> | \u2014 ", text)
            if phrase.strip()]


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0].rstrip(",") + "\u2026"


def story_title(story: str, decision: Decision | None, detail: str = "") -> str:
    """An example titled by its story: the story's opening phrase (and a phrase that tells it apart
    from a similar story), and what was decided."""
    phrases = _phrases(story) or [story]
    lead = _short(phrases[0]) + (f" ({_short(detail, 60)})" if detail else "")
    if decision is None:
        return lead
    outcome = {"approve": "approved", "deny": "refused", "refer": "referred", "needs_information": "held"}[decision.outcome]
    return f"{lead}: {outcome}, {_lower_first(decision.deciding.title)} ({decision.deciding.clause})"


def _story_titles(views: list[ExampleView], decisions: dict[str, Decision], claims: dict[str, ClaimFacts]) -> list[ExampleView]:
    """Titles from the stories; where two read alike, each adds the first phrase of its story that differs."""
    del claims
    titles = {view.name: story_title(view.story, decisions.get(view.name)) if view.story else view.title for view in views}
    groups: dict[str, list[ExampleView]] = {}
    for view in views:
        groups.setdefault(titles[view.name], []).append(view)
    for group in groups.values():
        if len(group) < 2:
            continue
        stories = [_phrases(view.story) for view in group]
        for view, phrases in zip(group, stories):
            others = [other for other in stories if other is not phrases]
            detail = next((phrase for phrase in phrases[1:] if all(phrase not in other for other in others)), "")
            titles[view.name] = story_title(view.story, decisions.get(view.name), detail)
    return [replace(view, title=titles[view.name]) for view in views]


def _title_of(name: str, policy: PolicySet) -> str:
    """An example's file name as a title: 'cp-onsite-puerto-rico' -> 'CP onsite puerto rico'."""
    ids = {part.lower() for document in policy.documents for part in re.split(r"[-_ ]", document.id)}
    words = re.split(r"[-_ ]+", name)
    words = [word.upper() if word.lower() in ids else word for word in words]
    title = " ".join(words)
    return title[:1].upper() + title[1:]


def _facts_shown(facts: ClaimFacts) -> tuple[tuple[str, str], ...]:
    """Every fact the example claim gives, labelled and worded through the policy set's vocabulary."""
    return all_facts(facts)


def _compare_expected(decision: Decision, expected: Any) -> tuple[str, ...]:
    """The ways the engine's decision differs from an example's ``expected`` block (outcome, deciding
    clause, remedy, responsible party): reported by the build, never shown as the answer."""
    if not isinstance(expected, dict):
        return ()
    differences = []
    checks = {"outcome": decision.outcome, "deciding_clause": decision.deciding.clause, "remedy": decision.remedy,
              "responsible": decision.responsible.id}
    for key, actual in checks.items():
        if key in expected and expected[key] != actual:
            differences.append(f"{key}: expected {expected[key]!r}, engine gives {actual!r}")
    return tuple(differences)


class Examples(Enum):
    """Where worked examples come from when no folder is given."""

    OWN = "the policy set's own examples/ and tests/ folders"


OWN_EXAMPLES = Examples.OWN
ExamplesSource = str | Path | Sequence[str | Path] | Examples | None


def policy_example_folders(policy_dir: str | Path) -> list[Path]:
    """A policy set's own example folders, as ``claimrules test`` and ``lint`` find them: ``examples/`` and
    ``tests/`` beside its policy-set.yaml, those that exist."""
    folder = Path(policy_dir)
    return [candidate for candidate in (folder / "examples", folder / "tests") if candidate.is_dir()]


def example_folders(policy_dir: str | Path, source: ExamplesSource) -> list[Path]:
    """The folders whose claim files (``*.json``) become worked examples."""
    if source is None:
        return []
    if isinstance(source, Examples):
        return policy_example_folders(policy_dir)
    if isinstance(source, (str, Path)):
        return [Path(source)]
    return [Path(folder) for folder in source]


def example_files(folders: Sequence[Path]) -> list[Path]:
    """The claim files (``*.json``) of the folders, each folder's in name order."""
    return [path for folder in folders if folder.is_dir() for path in sorted(folder.glob("*.json"))]


def _examples(compiled: CompiledPolicy, paths: Sequence[Path]) -> tuple[list[ExampleView], list[ExampleResult],
                                                                         dict[str, Decision], dict[str, ClaimFacts]]:
    views: list[ExampleView] = []
    results: list[ExampleResult] = []
    decisions: dict[str, Decision] = {}
    claims: dict[str, ClaimFacts] = {}
    for path in paths:
        name = path.stem
        anchor = "example-" + clause_anchor(name)
        story = ""
        try:
            raw = read_claim_text(read_claim_file(path), source=str(path))
            story = str(raw.get("story", "")) if isinstance(raw, dict) else ""
            facts = parse_claim(raw, compiled, source=str(path))
            decision = compiled.adjudicate(facts)
        except (ClaimrulesError, OSError) as problem:
            message = str(problem)
            views.append(ExampleView(anchor, name, _title_of(name, compiled.policy), story, (), None, None, None, None, message))
            results.append(ExampleResult(name, str(path), problem=message))
            continue
        decisions[name] = decision
        claims[name] = facts
        views.append(ExampleView(
            anchor=anchor, name=name, title=_title_of(name, compiled.policy), story=story, facts=_facts_shown(facts),
            letter=build_letter(decision, compiled.policy, claim=facts, docs_base=""),
            letter_page=f"letters/{clause_anchor(name)}.html", outcome=decision.outcome,
            outcome_words=OUTCOME_WORDS[decision.outcome].capitalize(), problem=None))
        results.append(ExampleResult(name, str(path), outcome=decision.outcome, deciding=decision.deciding.clause,
                                     decision_id=decision.decision_id,
                                     differs_from_expected=_compare_expected(decision, raw.get("expected"))))
    return _story_titles(views, decisions, claims), results, decisions, claims


# -- writing ------------------------------------------------------------------------------------------

class _Writer:
    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.written: list[str] = []
        self.names = NameRegister()

    def write(self, relative: str, text: str) -> None:
        if relative.endswith(".md"):
            text = re.sub(r"\n{3,}", "\n\n", text).lstrip("\n")
        self.names.add(relative)
        target = self.out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        self.written.append(relative)

    def finish(self) -> None:
        """Remove pages an earlier build wrote that this one did not (a document or example removed)."""
        manifest = self.out_dir / MANIFEST
        keep = set(self.written)
        if manifest.exists():
            root = self.out_dir.resolve()
            for line in manifest.read_text(encoding="utf-8").splitlines():
                stale = (self.out_dir / line).resolve()
                if line and line not in keep and stale.is_relative_to(root) and stale.is_file():
                    stale.unlink()
        manifest.write_text("\n".join(sorted(keep)) + "\n", encoding="utf-8")


def build_site(policy_dir: str | Path, out_dir: str | Path, examples_dir: ExamplesSource = OWN_EXAMPLES) -> SiteReport:
    """Build the coverage documentation for the policy set in ``policy_dir`` into ``out_dir``.

    Worked examples are the claim files (``*.json``) in ``examples_dir`` (a folder or several); by
    default the policy set's own ``examples/`` and ``tests/`` folders; ``None`` for none.
    Raises ``PolicyError`` when the policy set is invalid. Example claims that cannot be decided are
    left out of the site and listed in the report's warnings, as is every 16 CFR 701.3 item a
    written warranty does not disclose.
    """
    out = Path(out_dir)
    folders = example_folders(policy_dir, examples_dir)
    paths = example_files(folders)
    with load_policy(policy_dir) as compiled:
        policy = compiled.policy
        check_site_names(policy, paths)
        example_views, results, decisions, claims = _examples(compiled, paths)
        reader = _Reader(policy)
        documents = [reader.document(document, example_views, decisions) for document in policy.documents]
        glossary = reader.glossary()
        env = environment()
        common = {
            "policy": policy, "documents": documents, "fingerprint": policy.fingerprint[:12],
            "precedence": reader.cite_id(policy.precedence_clause), "stylesheet": STYLESHEET,
            "warranty_pages": [view for view in documents if view.disclosure is not None],
            "tasks": TASKS,
        }
        writer = _Writer(out)
        writer.write(STYLESHEET, (TEMPLATES / "base.css").read_text(encoding="utf-8"))
        for kind in ("html", "md"):
            writer.write(f"index.{kind}", env.get_template(f"site_index.{kind}.j2").render(**common, page="index"))
            for view in documents:
                name = view.page if kind == "html" else view.markdown_page
                writer.write(name, env.get_template(f"site_document.{kind}.j2").render(**common, page=view.id, doc=view))
            writer.write(f"glossary.{kind}", env.get_template(f"site_glossary.{kind}.j2").render(
                **common, page="glossary", entries=glossary))
            writer.write(f"examples.{kind}", env.get_template(f"site_examples.{kind}.j2").render(
                **common, page="examples", examples=example_views))
        for example in example_views:
            if example.letter_page is not None:
                writer.write(example.letter_page, render_letter(
                    decisions[example.name], policy, format="html", claim=claims[example.name], docs_base="../"))
        writer.finish()
        anchors = {clause.key: clause_href(clause.document, clause.id, clause.version)
                   for document in policy.documents for clause in document.clauses}
        notes = [] if example_views or examples_dir is None else [_no_examples(policy_dir, folders)]
        return SiteReport(
            out_dir=out, policy_id=policy.id, files=tuple(sorted(writer.written)),
            documents=tuple(document.id for document in policy.documents), anchors=dict(sorted(anchors.items())),
            missing_disclosures=tuple(missing_disclosures(policy)), examples=tuple(results), notes=tuple(notes))


def _no_examples(policy_dir: str | Path, folders: Sequence[Path]) -> str:
    if folders:
        return ("no example claim files (*.json) in " + ", ".join(map(str, folders))
                + " (case tables are run by 'claimrules test', not shown; pass --examples DIR)")
    return (f"no worked examples: {policy_dir} has no examples/ or tests/ folder of claim files "
            "(add one, or pass --examples DIR)")


def report_json(report: SiteReport) -> str:
    """The report as JSON, for CI."""
    return json.dumps({
        "out_dir": str(report.out_dir), "policy": report.policy_id, "files": list(report.files),
        "missing_disclosures": [{"document": m.document, "item": m.item} for m in report.missing_disclosures],
        "examples": [{"name": e.name, "outcome": e.outcome, "deciding": e.deciding, "problem": e.problem}
                     for e in report.examples],
        "warnings": report.warnings,
    }, indent=2) + "\n"


__all__ = ["DISCLOSURE_LABELS", "OWN_EXAMPLES", "ExampleResult", "Examples", "MissingDisclosure", "SiteReport", "build_site",
           "missing_disclosures", "policy_example_folders"]
