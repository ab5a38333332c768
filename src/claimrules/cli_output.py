"""Standard output that cannot be written (closed, a full disk, /dev/full) is one error message and a
non-zero exit, never a traceback and never a silent success."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def _stdout_usable() -> bool:
    stream = sys.stdout
    if stream is None:
        return False
    try:
        os.fstat(stream.fileno())
    except io.UnsupportedOperation:  # an in-memory stream (tests) has no descriptor: it is usable
        return True
    except (OSError, ValueError, AttributeError):
        return False
    return True


def _silence_stdout() -> None:
    """Point descriptor 1 at the null device, so the interpreter's final flush of the unwritten
    buffer cannot print a second error."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    except OSError:
        pass  # nothing more can be done for a stream that is gone; the error is already reported


@contextmanager
def guard_stdout(exit_code: int) -> Iterator[None]:
    """Run the command; stdout closed or unwritable exits ``exit_code`` with one message on stderr."""
    if not _stdout_usable():
        sys.stderr.write("error: standard output is closed (expected somewhere to write the result)\n")
        sys.exit(exit_code)
    try:
        yield
        sys.stdout.flush()
    except SystemExit as done:
        try:
            sys.stdout.flush()
        except OSError as problem:
            _report(problem, exit_code)
        raise done from None
    except OSError as problem:
        if problem.errno is None:
            raise
        _report(problem, exit_code)


def _report(problem: OSError, exit_code: int) -> None:
    _silence_stdout()
    sys.stderr.write(f"error: cannot write to standard output: {problem.strerror or problem}\n")
    sys.exit(exit_code)
