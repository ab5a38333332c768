"""Raw durable_rules throughput: the floor for claimrules' rule evaluation.

``raw_throughput(rules, facts)`` compiles ``rules`` exactly as
``claimrules.engine.durable.RuleNetwork`` does (guard conjunct, ``$ex`` guards,
split into rulesets of at most 64 alpha paths, priming rule) and then asserts each fact
straight into the C module ``durable_rules_engine`` as ``RuleNetwork`` does: into each
ruleset's one live state, drain actions, retract the fact; no rule-name extraction, no
validation, facts serialised before the clock starts.  Anything ``RuleNetwork.fired``
costs above this is claimrules overhead.

``fresh_states=True`` drives the engine as claimrules did before 2026-11-27: a new state
(sid) per fact, deleted afterwards.  Creating a state clears the frame indexes of every
rule, so this costs more engine time; bench/suite.py reports it beside the floor.

Run ``PYTHONPATH=src python bench/raw_durable.py`` for a self-test figure on a
60-rule network with 15 rules firing per fact.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

try:
    from claimrules.engine.durable import (
        GUARD_FIELD,
        LIVE_SID,
        compile_grouped_rulesets,
        compile_rulesets,
        prime_ruleset,
    )
except ImportError:  # running from a checkout without PYTHONPATH=src
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
    from claimrules.engine.durable import (
        GUARD_FIELD,
        LIVE_SID,
        compile_grouped_rulesets,
        compile_rulesets,
        prime_ruleset,
    )

import durable_rules_engine as _dre

_names = itertools.count()


def raw_throughput(
    rules: Mapping[str, Mapping[str, Any]], facts: Sequence[Mapping[str, Any]], *, repeat: int = 1,
    clock: Callable[[], float] = time.perf_counter, fresh_states: bool = False,
    groups: Mapping[str, str] | None = None, asked: Sequence[Collection[str]] | None = None,
) -> float:
    """Facts per second asserting ``facts`` (``repeat`` times) directly into durable_rules.

    ``groups`` splits the rulesets by group as ``RuleNetwork(rules, groups=groups)`` does, and
    ``asked[i]`` names the groups whose rulesets fact ``i`` is asserted into (all if not given),
    as claimrules asks them (``Program.evaluate``): the engine's own work for the same answers.
    ``clock=time.process_time`` counts this process's CPU time only (on a shared machine)."""
    if not facts or repeat < 1:
        raise ValueError("need at least one fact and repeat >= 1")
    if asked is not None and fresh_states:
        raise ValueError("fresh_states asserts every fact into every ruleset, as claimrules did then")
    if asked is not None and len(asked) != len(facts):
        raise ValueError("asked must name the groups of every fact")
    grouped = compile_grouped_rulesets(rules, groups)
    definitions = [definition for _, definition in grouped]
    tails = []
    for fact in facts:
        body = json.dumps(dict(fact), separators=(",", ":"), allow_nan=False)
        tails.append(f'","id":"f","{GUARD_FIELD}":1' + ("," + body[1:] if len(body) > 2 else "}"))
    assert_fact = _dre.assert_fact
    start = _dre.start_action_for_state
    complete = _dre.complete_and_start_action
    delete_state = _dre.delete_state
    retract_fact = _dre.retract_fact
    tag = next(_names)
    handles = []
    try:
        for i, definition in enumerate(definitions):
            handles.append(_dre.create_ruleset(f"raw-bench.{os.getpid()}.{tag}.{i}", definition))
            prime_ruleset(handles[-1])  # required before deleting states, see durable.py
        # Each fact with the handles it is asserted into, worked out before the clock starts.
        every = tuple(handles)
        targets = [every if asked is None else
                   tuple(handle for handle, (group, _) in zip(handles, grouped, strict=True) if group in asked[index])
                   for index in range(len(tails))]
        retract = '{"sid":"' + LIVE_SID + '","id":"f"}'
        sid_counter = itertools.count()
        began = clock()
        for _ in range(repeat):
            for tail, chosen in zip(tails, targets, strict=True):
                sid = str(next(sid_counter)) if fresh_states else LIVE_SID
                payload = '{"sid":"' + sid + tail
                for handle in chosen:
                    result, state = assert_fact(handle, payload)
                    if result == 0:
                        started = start(handle, state)
                        if started is not None:
                            while complete(handle, state) is not None:
                                pass
                    if fresh_states:
                        delete_state(handle, sid)
                    else:
                        retract_fact(handle, retract)
        elapsed = clock() - began
    finally:
        for handle in handles:
            _dre.delete_ruleset(handle)
    return len(tails) * repeat / elapsed


