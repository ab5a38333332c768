"""Tests for claimrules.engine.durable, the only module that talks to durable_rules.

Some tests drive the C module ``durable_rules_engine`` directly to pin down the
engine behaviour the wrapper relies on or works around (see
docs/durable-rules.md); if a durable_rules upgrade changes that behaviour,
those tests fail first.
"""

from __future__ import annotations

import itertools
import json
import operator
import os
import resource
import threading

import durable_rules_engine as dre
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimrules.engine import durable
from claimrules.engine.durable import (
    GUARD_FIELD,
    MAX_FACT_FIELDS,
    MAX_PATHS_PER_RULESET,
    PRIME_RULE,
    EngineError,
    RuleNetwork,
    compile_rulesets,
    rule_weight,
)

_raw_names = itertools.count()


def holds(cond, fact) -> bool:
    """Does a single rule with condition ``cond`` fire for ``fact``?"""
    with RuleNetwork({"r": cond}) as network:
        return network.fired(fact) == {"r"}


def raw_actions(rules: dict, fact: dict) -> list[str]:
    """Assert ``fact`` (sid "1") straight into a raw ruleset; return the action messages.

    Raw rulesets are not primed, so their states are never deleted (deleting a
    state that ran no action in a fresh slot frees uninitialised pointers);
    delete_ruleset frees the state pool without touching them.
    """
    handle = dre.create_ruleset(
        f"raw-test.{next(_raw_names)}", json.dumps({n: {"all": [{"m": c}]} for n, c in rules.items()})
    )
    try:
        _, state = dre.assert_fact(handle, json.dumps({"sid": "1", "id": "f", **fact}))
        messages = []
        started = dre.start_action_for_state(handle, state)
        if started is not None:
            message = started[1]
            while message is not None:
                messages.append(message)
                message = dre.complete_and_start_action(handle, state)
        return messages
    finally:
        dre.delete_ruleset(handle)


def engine_code(excinfo) -> int:
    return int(str(excinfo.value).rsplit(":", 1)[1])


# -- the condition subset --------------------------------------------------------

ADD14 = {"$add": {"$l": {"$m": "dd"}, "$r": 14}}
SUB14 = {"$sub": {"$l": {"$m": "dd"}, "$r": 14}}

