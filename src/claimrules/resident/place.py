"""Where the resident process listens: a Unix socket in a folder only this user can open.

The folder is ``$CLAIMRULES_RESIDENT_DIR`` if set, else ``$XDG_RUNTIME_DIR/claimrules``, else
``/tmp/claimrules-<uid>``. It is created with mode 0700; one that is not a real folder (a link), is
owned by another user or can be read or entered by the group or others is refused, so no other user
can answer in claimrules' name or read the claims sent to it.

Each installation (package folder and Python environment) has its own socket in that folder, so two
checkouts never answer for each other. Standard library only: the thin client imports this.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys

ENV_DIR = "CLAIMRULES_RESIDENT_DIR"
ENV_SWITCH = "CLAIMRULES_RESIDENT"
OFF_VALUES = frozenset({"off", "0", "no", "false"})
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_SOCKET_PATH = 107  # sun_path holds 108 bytes with the terminating NUL (Linux)


class PlaceError(Exception):
    """The socket folder cannot be used safely (the message says why and what to do)."""


def switched_off() -> bool:
    """``CLAIMRULES_RESIDENT=off`` (or 0, no, false): ``check`` never asks the resident process."""
    return os.environ.get(ENV_SWITCH, "").strip().lower() in OFF_VALUES


def folder() -> str:
    """The socket folder's path (not checked: see ``private_folder``)."""
    given = os.environ.get(ENV_DIR)
    if given:
        return os.path.abspath(given)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        return os.path.join(runtime, "claimrules")
    return os.path.join("/tmp", f"claimrules-{os.getuid()}")


def check_private(path: str) -> None:
    """Raise PlaceError unless ``path`` is a folder (not a link) of this user that nobody else can use."""
    try:
        info = os.lstat(path)
    except OSError as problem:
        raise PlaceError(f"{path}: {problem.strerror}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise PlaceError(f"{path} is not a folder (a link or a file): remove it, or set {ENV_DIR} to a private folder")
    if info.st_uid != os.getuid():
        raise PlaceError(f"{path} belongs to user id {info.st_uid}, not to you ({os.getuid()}): "
                         f"set {ENV_DIR} to a folder of your own")
    if info.st_mode & 0o077:
        raise PlaceError(f"{path} can be used by others (mode {stat.S_IMODE(info.st_mode):04o}): "
                         f"run chmod 700 {path}, or set {ENV_DIR} to a private folder")


def private_folder(*, create: bool) -> str:
    """The checked socket folder; created (mode 0700) when ``create`` and it does not exist."""
    path = folder()
    if create and not os.path.lexists(path):
        try:  # exist_ok: another start may make it at the same moment; it is checked below either way
            os.makedirs(path, mode=0o700, exist_ok=True)
        except OSError as problem:
            raise PlaceError(f"cannot create {path}: {problem.strerror}") from None
    check_private(path)
    return path


def installation_key() -> str:
    """A short name for this installation: its package folder and its Python environment."""
    identity = f"{os.path.realpath(PACKAGE_DIR)}\0{os.path.realpath(sys.prefix)}"
    return hashlib.sha256(identity.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def socket_path(base: str) -> str:
    path = os.path.join(base, f"r-{installation_key()}.sock")
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise PlaceError(f"the socket path {path} is longer than {MAX_SOCKET_PATH} bytes: set {ENV_DIR} to a shorter folder")
    return path


def log_path(base: str) -> str:
    return os.path.join(base, f"r-{installation_key()}.log")


def lock_path(base: str) -> str:
    return os.path.join(base, f"r-{installation_key()}.lock")
