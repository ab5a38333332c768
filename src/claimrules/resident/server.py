"""The resident process: listens on the private socket, answers ``check`` with the very command the
client would have run (``claimrules.cli``), with the policy sets it holds; exits when idle, on
``stop``, on SIGTERM, or when a client runs other code than it does ("stale").

    python -P -m claimrules.resident.server --socket PATH --lock PATH [--idle-seconds 900]

Started by ``claimrules resident start`` (``claimrules.resident.control``), detached, its output
in a log file. One command runs at a time (it sets the process's folder, environment and standard
streams to the client's); a connection that sends nothing is dropped after a few seconds.
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import io
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from claimrules.resident import place, protocol
from claimrules.resident.stamp import code_stamp

READ_SECONDS = 10.0  # to receive a request once connected
POLL_SECONDS = 0.5  # how often the listening loop looks at the stop flag and the idle clock
SERVED = frozenset({"check"})  # the only command the resident process runs


class Declined(Exception):
    """The client must run this command in-process (the reason is logged and sent)."""


class CapturedStream(io.TextIOWrapper):
    """A standard stream in memory that says it is a terminal when the client's is."""

    def __init__(self, data: bytes = b"", *, tty: bool, encoding: str, errors: str) -> None:
        self.bytes = io.BytesIO(data)
        super().__init__(self.bytes, encoding=encoding, errors=errors, write_through=True)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def captured(self) -> bytes:
        self.flush()
        return self.bytes.getvalue()


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise protocol.BadMessage(f"'{name}' must be text")
    return value


def _stream_of(request: dict[str, Any], name: str) -> CapturedStream:
    spec = request.get(name)
    if not isinstance(spec, dict) or not isinstance(spec.get("tty"), bool):
        raise protocol.BadMessage(f"'{name}' must be an object with 'tty', 'encoding' and 'errors'")
    return CapturedStream(tty=spec["tty"], encoding=_text(spec.get("encoding"), f"{name}.encoding"),
                          errors=_text(spec.get("errors"), f"{name}.errors"))