CASES = [
    # implicit $eq: ints, strings, booleans
    ("eq-int", {"n": 3}, {"n": 3}, True),
    ("eq-int-no", {"n": 3}, {"n": 4}, False),
    ("eq-str", {"kind": "parts"}, {"kind": "parts"}, True),
    ("eq-str-no", {"kind": "parts"}, {"kind": "labour"}, False),
    ("eq-str-quote", {"s": 'a"b\\c'}, {"s": 'a"b\\c'}, True),
    ("eq-str-unicode", {"s": "Zürich"}, {"s": "Zürich"}, True),
    ("eq-str-empty", {"s": ""}, {"s": ""}, True),
    ("eq-true", {"b": True}, {"b": True}, True),
    ("eq-true-no", {"b": True}, {"b": False}, False),
    ("eq-false", {"b": False}, {"b": False}, True),
    ("eq-false-no", {"b": False}, {"b": True}, False),
    ("eq-explicit", {"$eq": {"n": 3}}, {"n": 3}, True),
    ("eq-float", {"$eq": {"x": 2.5}}, {"x": 2.5}, True),
    # $neq
    ("neq", {"$neq": {"n": 3}}, {"n": 4}, True),
    ("neq-no", {"$neq": {"n": 3}}, {"n": 3}, False),
    ("neq-str", {"$neq": {"s": "a"}}, {"s": "b"}, True),
    ("neq-bool", {"$neq": {"b": True}}, {"b": False}, True),
    # ordering, boundaries, negatives, floats
    ("lt", {"$lt": {"n": 3}}, {"n": 2}, True),
    ("lt-eq", {"$lt": {"n": 3}}, {"n": 3}, False),
    ("lte-eq", {"$lte": {"n": 3}}, {"n": 3}, True),
    ("lte-no", {"$lte": {"n": 3}}, {"n": 4}, False),
    ("gt", {"$gt": {"n": 3}}, {"n": 4}, True),
    ("gt-eq", {"$gt": {"n": 3}}, {"n": 3}, False),
    ("gte-eq", {"$gte": {"n": 3}}, {"n": 3}, True),
    ("gte-no", {"$gte": {"n": 3}}, {"n": 2}, False),
    ("lt-negative", {"$lt": {"n": -5}}, {"n": -6}, True),
    ("gt-negative-no", {"$gt": {"n": -5}}, {"n": -6}, False),
    ("lt-big", {"$lt": {"n": 2**40}}, {"n": 2**40 - 1}, True),
    ("lt-float", {"$lt": {"x": 1.5}}, {"x": 1.25}, True),
    ("lt-str", {"$lt": {"s": "b"}}, {"s": "a"}, True),
    ("lt-str-no", {"$lt": {"s": "b"}}, {"s": "c"}, False),
    # $ex / $nex (with the guard, $nex fires once, for our fact only)
    ("ex", {"$ex": {"x": 1}}, {"x": 0}, True),
    ("ex-false-value", {"$ex": {"x": 1}}, {"x": False}, True),
    ("ex-missing", {"$ex": {"x": 1}}, {"y": 0}, False),
    ("nex", {"$nex": {"x": 1}}, {"y": 0}, True),
    ("nex-empty-fact", {"$nex": {"x": 1}}, {}, True),
    ("nex-present", {"$nex": {"x": 1}}, {"x": 0}, False),
    # missing fields: a comparison on a missing field never holds, $neq included
    ("missing-eq", {"n": 3}, {}, False),
    ("missing-neq", {"$neq": {"n": 3}}, {"m": 3}, False),
    ("missing-lt", {"$lt": {"n": 3}}, {"m": 1}, False),
    ("missing-gte", {"$gte": {"n": 3}}, {"m": 5}, False),
    ("missing-left-of-m", {"$lt": {"n": {"$m": "c"}}}, {"c": 1}, False),
    # ... also when the field is referenced on the right (engine hazard, see test below)
    ("missing-right-of-m", {"$lt": {"n": {"$m": "c"}}}, {"n": 1}, False),
    ("missing-right-neq", {"$neq": {"n": {"$m": "c"}}}, {"n": 1}, False),
    ("missing-right-add", {"$lte": {"req": ADD14}}, {"req": 1}, False),
    ("missing-right-in-or", {"$or": [{"$lt": {"n": {"$m": "c"}}}, {"k": 1}]}, {"n": 1}, False),
    ("missing-right-in-or-other-branch", {"$or": [{"$lt": {"n": {"$m": "c"}}}, {"k": 1}]}, {"n": 1, "k": 1}, True),
    # $m field references
    ("m-lt", {"$lt": {"a": {"$m": "b"}}}, {"a": 1, "b": 2}, True),
    ("m-lt-no", {"$lt": {"a": {"$m": "b"}}}, {"a": 2, "b": 2}, False),
    ("m-eq", {"a": {"$m": "b"}}, {"a": 7, "b": 7}, True),
    ("m-neq", {"$neq": {"a": {"$m": "b"}}}, {"a": 7, "b": 7}, False),
    ("m-gte-str", {"$gte": {"a": {"$m": "b"}}}, {"a": "b", "b": "a"}, True),
    # $add / $sub on ints
    ("add-boundary", {"$lte": {"req": ADD14}}, {"req": 100, "dd": 86}, True),
    ("add-over", {"$lte": {"req": ADD14}}, {"req": 101, "dd": 86}, False),
    ("sub-boundary", {"$gte": {"req": SUB14}}, {"req": 72, "dd": 86}, True),
    ("sub-under", {"$gte": {"req": SUB14}}, {"req": 71, "dd": 86}, False),
    ("add-two-fields", {"$eq": {"t": {"$add": {"$l": {"$m": "a"}, "$r": {"$m": "b"}}}}}, {"t": 5, "a": 2, "b": 3}, True),
    ("add-const-left", {"$gt": {"t": {"$add": {"$l": 10, "$r": {"$m": "a"}}}}}, {"t": 13, "a": 2}, True),
    ("sub-nested", {"$lt": {"t": {"$sub": {"$l": {"$m": "a"}, "$r": {"$add": {"$l": {"$m": "b"}, "$r": 1}}}}}},
     {"t": 0, "a": 5, "b": 3}, True),
    # $and / $or, nested
    ("and", {"$and": [{"kind": "x"}, {"$gt": {"n": 3}}]}, {"kind": "x", "n": 4}, True),
    ("and-no", {"$and": [{"kind": "x"}, {"$gt": {"n": 3}}]}, {"kind": "x", "n": 3}, False),
    ("or-first", {"$or": [{"kind": "x"}, {"$gt": {"n": 3}}]}, {"kind": "x", "n": 0}, True),
    ("or-second", {"$or": [{"kind": "x"}, {"$gt": {"n": 3}}]}, {"kind": "y", "n": 9}, True),
    ("or-both", {"$or": [{"kind": "x"}, {"$gt": {"n": 3}}]}, {"kind": "x", "n": 9}, True),
    ("or-none", {"$or": [{"kind": "x"}, {"$gt": {"n": 3}}]}, {"kind": "y", "n": 0}, False),
    ("and-in-or", {"$or": [{"$and": [{"a": 1}, {"$lt": {"b": {"$m": "c"}}}]}, {"$and": [{"a": 2}, {"b": 0}]}]},
     {"a": 1, "b": 1, "c": 2}, True),
    ("and-in-or-no", {"$or": [{"$and": [{"a": 1}, {"$lt": {"b": {"$m": "c"}}}]}, {"$and": [{"a": 2}, {"b": 0}]}]},
     {"a": 1, "b": 3, "c": 2}, False),
    ("or-in-and", {"$and": [{"$or": [{"a": 1}, {"a": 2}]}, {"$or": [{"b": 1}, {"b": 2}]}]}, {"a": 2, "b": 1}, True),
    ("or-in-and-no", {"$and": [{"$or": [{"a": 1}, {"a": 2}]}, {"$or": [{"b": 1}, {"b": 2}]}]}, {"a": 2, "b": 3}, False),
    ("nex-in-or", {"$or": [{"$nex": {"x": 1}}, {"x": 5}]}, {"x": 5}, True),
    ("nex-in-or-no", {"$or": [{"$nex": {"x": 1}}, {"x": 5}]}, {"x": 4}, False),
    ("and-nex", {"$and": [{"kind": "x"}, {"$nex": {"void": 1}}]}, {"kind": "x"}, True),
    ("and-nex-no", {"$and": [{"kind": "x"}, {"$nex": {"void": 1}}]}, {"kind": "x", "void": False}, False),
]


