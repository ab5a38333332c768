"""The storage interface of the ledger, and the SQL both backends share.

A store keeps records in one append-only table and the chain's head in another. Appending happens in
a transaction that holds the ledger's write lock (SQLite ``BEGIN IMMEDIATE``, a PostgreSQL
transaction-scoped advisory lock), so concurrent writers, in threads or processes, are serialised:
each reads the claim's records and the chain's head, decides what to add, and appends, with nobody
in between. A transaction that dies before it commits leaves nothing behind.
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from claimrules.errors import ClaimrulesError
from claimrules.ledger.chain import GENESIS, Record, seal

Clock = Callable[[], datetime]


class LedgerError(ClaimrulesError):
    """The ledger cannot be opened, read or written, or a request to it names something it does not hold."""

    family = "ledger"


class UnknownClaim(LedgerError):
    """The ledger holds no record of the claim asked about."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Transaction(Protocol):
    def records(self, claim_id: str) -> list[Record]: ...

    def append(self, claim_id: str, kind: str, actor: str, body: dict[str, Any]) -> Record: ...


class Store(Protocol):
    """What the ledger needs from a database."""

    location: str

    def transaction(self) -> AbstractContextManager[Transaction]: ...

    def records(self, claim_id: str | None = None) -> list[Record]: ...

    def head(self) -> tuple[int, str] | None: ...

    def close(self) -> None: ...


COLUMNS = "seq, claim_id, kind, at, actor, body, prev_hash, hash"


class SqlStore(ABC):
    """The SQL both backends share; subclasses supply the connection, the lock and the placeholder."""

    location: str
    placeholder = "?"

    def __init__(self, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._lock = threading.RLock()

    # -- backend hooks -------------------------------------------------------------------------
    @abstractmethod
    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Given by each backend (sqlite, postgres)."""

    @abstractmethod
    def _begin(self) -> None:
        """Given by each backend (sqlite, postgres)."""

    @abstractmethod
    def _commit(self) -> None:
        """Given by each backend (sqlite, postgres)."""

    @abstractmethod
    def _rollback(self) -> None:
        """Given by each backend (sqlite, postgres)."""

    @abstractmethod
    def _read(self) -> Any:  # a context for a consistent read
        """Given by each backend (sqlite, postgres)."""

    @abstractmethod
    def close(self) -> None:
        """Given by each backend (sqlite, postgres)."""

    # -- shared ------------------------------------------------------------------------------
    def _sql(self, text: str) -> str:
        return text.replace("?", self.placeholder)

    def _rows_to_records(self, rows: list[tuple[Any, ...]]) -> list[Record]:
        return [Record(int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), str(row[5]),
                       str(row[6]), str(row[7])) for row in rows]

    def _claim_records(self, claim_id: str) -> list[Record]:
        rows = self._execute(self._sql(f"SELECT {COLUMNS} FROM records WHERE claim_id = ? ORDER BY seq"), (claim_id,))
        return self._rows_to_records(rows)

    def _head(self) -> tuple[int, str] | None:
        rows = self._execute("SELECT seq, hash FROM head WHERE id = 1")
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def _append(self, claim_id: str, kind: str, actor: str, body: dict[str, Any]) -> Record:
        head = self._head()
        seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
        at = self._clock().astimezone(UTC).isoformat(timespec="microseconds")
        record = seal(seq, prev, claim_id, kind, at, actor, body)
        self._execute(self._sql(f"INSERT INTO records ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
                      (record.seq, record.claim_id, record.kind, record.at, record.actor, record.body,
                       record.prev_hash, record.hash))
        if head is None:
            self._execute(self._sql("INSERT INTO head (id, seq, hash) VALUES (1, ?, ?)"), (record.seq, record.hash))
        else:
            self._execute(self._sql("UPDATE head SET seq = ?, hash = ? WHERE id = 1"), (record.seq, record.hash))
        return record

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._lock:
            self._begin()
            try:
                yield _Tx(self)
            except BaseException:
                self._rollback()
                raise
            self._commit()

    def records(self, claim_id: str | None = None) -> list[Record]:
        with self._lock, self._read():
            if claim_id is not None:
                return self._claim_records(claim_id)
            return self._rows_to_records(self._execute(f"SELECT {COLUMNS} FROM records ORDER BY seq"))

    def head(self) -> tuple[int, str] | None:
        with self._lock, self._read():
            return self._head()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class _Tx:
    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def records(self, claim_id: str) -> list[Record]:
        return self._store._claim_records(claim_id)

    def append(self, claim_id: str, kind: str, actor: str, body: dict[str, Any]) -> Record:
        return self._store._append(claim_id, kind, actor, body)


def is_postgres(location: str) -> bool:
    """A PostgreSQL URL or ``key=value`` connection string (anything else is a SQLite file path)."""
    return location.startswith(("postgresql://", "postgres://")) or re.match(r"^[a-z_]+=", location) is not None


def open_store(location: str, clock: Clock = utc_now) -> SqlStore:
    """A SQLite file path, or a PostgreSQL URL (``postgresql://...``)."""
    if is_postgres(location):
        from claimrules.ledger.postgres import PostgresStore

        return PostgresStore(location, clock)
    from claimrules.ledger.sqlite import SqliteStore

    return SqliteStore(location, clock)
