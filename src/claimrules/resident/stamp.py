"""The stamp of the code a process runs: claimrules' own source files (path, size, modification
time), the Python that runs them and the folders packages are installed in (pip changes their
modification time when it installs or removes one).

The client sends its stamp with every request; the resident process compares it with the stamp it
took when it started and, on any difference, answers "stale" and exits: it never answers with code
that is no longer on disk. Cheap (one ``os.scandir`` walk, no file read). Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import sys

from claimrules.resident.place import PACKAGE_DIR


def _sources(folder: str, prefix: str, into: list[tuple[str, int, int]]) -> None:
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    _sources(entry.path, f"{prefix}{entry.name}/", into)
            elif entry.name.endswith(".py"):
                info = entry.stat()
                into.append((prefix + entry.name, info.st_size, info.st_mtime_ns))


def _install_folders() -> list[str]:
    """The environment's site-packages folders (not the user's: that one moves with $HOME, which the
    client may set differently from the resident process)."""
    site = sys.modules.get("site")
    return sorted(set(site.getsitepackages())) if site is not None else []


def code_stamp(package_dir: str = PACKAGE_DIR) -> str:
    """A hash that changes when claimrules' code, the Python running it or the installed packages change."""
    sources: list[tuple[str, int, int]] = []
    _sources(package_dir, "", sources)
    digest = hashlib.sha256()
    digest.update(f"{sys.version}\0{os.path.realpath(sys.prefix)}\0{os.path.realpath(package_dir)}\0".encode(
        "utf-8", "surrogateescape"))
    for name, size, mtime in sorted(sources):
        digest.update(f"{name}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
    for folder in _install_folders():
        try:
            digest.update(f"{folder}\0{os.stat(folder).st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
        except OSError:
            digest.update(f"{folder}\0absent\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()
