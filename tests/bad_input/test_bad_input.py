"""The bad-input catalogue: every malformed claim and policy gets its exact documented error.

Each case in ``tests/bad_input/expected.yaml`` names a file under ``claims/`` or a folder under
``policies/`` (or, for huge and deeply nested inputs, a generator below: megabytes are made at test
time, never committed) and the exact ``str(error)`` claimrules must give. Every case is checked
twice: through the library (the error's family and text) and through ``claimrules check`` run as a
subprocess (the documented exit code, ``error: <text>`` on stderr, and never a traceback).
docs/errors.md documents every message; a test keeps it in step with this catalogue.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from claimrules.errors import ClaimError, ClaimrulesError, PolicyError
from claimrules.facts import MAX_CLAIM_BYTES
from claimrules.facts import load_claim as _load_claim
from claimrules.policy.loader import MAX_CLAUSES, MAX_FILE_BYTES, MAX_LIST_ITEMS, load_policy, load_vocabulary
from claimrules.policy.validate import MAX_HOLDS_DEPTH

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REL = HERE.relative_to(ROOT)
VALID_CLAIM = REL / "valid-claim.json"
VALID_POLICY = REL / "valid-policy"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((HERE / "expected.yaml").read_text(encoding="utf-8"))
EXIT = {"claim": 3, "policy": 4}


def load_claim(path: Path) -> object:
    """A claim read with the vocabulary of the valid policy (the one `claimrules check` runs it against)."""
    return _load_claim(path, load_vocabulary(VALID_POLICY))


# -- inputs made at test time ------------------------------------------------------------------------

def _valid_claim() -> dict[str, Any]:
    return json.loads((HERE / "valid-claim.json").read_text(encoding="utf-8"))


def _claim_huge_file(folder: Path) -> Path:
    path = folder / "huge.json"
    text = json.dumps(_valid_claim())
    path.write_text(text[:-1] + " " * (MAX_CLAIM_BYTES + 1 - len(text)) + "}")
    return path


def _claim_deeply_nested(folder: Path) -> Path:
    path = folder / "deep.json"
    path.write_text('{"claim": ' + "[" * 100_000 + "]" * 100_000 + "}")
    return path


def _claim_too_many_list_items(folder: Path) -> Path:
    claim = _valid_claim()
    claim["prior_incidents"] = [{"occurred_on": "2024-01-01", "kind": "defect", "covered": True}] * 201
    path = folder / "many.json"
    path.write_text(json.dumps(claim))
    return path


def _copy_valid_policy(folder: Path) -> Path:
    target = folder / "policy"
    target.mkdir()
    for source in (ROOT / VALID_POLICY).iterdir():
        (target / source.name).write_bytes(source.read_bytes())
    return target


def _policy_huge_file(folder: Path) -> Path:
    policy = _copy_valid_policy(folder)
    document = policy / "warranty.yaml"
    padding = "# padding\n" * (MAX_FILE_BYTES // 10 + 1)
    document.write_text(document.read_text() + padding)
    return policy


def _policy_too_many_clauses(folder: Path) -> Path:
    policy = _copy_valid_policy(folder)
    document = policy / "warranty.yaml"
    extra = "".join(f"      - {{id: W 10.{n}, title: Filler, text: Filler., effect: states}}\n" for n in range(MAX_CLAUSES))
    document.write_text(document.read_text() + extra)
    return policy


def _policy_deeply_nested_yaml(folder: Path) -> Path:
    policy = _copy_valid_policy(folder)
    (policy / "policy-set.yaml").write_text("policy_set: " + "[" * 50_000 + "]" * 50_000 + "\n")
    return policy


def _policy_deeply_nested_block_yaml(folder: Path) -> Path:
    policy = _copy_valid_policy(folder)
    (policy / "policy-set.yaml").write_text("".join(" " * level + f"k{level}:\n" for level in range(1200)))
    return policy


def _policy_definition_chain(folder: Path) -> Path:
    policy = _copy_valid_policy(folder)
    document = policy / "warranty.yaml"
    chain = '      d0:\n        value: "delivery.invoice_date"\n' + "".join(
        f'      d{n}:\n        value: "d{n - 1} + 1 day"\n' for n in range(1, 100))
    text = document.read_text().replace("      territory:\n", chain + "      territory:\n")
    document.write_text(text.replace('"claim.reported_on within 1 year after delivery_date"', '"claim.reported_on <= d99"'))
    return policy


def _policy_symlink_escape(folder: Path) -> Path:
    policy = _copy_valid_policy(folder)
    outside = folder / "outside.yaml"
    outside.write_text((policy / "warranty.yaml").read_text())
    (policy / "warranty.yaml").unlink()
    (policy / "warranty.yaml").symlink_to(outside)
    return policy


# -- issue #13: files that are not regular files, limits of the policy language ---------------------

def _claim_dev_zero(folder: Path) -> Path:
    return Path("/dev/zero")  # endless: refused as a device before a byte is read


def _claim_fifo(folder: Path) -> Path:
    path = folder / "claim.json"
    os.mkfifo(path)  # no writer: reading it would block forever
    return path


def _claim_link_to_dev_zero(folder: Path) -> Path:
    path = folder / "claim.json"
    path.symlink_to("/dev/zero")
    return path


def _claim_sparse_8gb(folder: Path) -> Path:
    path = folder / "claim.json"
    with path.open("wb") as handle:
        handle.truncate(8_000_000_000)  # sparse: no disk used, and refused by its size without reading
    return path


def _policy_dev_zero(folder: Path) -> Path:
    return Path("/dev/zero")


def _policy_manifest_link_to_dev_zero(folder: Path) -> Path:
    policy = _copy_valid_policy(folder)
    (policy / "policy-set.yaml").unlink()
    (policy / "policy-set.yaml").symlink_to("/dev/zero")
    return policy


def _policy_manifest_symlink_escape(folder: Path) -> Path:
    policy = _copy_valid_policy(folder)
    outside = folder / "outside.yaml"
    outside.write_text("secret_key_name: 1\n")  # its keys must not be echoed
    (policy / "policy-set.yaml").unlink()
    (policy / "policy-set.yaml").symlink_to(outside)
    return policy


def _policy_document_fifo(folder: Path) -> Path:
    policy = _copy_valid_policy(folder)
    (policy / "warranty.yaml").unlink()
    os.mkfifo(policy / "warranty.yaml")
    return policy


def _policy_document_sparse_8gb(folder: Path) -> Path:
    policy = _copy_valid_policy(folder)
    with (policy / "warranty.yaml").open("r+b") as handle:
        handle.truncate(8_000_000_000)
    return policy


def _append_clauses(policy: Path, clauses: str) -> Path:
    document = policy / "warranty.yaml"
    document.write_text(document.read_text() + clauses)
    return policy


def _policy_holds_chain_too_deep(folder: Path) -> Path:
    chain = "      - {id: W 10.0, title: Link, text: Link., effect: states, when: \"product.serial_intact\"}\n"
    chain += "".join(f"      - {{id: W 10.{n}, title: Link, text: Link., effect: states, when: \"holds('W 10.{n - 1}')\"}}\n"
                     for n in range(1, MAX_HOLDS_DEPTH + 2))
    return _append_clauses(_copy_valid_policy(folder), chain)


def _policy_condition_list_too_many_items(folder: Path) -> Path:
    items = ", ".join(["product.serial_intact"] * (MAX_LIST_ITEMS + 1))
    return _append_clauses(_copy_valid_policy(folder),
                           f"      - {{id: W 10.1, title: Many, text: Many., effect: states, when: {{any: [{items}]}}}}\n")


def _policy_condition_list_too_long(folder: Path) -> Path:
    items = ", ".join(f"\"product.price == USD {n}\"" for n in range(150))
    return _append_clauses(_copy_valid_policy(folder),
                           f"      - {{id: W 10.1, title: Long, text: Long., effect: states, when: {{any: [{items}]}}}}\n")


GENERATORS: dict[str, Callable[[Path], Path]] = {
    "claim-dev-zero": _claim_dev_zero,
    "claim-fifo": _claim_fifo,
    "claim-link-to-dev-zero": _claim_link_to_dev_zero,
    "claim-sparse-8gb": _claim_sparse_8gb,
    "policy-dev-zero": _policy_dev_zero,
    "policy-manifest-link-to-dev-zero": _policy_manifest_link_to_dev_zero,
    "policy-manifest-symlink-escape": _policy_manifest_symlink_escape,
    "policy-document-fifo": _policy_document_fifo,
    "policy-document-sparse-8gb": _policy_document_sparse_8gb,
    "policy-holds-chain-too-deep": _policy_holds_chain_too_deep,
    "policy-condition-list-too-many-items": _policy_condition_list_too_many_items,
    "policy-condition-list-too-long": _policy_condition_list_too_long,
    "claim-huge-file": _claim_huge_file,
    "claim-deeply-nested": _claim_deeply_nested,
    "claim-too-many-list-items": _claim_too_many_list_items,
    "policy-huge-file": _policy_huge_file,
    "policy-too-many-clauses": _policy_too_many_clauses,
    "policy-deeply-nested-yaml": _policy_deeply_nested_yaml,
    "policy-deeply-nested-block-yaml": _policy_deeply_nested_block_yaml,
    "policy-definition-chain": _policy_definition_chain,
    "policy-symlink-escape": _policy_symlink_escape,
}


# -- the cases ---------------------------------------------------------------------------------------

def _cases() -> list[tuple[str, str]]:
    cases = [("claim", name) for name in EXPECTED["claims"]]
    cases += [("policy", name) for name in EXPECTED["policies"]]
    cases += [("generated", name) for name in EXPECTED["generated"]]
    return cases


CASES = _cases()
IDS = [f"{family}/{name}" for family, name in CASES]


def _entry(family: str, name: str) -> dict[str, Any]:
    return EXPECTED[{"claim": "claims", "policy": "policies", "generated": "generated"}[family]][name]


def _input(family: str, name: str, scratch: Path) -> tuple[str, Path, str]:
    """(claim or policy, the path given to claimrules, the text standing for the scratch folder)."""
    if family == "claim":
        matches = sorted((HERE / "claims").glob(f"{name}.*"))
        assert len(matches) == 1, f"one file per claim case: {matches}"
        return "claim", matches[0].relative_to(ROOT), "{dir}"
    if family == "policy":
        return "policy", REL / "policies" / name, "{dir}"
    folder = scratch / name
    folder.mkdir(parents=True, exist_ok=True)
    return name.split("-", 1)[0], GENERATORS[name](folder), str(folder)


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # messages name files relative to the repository root


def test_the_catalogue_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert set(EXPECTED["generated"]) == set(GENERATORS)
    claim_files = {path.stem for path in (HERE / "claims").iterdir()}
    policy_folders = {path.name for path in (HERE / "policies").iterdir()}
    assert claim_files == set(EXPECTED["claims"]), "every claim file has an entry and every entry a file"
    assert policy_folders == set(EXPECTED["policies"]), "every policy folder has an entry and every entry a folder"


def test_the_starting_points_are_valid() -> None:
    """Each case is one change away from these, so its error is about that change alone."""
    load_claim(VALID_CLAIM)
    load_policy(VALID_POLICY)


@pytest.mark.parametrize(("family", "name"), CASES, ids=IDS)
def test_library_gives_the_exact_error(family: str, name: str, tmp_path: Path) -> None:
    entry = _entry(family, name)
    kind, path, scratch = _input(family, name, tmp_path)
    expected_type = ClaimError if kind == "claim" else PolicyError
    with pytest.raises(ClaimrulesError) as raised:
        load_claim(path) if kind == "claim" else load_policy(path)
    assert type(raised.value) is expected_type
    assert str(raised.value).replace(scratch, "{dir}") == entry["error"]
    assert entry["exit"] == EXIT[kind]


# -- the command line --------------------------------------------------------------------------------
# Every case runs through the real `claimrules check` entry point in-process (fast); a sample of them
# (every family, every generated input) also runs as a subprocess. Set
# CLAIMRULES_CATALOGUE_SUBPROCESS=all to run every case as a subprocess (about 1 CPU-second each).

SUBPROCESS_SAMPLE = {
    "claim/json-trailing-comma", "claim/non-utf8-bytes", "claim/misspelled-field", "claim/impossible-date-feb-30",
    "claim/negative-price", "claim/unknown-currency", "claim/subdivision-in-another-country",
    "policy/yaml-python-tag", "policy/path-traversal", "policy/unknown-fact", "policy/condition-too-deep",
    "policy/duplicate-clause-id", "policy/precedence-cycle", "policy/non-utf8-bytes",
    *(f"generated/{name}" for name in GENERATORS),
}
SUBPROCESS_CASES = [case for case, case_id in zip(CASES, IDS)
                    if os.environ.get("CLAIMRULES_CATALOGUE_SUBPROCESS") == "all" or case_id in SUBPROCESS_SAMPLE]


def _arguments(kind: str, path: Path) -> list[str]:
    claim, policy = (path, VALID_POLICY) if kind == "claim" else (VALID_CLAIM, path)
    return ["check", str(claim), "--policy", str(policy)]


@pytest.mark.parametrize(("family", "name"), CASES, ids=IDS)
def test_check_exits_with_the_documented_code(family: str, name: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from claimrules.cli import app

    entry = _entry(family, name)
    kind, path, scratch = _input(family, name, tmp_path)
    result = CliRunner().invoke(app, _arguments(kind, path))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == entry["exit"], result.stderr
    assert result.stdout == ""
    assert result.stderr.replace(scratch, "{dir}") == f"error: {entry['error']}\n"


def _run_cli(kind: str, path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "claimrules.cli", *_arguments(kind, path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[subprocess.CompletedProcess[str], str]]:
    scratch = tmp_path_factory.mktemp("cli")
    inputs = {f"{family}/{name}": _input(family, name, scratch) for family, name in SUBPROCESS_CASES}
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {key: pool.submit(_run_cli, kind, path) for key, (kind, path, _) in inputs.items()}
        return {key: (future.result(), inputs[key][2]) for key, future in futures.items()}


@pytest.mark.parametrize(("family", "name"), SUBPROCESS_CASES, ids=[f"{f}/{n}" for f, n in SUBPROCESS_CASES])
def test_check_as_a_process_never_shows_a_traceback(
        family: str, name: str, cli_results: dict[str, tuple[subprocess.CompletedProcess[str], str]]) -> None:
    entry = _entry(family, name)
    result, scratch = cli_results[f"{family}/{name}"]
    assert "Traceback" not in result.stderr
    assert result.returncode == entry["exit"], result.stderr
    assert result.stdout == ""
    assert result.stderr.replace(scratch, "{dir}") == f"error: {entry['error']}\n"


def test_every_message_is_documented() -> None:
    text = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    for family, name in CASES:
        entry = _entry(family, name)
        assert f"`{name}`" in text, f"docs/errors.md does not list {family}/{name}"
        for line in entry["error"].splitlines():
            assert line.strip() in text, f"docs/errors.md does not quote the message of {name}: {line}"
