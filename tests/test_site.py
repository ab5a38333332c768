"""The coverage documentation site: anchors for every clause, no broken links, plain-language summaries,
the 16 CFR 701.3 disclosure (and a report of what is missing), and worked examples that show the
decision the engine gives today.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from typer.testing import CliRunner

import claimrules
from claimrules.cli import app
from claimrules.policy.model import DISCLOSURE_ITEMS
from claimrules.render.anchors import clause_anchor, document_page
from claimrules.render.site import MissingDisclosure, SiteReport, build_site

ROOT = Path(__file__).resolve().parents[1]
MINI = ROOT / "tests" / "fixtures" / "docs-mini"
MISSING = ROOT / "tests" / "fixtures" / "docs-missing-disclosure"
NORTHWIND = ROOT / "policies" / "northwind"
EXAMPLES = ROOT / "examples" / "claims"


class Page(HTMLParser):
    """ids, links, headings, lang and the text under each element id of one HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.ids: list[str] = []
        self.links: list[str] = []
        self.headings: list[tuple[int, str]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text_in: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []
        self._heading: tuple[int, list[str]] | None = None
        self.feed(html)

    VOID = {"meta", "link", "br", "img", "input", "hr"}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "html":
            self.lang = attributes.get("lang")
        if attributes.get("id"):
            self.ids.append(str(attributes["id"]))
        if tag == "a" and attributes.get("href"):
            self.links.append(str(attributes["href"]))
        if tag in ("h1", "h2", "h3", "h4"):
            self._heading = (int(tag[1]), [])
        if tag not in self.VOID:
            self._open.append((tag, attributes.get("id")))

    def handle_endtag(self, tag: str) -> None:
        if self._heading is not None and tag == f"h{self._heading[0]}":
            self.headings.append((self._heading[0], " ".join("".join(self._heading[1]).split())))
            self._heading = None
        while self._open:
            open_tag, _ = self._open.pop()
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._heading is not None:
            self._heading[1].append(data)
        for _, element_id in self._open:
            if element_id:
                self.text_in[element_id] = self.text_in.get(element_id, "") + data

    def text(self, element_id: str) -> str:
        return " ".join(self.text_in.get(element_id, "").split())


def read(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))


def broken_links(site: Path) -> list[str]:
    """Every link in the site's HTML and Markdown pages to a file or anchor that does not exist."""
    problems: list[str] = []
    targets: dict[Path, set[str]] = {}

    def anchors_of(path: Path) -> set[str]:
        if path not in targets:
            text = path.read_text(encoding="utf-8")
            ids = set(Page(text).ids) if path.suffix == ".html" else set(re.findall(r'<a id="([^"]+)"></a>', text))
            targets[path] = ids
        return targets[path]

    for page in sorted(site.rglob("*")):
        if page.suffix == ".html":
            links = Page(page.read_text(encoding="utf-8")).links
        elif page.suffix == ".md":
            links = re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8"))
        else:
            continue
        for link in links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                problems.append(f"{page.relative_to(site)}: external link {link}")
                continue
            target = (page.parent / parts.path).resolve() if parts.path else page.resolve()
            if not target.is_file():
                problems.append(f"{page.relative_to(site)}: {link}: no such file")
            elif parts.fragment and parts.fragment not in anchors_of(target):
                problems.append(f"{page.relative_to(site)}: {link}: no anchor '{parts.fragment}'")
    return problems


@pytest.fixture(scope="module")
def mini_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SiteReport]:
    out = tmp_path_factory.mktemp("site")
    return out, build_site(MINI, out, MINI / "claims")


@pytest.fixture(scope="module")
def mini() -> Any:
    policy = claimrules.load_policy(MINI)
    yield policy
    policy.close()


def test_every_clause_has_a_stable_anchor_on_its_page(mini_site: tuple[Path, SiteReport], mini: Any) -> None:
    out, report = mini_site
    for clause in mini.policy.clauses_by_key.values():
        anchor = clause_anchor(clause.id, clause.version)
        html = read(out / document_page(clause.document))
        assert anchor in html.ids, clause.id
        assert clause.text in html.text(anchor), clause.id
        markdown = (out / document_page(clause.document).replace(".html", ".md")).read_text(encoding="utf-8")
        assert f'<a id="{anchor}"></a>' in markdown
        assert report.anchors[clause.key] == f"{document_page(clause.document)}#{anchor}"
    for page in out.glob("*.html"):
        ids = read(page).ids
        assert len(ids) == len(set(ids)), f"duplicate ids in {page.name}"


