"""End to end in a real browser: the generated site and a generated letter, served on localhost and
opened in headless Chromium (Debian ``chromium``, driven by Playwright for Python).

A letter's citation link must land on the clause's anchor; no page may log a console error or
request anything that fails; every link and anchor must resolve; text must meet WCAG AA contrast;
the letter must fit A4 and US Letter paper. Screenshots and PDFs go to ``out/screenshots/``.

Where Playwright or Chromium is not installed the tests are skipped with the reason. ``.ci/run``
sets ``CLAIMRULES_REQUIRE_BROWSER=1`` when it installed both; the tests then fail instead of
skipping, so CI can never pass without having run them.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest

import claimrules
from claimrules.render.anchors import clause_anchor, document_page
from claimrules.render.letter import render_letter
from claimrules.render.site import build_site

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "out" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Printable width in CSS pixels (96 per inch) with the stylesheet's 15 mm side margins.
PAPER = {"A4": round((210 - 30) / 25.4 * 96), "Letter": round((215.9 - 30) / 25.4 * 96)}


@dataclass(frozen=True)
class Case:
    name: str
    policy: Path
    examples: Path
    claim: str          # the example whose letter is opened
    citation: str       # a clause the letter cites, whose link is followed
    document: str = "LW"  # a document whose page is checked for contrast and screenshot


CASES = [
    Case("mini", ROOT / "tests/fixtures/docs-mini", ROOT / "tests/fixtures/docs-mini/claims", "onsite-abroad", "CP 6.2"),
    Case("northwind", ROOT / "policies/northwind", ROOT / "examples/claims", "gulf-onsite-request", "CP 6.2"),
    # A second company's set, its own examples: a letter with a deduction named by its clause (BB 6.4).
    Case("bestbuy", ROOT / "policies/bestbuy", ROOT / "policies/bestbuy/examples", "bb-bundle-partly-returned", "BB 6.4",
         "BB"),
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CLAIMRULES_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (CLAIMRULES_REQUIRE_BROWSER=1: the browser was installed, so this test must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -e '.[browser]'; .ci/run does this)")
        return
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _unavailable("Debian chromium is not installed (apt-get install chromium; .ci/run does this where it can)")
        return
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except PlaywrightError as problem:
            _unavailable(f"chromium at {executable} could not start: {str(problem).splitlines()[0]}")
            return
        yield chromium
        chromium.close()


class _Handler(SimpleHTTPRequestHandler):
    requests: list[tuple[str, int]]

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.requests.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Served:
    case: Case
    base: str
    root: Path
    letter_url: str
    requests: list[tuple[str, int]] = field(default_factory=list)


@pytest.fixture(scope="module", params=CASES, ids=[case.name for case in CASES])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The site in /site/ and the letter in /letters/, served by http.server on 127.0.0.1."""
    case: Case = request.param
    root = tmp_path_factory.mktemp(case.name)
    build_site(case.policy, root / "site", case.examples)
    with claimrules.load_policy(case.policy) as policy:
        facts = policy.load_claim(case.examples / f"{case.claim}.json")
        letter = render_letter(policy.adjudicate(facts), policy.policy, claim=facts, docs_base="../site/")
    (root / "letters").mkdir()
    (root / "letters" / f"{case.claim}.html").write_text(letter, encoding="utf-8")
    requests: list[tuple[str, int]] = []
    handler = type("Handler", (_Handler,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        yield Served(case, base, root, f"{base}letters/{case.claim}.html", requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Watch:
    """Console errors, uncaught page errors, failed requests and error responses of one browser page."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("console", lambda message: self.problems.append(f"console {message.type}: {message.text}")
                if message.type == "error" else None)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("requestfailed", lambda req: self.problems.append(f"request failed: {req.url} {req.failure}"))
        page.on("response", lambda response: self.problems.append(f"HTTP {response.status}: {response.url}")
                if response.status >= 400 else None)


def _shots(case: Case) -> Path:
    folder = SCREENSHOTS / case.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_letter_citation_link_leads_to_the_clause(served: Served, browser: Any) -> None:
    case = served.case
    shots = _shots(case)
    page = browser.new_page(viewport={"width": 1000, "height": 1300})
    watch = Watch(page)
    page.goto(served.letter_url, wait_until="load")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.screenshot(path=str(shots / "letter.png"))
    page.screenshot(path=str(shots / "letter-full.png"), full_page=True)

    anchor = clause_anchor(case.citation)
    link = page.locator(f'a[href$="#{anchor}"]').first
    assert link.inner_text().strip() == case.citation
    link.click()
    page.wait_for_url(f"**/site/{document_page(case.citation.split()[0])}#{anchor}")
    page.wait_for_load_state("load")
    assert page.evaluate("document.querySelector(':target') && document.querySelector(':target').id") == anchor
    target = page.locator(f"#{anchor}")
    assert target.is_visible()
    box = target.bounding_box()
    assert box is not None and -1 <= box["y"] and box["y"] + box["height"] <= 1300, \
        f"clause {case.citation} is not scrolled into view: {box}"
    assert case.citation in target.inner_text()
    page.screenshot(path=str(shots / f"clause-{anchor}.png"))
    page.close()
    assert watch.problems == []


def test_no_console_errors_and_no_broken_links(served: Served, browser: Any) -> None:
    """Visit every page reachable from the index and the letter; check every link and anchor."""
    page = browser.new_page(viewport={"width": 1000, "height": 1300})
    watch = Watch(page)
    start = [served.base + "site/index.html", served.letter_url]
    queue, seen, ids, links = list(start), set(start), {}, []
    while queue:
        url = queue.pop(0)
        if not url.endswith(".html"):  # the Markdown pages and the stylesheet: fetched, not displayed
            assert page.request.get(url).status == 200, url
            continue
        response = page.goto(url, wait_until="load")
        assert response is not None and response.status == 200, url
        ids[url] = set(page.evaluate("Array.from(document.querySelectorAll('[id]'), e => e.id)"))
        for href in page.evaluate("Array.from(document.querySelectorAll('a[href]'), a => a.getAttribute('href'))"):
            absolute = urljoin(url, href)
            assert urlsplit(absolute).netloc == urlsplit(served.base).netloc, f"{url}: external link {href}"
            target, fragment = urldefrag(absolute)
            links.append((url, href, target, fragment))
            if target not in seen:
                seen.add(target)
                queue.append(target)
        if url.endswith(("site/index.html", f"site/{document_page(served.case.document)}", "site/glossary.html",
                         "site/examples.html")):
            page.screenshot(path=str(_shots(served.case) / (url.rsplit("/", 1)[1].replace(".html", ".png"))))
    page.close()
    broken = [f"{source}: {href}" for source, href, target, fragment in links
              if fragment and target.endswith(".html") and fragment not in ids.get(target, set())]
    assert broken == []
    assert watch.problems == []
    assert [request for request in served.requests if request[1] >= 400] == []
    assert any(url.endswith("site/examples.html") for url in seen) and len(seen) >= 10


CONTRAST_JS = """
() => {
  const parse = c => { const p = c.match(/[\\d.]+/g).map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
                     return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const background = el => { for (; el; el = el.parentElement) { const c = parse(getComputedStyle(el).backgroundColor);
                              if (c.a > 0.5) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const bad = []; const seen = new Set(); let checked = 0;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || seen.has(el)) continue;
    seen.add(el);
    const style = getComputedStyle(el), rect = el.getBoundingClientRect();
    if (style.display === 'none' || style.visibility === 'hidden' || rect.width === 0 || rect.right < 0) continue;
    const l1 = lum(parse(style.color)), l2 = lum(background(el));
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight) >= 700;
    const large = size >= 24 || (bold && size >= 18.66);
    checked++;
    if (ratio < (large ? 3 : 4.5)) bad.push(el.tagName + ' "' + node.textContent.trim().slice(0, 40) + '" ' + ratio.toFixed(2));
  }
  return {checked, bad};
}
"""


def test_text_contrast_meets_wcag_aa(served: Served, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 1300})
    for url in (served.letter_url, served.base + "site/" + document_page(served.case.document),
                served.base + "site/examples.html"):
        page.goto(url, wait_until="load")
        result = page.evaluate(CONTRAST_JS)
        assert result["checked"] > 20, url
        assert result["bad"] == [], url
    page.close()


def test_letter_prints_on_a4_and_us_letter(served: Served, browser: Any) -> None:
    shots = _shots(served.case)
    page = browser.new_page(viewport={"width": 1000, "height": 1300})
    page.goto(served.letter_url, wait_until="load")
    page.emulate_media(media="print")
    for paper, width in PAPER.items():
        page.set_viewport_size({"width": width, "height": 1100})
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the letter is {overflow}px too wide for {paper}"
        page.screenshot(path=str(shots / f"letter-print-{paper.lower()}.png"))
        pdf = page.pdf(format=paper, print_background=True, path=str(shots / f"letter-{paper.lower()}.pdf"))
        pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
        assert pdf.startswith(b"%PDF") and 1 <= pages <= 4, f"{paper}: {pages} pages"
    page.close()


# -- issue #14: every page on a phone (390 px) and a desktop (1280 px), and axe-core -------------------

WIDTHS = {"desktop": 1280, "phone": 390}
AXE_PATHS = (ROOT / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js",
             ROOT / "node_modules" / "axe-core" / "axe.min.js")
OVERFLOW_JS = """
() => {
  const doc = document.documentElement, width = doc.clientWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const rect = el.getBoundingClientRect();
    if (rect.width && rect.right > width + 1) {
      let clipped = false;  // inside a box that scrolls or clips sideways (the phone nav): not the page
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const o = getComputedStyle(p).overflowX;
        if (o === 'auto' || o === 'scroll' || o === 'hidden') { clipped = true; break; }
      }
      if (!clipped) wide.push(el.tagName + '.' + el.className + ' ' + Math.round(rect.right));
    }
  }
  return {overflow: doc.scrollWidth - width, wide: wide.slice(0, 5)};
}
"""


def _axe_source() -> str:
    configured = os.environ.get("CLAIMRULES_AXE")
    for path in ([Path(configured)] if configured else []) + list(AXE_PATHS):
        if path.is_file():
            return path.read_text(encoding="utf-8")
    reason = "axe-core is not installed (npm ci --prefix .ci/node; .ci/run does this)"
    if os.environ.get("CLAIMRULES_REQUIRE_AXE") == "1":
        pytest.fail(f"{reason} (CLAIMRULES_REQUIRE_AXE=1: npm installed it, so this test must run)")
    pytest.skip(reason)
    return ""


def _pages(served: Served) -> list[str]:
    """Every HTML page of the site (the worked examples' letters included) and the letter."""
    site = served.root / "site"
    pages = sorted(str(path.relative_to(served.root)) for path in site.rglob("*.html"))
    return [served.base + page for page in pages] + [served.letter_url]


@pytest.mark.parametrize("device", list(WIDTHS))
def test_no_page_overflows_sideways(served: Served, browser: Any, device: str) -> None:
    """Issue #14: no horizontal scrolling on any page, on a 390 px phone or a 1280 px screen."""
    width = WIDTHS[device]
    page = browser.new_page(viewport={"width": width, "height": 900})
    shots = _shots(served.case)
    problems = []
    for url in _pages(served):
        page.goto(url, wait_until="load")
        result = page.evaluate(OVERFLOW_JS)
        if result["overflow"] > 0 or result["wide"]:
            problems.append(f"{url}: {result}")
        name = url.rsplit("/", 1)[1].replace(".html", "")
        if name in ("index", "lw", "rt", "examples", served.case.claim) and "/letters/" not in url.split("/site/")[-1]:
            page.screenshot(path=str(shots / f"{name}-{width}.png"))
    page.close()
    assert problems == []


@pytest.mark.parametrize("device", list(WIDTHS))
def test_axe_core_finds_no_violations(served: Served, browser: Any, device: str) -> None:
    """axe-core, injected into each page, reports no accessibility violations (site pages, the letter
    and a sample of the worked examples' letters, one with recorded exceptions among them)."""
    axe = _axe_source()
    page = browser.new_page(viewport={"width": WIDTHS[device], "height": 900})
    urls = [url for url in _pages(served) if "/site/letters/" not in url]
    letters = [url for url in _pages(served) if "/site/letters/" in url]
    urls += letters[:3]
    # and a letter that states recorded exceptions (RT 3.1-3.4), where the set has one
    urls += [url for url in letters[3:] if 'class="exceptions"' in (served.root / url[len(served.base):]).read_text(
        encoding="utf-8")][:1]
    violations = {}
    for url in urls:
        page.goto(url, wait_until="load")
        page.add_script_tag(content=axe)
        result = page.evaluate("async () => (await axe.run(document)).violations"
                               ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))")
        if result:
            violations[url] = result
    page.close()
    assert violations == {}
