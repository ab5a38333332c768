"""The one place in claimrules that talks to ``durable_rules``.

We do not use durable_rules' Python layer (``durable.lang`` / ``durable.engine``)
at all: it treats two-parameter actions as asynchronous, keeps its own host
objects and routes ``post`` events to the *first* matching rule only.  Instead
we drive the C extension ``durable_rules_engine`` directly:

* every rule is compiled to a single-term rule ``{"all": [{"m": <condition>}]}``;
* a fact is *asserted* (not posted as an event) into each ruleset's one live
  state (sid :data:`LIVE_SID`), so every rule whose condition holds queues one
  action;
* we drain the action queue for that state, collect the rule names and
  *retract* the fact again, leaving the state empty for the next one.  After an
  error the state is deleted instead, and the next fact starts a new one.

Why one live state rather than a fresh sid per fact: ``createStateNode``
``malloc``s and ``memset``s the frame indexes of every rule for each new state,
which was half the engine's instructions per claim (issue #15; measured in
docs/durable-rules.md).  Retracting removes every frame the fact made (the
engine's ``handleDeleteMessage`` walks the fact's own list of locations), so no
fact outlives its claim: ``tests/test_durable.py`` checks the state holds no
fact after each claim and gives the same rules as fresh rulesets.

Engine facts this module relies on (read from the C sources of durable_rules
2.0.28, ``src/rules/*.c``, and checked by ``tests/test_durable.py``):

Guard
    ``$nex`` also matches the engine's own per-sid state fact
    ``{"sid": ..., "id": "sid-...", "$s": 1}`` which the engine asserts after
    the first message of a new sid.  Every rule is therefore prefixed with the
    conjunct ``{"__crg": 1}`` that only our facts carry.  Being the first
    conjunct of every rule it is one shared alpha node per ruleset.

Missing fields
    A comparison whose *left* field is missing never matches (alpha nodes are
    only visited for properties the fact has; this includes ``$neq``).  A
    comparison whose *right* operand refers to a missing field via ``$m`` is
    **undefined** in the engine: ``isAlphaMatch`` ignores the
    ``ERR_PROPERTY_NOT_FOUND`` from ``reduceExpression`` and reads an
    uninitialised result (it matched in scripts, not under pytest).  We close that hole by
    adding a ``{"$ex": {field: 1}}`` conjunct in front of every comparison for
    each field its right operand references, so "a comparison involving a
    missing field never matches" holds uniformly.

Error 303 (``ERR_MAX_STACK_SIZE``)
    ``handleAlpha`` (events.c) walks the alpha network with a fixed array of
    ``MAX_STACK_SIZE`` = 64 pending nodes and pushes *every* matching child of
    a node at once.  It fails while *asserting* a fact (never in
    ``create_ruleset``) as soon as more than 64 alpha nodes are pending at
    the same time.  The number of pending nodes is bounded by the number of
    root-to-rule paths through the alpha network, which per rule is its
    *weight*: 1 for a comparison, the product over ``$and`` and the sum over
    ``$or`` (an ``$or`` fans in through a "forward" node that is pushed once
    per matching branch, so a rule whose two branches both hold is also
    *queued twice*).  We pack rules greedily, in the given order, into
    rulesets whose total weight is at most 63, plus 1 for the priming rule
    (see below).  (64 single-comparison rules
    that all hold work, 65 fail; 32 rules with two matching ``$or`` branches
    work, 33 fail).  Should 303 still occur, the offending ruleset is halved
    and the fact re-asserted into the halves.

Uninitialised action context (crash)
    ``createStateNode`` (state.c) never initialises a new state's
    ``context.messages``/``context.stateFact``; ``deleteStateNode`` frees
    them if non-NULL.  Deleting a state that lives in a never-used slot of the
    ruleset's state pool and never ran an action therefore ``free()``s
    whatever the allocator left there: valgrind reports it and, depending on
    heap history, the process aborts or segfaults (it did for a 200-rule
    ruleset after a fact that matched nothing, and after a 303).  Draining an
    action (``freeActionContext``) or deleting a state leaves the slot's
    context NULL, and with one live state at a time the pool reuses slot 1
    forever.  So each ruleset gets a hidden rule :data:`PRIME_RULE` that only
    the priming fact (field ``__crp``) satisfies, and is primed once right
    after ``create_ruleset``: assert, drain, delete.  It costs one path of the
    64 (user rules get 63) and one beta node.

Expression sequences (error 113)
    Each ``$and``/``$or`` of a rule appends two entries to a per-rule array
    of ``MAX_SEQUENCE_EXPRESSIONS`` = 32, which fails on reaching 32: a rule
    may contain at most 15 ``$and``/``$or`` nodes *after* compilation
    (guard ``$and`` and the ``$and`` wrappers we add inside ``$or`` included).
    We check this up front.

Threading
    See :data:`_ENGINE_LOCK`.
"""

