"""Issue #14, "put it in writing": the reason in words with its dates, amounts and places; explain as
a tree that fits 100 columns and round-trips through JSON; a command that works from anywhere.

Expected values come from the contract text (../shared/terms), quoted where a test relies on one.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import claimrules
from claimrules.errors import PolicyError
from claimrules.explanation import ConditionNode, Explanation, explain
from claimrules.render.explain import WIDTH, explanation_text
from claimrules.render.letter import render_letter
from claimrules.words import fact_label, long_date, place_name

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples" / "claims").glob("*.json"))
LATE_REFURB = ROOT / "examples" / "claims" / "gulf-late-refurb-return.json"
_VOCABULARY = claimrules.load_vocabulary(ROOT / "policies" / "northwind")


def _load_claim(path: Path) -> claimrules.ClaimFacts:
    """A Northwind claim, read with the reference set's vocabulary."""
    return claimrules.load_claim(path, _VOCABULARY)



@pytest.fixture(scope="module")
def northwind() -> Iterator[claimrules.CompiledPolicy]:
    with claimrules.load_policy(ROOT / "policies" / "northwind") as policy:
        yield policy


def _our_decision(letter_html: str) -> str:
    """The text of the letter's "Our decision" section."""
    section = letter_html.split('<h2 id="h-decision">Our decision</h2>', 1)[1].split("</section>", 1)[0]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", section)).split())


def _decided_leaves(node: ConditionNode) -> list[ConditionNode]:
    found = [node] if node.kind == "test" and node.decided else []
    for item in node.items:
        found += _decided_leaves(item)
    return found


def _compared_values_in_words(value: str) -> list[str]:
    """The dates, amounts and places among a leaf's values, as a customer reads them."""
    words = []
    for day in re.findall(r"\b\d{4}-\d{2}-\d{2}\b", value):
        words.append(long_date(date.fromisoformat(day)))
    words += re.findall(r"\b[A-Z]{3} \d[\d,]*\.\d+\b", value)
    place = re.fullmatch(r"([A-Z]{2}(?:-[A-Z0-9]{1,3})?) \((.+)\)", value)
    if place:
        words.append(place.group(2))
    return words


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_our_decision_states_the_deciding_values(northwind: claimrules.CompiledPolicy, path: Path) -> None:
    """LW 7.1: every decision is given in writing and states its grounds. For every example, the
    letter's "Our decision" is not empty and names every date, amount and place that the deciding
    clause's condition compared (read from the explanation tree, a separate code path)."""
    facts = _load_claim(path)
    decision = northwind.adjudicate(facts)
    ours = _our_decision(render_letter(decision, northwind.policy, claim=facts))
    assert len(ours) > 40, ours
    tree = explain(northwind.program, facts, decision)
    clause = next((clause for document in tree.documents for clause in document.clauses
                   if clause.clause == decision.deciding.clause and clause.version == decision.deciding.version), None)
    expected: list[str] = []
    if clause is not None and clause.condition is not None:
        for leaf in _decided_leaves(clause.condition):
            for value in leaf.values:
                expected += _compared_values_in_words(value.value)
    missing = [value for value in expected if value not in ours]
    assert missing == [], f"{decision.deciding.clause}: {missing} not in: {ours}"
    # No internal field name reaches the customer.
    assert not re.search(r"\b(claim|product|delivery|incident|location|plan|purchase)\.[a-z_]+\b", ours), ours


def test_late_refurbished_return_says_when_the_window_closed(northwind: claimrules.CompiledPolicy) -> None:
    """RT 1.2: "Certified Refurbished and Open-Box Products may be returned within 14 days after the
    Delivery Date." Delivered 3 June 2024, so the last day was 17 June; Dana asked on 23 June."""
    facts = _load_claim(LATE_REFURB)
    decision = northwind.adjudicate(facts)
    reason = decision.reason("RT 1.2")
    assert reason is not None and reason.branch == "otherwise"
    assert "17 June 2024" in reason.text and "23 June 2024" in reason.text and "3 June 2024" in reason.text
    kinds = {(value.kind, value.value) for value in reason.values}
    assert ("date", "2024-06-17") in kinds and ("date", "2024-06-23") in kinds
    letter = render_letter(decision, northwind.policy, claim=facts, format="txt")
    ours = letter.split("OUR DECISION", 1)[1].split("WHY:", 1)[0]
    assert "17 June 2024" in " ".join(ours.split()) and "23 June 2024" in " ".join(ours.split())