def test_no_broken_links(mini_site: tuple[Path, SiteReport]) -> None:
    out, _ = mini_site
    assert broken_links(out) == []
    assert len(list(out.glob("*.html"))) == 6  # index, glossary, examples, and one page per document


def test_link_checker_finds_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text('<html lang="en"><a href="b.html#x">b</a><a href="a.html#nowhere">a</a></html>')
    (tmp_path / "b.html").write_text('<html lang="en"><p id="y">b</p></html>')
    assert broken_links(tmp_path) == ["a.html: b.html#x: no anchor 'x'", "a.html: a.html#nowhere: no anchor 'nowhere'"]


def test_pages_have_a_language_a_title_and_an_outline(mini_site: tuple[Path, SiteReport]) -> None:
    out, _ = mini_site
    for path in sorted(out.rglob("*.html")):
        page = read(path)
        assert page.lang == "en", path.name
        assert [level for level, _ in page.headings].count(1) == 1, path.name
        previous = 0
        for level, text in page.headings:
            assert level <= previous + 1, f"{path.name}: '{text}' skips a heading level"
            previous = level
        assert ("title", {}) in page.tags
        icons = [attrs for tag, attrs in page.tags if tag == "link" and attrs.get("rel") == "icon"]
        assert icons and str(icons[0]["href"]).startswith("data:"), path.name


def test_plain_language_summary(mini_site: tuple[Path, SiteReport]) -> None:
    out, _ = mini_site
    warranty = (out / "lw.html").read_text(encoding="utf-8")
    page = Page(warranty)
    # The summary starts after the page's table of contents (which names the same headings).
    summary = " ".join(warranty.split("id=\"full-text\"")[0].split("id=\"summary\"")[1].split())
    for heading in ("What is covered", "What is not covered", "Periods", "How service is provided", "How to claim",
                    "How to escalate, and to whom"):
        assert (3, heading) in page.headings
    # Periods: every clause that counts time, in the contract's own words.
    assert "Warranty period: Products are covered for 1 year from the Delivery Date." in summary
    assert "Depot repair: mail-in depot repair, shipping both ways paid" in summary
    assert "Delivery Date: the date on the carrier" not in summary.split("How service is provided")[0].split("Periods")[1]
    # The fact by its description in the set's facts.yaml ("Serial number"), not a path or a built-in name.
    assert "A claim needs: serial number" in summary
    assert "Maker claims supervisor" in summary and "within 60 days after the written decision" in summary
    assert "10 business days" in summary and "Maker Customer Advocacy" in summary
    for clause in ("lw-3-1", "lw-4-1", "lw-4-2", "lw-2-1", "lw-5-2", "lw-6-1", "lw-7-2", "lw-7-3"):
        assert f'href="#{clause}"' in summary or f'href="lw.html#{clause}"' in summary, clause
    returns = " ".join((out / "rt.html").read_text(encoding="utf-8").split())
    periods = returns.split("<h3 id=\"periods\">Periods</h3>")[1].split("<h3")[0]
    assert "Refurbished and open-box return window: Certified Refurbished and Open-Box Products may be returned within 14 days" in periods
    assert "Return window for new products: New Products may be returned for a refund within 30 days" in periods
    assert "Claims outside the refurbished and open-box return window" in returns
    plan = " ".join((out / "cp.html").read_text(encoding="utf-8").split())
    assert "Admin Service Administrators, LLC decides claims under Maker Limited Hardware Warranty" in plan


def test_disclosure_lists_every_701_3_item_with_its_wording(mini_site: tuple[Path, SiteReport], mini: Any) -> None:
    out, report = mini_site
    assert report.missing_disclosures == ()
    page = read(out / "lw.html")
    assert "disclosure" in page.ids
    document = mini.policy.document("LW")
    for item in DISCLOSURE_ITEMS:
        section = page.text("disclosure-" + item.replace("_", "-"))
        for clause_id in document.disclosures[item]:
            assert mini.policy.clause(clause_id).text in section, item
        assert "Not stated" not in section
    assert "disclosure" not in read(out / "rt.html").ids  # store returns are not a written warranty


def test_missing_701_3_item_is_reported_by_name(tmp_path: Path) -> None:
    report = build_site(MISSING, tmp_path, None)
    assert report.missing_disclosures == (MissingDisclosure("LW", "implied_warranty_limits"),)
    assert any("implied_warranty_limits" in warning and "701.3(a)(7)" in warning for warning in report.warnings)
    section = read(tmp_path / "lw.html").text("disclosure-implied-warranty-limits")
    assert "Not stated in this policy." in section

    runner = CliRunner()
    result = runner.invoke(app, ["docs", str(MISSING), "-o", str(tmp_path / "a"), "--examples", str(tmp_path / "none")])
    assert result.exit_code == 0
    assert "warning: LW: 16 CFR 701.3(a)(7) item 'implied_warranty_limits'" in result.stderr
    strict = runner.invoke(app, ["docs", str(MISSING), "-o", str(tmp_path / "b"), "--strict"])
    assert strict.exit_code == 4 and "implied_warranty_limits" in strict.stderr


