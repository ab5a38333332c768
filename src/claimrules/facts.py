"""Claim facts: what a claim says, strictly validated against the policy set's vocabulary.

The vocabulary (``facts.yaml``, read by ``claimrules.vocabulary``) declares every fact; this module
builds the strict pydantic model of a claim from it (``model_of``), reads claim files, and turns
validation problems into one precise ``ClaimError`` naming the field. Unknown fields, wrong types
and impossible dates are errors. A fact a claim does not give is ``None`` (unknown), never a value
that could decide the claim unless the vocabulary declares a default: the engine asks for it when,
and only when, it could change the decision (LW 6.3).

Strict means strict: no bool is read as a number, no number or numeric text as a date, no date
with a time or zone as a date, no text as a number.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from claimrules.errors import ClaimError, did_you_mean
from claimrules.money import _NO_MINOR_UNIT, Money, minor_unit
from claimrules.territory import subdivision_country, validate_country, validate_subdivision
from claimrules.vocabulary import FactSpec, Vocabulary

MAX_CLAIM_BYTES = 1_000_000
MAX_LIST = 200
MIN_DATE = date(1900, 1, 1)    # dates outside these years are typos, and date arithmetic near
MAX_DATE = date(2199, 12, 31)  # year 9999 would overflow
MAX_AMOUNT = Decimal(10) ** 12
CLAIM_FILE_KEYS = ("expected", "$schema", "story")   # what a claim file may carry beside its facts


class _Record(BaseModel):
    """A group of facts or a list item: unknown fields refused, nothing coerced."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, str_strip_whitespace=True)

    __within__: ClassVar[tuple[tuple[str, str], ...]] = ()   # (subdivision field, its country field)

    @model_validator(mode="after")
    def _subdivisions_in_their_country(self) -> _Record:
        for subdivision, country in self.__within__:
            code, in_country = getattr(self, subdivision), getattr(self, country)
            if code is not None and in_country is not None and subdivision_country(code) != in_country:
                raise ValueError(f"{subdivision} {code} is not in {country} {in_country}")
        return self

    if TYPE_CHECKING:  # the fields are the vocabulary's, known only at run time
        def __getattr__(self, name: str) -> Any: ...


class ClaimFacts(_Record):
    """Everything claimrules may know about one claim: the base of every vocabulary's claim model."""

    __vocabulary__: ClassVar[Vocabulary]

    @model_validator(mode="after")
    def _cross_field_checks(self) -> ClaimFacts:
        dates: list[tuple[str, date, FactSpec, BaseModel, str, bool]] = []
        amounts: list[tuple[str, Money]] = []
        _collect(self, _checked_tree(type(self).__vocabulary__), "", False, dates, amounts)
        for label, day, _, _, _, _ in dates:
            if not MIN_DATE <= day <= MAX_DATE:
                raise ValueError(f"{label} {day} is outside the years {MIN_DATE.year}-{MAX_DATE.year}")
        for label, day, spec, record, prefix, in_item in dates:
            if spec.not_before is not None:
                _check_not_before(self, label, day, spec, record, prefix, in_item)
        _check_money(amounts)
        return self

    @property
    def vocabulary(self) -> Vocabulary:
        return type(self).__vocabulary__

    def role_value(self, role: str) -> Any:
        """The value of the fact the vocabulary declares for an engine role (None if none is declared or given).

        Roles: ``decision_date`` (decided as of that day unless told otherwise), ``country`` and
        ``subdivision`` (whose public holidays count business days), ``requested_service``.
        """
        path = type(self).__vocabulary__.roles.get(role)
        return None if path is None else _value_at(self, path)

    @property
    def decision_date(self) -> date | None:
        """The day the claim is decided on by default: the fact with ``role: decision_date``."""
        value = self.role_value("decision_date")
        return value if isinstance(value, date) else None


