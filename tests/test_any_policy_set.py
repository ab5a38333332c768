"""Letters and the coverage site work for any policy set, not only Northwind.

Every example claim of both reference sets (policies/northwind with examples/claims, and
policies/bestbuy with its own examples/) is written as a letter through the ``claimrules letter``
command, and both sites are built through ``claimrules docs``. Nothing in src/ knows either set's
facts: the renderers read a claim through the set's vocabulary (facts.yaml and its roles).

Expected content comes from the terms: Best Buy's are paraphrased in policies/bestbuy/TERMS.md,
Northwind's are /work/shared/terms (quoted where used).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import claimrules
from claimrules.cli import app
from claimrules.decision import Decision
from claimrules.words import long_date

ROOT = Path(__file__).resolve().parents[1]
NORTHWIND = ROOT / "policies" / "northwind"
BESTBUY = ROOT / "policies" / "bestbuy"
SETS = {NORTHWIND: ROOT / "examples" / "claims", BESTBUY: BESTBUY / "examples"}
FORMATS = ("txt", "html", "md")
BASE = "https://coverage.example/"

# Every example of both sets, each through the command once, the formats taken in turn (every
# format is also rendered for every example by the library test below, which costs no start-up).
EXAMPLES = [(policy, path, FORMATS[index % len(FORMATS)])
            for policy, folder in SETS.items() for index, path in enumerate(sorted(folder.glob("*.json")))]


@pytest.fixture(scope="module")
def compiled() -> Iterator[dict[Path, claimrules.CompiledPolicy]]:
    policies = {policy: claimrules.load_policy(policy) for policy in SETS}
    yield policies
    for policy in policies.values():
        policy.close()


def plain(letter: str, format: str) -> str:
    """The letter's words, whatever the format: no tags or entities (html), no backslash escapes (md),
    whitespace collapsed (txt wraps lines)."""
    if format == "html":
        letter = re.sub(r"</?(?:a|strong|em|code|time|span)\b[^>]*>", "", letter)   # inline: no space
        letter = html.unescape(re.sub(r"<[^>]+>", " ", letter))
    elif format == "md":
        letter = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", letter).replace("**", "")   # links and emphasis as text
        letter = re.sub(r"\\(.)", r"\1", letter)
    return " ".join(letter.split())


def decide(policies: dict[Path, claimrules.CompiledPolicy], policy: Path, claim: Path) -> Decision:
    compiled = policies[policy]
    return compiled.adjudicate(compiled.load_claim(claim))


def letter_of(claim: Path, policy: Path, format: str) -> str:
    result = CliRunner().invoke(app, ["letter", str(claim), "--policy", str(policy), "--format", format,
                                      "--base-url", BASE])
    assert result.exit_code == 0, result.output
    assert "internal error" not in result.output
    return result.stdout


@pytest.mark.parametrize(("policy", "claim", "format"), EXAMPLES,
                         ids=[f"{policy.name}-{claim.stem}-{format}" for policy, claim, format in EXAMPLES])
def test_every_example_gets_a_letter(compiled: dict[Path, claimrules.CompiledPolicy], policy: Path, claim: Path,
                                     format: str) -> None:
    """The letter states the decision the engine gives, cites and quotes every ground with a link to
    its clause, and names the request by the set's own word for it (the claim_type role)."""
    decision = decide(compiled, policy, claim)
    letter = letter_of(claim, policy, format)
    words = plain(letter, format)
    assert decision.decision_id in letter
    for citation in decision.grounds:
        assert citation.clause in words
        assert " ".join(citation.text.split()) in words, citation.clause
    kind = json.loads(claim.read_text(encoding="utf-8"))["claim"]["type"]
    word = {"repair": "repair claim", "cancel_plan": "plan cancellation"}.get(kind, kind)
    assert f"Your {word} " in words
    # No fact by its internal path: every fact is named by its description in the set's facts.yaml.
    roots = "|".join(sorted(group.name for group in compiled[policy].vocabulary.groups))
    assert not re.search(rf"(?<![/\w])(?:{roots})\.[a-z_]+\b", words.replace(BASE, " ")), \
        re.search(rf"(?<![/\w])(?:{roots})\.[a-z_]+\b", words.replace(BASE, " "))


@pytest.mark.parametrize("policy", list(SETS), ids=lambda policy: policy.name)
def test_every_format_of_every_example_renders(compiled: dict[Path, claimrules.CompiledPolicy], policy: Path) -> None:
    from claimrules.render.letter import render_letter

    for claim in sorted(SETS[policy].glob("*.json")):
        facts = compiled[policy].load_claim(claim)
        decision = compiled[policy].adjudicate(facts)
        for format in FORMATS:
            for given in (facts, None):  # without the claim the letter still says everything the decision does
                words = plain(render_letter(decision, compiled[policy].policy, format=format, claim=given,
                                            docs_base=BASE), format)
                assert decision.deciding.clause in words, (claim.name, format)


