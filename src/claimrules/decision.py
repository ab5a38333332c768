"""The decision: one immutable value that carries everything needed to explain, render, store and compare it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)
from pydantic_core import SchemaSerializer

from claimrules.money import Money
from claimrules.unvalidated import unvalidated

Outcome = Literal["approve", "deny", "refer", "needs_information"]
Truth = Literal["true", "false", "unknown"]
ValueKind = Literal["date", "money", "place", "count", "number", "text", "yes_no", "list"]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def trusted(cls, **fields: Any) -> Self:
        """A value from fields claimrules computed itself: what ``model_construct`` makes (fields in
        declared order, defaults for those not given, no validation) without its per-field alias
        search (a reason makes several values, a decision tens)."""
        shape = _SHAPES.get(cls) or _shape(cls)
        if not shape.required <= fields.keys() <= shape.names:
            unknown, missing = sorted(fields.keys() - shape.names), sorted(shape.required - fields.keys())
            raise TypeError(f"{cls.__name__} has no field {', '.join(unknown)}" if unknown
                            else f"{cls.__name__}.trusted() is missing {', '.join(missing)}")
        values = shape.defaults.copy()  # declared order; update() keeps each key where it is
        values.update(fields)
        return unvalidated(cls, values, set(fields))

    def replaced(self, **changes: Any) -> Self:
        """This value with some fields changed to values claimrules computed (not validated, as
        ``trusted``): a dated escalation step per decision from the party's undated one."""
        values = self.__dict__.copy()
        if not changes.keys() <= values.keys():
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(changes.keys() - values.keys()))}")
        values.update(changes)
        return unvalidated(type(self), values, self.__pydantic_fields_set__ | changes.keys())


_REQUIRED = object()


class _Shape(NamedTuple):
    """A model's fields as building it without validation needs them (worked out once per class)."""

    names: frozenset[str]
    required: frozenset[str]
    #: Every field in declared order, with its default (``_REQUIRED`` if it has none).
    defaults: dict[str, Any]


_SHAPES: dict[type, _Shape] = {}


def _shape(cls: type[BaseModel]) -> _Shape:
    if any(field.default_factory is not None for field in cls.model_fields.values()):
        raise TypeError(f"{cls.__name__} has a field with a default factory: it cannot be built without validation")
    shape = _SHAPES[cls] = _Shape(
        frozenset(cls.model_fields),
        frozenset(name for name, field in cls.model_fields.items() if field.is_required()),
        {name: _REQUIRED if field.is_required() else field.default for name, field in cls.model_fields.items()})
    return shape


class Citation(_Value):
    """A contract section a decision relies on, with its wording."""

    clause: str
    document: str
    title: str
    text: str
    version: str | None = None


class FactUsed(_Value):
    name: str
    value: str


class ConditionTrace(_Value):
    """One test of a clause's condition, the facts and definitions it read (values in ``Decision.facts``), and its result."""

    condition: str
    label: str | None = None
    result: Truth
    reads: tuple[str, ...] = ()


class ClauseTrace(_Value):
    clause: str
    document: str
    version: str | None = None
    effect: str
    result: Truth
    branch: Literal["when", "otherwise", "always"] = "when"
    set_aside_by: str | None = None
    conditions: tuple[ConditionTrace, ...] = ()


class Amount(_Value):
    kind: Literal["service_fee", "restocking_fee", "accessory_deduction", "shipping", "refund"]
    money: Money
    clause: str


class Notice(_Value):
    clause: str
    text: str


class Party(_Value):
    id: str
    name: str
    contact: str = ""


class EscalationStep(_Value):
    clause: str
    who: str
    contact: str = ""
    ask_by: date | None = None
    answer_within: str | None = None


class ValueUsed(_Value):
    """A value a reason states: the fact or definition (``name``, internal), its customer-facing
    ``label``, its ``kind``, the value (ISO date, ``USD 899.00``, ISO 3166 code...) and in ``words``."""

    name: str
    label: str
    kind: ValueKind
    value: str
    words: str


class Reason(_Value):
    """One ground in one sentence a customer understands, with the values it states.

    ``branch``: ``holds`` (the clause's condition held), ``otherwise`` (its condition failed, which
    refuses) or ``missing`` (the facts a held claim needs).
    """

    clause: str
    branch: Literal["holds", "otherwise", "missing"]
    text: str
    values: tuple[ValueUsed, ...] = ()


