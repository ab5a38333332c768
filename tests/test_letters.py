"""Decision letters: every statement comes from the decision or the policy, links match the site's anchors,
and claim-supplied text is shown as text.

Most tests use the small policy set in tests/fixtures/docs-mini; the acceptance tests at the end use
the reference policies (policies/northwind) and the Gulf example claims.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt
from typer.testing import CliRunner

import claimrules
from claimrules.cli import app
from claimrules.decision import Decision
from claimrules.render.anchors import clause_anchor, clause_href, document_page
from claimrules.render.letter import long_date, render_letter

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "tests" / "fixtures" / "docs-mini"
NORTHWIND = ROOT / "policies" / "northwind"
EXAMPLES = ROOT / "examples" / "claims"


class Page(HTMLParser):
    """The parts of an HTML page the tests look at: lang, headings, ids, links, and text by section."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.headings: list[tuple[int, str]] = []
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text_by_h2: dict[str, str] = {}
        self._heading: tuple[int, list[str]] | None = None
        self._h2 = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "html":
            self.lang = attributes.get("lang")
        if attributes.get("id"):
            self.ids.add(str(attributes["id"]))
        if tag == "a" and attributes.get("href"):
            self.links.append(str(attributes["href"]))
        if tag in ("h1", "h2", "h3", "h4"):
            self._heading = (int(tag[1]), [])

    def handle_endtag(self, tag: str) -> None:
        if self._heading is not None and tag == f"h{self._heading[0]}":
            level, parts = self._heading
            text = " ".join("".join(parts).split())
            self.headings.append((level, text))
            if level == 2:
                self._h2 = text
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading[1].append(data)
        self.text_by_h2[self._h2] = self.text_by_h2.get(self._h2, "") + data

    @property
    def intro(self) -> str:
        """The text before the first h2: letterhead, title and outcome."""
        return " ".join(self.text_by_h2.get("", "").split())

    def section(self, heading_start: str) -> str:
        """The text under the h2 whose text starts with ``heading_start``, whitespace collapsed."""
        for heading, text in self.text_by_h2.items():
            if heading.startswith(heading_start):
                return " ".join(text.split())
        raise AssertionError(f"no section '{heading_start}' among {list(self.text_by_h2)}")


@pytest.fixture(scope="module")
def mini() -> Any:
    policy = claimrules.load_policy(MINI)
    yield policy
    policy.close()


def decide(policy: claimrules.CompiledPolicy, path: Path) -> tuple[Decision, claimrules.ClaimFacts]:
    facts = claimrules.load_claim(path)
    return policy.adjudicate(facts), facts


def check_outline(page: Page) -> None:
    """One h1, and heading levels that never skip one (screen readers navigate by them)."""
    assert page.lang == "en"
    assert [level for level, _ in page.headings].count(1) == 1
    previous = 0
    for level, text in page.headings:
        assert level <= previous + 1, f"heading '{text}' (h{level}) skips a level after h{previous}"
        previous = level


# -- anchors -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("clause_id", "anchor"), [
    ("LW 7.2", "lw-7-2"), ("RG EU.1", "rg-eu-1"), ("CP 6.2", "cp-6-2"), ("RT 1.2", "rt-1-2"), ("RG 0.1", "rg-0-1"),
    ("RT 3", "rt-3"),
])
def test_clause_anchor(clause_id: str, anchor: str) -> None:
    assert clause_anchor(clause_id) == anchor


def test_anchor_of_an_earlier_version_differs_from_the_current_one() -> None:
    assert clause_anchor("LW 2.3", "2019-07") == "lw-2-3--v2019-07" != clause_anchor("LW 2.3")


def test_document_page_and_href() -> None:
    assert document_page("LW") == "lw.html"
    assert document_page("RG-EU") == "rg-eu.html"
    assert clause_href("CP", "CP 6.2", base="site/") == "site/cp.html#cp-6-2"


def test_anchors_are_unique_across_the_policy_set(mini: claimrules.CompiledPolicy) -> None:
    keys = list(mini.policy.clauses_by_key.values())
    anchors = {clause_anchor(clause.id, clause.version) for clause in keys}
    assert len(anchors) == len(keys)


# -- the on-site request served by depot (CP 6.2), decided by the plan's administrator (CP 8.1) -----------