def asked_groups(program: Any, evaluation: Any) -> frozenset[str]:
    """The groups of rulesets ``Program.evaluate`` asks for a claim: the document rules', and the
    clause rules' of each document that may apply (its rule not false)."""
    from claimrules.engine.program import DOCUMENTS

    return frozenset({DOCUMENTS}) | program.open_documents(evaluation.truth)


def sample_network() -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """60 rules (70 alpha paths, so 2 rulesets) and a fact for which exactly 15 of them hold."""
    kinds = ("parts", "labour", "both")
    rules: dict[str, dict[str, Any]] = {}
    for i in range(20):  # amount thresholds: i = 0..6 hold
        rules[f"amount_{i}"] = {"$gte": {"amount": 50 * i}}
    for i in range(10):  # kind + term arithmetic: i = 4 and 7 hold
        rules[f"term_{i}"] = {
            "$and": [
                {"kind": kinds[i % 3]},
                {"$lt": {"age_days": {"$add": {"$l": {"$m": "term_days"}, "$r": 2 * i}}}},
            ]
        }
    for i in range(10):  # region / channel disjunctions: i = 0 and 5 hold
        rules[f"region_{i}"] = {"$or": [{"region": f"R{i}"}, {"channel": f"C{i % 5}"}]}
    for i in range(10):  # flags via $nex, and $ex + $neq: i = 2 and 9 hold
        if i % 2:
            rules[f"flag_{i}"] = {"$nex": {f"flag{i}": 1}}
        else:
            rules[f"flag_{i}"] = {"$and": [{"$ex": {f"flag{i}": 1}}, {"$neq": {f"flag{i}": True}}]}
    for i in range(10):  # field-to-field arithmetic: i = 0 and 1 hold
        rules[f"limit_{i}"] = {"$gt": {"limit": {"$sub": {"$l": {"$m": "amount"}, "$r": -10 * i}}}}
    fact = {
        "amount": 349,
        "kind": "labour",
        "age_days": 372,
        "term_days": 365,
        "region": "R0",
        "channel": "C0",
        "flag1": True,
        "flag3": True,
        "flag5": True,
        "flag7": True,
        "flag0": True,
        "flag2": False,
        "limit": 365,
    }
    return rules, fact


def _network_us_per_fact(rules: Mapping[str, Mapping[str, Any]], fact: Mapping[str, Any], n: int) -> tuple[float, int]:
    from claimrules.engine.durable import RuleNetwork

    with RuleNetwork(rules, label="bench") as network:
        fired = network.fired(fact)
        began = time.perf_counter()
        for _ in range(n):
            network.fired(fact)
        return (time.perf_counter() - began) / n * 1e6, len(fired)


if __name__ == "__main__":
    rules, fact = sample_network()
    n = 20_000
    best_raw = max(raw_throughput(rules, [fact], repeat=n) for _ in range(3))
    timings = [_network_us_per_fact(rules, fact, n) for _ in range(3)]
    best_net = min(t for t, _ in timings)
    fired = timings[0][1]
    print(f"rules={len(rules)} rulesets={len(compile_rulesets(rules))} firing={fired} facts={n} (best of 3)")
    print(f"raw durable_rules:     {best_raw:10.0f} facts/s  {1e6 / best_raw:7.1f} us/fact")
    print(f"RuleNetwork.fired():   {1e6 / best_net:10.0f} facts/s  {best_net:7.1f} us/fact")
