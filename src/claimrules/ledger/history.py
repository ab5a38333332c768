"""A claim's whole story from the ledger, in the order it happened: facts as they arrived, decisions,
recorded exceptions and what each change changed. One screen of text for the next agent, or JSON."""

from __future__ import annotations

from typing import Any

from claimrules.ledger.chain import Record


def _facts_summary(facts: dict[str, Any]) -> str:
    claim, product = facts.get("claim", {}), facts.get("product", {})
    delivery = facts.get("delivery", {})
    received = delivery.get("delivered_on") or delivery.get("picked_up_on") or delivery.get("invoice_date")
    words = [f"{claim.get('type', '?')} of a {product.get('condition', '?')} {product.get('category', 'product')}",
             f"reported {claim.get('reported_on', '?')}", f"received {received}"]
    if claim.get("requested_service") not in (None, "any"):
        words.append(f"asks for {claim['requested_service']}")
    return ", ".join(words)


def event(record: Record) -> dict[str, Any]:
    """One record as an event of the story (JSON-ready)."""
    body = record.data
    base: dict[str, Any] = {"seq": record.seq, "at": record.at, "actor": record.actor, "kind": record.kind}
    if record.kind == "facts":
        changes = body.get("changes") or []
        if changes:
            shown = "; ".join(f"{c['fact']}: {c['before'] if c['before'] is not None else '-'} -> "
                              f"{c['after'] if c['after'] is not None else '-'}" for c in changes[:6])
            more = f" (+{len(changes) - 6} more)" if len(changes) > 6 else ""
            base["summary"] = f"facts changed: {shown}{more}"
        else:
            base["summary"] = f"facts received: {_facts_summary(body['facts'])}"
        base["changes"] = changes
        base["facts_hash"] = body["facts_hash"]
    elif record.kind == "decision":
        decision = body["decision"]
        grounds = [ground["clause"] for ground in decision["grounds"]]
        summary = (f"decision {body['decision_id']}: {decision['outcome'].upper()} under "
                   f"{decision['deciding']['clause']} (grounds {', '.join(grounds)})")
        amounts = [f"{a['kind']} {a['money']['currency']} {a['money']['amount']}" for a in decision.get("amounts", [])]
        if amounts:
            summary += "; " + ", ".join(amounts)
        if body["exceptions"]:
            summary += "; using recorded exception(s) " + ", ".join(f"#{seq}" for seq in body["exceptions"])
        base["summary"] = summary
        base.update(decision_id=body["decision_id"], outcome=decision["outcome"],
                    deciding_clause=decision["deciding"]["clause"], grounds=grounds, policy=body["policy"],
                    exceptions=body["exceptions"], changes=body.get("changes") or {})
        changed = _decision_change_words(body.get("changes") or {})
        if changed:
            base["change_summary"] = changed
    elif record.kind == "exception":
        item, authority = body["item"], body["authority"]
        status = authority["status"]
        verdict = {"granted": f"granted to {authority['effective_end']}",
                   "capped": f"CAPPED at {authority['effective_end']}",
                   "refused": "REFUSED"}[status]
        base["summary"] = (f"{body['exception']} by {item['grantor_id']} ({item['grantor_role']}), granted "
                           f"{item['granted_on']}, asked to {item['new_end']}: {verdict} ({authority['clause']})")
        base.update(exception=body["exception"], item=item, authority=authority)
    return base


def _decision_change_words(changes: dict[str, Any]) -> str:
    words: list[str] = []
    if "outcome" in changes:
        words.append(f"outcome {changes['outcome']['before']} -> {changes['outcome']['after']}")
    if "grounds" in changes:
        grounds = changes["grounds"]
        words.append("grounds " + " ".join([f"+{c}" for c in grounds["added"]] + [f"-{c}" for c in grounds["removed"]]))
    for kind, change in sorted((changes.get("amounts") or {}).items()):
        words.append(f"{kind} {change['before'] or '-'} -> {change['after'] or '-'}")
    if changes.get("facts"):
        words.append(f"{len(changes['facts'])} fact(s) changed")
    if changes.get("exceptions_added"):
        words.append("new exception(s) " + ", ".join(f"#{seq}" for seq in changes["exceptions_added"]))
    if changes.get("policy"):
        words.append("policy changed")
    return "; ".join(words)


def history(claim_id: str, records: list[Record]) -> dict[str, Any]:
    events = [event(record) for record in records]
    decisions = [e for e in events if e["kind"] == "decision"]
    in_force = [e for e in events if e["kind"] == "exception" and e["authority"]["status"] != "refused"]
    current = None
    if decisions:
        last = decisions[-1]
        current = {key: last[key] for key in ("decision_id", "outcome", "deciding_clause", "grounds")}
    return {"claim_id": claim_id, "events": events, "current": current,
            "exceptions_in_force": [e["seq"] for e in in_force]}


def history_text(story: dict[str, Any], *, last: int | None = None) -> str:
    """The story as text; with ``last``, only the last events (and a line saying how many came before)."""
    lines = [f"Claim {story['claim_id']}: {len(story['events'])} record(s)"]
    current = story["current"]
    if current:
        lines.append(f"Now: {current['outcome'].upper()} under {current['deciding_clause']} "
                     f"(decision {current['decision_id']})")
    if story["exceptions_in_force"]:
        lines.append("Exceptions in force: " + ", ".join(f"#{seq}" for seq in story["exceptions_in_force"]))
    lines.append("")
    events = story["events"]
    if last is not None and len(events) > last:
        lines.append(f"({len(events) - last} earlier record(s) not shown: --all shows them)")
        events = events[-last:]
    for item in events:
        lines.append(f"#{item['seq']:<4} {item['at'][:19].replace('T', ' ')}  {item['actor']:<12} {item['summary']}")
        if item.get("change_summary"):
            lines.append(f"      {'':19}  {'':12} changed: {item['change_summary']}")
    return "\n".join(lines) + "\n"