from __future__ import annotations

import itertools
import json
import math
import operator
import os
import re
import threading
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import durable_rules_engine as _dre  # type: ignore[import-not-found]

__all__ = [
    "GUARD_FIELD",
    "LIVE_SID",
    "MAX_BOOL_NODES_PER_RULE",
    "MAX_FACT_FIELDS",
    "MAX_PATHS_PER_RULESET",
    "PRIME_RULE",
    "RESERVED_FIELDS",
    "EngineError",
    "RuleNetwork",
    "compile_grouped_rulesets",
    "compile_rulesets",
    "prime_ruleset",
    "property_hash",
    "rule_weight",
]

# -- engine constants (durable_rules 2.0.28) ---------------------------------

#: ``MAX_STACK_SIZE`` in events.c: pending alpha nodes during one fact's walk.
#: One path per ruleset goes to the priming rule, user rules share the rest.
MAX_PATHS_PER_RULESET = 64
#: ``MAX_SEQUENCE_EXPRESSIONS`` (32) in rete.h allows 31 entries, 2 per $and/$or.
MAX_BOOL_NODES_PER_RULE = 15
#: ``MAX_OBJECT_PROPERTIES`` (255) in state.h: the parser rejects an object
#: that reaches 255 properties (error 302), so 254 minus sid, id and the guard.
MAX_FACT_FIELDS = 251

ERR_MAX_OBJECT_PROPERTIES = 302
ERR_MAX_STACK_SIZE = 303
ERR_EXPRESSION_LIMIT_EXCEEDED = 113
ERR_SID_NOT_FOUND = 309

#: Field added to every fact and required by every rule (see module docstring).
GUARD_FIELD = "__crg"
_GUARD_COND: dict[str, Any] = {GUARD_FIELD: 1}
#: Field of the priming fact (see "Uninitialised action context" above).
PRIME_FIELD = "__crp"
#: Hidden rule in every ruleset; not an identifier, so it cannot clash with a user rule.
PRIME_RULE = "claimrules:prime"
_PRIME_COND: dict[str, Any] = {"$and": [_GUARD_COND, {"$ex": {PRIME_FIELD: 1}}]}
_PRIME_SID = "prime"
#: The sid of each ruleset's one live state: every fact is asserted into it and retracted again.
LIVE_SID = "live"
_FACT_HEAD = f'{{"sid":"{LIVE_SID}","id":"f","{GUARD_FIELD}":1'
_RETRACT = f'{{"sid":"{LIVE_SID}","id":"f"}}'
_PRIME_FACT = f'{{"sid":"{_PRIME_SID}","id":"f","{GUARD_FIELD}":1,"{PRIME_FIELD}":1}}'
#: Fact fields the caller may not use: the engine's own keys, our guard and
#: priming fields and the pseudo-property the engine uses for ``$or`` fan-in.
RESERVED_FIELDS = frozenset({"sid", "id", GUARD_FIELD, PRIME_FIELD, "$s", "$forward"})

_RULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_CODE = re.compile(r"error code: (\d+)")
_CMP_OPS = frozenset({"$eq", "$neq", "$lt", "$lte", "$gt", "$gte"})
_EXIST_OPS = frozenset({"$ex", "$nex"})
_ARITH_OPS = frozenset({"$add", "$sub", "$mul", "$div"})
_INT64 = 2**63

# Hot-path bindings (module globals so tests can monkeypatch them).
_assert_fact = _dre.assert_fact
_start_action_for_state = _dre.start_action_for_state
_complete_and_start_action = _dre.complete_and_start_action
_delete_state = _dre.delete_state
_retract_fact = _dre.retract_fact
_NativeError = _dre.error

_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False, check_circular=False).encode
_encode_str = json.encoder.encode_basestring_ascii  # what _encode does with a str (ensure_ascii)
encode_str: Callable[[str], str] = _encode_str