def test_generated_reason_names_the_place_by_name(northwind: claimrules.CompiledPolicy) -> None:
    """LW 5.2: depot repair "for Products in the Service Territory"; the Product is in Mobile, Alabama."""
    decision = northwind.adjudicate(_load_claim(ROOT / "examples" / "claims" / "gulf-onsite-request.json"))
    reason = decision.reason("LW 5.2")
    assert reason is not None and "Alabama, United States" in reason.text and "Service Territory" in reason.text
    assert place_name("US-AL") == "Alabama, United States"


def test_why_not_on_site_states_the_distance_in_words(northwind: claimrules.CompiledPolicy) -> None:
    """CP 6.1 (b): on-site repair needs the location "within 100 miles by road of an authorized service
    location"; the Gulf claim's locator reports 140 miles, so the reason states that distance in words."""
    decision = northwind.adjudicate(_load_claim(ROOT / "examples" / "claims" / "gulf-onsite-request.json"))
    reason = decision.reason("CP 6.2")
    assert reason is not None
    assert "the road distance in miles to the nearest authorized service location (140) is more than 100" in reason.text
    assert "miles_to_service_location" not in reason.text and "location miles" not in reason.text


@pytest.mark.parametrize("folder", ["northwind", "bestbuy"])
def test_every_fact_of_a_reference_set_has_words(folder: str) -> None:
    """Reasons, letters and the site name facts by their label: in the reference sets none may fall
    back to its path ('prior incidents[] occurred on') or start a sentence in capitals mid-reason."""
    vocabulary = claimrules.load_vocabulary(ROOT / "policies" / folder)
    unreadable = {path: label for path in vocabulary.specs
                  if re.search(r"[\[\]_.]|^[A-Z]", label := fact_label(path, vocabulary))}
    assert unreadable == {}


def test_third_incident_is_counted_in_words(northwind: claimrules.CompiledPolicy) -> None:
    """CP 4.1: "an incident is the third in 12 months if two covered Accidental Damage incidents
    occurred in the 12 months before it" -- the clause's own sentence, with the count as an ordinal."""
    decision = northwind.adjudicate(_load_claim(
        ROOT / "examples" / "claims" / "soda-third-incident-on-12-month-boundary.json"))
    reason = decision.reason("CP 4.1")
    assert reason is not None and "your third Accidental Damage incident in 12 months" in reason.text
    assert "2 August 2025" in reason.text


def test_held_claim_letter_says_what_to_send_to_whom_and_when(northwind: claimrules.CompiledPolicy) -> None:
    """LW 6.3: a held claim "is asked in writing for exactly the missing facts"."""
    facts = _load_claim(ROOT / "examples" / "claims" / "lw-serial-missing-needs-information.json")
    decision = northwind.adjudicate(facts)
    assert decision.outcome == "needs_information"
    ours = _our_decision(render_letter(decision, northwind.policy, claim=facts))
    assert "What to send" in ours and "serial number" in ours
    assert "To whom:" in ours and decision.responsible.name in ours and decision.decision_id in ours
    assert "By when:" in ours and long_date(facts.claim.reported_on) in ours


def test_reason_template_with_unknown_name_is_a_policy_error(tmp_path: Path) -> None:
    folder = tmp_path / "policy"
    shutil.copytree(ROOT / "tests" / "fixtures" / "docs-mini", folder)
    warranty = folder / "warranty.yaml"
    text = warranty.read_text(encoding="utf-8")
    first = re.search(r"\n(\s+)effect: covers\n", text)
    assert first is not None
    text = text[:first.end()] + f"{first.group(1)}reason: \"asked on {{claim.reported_onn}}\"\n" + text[first.end():]
    warranty.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        claimrules.load_policy(folder)
    assert "claim.reported_onn" in str(caught.value) and "did you mean 'claim.reported_on'" in str(caught.value)


def test_letter_links_are_absolute_where_the_site_is_published(northwind: claimrules.CompiledPolicy) -> None:
    facts = _load_claim(LATE_REFURB)
    decision = northwind.adjudicate(facts)
    base = northwind.policy.site_url
    assert base.startswith("https://")
    text = render_letter(decision, northwind.policy, claim=facts, format="txt", docs_base=base)
    assert f"{base}rt.html#rt-1-2" in text  # a txt letter prints the full address
    letter = render_letter(decision, northwind.policy, claim=facts, docs_base=base)
    links = re.findall(r'href="([^"]+)"', letter)
    assert links and all(link.startswith(base) for link in links if not link.startswith("data:"))
    assert re.search(r'a\[href\^="http"\]::after\s*\{\s*content: " <" attr\(href\) ">"', letter)  # print CSS


# -- explain ----------------------------------------------------------------------------------------

