"""``claimrules resident start|stop|status``: the resident process seen from the command line.

``start`` cleans up a socket left by a process that is gone, launches the server detached (its own
session, output appended to a log file beside the socket) and waits until it answers. ``stop`` asks
it to exit and waits until it has. ``status`` asks it what it holds.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from claimrules.resident import place
from claimrules.resident.client import ask

START_SECONDS = 60.0  # for the new process to import claimrules and answer
STOP_SECONDS = 15.0
STATUS_SECONDS = 5.0


class ResidentError(Exception):
    """The resident process cannot be started or reached (the message says why)."""


@dataclass(frozen=True)
class Started:
    pid: int
    socket: str
    log: str
    already: bool


def status() -> dict[str, Any] | None:
    """What the running process says about itself, or None if none answers."""
    answer = ask({"kind": "status"}, timeout=STATUS_SECONDS)
    return answer if answer is not None and answer.get("status") == "running" else None


def _folder() -> str:
    try:
        return place.private_folder(create=True)
    except place.PlaceError as problem:
        raise ResidentError(str(problem)) from None


def _log_tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            return "".join(stream.readlines()[-lines:])
    except OSError as problem:
        return f"(cannot read the log: {problem.strerror})"


def start(idle_seconds: float) -> Started:
    folder = _folder()
    try:
        socket_path, log_path, lock_path = place.socket_path(folder), place.log_path(folder), place.lock_path(folder)
    except place.PlaceError as problem:
        raise ResidentError(str(problem)) from None
    running = status()
    if running is not None:
        return Started(int(running["pid"]), socket_path, log_path, already=True)
    # A socket nobody answers on is left by a process that is gone; the new one removes it once it
    # holds the lock (so it never removes the socket of a process still starting).
    command = [sys.executable, "-P", "-m", "claimrules.resident.server", "--socket", socket_path, "--lock", lock_path,
               "--idle-seconds", repr(idle_seconds)]
    descriptor = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=descriptor, stderr=descriptor,
                                   cwd="/", start_new_session=True)
    except OSError as problem:
        raise ResidentError(f"cannot run {sys.executable}: {problem.strerror}") from None
    finally:
        os.close(descriptor)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            running = status()  # another start may have won the lock at the same moment
            if running is not None:
                return Started(int(running["pid"]), socket_path, log_path, already=True)
            raise ResidentError(f"the resident process exited at once (code {process.returncode}); "
                                f"the end of {log_path}:\n{_log_tail(log_path)}")
        running = status()
        if running is not None:
            return Started(int(running["pid"]), socket_path, log_path, already=int(running["pid"]) != process.pid)
        time.sleep(0.05)
    process.kill()
    raise ResidentError(f"the resident process did not answer within {START_SECONDS:g} s; see {log_path}")


def stop() -> int | None:
    """Ask the running process to exit and wait until it has; its pid, or None if none ran."""
    answer = ask({"kind": "stop"}, timeout=STATUS_SECONDS)
    pid = answer.get("pid") if answer is not None and answer.get("status") == "stopping" else None
    if not isinstance(pid, int):
        return None
    lock_path = place.lock_path(place.folder())
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline:
        if not _locked(lock_path):
            return pid
        time.sleep(0.05)
    raise ResidentError(f"the resident process (pid {pid}) did not exit within {STOP_SECONDS:g} s: kill {pid}")


def _locked(lock_path: str) -> bool:
    """Whether a resident process holds the lock (it does until its last moment, zombie or not)."""
    try:
        descriptor = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)  # closing releases a lock just taken
    return False