def encode_value(value: Any) -> str:
    """A value of a fact as ``_encode`` writes it."""
    kind = type(value)
    if kind is str:
        return _encode_str(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float and value - value == 0:  # finite: json writes float.__repr__ (inf and nan are refused)
        return float.__repr__(value)
    return _encode(value)


def encode_member(field: str, value: Any) -> str:
    """A field of a fact with its value, as ``_encode`` writes them in an object: ``"field":<JSON>``."""
    return _encode(field) + ":" + encode_value(value)


def _picker(fields: tuple[str, ...]) -> Callable[[Mapping[str, str]], Any]:
    """What picks a ruleset's members, in its fields' order: a tuple of them, or the one member
    (which ``"".join`` writes as it is), or nothing."""
    if not fields:
        return lambda members: ()
    return operator.itemgetter(*fields)

#: One lock for the whole process, held for every call into the C engine.
#:
#: Why process-wide rather than per ruleset or per network:
#:
#: * The handle table (``handleEntries``, ``firstEmptyEntry``, ``lastEmptyEntry``
#:   in rete.c) is a process global; ``create_ruleset``/``delete_ruleset``
#:   mutate it without synchronisation and *every* call reads it
#:   (``RESOLVE_HANDLE``).  ``createRuleset`` also reseeds the global C PRNG
#:   (``srand``) that ``storeMessage`` draws message ids from.
#: * One fact is several C calls (assert, start action, complete..., delete
#:   state) that mutate the ruleset's state pool and action context; the
#:   sequence must not interleave with another thread's on the same ruleset.
#: * The binding (src/rulespy/rules.c) never releases the GIL, so C calls are
#:   serialised anyway: a global lock costs no parallelism, only ~0.1 us.
#:   It also keeps us correct on a free-threaded interpreter, where nothing
#:   else would serialise the unsynchronised C globals.
_ENGINE_LOCK = threading.Lock()
# A process forked while another thread is between the C calls of one fact would inherit rulesets
# holding that fact (and a lock nobody will release): a fork waits for the lock instead, so a child
# (a batch worker using its parent's compiled policy) starts from a quiet engine.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_ENGINE_LOCK.acquire, after_in_parent=_ENGINE_LOCK.release,
                        after_in_child=_ENGINE_LOCK.release)
#: Rulesets of networks garbage-collected while the lock was busy.
_PENDING_DELETE: list[int] = []
_network_ids = itertools.count(1)


class EngineError(RuntimeError):
    """A durable_rules failure; ``code`` is the engine's error code if known."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message if code is None else f"{message} (durable_rules error {code})")
        self.code = code


def _code_of(exc: BaseException) -> int | None:
    m = _CODE.search(str(exc))
    return int(m.group(1)) if m else None


def _wrap(exc: BaseException, what: str) -> EngineError:
    error = EngineError(f"{what}: {exc}", _code_of(exc))
    for note in getattr(exc, "__notes__", ()):  # e.g. what cleaning up afterwards ran into
        error.add_note(note)
    return error


# -- rule compilation ---------------------------------------------------------


def _check_field(field: Any, where: str) -> str:
    if not isinstance(field, str) or not field:
        raise ValueError(f"{where}: field names must be non-empty strings, got {field!r}")
    if field in RESERVED_FIELDS or field.startswith("$"):
        raise ValueError(f"{where}: field name {field!r} is reserved")
    return field


def _check_scalar(value: Any, where: str) -> None:
    if isinstance(value, bool) or isinstance(value, str):
        return
    if isinstance(value, int):
        if not -_INT64 <= value < _INT64:
            raise ValueError(f"{where}: integer {value} does not fit the engine's 64-bit ints")
        return
    if isinstance(value, float):
        if not math.isfinite(value) or "e" in repr(value):
            raise ValueError(
                f"{where}: float {value!r} is not finite or needs exponent notation, "
                "which durable_rules' JSON parser rejects"
            )
        return
    raise ValueError(f"{where}: unsupported constant {value!r} (use str, int, float or bool)")


def _operand_refs(operand: Any, where: str) -> list[str]:
    """Validate a comparison's right operand; return the fields it references."""
    if not isinstance(operand, Mapping):
        _check_scalar(operand, where)
        return []
    if len(operand) != 1:
        raise ValueError(f"{where}: operand objects have exactly one key, got {dict(operand)!r}")
    ((key, value),) = operand.items()
    if key == "$m":
        return [_check_field(value, where)]
    if key in _ARITH_OPS:
        if not isinstance(value, Mapping) or set(value) != {"$l", "$r"}:
            raise ValueError(f"{where}: {key} takes {{'$l': ..., '$r': ...}}")
        refs = _operand_refs(value["$l"], where) + _operand_refs(value["$r"], where)
        if not refs:
            # rete.c readExpression leaves a constant-only expression untyped: never matches.
            raise ValueError(f"{where}: {key} needs at least one $m operand")
        return refs
    raise ValueError(f"{where}: unsupported operand {dict(operand)!r}")


