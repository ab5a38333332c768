"""Issue #13: no silent wrong decision, no crash, no hang, from any policy or claim within the limits.

The single bad inputs are in tests/bad_input (with their messages in docs/errors.md); the limits in
tests/test_limits.py. Here are the classes that are families (property tests), and the behaviour
that is not an error message: decisions that must agree, outputs that must stay inert, files that
must not be overwritten.

Each expected decision comes from the small contract the test writes, quoted in the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import claim, clause, document, write_policy

import claimrules
from claimrules.engine.durable import MAX_FACT_FIELDS, EngineError, RuleNetwork, property_hash
from claimrules.errors import MAX_MESSAGE_CHARS, EvaluationError, PolicyError
from claimrules.facts import parse_claim
from claimrules.files import FileProblem, read_bounded, write_new
from claimrules.policy.loader import ID_RESERVED, identifier_problem
from claimrules.render.escape import clean_text, markdown_inline
from claimrules.render.letter import render_letter

ROOT = Path(__file__).resolve().parent.parent
VALID_POLICY = ROOT / "tests" / "bad_input" / "valid-policy"
VALID_CLAIM = ROOT / "tests" / "bad_input" / "valid-claim.json"
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _valid_claim() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VALID_CLAIM.read_text(encoding="utf-8"))
    return data


# -- 2. rule keys cannot be forged by ids ---------------------------------------------------------------

@SETTINGS
@given(st.text(min_size=0, max_size=12), st.sampled_from(sorted(ID_RESERVED)), st.text(max_size=12))
def test_no_id_can_contain_a_character_of_the_rule_keys(before: str, reserved: str, after: str) -> None:
    """doc:<id>, <id>@<version> and <id>! are the engine's keys: an id holding ':', '@' or '!' could
    spell another rule's key, so every such id is refused."""
    assert identifier_problem(before + reserved + after) is not None


@SETTINGS
@given(st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=8),
       st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=8))
def test_ordinary_ids_are_accepted(first: str, second: str) -> None:
    assert identifier_problem(f"{first} {second}.1") is None
    assert identifier_problem(f"{first}-{second}") is None


def test_a_clause_id_spelling_a_document_key_cannot_make_a_document_apply(tmp_path: Path) -> None:
    """The attack of issue #13: a clause 'doc:W' that holds would have made document W apply."""
    write_policy(tmp_path, [
        document("W", [clause("W 1", "covers", "true", remedy="repair")], applies_when="claim.type == 'return'"),
        document("X", [clause("doc:W", "states", "true")]),
    ])
    with pytest.raises(PolicyError, match="contains ':', which claimrules uses in its internal rule keys"):
        claimrules.load_policy(tmp_path)


# -- 4. text ordering agrees between durable_rules and the trace ----------------------------------------

_PARTS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=6)