# -- strict leaf types --------------------------------------------------------------------------------

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMERIC_TEXT = re.compile(r"\s*[+-]?\d+(\.\d*)?([eE][+-]?\d+)?\s*")


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _json_shown(value: Any) -> str:
    """A value as the claim's JSON wrote it: true, 12.5, '90', an object."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        text = str(value)
        return text if len(text) <= 40 else text[:37] + "..."
    return _shown(value)


def _wrong_type(value: Any, wanted: str, expected: str) -> PydanticCustomError:
    """A value of the wrong JSON type: never coerced, always named (e.g. 'true is true/false, not a number')."""
    return PydanticCustomError("claimrules_type", "{shown} is {kind}, not {wanted}",
                               {"shown": _json_shown(value), "kind": _kind_of(value), "wanted": wanted,
                                "expected": expected})


_DATE = "a date YYYY-MM-DD"


def _strict_date(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        if _ISO_DATE.fullmatch(value):
            return handler(value)
        if value.isdigit() and len(value) == 8:
            raise PydanticCustomError("claimrules_type", "'{input}' is not a date: write it with dashes, {shown}",
                                      {"input": value, "shown": f"{value[:4]}-{value[4:6]}-{value[6:]}",
                                       "expected": _DATE})
        if _NUMERIC_TEXT.fullmatch(value):
            raise PydanticCustomError("claimrules_type", "{shown} is a number in text, not a date",
                                      {"shown": _shown(value), "expected": _DATE})
        handler(value)  # pydantic's own message for what it refuses ('2024-13-01', '09/16/2024', a time of day)
        raise PydanticCustomError("claimrules_type", "{shown} has a time or time zone; a date has neither",
                                  {"shown": _shown(value), "expected": _DATE})
    raise _wrong_type(value, "a date", _DATE)


def _strict_bool(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        raise PydanticCustomError("bool_parsing", "Input should be a valid boolean, unable to interpret input")
    raise _wrong_type(value, "true or false", "true or false")


def _strict_integer(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, str) and not _NUMERIC_TEXT.fullmatch(value):
        raise PydanticCustomError("int_parsing", "Input should be a valid integer, unable to parse string as an integer")
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return handler(value)
    raise _wrong_type(value, "a number", "a whole number")


def _strict_decimal(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return handler(value)
    raise _wrong_type(value, "a number", "a number")


def _strict_choice(spec: FactSpec) -> Callable[[Any, ValidatorFunctionWrapHandler], Any]:
    expected = ", ".join(f"'{value}'" for value in spec.values[:-1]) + (" or " if len(spec.values) > 1 else "") + \
        f"'{spec.values[-1]}'"

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(value, str):
            return handler(value)
        raise _wrong_type(value, "one of the listed values", expected)

    return check


def _strict_text(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, str):
        return handler(value)
    raise PydanticCustomError("string_type", "Input should be a valid string")


def _pattern_check(spec: FactSpec) -> Callable[[str], str]:
    pattern = re.compile(spec.pattern or "")
    hint = spec.pattern_hint or f"text matching {spec.pattern}"

    def check(value: str) -> str:
        if not pattern.search(value):  # JSON Schema semantics: anchor with ^...$ to match the whole text
            raise ValueError(f"'{value[:60]}' is not {hint}")
        return value

    return check


def _sorted_items(items: tuple[BaseModel, ...]) -> tuple[BaseModel, ...]:
    """List-valued facts in one canonical order: the order a claim lists them in never matters."""
    return tuple(sorted(items, key=lambda item: item.model_dump_json())) if len(items) > 1 else items


def _number_schema(spec: FactSpec, kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind}
    if spec.minimum is not None:
        schema["minimum"] = int(spec.minimum) if kind == "integer" else float(spec.minimum)
    if spec.maximum is not None:
        schema["maximum"] = int(spec.maximum) if kind == "integer" else float(spec.maximum)
    if spec.places is not None:
        schema["multipleOf"] = float(Decimal(1).scaleb(-spec.places))
    return schema


def _bound(value: Decimal | None) -> int | Decimal | None:
    """A declared min/max as pydantic shows it in messages: 100, not Decimal('100')."""
    return None if value is None else int(value) if value == value.to_integral_value() else value


def _annotation(spec: FactSpec, owner: str) -> Any:
    """The pydantic type of one declared fact (without its optionality)."""
    kind = spec.type
    if kind == "date":
        return Annotated[date, WrapValidator(_strict_date)]
    if kind == "bool":
        return Annotated[bool, WrapValidator(_strict_bool)]
    if kind == "integer":
        return Annotated[int, WrapValidator(_strict_integer), Field(ge=_bound(spec.minimum), le=_bound(spec.maximum)),
                         WithJsonSchema(_number_schema(spec, "integer"))]
    if kind == "decimal":
        return Annotated[Decimal, WrapValidator(_strict_decimal),
                         Field(ge=_bound(spec.minimum), le=_bound(spec.maximum), decimal_places=spec.places, allow_inf_nan=False),
                         WithJsonSchema(_number_schema(spec, "number"))]
    if kind == "money":
        return Money
    if kind == "enum":
        return Annotated[Literal.__getitem__(spec.values), WrapValidator(_strict_choice(spec))]
    if kind == "text":
        validators: list[Any] = [Field(min_length=spec.min_length, max_length=spec.max_length,
                                       json_schema_extra={"pattern": spec.pattern.replace("(?P<", "(?<")}  # ECMA-262 group names
                                       if spec.pattern else None),
                                 WrapValidator(_strict_text)]
        if spec.pattern is not None:
            validators.append(AfterValidator(_pattern_check(spec)))
        return Annotated[str, *validators]
    if kind == "country":
        return Annotated[str, WrapValidator(_strict_text), AfterValidator(validate_country),
                         WithJsonSchema({"type": "string", "pattern": "^[A-Z]{2}$"})]
    if kind == "subdivision":
        return Annotated[str, WrapValidator(_strict_text), AfterValidator(validate_subdivision),
                         WithJsonSchema({"type": "string", "pattern": "^[A-Z]{2}-[A-Z0-9]{1,3}$"})]
    record = _record_model(spec, owner)
    if kind == "list":
        return Annotated[tuple[record, ...], Field(max_length=spec.max_items),  # type: ignore[valid-type]
                         AfterValidator(_sorted_items)]
    return record


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) or "Fact"


def _fields(specs: tuple[FactSpec, ...], owner: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for spec in specs:
        annotation = _annotation(spec, owner)
        info: dict[str, Any] = {"description": spec.description} if spec.description else {}
        if spec.type == "list":
            fields[spec.name] = (annotation, Field(default=(), **info))
        elif spec.required:
            fields[spec.name] = (annotation, Field(..., **info))
        elif spec.has_default:
            fields[spec.name] = (annotation, Field(default=spec.default, **info))
        else:
            fields[spec.name] = (annotation | None, Field(default=None, **info))
    return fields


def _record_model(spec: FactSpec, owner: str) -> type[_Record]:
    name = _camel(spec.name)
    within = tuple((field.name, field.within) for field in spec.fields if field.within is not None)
    model: type[_Record] = create_model(
        f"{owner}{name}" if owner else name, __base__=_Record, __doc__=spec.description or None,
        **_fields(spec.fields, owner))
    model.__within__ = within
    return model


def model_of(vocabulary: Vocabulary) -> type[ClaimFacts]:
    """The strict claim model of a vocabulary (built once per vocabulary)."""
    cached = vocabulary.__dict__.get("_model")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    model: type[ClaimFacts] = create_model(
        "ClaimFacts", __base__=ClaimFacts, __doc__="Everything claimrules may know about one claim.",
        **_fields(vocabulary.groups, ""))
    model.__vocabulary__ = vocabulary
    object.__setattr__(vocabulary, "_model", model)
    return model


# -- cross-field checks ---------------------------------------------------------------------------------

_Tree = tuple[tuple[FactSpec, "_Tree"], ...]


def _checked_tree(vocabulary: Vocabulary) -> _Tree:
    """The vocabulary cut down to the dates and amounts the cross-field checks read (built once)."""
    cached = vocabulary.__dict__.get("_checked_tree")
    if cached is not None:
        return cached  # type: ignore[no-any-return]

    def prune(specs: tuple[FactSpec, ...]) -> _Tree:
        kept: list[tuple[FactSpec, _Tree]] = []
        for spec in specs:
            if spec.type in ("date", "money"):
                kept.append((spec, ()))
            elif spec.fields:
                children = prune(spec.fields)
                if children:
                    kept.append((spec, children))
        return tuple(kept)

    tree = prune(vocabulary.groups)
    object.__setattr__(vocabulary, "_checked_tree", tree)
    return tree


def _collect(record: BaseModel, tree: _Tree, prefix: str, in_item: bool,
             dates: list[tuple[str, date, FactSpec, BaseModel, str, bool]], amounts: list[tuple[str, Money]]) -> None:
    """Every date and amount a claim gives, in the vocabulary's order, with its field path
    (items of lists as ``extensions[0].new_end``)."""
    for spec, children in tree:
        value = getattr(record, spec.name)
        if value is None:
            continue
        if spec.type == "date":
            dates.append((prefix + spec.name, value, spec, record, prefix, in_item))
        elif spec.type == "money":
            amounts.append((prefix + spec.name, value))
        elif spec.type == "list":
            for index, item in enumerate(value):
                _collect(item, children, f"{prefix}{spec.name}[{index}].", True, dates, amounts)
        else:
            _collect(value, children, f"{prefix}{spec.name}.", in_item, dates, amounts)


def _value_at(model: BaseModel, path: str) -> Any:
    value: Any = model
    for part in path.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def _check_not_before(facts: ClaimFacts, path: str, value: date, spec: FactSpec, record: BaseModel, prefix: str,
                      in_item: bool) -> None:
    """Declared date order: ``not_before: sibling`` and ``not_before: {first_known: [...], label}``."""
    rule = spec.not_before
    assert rule is not None
    if rule.sibling is not None:
        other = getattr(record, rule.sibling)
        if other is not None and value < other:
            where = f"its {rule.sibling}" if in_item else prefix + rule.sibling
            raise ValueError(f"{path} is before {where}")
        return
    found = next((known for known in (_value_at(facts, target) for target in rule.first_known) if known is not None), None)
    if found is not None and value < found:
        raise ValueError(f"{path} {value} is before {rule.label or rule.first_known[0]} {found}")


def _check_money(amounts: list[tuple[str, Money]]) -> None:
    """Amounts are not negative, in one currency of payment (the first amount's), exact to its minor unit."""
    if not amounts:
        return
    reference_label, reference = amounts[0]
    for label, money in amounts:
        if money.amount < 0:
            raise ValueError(f"{label} is negative")
        if money.currency != reference.currency:  # amounts are compared with each other
            raise ValueError(f"{label} is in {money.currency}, not in {reference.currency} like {reference_label}")
        if money.currency in _NO_MINOR_UNIT:
            raise ValueError(f"{label} is in {money.currency}, which is not a currency of payment")
        if _decimals(money.amount) > minor_unit(money.currency):
            raise ValueError(f"{label} {money.amount} has more decimals than {money.currency} uses "
                             f"({minor_unit(money.currency)})")
        if money.amount >= MAX_AMOUNT:
            shown = format(money.amount, "f") if money.amount.adjusted() < 30 else format(money.amount, "E")
            raise ValueError(f"{label} {shown} is too large (at most {MAX_AMOUNT - 1:,} {money.currency})")


def _decimals(amount: Decimal) -> int:
    """Decimal places that matter: 10.50 has 1, 10.00 has 0 (exact, no rounding context)."""
    _, digits, exponent = amount.as_tuple()
    if not any(digits):
        return 0
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(int(exponent) + trailing))