@pytest.mark.parametrize("cond,fact,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_condition_subset(cond, fact, expected):
    assert holds(cond, fact) is expected


def test_all_cases_in_one_network():
    """The same cases, all rules in one network, evaluated together."""
    rules = {f"c{i}": case[1] for i, case in enumerate(CASES)}
    with RuleNetwork(rules) as network:
        assert network.ruleset_count == 2  # the $or rules weigh more than 1
        for i, (_, _, fact, expected) in enumerate(CASES):
            assert (f"c{i}" in network.fired(fact)) is expected, CASES[i][0]


def test_engine_coerces_types():
    """Documented engine behaviour: comparisons coerce between int, float, bool and numeric strings."""
    assert holds({"n": 1}, {"n": "1"})
    assert holds({"n": 1}, {"n": 1.0})
    assert holds({"b": True}, {"b": 1})
    assert not holds({"n": 1}, {"n": "2"})


def test_or_with_both_branches_is_reported_once():
    # The engine queues the action once per matching branch ...
    raw = raw_actions({"r": {"$and": [{"g": 1}, {"$or": [{"a": 1}, {"b": 1}]}]}}, {"g": 1, "a": 1, "b": 1})
    assert len(raw) == 2
    # ... RuleNetwork reports the rule once.
    with RuleNetwork({"r": {"$or": [{"a": 1}, {"b": 1}]}, "s": {"a": 1}}) as network:
        assert network.fired({"a": 1, "b": 1}) == {"r", "s"}


# -- why the guard and the $ex hardening are needed (raw engine) -----------------


def test_raw_nex_also_matches_engine_state_fact():
    messages = raw_actions({"r": {"$nex": {"x": 1}}}, {"y": 1})
    assert len(messages) == 2
    assert any('"$s":1' in m for m in messages)  # the engine's own {"sid","id":"sid-1","$s":1}
    guarded = raw_actions({"r": {"$and": [{GUARD_FIELD: 1}, {"$nex": {"x": 1}}]}}, {GUARD_FIELD: 1, "y": 1})
    assert len(guarded) == 1 and '"$s"' not in guarded[0]


def test_missing_right_operand_never_matches():
    """In the raw engine a comparison whose $m operand is missing is undefined behaviour:
    isAlphaMatch ignores ERR_PROPERTY_NOT_FOUND and reads an uninitialised result (it
    matched in standalone scripts and did not inside pytest).  RuleNetwork adds $ex
    conjuncts, so it never matches, whatever the stack holds."""
    ops = ("$lt", "$lte", "$gt", "$gte", "$eq", "$neq")
    rules = {f"r{i}": {op: {"b": {"$m": "zz"}}} for i, op in enumerate(ops)}
    rules.update({f"s{i}": {op: {"b": {"$add": {"$l": {"$m": "zz"}, "$r": 1}}}} for i, op in enumerate(ops)})
    with RuleNetwork(rules) as network:
        for b in (-(10**6), -1, 0, 1, 10**6, "s", True):
            assert network.fired({"b": b}) == frozenset(), b
        for b in (-(10**6), -1, 0, 1, 10**6):  # with zz present they are ordinary comparisons
            assert network.fired({"b": b, "zz": b}) == {"r1", "r3", "r4", "s0", "s1", "s5"}, b


def test_raw_neq_on_missing_field_never_matches():
    assert raw_actions({"r": {"$neq": {"n": 3}}}, {"m": 1}) == []


def test_compiled_ruleset_shape():
    (definition,) = compile_rulesets({"r": {"$and": [{"kind": "x"}, {"$lte": {"req": ADD14}}]}})
    assert json.loads(definition) == {
        "r": {"all": [{"m": {"$and": [{GUARD_FIELD: 1}, {"kind": "x"}, {"$ex": {"dd": 1}}, {"$lte": {"req": ADD14}}]}}]},
        PRIME_RULE: {"all": [{"m": {"$and": [{GUARD_FIELD: 1}, {"$ex": {durable.PRIME_FIELD: 1}}]}}]},
    }


def test_priming_rule_never_fires_for_facts():
    with RuleNetwork({"a": {"$nex": {"x": 1}}}) as network:
        assert network.fired({}) == {"a"}
        assert network.fired({"y": 1}) == {"a"}


_FRESH_RULESET_SCRIPT = """
import sys
from claimrules.engine import durable
from claimrules.engine.durable import RuleNetwork
for size in (1, 3, 50, 64, 200, 300):
    for repeat in range(3):
        rules = {f"r{i}": {"$gte": {"n": i}} for i in range(size)}
        with RuleNetwork(rules) as network:
            assert network.fired({"n": -1}) == frozenset()   # first fact matches nothing
            assert network.fired({"other": 1}) == frozenset()
            assert len(network.fired({"n": 10**6})) == size
durable.MAX_PATHS_PER_RULESET = 10_000                       # force 303 + split on fresh rulesets
for size in (65, 200, 300):
    with RuleNetwork({f"r{i}": {"$gte": {"n": i}} for i in range(size)}) as network:
        assert network.fired({"n": -1}) == frozenset()
        assert len(network.fired({"n": 10**6})) == size
        assert len(network.fired({"n": 10**6})) == size
print("ok")
"""


def test_fresh_rulesets_do_not_crash_in_a_clean_process():
    """Regression for the uninitialised state context: without priming, this script
    aborted (free(): invalid size) or segfaulted in delete_state."""
    import subprocess
    import sys

    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", _FRESH_RULESET_SCRIPT],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


# -- error 303 and splitting -------------------------------------------------------


def test_raw_303_is_the_alpha_stack_at_assert_time():
    """65 simultaneously matching alpha nodes overflow handleAlpha's 64-entry stack."""
    for n, ok in ((64, True), (65, False)):
        rules = {f"r{i}": {"all": [{"m": {"$gt": {"n": i}}}]} for i in range(n)}
        handle = dre.create_ruleset(f"raw-303.{n}.{next(_raw_names)}", json.dumps(rules))  # never fails
        try:
            # a fact that matches nothing is fine at any size
            assert dre.assert_fact(handle, json.dumps({"sid": "0", "id": "f", "n": -1}))[0] == 1
            if ok:
                dre.assert_fact(handle, json.dumps({"sid": "1", "id": "f", "n": 1000}))
            else:
                with pytest.raises(dre.error) as excinfo:
                    dre.assert_fact(handle, json.dumps({"sid": "1", "id": "f", "n": 1000}))
                assert engine_code(excinfo) == 303
        finally:
            dre.delete_ruleset(handle)  # states not deleted: see raw_actions


def test_raw_303_counts_or_paths():
    """Each matching $or branch occupies a stack slot: 32 two-way $or rules fit, 33 do not."""
    for n, ok in ((32, True), (33, False)):
        rules = {f"r{i}": {"all": [{"m": {"$or": [{"$gt": {"a": i}}, {"$gt": {"b": i}}]}}]} for i in range(n)}
        handle = dre.create_ruleset(f"raw-303or.{n}.{next(_raw_names)}", json.dumps(rules))
        try:
            fact = json.dumps({"sid": "1", "id": "f", "a": 100, "b": 100})
            if ok:
                dre.assert_fact(handle, fact)
            else:
                with pytest.raises(dre.error) as excinfo:
                    dre.assert_fact(handle, fact)
                assert engine_code(excinfo) == 303
        finally:
            dre.delete_ruleset(handle)


def test_rule_weight():
    assert rule_weight({"a": 1}) == 1
    assert rule_weight({"$and": [{"a": 1}, {"b": 2}, {"$lt": {"c": {"$m": "d"}}}]}) == 1
    assert rule_weight({"$or": [{"a": 1}, {"b": 2}, {"c": 3}]}) == 3
    assert rule_weight({"$and": [{"$or": [{"a": 1}, {"b": 2}]}, {"$or": [{"c": 1}, {"d": 2}, {"e": 1}]}]}) == 6
    assert rule_weight({"$or": [{"a": 1}, {"$and": [{"$or": [{"b": 1}, {"c": 1}]}, {"d": 1}]}]}) == 3


def test_300_rules_split_and_all_fire():
    rules = {f"r{i}": {"$gt": {f"f{i % 7}": i}} for i in range(300)}
    with RuleNetwork(rules) as network:
        assert network.ruleset_count == 5  # 63 + 63 + 63 + 63 + 48 (+ a priming rule each)
        everything = {f"f{k}": 1000 for k in range(7)}
        assert network.fired(everything) == set(rules)
        assert network.fired({f"f{k}": -1 for k in range(7)}) == frozenset()
        for values in ({f"f{k}": 10 * k + 100 for k in range(7)}, {"f0": 299, "f3": 150}, {"f6": 48}):
            expected = {f"r{i}" for i in range(300) if f"f{i % 7}" in values and values[f"f{i % 7}"] > i}
            assert network.fired(values) == expected


def test_chunk_boundary():
    """Each ruleset holds MAX_PATHS_PER_RULESET - 1 paths of user rules (one is the priming rule's)."""
    for n, expected in ((MAX_PATHS_PER_RULESET - 1, 1), (MAX_PATHS_PER_RULESET, 2)):
        rules = {f"r{i}": {"$gte": {"n": i}} for i in range(n)}
        with RuleNetwork(rules) as network:
            assert network.ruleset_count == expected
            assert network.fired({"n": 1000}) == set(rules)


def test_or_rules_are_split_by_weight():
    rules = {f"r{i}": {"$or": [{"$gt": {"a": i}}, {"$gt": {"b": i}}]} for i in range(40)}  # 80 paths
    with RuleNetwork(rules) as network:
        assert network.ruleset_count == 2
        assert network.fired({"a": 100, "b": 100}) == set(rules)
        assert network.fired({"a": 10, "b": 20}) == {f"r{i}" for i in range(20)}


def test_too_heavy_rule_is_rejected_up_front():
    branches = [{"x": i} for i in range(8)]
    heavy = {"$and": [{"$or": branches}, {"$or": branches}, {"$or": [{"y": 1}, {"y": 2}]}]}  # 8*8*2 = 128
    with pytest.raises(EngineError) as excinfo:
        RuleNetwork({"heavy": heavy})
    assert excinfo.value.code == 303


def test_bool_node_limit():
    def nested(depth):
        cond = {"a": 1}
        for i in range(depth):
            cond = {"$or": [cond, {"b": i}]}
        return cond

    with RuleNetwork({"r": nested(14)}) as network:  # 14 $or + the guard's $and = 15
        assert network.fired({"a": 1}) == {"r"}
    with pytest.raises(EngineError) as excinfo:
        RuleNetwork({"r": nested(15)})
    assert excinfo.value.code == 113


def test_adaptive_split_on_303(monkeypatch):
    """If the static budget is wrong, a 303 halves the ruleset and the fact is re-asserted."""
    monkeypatch.setattr(durable, "MAX_PATHS_PER_RULESET", 10_000)
    rules = {f"r{i}": {"$gte": {"n": i}} for i in range(200)}
    with RuleNetwork(rules) as network:
        assert network.ruleset_count == 1
        assert network.fired({"n": 1000}) == set(rules)
        assert network.ruleset_count == 4  # 200 -> 100 + 100 -> 50 * 4
        assert network.fired({"n": 9}) == {f"r{i}" for i in range(10)}
        for handle in network._handles:  # the halves hold no fact either
            assert json.loads(dre.get_facts(handle, durable.LIVE_SID)) == []


# -- lifecycle, coexistence ---------------------------------------------------------


def test_two_networks_with_identical_rule_names():
    with RuleNetwork({"a": {"n": 1}, "b": {"$gt": {"n": 5}}}) as one, RuleNetwork(
        {"a": {"n": 2}, "b": {"$lt": {"n": 5}}}
    ) as two:
        assert one.fired({"n": 1}) == {"a"}
        assert two.fired({"n": 1}) == {"b"}
        assert one.fired({"n": 9}) == {"b"}
        assert two.fired({"n": 2}) == {"a", "b"}


def test_close_is_idempotent_and_recreate_works():
    network = RuleNetwork({"a": {"n": 1}})
    assert network.fired({"n": 1}) == {"a"}
    handles = network._handles
    network.close()
    network.close()
    assert network.closed and network.ruleset_count == 0
    with pytest.raises(EngineError):
        network.fired({"n": 1})
    for handle in handles:  # the C ruleset is gone
        with pytest.raises(dre.error):
            dre.assert_fact(handle, json.dumps({"sid": "1", "id": "f", "n": 1}))
    with RuleNetwork({"a": {"n": 1}}) as again:
        assert again.fired({"n": 1}) == {"a"}
    assert again.closed


def test_garbage_collected_network_frees_its_rulesets():
    network = RuleNetwork({"a": {"n": 1}})
    (handle,) = network._handles
    del network
    import gc

    gc.collect()
    with pytest.raises(dre.error):
        dre.assert_fact(handle, json.dumps({"sid": "1", "id": "f", "n": 1}))


def test_empty_network():
    with RuleNetwork({}) as network:
        assert network.ruleset_count == 0
        assert network.fired({"n": 1}) == frozenset()


def test_fired_returns_frozenset_and_accepts_mappings():
    from types import MappingProxyType

    with RuleNetwork({"a": {"n": 1}}) as network:
        result = network.fired(MappingProxyType({"n": 1}))
        assert isinstance(result, frozenset) and result == {"a"}


# -- validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "rules",
    [
        {"1bad": {"n": 1}},
        {"bad-name": {"n": 1}},
        {"r": {"$mt": {"s": "a.*"}}},
        {"r": {"$lt": {"n": {"$add": {"$l": 1, "$r": 2}}}}},  # constant-only arithmetic never matches
        {"r": {"$and": []}},
        {"r": {"a": 1, "b": 2}},
        {"r": {"sid": "x"}},
        {"r": {"$lt": {"n": {"$m": "id"}}}},
        {"r": {"$lt": {"x": 1e20}}},  # exponent notation: engine parse error 204
        {"r": {"$lt": {"x": float("nan")}}},
        {"r": {"n": [1, 2]}},
        {"r": {"n": 2**64}},
    ],
)
def test_invalid_rules_are_rejected(rules):
    with pytest.raises(ValueError):
        RuleNetwork(rules)


