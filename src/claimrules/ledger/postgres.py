"""The PostgreSQL backend (psycopg 3): the same tables; writers serialised by an advisory lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from claimrules.ledger.store import Clock, LedgerError, SqlStore, utc_now

LOCK_KEY = 0x636C61696D  # "claim": the ledger's transaction-scoped advisory lock

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS records (
        seq BIGINT PRIMARY KEY, claim_id TEXT NOT NULL, kind TEXT NOT NULL, at TEXT NOT NULL,
        actor TEXT NOT NULL, body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL UNIQUE)""",
    "CREATE INDEX IF NOT EXISTS records_by_claim ON records (claim_id, seq)",
    "CREATE TABLE IF NOT EXISTS head (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, hash TEXT NOT NULL)",
    """CREATE OR REPLACE FUNCTION claimrules_append_only() RETURNS trigger LANGUAGE plpgsql AS
       $$ BEGIN RAISE EXCEPTION 'the ledger is append-only'; END $$""",
    """DO $$ BEGIN
         IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'records_append_only') THEN
           CREATE TRIGGER records_append_only BEFORE UPDATE OR DELETE ON records
             FOR EACH ROW EXECUTE FUNCTION claimrules_append_only();
         END IF;
       END $$""",
]


class PostgresStore(SqlStore):
    placeholder = "%s"

    def __init__(self, dsn: str, clock: Clock = utc_now) -> None:
        super().__init__(clock)
        import psycopg

        self.location = dsn
        self._psycopg = psycopg
        try:
            self._db = psycopg.connect(dsn, autocommit=True)
            with self._db.transaction():
                self._db.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                for statement in SCHEMA:
                    self._db.execute(statement)
        except psycopg.Error as problem:
            raise LedgerError(f"cannot open the ledger: {str(problem).strip()}", file=_redacted(dsn)) from None

    def _execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cursor = self._db.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description is not None else []

    def _begin(self) -> None:
        self._db.execute("BEGIN")
        self._db.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))

    def _commit(self) -> None:
        self._db.execute("COMMIT")

    def _rollback(self) -> None:
        self._db.execute("ROLLBACK")

    @contextmanager
    def _read(self) -> Iterator[None]:
        self._db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


def _redacted(dsn: str) -> str:
    """The DSN without its password, for error messages."""
    if "://" in dsn and "@" in dsn:
        scheme, rest = dsn.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"
    return " ".join(part for part in dsn.split() if not part.startswith("password="))
