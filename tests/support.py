"""Helpers for tests that need a small policy set of their own."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import yaml

NORTHWIND = Path(__file__).resolve().parents[1] / "policies" / "northwind"

BASE_CLAIM: dict[str, Any] = {
    "claim": {"type": "repair", "reported_on": "2025-03-20"},
    "product": {"condition": "new", "price": "USD 500.00", "serial_number": "NW-1"},
    "delivery": {"delivered_on": "2025-03-01", "invoice_date": "2025-02-27"},
    "purchase": {"seller": "northwind_store", "channel": "online", "buyer": "consumer", "country": "US",
                 "delivery_country": "US"},
    "location": {"country": "US", "subdivision": "US-OH"},
}


def claim(**overrides: Any) -> dict[str, Any]:
    """BASE_CLAIM with sections replaced or merged: claim(product={'condition': 'refurbished'})."""
    result = {key: dict(value) for key, value in BASE_CLAIM.items()}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key].update(value)
        else:
            result[key] = value
    return result


def write_policy(folder: Path, documents: list[dict[str, Any]], **set_fields: Any) -> Path:
    """A policy set folder with one document file; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = [document["id"] for document in documents]
    first_clause = documents[0]["clauses"][0]["id"]
    manifest = {
        "policy_set": {
            "id": "test",
            "title": "Test policies",
            "documents": ["documents.yaml"],
            "parties": {"maker": {"name": "Maker Inc."}, "store": {"name": "Store"}},
            "precedence": {"rule": "most_favourable", "clause": first_clause, "tie_order": ids},
            "otherwise": {"clause": first_clause},
            "needs_information": {"clause": first_clause},
            **set_fields,
        }
    }
    (folder / "policy-set.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    (folder / "documents.yaml").write_text(yaml.safe_dump({"documents": documents}, sort_keys=False), encoding="utf-8")
    shutil.copyfile(NORTHWIND / "facts.yaml", folder / "facts.yaml")  # the claims of these tests are Northwind's
    return folder


def document(doc_id: str, clauses: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    base = {"id": doc_id, "title": f"Document {doc_id}", "issuer": "Maker Inc.", "responsible": "maker",
            "version": "1", "clauses": clauses}
    base.update(fields)
    return base


def clause(clause_id: str, effect: str, when: Any = None, **fields: Any) -> dict[str, Any]:
    body = {"id": clause_id, "title": f"Clause {clause_id}", "text": f"Text of {clause_id}.", "effect": effect}
    if when is not None:
        body["when"] = when
    body.update(fields)
    return body


def claims_mix(count: int, seed: int) -> list[dict[str, Any]]:
    """The benchmark's generated claims (bench/claims_mix.py), for tests that need many distinct ones."""
    spec = importlib.util.spec_from_file_location("claims_mix", Path(__file__).resolve().parents[1] / "bench" / "claims_mix.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.claims_mix(count, seed)  # type: ignore[no-any-return]