# -- the claim as the engine reads it -------------------------------------------------------------------

def _flattener(vocabulary: Vocabulary) -> Callable[[ClaimFacts], dict[str, Any]]:
    """A function, generated once per vocabulary, that lists every fact and group of a claim by
    path, in the vocabulary's order (a group before its fields); None under an absent group.

    Generated rather than walked: a claim has about a hundred paths, and reading each field
    straight from its record's ``__dict__`` costs a third of following attribute chains (issue #15).
    Fact names are ``[a-z][a-z0-9_]*`` (the vocabulary checks), written here as string literals.
    """
    cached = vocabulary.__dict__.get("_flattener")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    # Every path starts as None in a dict of the final size (no resizing as it fills); under an
    # absent group they stay None.
    lines = ["def flatten(facts):", "    values = _EMPTY.copy()", "    d0 = facts.__dict__"]
    groups = iter(range(1, 1 << 30))

    def paths_under(specs: tuple[FactSpec, ...], prefix: str) -> list[str]:
        found: list[str] = []
        for spec in specs:
            found.append(prefix + spec.name)
            if spec.type == "group":
                found += paths_under(spec.fields, prefix + spec.name + ".")
        return found

    def emit(specs: tuple[FactSpec, ...], prefix: str, record: str, indent: str) -> None:
        for spec in specs:
            path, name = prefix + spec.name, repr(spec.name)
            if spec.type == "group":
                number = next(groups)
                lines.append(f"{indent}g{number} = values[{path!r}] = {record}[{name}]")
                lines.append(f"{indent}if g{number} is not None:")
                lines.append(f"{indent}    d{number} = g{number}.__dict__")
                emit(spec.fields, path + ".", f"d{number}", indent + "    ")
            elif spec.type == "list":
                lines.append(f"{indent}items = {record}[{name}]")
                lines.append(f"{indent}values[{path!r}] = None if items is None else tuple([item.__dict__ for item in items])")
            else:
                lines.append(f"{indent}values[{path!r}] = {record}[{name}]")

    emit(vocabulary.groups, "", "d0", "    ")
    lines.append("    return values")
    from claimrules.engine.generated import define  # the one place claimrules runs code it wrote

    empty = dict.fromkeys([*paths_under(vocabulary.groups, ""), *(derived for derived, *_ in _derivations(vocabulary))])
    flatten: Callable[[ClaimFacts], dict[str, Any]] = define("\n".join(lines) + "\n", "<claimrules claim flattening>",
                                                              {"_EMPTY": empty})["flatten"]
    object.__setattr__(vocabulary, "_flattener", flatten)
    return flatten


