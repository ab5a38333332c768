"""Claim facts: what a claim says, strictly validated.

Unknown fields, wrong types and impossible dates are errors naming the field. A fact a claim does
not give is ``None`` (unknown), never a default that could decide the claim: the engine asks for
it when, and only when, it could change the decision (LW 6.3).
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from claimrules.errors import ClaimError, did_you_mean
from claimrules.money import _NO_MINOR_UNIT, Money, minor_unit
from claimrules.territory import subdivision_country, validate_country, validate_subdivision

MAX_CLAIM_BYTES = 1_000_000
MAX_LIST = 200
MIN_DATE = date(1900, 1, 1)    # dates outside these years are typos, and date arithmetic near
MAX_DATE = date(2199, 12, 31)  # year 9999 would overflow
MAX_AMOUNT = Decimal(10) ** 12


class _Facts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, str_strip_whitespace=True)


Text = Annotated[str, Field(max_length=4000)]
Identifier = Annotated[str, Field(min_length=1, max_length=200)]

RequestType = Literal["return", "repair", "cancel_plan"]
Service = Literal["refund", "on_site", "depot", "replacement", "repair", "any"]
Condition = Literal["new", "refurbished", "open_box"]
Channel = Literal["online", "phone", "in_store", "reseller"]
Buyer = Literal["consumer", "business"]
Cause = Literal[
    "defect", "battery", "drop", "impact", "liquid", "screen_crack", "surge", "cosmetic", "loss",
    "theft", "intentional", "abuse", "operating_conditions", "natural_disaster", "software",
    "data_loss", "consumable",
]
Role = Literal["agent", "supervisor", "manager"]
DeploymentKind = Literal["armed_forces", "emergency_response", "disaster_response"]
Diagnosis = Literal["on_site_repairable", "depot_only"]
ReturnReason = Literal["no_reason", "defective"]


class Claim(_Facts):
    """The request itself."""

    type: RequestType
    requested_service: Service = "any"
    reported_on: date = Field(description="The day the claim or return was first reported, by any channel (LW 1.6, RT 1.4).")
    reported_after_17h: bool | None = Field(None, description="Completed after 17:00 local time (CP 6.4).")
    return_reason: ReturnReason | None = None
    description: Text | None = None
    claimant_id: Identifier | None = None


class Product(_Facts):
    serial_number: Identifier | None = None
    serial_intact: bool | None = Field(None, description="False when removed, altered or unreadable (LW 4.6).")
    serial_registered_to_claimant: bool | None = None
    proof_of_purchase: bool | None = None
    condition: Condition
    category: Literal["computer", "accessory", "software_licence"] = "computer"
    price: Money
    opened: bool | None = None
    defective: bool | None = Field(None, description="For a return: found defective on inspection (RT 2.1).")
    damaged_by_customer: bool | None = None
    licence_activated: bool | None = None
    missing_accessories: tuple[MissingAccessory, ...] = Field(default=(), max_length=MAX_LIST)


class MissingAccessory(_Facts):
    name: Identifier
    list_price: Money


class Delivery(_Facts):
    delivered_on: date | None = Field(None, description="Carrier's proof of delivery (LW 1.3).")
    picked_up_on: date | None = None
    invoice_date: date


class Purchase(_Facts):
    seller: Literal["northwind_store", "other"]
    channel: Channel
    buyer: Buyer
    country: str = Field(description="ISO 3166-1 alpha-2 country of purchase.")
    delivery_country: str = Field(description="ISO 3166-1 alpha-2 country of delivery.")
    delivery_charge: Money | None = None

    _countries = field_validator("country", "delivery_country")(lambda value: validate_country(value))


class Location(_Facts):
    """The Product's current location (LW 1.5, CP 6.3): the billing address does not count."""

    country: str
    subdivision: str | None = None
    military_address: bool = False
    miles_to_service_location: Decimal | None = Field(None, ge=0, le=25_000, decimal_places=2, description="As the service locator reports (CP 6.1 (b)).")

    _country = field_validator("country")(lambda value: validate_country(value))

    @field_validator("subdivision")
    @classmethod
    def _subdivision(cls, value: str | None) -> str | None:
        return None if value is None else validate_subdivision(value)

    @model_validator(mode="after")
    def _subdivision_in_country(self) -> Location:
        if self.subdivision is not None and subdivision_country(self.subdivision) != self.country:
            raise ValueError(f"subdivision {self.subdivision} is not in country {self.country}")
        return self


_PLAN_CODE = re.compile(r"^(?P<product>[A-Z]+)-(?P<years>[1-9])Y(?P<options>(?:\+[A-Z]+)*)$")


