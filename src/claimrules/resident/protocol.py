"""One message each way on a Unix socket: an 8-byte length, then a JSON object (UTF-8).

Requests have a ``kind``: ``check`` (run the check command as the client would have), ``status`` or
``stop``. Answers have a ``status``: ``done`` (exit code, standard output and error, base64),
``decline`` (run it in-process: e.g. a usage error, which typer draws for the client's terminal),
``stale`` (the process runs other code than the client: it exits), ``error`` (a malformed request),
``running`` and ``stopping``. Standard library only: the thin client imports this.
"""

from __future__ import annotations

import json
import socket
import struct

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: the thin client imports this
if TYPE_CHECKING:
    from typing import Any

PROTOCOL = 1
MAX_MESSAGE = 100_000_000  # a check reads at most 64 MB of standard input, base64 adds a third
_LENGTH = struct.Struct(">Q")


class BadMessage(Exception):
    """The other side sent something that is not a message of this protocol."""


def send(connection: socket.socket, message: dict[str, Any]) -> None:
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    connection.sendall(_LENGTH.pack(len(body)) + body)


def _exactly(connection: socket.socket, size: int) -> bytes:
    parts: list[bytes] = []
    while size:
        part = connection.recv(min(size, 1 << 20))
        if not part:
            raise BadMessage("the connection closed before the whole message arrived")
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def receive(connection: socket.socket) -> dict[str, Any]:
    """One message; BadMessage if it is cut short, too long, not JSON or not an object."""
    (size,) = _LENGTH.unpack(_exactly(connection, _LENGTH.size))
    if size > MAX_MESSAGE:
        raise BadMessage(f"a message of {size} bytes (at most {MAX_MESSAGE})")
    try:
        message = json.loads(_exactly(connection, size).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as problem:
        raise BadMessage(f"not a JSON message: {problem}") from None
    if not isinstance(message, dict):
        raise BadMessage("the message is not a JSON object")
    return message


def peer_uid(connection: socket.socket) -> int | None:
    """The user id of the process at the other end (Linux), or None where the system does not say."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    _pid, uid, _gid = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i")))
    return int(uid)