def _derivations(vocabulary: Vocabulary) -> tuple[tuple[str, str, re.Pattern[str], str, str, str | None], ...]:
    """(derived path, source path, pattern, type, template, split) for every derived fact."""
    cached = vocabulary.__dict__.get("_derivations")
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    found = []
    for derived_path, source in sorted(vocabulary.derived_from.items()):
        spec = vocabulary.specs[source]
        name = derived_path.rsplit(".", 1)[1]
        derived = next(item for item in spec.derive if item.name == name)
        found.append((derived_path, source, re.compile(spec.pattern or ""), derived.type, derived.template, derived.split))
    result = tuple(found)
    object.__setattr__(vocabulary, "_derivations", result)
    return result


def fact_values(facts: ClaimFacts) -> dict[str, Any]:
    """The claim as a flat mapping of fact path to value (None where the claim is silent)."""
    vocabulary = facts.vocabulary
    values = _flattener(vocabulary)(facts)
    for derived_path, source, pattern, kind, template, split in _derivations(vocabulary):
        text = values.get(source)
        values[derived_path] = _derived(pattern, kind, template, split, text) if isinstance(text, str) else None
    return values


@functools.lru_cache(maxsize=4096)
def _derived(pattern: re.Pattern[str], kind: str, template: str, split: str | None, text: str) -> Any:
    """One derived fact of one text (cached: codes such as a plan's repeat across a book of claims)."""
    match = pattern.search(text)
    if match is None:
        return None
    groups = {key: value or "" for key, value in match.groupdict().items()}
    result = template.format_map(groups)
    if kind == "integer":
        return int(result) if result.strip().lstrip("-").isdigit() else None
    if kind == "set":
        return tuple(sorted(part for part in result.split(split) if part))
    return result