class ExceptionOutcome(_Value):
    """What became of one recorded exception (an extension, or an event that counts as one, e.g. a
    documented deployment) under the policy's exceptions declaration (RT 3.1-3.4)."""

    declaration: str                 # the clause that declares the exceptions (e.g. RT 3.1)
    clause: str                      # the clause under which this one was granted (RT 3.1, RT 3.4)
    source: str                      # where the claim records it: 'extensions[2]', 'deployment'
    role: str
    granted_on: date
    asked_end: date
    counted_end: date                # the end it gives the window, within its grantor's authority
    status: Literal["counted", "capped", "void"]
    capped_by_days: int = 0          # how far past its grantor's authority it asked
    status_clause: str | None = None  # the clause that capped it (RT 3.2) or voided it (RT 3.3)
    reason: str = ""


class PolicyUsed(_Value):
    id: str
    fingerprint: str
    documents: tuple[str, ...]


#: The parts of a decision that explain it rather than decide it: built on first use (issue #15).
EXPLAINING = ("trace", "facts", "reasons")
#: The parts that identify it, hashes of the claim's canonical JSON: the adjudicator builds them on
#: first use too (re-deciding a book for its outcomes does not need them; writing it does).
IDENTIFYING = ("decision_id", "claim_fingerprint")
#: Every part a decision may build on first use, from the ``Explanation`` it was given.
DEFERRABLE = EXPLAINING + IDENTIFYING


#: Per decision class: its shape without the parts built on first use (``Decision.shared_part``).
_DEFERRED_SHAPE: dict[type, _Shape] = {}


def _deferred_shape(cls: type[BaseModel]) -> _Shape:
    shape = _SHAPES.get(cls) or _shape(cls)
    deferred = _DEFERRED_SHAPE[cls] = _Shape(shape.names.difference(EXPLAINING), shape.required.difference(EXPLAINING),
                                             {name: default for name, default in shape.defaults.items() if name not in EXPLAINING})
    return deferred


#: How to build each part built on first use, by field name (``Decision.explained_later``): the
#: explanation's parts, and in ``Decision.completed`` the identifying parts the claim does not give.
Explanation = Mapping[str, Callable[[], Any]]


#: Sets of field names shared by the parts that have them (``_interned``).
_NAME_SETS: dict[frozenset[str], frozenset[str]] = {}


def _interned(names: frozenset[str]) -> frozenset[str]:
    """One copy of each set of field names (a few per policy set; at most 1,024 are kept)."""
    found = _NAME_SETS.get(names)
    if found is None:
        if len(_NAME_SETS) >= 1024:
            return names
        found = _NAME_SETS[names] = names
    return found


class SharedPart(NamedTuple):
    """The fields the decisions of many claims share (``Decision.shared_part``), checked once."""

    #: Every field but the explanation's and ``later``, in declared order: the shared ones set, the
    #: rest at their defaults until a claim's own replace them.
    values: dict[str, Any]
    #: The fields a completed decision was given (pydantic's ``model_fields_set``).
    fields_set: frozenset[str]
    #: The fields each claim gives (``Decision.completed``), as values or (``later``) built on first use.
    claim_fields: frozenset[str]
    #: The claim's own fields ``Decision.completed`` takes as values.
    given: frozenset[str]
    #: The claim's own fields built on first use by the explanation (identifying ones only).
    later: tuple[str, ...]