@pytest.mark.parametrize("field", sorted(durable.RESERVED_FIELDS))
def test_reserved_fact_fields_are_rejected(field):
    with RuleNetwork({"a": {"n": 1}}) as network:
        with pytest.raises(ValueError):
            network.fired({"n": 1, field: 1})


def test_fact_field_limit_applies_to_the_fields_rules_read():
    # Each ruleset is sent only the fields its rules read, so unread fields never count.
    with RuleNetwork({"a": {"p0": 0}}) as network:
        assert network.fired({f"p{i}": i for i in range(MAX_FACT_FIELDS + 100)}) == {"a"}
        assert network.fired({"p0": 0, "p1": 1}) == {"a"}


def test_float_in_exponent_notation_is_an_engine_error():
    with RuleNetwork({"a": {"$gt": {"x": 1.5}}}) as network:
        with pytest.raises(EngineError) as excinfo:
            network.fired({"x": 1e20})
        assert excinfo.value.code == 204
        assert network.fired({"x": 2.5}) == {"a"}


# -- state hygiene -------------------------------------------------------------------


def test_no_fact_left_behind():
    """Each fact is retracted from the ruleset's one live state once its rules are read."""
    rules = {f"r{i}": {"$gte": {"n": i}} for i in range(100)}  # 2 rulesets
    with RuleNetwork(rules) as network:
        assert network.ruleset_count == 2
        for n in range(50):
            assert len(network.fired({"n": n})) == n + 1
            for handle in network._handles:
                assert json.loads(dre.get_facts(handle, durable.LIVE_SID)) == []
        # control: a fact that reached a rule and was not retracted is visible in the live state
        handle = network._handles[0]
        dre.assert_fact(handle, json.dumps({"sid": durable.LIVE_SID, "id": "f", GUARD_FIELD: 1, "n": 5}))
        assert [fact["n"] for fact in json.loads(dre.get_facts(handle, durable.LIVE_SID))] == [5]
        dre.retract_fact(handle, json.dumps({"sid": durable.LIVE_SID, "id": "f"}))
        assert json.loads(dre.get_facts(handle, durable.LIVE_SID)) == []