@pytest.fixture(scope="module")
def ordering_policy(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """W 1 covers the claim; W 2 excludes parts ordered before 'm', W 3 parts from 'é' on, W 4 parts
    after a quote and W 5 parts up to '\\' (each a test durable_rules would order by escaped bytes)."""
    folder = tmp_path_factory.mktemp("ordering")
    write_policy(folder, [document("W", [
        clause("W 1", "covers", "true", remedy="repair"),
        clause("W 2", "excludes", "incident.part < 'm'"),
        clause("W 3", "excludes", "incident.part >= 'é'"),
        clause("W 4", "excludes", "incident.part > '\"'"),
        clause("W 5", "excludes", "incident.part <= '\\'"),
    ])])
    compiled = claimrules.load_policy(folder)
    yield compiled
    compiled.close()


@SETTINGS
@given(part=_PARTS)
def test_text_ordering_decides_by_code_points_and_the_engine_agrees(ordering_policy: Any, part: str) -> None:
    """Whatever the text, durable_rules and the trace agree (no EvaluationError), and the grounds
    are exactly the clauses whose comparison holds in code point order."""
    facts = claim(incident={"occurred_on": "2025-03-10", "cause": "defect", "part": part})
    decision = ordering_policy.adjudicate(facts)
    expected = {"W 2": part < "m", "W 3": part >= "é", "W 4": part > '"', "W 5": part <= "\\"}
    grounds = {ground.clause for ground in decision.grounds}
    assert {name for name, holds in expected.items() if holds} == grounds - {"W 1"}
    assert decision.outcome == ("deny" if any(expected.values()) else "approve")


# -- 5. money: one amount, one decision id; no negative zero --------------------------------------------

def test_equal_amounts_give_one_decision_id() -> None:
    with claimrules.load_policy(VALID_POLICY) as compiled:
        ids = set()
        for price in ("USD 1299.00", "USD 1299.000000", "USD 1299"):
            facts = _valid_claim()
            facts["product"]["price"] = price
            ids.add(compiled.adjudicate(facts).decision_id)
    assert len(ids) == 1


def test_negative_zero_is_zero() -> None:
    from claimrules.money import Money

    assert str(Money.parse("EUR -0.00")) == "EUR 0.00"
    assert Money.parse("EUR -0.00").model_dump_json() == Money.parse("EUR 0").model_dump_json()
    assert str(Money.parse("EUR 0.00") * -1) == "EUR 0.00"


# -- 6. durable_rules' per-fact field limit ------------------------------------------------------------

def test_clauses_reading_more_fields_than_durable_rules_parses_still_decide(tmp_path: Path) -> None:
    """Two clauses of 130 money comparisons each (260 computed values: past durable_rules' 251
    fields per fact, error 302): 'W 2 excludes when the price is over USD 0, 1, ... 129' holds for
    a USD 500.00 product, so the claim is refused under W 2; W 3 ('under USD 1 ... 130') does not."""
    write_policy(tmp_path, [document("W", [
        clause("W 1", "covers", "true", remedy="repair"),
        clause("W 2", "excludes", " and ".join(f"product.price > USD {n}" for n in range(130))),
        clause("W 3", "excludes", " and ".join(f"product.price < USD {n + 1}" for n in range(130))),
    ])])
    with claimrules.load_policy(tmp_path) as compiled:
        decision = compiled.adjudicate(claim())
    assert (decision.outcome, decision.deciding.clause) == ("deny", "W 2")


def test_seventy_clauses_of_month_windows_decide(tmp_path: Path) -> None:
    """70 clauses of 5 month windows (350 computed dates): 'excludes when reported more than n
    months after delivery' holds for none (reported 19 days after delivery)."""
    clauses = [clause("W 1", "covers", "true", remedy="repair")]
    for n in range(70):
        tests = " or ".join(f"claim.reported_on > delivery.delivered_on + {n * 5 + k + 1} months" for k in range(5))
        clauses.append(clause(f"W {n + 2}", "excludes", tests))
    write_policy(tmp_path, [document("W", clauses)])
    with claimrules.load_policy(tmp_path) as compiled:
        decision = compiled.adjudicate(claim())
    assert (decision.outcome, decision.deciding.clause) == ("approve", "W 1")


def test_one_rule_at_the_field_limit_works_and_one_past_is_refused() -> None:
    """durable_rules parses at most 254 properties per fact (255 fails with 302); sid, id and the
    guard leave 251 for a rule's fields. At the limit the rule fires (in its own ruleset: the other
    rule's field would take the fact past it); past it the wrapper refuses before the engine fails."""
    fields = [f"f{n}" for n in range(MAX_FACT_FIELDS)]
    with RuleNetwork({"big": {"$and": [{field: 1} for field in fields]}, "small": {"g": 1}}) as network:
        assert network.ruleset_count == 2
        assert network.fired({**dict.fromkeys(fields, 1), "g": 1}) == {"big", "small"}
    with pytest.raises(EngineError) as refused:
        RuleNetwork({"big": {"$and": [{field: 1} for field in [*fields, "one_more"]]}})
    assert refused.value.code == 302


def test_fields_durable_rules_cannot_tell_apart_are_refused() -> None:
    """durable_rules knows a field only by the FNV-1 hash of its name: f_449599 and f_612382 share
    one, and a rule on the first fired for a fact giving only the second (checked on the engine when
    this test was written). The wrapper refuses such a pair instead of deciding wrongly."""
    assert property_hash("f_449599") == property_hash("f_612382")
    with pytest.raises(EngineError, match="same durable_rules property hash"):
        RuleNetwork({"ra": {"$eq": {"f_449599": 1}}, "rb": {"$eq": {"f_612382": 2}}})


def test_the_fields_claimrules_generates_never_share_a_hash() -> None:
    """Claim facts are fields f0, f1..., computed values t0, t1...: within the limit on fields, no
    two of these names (nor the engine's own) share a hash, whatever the policy set's paths."""
    from claimrules.engine.program import MAX_ENGINE_FIELDS

    names = [f"{kind}{n}" for kind in "ft" for n in range(MAX_ENGINE_FIELDS + 1)] + ["one", "sid", "id", "__crg", "__crp"]
    with claimrules.load_policy(ROOT / "policies" / "northwind") as compiled:
        generated = list(compiled.program.durable.fields)
        assert set(generated) <= set(names)
    names = sorted(set(names))
    assert len({property_hash(name) for name in names}) == len(names)


def test_the_wrapper_splits_rulesets_by_fields() -> None:
    rules = {f"r{n}": {"$eq": {f"f{n}": 1}} for n in range(MAX_FACT_FIELDS * 2)}
    with RuleNetwork(rules) as network:
        assert network.ruleset_count >= 2
        fact = {f"f{n}": 1 if n % 3 == 0 else 0 for n in range(MAX_FACT_FIELDS * 2)}
        assert network.fired(fact) == frozenset(f"r{n}" for n in range(0, MAX_FACT_FIELDS * 2, 3))


# -- 8. holds() memoised ---------------------------------------------------------------------------------

def test_a_diamond_of_holds_is_evaluated_once_per_clause(tmp_path: Path) -> None:
    """H n = holds(H n-1) and holds(H n-2), 30 deep: inlined it is 2^30 tests; memoised, 30. H 0
    (price over USD 1) holds, so every H holds and H 30 excludes."""
    clauses = [clause("W 1", "covers", "true", remedy="repair"), clause("H 0", "states", "product.price > USD 1"),
               clause("H 1", "states", "holds('H 0')")]
    clauses += [clause(f"H {n}", "excludes" if n == 30 else "states", f"holds('H {n - 1}') and holds('H {n - 2}')")
                for n in range(2, 31)]
    write_policy(tmp_path, [document("W", clauses)])
    with claimrules.load_policy(tmp_path) as compiled:
        decision = compiled.adjudicate(claim())
    assert (decision.outcome, decision.deciding.clause) == ("deny", "H 30")


# -- 10. a closed policy, and standard output ----------------------------------------------------------

def test_a_closed_policy_raises_a_claimrules_error() -> None:
    compiled = claimrules.load_policy(VALID_POLICY)
    compiled.close()
    with pytest.raises(EvaluationError, match="was closed"):
        compiled.adjudicate(_valid_claim())


def _cli(*args: str, stdout: Any) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "claimrules.cli", *args], cwd=ROOT, env=env, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=120, check=False)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_stdout_on_dev_full_is_one_message_and_a_failure() -> None:
    with open("/dev/full", "w") as full:
        result = _cli("check", str(VALID_CLAIM), "--policy", str(VALID_POLICY), stdout=full)
    assert result.returncode == 2
    assert result.stderr == "error: cannot write to standard output: No space left on device\n"


