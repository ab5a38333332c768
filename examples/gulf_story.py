"""The Gulf story, end to end, against the claim ledger (issue #17).

Dana's Certified Refurbished laptop was delivered on 2024-06-03; RT 1.2 gives her 14 days, to
2024-06-17. She asks to return it on day 18 (2024-06-21).

1. Asked on day 18 with nothing recorded: refused under RT 1.2.
2. A store manager (M-0412) records an extension granted on day 12 (2024-06-15) to 1 August: within
   the manager's 60 days (RT 3.2: until 2024-08-16), so it stands, and the customer gets it in writing.
3. The same request, decided again without anyone passing the extension: approved under RT 3.1.
4. On a second claim with the same facts an agent (A-17) records the same extension: an agent may move
   the window 7 days (RT 3.2), so it is capped at 2024-06-24, RT 3.2 cited; day 18 is inside it.
5. The history of each claim tells it all.

    python examples/gulf_story.py                       # in a fresh SQLite ledger (a temporary file)
    python examples/gulf_story.py --ledger story.sqlite
    python examples/gulf_story.py --http http://127.0.0.1:8000 [--api-key KEY]   # the same, over HTTP
    python examples/gulf_story.py --json                # the decision ids and outcomes as JSON
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
POLICY = HERE.parent / "policies" / "northwind"
DAY_18 = "2024-06-21"


def day_18_request() -> dict[str, Any]:
    facts: dict[str, Any] = json.loads((HERE / "claims" / "gulf-late-refurb-return.json").read_text())
    facts.pop("story")
    facts.pop("expected")
    facts["claim"]["reported_on"] = DAY_18
    return facts


class Library:
    """The story through the Python API."""

    def __init__(self, ledger: str) -> None:
        import claimrules
        from claimrules.ledger import Ledger, open_store

        self.ledger = Ledger(open_store(ledger), claimrules.load_policy(POLICY))

    def decide(self, claim_id: str, facts: dict[str, Any], actor: str) -> dict[str, Any]:
        entry = self.ledger.decide(claim_id, facts, actor=actor)
        return {"decision": entry.decision.model_dump(mode="json"), "record": entry.record.seq, "new": entry.new}

    def grant(self, claim_id: str, staff_id: str, role: str, granted_on: str, new_end: str) -> dict[str, Any]:
        from claimrules.render.confirmation import render_confirmation

        recorded = self.ledger.grant_extension(claim_id, grantor_id=staff_id, grantor_role=role,
                                               granted_on=date.fromisoformat(granted_on),
                                               new_end=date.fromisoformat(new_end), actor=staff_id)
        record = recorded.record
        return {"record": record.seq, "authority": record.data["authority"],
                "confirmation": render_confirmation(claim_id, record.seq, record.hash, record.at, record.data)}

    def history(self, claim_id: str) -> dict[str, Any]:
        from claimrules.ledger.history import history

        return history(claim_id, self.ledger.records(claim_id))

    def close(self) -> None:
        self.ledger.close()


class Http:
    """The same story through the HTTP service (``claimrules serve``), with the standard library only."""

    def __init__(self, base: str, api_key: str | None) -> None:
        self.base, self.api_key = base.rstrip("/"), api_key

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"content-type": "application/json"}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            answer: dict[str, Any] = json.load(response)
            return answer

    def decide(self, claim_id: str, facts: dict[str, Any], actor: str) -> dict[str, Any]:
        return self._call("POST", "/decide", {"claim_id": claim_id, "facts": facts, "actor": actor})

    def grant(self, claim_id: str, staff_id: str, role: str, granted_on: str, new_end: str) -> dict[str, Any]:
        return self._call("POST", f"/claims/{claim_id}/grant",
                          {"staff_id": staff_id, "role": role, "granted_on": granted_on, "new_end": new_end})

    def history(self, claim_id: str) -> dict[str, Any]:
        return self._call("GET", f"/claims/{claim_id}/history")

    def close(self) -> None:
        pass


def tell(decision: dict[str, Any]) -> str:
    grounds = ", ".join(ground["clause"] for ground in decision["grounds"])
    return f"{decision['outcome'].upper()} under {decision['deciding']['clause']} (grounds {grounds}) - {decision['decision_id']}"


def run(teller: Library | Http, say: Any) -> dict[str, Any]:
    facts = day_18_request()
    steps: dict[str, Any] = {}
    refused = teller.decide("GULF-MANAGER", facts, actor="agent-A-03")
    say(f"1. day 18, nothing recorded: {tell(refused['decision'])}")
    grant = teller.grant("GULF-MANAGER", "M-0412", "manager", "2024-06-15", "2024-08-01")
    say(f"2. manager M-0412's extension to 1 August (granted on day 12): {grant['authority']['status']} "
        f"({grant['authority']['clause']})")
    say("   confirmation to the customer:\n" + "\n".join("   | " + line for line in grant["confirmation"].splitlines()))
    approved = teller.decide("GULF-MANAGER", facts, actor="agent-A-09")
    say(f"3. the same request again, extension not passed: {tell(approved['decision'])}")
    teller.decide("GULF-AGENT", facts, actor="agent-A-03")
    capped = teller.grant("GULF-AGENT", "A-17", "agent", "2024-06-15", "2024-08-01")
    say(f"4. agent A-17's extension to 1 August: {capped['authority']['status']} at "
        f"{capped['authority']['effective_end']} ({capped['authority']['clause']})")
    with_capped = teller.decide("GULF-AGENT", facts, actor="agent-A-09")
    say(f"   the day-18 request under the capped extension: {tell(with_capped['decision'])}")
    for claim_id in ("GULF-MANAGER", "GULF-AGENT"):
        story = teller.history(claim_id)
        say(f"5. history of {claim_id}:")
        for event in story["events"]:
            say(f"   #{event['seq']} {event['actor']}: {event['summary']}")
    steps.update(
        refused={"decision_id": refused["decision"]["decision_id"], "outcome": refused["decision"]["outcome"],
                 "deciding": refused["decision"]["deciding"]["clause"]},
        manager_grant=grant["authority"],
        approved={"decision_id": approved["decision"]["decision_id"], "outcome": approved["decision"]["outcome"],
                  "deciding": approved["decision"]["deciding"]["clause"],
                  "grounds": [g["clause"] for g in approved["decision"]["grounds"]]},
        agent_grant=capped["authority"],
        with_capped={"decision_id": with_capped["decision"]["decision_id"], "outcome": with_capped["decision"]["outcome"],
                     "deciding": with_capped["decision"]["deciding"]["clause"]},
        history={claim_id: [event["kind"] for event in teller.history(claim_id)["events"]]
                 for claim_id in ("GULF-MANAGER", "GULF-AGENT")},
    )
    return steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ledger", help="SQLite file or postgresql:// URL (default: a fresh temporary file)")
    parser.add_argument("--http", help="Base URL of a running 'claimrules serve'")
    parser.add_argument("--api-key")
    parser.add_argument("--json", action="store_true", help="Print the steps' results as JSON only")
    options = parser.parse_args(argv)
    say = (lambda _: None) if options.json else print
    with tempfile.TemporaryDirectory() as scratch:
        teller: Library | Http = (Http(options.http, options.api_key) if options.http
                                  else Library(options.ledger or str(Path(scratch) / "gulf.sqlite")))
        try:
            steps = run(teller, say)
        finally:
            teller.close()
    if options.json:
        print(json.dumps(steps, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