def test_no_fact_leaks_into_the_next():
    """A fact's fields never reach the next fact's rules: a sequence of facts with different
    fields gives, fact by fact, what a network that has never seen a fact gives."""
    rules = {
        "flagged": {"flag": True},
        "unflagged": {"$nex": {"flag": 1}},
        "big": {"$gt": {"n": 10}},
        "over_limit": {"$gt": {"n": {"$m": "limit"}}},
        "both": {"$and": [{"kind": "a"}, {"$lt": {"n": 5}}]},
        "either": {"$or": [{"kind": "b"}, {"flag": False}]},
    }
    facts = [{"flag": True, "n": 20, "limit": 3, "kind": "a"}, {"n": 4}, {"kind": "a", "n": 2},
             {"flag": False, "limit": 100, "n": 50}, {}, {"kind": "b", "n": 11}, {"n": 4, "limit": 1}]
    expected = []
    for fact in facts:
        with RuleNetwork(rules) as fresh:
            expected.append(fresh.fired(fact))
    assert expected[1] == {"unflagged"}  # the flag and the limit of the first fact are gone
    with RuleNetwork(rules) as network:
        assert [network.fired(fact) for fact in facts * 3] == expected * 3


def test_state_deleted_when_draining_fails(monkeypatch):
    with RuleNetwork({"a": {"n": 1}}) as network:
        def boom(handle, state):
            raise dre.error("Could not start action, error code: 101")

        monkeypatch.setattr(durable, "_start_action_for_state", boom)
        with pytest.raises(EngineError) as excinfo:
            network.fired({"n": 1})
        assert excinfo.value.code == 101
        (handle,) = network._handles
        with pytest.raises(dre.error) as excinfo:  # the live state, with the fact in it, is gone
            dre.get_state(handle, durable.LIVE_SID)
        assert engine_code(excinfo) == 309
        monkeypatch.undo()
        assert network.fired({"n": 1}) == {"a"}
        assert network.fired({"n": 2}) == set()