def _compile(cond: Any, where: str) -> tuple[list[dict[str, Any]], int, int]:
    """Validate and harden one condition.

    Returns ``(conjuncts, weight, bool_nodes)``: a list of conditions whose
    conjunction is equivalent to ``cond`` (with ``$ex`` guards for ``$m``
    references), the number of alpha-network paths (see module docstring) and
    the number of ``$and``/``$or`` nodes the conjuncts contain.
    """
    if not isinstance(cond, Mapping) or len(cond) != 1:
        raise ValueError(f"{where}: a condition is an object with exactly one key, got {cond!r}")
    ((key, value),) = cond.items()
    if key in ("$and", "$or"):
        if not isinstance(value, Sequence) or isinstance(value, (str, bytes)) or not value:
            raise ValueError(f"{where}: {key} takes a non-empty list of conditions")
        parts = [_compile(item, where) for item in value]
        if key == "$and":
            conjuncts: list[dict[str, Any]] = []
            seen: set[str] = set()
            weight, nodes = 1, 0
            for sub, w, n in parts:
                for c in sub:
                    k = _encode(c)
                    if "$ex" in c and k in seen:
                        continue
                    seen.add(k)
                    conjuncts.append(c)
                weight *= w
                nodes += n
            return conjuncts, weight, nodes
        branches = []
        weight, nodes = 0, 1
        for sub, w, n in parts:
            if len(sub) == 1:
                branches.append(sub[0])
            else:
                branches.append({"$and": sub})
                nodes += 1
            weight += w
            nodes += n
        return [{"$or": branches}], weight, nodes
    if key in _CMP_OPS:
        if not isinstance(value, Mapping) or len(value) != 1:
            raise ValueError(f"{where}: {key} takes {{field: operand}}")
        ((field, operand),) = value.items()
        _check_field(field, where)
        refs = _operand_refs(operand, where)
        leaf = {key: {field: operand}}
    elif key in _EXIST_OPS:
        if not isinstance(value, Mapping) or len(value) != 1:
            raise ValueError(f"{where}: {key} takes {{field: 1}}")
        ((field, _),) = value.items()
        return [{key: {_check_field(field, where): 1}}], 1, 0
    elif isinstance(key, str) and key.startswith("$"):
        raise ValueError(f"{where}: unsupported operator {key!r}")
    else:  # implicit $eq
        field = _check_field(key, where)
        refs = _operand_refs(value, where)
        leaf = {field: value}
    guards = [{"$ex": {ref: 1}} for ref in dict.fromkeys(refs) if ref != field]
    return guards + [leaf], 1, 0


def _compile_rule(name: str, cond: Any) -> tuple[dict[str, Any], int]:
    where = f"rule {name!r}"
    conjuncts, weight, nodes = _compile(cond, where)
    nodes += 1  # the guard's $and
    if nodes > MAX_BOOL_NODES_PER_RULE:
        raise EngineError(
            f"{where} has {nodes} $and/$or nodes after compilation; durable_rules allows "
            f"{MAX_BOOL_NODES_PER_RULE}",
            ERR_EXPRESSION_LIMIT_EXCEEDED,
        )
    reads = _fields_of(conjuncts)
    if len(reads) > MAX_FACT_FIELDS:
        raise EngineError(
            f"{where} reads {len(reads)} fact fields; durable_rules parses at most {MAX_FACT_FIELDS} "
            "besides sid, id and the guard",
            ERR_MAX_OBJECT_PROPERTIES,
        )
    if weight > MAX_PATHS_PER_RULESET - 1:
        raise EngineError(
            f"{where} has {weight} alpha paths ($or branches multiplied through $and); "
            f"one ruleset can only walk {MAX_PATHS_PER_RULESET} (one taken by the priming rule)",
            ERR_MAX_STACK_SIZE,
        )
    return {"$and": [_GUARD_COND, *conjuncts]}, weight


