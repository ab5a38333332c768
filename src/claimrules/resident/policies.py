"""Compiled policy sets held by the resident process, each under the content it was compiled from.

On every request the folder's files are read and hashed again (a few milliseconds): the key is the
folder as given, its resolved path, and the SHA-256 of every file under it (relative path, size and
bytes, sorted by path). A held policy set is lent only when all of that is unchanged; otherwise the
folder is loaded again, exactly as the in-process command loads it (same errors). A policy set that
changed while it was being loaded, or a folder that cannot be read or is too large to hash, is
loaded for that one command and not kept.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from claimrules.api import CompiledPolicy, load_policy

MAX_HASHED_BYTES = 64_000_000  # a policy folder larger than this is loaded for each command, never kept
CAPACITY = 4  # policy sets kept; the least recently used is released first


class TooLarge(Exception):
    """The folder holds more than MAX_HASHED_BYTES."""


def content_hash(folder: Path) -> str:
    """SHA-256 over every file under ``folder`` (links followed, each folder once), sorted by relative path."""
    root = os.path.realpath(folder)
    files: list[tuple[str, str]] = []
    seen: set[tuple[int, int]] = set()
    for here, folders, names in os.walk(root, followlinks=True, onerror=_raise):
        info = os.stat(here)
        if (info.st_dev, info.st_ino) in seen:
            folders[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        folders.sort()
        for name in names:
            path = os.path.join(here, name)
            files.append((os.path.relpath(path, root), path))
    digest, total = hashlib.sha256(), 0
    for relative, path in sorted(files):
        with open(path, "rb") as stream:
            data = stream.read(MAX_HASHED_BYTES + 1 - total)
        total += len(data)
        if total > MAX_HASHED_BYTES:
            raise TooLarge(root)
        digest.update(f"{relative}\0{len(data)}\0".encode("utf-8", "surrogateescape"))
        digest.update(data)
    return digest.hexdigest()


def _raise(problem: OSError) -> None:
    raise problem


@dataclass(frozen=True)
class PolicyKey:
    given: str
    resolved: str
    content: str


def policy_key(folder: Path) -> PolicyKey:
    return PolicyKey(str(folder), os.path.realpath(folder), content_hash(folder))


@dataclass
class Held:
    compiled: CompiledPolicy
    checks: int = 0


class HeldPolicies:
    """The policy sets the resident process keeps. Not thread-safe: the server lends them one command at a time."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._held: OrderedDict[PolicyKey, Held] = OrderedDict()

    def open(self, folder: Path) -> AbstractContextManager[CompiledPolicy]:
        """The compiled policy set of ``folder`` as it is on disk now (``claimrules.cli.PolicyOpener``)."""
        try:
            key = policy_key(folder)
        except (OSError, TooLarge):  # cannot be fingerprinted: loaded (or refused) as in-process, not kept
            return load_policy(folder)
        held = self._held.get(key)
        if held is None:
            compiled = load_policy(folder)
            try:
                unchanged = policy_key(folder) == key
            except (OSError, TooLarge):
                unchanged = False
            if not unchanged:
                return compiled  # edited while loading: this command only, released after it
            held = self._held[key] = Held(compiled)
            while len(self._held) > self.capacity:
                _, oldest = self._held.popitem(last=False)
                oldest.compiled.close()
        self._held.move_to_end(key)
        held.checks += 1
        return nullcontext(held.compiled)

    def describe(self) -> list[dict[str, object]]:
        return [{"folder": key.resolved, "given": key.given, "content_sha256": key.content,
                 "fingerprint": held.compiled.fingerprint, "checks": held.checks}
                for key, held in self._held.items()]

    def close(self) -> None:
        while self._held:
            _, held = self._held.popitem()
            held.compiled.close()