def test_a_failed_clean_up_is_told_with_the_error(monkeypatch):
    with RuleNetwork({"a": {"n": 1}}) as network:
        def boom(handle, state):
            raise dre.error("Could not start action, error code: 101")

        def refuse(handle, sid):
            raise dre.error("Could not delete state, error code: 309")

        monkeypatch.setattr(durable, "_start_action_for_state", boom)
        monkeypatch.setattr(durable, "_delete_state", refuse)
        with pytest.raises(EngineError) as excinfo:
            network.fired({"n": 1})
        assert excinfo.value.code == 101
        assert any("deleting the live state afterwards" in note and "309" in note
                   for note in getattr(excinfo.value, "__notes__", ()))


def test_state_deleted_when_retracting_fails(monkeypatch):
    """A fact the engine would not retract takes its live state with it: the next fact starts a
    new state, and the rules already read are the answer."""
    with RuleNetwork({"a": {"n": 1}, "flagged": {"flag": True}}) as network:
        monkeypatch.setattr(durable, "_retract_fact", lambda handle, fact: (1, 0))
        assert network.fired({"n": 1, "flag": True}) == {"a", "flagged"}
        (handle,) = network._handles
        with pytest.raises(dre.error) as excinfo:
            dre.get_state(handle, durable.LIVE_SID)
        assert engine_code(excinfo) == 309
        monkeypatch.undo()
        assert network.fired({"n": 2}) == set()
        assert json.loads(dre.get_facts(handle, durable.LIVE_SID)) == []


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_memory_is_stable_over_20k_facts():
    rules = {f"r{i}": {"$and": [{"kind": ("a", "b", "c")[i % 3]}, {"$lte": {"n": {"$add": {"$l": {"$m": "m"}, "$r": i}}}}]}
             for i in range(60)}
    with RuleNetwork(rules) as network:
        fact = {"kind": "a", "n": 30, "m": 0}
        expected = network.fired(fact)
        assert len(expected) == 10
        for _ in range(2000):  # warm up allocator pools
            network.fired(fact)
        before = _rss_bytes()
        for i in range(20_000):
            fact["m"] = i % 7
            network.fired(fact)
        growth = _rss_bytes() - before
    assert growth < 20 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB"