class Plan(_Facts):
    code: Identifier = Field(description="e.g. CARE-3Y+ADP+ONSITE (CP 1.1)")
    purchased_on: date
    cancelled_on: date | None = None
    price: Money | None = None
    paid_to_date: Money | None = Field(None, description="What the obligor has paid for repairs so far (CP 4.4).")

    @field_validator("code")
    @classmethod
    def _code(cls, value: str) -> str:
        if not _PLAN_CODE.match(value):
            raise ValueError(f"'{value}' is not a plan code like CARE-3Y+ADP")
        return value

    @property
    def term_years(self) -> int:
        match = _PLAN_CODE.match(self.code)
        assert match is not None
        return int(match.group("years"))

    @property
    def base(self) -> str:
        match = _PLAN_CODE.match(self.code)
        assert match is not None
        return f"{match.group('product')}-{match.group('years')}Y"

    @property
    def options(self) -> tuple[str, ...]:
        match = _PLAN_CODE.match(self.code)
        assert match is not None
        return tuple(sorted(option for option in match.group("options").split("+") if option))


class Incident(_Facts):
    occurred_on: date | None = Field(None, description="When the damage occurred or the defect appeared.")
    cause: Cause | None = None
    screen_only: bool | None = Field(None, description="The only damage is to the screen (CP 4.2).")
    part: Identifier | None = None
    battery_capacity_pct: Annotated[int, Field(ge=0, le=100)] | None = None
    remote_diagnosis: Diagnosis | None = None
    caused_by_natural_disaster: bool | None = None
    description: Text | None = None
    consumer_caused_proven: bool | None = Field(None, description="Inspection proved the consumer caused it (RG EU.3, RG UK.3).")


class PriorIncident(_Facts):
    occurred_on: date
    kind: Literal["accidental", "defect"]
    covered: bool


class PriorRepair(_Facts):
    repaired_on: date
    part: Identifier
    under: Literal["warranty", "plan", "other"] = "warranty"


class UnauthorizedWork(_Facts):
    performed_on: date
    touched_failed_part: bool


class Extension(_Facts):
    """A return-window extension recorded in the order system (RT 3.1)."""

    grantor_id: Identifier
    grantor_role: Role
    granted_on: date
    new_end: date


class Deployment(_Facts):
    kind: DeploymentKind
    documented_on: date
    ends_on: date


class ClaimFacts(_Facts):
    """Everything claimrules may know about one claim."""

    claim: Claim
    product: Product
    delivery: Delivery
    purchase: Purchase
    location: Location
    plan: Plan | None = None
    incident: Incident | None = None
    prior_incidents: tuple[PriorIncident, ...] = Field(default=(), max_length=MAX_LIST)
    prior_repairs: tuple[PriorRepair, ...] = Field(default=(), max_length=MAX_LIST)
    unauthorized_work: tuple[UnauthorizedWork, ...] = Field(default=(), max_length=MAX_LIST)
    extensions: tuple[Extension, ...] = Field(default=(), max_length=MAX_LIST)
    deployment: Deployment | None = None
    repair_estimate: Money | None = None

    @model_validator(mode="after")
    def _canonical_lists(self) -> ClaimFacts:
        """List-valued facts in one canonical order: the order a claim lists them in never matters."""
        for name in ("prior_incidents", "prior_repairs", "unauthorized_work", "extensions"):
            items = getattr(self, name)
            if len(items) > 1:
                object.__setattr__(self, name, tuple(sorted(items, key=lambda item: item.model_dump_json())))
        accessories = self.product.missing_accessories
        if len(accessories) > 1:
            object.__setattr__(self.product, "missing_accessories",
                               tuple(sorted(accessories, key=lambda item: item.model_dump_json())))
        return self

    @model_validator(mode="after")
    def _dates_in_order(self) -> ClaimFacts:
        for label, day in _dates_in(self, ""):
            if not MIN_DATE <= day <= MAX_DATE:
                raise ValueError(f"{label} {day} is outside the years {MIN_DATE.year}-{MAX_DATE.year}")
        received = self.delivery.delivered_on or self.delivery.picked_up_on or self.delivery.invoice_date
        if self.delivery.delivered_on and self.delivery.delivered_on < self.delivery.invoice_date:
            raise ValueError("delivery.delivered_on is before delivery.invoice_date")
        if self.claim.reported_on < received:
            raise ValueError(f"claim.reported_on {self.claim.reported_on} is before the delivery {received}")
        for index, extension in enumerate(self.extensions):
            if extension.new_end < extension.granted_on:
                raise ValueError(f"extensions[{index}].new_end is before its granted_on")
        if self.plan and self.plan.cancelled_on and self.plan.cancelled_on < self.plan.purchased_on:
            raise ValueError("plan.cancelled_on is before plan.purchased_on")
        for name in ("price",):
            if getattr(self.product, name).amount < 0:
                raise ValueError(f"product.{name} is negative")
        for label, money in self._money():
            if money.amount < 0:
                raise ValueError(f"{label} is negative")
            if money.currency != self.product.price.currency:  # amounts are compared with each other
                raise ValueError(f"{label} is in {money.currency}, not in {self.product.price.currency} "
                                 f"like product.price")
            if money.currency in _NO_MINOR_UNIT:
                raise ValueError(f"{label} is in {money.currency}, which is not a currency of payment")
            if _decimals(money.amount) > minor_unit(money.currency):
                raise ValueError(f"{label} {money.amount} has more decimals than {money.currency} uses "
                                 f"({minor_unit(money.currency)})")
            if money.amount >= MAX_AMOUNT:
                shown = format(money.amount, "f") if money.amount.adjusted() < 30 else format(money.amount, "E")
                raise ValueError(f"{label} {shown} is too large (at most {MAX_AMOUNT - 1:,} {money.currency})")
        return self

    def _money(self) -> list[tuple[str, Money]]:
        found: list[tuple[str, Money]] = [("product.price", self.product.price)]
        if self.purchase.delivery_charge is not None:
            found.append(("purchase.delivery_charge", self.purchase.delivery_charge))
        if self.repair_estimate is not None:
            found.append(("repair_estimate", self.repair_estimate))
        if self.plan is not None:
            for name in ("price", "paid_to_date"):
                value = getattr(self.plan, name)
                if value is not None:
                    found.append((f"plan.{name}", value))
        for index, accessory in enumerate(self.product.missing_accessories):
            found.append((f"product.missing_accessories[{index}].list_price", accessory.list_price))
        return found