def test_a_warranty_without_disclosures_lacks_every_item(tmp_path: Path) -> None:
    folder = tmp_path / "policy"
    shutil.copytree(MISSING, folder)
    documents = yaml.safe_load((folder / "warranty.yaml").read_text())
    del documents["documents"][0]["disclosures"]
    (folder / "warranty.yaml").write_text(yaml.safe_dump(documents, sort_keys=False))
    report = build_site(folder, tmp_path / "site", None)
    assert [missing.item for missing in report.missing_disclosures] == list(DISCLOSURE_ITEMS)


def test_worked_examples_show_the_engines_decision(mini_site: tuple[Path, SiteReport], mini: Any) -> None:
    out, report = mini_site
    page = read(out / "examples.html")
    paths = sorted((MINI / "claims").glob("*.json"))
    assert [example.name for example in report.examples] == [path.stem for path in paths]
    for path in paths:
        decision = mini.adjudicate(mini.load_claim(path))
        section = page.text("example-" + path.stem)
        assert decision.decision_id in section, path.stem
        for citation in decision.grounds:
            assert citation.clause in section
        assert (out / "letters" / f"{path.stem}.html").is_file()
        assert decision.decision_id in (out / "letters" / f"{path.stem}.html").read_text(encoding="utf-8")
    assert "Your return is refused." in page.text("example-late-refurb-return")
    assert "Refund to you: USD 999.00" in page.text("example-new-return")
    assert report.warnings == []


def test_worked_examples_follow_the_policy(tmp_path: Path) -> None:
    """Widen the refurbished window to 30 days: the same example is now approved in the docs."""
    folder = tmp_path / "policy"
    shutil.copytree(MINI, folder)
    returns = yaml.safe_load((folder / "returns.yaml").read_text())
    for clause in returns["documents"][0]["clauses"]:
        if clause["id"] == "RT 1.2":
            clause["when"] = "claim.reported_on within 30 days after delivery_date"
    (folder / "returns.yaml").write_text(yaml.safe_dump(returns, sort_keys=False))
    report = build_site(folder, tmp_path / "site", MINI / "claims")
    section = read(tmp_path / "site" / "examples.html").text("example-late-refurb-return")
    assert "Your return is approved." in section and "USD 800.00" in section
    late = next(example for example in report.examples if example.name == "late-refurb-return")
    assert late.outcome == "approve"
    assert late.differs_from_expected == ("outcome: expected 'deny', engine gives 'approve'",)


def test_an_example_that_cannot_be_decided_is_reported(tmp_path: Path) -> None:
    examples = tmp_path / "claims"
    examples.mkdir()
    shutil.copy(MINI / "claims" / "new-return.json", examples / "good.json")
    (examples / "broken.json").write_text('{"story": "no facts", "claim": {"type": "return"}}')
    report = build_site(MINI, tmp_path / "site", examples)
    broken = next(example for example in report.examples if example.name == "broken")
    assert broken.problem and broken.outcome is None
    assert any("broken.json" in warning for warning in report.warnings)
    assert "could not be decided" in read(tmp_path / "site" / "examples.html").text("example-broken")
    assert broken_links(tmp_path / "site") == []


def test_claim_text_is_escaped_in_the_site(tmp_path: Path) -> None:
    examples = tmp_path / "claims"
    examples.mkdir()
    raw = json.loads((MINI / "claims" / "onsite-abroad.json").read_text())
    raw["story"] = "A story with <script>alert(1)</script> and <b>markup</b>."
    (examples / "hostile.json").write_text(json.dumps(raw))
    build_site(MINI, tmp_path / "site", examples)
    for name in ("examples.html", "letters/hostile.html"):
        html = (tmp_path / "site" / name).read_text(encoding="utf-8")
        assert "<script" not in html.lower() and "<b>" not in html, name
    assert "&lt;script&gt;" in (tmp_path / "site" / "examples.html").read_text(encoding="utf-8")
    markdown = (tmp_path / "site" / "examples.md").read_text(encoding="utf-8")
    assert r"\<script\>" in markdown and "<script>" not in markdown.replace(r"\<script\>", "")


