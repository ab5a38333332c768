"""The thin client: ``claimrules check`` asks the resident process before importing anything heavy.

``answer_check(argv)`` sends the command line, the current folder, the environment the command
reads, whether standard output and error are terminals (and their encoding) and, when a claim is
read from ``-``, standard input; it writes the answer's standard error, then its standard output
(the order ``check`` itself writes them in) and returns the exit code. Whenever the resident process
is off, absent, unreachable, slow, running other code, or declines, it returns None and the command
runs in-process, with standard input as it was: the same result, only slower.

Standard library only (no pydantic, typer or rich): this is all a warm ``check`` imports.
"""

from __future__ import annotations

import base64
import codecs
import errno
import os
import socket
import sys

from claimrules.resident import place, protocol
from claimrules.resident.stamp import code_stamp

ENV_TIMEOUT = "CLAIMRULES_RESIDENT_TIMEOUT"
DEFAULT_TIMEOUT = 30.0  # seconds for an answer; then the command runs in-process
#: What ``check`` reads from the environment besides CLAIMRULES_*: the user config folder (HOME,
#: XDG_CONFIG_HOME) and what click and rich read to draw for a terminal.
FORWARDED_ENV = ("HOME", "XDG_CONFIG_HOME", "NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS", "LINES",
                 "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES")
STDIN_LIMIT = 64_000_000 + 1  # the most `check` reads from standard input (claimrules.cli_support)
EXIT_USAGE = 2  # as claimrules.cli: standard output cannot be written


class Outcome:
    """What the resident process did: ``exit`` when it answered, else ``stdin`` as read so far (or None).

    A plain class: dataclasses would import inspect, a tenth of the thin client's start."""

    __slots__ = ("exit", "stdin")

    def __init__(self, exit: int | None, stdin: bytes | None = None) -> None:
        self.exit = exit
        self.stdin = stdin


def _timeout() -> float:
    try:
        return max(0.1, float(os.environ.get(ENV_TIMEOUT, DEFAULT_TIMEOUT)))
    except ValueError:
        return DEFAULT_TIMEOUT


def ask(message: dict[str, object], *, timeout: float | None = None) -> dict[str, object] | None:
    """Send one request to this installation's resident process; None if there is none to answer."""
    try:
        path = place.socket_path(place.private_folder(create=False))
    except place.PlaceError:
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.settimeout(_timeout() if timeout is None else timeout)
        connection.connect(path)
        owner = protocol.peer_uid(connection)
        if owner is not None and owner != os.getuid():
            return None  # only a process of this user may answer
        protocol.send(connection, message)
        return protocol.receive(connection)
    except (OSError, protocol.BadMessage):  # absent, refused, timed out, cut off: not an answer
        return None
    finally:
        connection.close()


def _utf8(stream: object) -> bool:
    encoding = getattr(stream, "encoding", None)
    try:
        return isinstance(encoding, str) and codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def _usable(descriptor: int) -> bool:
    try:
        os.fstat(descriptor)
    except OSError:
        return False
    return True


def _stream(stream: object) -> dict[str, object]:
    isatty = getattr(stream, "isatty", None)
    return {"tty": bool(isatty()) if isatty is not None else False, "encoding": getattr(stream, "encoding", "utf-8"),
            "errors": getattr(stream, "errors", None) or "strict"}


def eligible(argv: list[str]) -> bool:
    """Whether the resident process may answer: ``check`` (not its help), UTF-8 output to open
    descriptors, no shell completion request, standard input not a terminal if ``-`` is given."""
    if place.switched_off() or argv[:1] != ["check"] or "--help" in argv:
        return False
    if any(name.startswith("_") and name.endswith("_COMPLETE") for name in os.environ):
        return False
    if sys.stdout is None or sys.stderr is None or not _usable(1) or not _usable(2):
        return False
    if not (_utf8(sys.stdout) and _utf8(sys.stderr)):
        return False
    return "-" not in argv or (sys.stdin is not None and _usable(0) and not sys.stdin.isatty())


def check_request(argv: list[str], stdin: bytes | None) -> dict[str, object]:
    from claimrules import __version__

    environment = {name: value for name, value in os.environ.items()
                   if name in FORWARDED_ENV or name.startswith("CLAIMRULES_")}
    return {"kind": "check", "protocol": protocol.PROTOCOL, "version": __version__, "stamp": code_stamp(),
            "argv": argv, "cwd": os.getcwd(), "env": environment, "prog_name": os.path.basename(sys.argv[0]),
            "stdin": None if stdin is None else base64.b64encode(stdin).decode("ascii"),
            "stdin_tty": _stream(sys.stdin)["tty"] if sys.stdin is not None else False,
            "stdout": _stream(sys.stdout), "stderr": _stream(sys.stderr)}


def answer_check(argv: list[str]) -> Outcome:
    """Run ``claimrules check`` in the resident process if it can; see the module docstring."""
    if not eligible(argv):
        return Outcome(None)
    stdin = sys.stdin.buffer.read(STDIN_LIMIT) if "-" in argv else None
    try:
        request = check_request(argv, stdin)
    except OSError:  # the current folder is gone, or the package cannot be read: in-process says what
        return Outcome(None, stdin)
    answer = ask(request)
    if answer is None or answer.get("status") != "done":
        return Outcome(None, stdin)
    try:
        code = answer["exit"]
        out = base64.b64decode(str(answer["stdout"]), validate=True)
        err = base64.b64decode(str(answer["stderr"]), validate=True)
    except (KeyError, ValueError):
        return Outcome(None, stdin)
    if not isinstance(code, int):
        return Outcome(None, stdin)
    return Outcome(_write(out, err, code), stdin)


def _write(out: bytes, err: bytes, code: int) -> int:
    """Write as the in-process command would, with the same exit when standard output fails
    (claimrules.cli_output.guard_stdout, and typer's silent exit 1 on a closed pipe)."""
    if err:
        sys.stderr.flush()
        sys.stderr.buffer.write(err)
        sys.stderr.buffer.flush()
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(out)
        sys.stdout.buffer.flush()
    except OSError as problem:
        _silence_stdout()
        if problem.errno == errno.EPIPE:
            return 1
        sys.stderr.write(f"error: cannot write to standard output: {problem.strerror or problem}\n")
        return EXIT_USAGE
    return code


def _silence_stdout() -> None:
    """Point descriptor 1 at the null device: the interpreter's final flush has nothing left to fail on."""
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