def test_closed_stdout_is_one_message_and_a_failure() -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run(f"{sys.executable} -m claimrules.cli schema >&-", shell=True, cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert result.stderr == "error: standard output is closed (expected somewhere to write the result)\n"


# -- 11. letters cannot be given structure by claim text ------------------------------------------------

HOSTILE = ("broken.\n\n# YOUR CLAIM IS APPROVED - full refund\n===\n---\n- item\n1. one\n    code\n> quote\n"
           "\x1b[31mred\x1b]8;;http://evil.example\x07link\x1b]8;;\x07 \u202egnp.exe \x07\x00")


def _letter(description: str, form: str) -> str:
    data = _valid_claim()
    data["incident"]["description"] = description
    data["claim"]["description"] = "- YOUR CLAIM IS APPROVED"
    with claimrules.load_policy(VALID_POLICY) as compiled:
        facts = parse_claim(data, compiled)
        return render_letter(compiled.adjudicate(facts), compiled.policy, format=form, claim=facts)


@pytest.mark.parametrize("form", ["md", "txt", "html"])
def test_claim_text_cannot_start_a_heading_or_carry_escapes(form: str) -> None:
    text = _letter(HOSTILE, form)
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text and "\x00" not in text
    shown = [line for line in text.splitlines() if "YOUR CLAIM IS APPROVED" in line]
    assert len(shown) >= 2  # both descriptions are shown, as the customer wrote them
    if form == "md":  # only inside the claim-details list items (labelled from facts.yaml), on one line each
        assert all(line.startswith(("- A description of how the damage happened: ", "- The customer's description: "))
                   for line in shown), shown
        assert "- The customer's description: \\- YOUR CLAIM IS APPROVED" in text
    elif form == "txt":  # only in the indented claim details
        assert all(line.startswith("  ") for line in shown), shown
    else:
        assert "<h1>YOUR" not in text and "<h2>YOUR" not in text


@SETTINGS
@given(st.text(max_size=80))
def test_markdown_values_stay_on_one_inert_line(value: str) -> None:
    escaped = markdown_inline(value)
    assert "\n" not in escaped and "\r" not in escaped
    assert clean_text(escaped) == escaped
    assert not escaped.startswith(("#", "-", "+", "=", ">", "* ", "`"))
    for character in "*_[]<>`|#!~&":
        assert escaped.count(character) == escaped.count("\\" + character) or character == "\\"


# -- 12. documentation output paths never collide --------------------------------------------------------

@pytest.mark.parametrize(("ids", "clause_ids"), [
    (("W", "w"), None),
    (("Index", "X"), None),
    (("W",), ("W 2.1", "W-2.1")),
])
def test_site_collisions_are_refused(tmp_path: Path, ids: tuple[str, ...], clause_ids: tuple[str, ...] | None) -> None:
    from claimrules.render.site import build_site

    documents = []
    for number, doc_id in enumerate(ids):
        names = clause_ids or (f"{doc_id} {number}.1",)
        documents.append(document(doc_id, [clause(name, "covers", "true", remedy="repair") for name in names]))
    write_policy(tmp_path / "policy", documents)
    with pytest.raises(PolicyError, match="would share the"):
        build_site(tmp_path / "policy", tmp_path / "site", None)
    assert not (tmp_path / "site").exists()


def test_example_files_that_make_one_letter_are_refused(tmp_path: Path) -> None:
    from claimrules.render.site import build_site

    examples = tmp_path / "examples"
    examples.mkdir()
    for name in ("a b.json", "A_B.json"):
        (examples / name).write_text(VALID_CLAIM.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(PolicyError, match=r"example '(a b|A_B)\.json' and example '(a b|A_B)\.json' would share"):
        build_site(VALID_POLICY, tmp_path / "site", examples)


# -- 13. letter -o -------------------------------------------------------------------------------------

def test_letter_output_is_never_overwritten_silently(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from claimrules.cli import app

    claim_file = tmp_path / "c.json"
    claim_file.write_text(VALID_CLAIM.read_text(encoding="utf-8"), encoding="utf-8")
    base = ["letter", str(claim_file), "--policy", str(VALID_POLICY), "-o"]
    runner = CliRunner()
    assert runner.invoke(app, [*base, str(claim_file)]).exit_code == 2  # its own input
    assert json.loads(claim_file.read_text(encoding="utf-8"))["claim"]["type"] == "repair"
    out = tmp_path / "letter.html"
    assert runner.invoke(app, [*base, str(out)]).exit_code == 0
    again = runner.invoke(app, [*base, str(out)])
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert runner.invoke(app, [*base, str(out), "--force"]).exit_code == 0
    policy_copy = tmp_path / "policy"
    policy_copy.mkdir()
    for source in VALID_POLICY.iterdir():
        (policy_copy / source.name).write_bytes(source.read_bytes())
    over_policy = runner.invoke(app, ["letter", str(claim_file), "--policy", str(policy_copy), "-o",
                                      str(policy_copy / "warranty.yaml"), "--force"])
    assert over_policy.exit_code == 2 and "is the input" in over_policy.stderr
    assert (policy_copy / "warranty.yaml").read_bytes() == (VALID_POLICY / "warranty.yaml").read_bytes()
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep", encoding="utf-8")
    link = tmp_path / "link.html"
    link.symlink_to(target)
    through = runner.invoke(app, [*base, str(link), "--force"])
    assert through.exit_code == 2 and "symbolic link" in through.stderr
    assert target.read_text(encoding="utf-8") == "keep"


def test_write_new_refuses_inputs_links_and_existing_files(tmp_path: Path) -> None:
    existing = tmp_path / "x.txt"
    existing.write_text("old", encoding="utf-8")
    with pytest.raises(FileProblem, match="already exists"):
        write_new(existing, b"new")
    with pytest.raises(FileProblem, match="is the input"):
        write_new(existing, b"new", force=True, inputs=[existing])
    write_new(existing, b"new", force=True)
    assert existing.read_text(encoding="utf-8") == "new"


# -- 7. bounded reading ------------------------------------------------------------------------------------

def test_read_bounded_reads_at_most_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 11)
    assert read_bounded(path, 11) == b"x" * 11
    with pytest.raises(FileProblem) as problem:
        read_bounded(path, 10)
    assert problem.value.size == 11
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(FileProblem, match="FIFO"):
        read_bounded(fifo, 10)


# -- weak spots -------------------------------------------------------------------------------------------

def test_error_messages_are_capped() -> None:
    error = PolicyError("x" * 10_000, expected="y" * 10_000, help="z" * 10_000)
    assert len(error.message) <= MAX_MESSAGE_CHARS and len(error.expected or "") <= MAX_MESSAGE_CHARS
    assert len(str(error)) < 4 * MAX_MESSAGE_CHARS
    assert "more characters" in error.message


def test_a_long_cycle_is_not_echoed_whole(tmp_path: Path) -> None:
    clauses = [clause("W 1", "covers", "true", remedy="repair")]
    clauses += [clause(f"C {n}", "states", f"holds('C {(n + 1) % 300}')") for n in range(300)]
    write_policy(tmp_path, [document("W", clauses)])
    with pytest.raises(PolicyError) as refused:
        claimrules.load_policy(tmp_path)
    assert "refers to itself" in refused.value.message and len(refused.value.message) <= MAX_MESSAGE_CHARS


def test_caches_are_bounded_by_bytes() -> None:
    from claimrules.engine.cache import BoundedCache

    cache: BoundedCache[tuple[str, str], str] = BoundedCache(max_bytes=100_000)
    for n in range(1_000):
        cache[("incident.description", f"{n} " + "x" * 1_000)] = "rendered " + "y" * 1_000
    assert cache.bytes <= 100_000 and 0 < len(cache) < 1_000
    assert ("incident.description", "999 " + "x" * 1_000) in cache  # the newest stay


def test_the_adjudicator_caches_are_byte_bounded() -> None:
    from claimrules.engine.cache import BoundedCache

    with claimrules.load_policy(VALID_POLICY) as compiled:
        # the decision caches (bounded by estimated bytes; issues #13, #15)
        assert isinstance(compiled.adjudicator._rendered, BoundedCache)
        assert isinstance(compiled.adjudicator._trace_cache, BoundedCache)


# -- the structure fuzz target, on fixed inputs (the coverage-guided run is in .ci/run) -----------------

def test_the_structure_fuzz_target_survives_fixed_inputs() -> None:
    """Thirty fixed programs of structural edits (fuzz/structure.py): each loads, compiles and decides,
    or is refused with a PolicyError / ClaimError; never another exception."""
    import random

    sys.path.insert(0, str(ROOT / "fuzz"))
    try:
        import structure
    finally:
        sys.path.remove(str(ROOT / "fuzz"))
    rng = random.Random(13)
    for _ in range(30):
        structure.fuzz_structure(rng.randbytes(96))


def test_explain_never_sends_escape_sequences_to_the_terminal(tmp_path: Path) -> None:
    """A policy that reads the claim's description shows it in the trace; its escapes are dropped."""
    from typer.testing import CliRunner

    from claimrules.cli import app

    write_policy(tmp_path / "policy", [document("W", [clause("W 1", "covers", "claim.description == 'x'", remedy="repair")])])
    data = claim()
    data["claim"]["description"] = "\x1b]0;pwned\x07\x1b[2J\u202eerased"
    claim_file = tmp_path / "claim.json"
    claim_file.write_text(json.dumps(data), encoding="utf-8")
    result = CliRunner().invoke(app, ["explain", str(claim_file), "--policy", str(tmp_path / "policy")])
    assert result.exit_code == 0, result.stderr
    assert "erased" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\u202e" not in result.stdout