class Resident:
    def __init__(self, socket_path: str, idle_seconds: float, stamp: str) -> None:
        from claimrules import __version__
        from claimrules.resident.policies import HeldPolicies

        self.socket_path = socket_path
        self.idle_seconds = idle_seconds
        self.stamp = stamp
        self.version = __version__
        self.policies = HeldPolicies()
        self.started = time.monotonic()
        self.last_request = self.started
        self.checks = 0
        self.stopping = threading.Event()
        self.running = threading.Lock()  # one command at a time: it borrows the process's cwd, env and streams
        self.log: TextIO = sys.stderr
        self.command: Any = None  # the click command of claimrules.cli, built on the first check
        self.connections: list[threading.Thread] = []

    def say(self, message: str) -> None:
        self.log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} pid {os.getpid()}: {message}\n")
        self.log.flush()

    # -- the loop ---------------------------------------------------------------------------------
    def serve(self, listener: socket.socket) -> None:
        listener.settimeout(POLL_SECONDS)
        self.say(f"listening on {self.socket_path} (exits after {self.idle_seconds:g} s idle)")
        while not self.stopping.is_set():
            if not self.running.locked() and time.monotonic() - self.last_request > self.idle_seconds:
                self.say("idle: exiting")
                break
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self.connection, args=(connection,), daemon=True)
            thread.start()
            self.connections = [*(alive for alive in self.connections if alive.is_alive()), thread]
        with self.running:  # let a command under way finish before the process goes
            self.policies.close()
        for thread in self.connections:  # and its answer reach its client
            thread.join(timeout=READ_SECONDS)

    def connection(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.settimeout(READ_SECONDS)
                uid = protocol.peer_uid(connection)
                if uid is not None and uid != os.getuid():
                    self.say(f"refused a connection from user id {uid}")
                    return
                try:
                    request = protocol.receive(connection)
                except protocol.BadMessage as problem:
                    protocol.send(connection, {"status": "error", "message": f"malformed request: {problem}"})
                    return
                answer = self.answer(request)
                connection.settimeout(None)
                try:
                    protocol.send(connection, answer)
                finally:
                    if answer["status"] in ("stopping", "stale"):
                        self.stopping.set()
            except OSError as problem:  # the client went away or timed out: nothing to answer
                self.say(f"connection dropped: {problem}")

    # -- requests ---------------------------------------------------------------------------------
    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        kind = request.get("kind")
        if kind == "status":
            return self.status()
        if kind == "stop":
            self.say("stop requested")
            return {"status": "stopping", "pid": os.getpid()}
        if kind != "check":
            return {"status": "error", "message": f"unknown request kind {kind!r} (expected check, status or stop)"}
        if (request.get("protocol"), request.get("version"), request.get("stamp")) != (
                protocol.PROTOCOL, self.version, self.stamp):
            self.say("a client runs other claimrules code than this process (edited, reinstalled): stale, exiting")
            return {"status": "stale", "message": "the resident process runs older code: it exits"}
        try:
            with self.running:
                if self.stopping.is_set():
                    raise Declined("the resident process is stopping")
                try:
                    return self.check(request)
                finally:
                    self.last_request = time.monotonic()
        except protocol.BadMessage as problem:
            return {"status": "error", "message": f"malformed request: {problem}"}
        except Declined as reason:
            self.say(f"declined: {reason}")
            return {"status": "decline", "message": str(reason)}

    def status(self) -> dict[str, Any]:
        return {"status": "running", "pid": os.getpid(), "version": self.version, "socket": self.socket_path,
                "uptime_seconds": round(time.monotonic() - self.started, 1), "idle_seconds": self.idle_seconds,
                "checks": self.checks, "policies": self.policies.describe()}

    def check(self, request: dict[str, Any]) -> dict[str, Any]:
        argv = request.get("argv")
        if not isinstance(argv, list) or not all(isinstance(arg, str) for arg in argv):
            raise protocol.BadMessage("'argv' must be a list of text")
        if not argv or argv[0] not in SERVED:
            raise protocol.BadMessage("the resident process runs only 'check'")
        if "--help" in argv:
            raise Declined("help is drawn for the client's terminal")
        cwd = _text(request.get("cwd"), "cwd")
        prog_name = _text(request.get("prog_name"), "prog_name")
        env = request.get("env")
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise protocol.BadMessage("'env' must be an object of text values")
        stdin_data = request.get("stdin")
        try:
            data = b"" if stdin_data is None else base64.b64decode(_text(stdin_data, "stdin"), validate=True)
        except ValueError:
            raise protocol.BadMessage("'stdin' must be base64") from None
        stdout, stderr = _stream_of(request, "stdout"), _stream_of(request, "stderr")
        stdin = CapturedStream(data, tty=bool(request.get("stdin_tty")), encoding="utf-8", errors="strict")
        with _borrowed(cwd, env, stdin, stdout, stderr):
            code = self.run(argv, prog_name)
        self.checks += 1
        return {"status": "done", "exit": code, "stdout": base64.b64encode(stdout.captured()).decode("ascii"),
                "stderr": base64.b64encode(stderr.captured()).decode("ascii")}

    def run(self, argv: list[str], prog_name: str) -> int:
        """``claimrules.cli.main`` for this command line, with the held policy sets."""
        import typer

        from claimrules.cli import EXIT_INTERNAL, app
        from claimrules.errors import EvaluationError

        if self.command is None:
            self.command = typer.main.get_command(app)
        try:
            code = self.command.main(args=argv, prog_name=prog_name, standalone_mode=False, obj=self.policies.open)
        except _click_exception() as problem:  # typer draws these with rich for the client's terminal
            raise Declined(f"command line: {problem}") from None
        except typer.Abort:
            raise Declined("aborted") from None
        except EvaluationError as error:  # as claimrules.cli.main
            typer.echo(f"error: {error}", err=True)
            return EXIT_INTERNAL
        except Exception:  # a bug that escaped the command: the client runs it in-process and shows what it shows
            self.say(f"unexpected error, the client runs the command in-process:\n{traceback.format_exc()}")
            raise Declined("unexpected error (its traceback is in the resident process's log)") from None
        return code if isinstance(code, int) else 0


def _click_exception() -> type[Exception]:
    """click's ClickException, which typer raises for a bad command line (newer typer vendors its own click)."""
    import typer

    return next(kind for kind in typer.BadParameter.__mro__ if kind.__name__ == "ClickException")


@contextmanager
def _borrowed(cwd: str, env: dict[str, str], stdin: TextIO, stdout: TextIO, stderr: TextIO) -> Iterator[None]:
    """The client's folder, environment and standard streams for one command; the process's own after."""
    from claimrules.resident.client import FORWARDED_ENV

    saved_cwd = os.getcwd()
    names = {*FORWARDED_ENV, *env, *(name for name in os.environ if name.startswith("CLAIMRULES_"))}
    saved_env = {name: os.environ.get(name) for name in names}
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    try:
        os.chdir(cwd)
    except OSError as problem:
        raise Declined(f"cannot enter the client's folder: {problem.strerror}") from None
    try:
        for name in names:
            if name in env:
                os.environ[name] = env[name]
            else:
                os.environ.pop(name, None)
        sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
        yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        os.chdir(saved_cwd)


def _listen(socket_path: str) -> socket.socket:
    if os.path.lexists(socket_path):
        os.unlink(socket_path)  # a socket left by a process that is gone (we hold the lock)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(socket_path)
    finally:
        os.umask(old_umask)
    listener.listen(16)
    return listener


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="claimrules.resident.server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--lock", required=True)
    parser.add_argument("--idle-seconds", type=float, default=900.0)
    args = parser.parse_args(argv)
    stamp = code_stamp()  # before importing the code it describes: an edit after this makes it stale
    place.check_private(os.path.dirname(os.path.abspath(args.socket)))
    lock = os.open(args.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.stderr.write(f"pid {os.getpid()}: another resident process holds {args.lock}: exiting\n")
        sys.exit(1)
    resident = Resident(args.socket, args.idle_seconds, stamp)
    import claimrules.cli  # noqa: F401 - loaded now, not on the first request

    signal.signal(signal.SIGTERM, lambda *_: resident.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: resident.stopping.set())
    listener = _listen(args.socket)
    try:
        resident.serve(listener)
    finally:
        listener.close()
        os.unlink(args.socket)
        resident.say("stopped")


if __name__ == "__main__":
    main()
