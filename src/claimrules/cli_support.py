"""What the ``claimrules`` command needs to work from anywhere: where the policy set is, where the
claims come from (files, JSON Lines, standard input), and errors as a stable JSON object.

The policy set is, in order: ``--policy``; the ``CLAIMRULES_POLICY`` environment variable; ``policy``
in the nearest ``claimrules.toml`` (the current folder or a parent); ``policy`` in
``$XDG_CONFIG_HOME/claimrules/config.toml`` (default ``~/.config``). A relative path in a config
file is relative to that file. Without any of them the command says how to set one.
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimrules.errors import ClaimError, ClaimrulesError, PolicyError
from claimrules.facts import MAX_CLAIM_BYTES
from claimrules.files import FileProblem, read_bounded

ENV_POLICY = "CLAIMRULES_POLICY"
PROJECT_CONFIG = "claimrules.toml"
EXIT_CODES = {"bad_claim": 3, "bad_policy": 4, "usage": 2, "internal": 5}

POLICY_HINT = (f"no policy set given: pass --policy DIR, or set {ENV_POLICY}=DIR (e.g. export {ENV_POLICY}=/path/to/policy-set), "
               f"or write policy = \"DIR\" in {PROJECT_CONFIG} (this folder or a parent) or in ~/.config/claimrules/config.toml")


class UsageError(ClaimrulesError):
    """The command line cannot be acted on (exit 2)."""

    family = "usage"


def user_config() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "claimrules" / "config.toml"


def _from_config(path: Path) -> Path | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    except tomllib.TOMLDecodeError as problem:
        raise UsageError(f"not valid TOML: {problem}", file=str(path), expected="policy = \"DIR\"") from None
    value = data.get("policy")
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise UsageError("'policy' must be a folder path", file=str(path), field="policy", expected="policy = \"DIR\"")
    folder = Path(value).expanduser()
    return folder if folder.is_absolute() else path.parent / folder


def resolve_policy(given: Path | None, cwd: Path | None = None) -> Path:
    """The policy set folder to use, or a UsageError with the hint."""
    if given is not None:
        return given
    env = os.environ.get(ENV_POLICY)
    if env:
        return Path(env).expanduser()
    here = (cwd or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        config = folder / PROJECT_CONFIG
        if config.is_file():
            found = _from_config(config)
            if found is not None:
                return found
    config = user_config()
    if config.is_file():
        found = _from_config(config)
        if found is not None:
            return found
    raise UsageError(POLICY_HINT, field="--policy", expected="a policy set folder")


@dataclass(frozen=True)
class ClaimSource:
    """One claim to decide: where it came from (``file``, ``file:line``, ``-:line``) and its JSON text."""

    name: str
    text: str | bytes


MAX_LINES_BYTES = 64_000_000   # a JSON Lines file given to check (claimrules batch streams larger ones)


def claim_sources(paths: list[str], *, lines: bool) -> Iterator[ClaimSource]:
    """Every claim named on the command line: a file, ``-`` for standard input; a ``.jsonl`` file,
    or any input when ``lines`` is set, holds one claim per line (blank lines skipped)."""
    for path in paths:
        limit = MAX_LINES_BYTES if (lines or path.endswith(".jsonl")) else MAX_CLAIM_BYTES
        if path == "-":
            data: bytes = sys.stdin.buffer.read(limit + 1)
            if len(data) > limit:
                raise ClaimError(f"standard input holds more than {limit} bytes", file="-",
                                 expected=f"at most {limit} bytes (use claimrules batch for large files)")
            name = "-"
        else:
            try:  # bounded: never a FIFO, a device or a file past the limit (issue #13)
                data = read_bounded(path, limit)
            except FileProblem as problem:
                message, expected = problem.describe("claim")
                raise ClaimError(message, file=path, expected=expected) from None
            name = path
        if lines or path.endswith(".jsonl"):
            for number, line in enumerate(data.splitlines(), start=1):
                if line.strip():
                    yield ClaimSource(f"{name}:{number}", line)
        else:
            yield ClaimSource(name, data)


def error_object(error: ClaimrulesError | Exception) -> dict[str, Any]:
    """An error as a stable JSON object: code, message, file, field, expected (and line, clause, help)."""
    if isinstance(error, ClaimError):
        code = "bad_claim"
    elif isinstance(error, PolicyError):
        code = "bad_policy"
    elif isinstance(error, UsageError):
        code = "usage"
    else:
        code = "internal"
    if isinstance(error, ClaimrulesError):
        return {"code": code, "exit": EXIT_CODES[code], "message": error.message, "file": error.file,
                "field": error.field, "expected": error.expected, "line": error.line, "clause": error.clause,
                "help": error.help}
    return {"code": code, "exit": EXIT_CODES[code], "message": f"internal error (a bug in claimrules): "
            f"{type(error).__name__}: {error}", "file": None, "field": None, "expected": None, "line": None,
            "clause": None, "help": None}


def error_json(error: ClaimrulesError | Exception) -> str:
    return json.dumps({"error": error_object(error)}, ensure_ascii=False)


def exit_code(error: ClaimrulesError | Exception) -> int:
    return int(error_object(error)["exit"])
