"""Decide each past claim again and compare with what the person decided.

Identical facts are decided once (same facts, same policy, same decision date: same decision). With
``workers`` > 1 the distinct claims are decided in that many processes.
"""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from claimrules.api import CompiledPolicy, load_policy
from claimrules.audit.history import HistoryRecord
from claimrules.errors import ClaimError
from claimrules.facts import parse_claim

Verdict = tuple[str, str, tuple[str, ...]]   # outcome, deciding clause, grounds


@dataclass
class AuditReport:
    records: int = 0
    agreed: int = 0
    distinct_facts: int = 0
    invalid: list[dict[str, Any]] = field(default_factory=list)
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    by_clause: dict[str, int] = field(default_factory=dict)
    by_outcome: dict[str, int] = field(default_factory=dict)
    by_agent: dict[str, dict[str, int]] = field(default_factory=dict)
    by_team: dict[str, dict[str, int]] = field(default_factory=dict)
    unsupported_reasons: list[dict[str, Any]] = field(default_factory=list)
    identical_facts_different_outcomes: list[dict[str, Any]] = field(default_factory=list)
    wrongly_refused: list[dict[str, Any]] = field(default_factory=list)
    wrongly_approved: list[dict[str, Any]] = field(default_factory=list)
    policy: str = ""

    @property
    def agreement_rate(self) -> float:
        decided = self.records - len(self.invalid)
        return self.agreed / decided if decided else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy, "records": self.records, "agreed": self.agreed,
            "agreement_rate": round(self.agreement_rate, 6), "distinct_facts": self.distinct_facts,
            "invalid": self.invalid, "disagreements": self.disagreements,
            "disagreements_by_clause": self.by_clause, "disagreements_by_outcome": self.by_outcome,
            "by_agent": self.by_agent, "by_team": self.by_team,
            "unsupported_reasons": self.unsupported_reasons,
            "identical_facts_different_outcomes": self.identical_facts_different_outcomes,
            "wrongly_refused": self.wrongly_refused, "wrongly_approved": self.wrongly_approved,
        }


def _key(record: HistoryRecord) -> str:
    return json.dumps([record.facts, record.on.isoformat() if record.on else None], sort_keys=True,
                      separators=(",", ":"))


def _decide_one(policy: CompiledPolicy, key: str) -> Verdict | str:
    facts, on = json.loads(key)
    try:
        decision = policy.adjudicate(parse_claim(facts), date.fromisoformat(on) if on else None)
    except ClaimError as error:
        return str(error)
    return decision.outcome, decision.deciding.clause, tuple(ground.clause for ground in decision.grounds)


_WORKER_POLICY: CompiledPolicy | None = None


def _worker_start(policy_dir: str) -> None:
    global _WORKER_POLICY  # one compiled policy per worker process
    _WORKER_POLICY = load_policy(policy_dir)


def _worker_decide(keys: list[str]) -> list[Verdict | str]:
    assert _WORKER_POLICY is not None
    return [_decide_one(_WORKER_POLICY, key) for key in keys]


def _decide_all(policy: CompiledPolicy, keys: list[str], workers: int, policy_dir: Path | None) -> dict[str, Verdict | str]:
    if workers <= 1 or policy_dir is None or len(keys) < 1000:
        return {key: _decide_one(policy, key) for key in keys}
    chunks = [keys[start:start + 500] for start in range(0, len(keys), 500)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_worker_start, initargs=(str(policy_dir),)) as pool:
        results = pool.map(_worker_decide, chunks)
    return {key: verdict for chunk, verdicts in zip(chunks, results, strict=True)
            for key, verdict in zip(chunk, verdicts, strict=True)}


def _clause_ids(policy: CompiledPolicy) -> set[str]:
    return {clause.id for document in policy.policy.documents for clause in document.clauses}


def audit(policy: CompiledPolicy, history: Iterable[tuple[int, HistoryRecord]], *, workers: int = 1,
          policy_dir: Path | None = None) -> AuditReport:
    rows = list(history)
    report = AuditReport(records=len(rows), policy=policy.fingerprint)
    keys = sorted({_key(record) for _, record in rows})
    report.distinct_facts = len(keys)
    verdicts = _decide_all(policy, keys, workers, policy_dir)
    known = _clause_ids(policy)
    by_clause: Counter[str] = Counter()
    by_outcome: Counter[str] = Counter()
    agents: dict[str, Counter[str]] = defaultdict(Counter)
    teams: dict[str, Counter[str]] = defaultdict(Counter)
    human_by_facts: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for line, record in rows:
        key = _key(record)
        verdict = verdicts[key]
        if isinstance(verdict, str):
            report.invalid.append({"line": line, "claim_id": record.claim_id, "error": verdict})
            continue
        outcome, deciding, grounds = verdict
        human = record.human
        agree = human.outcome == outcome
        agent, team = record.agent or "(none)", record.team or "(none)"
        agents[agent]["records"] += 1
        teams[team]["records"] += 1
        human_by_facts[key].append((record.claim_id, human.outcome))
        why = None
        if human.clause is not None and human.clause not in known:
            why = "no such clause in the policy"
        elif human.clause is not None and (not agree or human.clause not in grounds):
            why = f"{human.clause} does not support '{human.outcome}': the policy decides {outcome} under {deciding}"
        elif human.clause is None and not agree:
            why = f"'{human.outcome}' citing no clause: the policy decides {outcome} under {deciding}"
        if why is not None:
            report.unsupported_reasons.append({"line": line, "claim_id": record.claim_id, "clause": human.clause,
                                               "reason": human.reason, "why": why})
        if agree:
            report.agreed += 1
            continue
        agents[agent]["disagreements"] += 1
        teams[team]["disagreements"] += 1
        by_clause[deciding] += 1
        by_outcome[f"{human.outcome} -> {outcome}"] += 1
        entry = {"line": line, "claim_id": record.claim_id, "agent": record.agent, "team": record.team,
                 "human_outcome": human.outcome, "human_clause": human.clause, "human_reason": human.reason,
                 "policy_outcome": outcome, "deciding_clause": deciding, "grounds": list(grounds)}
        report.disagreements.append(entry)
        if human.outcome == "deny" and outcome == "approve":
            report.wrongly_refused.append(entry)
        elif human.outcome == "approve" and outcome == "deny":
            report.wrongly_approved.append(entry)
    for key, decided in sorted(human_by_facts.items()):
        outcomes = sorted({outcome for _, outcome in decided})
        if len(outcomes) > 1:
            verdict = verdicts[key]
            report.identical_facts_different_outcomes.append({
                "claims": sorted(claim_id for claim_id, _ in decided), "human_outcomes": outcomes,
                "policy_outcome": verdict[0] if not isinstance(verdict, str) else None})
    report.by_clause = dict(sorted(by_clause.items(), key=lambda item: (-item[1], item[0])))
    report.by_outcome = dict(sorted(by_outcome.items(), key=lambda item: (-item[1], item[0])))
    report.by_agent = _rates(agents)
    report.by_team = _rates(teams)
    return report


def _rates(groups: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
    return {name: {"records": counts["records"], "disagreements": counts["disagreements"]}
            for name, counts in sorted(groups.items(), key=lambda item: (-item[1]["disagreements"], item[0]))}