class Decision(_Value):
    """What claimrules decided for one claim, and why.

    ``grounds`` lists every clause that independently supports the outcome, so no other reason can
    surface later (LW 7.1, CP 8.2, RT 5.1); ``trace`` shows every condition of every clause of the
    documents that spoke to the claim.

    The adjudicator builds ``trace``, ``facts`` and ``reasons``, and the hashes ``decision_id`` and
    ``claim_fingerprint``, on first use (reading any of them, serialising, comparing, copying or
    pickling the decision): most decisions of a batch are written once and a re-decided book is
    mostly compared by outcome, so they are not paid for until someone asks. Each is a pure
    function of the (immutable) claim and the policy, built from values the decision keeps, so it
    is the same bytes whenever it is asked for.
    """

    _explain: Explanation | None = PrivateAttr(default=None)

    decision_id: str
    outcome: Outcome
    decided_on: date
    deciding: Citation
    grounds: tuple[Citation, ...]
    remedy: str | None = None
    remedy_clause: str | None = None
    amounts: tuple[Amount, ...] = ()
    responsible: Party
    responsible_clause: str | None = None
    referred_to: str | None = None
    under_addendum: str | None = None
    displaced: tuple[Citation, ...] = ()
    notices: tuple[Notice, ...] = ()
    missing_facts: tuple[str, ...] = ()
    escalation: tuple[EscalationStep, ...] = ()
    documents_answering: tuple[str, ...] = ()
    policy: PolicyUsed
    claim_fingerprint: str
    trace: tuple[ClauseTrace, ...] = ()
    facts: tuple[FactUsed, ...] = ()
    reasons: tuple[Reason, ...] = ()
    """Per ground, in the grounds' order: the reason in words, with the values the engine used."""
    exceptions: tuple[ExceptionOutcome, ...] = ()

    @classmethod
    def explained_later(cls, explain: Explanation, **fields: Any) -> Decision:
        """A decision from trusted values (no validation) whose ``trace``, ``facts`` and ``reasons``
        are each built on first use by ``explain[name]()``."""
        return cls.completed(cls.shared_part((), **fields), explain)

    @classmethod
    def shared_part(cls, claim_fields: Iterable[str], later: Iterable[str] = (), **fields: Any) -> SharedPart:
        """``fields``, the part of the decisions of many claims that they share, checked once: each
        claim's decision is then ``completed`` with the fields named in ``claim_fields``, its own;
        those also named in ``later`` (identifying ones, ``IDENTIFYING``) are built on first use."""
        shape = _DEFERRED_SHAPE.get(cls) or _deferred_shape(cls)
        own = frozenset(claim_fields)
        wanted_later = set(later)
        deferred = tuple(name for name in IDENTIFYING if name in wanted_later)
        names = fields.keys() | own
        if own & fields.keys() or not shape.required <= names <= shape.names:
            unknown, missing = sorted(names - shape.names), sorted(shape.required - names)
            raise TypeError(f"a decision cannot take {', '.join(unknown)}" if unknown
                            else f"a decision is missing {', '.join(missing)}" if missing
                            else f"{', '.join(sorted(own & fields.keys()))} given as shared and as the claim's own")
        if not wanted_later <= own.intersection(IDENTIFYING):
            raise TypeError(f"only the claim's own identifying fields ({', '.join(IDENTIFYING)}) are built later, "
                            f"not {', '.join(sorted(wanted_later - own.intersection(IDENTIFYING)))}")
        # What model_construct does, without its per-field alias search (a decision per claim).
        values = shape.defaults.copy()
        values.update(fields)
        for name in deferred:  # absent until built (``settle`` puts it back in its place)
            del values[name]
        # The name sets are the same for nearly every part: one copy each, whatever the number of parts.
        return SharedPart(values, _interned(frozenset(names)), _interned(own), _interned(own.difference(deferred)),
                          deferred)

    @classmethod
    def completed(cls, part: SharedPart, explain: Explanation, **claim: Any) -> Decision:
        """A decision from trusted values (no validation): ``part`` with this claim's own fields,
        whose ``trace``, ``facts`` and ``reasons`` are each built on first use by ``explain[name]()``,
        as are the claim's own fields the part leaves for later (``SharedPart.later``)."""
        if claim.keys() != part.given:
            raise TypeError(f"a decision needs the claim's own {', '.join(sorted(part.given))}; "
                            f"given {', '.join(sorted(claim)) or 'none'}")
        for name in part.later:
            if name not in explain:
                raise TypeError(f"a decision needs its {name} built later, and the explanation does not build it")
        values = part.values.copy()  # declared order; update() keeps each key where it is
        values.update(claim)
        return unvalidated(cls, values, set(part.fields_set), {"_explain": explain})

    def settle(self, names: Iterable[str] = DEFERRABLE) -> Decision:
        """Build the deferred parts named (all by default) now; returns the decision."""
        explain = self._explain
        if explain is not None:
            fields = self.__dict__
            built = {name: explain[name]() for name in names if name not in fields and name in explain}
            if built:
                # pydantic writes fields in the order of __dict__: keep the declared order.
                ordered = {name: built[name] if name in built else fields[name]
                           for name in type(self).model_fields if name in fields or name in built}
                fields.clear()
                fields.update(ordered)
            if all(name in fields for name in explain):
                self._explain = None  # the claim's values it kept are no longer needed
        return self

    if not TYPE_CHECKING:  # mypy sees the declared fields; at run time, a deferred field settles first
        def __getattr__(self, name: str) -> Any:
            if name in DEFERRABLE:
                return self.settle((name,)).__dict__[name]
            return super().__getattr__(name)

    @model_serializer(mode="wrap")
    def _serialise_settled(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        # pydantic-core reads fields from __dict__ and would silently leave a deferred one out;
        # a part the caller excludes is not built for nothing.
        return handler(self._settle_for(info.exclude))

    # Settled before pydantic-core is called, so a failure to explain raises as itself (an
    # EvaluationError), not wrapped in a serialisation error. Once settled, the decision is
    # written by a serialiser without the wrap above (``_settled_serializer``): the same output,
    # without a Python call and a second pass over the decision inside pydantic-core. The wrap
    # stays for a decision written as part of something else (a response model, a TypeAdapter).
    def model_dump(self, **options: Any) -> dict[str, Any]:
        return _settled_serializer(type(self)).to_python(self._settle_for(options.get("exclude")), **options)  # type: ignore[no-any-return]

    def model_dump_json(self, **options: Any) -> str:
        return _settled_serializer(type(self)).to_json(self._settle_for(options.get("exclude")), **options).decode()

    def _settle_for(self, exclude: Any) -> Decision:
        excluded = exclude or ()
        return self.settle([name for name in DEFERRABLE if name not in excluded])

    def __eq__(self, other: object) -> bool:
        self.settle()
        if isinstance(other, Decision):
            other.settle()
        return super().__eq__(other)

    def __hash__(self) -> int:
        return super(Decision, self.settle()).__hash__()

    def __iter__(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        return super(Decision, self.settle()).__iter__()

    def __repr_args__(self) -> Any:
        return super(Decision, self.settle()).__repr_args__()

    def __getstate__(self) -> dict[Any, Any]:
        return super(Decision, self.settle()).__getstate__()

    def __copy__(self) -> Decision:
        return super(Decision, self.settle()).__copy__()

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Decision:
        return super(Decision, self.settle()).__deepcopy__(memo)

    def fact(self, name: str) -> str | None:
        """The value (as shown in traces) of a fact or definition the trace read."""
        for used in self.facts:
            if used.name == name:
                return used.value
        return None

    @property
    def adverse(self) -> bool:
        return self.outcome in ("deny", "refer")

    def amount(self, kind: str) -> Money | None:
        for amount in self.amounts:
            if amount.kind == kind:
                return amount.money
        return None

    def reason(self, clause: str) -> Reason | None:
        """The reason in words for one ground, by clause id."""
        return next((reason for reason in self.reasons if reason.clause == clause), None)

    @property
    def next_step(self) -> EscalationStep | None:
        return self.escalation[0] if self.escalation else None


#: Per decision class, its serialiser without the wrap that settles deferred fields.
_SETTLED_SERIALIZERS: dict[type, SchemaSerializer] = {}


def _settled_serializer(cls: type[Decision]) -> SchemaSerializer:
    """``cls``'s serialiser for a decision whose deferred fields are settled: its core schema less
    the wrap of ``_serialise_settled`` (which, as a Python call around the whole decision, has
    pydantic-core build it as Python values and then write those: twice the work of writing it).
    Where the schema is not laid out as expected, the model's own serialiser (same output)."""
    found = _SETTLED_SERIALIZERS.get(cls)
    if found is None:
        schema = _without_wrap(cls.__pydantic_core_schema__)
        found = _SETTLED_SERIALIZERS[cls] = cls.__pydantic_serializer__ if schema is None else SchemaSerializer(schema)
    return found


def _without_wrap(schema: Any) -> Any:
    if schema.get("type") == "definitions":
        inner = _without_wrap(schema["schema"])
        return None if inner is None else {**schema, "schema": inner}
    serialization = schema.get("serialization")
    if schema.get("type") == "model" and isinstance(serialization, dict) and serialization.get("type") == "function-wrap":
        return {key: value for key, value in schema.items() if key != "serialization"}
    return None
