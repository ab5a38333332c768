"""What changed between two versions of a claim's facts, and between two decisions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claimrules.ledger.chain import canonical


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Every leaf of a JSON value by its path (``product.price.amount``, ``extensions[0].new_end``)."""
    found: dict[str, str] = {}
    if isinstance(value, Mapping):
        for key in sorted(value):
            found.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found.update(flatten(item, f"{prefix}[{index}]"))
        if not value:
            found[prefix] = "[]"
    elif value is not None:
        found[prefix] = value if isinstance(value, str) else canonical(value)
    return found


def facts_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[dict[str, str | None]]:
    """The facts that were added, changed or removed, in path order."""
    old, new = flatten(before or {}), flatten(after)
    changes: list[dict[str, str | None]] = []
    for path in sorted(set(old) | set(new)):
        if old.get(path) != new.get(path):
            changes.append({"fact": path, "before": old.get(path), "after": new.get(path)})
    return changes


def decision_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, Any]:
    """Outcome, deciding clause, grounds, remedy and amounts before and after (only what changed)."""
    if before is None:
        return {}
    changes: dict[str, Any] = {}
    for key in ("outcome", "remedy"):
        if before.get(key) != after.get(key):
            changes[key] = {"before": before.get(key), "after": after.get(key)}
    if before["deciding"]["clause"] != after["deciding"]["clause"]:
        changes["deciding_clause"] = {"before": before["deciding"]["clause"], "after": after["deciding"]["clause"]}
    old_grounds = [ground["clause"] for ground in before.get("grounds", [])]
    new_grounds = [ground["clause"] for ground in after.get("grounds", [])]
    added = [clause for clause in new_grounds if clause not in old_grounds]
    removed = [clause for clause in old_grounds if clause not in new_grounds]
    if added or removed:
        changes["grounds"] = {"added": added, "removed": removed}
    old_amounts = _amounts(before)
    new_amounts = _amounts(after)
    if old_amounts != new_amounts:
        changes["amounts"] = {kind: {"before": old_amounts.get(kind), "after": new_amounts.get(kind)}
                              for kind in sorted(set(old_amounts) | set(new_amounts))
                              if old_amounts.get(kind) != new_amounts.get(kind)}
    return changes


def _amounts(decision: Mapping[str, Any]) -> dict[str, str]:
    shown: dict[str, str] = {}
    for amount in decision.get("amounts", []):
        money = amount["money"]
        shown[amount["kind"]] = f"{money['currency']} {money['amount']}" if isinstance(money, Mapping) else str(money)
    return shown