# -- threads -------------------------------------------------------------------------


def test_threads_match_sequential():
    rules = {f"r{i}": {"$or": [{"$gt": {"a": i}}, {"$lt": {"b": {"$sub": {"$l": {"$m": "c"}, "$r": i}}}}]}
             for i in range(50)}
    facts = [{"a": (k * 7) % 60, "b": (k * 13) % 40, "c": (k * 5) % 70} for k in range(500)]
    with RuleNetwork(rules) as network:
        assert network.ruleset_count == 2
        sequential = [network.fired(f) for f in facts]
        assert len(set(sequential)) > 50  # the facts really differ
        results: dict[int, list[frozenset[str]]] = {}
        errors: list[BaseException] = []
        barrier = threading.Barrier(4)

        def worker(t: int) -> None:
            try:
                barrier.wait()
                results[t] = [network.fired(f) for f in facts]
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        for t in range(4):
            assert results[t] == sequential


# -- post_batch / assert_events (documented, never used) ----------------------------


def test_raw_assert_events_swallows_parse_errors():
    """handleMessages stops at the first unparsable object and still returns 0 with an
    unset state offset; durable's post_batch then passes that garbage offset to
    start_action_for_state, which segfaults.  We only check the first half here."""
    handle = dre.create_ruleset(f"raw-batch.{next(_raw_names)}", json.dumps({"r": {"all": [{"m": {"n": 1}}]}}))
    try:
        assert dre.assert_events(handle, "[]")[0] == 0  # nothing asserted, yet "OK"
        too_wide = json.dumps([{"sid": "1", "id": "a", **{f"p{i}": i for i in range(300)}}])
        assert dre.assert_events(handle, too_wide)[0] == 0  # assert_fact would raise 302
        with pytest.raises(dre.error):
            dre.get_state(handle, "1")  # ... and nothing was asserted
    finally:
        dre.delete_ruleset(handle)


# -- property test against a reference evaluator ---------------------------------------