def test_explain_of_every_example_fits_100_columns_and_round_trips(northwind: claimrules.CompiledPolicy) -> None:
    for path in EXAMPLES:
        facts = _load_claim(path)
        decision = northwind.adjudicate(facts)
        explanation = explain(northwind.program, facts, decision)
        text = explanation_text(explanation)
        too_wide = [line for line in text.splitlines() if len(line) > WIDTH]
        assert too_wide == [], path.name
        assert explanation_text(Explanation.model_validate_json(explanation.model_dump_json())) == text, path.name
        # Documents that do not apply are folded: their clauses are counted, not shown.
        for document in explanation.documents:
            assert document.applies != "false" or (document.clauses == () and document.folded >= 0)


def test_explain_marks_the_deciding_test_and_the_why_not(northwind: claimrules.CompiledPolicy) -> None:
    facts = _load_claim(LATE_REFURB)
    explanation = explain(northwind.program, facts, northwind.adjudicate(facts))
    rt12 = next(clause for document in explanation.documents for clause in document.clauses if clause.clause == "RT 1.2")
    assert rt12.result == "false" and rt12.otherwise_result == "true"
    assert rt12.condition is not None and rt12.condition.kind == "all" and rt12.condition.result == "false"
    decided = _decided_leaves(rt12.condition)
    assert [leaf.text for leaf in decided] == ["claim.reported_on <= rt_regular_window_end"]
    assert {(value.name, value.value) for value in decided[0].values} >= {
        ("claim.reported_on", "2024-06-23"), ("rt_regular_window_end", "2024-06-17")}
    # Why not: the one test that would have had to hold (asking by 17 June).
    assert explanation.why_not is not None
    assert [(needed.clause, needed.test, needed.needed) for needed in explanation.why_not.needed] == [
        ("RT 1.2", "claim.reported_on <= rt_regular_window_end", "true")]
    lw = next(document for document in explanation.documents if document.id == "LW")
    assert lw.applies == "false" and lw.clauses == () and lw.folded > 10


def test_why_not_on_site_names_the_failed_condition(northwind: claimrules.CompiledPolicy) -> None:
    """CP 6.2: on-site was asked for; CP 6.1 (b) "within 100 miles by road" failed (140 miles)."""
    facts = _load_claim(ROOT / "examples" / "claims" / "gulf-onsite-request.json")
    explanation = explain(northwind.program, facts, northwind.adjudicate(facts))
    assert explanation.why_not is not None
    assert [(needed.clause, needed.test) for needed in explanation.why_not.needed] == [
        ("CP 6.1", "location.miles_to_service_location <= 100")]


# -- the command line -----------------------------------------------------------------------------

def run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ if env is None else env)
    environment["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + environment.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "claimrules.cli", *args], cwd=cwd, env=environment, input=stdin,
                          capture_output=True, text=True, timeout=300)


def test_check_says_outcome_last_day_and_request_day_first() -> None:
    result = run("check", str(LATE_REFURB))
    assert result.returncode == 0, result.stderr
    first = "\n".join(result.stdout.splitlines()[:3])
    assert "REFUSED" in first and "17 June 2024" in first and "23 June 2024" in first


def test_explain_json_is_the_same_tree_as_the_text() -> None:
    text = run("explain", str(LATE_REFURB))
    data = run("explain", str(LATE_REFURB), "--format", "json")
    assert text.returncode == 0 and data.returncode == 0, text.stderr + data.stderr
    assert explanation_text(Explanation.model_validate_json(data.stdout)) == text.stdout
    assert max(len(line) for line in text.stdout.splitlines()) <= WIDTH