def rule_weight(cond: Mapping[str, Any]) -> int:
    """Number of alpha-network paths of a condition (its share of the 64-slot stack)."""
    return _compile(cond, "condition")[1]


def _chunk(compiled: list[tuple[str, dict[str, Any], int]]) -> list[list[tuple[str, dict[str, Any]]]]:
    """Pack rules, in order, into rulesets within both per-ruleset limits: at most 63 alpha paths
    (error 303) and at most MAX_FACT_FIELDS fact fields read (each ruleset is sent only the fields
    its rules read; an object of 255 properties is error 302)."""
    chunks: list[list[tuple[str, dict[str, Any]]]] = []
    budget = 0
    fields: set[str] = set()
    for name, cond, weight in compiled:
        reads = _fields_of(cond) - {GUARD_FIELD}
        if not chunks or budget + weight > MAX_PATHS_PER_RULESET - 1 or len(fields | reads) > MAX_FACT_FIELDS:
            chunks.append([])
            budget = 0
            fields = set()
        chunks[-1].append((name, cond))
        budget += weight
        fields |= reads
    return chunks


def _groups_of(rules: Mapping[str, Any], groups: Mapping[str, str] | None) -> dict[str, str]:
    """Each rule's group: ``groups[name]``, or one group for all rules."""
    if groups is None:
        return dict.fromkeys(rules, "")
    missing = sorted(set(rules) - groups.keys())
    if missing:
        raise ValueError(f"rules without a group: {missing[:5]}")
    return {name: groups[name] for name in rules}


def _grouped_chunks(compiled: list[tuple[str, dict[str, Any], int]],
                    group_of: Mapping[str, str]) -> list[list[tuple[str, dict[str, Any]]]]:
    """The rulesets of each group (in the order groups first appear), packed as :func:`_chunk`
    does: no ruleset holds rules of two groups."""
    by_group: dict[str, list[tuple[str, dict[str, Any], int]]] = {}
    for rule in compiled:
        by_group.setdefault(group_of[rule[0]], []).append(rule)
    return [chunk for members in by_group.values() for chunk in _chunk(members)]