def test_onsite_letter_states_remedy_reason_party_and_deadline(mini: claimrules.CompiledPolicy) -> None:
    decision, facts = decide(mini, MINI / "claims" / "onsite-abroad.json")
    assert decision.outcome == "approve" and decision.remedy_clause == "CP 6.2"
    html = render_letter(decision, mini.policy, claim=facts)
    page = Page(html)
    check_outline(page)

    ours = page.section("Our decision")
    assert mini.policy.clause("CP 6.2").text in ours
    assert "site/cp.html#cp-6-2" in page.links
    # CP 6.2: the customer is told which CP 6.1 condition failed, and only that one.
    onsite = next(trace for trace in decision.trace if trace.clause == "CP 6.1")
    failed = [condition.label for condition in onsite.conditions if condition.result == "false"]
    held = [condition.label for condition in onsite.conditions if condition.result == "true"]
    assert failed == ["(a) the Product is located in the United States (50 states and DC) or Canada"]
    for label in failed:
        assert f"Not met: {label}" in ours
    for label in held:
        assert label not in ours

    who = page.section("Who decides")
    assert "Admin Service Administrators, LLC" in who
    assert mini.policy.clause("CP 8.1").text in who
    assert "Maker Care Plan" in who and "Maker Limited Hardware Warranty" in who
    assert "site/cp.html#cp-8-1" in page.links

    review = page.section("If you disagree")
    ask_by = facts.claim.reported_on + timedelta(days=60)  # CP 8.3: within 60 days after the decision
    assert ask_by == date(2025, 5, 19)
    assert f"Ask by {long_date(ask_by)} ({ask_by.isoformat()})" in review
    assert "claims@admin.example" in review and "10 business days" in review
    assert decision.decision_id in html

    grounds = page.section("Why")
    for citation in decision.grounds:
        assert citation.text in grounds
        assert clause_href(citation.document, citation.clause, base="site/") in page.links


def test_html_letter_is_self_contained(mini: claimrules.CompiledPolicy) -> None:
    decision, facts = decide(mini, MINI / "claims" / "onsite-abroad.json")
    page = Page(render_letter(decision, mini.policy, claim=facts))
    icons = [attrs for tag, attrs in page.tags if tag == "link" and attrs.get("rel") == "icon"]
    assert icons and str(icons[0]["href"]).startswith("data:image/svg+xml,")
    assert not [attrs for tag, attrs in page.tags if tag == "link" and attrs.get("rel") == "stylesheet"]
    assert not [tag for tag, _ in page.tags if tag in ("script", "img", "iframe")]
    assert ("style", {}) in page.tags


def test_claim_text_is_escaped_in_every_format(mini: claimrules.CompiledPolicy) -> None:
    raw = json.loads((MINI / "claims" / "onsite-abroad.json").read_text())
    raw["claim"]["description"] = "<script>alert('x')</script> \"><img src=x onerror=alert(1)> **bold** [a](http://e.example)"
    facts = claimrules.parse_claim(raw)
    decision = mini.adjudicate(facts)
    html = render_letter(decision, mini.policy, claim=facts)
    page = Page(html)
    assert "<script" not in html.lower()
    assert not [tag for tag, _ in page.tags if tag in ("script", "img")]
    assert "&lt;script&gt;" in html
    assert "<script>alert('x')</script>" in page.section("Your repair claim")  # shown, as text

    markdown = render_letter(decision, mini.policy, format="md", claim=facts)
    assert r"\<script\>" in markdown and r"\*\*bold\*\*" in markdown and r"\[a\]" in markdown
    rendered = Page(MarkdownIt("commonmark").render(markdown))  # raw HTML allowed, as on most sites
    assert not [tag for tag, _ in rendered.tags if tag in ("script", "img")]
    assert "<script>alert('x')</script>" in rendered.section("Your repair claim")
    assert "http://e.example" not in rendered.links

    text = render_letter(decision, mini.policy, format="txt", claim=facts)
    assert "<script>alert('x')</script>" in text  # plain text is not markup: shown exactly as given


# -- a refused return: RT 1.2, the warranty route still open (RT 5.3), the Store's review ------------------