def _outside(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder outside the repository, with no config file and an empty user config folder."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "CLAIMRULES_POLICY"}
    env["HOME"] = str(tmp_path / "home")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    return folder, env


def test_check_from_anywhere_with_claimrules_policy(tmp_path: Path) -> None:
    folder, env = _outside(tmp_path)
    hint = run("check", str(LATE_REFURB), cwd=folder, env=env)
    assert hint.returncode == 2 and "CLAIMRULES_POLICY" in hint.stderr and "--policy" in hint.stderr
    assert "Traceback" not in hint.stderr
    env["CLAIMRULES_POLICY"] = str(ROOT / "policies" / "northwind")
    result = run("check", str(LATE_REFURB), cwd=folder, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("REFUSED under RT 1.2")


def test_config_file_gives_the_policy(tmp_path: Path) -> None:
    folder, env = _outside(tmp_path)
    (folder / "claimrules.toml").write_text(f'policy = "{ROOT / "policies" / "northwind"}"\n', encoding="utf-8")
    nested = folder / "deeper"
    nested.mkdir()
    result = run("check", str(LATE_REFURB), cwd=nested, env=env)
    assert result.returncode == 0, result.stderr
    assert "REFUSED" in result.stdout


def test_json_lines_on_stdin_decide_each_line(tmp_path: Path) -> None:
    folder, env = _outside(tmp_path)
    env["CLAIMRULES_POLICY"] = str(ROOT / "policies" / "northwind")
    chosen = EXAMPLES[:6]
    lines = [json.dumps(json.loads(path.read_text(encoding="utf-8"))) for path in chosen]
    lines.insert(3, "")  # a blank line is skipped
    lines.append('{"claim": 1}')  # a bad claim: its own error line, and exit 3
    result = run("check", "-", "--format", "jsonl", cwd=folder, env=env, stdin="\n".join(lines) + "\n")
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(chosen) + 1 and result.returncode == 3
    for path, record in zip(chosen, out):
        # Each example's own expected outcome, derived from the contract when it was written.
        assert record["decision"]["outcome"] == json.loads(path.read_text())["expected"]["outcome"], path.name
    error = out[-1]["error"]
    assert error["code"] == "bad_claim" and error["field"] == "claim" and error["file"] == "-:8"
    assert set(error) >= {"code", "message", "file", "field", "expected"}


def test_several_files_and_a_jsonl_file(tmp_path: Path) -> None:
    jsonl = tmp_path / "claims.jsonl"
    jsonl.write_text("\n".join(json.dumps(json.loads(path.read_text())) for path in EXAMPLES[:2]) + "\n")
    result = run("check", str(jsonl), str(LATE_REFURB), "--format", "json")
    assert result.returncode == 0, result.stderr
    decisions = json.loads(result.stdout)
    assert [decision["outcome"] for decision in decisions][-1] == "deny" and len(decisions) == 3


def test_errors_are_json_with_format_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"claim": {"type": "return"}}')
    result = run("check", str(bad), "--format", "json")
    assert result.returncode == 3
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "bad_claim" and error["file"] == str(bad) and error["field"]
    assert {"code", "message", "file", "field", "expected"} <= set(error)


def test_version_choices_and_completion() -> None:
    version = run("--version")
    assert version.returncode == 0 and re.fullmatch(r"claimrules \S+\n", version.stdout)
    help_text = run("check", "--help").stdout
    assert "text|json|jsonl" in help_text
    assert "html|md|txt" in run("letter", "--help").stdout
    assert "--install-completion" in run("--help").stdout
    assert run("check", str(LATE_REFURB), "--format", "pdf").returncode == 2


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


def test_every_help_text_shows_its_words_in_square_brackets() -> None:
    # The help is rendered with rich markup, which takes '[service]' for a style and drops it: the
    # serve command's help read "needs the  extra". Every bracketed word a command's or option's
    # help is written with must show in its --help (written as '\[word]' in the source).
    import typer.main
    from typer.testing import CliRunner

    from claimrules.cli import app

    root = typer.main.get_command(app)
    runner = CliRunner()
    checked = 0
    for path, command in _commands(root):
        sources = [command.help or "", *(getattr(param, "help", None) or "" for param in command.params)]
        wanted = {f"[{word}]" for text in sources for word in re.findall(r"\\?\[([A-Za-z_][\w-]*)\]", text)}
        if not wanted:
            continue
        shown = runner.invoke(app, [*path, "--help"], terminal_width=200).output
        for word in sorted(wanted):
            assert word in shown, f"'claimrules {' '.join(path)} --help' lost {word}"
            checked += 1
    assert checked >= 1


def test_no_help_text_breaks_a_sentence_where_its_source_wrapped() -> None:
    # Rich markup keeps a single newline of a docstring: explain's summary read "the result at" /
    # "each node" on two lines of 'claimrules --help'. Paragraphs are one line each in the source
    # (a trailing backslash), and the main help is the callback's docstring, with where the policy
    # set comes from (a help= on the Typer app had hidden it).
    import typer.main

    from claimrules.cli import app

    root = typer.main.get_command(app)
    for path, command in _commands(root):
        texts = [command.help or "", *(getattr(param, "help", None) or "" for param in command.params)]
        for text in texts:
            for paragraph in re.split(r"\n\s*\n", text):
                assert "\n" not in paragraph.strip(), f"claimrules {' '.join(path)}: {paragraph!r}"
    assert "CLAIMRULES_POLICY" in (root.help or "")


def test_a_definition_named_in_a_reason_keeps_the_capitals_of_its_clause() -> None:
    # LW 5.3's reason names the 'us_territories' set (LW 1.5, which writes US-PR, US-GU...): the
    # customer reads "the US territories", not "the us territories".
    policy = claimrules.load_policy(ROOT / "policies" / "northwind")
    decision = policy.adjudicate(policy.load_claim(ROOT / "examples" / "claims" / "lw-puerto-rico-depot.json"))
    words = " ".join(reason.text for reason in decision.reasons)
    assert "is in the US territories" in words and "us territories" not in words