def test_glossary(mini_site: tuple[Path, SiteReport]) -> None:
    out, _ = mini_site
    page = read(out / "glossary.html")
    assert "lw.html#lw-1-3" in page.links and "lw.html#lw-1-5" in page.links
    assert "Delivery Date (LW 1.3)" in page.text("term-delivery-date")
    text = " ".join((out / "glossary.html").read_text(encoding="utf-8").split())
    assert "Delivery Date" in text and "<code>delivery_date</code>" in text
    assert "Accidental causes" in text and "One of: drop, impact, liquid, screen crack, surge" in text


def test_build_is_deterministic(tmp_path: Path) -> None:
    first = build_site(MINI, tmp_path / "one", MINI / "claims")
    second = build_site(MINI, tmp_path / "two", MINI / "claims")
    assert first.files == second.files
    for name in first.files:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_rebuild_removes_only_its_own_stale_pages(tmp_path: Path) -> None:
    out = tmp_path / "site"
    build_site(MINI, out, MINI / "claims")
    assert (out / "letters" / "new-return.html").exists()
    (out / "notes.txt").write_text("mine")
    report = build_site(MINI, out, None)
    assert not (out / "letters" / "new-return.html").exists()
    assert (out / "notes.txt").read_text() == "mine"
    assert "examples.html" in report.files
    assert broken_links(out) == []


def test_cli_docs(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["docs", str(MINI), "-o", str(tmp_path / "site"), "--examples", str(MINI / "claims")])
    assert result.exit_code == 0, result.output
    assert re.search(r"wrote 16 files to .*site/ \(3 document\(s\), 3 worked example\(s\)\)", result.stdout)
    assert (tmp_path / "site" / "index.html").is_file() and (tmp_path / "site" / "index.md").is_file()
    bad = CliRunner().invoke(app, ["docs", str(tmp_path / "nowhere"), "-o", str(tmp_path / "x")])
    assert bad.exit_code == 4 and "no policy set here" in bad.stderr


# -- acceptance: the reference policy set ----------------------------------------------------------------

def test_northwind_site(tmp_path: Path) -> None:
    """Builds in under 10 seconds; every clause id has an anchor; every worked example shows the
    engine's current decision; no link is broken."""
    started = time.perf_counter()
    report = build_site(NORTHWIND, tmp_path, EXAMPLES)
    elapsed = time.perf_counter() - started
    assert elapsed < 10, f"site build took {elapsed:.1f}s"
    with claimrules.load_policy(NORTHWIND) as policy:
        for clause in policy.policy.clauses_by_key.values():
            assert clause_anchor(clause.id, clause.version) in read(tmp_path / document_page(clause.document)).ids
        page = read(tmp_path / "examples.html")
        paths = sorted(EXAMPLES.glob("*.json"))
        assert len(report.examples) == len(paths)
        for path in paths:
            decision = policy.adjudicate(policy.load_claim(path))
            assert decision.decision_id in page.text("example-" + clause_anchor(path.stem)), path.stem
    assert broken_links(tmp_path) == []
    assert all(example.problem is None for example in report.examples)
    assert "disclosure" in read(tmp_path / "lw.html").ids


def test_glossary_terms_are_written_as_the_terms_write_their_words(tmp_path: Path) -> None:
    # A definition with no defining clause is named in the glossary from its identifier: its words
    # keep the capitals the contract gives them (CP 4.2's zones, CP 6.1's "the 50 states and DC ...
    # and Canada", the store-returns section prefix RT), not 'Us and canada' or 'Fee zone uk'.
    build_site(ROOT / "policies" / "northwind", tmp_path / "site", ROOT / "examples" / "claims")
    terms = re.findall(r'<a id="term-[^"]*"></a>\*\*([^*]+)\*\*', (tmp_path / "site" / "glossary.md").read_text(encoding="utf-8"))
    for expected in ("US and Canada", "EEA countries", "Fee zone UK", "Fee zone EEA", "Fee zone Australia",
                     "Fee zone Canada", "RT window end", "Accidental causes", "Warranty period end"):
        assert expected in terms, (expected, terms)


def test_words_capitalised_only_where_a_sentence_starts_stay_plain() -> None:
    from claimrules.render.site import _term
    from claimrules.words import written_words

    written = written_words(["Categories listed here. The UK and the EEA; returns in Canada.", "uk note: eea"])
    assert _term("fifteen_percent_categories", written) == "Fifteen percent categories"
    assert _term("fee_zone_uk", written) == "Fee zone UK"  # capitals at least as often as lowercase
    assert _term("us_and_canada", written) == "Us and Canada"  # 'us' is never written 'US' here
    assert _term("returns", written) == "Returns"