_OPS = {
    "$lt": operator.lt,
    "$lte": operator.le,
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$eq": operator.eq,
    "$neq": operator.ne,
}
FIELDS = ("a", "b", "c")


def _operand_value(operand, fact):
    if isinstance(operand, int):
        return operand
    if "$m" in operand:
        return fact.get(operand["$m"])
    (op, args), = operand.items()
    left, right = _operand_value(args["$l"], fact), _operand_value(args["$r"], fact)
    if left is None or right is None:
        return None
    return left + right if op == "$add" else left - right


def reference(cond, fact) -> bool:
    (key, value), = cond.items()
    if key == "$and":
        return all(reference(c, fact) for c in value)
    if key == "$or":
        return any(reference(c, fact) for c in value)
    if key in _OPS:
        (field, operand), = value.items()
        op = _OPS[key]
    else:
        field, operand, op = key, value, operator.eq
    if field not in fact:
        return False
    right = _operand_value(operand, fact)
    return right is not None and op(fact[field], right)


def _leaf(op, field, operand):
    return {field: operand} if op == "implicit" else {op: {field: operand}}


def conditions(operands):
    leaves = st.builds(_leaf, st.sampled_from([*_OPS, "implicit"]), st.sampled_from(FIELDS), operands)
    return st.recursive(
        leaves,
        lambda kids: st.builds(lambda k, xs: {k: xs}, st.sampled_from(["$and", "$or"]), st.lists(kids, min_size=2, max_size=3)),
        max_leaves=6,
    )


CONSTANTS = st.integers(-4, 4)
FIELD_REFS = st.sampled_from(FIELDS).map(lambda f: {"$m": f})
ARITHMETIC = st.builds(
    lambda op, f, k: {op: {"$l": {"$m": f}, "$r": k}}, st.sampled_from(["$add", "$sub"]), st.sampled_from(FIELDS), CONSTANTS
)
FACTS = st.dictionaries(st.sampled_from(FIELDS), st.integers(-4, 4))  # fields may be missing


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=st.lists(conditions(CONSTANTS), min_size=1, max_size=6), facts=st.lists(FACTS, min_size=1, max_size=6))
def test_fired_matches_reference_on_constant_comparisons(rules, facts):
    named = {f"r{i}": cond for i, cond in enumerate(rules)}
    with RuleNetwork(named) as network:
        for fact in facts:
            assert network.fired(fact) == {n for n, c in named.items() if reference(c, fact)}, fact


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rules=st.lists(conditions(st.one_of(CONSTANTS, FIELD_REFS, ARITHMETIC)), min_size=1, max_size=6),
    facts=st.lists(FACTS, min_size=1, max_size=6),
)
def test_fired_matches_reference_with_field_references(rules, facts):
    named = {f"r{i}": cond for i, cond in enumerate(rules)}
    with RuleNetwork(named) as network:
        for fact in facts:
            assert network.fired(fact) == {n for n, c in named.items() if reference(c, fact)}, fact


# -- groups ---------------------------------------------------------------------------------


def test_groups_keep_rulesets_apart_and_fired_asks_only_the_named_groups():
    rules = {"a1": {"n": 1}, "b1": {"$gte": {"n": 0}}, "a2": {"$lt": {"n": 5}}}
    groups = {"a1": "A", "b1": "B", "a2": "A"}
    assert [group for group, _ in durable.compile_grouped_rulesets(rules, groups)] == ["A", "B"]
    with RuleNetwork(rules, groups=groups) as network:
        assert network.ruleset_count == 2  # rules of two groups never share a ruleset
        assert network.fired({"n": 1}) == {"a1", "b1", "a2"}
        assert network.fired({"n": 1}, {"A"}) == {"a1", "a2"}
        assert network.fired({"n": 1}, {"B"}) == {"b1"}
        assert network.fired({"n": 1}, set()) == set()
    with RuleNetwork(rules) as together:
        assert together.ruleset_count == 1


def test_a_rule_without_a_group_is_refused():
    with pytest.raises(ValueError, match="without a group"):
        RuleNetwork({"a": {"n": 1}, "b": {"n": 2}}, groups={"a": "A"})


def test_halves_of_a_split_ruleset_keep_its_group(monkeypatch):
    monkeypatch.setattr(durable, "MAX_PATHS_PER_RULESET", 10_000)
    rules = {f"r{i}": {"$gte": {"n": i}} for i in range(200)}
    rules["other"] = {"n": 1000}
    groups = {name: "many" if name != "other" else "one" for name in rules}
    with RuleNetwork(rules, groups=groups) as network:
        assert network.fired({"n": 1000}, {"many"}) == set(rules) - {"other"}
        assert network.ruleset_count > 2  # the 200 rules were halved
        assert network.fired({"n": 1000}, {"one"}) == {"other"}
        assert network.fired({"n": 9}, {"many"}) == {f"r{i}" for i in range(10)}
