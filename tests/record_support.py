"""Helpers for the system-of-record tests (issue #17): ledgers on SQLite and on a real PostgreSQL.

PostgreSQL tests read the server's URL from ``CLAIMRULES_TEST_POSTGRES`` (``.ci/run`` starts one with
``.ci/postgres-start`` and exports it); they are skipped only when it is not set. Each test gets a
database of its own.
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from claimrules.ledger.store import is_postgres

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "northwind"
POSTGRES_ENV = "CLAIMRULES_TEST_POSTGRES"
BACKENDS = ["sqlite", "postgres"]


def gulf_return(reported_on: str = "2024-06-21") -> dict[str, Any]:
    """Dana's refurbished-laptop return (examples/claims/gulf-late-refurb-return.json), asked on ``reported_on``."""
    raw = json.loads((ROOT / "examples/claims/gulf-late-refurb-return.json").read_text())
    raw.pop("story")
    raw.pop("expected")
    raw = copy.deepcopy(raw)
    raw["claim"]["reported_on"] = reported_on
    return raw


@contextmanager
def postgres_database() -> Iterator[str]:
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        if os.environ.get("CLAIMRULES_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{POSTGRES_ENV} is not set but CLAIMRULES_REQUIRE_POSTGRES=1")
        pytest.skip(f"{POSTGRES_ENV} is not set (no PostgreSQL to test against; .ci/run starts one)")
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = f"ledger_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    params = conninfo_to_dict(server)
    params["dbname"] = name
    try:
        yield make_conninfo(**params)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def ledger_location(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield str(folder / "ledger.sqlite")
    else:
        with postgres_database() as dsn:
            yield dsn


def tamper(location: str, statements: list[str]) -> None:
    """Change the ledger behind its back, as someone with database access could: the append-only
    trigger is dropped first."""
    if is_postgres(location):
        import psycopg

        with psycopg.connect(location, autocommit=True) as db:
            db.execute("DROP TRIGGER IF EXISTS records_append_only ON records")
            for statement in statements:
                db.execute(statement)
        return
    import sqlite3

    db = sqlite3.connect(location, isolation_level=None)
    db.execute("DROP TRIGGER IF EXISTS records_no_update")
    db.execute("DROP TRIGGER IF EXISTS records_no_delete")
    for statement in statements:
        db.execute(statement)
    db.close()