def _ruleset_json(rules: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    definition = {name: {"all": [{"m": cond}]} for name, cond in rules}
    definition[PRIME_RULE] = {"all": [{"m": _PRIME_COND}]}
    return _encode(definition)


def _prime(handle: int) -> None:
    """Run one action through state slot 1 of a new ruleset; caller holds the lock."""
    try:
        _, state = _dre.assert_fact(handle, _PRIME_FACT)
        try:
            started = _dre.start_action_for_state(handle, state)
            primed = False
            messages = None if started is None else started[1]
            while messages is not None:  # $nex rules may fire for the priming fact too
                primed = primed or messages.startswith(f'{{"{PRIME_RULE}"')
                messages = _dre.complete_and_start_action(handle, state)
            if not primed:
                raise EngineError("priming the ruleset did not run the priming action")
        finally:
            _dre.delete_state(handle, _PRIME_SID)
    except _NativeError as exc:
        raise _wrap(exc, "priming ruleset") from None


def _discard_live_state(handle: int) -> str | None:
    """Delete a ruleset's live state (the next fact creates it again); the engine's message if it
    refuses, as it does when there is no live state (a parse error before any fact)."""
    try:
        _delete_state(handle, LIVE_SID)
    except _NativeError as exc:
        return str(exc)
    return None


def prime_ruleset(handle: int) -> None:
    """Prime a ruleset created from :func:`compile_rulesets` output; call once, before use."""
    with _ENGINE_LOCK:
        _prime(handle)


def compile_rulesets(rules: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The ruleset definitions (JSON) :class:`RuleNetwork` would create for ``rules``.

    Guarded, hardened, split and with the priming rule, exactly as
    :class:`RuleNetwork` does; used by ``bench/raw_durable.py`` to measure the
    bare engine on identical rulesets.  Pass each new handle to
    :func:`prime_ruleset` before asserting anything else.
    """
    return [definition for _, definition in compile_grouped_rulesets(rules)]


def compile_grouped_rulesets(rules: Mapping[str, Mapping[str, Any]],
                             groups: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(group, definition) of each ruleset ``RuleNetwork(rules, groups=groups)`` would create."""
    group_of = _groups_of(rules, groups)
    return [(group_of[chunk[0][0]], _ruleset_json(chunk))
            for chunk in _grouped_chunks(_compile_rules(rules), group_of)]


def _compile_rules(rules: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, dict[str, Any], int]]:
    """(name, guarded condition, weight) for each rule, in the given order."""
    compiled = []
    for name, cond in rules.items():
        if not isinstance(name, str) or not _RULE_NAME.match(name):
            raise ValueError(f"rule name {name!r} is not an identifier ([A-Za-z_][A-Za-z0-9_]*)")
        guarded, weight = _compile_rule(name, cond)
        compiled.append((name, guarded, weight))
    return compiled


def property_hash(name: str) -> int:
    """durable_rules' name for a fact field: ``fnv1Hash32`` (state.c) of its UTF-8 bytes, with C's
    signed ``char`` (x86) sign-extending bytes from 0x80."""
    value = 0x811C9DC5
    for byte in name.encode("utf-8"):
        value ^= byte if byte < 0x80 else byte | 0xFFFFFF00
        value = (value * 16777619) & 0xFFFFFFFF
    return value


def _check_hashes(rules: list[tuple[str, dict[str, Any], int]]) -> None:
    """durable_rules identifies a fact's fields by this 32-bit hash alone (``getObjectProperty``
    compares hashes, never names): two fields with one hash are one field to the engine, and a rule
    on the first would fire for a fact giving only the second. Refuse such a network."""
    seen = {property_hash(name): name for name in sorted(RESERVED_FIELDS - {"$s", "$forward"})}
    for _, cond, _ in rules:
        for name in sorted(_fields_of(cond)):
            other = seen.setdefault(property_hash(name), name)
            if other != name:
                raise EngineError(f"fields {other!r} and {name!r} have the same durable_rules property hash "
                                  f"{property_hash(name):#010x}: the engine could not tell them apart")


# -- runtime ------------------------------------------------------------------


def _delete_rulesets(handles: list[int]) -> None:
    """weakref.finalize callback: free a collected network's rulesets."""
    if not handles:
        return
    if _ENGINE_LOCK.acquire(blocking=False):
        try:
            for handle in handles:
                _release_ruleset(handle)  # in a finalizer: nothing could act on a failure
        finally:
            _ENGINE_LOCK.release()
    else:  # collected while some thread holds the lock (maybe this one): defer
        _PENDING_DELETE.extend(handles)
    handles.clear()


def _fields_of(cond: Any) -> set[str]:
    """Every fact field a (compiled) condition reads, including ``$m`` references."""
    found: set[str] = set()
    if isinstance(cond, Mapping):
        for key, value in cond.items():
            if key == "$m" and isinstance(value, str):
                found.add(value)
            elif not key.startswith("$"):
                found.add(key)
                found |= _fields_of(value)
            else:
                found |= _fields_of(value)
    elif isinstance(cond, (list, tuple)):
        for item in cond:
            found |= _fields_of(item)
    return found


def _release_ruleset(handle: int) -> str | None:
    """Delete one ruleset; the engine's message when it refuses (the handle is already gone)."""
    try:
        _dre.delete_ruleset(handle)
    except _NativeError as exc:
        return str(exc)
    return None


def _flush_pending() -> None:
    """Delete deferred rulesets; caller holds ``_ENGINE_LOCK``."""
    while _PENDING_DELETE:
        _release_ruleset(_PENDING_DELETE.pop())  # already unreachable: nothing could act on a failure


class RuleNetwork:
    """A set of named rules compiled into durable_rules rulesets, evaluated one fact at a time.

    ``rules`` maps a rule name (``[A-Za-z_][A-Za-z0-9_]*``) to a durable_rules
    condition for the single fact term ``m``, in this subset::

        cond    := {"$and": [cond, ...]} | {"$or": [cond, ...]}
                 | {field: operand}                       # implicit $eq
                 | {"$eq"|"$neq"|"$lt"|"$lte"|"$gt"|"$gte": {field: operand}}
                 | {"$ex"|"$nex": {field: 1}}
        operand := str | int | float | bool
                 | {"$m": field}                           # another field of the fact
                 | {"$add"|"$sub"|"$mul"|"$div": {"$l": operand, "$r": operand}}
                                                           # with at least one $m

    A comparison involving a missing field never holds (``$neq`` included);
    ``$nex`` holds exactly when the field is missing.  The engine coerces
    between types (``1 == "1"``, ``True == 1``, ``1 == 1.0``): keep each field's
    type consistent between rules and facts.

    Rules are split over as many rulesets as needed to stay clear of engine
    error 303 (see the module docstring).  Instances are thread safe; all
    engine calls in the process are serialised by one lock.
    """

    def __init__(self, rules: Mapping[str, Mapping[str, Any]], *, label: str = "claimrules",
                 groups: Mapping[str, str] | None = None) -> None:
        if not isinstance(label, str) or not label or "\x00" in label:
            raise ValueError(f"label must be a non-empty string, got {label!r}")
        compiled = _compile_rules(rules)
        _check_hashes(compiled)
        self._group_of_rule = _groups_of(rules, groups)
        self._label = f"{label}.{next(_network_ids)}"
        self._ruleset_ids = itertools.count()
        self._rules: dict[int, list[tuple[str, dict[str, Any]]]] = {}  # handle -> its rules
        self._fields: dict[int, tuple[str, ...]] = {}  # handle -> the fact fields its rules read
        self._handles: tuple[int, ...] = ()
        self._group: dict[int, str] = {}  # handle -> the group of all its rules
        #: Per set of groups asked (None: all), the rulesets to ask and their pickers (``_targets_of``).
        self._targets: dict[frozenset[str] | None, tuple[tuple[int, Callable[[Mapping[str, str]], Any]], ...]] = {}
        self._live: list[int] = []  # shared with the finalizer
        self._closed = False
        self._finalizer = weakref.finalize(self, _delete_rulesets, self._live)
        with _ENGINE_LOCK:
            _flush_pending()
            try:
                self._handles = tuple(self._create(chunk) for chunk in _grouped_chunks(compiled, self._group_of_rule))
            except BaseException:
                self._close_locked()
                raise

    # -- lifecycle --

    def _create(self, chunk: list[tuple[str, dict[str, Any]]]) -> int:
        """Create one ruleset; caller holds the lock."""
        name = f"{self._label}.{next(self._ruleset_ids)}"
        try:
            handle: int = _dre.create_ruleset(name, _ruleset_json(chunk))
        except _NativeError as exc:
            # NB: rete.c registers the handle before building the tree, so a
            # failed create_ruleset leaks one handle and its memory.
            raise _wrap(exc, f"creating ruleset {name!r} ({len(chunk)} rules)") from None
        self._live.append(handle)
        self._rules[handle] = chunk
        self._group[handle] = self._group_of_rule[chunk[0][0]]
        self._fields[handle] = tuple(sorted({field for _, cond in chunk for field in _fields_of(cond)} - {GUARD_FIELD}))
        _prime(handle)
        return handle

    def _close_locked(self) -> None:
        self._closed = True
        handles, self._handles = self._live[:], ()
        self._targets.clear()
        self._live.clear()
        self._rules.clear()
        self._finalizer.detach()
        failures = [problem for problem in map(_release_ruleset, handles) if problem is not None]
        if failures:
            raise EngineError("could not delete rulesets: " + "; ".join(failures))

    def close(self) -> None:
        """Delete the rulesets.  Idempotent."""
        with _ENGINE_LOCK:
            if not self._closed:
                self._close_locked()
            _flush_pending()

    def __enter__(self) -> RuleNetwork:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def ruleset_count(self) -> int:
        return len(self._handles)

    @property
    def closed(self) -> bool:
        return self._closed

    # -- evaluation --

    def fired(self, fact: Mapping[str, Any], groups: Collection[str] | None = None,
              members: Mapping[str, str] | None = None) -> frozenset[str]:
        """Names of the rules whose condition holds for ``fact``; with ``groups``, of the rules of
        those groups only (the rulesets of other groups are not asked).

        ``members``: every field the network reads (``blank_members()``), mapped to ``,`` and the
        field with its value as ``encode_member`` writes them (``,"field":<JSON>``) where ``fact``
        has it and to ``""`` where it does not, when the caller has them already (claimrules'
        generated fill functions write both); else they are computed here.

        ``fact`` maps field names to str/int/float/bool values (at most
        :data:`MAX_FACT_FIELDS`, none in :data:`RESERVED_FIELDS`).  The fact is
        asserted into every ruleset's live state, all actions are drained and
        the fact is retracted again; after an error the state is deleted.
        """
        if type(fact) is not dict:
            fact = dict(fact)
        if (
            "sid" in fact
            or "id" in fact
            or GUARD_FIELD in fact
            or PRIME_FIELD in fact
            or "$forward" in fact
            or "$s" in fact
        ):
            raise ValueError(f"fact uses a reserved field: {sorted(RESERVED_FIELDS & fact.keys())}")
        out: set[str] = set()
        with _ENGINE_LOCK:
            if self._closed:
                raise EngineError("RuleNetwork is closed")
            head = _FACT_HEAD
            # Each member is encoded once; each ruleset is sent only the fields its rules read (less
            # JSON for the engine to parse), in the same bytes as encoding that sub-object. The
            # members are picked (one itemgetter) and joined in C: no Python step per field.
            if members is None:
                members = self._members_of(fact)
            if groups is not None and type(groups) is not frozenset:
                groups = frozenset(groups)
            targets = self._targets.get(groups)
            if targets is None:
                targets = self._targets_of(groups)
            for handle, pick in targets:
                self._run(handle, head + "".join(pick(members)) + "}", out)
        return frozenset(out)

    def blank_members(self) -> dict[str, str]:
        """Every field the network reads, mapped to ``""``: what a caller fills to give ``fired`` its
        ``members`` (a copy per fact)."""
        return dict.fromkeys(sorted({field for fields in self._fields.values() for field in fields}), "")

    def _members_of(self, fact: Mapping[str, Any]) -> dict[str, str]:
        """``members`` for a caller without them (the reference path, tests)."""
        members = self.blank_members()
        for field, value in fact.items():
            if field in members:
                members[field] = "," + encode_member(field, value)
        return members

    def _targets_of(self, groups: frozenset[str] | None) -> tuple[tuple[int, Callable[[Mapping[str, str]], Any]], ...]:
        """The rulesets asked for ``groups`` (every one for None), with what picks the members each
        reads: kept per set of groups (a few per policy set: the sets of documents that may apply)."""
        targets = tuple((handle, _picker(self._fields[handle])) for handle in self._handles
                        if groups is None or self._group[handle] in groups)
        if len(self._targets) >= 1024:  # a policy set with very many documents
            self._targets.clear()
        self._targets[groups] = targets
        return targets

    def _run(self, handle: int, payload: str, out: set[str]) -> None:
        """Assert ``payload`` into one ruleset's live state, drain it and retract the fact; caller
        holds the lock. On an error the live state is deleted, so no part of the fact survives."""
        try:
            result, state = _assert_fact(handle, payload)
        except _NativeError as exc:
            # The fact may be in the state (an error inside the alpha walk) or not (a parse error).
            problem = _discard_live_state(handle)
            if problem is not None:
                exc.add_note(f"deleting the live state afterwards: {problem}")
            if _code_of(exc) == ERR_MAX_STACK_SIZE:
                for half in self._split(handle):
                    self._run(half, payload, out)
                return
            raise _wrap(exc, "asserting fact") from None
        try:
            if result == 0:  # 1 = ERR_EVENT_NOT_HANDLED: no rule reached
                started = _start_action_for_state(handle, state)
                if started is not None:
                    add = out.add
                    messages = started[1]
                    while messages is not None:
                        # messages = '{"<rule name>":{"m":{...}}}'
                        add(messages[2 : messages.index('"', 2)])
                        messages = _complete_and_start_action(handle, state)
            retracted = _retract_fact(handle, _RETRACT)[0]
        except _NativeError as exc:
            problem = _discard_live_state(handle)
            if problem is not None:
                exc.add_note(f"deleting the live state afterwards: {problem}")
            raise _wrap(exc, "draining or retracting") from None
        if retracted != 0:  # the rules are known; only the clean-up failed: start the next fact afresh
            _discard_live_state(handle)

    def _split(self, handle: int) -> tuple[int, int]:
        """Replace a ruleset that overflowed the alpha stack by two halves."""
        chunk = self._rules[handle]
        if len(chunk) < 2:
            raise EngineError(
                f"rule {chunk[0][0]!r} alone overflows durable_rules' alpha stack", ERR_MAX_STACK_SIZE
            )
        middle = len(chunk) // 2
        first = self._create(chunk[:middle])
        second = self._create(chunk[middle:])
        handles = list(self._handles)
        index = handles.index(handle)
        handles[index : index + 1] = [first, second]
        self._handles = tuple(handles)
        self._targets.clear()
        del self._rules[handle]
        del self._group[handle]
        del self._fields[handle]
        self._live.remove(handle)
        problem = _release_ruleset(handle)
        if problem is not None:
            raise EngineError(f"could not delete the overflowing ruleset: {problem}")
        return first, second

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self.ruleset_count} rulesets"
        return f"<RuleNetwork {self._label} {state}>"