# -- reading claims ---------------------------------------------------------------------------------

_EXPECTED = {
    "missing": "a value (this field is required)",
    "extra_forbidden": "no such field",
    "literal_error": None,
    "date_from_datetime_parsing": "a date YYYY-MM-DD",
    "date_parsing": "a date YYYY-MM-DD",
    "date_type": "a date YYYY-MM-DD",
    "date_from_datetime_inexact": "a date YYYY-MM-DD",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "text",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "tuple_type": "a list",
}


def _field_name(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts[-1] = f"{parts[-1]}[{part}]" if parts else f"[{part}]"
        elif part in ("function-after", "function-before", "function-wrap") or str(part).startswith(
                ("function-", "lax-", "str", "json-", "literal[")):
            continue
        else:
            parts.append(str(part))
    return ".".join(parts)


def claim_error_from(problem: ValidationError, source: str | None, vocabulary: Vocabulary | None = None) -> ClaimError:
    """The first validation problem as one precise ClaimError (the rest in ``help``)."""
    errors = problem.errors(include_url=False)
    # A misspelled field also makes the real one 'missing': name the misspelling first.
    errors.sort(key=lambda error: error["type"] != "extra_forbidden")
    first = errors[0]
    field = _field_name(tuple(first["loc"])) or None
    kind = first["type"]
    expected = _EXPECTED.get(kind)
    message = first["msg"]
    if kind == "extra_forbidden":
        known = _known_siblings(field or "", vocabulary) if vocabulary is not None else []
        hint = did_you_mean(field.rsplit(".", 1)[-1] if field else "", known)
        message = "unknown fact"
        help_text = hint
    elif kind == "value_error" or kind == "assertion_error":
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        help_text = None
    elif kind == "literal_error":
        expected = message.removeprefix("Input should be ")
        message = f"{_shown(first.get('input'))} is not allowed"
        help_text = None
    elif kind == "missing":
        message = "missing"
        help_text = None
    elif kind in ("model_type", "model_attributes_type") and "instance of Money" in message:
        message = f"{_shown(first.get('input'))} is not an amount of money"
        expected = "an amount such as \"USD 49.00\" or {\"amount\": \"49.00\", \"currency\": \"USD\"}"
        help_text = None
    elif kind in ("model_type", "model_attributes_type"):
        message = f"{_shown(first.get('input'))} is not an object"
        help_text = None
    elif kind == "too_long" and "actual_length" in first.get("ctx", {}):
        message = f"a list of {first['ctx']['actual_length']} items"
        expected = f"at most {first['ctx']['max_length']} items"
        help_text = None
    elif kind == "tuple_type":
        message = f"{_shown(first.get('input'))} is not a list"
        help_text = None
    elif kind == "claimrules_type":
        expected = str(first.get("ctx", {}).get("expected", "")) or None
        help_text = None
    else:
        message = f"{message}: {_shown(first.get('input'))}" if "input" in first and not isinstance(first.get("input"), (dict, list)) else message
        help_text = None
    if len(errors) > 1:
        more = f"{len(errors) - 1} more problem(s): " + "; ".join(
            f"{_field_name(tuple(error['loc']))}: {error['msg']}" for error in errors[1:4]
        )
        help_text = f"{help_text}; {more}" if help_text else more
    return ClaimError(message, file=source, field=field, expected=expected, help=help_text)


def _shown(value: Any) -> str:
    """A value as an error message quotes it, shortened: never echo a whole 4,000-character text."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = str(value) if isinstance(value, Decimal) else repr(value)
    return text if len(text) <= 60 else text[:50] + "..." + text[-5:]


def _known_siblings(field: str, vocabulary: Vocabulary) -> list[str]:
    prefix = field.rsplit(".", 1)[0] + "." if "." in field else ""
    prefix = re.sub(r"\[\d+\]", "", prefix)
    names = []
    for path in vocabulary.paths:
        if path in vocabulary.derived_from:
            continue
        if prefix and path.startswith(prefix):
            names.append(path[len(prefix):].split(".", 1)[0])
        elif not prefix:
            names.append(path.split(".", 1)[0])
    for collection, item_fields in vocabulary.item_fields.items():
        if prefix == collection + ".":
            names.extend(item_fields)
    return sorted(set(names))


def vocabulary_of(policy: Any) -> Vocabulary:
    """The vocabulary of a Vocabulary, a PolicySet, a CompiledPolicy, or a claim model."""
    if isinstance(policy, Vocabulary):
        return policy
    for attribute in ("vocabulary", "policy"):
        inner = getattr(policy, attribute, None)
        if isinstance(inner, Vocabulary):
            return inner
        if inner is not None and isinstance(getattr(inner, "vocabulary", None), Vocabulary):
            return inner.vocabulary  # type: ignore[no-any-return]
    raise TypeError(f"{type(policy).__name__} carries no claim vocabulary: pass the policy the claim is for")


def parse_claim(document: Mapping[str, Any], policy: Any, *, source: str | None = None) -> ClaimFacts:
    """Validate a claim given as a mapping (e.g. parsed JSON) against the policy set's vocabulary.

    ``policy``: the CompiledPolicy, PolicySet or Vocabulary the claim is for. Raises ClaimError.
    """
    vocabulary = vocabulary_of(policy)
    if not isinstance(document, Mapping):
        raise ClaimError("a claim must be a JSON object", file=source, expected="an object with 'claim', 'product', ...")
    body = {key: value for key, value in document.items() if key not in CLAIM_FILE_KEYS}
    try:
        return model_of(vocabulary).model_validate(body)
    except ValidationError as problem:
        raise claim_error_from(problem, source, vocabulary) from None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice (JSON would silently keep the last one)."""
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(key)
        document[key] = value
    return document


MAX_NUMBER_CHARS = 40


class _LongNumber(ValueError):
    def __init__(self, text: str) -> None:
        super().__init__(text[:50])
        self.text = text


def _json_decimal(text: str) -> Decimal:
    """JSON numbers with a fraction or exponent, exactly, and never so long they cannot be handled."""
    if len(text) > MAX_NUMBER_CHARS:
        raise _LongNumber(text)
    return Decimal(text)


def _json_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _LongNumber(text)
    return int(text)


def read_claim_text(text: str | bytes, *, source: str | None = None) -> dict[str, Any]:
    """Parse a claim file's JSON text; raises ClaimError for bytes that are not UTF-8 JSON."""
    if len(text) > MAX_CLAIM_BYTES:
        raise ClaimError(f"claim is {len(text)} bytes", file=source, expected=f"at most {MAX_CLAIM_BYTES} bytes")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as problem:
            raise ClaimError(f"not UTF-8 text (byte {problem.start})", file=source, expected="UTF-8 JSON") from None
    try:
        document = json.loads(text, parse_float=_json_decimal, parse_int=_json_int, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as problem:
        raise ClaimError(problem.msg, file=source, line=problem.lineno, column=problem.colno, expected="valid JSON") from None
    except _DuplicateKey as problem:
        raise ClaimError(f"key '{problem.key}' appears twice in one object", file=source, expected="each key once") from None
    except _LongNumber as problem:
        raise ClaimError(f"a number of {len(problem.text)} characters", file=source,
                         expected=f"numbers of at most {MAX_NUMBER_CHARS} characters") from None
    except ValueError as problem:  # e.g. an integer of more than 4300 digits
        raise ClaimError(str(problem).split(";")[0], file=source, expected="valid JSON") from None
    except RecursionError:
        raise ClaimError("JSON nested too deeply", file=source, expected="a claim object") from None
    if not isinstance(document, dict):
        raise ClaimError("a claim must be a JSON object", file=source, expected="an object with 'claim', 'product', ...")
    return document


def load_claim(path: str | Path, policy: Any) -> ClaimFacts:
    """Read and validate a claim JSON file against the policy set it is for (see ``parse_claim``)."""
    vocabulary = vocabulary_of(policy)
    file = Path(path)
    from claimrules.files import FileProblem, read_bounded  # bounded: no FIFO, device or huge file

    try:
        raw = read_bounded(file, MAX_CLAIM_BYTES)
    except FileProblem as problem:
        message, expected = problem.describe("claim")
        raise ClaimError(message, file=str(path), expected=expected) from None
    return parse_claim(read_claim_text(raw, source=str(path)), vocabulary, source=str(path))


def claim_json_schema(policy: Any) -> dict[str, Any]:
    """The JSON Schema of a claim file under the policy set's vocabulary."""
    schema = model_of(vocabulary_of(policy)).model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "claimrules claim facts"
    return schema