# -- Best Buy, from its terms (policies/bestbuy/TERMS.md) --------------------------------------------------

def bestbuy_letter(name: str, format: str = "txt") -> str:
    return plain(letter_of(BESTBUY / "examples" / f"{name}.json", BESTBUY, format), format)


def test_late_standard_return_names_the_clause_and_its_period() -> None:
    """BB 2.1: "Most products: 15 days for a customer who is not a paying My Best Buy member"; "a period
    'of N days' begins on the day the customer receives the product, which is day 1". Received
    1 March 2024, so the 15th day is 15 March 2024; asked on 16 March 2024: refused under BB 2.1."""
    for format in FORMATS:
        words = bestbuy_letter("bb-standard-day-16", format)
        assert "Your return is refused." in words
        assert "BB 2.1" in words and "15 days" in words
        assert "15th day" in words and long_date(date(2024, 3, 15)) in words
        assert "Most products: 15 days for a customer who is not a paying My Best Buy member" in words
        assert f"{BASE}bb.html#bb-2-1" in words or "bb.html#bb-2-1" in letter_of(
            BESTBUY / "examples" / "bb-standard-day-16.json", BESTBUY, format)


def test_exchange_letter_is_about_an_exchange_served_by_replacement() -> None:
    """BB 1.4: "An exchange is served by replacing the product with the item the customer chooses
    instead of paying a refund." The letter calls the request an exchange (the claim_type role), and
    no refund is paid."""
    words = bestbuy_letter("bb-drone-exchange-no-fee")
    assert "Your exchange is approved." in words and "YOUR EXCHANGE" in words
    assert "How we will put it right: replacement, under BB 1.4." in words
    assert "Refund to you" not in words
    # A request for an exchange is not told why it was not something it never asked for.
    assert "Why not" not in words


def test_bundle_deduction_is_named_by_its_clause() -> None:
    """BB 6.4: "When part of a bundle is returned and the rest kept, ... the whole discount is deducted
    from the refund." USD 999.99 less the USD 100.00 discount: USD 899.99. The deduction is the
    bundle's, not missing accessories (one amount kind serves every deduction)."""
    words = bestbuy_letter("bb-bundle-partly-returned")
    assert "Deducted from the refund (Bundles): USD 100.00 (BB 6.4)" in words
    assert "Refund to you: USD 899.99" in words
    assert "accessories" not in words.lower()


def test_review_by_telephone_says_call() -> None:
    """BB 8.1: "A customer who disagrees with a return decision may contact Best Buy Customer Service
    (1-888-237-8289)": a telephone number is called, not written to."""
    words = bestbuy_letter("bb-standard-day-16")
    assert "How: call 1-888-237-8289, quoting decision" in words
    assert "write to 1-888" not in words


def test_claim_details_come_from_the_vocabulary() -> None:
    """What the customer told us is labelled by Best Buy's own facts.yaml descriptions."""
    words = bestbuy_letter("bb-standard-day-16")
    assert "The day the customer started the return or exchange: 16 March 2024" in words


# -- recorded exceptions (Northwind Store Returns RT 3.x) -------------------------------------------------

def exceptions_examples() -> list[Path]:
    found = []
    for path in sorted((ROOT / "examples" / "claims").glob("*.json")):
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("extensions") or raw.get("deployment"):
            found.append(path)
    return found


@pytest.mark.parametrize("claim", exceptions_examples(), ids=lambda path: path.stem)
def test_letter_states_every_recorded_exception(compiled: dict[Path, claimrules.CompiledPolicy], claim: Path) -> None:
    """RT 3.1: an extension "is confirmed to the customer in writing"; RT 3.2 caps it by the grantor's
    authority, RT 3.3 voids one granted too late. Whatever became of each recorded exception, the
    letter says so in every format, with the clause it was granted under and the one that capped or
    voided it."""
    decision = decide(compiled, NORTHWIND, claim)
    if not decision.exceptions:
        pytest.skip("the decision recorded no exception (the return document did not answer)")
    for format in FORMATS:
        from claimrules.render.letter import render_letter

        facts = compiled[NORTHWIND].load_claim(claim)
        words = plain(render_letter(decision, compiled[NORTHWIND].policy, format=format, claim=facts), format)
        assert "Exceptions recorded on your" in words
        for item in decision.exceptions:
            status = {"counted": "Granted", "capped": "Granted in part", "void": "Not valid"}[item.status]
            assert f"{status} ({item.clause}" in words, (format, item)
            if item.status_clause:
                assert item.status_clause in words
            assert long_date(item.granted_on) in words
            assert long_date(item.counted_end) in words or item.status == "void"
            assert item.counted_end.isoformat() not in words   # dates in words