def test_refused_return_letter(mini: claimrules.CompiledPolicy) -> None:
    decision, facts = decide(mini, MINI / "claims" / "late-refurb-return.json")
    assert decision.outcome == "deny"
    page = Page(render_letter(decision, mini.policy, claim=facts))
    check_outline(page)
    assert "Your return is refused." in page.intro
    grounds = page.section("Why")
    assert "RT 1.2" in grounds and mini.policy.clause("RT 1.2").text in grounds
    options = page.section("What else is open to you")
    assert mini.policy.clause("RT 5.3").notice in options and "warranty claim" in options
    review = page.section("If you disagree")
    ask_by = facts.claim.reported_on + timedelta(days=30)  # RT 5.2: within 30 days after the decision
    assert f"Ask by {long_date(ask_by)}" in review and "Store supervisor" in review and "5 business days" in review
    assert "Maker Customer Advocacy" in review  # the step after the Store supervisor
    assert "Maker Store" in page.section("Who decides")


def test_amounts_are_shown_with_currency_and_clause(mini: claimrules.CompiledPolicy) -> None:
    decision, facts = decide(mini, MINI / "claims" / "new-return.json")
    money = decision.amount("refund")
    assert money is not None and str(money) == "USD 999.00"
    html = render_letter(decision, mini.policy, claim=facts)
    assert "USD 999.00" in Page(html).section("Our decision")
    assert "site/rt.html#rt-1-1" in Page(html).links
    assert "Refund to you: USD 999.00 (RT 1.1)" in render_letter(decision, mini.policy, format="txt", claim=facts)


def test_held_claim_letter_asks_for_exactly_the_missing_facts(mini: claimrules.CompiledPolicy) -> None:
    raw = json.loads((MINI / "claims" / "onsite-abroad.json").read_text())
    del raw["plan"], raw["product"]["serial_number"]
    facts = claimrules.parse_claim(raw)
    decision = mini.adjudicate(facts)
    assert decision.outcome == "needs_information" and decision.missing_facts == ("product.serial_number",)
    page = Page(render_letter(decision, mini.policy, claim=facts))
    assert "is on hold: we need more information" in page.intro
    # No internal field name: the fact by its label (issue #14), and to whom it goes.
    assert "the Product's serial number" in page.section("Our decision")
    assert "product.serial_number" not in page.section("Our decision")
    assert "To whom:" in page.section("Our decision") and decision.responsible.name in page.section("Our decision")


def test_every_format_carries_the_same_decision(mini: claimrules.CompiledPolicy) -> None:
    decision, facts = decide(mini, MINI / "claims" / "late-refurb-return.json")
    ask_by = decision.escalation[0].ask_by
    assert ask_by is not None
    for format in ("html", "md", "txt"):
        letter = render_letter(decision, mini.policy, format=format, claim=facts)
        assert decision.decision_id in letter, format
        assert long_date(ask_by) in letter and ask_by.isoformat() in letter, format
        for citation in decision.grounds:
            assert citation.clause in letter and citation.text.split()[0] in letter, format
        for notice in decision.notices:
            assert " ".join(notice.text.split()[:6]) in " ".join(letter.split()), format


def test_docs_base_is_used_for_every_clause_link(mini: claimrules.CompiledPolicy) -> None:
    decision, facts = decide(mini, MINI / "claims" / "onsite-abroad.json")
    page = Page(render_letter(decision, mini.policy, claim=facts, docs_base="https://docs.example/cover"))
    clause_links = [link for link in page.links if "#" in link]
    assert clause_links and all(link.startswith("https://docs.example/cover/") for link in clause_links)


def test_letter_quotes_the_policy_not_a_template(tmp_path: Path) -> None:
    """Change the contract wording and the notice: the letter follows the policy, nothing is hard-coded."""
    folder = tmp_path / "policy"
    shutil.copytree(MINI, folder)
    returns = yaml.safe_load((folder / "returns.yaml").read_text())
    for clause in returns["documents"][0]["clauses"]:
        if clause["id"] == "RT 1.2":
            clause["text"] = "SENTINEL wording of the refurbished window."
        if clause["id"] == "RT 5.3":
            clause["notice"] = "SENTINEL: you can still ask for a warranty repair."
    (folder / "returns.yaml").write_text(yaml.safe_dump(returns, sort_keys=False))
    with claimrules.load_policy(folder) as policy:
        decision, facts = decide(policy, MINI / "claims" / "late-refurb-return.json")
        page = Page(render_letter(decision, policy.policy, claim=facts))
    assert "SENTINEL wording of the refurbished window." in page.section("Why")
    assert "SENTINEL: you can still ask for a warranty repair." in page.section("What else is open to you")