def _decimals(amount: Decimal) -> int:
    """Decimal places that matter: 10.50 has 1, 10.00 has 0 (exact, no rounding context)."""
    _, digits, exponent = amount.as_tuple()
    if not any(digits):
        return 0
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(int(exponent) + trailing))


def _dates_in(model: BaseModel, prefix: str) -> list[tuple[str, date]]:
    """Every date a claim gives, with its field path (items of lists as ``extensions[0].new_end``)."""
    found: list[tuple[str, date]] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        items = enumerate(value) if isinstance(value, tuple) else [(None, value)]
        for index, item in items:
            path = f"{prefix}{name}" if index is None else f"{prefix}{name}[{index}]"
            if isinstance(item, date):
                found.append((path, item))
            elif isinstance(item, BaseModel) and not isinstance(item, Money):
                found.extend(_dates_in(item, path + "."))
    return found

Product.model_rebuild()

# -- the fact namespace a policy may name ----------------------------------------------------------

LIST_FACTS = ("prior_incidents", "prior_repairs", "unauthorized_work", "extensions", "product.missing_accessories")
DERIVED_FACTS = {
    "plan.term_years": int,
    "plan.base": str,
    "plan.options": tuple,
    "delivery.received_on": date,
}


def _scalar_paths(model: type[BaseModel], prefix: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = info.annotation
        path = f"{prefix}{name}"
        inner = _model_in(annotation)
        if inner is not None and get_origin(annotation) is not tuple:
            paths[path] = inner
            paths.update(_scalar_paths(inner, path + "."))
        else:
            paths[path] = annotation
    return paths


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation is not Money:
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


FACT_PATHS: Mapping[str, Any] = {**_scalar_paths(ClaimFacts, ""), **DERIVED_FACTS}


def annotation_type(annotation: Any) -> str:
    """The policy language's type of a fact annotation: date, number, text, bool, money, list or other."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return annotation_type(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        kinds = {annotation_type(arg) for arg in get_args(annotation) if arg is not type(None)}
        return kinds.pop() if len(kinds) == 1 else "other"
    if origin is Literal or annotation is str:
        return "text"
    if origin is tuple or annotation is tuple:
        return "list"
    if annotation is bool:
        return "bool"
    if annotation is date:
        return "date"
    if annotation in (int, Decimal):
        return "number"
    return "money" if annotation is Money else "other"


def fact_type(path: str) -> str:
    """The type of a claim fact by its path ('other' for sections and unknown paths)."""
    return annotation_type(FACT_PATHS.get(path))
FACT_ROOTS: frozenset[str] = frozenset(ClaimFacts.model_fields)
ITEM_FIELDS: Mapping[str, frozenset[str]] = {
    "prior_incidents": frozenset(PriorIncident.model_fields),
    "prior_repairs": frozenset(PriorRepair.model_fields),
    "unauthorized_work": frozenset(UnauthorizedWork.model_fields),
    "extensions": frozenset(Extension.model_fields),
    "product.missing_accessories": frozenset(MissingAccessory.model_fields),
}


def _flattening(cls: type[BaseModel], prefix: str, attrs: tuple[str, ...]) -> list[tuple[str, tuple[str, ...], bool]]:
    """(path, attribute chain, is a list) for every fact and section of a claim, computed once."""
    plan: list[tuple[str, tuple[str, ...], bool]] = []
    for name, info in cls.model_fields.items():
        path, chain = prefix + name, attrs + (name,)
        inner = _model_in(info.annotation)
        is_list = get_origin(info.annotation) is tuple
        if inner is not None and not is_list:
            plan.append((path, chain, False))
            plan.extend(_flattening(inner, path + ".", chain))
        else:
            plan.append((path, chain, is_list))
    return plan


_FLATTENING = tuple(_flattening(ClaimFacts, "", ()))


def fact_values(facts: ClaimFacts) -> dict[str, Any]:
    """The claim as a flat mapping of fact path to value (None where the claim is silent)."""
    values: dict[str, Any] = {}
    for path, chain, is_list in _FLATTENING:
        value: Any = facts
        for attr in chain:
            value = getattr(value, attr)
            if value is None:
                break
        if is_list and value is not None:
            value = tuple(item.__dict__ for item in value)
        values[path] = value
    plan = facts.plan
    values["plan.term_years"] = plan.term_years if plan else None
    values["plan.base"] = plan.base if plan else None
    values["plan.options"] = plan.options if plan else None
    delivery = facts.delivery
    values["delivery.received_on"] = delivery.delivered_on or delivery.picked_up_on
    return values


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
        elif part in ("function-after", "function-before") or str(part).startswith(("function-", "lax-", "str", "json-")):
            continue
        else:
            parts.append(str(part))
    return ".".join(parts)


def claim_error_from(problem: ValidationError, source: str | None) -> ClaimError:
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
        known = _known_siblings(field or "")
        hint = did_you_mean(field.rsplit(".", 1)[-1] if field else "", known)
        message = "unknown fact"
        help_text = hint
    elif kind == "value_error" or kind == "assertion_error":
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        help_text = None
    elif kind == "literal_error":
        expected = message.removeprefix("Input should be ")
        message = f"{first.get('input')!r} is not allowed"
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
    text = repr(value)
    return text if len(text) <= 60 else text[:50] + "..." + text[-5:]


def _known_siblings(field: str) -> list[str]:
    prefix = field.rsplit(".", 1)[0] + "." if "." in field else ""
    prefix = re.sub(r"\[\d+\]", "", prefix)
    names = []
    for path in FACT_PATHS:
        if prefix and path.startswith(prefix):
            names.append(path[len(prefix):].split(".", 1)[0])
        elif not prefix:
            names.append(path.split(".", 1)[0])
    for collection, item_fields in ITEM_FIELDS.items():
        if prefix.startswith(collection + "."):
            names.extend(item_fields)
    return sorted(set(names))


def parse_claim(document: Mapping[str, Any], *, source: str | None = None) -> ClaimFacts:
    """Validate a claim given as a mapping (e.g. parsed JSON); raises ClaimError."""
    if not isinstance(document, Mapping):
        raise ClaimError("a claim must be a JSON object", file=source, expected="an object with 'claim', 'product', ...")
    body = {key: value for key, value in document.items() if key not in ("expected", "$schema", "story")}
    try:
        return ClaimFacts.model_validate(body)
    except ValidationError as problem:
        raise claim_error_from(problem, source) from None


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


def load_claim(path: str | Path) -> ClaimFacts:
    """Read and validate a claim JSON file."""
    file = Path(path)
    from claimrules.files import FileProblem, read_bounded  # bounded: no FIFO, device or huge file

    try:
        raw = read_bounded(file, MAX_CLAIM_BYTES)
    except FileProblem as problem:
        message, expected = problem.describe("claim")
        raise ClaimError(message, file=str(path), expected=expected) from None
    return parse_claim(read_claim_text(raw, source=str(path)), source=str(path))


def claim_json_schema() -> dict[str, Any]:
    """The JSON Schema of a claim file."""
    schema = ClaimFacts.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "claimrules claim facts"
    return schema
