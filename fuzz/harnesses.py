"""Fuzz targets: every input must give a result or the error of its family, never another exception.

Each target is a plain function of ``bytes`` so that the fuzz runner (``fuzz/run.py``, with atheris
or, where atheris will not build, hypothesis) and the regression tests
(``tests/test_fuzz_regressions.py``) call the very same code.

========== ===================================================== ===============================
target     what it feeds                                         the only exception allowed
========== ===================================================== ===============================
expression one condition: parse, then check its names and types   PolicyError
policy     a whole policy set (files packed in one input)         PolicyError
structure  edits to a valid policy's structure, then decisions    PolicyError, ClaimError
claim      claim JSON bytes: read, validate, then adjudicate      ClaimError
========== ===================================================== ===============================

The claim target adjudicates against the reference policy set (``policies/northwind``) when it
loads, else against ``fuzz/mini-policy``; an ``EvaluationError`` or any other exception there is a
crash. Fuzzer-made files are only ever written inside a private temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from claimrules.errors import ClaimError, PolicyError

ROOT = Path(__file__).resolve().parent.parent
MINI_POLICY = ROOT / "fuzz" / "mini-policy"
REFERENCE_POLICY = ROOT / "policies" / "northwind"
FILE_MARK = b"#@file "


# -- expression -------------------------------------------------------------------------------------

@cache
def _mini_policy() -> Any:
    from claimrules.policy.loader import load_policy

    return load_policy(MINI_POLICY)


def fuzz_expression(data: bytes) -> None:
    from claimrules.policy import expr as ast
    from claimrules.policy.parser import parse_condition
    from claimrules.policy.validate import _check_names, _Types

    text = data.decode("utf-8", errors="replace")
    try:
        policy = _mini_policy()
        node = parse_condition(text, policy.vocabulary.roots)
        list(ast.walk(node))
        ids = {clause.id for document in policy.documents for clause in document.clauses}
        _check_names(node, policy, policy.source, "X 1.1", ids)
        _Types(policy, policy.source, "X 1.1", {}).type_of(node)
    except PolicyError:
        pass


# -- policy ------------------------------------------------------------------------------------------

def pack(folder: Path) -> bytes:
    """A policy folder as one fuzz input: each file after a ``#@file name`` line."""
    parts = []
    for path in sorted(folder.glob("*.yaml")):
        parts.append(FILE_MARK + path.name.encode() + b"\n" + path.read_bytes())
    return b"\n".join(parts)


def unpack(data: bytes) -> dict[str, bytes]:
    """The files of a packed input; names are reduced to safe plain file names."""
    files: dict[str, bytes] = {}
    chunks = data.split(b"\n" + FILE_MARK)
    if chunks and chunks[0].startswith(FILE_MARK):
        chunks[0] = chunks[0][len(FILE_MARK):]
    else:
        chunks[0] = b"policy-set.yaml\n" + chunks[0]
    for chunk in chunks:
        name, _, body = chunk.partition(b"\n")
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name.decode("utf-8", errors="replace"))[:100].lstrip(".") or "file.yaml"
        files[safe] = body
    return files


@cache
def _workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="claimrules-fuzz-"))


def fuzz_policy(data: bytes) -> None:
    from claimrules.policy.loader import load_policy

    folder = _workdir() / "set"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    files = unpack(data)
    files.setdefault("facts.yaml", (MINI_POLICY / "facts.yaml").read_bytes())  # the vocabulary, unless the input brings one
    for name, body in files.items():
        (folder / name).write_bytes(body)
    try:
        load_policy(folder)
    except PolicyError:
        pass


# -- claim -------------------------------------------------------------------------------------------

@cache
def compiled_policy() -> Any:
    import claimrules

    if os.environ.get("CLAIMRULES_FUZZ_POLICY"):
        return claimrules.load_policy(os.environ["CLAIMRULES_FUZZ_POLICY"])
    try:
        return claimrules.load_policy(REFERENCE_POLICY)
    except PolicyError:
        return claimrules.load_policy(MINI_POLICY)


def fuzz_claim(data: bytes) -> None:
    from claimrules.facts import parse_claim, read_claim_text

    try:
        facts = parse_claim(read_claim_text(data, source="fuzz.json"), compiled_policy(), source="fuzz.json")
    except ClaimError:
        return
    compiled_policy().adjudicate(facts)


# -- a JSON-aware mutator for claims (libFuzzer's byte mutations rarely keep JSON valid) -------------

INTERESTING: list[Any] = [
    None, True, False, 0, -1, 1, 100, 101, 10**20, "", "x", "new", "refurbished", "open_box", "repair", "return",
    "cancel_plan", "defect", "drop", "liquid", "screen_crack", "theft", "agent", "manager", "armed_forces",
    "US", "CA", "GB", "DE", "AU", "PR", "GU", "XX", "us", "US-CA", "US-TX", "US-PR", "CA-ON", "GB-ENG", "AU-NSW",
    "1899-12-31", "1900-01-01", "2019-07-01", "2023-12-31", "2024-01-01", "2024-02-29", "2024-11-15", "2025-02-28",
    "2025-02-30", "2027-12-31", "2199-12-31", "9999-12-31", "2024-03-10T10:00:00",
    "USD 0", "USD 49", "USD 999.99", "USD -1", "EUR 120.50", "JPY 5000", "JPY 5.5", "KWD 1.234", "XAU 1", "XYZ 5",
    {"amount": "1E+999999999", "currency": "USD"}, {"amount": "10.000", "currency": "USD"},
    "CARE-3Y", "CARE-3Y+ADP+ONSITE", "CARE-0Y", [], {}, [{}],
]


def mutate_claim(data: bytes, max_size: int, seed: int) -> bytes:
    """Change one value, key or list of a claim, keeping it JSON; falls back to byte mutation."""
    import random

    rng = random.Random(seed)
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict) or rng.random() < 0.1:
        try:
            import atheris

            return bytes(atheris.Mutate(data, max_size))
        except ImportError:
            return data
    slots: list[tuple[Any, Any]] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for key in list(node):
                slots.append((node, key))
                visit(node[key])
        elif isinstance(node, list):
            for index in range(len(node)):
                slots.append((node, index))
                visit(node[index])

    visit(document)
    if not slots:
        return data
    container, key = rng.choice(slots)
    choice = rng.random()
    if choice < 0.6:
        container[key] = rng.choice(INTERESTING)
    elif choice < 0.75 and isinstance(container, dict):
        del container[key]
    elif choice < 0.85 and isinstance(container, dict):
        container[rng.choice([key + "x", key[:-1], "extra", key.upper()])] = container[key]
    elif isinstance(container[key], list) and container[key]:
        container[key] = container[key] * rng.randint(2, 4)
    else:
        other_container, other_key = rng.choice(slots)
        container[key] = json.loads(json.dumps(other_container[other_key]))
    out = json.dumps(document).encode()
    return out[:max_size]


def fuzz_structure(data: bytes) -> None:
    """A policy's structure edited (ids, references, sizes): see fuzz/structure.py."""
    from structure import fuzz_structure as run

    run(data)


TARGETS = {"expression": fuzz_expression, "policy": fuzz_policy, "claim": fuzz_claim, "structure": fuzz_structure}
