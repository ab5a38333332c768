"""Reading and writing files an attacker or a careless author may have chosen.

Every file claimrules reads (claims, policy files, the manifest, documentation examples) goes
through :func:`read_bounded`: it opens without blocking, refuses anything that is not a regular
file (a FIFO would hang forever, ``/dev/zero`` never ends, a symbolic link to either is followed
and then refused), and reads at most ``limit + 1`` bytes whatever the file claims its size to be (an
8 GB sparse file costs one bounded read). The caller turns :class:`FileProblem` into the error of
its family (ClaimError, PolicyError) naming the file.

:func:`write_new` writes an output file without ever overwriting an input, an existing file (unless
asked) or anything behind a symbolic link.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

__all__ = ["FileProblem", "read_bounded", "read_claim_file", "read_claim_lines", "write_new"]


class FileProblem(Exception):
    """Why a file could not be read or written: ``reason`` (what is wrong) and ``expected``.

    ``size`` is set when the file is too large, ``unreadable`` when the system refused it (then
    ``reason`` is the system's message, e.g. "No such file or directory")."""

    def __init__(self, reason: str, expected: str | None, *, size: int | None = None, unreadable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expected = expected
        self.size = size
        self.unreadable = unreadable

    def describe(self, what: str) -> tuple[str, str | None]:
        """(message, expected) for an error about ``what`` ("policy file", "claim")."""
        if self.unreadable:
            return f"cannot read {what}: {self.reason}", self.expected
        if self.size is not None:
            return f"{what} is {self.size} bytes", self.expected
        return f"{what} is {self.reason}", self.expected


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bounded(path: str | Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; FileProblem otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as problem:
        raise FileProblem(str(problem.strerror or problem), None, unreadable=True) from None
    except ValueError:  # a NUL byte in the name
        raise FileProblem("named with a NUL byte", "a usable file name") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise FileProblem(_kind(info.st_mode), "a regular file")
        if info.st_size > limit:
            raise FileProblem(f"{info.st_size} bytes", f"at most {limit} bytes", size=info.st_size)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(descriptor, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # the file grew after fstat
            raise FileProblem(f"more than {limit} bytes", f"at most {limit} bytes", size=size)
        return b"".join(chunks)
    except OSError as problem:
        raise FileProblem(str(problem.strerror or problem), None, unreadable=True) from None
    finally:
        os.close(descriptor)


def _same_file(first: Path, second: Path) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:
        return os.path.abspath(first) == os.path.abspath(second)


def write_new(path: Path, data: bytes, *, force: bool = False, inputs: Iterable[Path] = ()) -> None:
    """Write ``data`` to ``path``: never to one of ``inputs``, never through a symbolic link, and not
    over an existing file unless ``force``. The file is written beside the target and renamed into
    place, so a failed write leaves no half file."""
    for given in inputs:
        if _same_file(path, given) or os.path.abspath(path) == os.path.abspath(given):
            raise FileProblem(f"it is the input {given}", "an output file that is not one of the inputs")
    if path.is_symlink():
        raise FileProblem("it is a symbolic link", "a plain file name (claimrules never writes through a link)")
    if path.exists():
        if not path.is_file():
            raise FileProblem("it exists and is not a regular file", "a new file name")
        if not force:
            raise FileProblem("it already exists", "a new file name, or --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(temporary, flags, 0o644)
    except OSError as problem:
        raise FileProblem(f"cannot write it: {problem.strerror or problem}", "a writable folder") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        if path.is_symlink():  # appeared while we wrote
            raise FileProblem("it is a symbolic link", "a plain file name (claimrules never writes through a link)")
        if not force and path.exists():
            raise FileProblem("it already exists", "a new file name, or --force to replace it")
        os.replace(temporary, path)
    except OSError as problem:
        raise FileProblem(f"cannot write it: {problem.strerror or problem}", "a writable folder") from None
    finally:
        if temporary.exists():
            temporary.unlink()


def read_claim_file(path: str | Path) -> bytes:
    """A claim file's bytes, bounded like ``load_claim``; ClaimError names the file otherwise."""
    from claimrules.errors import ClaimError
    from claimrules.facts import MAX_CLAIM_BYTES

    try:
        return read_bounded(path, MAX_CLAIM_BYTES)
    except FileProblem as problem:
        message, expected = problem.describe("claim")
        raise ClaimError(message, file=str(path), expected=expected) from None


#: A file of claims, one JSON object a line (``claimrules diff --claims``).
MAX_CLAIM_LINES_BYTES = 200_000_000


def read_claim_lines(path: str | Path) -> list[str]:
    """The lines of a claims file (JSON lines), bounded; ClaimError names the file otherwise."""
    from claimrules.errors import ClaimError

    try:
        raw = read_bounded(path, MAX_CLAIM_LINES_BYTES)
    except FileProblem as problem:
        message, expected = problem.describe("claims file")
        raise ClaimError(message, file=str(path), expected=expected) from None
    try:
        return raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as problem:
        raise ClaimError(f"not UTF-8 text (byte {problem.start})", file=str(path), expected="UTF-8 JSON lines") from None