def test_unknown_format_is_refused(mini: claimrules.CompiledPolicy) -> None:
    decision, facts = decide(mini, MINI / "claims" / "new-return.json")
    with pytest.raises(ValueError, match="pdf"):
        render_letter(decision, mini.policy, format="pdf", claim=facts)


# -- the command --------------------------------------------------------------------------------------

def test_cli_letter_writes_each_format(tmp_path: Path) -> None:
    runner = CliRunner()
    for format in ("html", "md", "txt"):
        out = tmp_path / f"letter.{format}"
        result = runner.invoke(app, ["letter", str(MINI / "claims" / "onsite-abroad.json"), "--policy", str(MINI),
                                     "--format", format, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert "CP 6.2" in out.read_text(encoding="utf-8")
    result = runner.invoke(app, ["letter", str(MINI / "claims" / "new-return.json"), "--policy", str(MINI), "-f", "txt"])
    assert result.exit_code == 0 and "USD 999.00" in result.stdout


def test_cli_letter_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    claim = str(MINI / "claims" / "new-return.json")
    assert runner.invoke(app, ["letter", claim, "--policy", str(MINI), "-f", "pdf"]).exit_code == 2
    bad_claim = tmp_path / "bad.json"
    bad_claim.write_text('{"claim": {"type": "return"}}')
    assert runner.invoke(app, ["letter", str(bad_claim), "--policy", str(MINI)]).exit_code == 3
    assert runner.invoke(app, ["letter", claim, "--policy", str(tmp_path)]).exit_code == 4


# -- acceptance: the reference policies and the Gulf claims -----------------------------------------------

@pytest.fixture(scope="module")
def northwind() -> Any:
    policy = claimrules.load_policy(NORTHWIND)
    yield policy
    policy.close()


def test_gulf_onsite_letter(northwind: claimrules.CompiledPolicy) -> None:
    """Keystone decides (CP 8.1), CP 6.2 is cited with its wording, the failed CP 6.1 condition (b) is
    named, and the supervisor review deadline (CP 8.3: 60 days) is a date."""
    decision, facts = decide(northwind, EXAMPLES / "gulf-onsite-request.json")
    html = render_letter(decision, northwind.policy, claim=facts)
    page = Page(html)
    check_outline(page)
    who = page.section("Who decides")
    assert "Keystone" in who and "Keystone" in decision.responsible.name
    cp62 = northwind.policy.clause("CP 6.2")
    assert cp62.text in page.section("Our decision") + page.section("Why")
    assert clause_href(cp62.document, "CP 6.2", base="site/") in page.links
    assert "(b)" in page.section("Our decision")
    ask_by = date(2024, 9, 16) + timedelta(days=60)
    assert decision.escalation[0].ask_by == ask_by
    review = page.section("If you disagree")
    assert f"Ask by {long_date(ask_by)} ({ask_by.isoformat()})" in review and "supervisor" in review.lower()


def test_gulf_late_refurb_return_letter(northwind: claimrules.CompiledPolicy) -> None:
    """RT 1.2 is cited, the warranty claim is still open (RT 5.3), and the Store supervisor review
    deadline (RT 5.2: 30 days) is a date."""
    decision, facts = decide(northwind, EXAMPLES / "gulf-late-refurb-return.json")
    page = Page(render_letter(decision, northwind.policy, claim=facts))
    check_outline(page)
    grounds = page.section("Why")
    assert "RT 1.2" in grounds and northwind.policy.clause("RT 1.2").text in grounds
    assert "warranty" in page.section("What else is open to you").lower()
    assert "RT 5.3" in page.section("What else is open to you")
    ask_by = date(2024, 6, 23) + timedelta(days=30)
    review = page.section("If you disagree")
    assert f"Ask by {long_date(ask_by)} ({ask_by.isoformat()})" in review
    assert "Store supervisor" in review
