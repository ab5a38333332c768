"""The system of record: an append-only, hash-chained ledger of decisions and recorded exceptions.

    >>> from claimrules.ledger import Ledger, open_store
    >>> ledger = Ledger(open_store("claims.sqlite"), claimrules.load_policy("path/to/policy-set"))
    >>> entry = ledger.decide("C-1", facts, actor="agent-7")
"""

from __future__ import annotations

from claimrules.ledger.authority import Authority
from claimrules.ledger.chain import Problem, Record, Verification, verify
from claimrules.ledger.ledger import Entry, Ledger, RecordedException
from claimrules.ledger.store import LedgerError, Store, open_store

__all__ = ["Authority", "Entry", "Ledger", "LedgerError", "Problem", "Record", "RecordedException", "Store",
           "Verification", "open_store", "verify"]