def test_capped_agent_extension_in_words() -> None:
    """RT 3.2: an extension may move the end of the window no further than "7 days for an agent".
    The window ended 1 May 2024; the agent's extension to 11 May 2024 counts to 8 May 2024 only."""
    words = plain(letter_of(ROOT / "examples" / "claims" / "rt-agent-extension-capped-request-day-9.json",
                            NORTHWIND, "txt"), "txt")
    assert "Granted in part (RT 3.1, RT 3.2)" in words
    assert "asked for 11 May 2024" in words
    assert "an agent's authority reaches 8 May 2024" in words and "(3 days less)" in words


# -- the coverage site ---------------------------------------------------------------------------------------

def test_bestbuy_docs_show_its_own_examples(tmp_path: Path) -> None:
    """Without --examples the site shows the policy set's own examples (policies/bestbuy/examples)."""
    out = tmp_path / "site"
    result = CliRunner().invoke(app, ["docs", str(BESTBUY), "-o", str(out)])
    assert result.exit_code == 0, result.output
    examples = sorted((BESTBUY / "examples").glob("*.json"))
    assert f", {len(examples)} worked example(s))" in result.stdout
    assert "warning" not in result.output
    page = (out / "examples.html").read_text(encoding="utf-8")
    for path in examples:
        assert (out / "letters" / f"{path.stem}.html").is_file()
        assert f'id="example-{path.stem}"' in page
    # The facts of an example by Best Buy's labels and in words: BB 2.1's late return.
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    assert "My Best Buy membership held on the day of purchase standard" in text
    assert "The state of the return Minnesota, United States" in text


def test_northwind_docs_with_its_examples(tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = CliRunner().invoke(app, ["docs", str(NORTHWIND), "-o", str(out), "--examples", str(SETS[NORTHWIND])])
    assert result.exit_code == 0, result.output
    assert f", {len(list(SETS[NORTHWIND].glob('*.json')))} worked example(s))" in result.stdout
    assert "not shown" not in result.output


def test_explicit_examples_folder_is_kept(tmp_path: Path) -> None:
    """--examples still chooses the folder: one Best Buy example, one worked example."""
    folder = tmp_path / "chosen"
    folder.mkdir()
    (folder / "late.json").write_text((BESTBUY / "examples" / "bb-standard-day-16.json").read_text(encoding="utf-8"))
    result = CliRunner().invoke(app, ["docs", str(BESTBUY), "-o", str(tmp_path / "site"), "--examples", str(folder)])
    assert result.exit_code == 0, result.output
    assert ", 1 worked example(s))" in result.stdout


def test_a_set_without_examples_says_where_they_go(tmp_path: Path) -> None:
    folder = tmp_path / "policy"
    folder.mkdir()
    for name in ("policy-set.yaml", "returns.yaml", "facts.yaml", "TERMS.md"):
        (folder / name).write_bytes((BESTBUY / name).read_bytes())
    result = CliRunner().invoke(app, ["docs", str(folder), "-o", str(tmp_path / "site")])
    assert result.exit_code == 0, result.output
    assert ", 0 worked example(s))" in result.stdout
    assert "no examples/ or tests/ folder" in result.output and "--examples" in result.output


def test_a_vocabulary_without_roles_degrades_gracefully(tmp_path: Path) -> None:
    """A set whose facts.yaml declares no claim_type or decision_date role still gets a letter and a
    site: the request is "your claim", and the lines that need those facts are left out."""
    folder = tmp_path / "policy"
    folder.mkdir()
    for name in ("policy-set.yaml", "returns.yaml", "TERMS.md"):
        (folder / name).write_bytes((BESTBUY / name).read_bytes())
    facts = (BESTBUY / "facts.yaml").read_text(encoding="utf-8")
    facts = re.sub(r"\n\s*role: (claim_type|decision_date)[^\n]*", "", facts)
    assert "role: claim_type" not in facts and "role: decision_date" not in facts
    (folder / "facts.yaml").write_text(facts, encoding="utf-8")
    claim = BESTBUY / "examples" / "bb-standard-day-16.json"
    result = CliRunner().invoke(app, ["letter", str(claim), "--policy", str(folder), "-f", "txt", "--on", "2024-03-16"])
    assert result.exit_code == 0, result.output
    words = " ".join(result.stdout.split())
    assert "Your claim is refused." in words and "BB 2.1" in words
    assert "The day the customer started the return or exchange" not in words
    site = CliRunner().invoke(app, ["docs", str(folder), "-o", str(tmp_path / "site"), "--examples",
                                    str(BESTBUY / "examples")])
    assert site.exit_code == 0, site.output
