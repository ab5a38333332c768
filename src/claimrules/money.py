"""Amounts of money: an exact decimal amount in one ISO 4217 currency."""

from __future__ import annotations

import functools
import re
from decimal import ROUND_HALF_UP, Context, Decimal, Inexact, InvalidOperation, Overflow
from typing import Any

from pydantic import BaseModel, ConfigDict, field_serializer, field_validator, model_validator

from claimrules.isodata import currency_codes
from claimrules.unvalidated import unvalidated

__all__ = [
    "CurrencyMismatch",
    "InvalidAmount",
    "InvalidMoney",
    "Money",
    "NoMinorUnit",
    "UnknownCurrency",
    "minor_unit",
    "validate_currency",
]

_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_AMOUNT_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_MONEY_TEXT_RE = re.compile(r"([A-Za-z]{3}) +(\S+)")

# Digits kept by exact arithmetic; an amount needing more is refused, never rounded.
_PRECISION = 60

# ISO 4217 minor units that differ from the usual 2.
_ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"}
)
_THREE_DECIMAL = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
_FOUR_DECIMAL = frozenset({"CLF", "UYW"})
# Precious metals, bond-market units, SDR, test and "no currency" codes: ISO lists "N.A.".
_NO_MINOR_UNIT = frozenset(
    {"XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XDR", "XPD", "XPT", "XSU", "XTS", "XUA", "XXX"}
)


class UnknownCurrency(ValueError):
    """A currency code that is not an uppercase ISO 4217 alpha-3 code."""


class InvalidAmount(ValueError):
    """An amount that is not a finite, exactly representable decimal number."""


class InvalidMoney(ValueError):
    """Text that does not read as "<currency> <amount>", e.g. "USD 49.50"."""


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined or compared."""


class NoMinorUnit(ValueError):
    """A currency (e.g. gold, XAU) for which ISO 4217 defines no minor unit."""


def validate_currency(code: str) -> str:
    """Return ``code`` if it is an uppercase ISO 4217 alpha-3 currency code."""
    if not isinstance(code, str) or not _CURRENCY_RE.fullmatch(code):
        raise UnknownCurrency(
            f"{code!r} is not an ISO 4217 currency code (expected three uppercase letters, e.g. 'USD')"
        )
    if code not in currency_codes():
        raise UnknownCurrency(f"{code!r} is not an ISO 4217 currency code")
    return code


#: Decimal places by currency, filled as codes are first asked for: only codes minor_unit accepted get in.
_UNITS: dict[str, int] = {}


@functools.lru_cache(maxsize=512)
def _minor_step(currency: str) -> Decimal:
    """One minor unit of the currency as a quantizing exponent (USD: 0.01)."""
    return Decimal(1).scaleb(-minor_unit(currency))


def minor_unit(currency: str) -> int:
    """Decimal places of the currency's minor unit (2 for USD, 0 for JPY, 3 for KWD)."""
    places = _UNITS.get(currency) if type(currency) is str else None
    if places is not None:  # every amount written asks: validate a code once, not each time
        return places
    validate_currency(currency)
    if currency in _NO_MINOR_UNIT:
        raise NoMinorUnit(f"{currency!r} has no minor unit in ISO 4217; it cannot be rounded to one")
    if currency in _ZERO_DECIMAL:
        places = 0
    elif currency in _THREE_DECIMAL:
        places = 3
    elif currency in _FOUR_DECIMAL:
        places = 4
    else:
        places = 2
    _UNITS[currency] = places
    return places


# The decimal contexts money is computed in, independent of the caller's decimal context. Each is
# built once (building one costs about 1 us, as much as the operation): an operation's traps raise
# from that operation's own status, and the flags a shared context collects are never read, so
# every caller gets the same result from the same one (CPython's decimal holds the GIL throughout).
#: Refuses to round (exact arithmetic on amounts).
_EXACT = Context(prec=_PRECISION, traps=[InvalidOperation, Inexact, Overflow])
#: Rounds half up (``Money.quantized``).
_HALF_UP = Context(prec=_PRECISION, rounding=ROUND_HALF_UP, traps=[InvalidOperation, Overflow])
#: Writes an amount with the currency's decimals only where that is exact (``canonical_amount``).
_CANONICAL = Context(prec=_PRECISION + 4, traps=[InvalidOperation, Inexact])
_NORMALIZING = Context(prec=_PRECISION + 4)


def _to_amount(value: object) -> Decimal:
    """Read an amount given as str, int, Decimal or float (via its shortest repr)."""
    if isinstance(value, bool):
        raise InvalidAmount(f"amount {value!r} given; expected a decimal number, not a bool")
    if isinstance(value, str):
        if not _AMOUNT_RE.fullmatch(value):
            raise InvalidAmount(
                f"amount {value!r} given; expected a plain decimal number such as '49' or '-49.50'"
            )
        amount = Decimal(value)
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(str(value))
    elif isinstance(value, Decimal):
        amount = value
    else:
        raise InvalidAmount(
            f"amount {value!r} of type {type(value).__name__} given; expected str, int, Decimal or float"
        )
    if not amount.is_finite():
        raise InvalidAmount(f"amount {value!r} given; expected a finite number")
    if len(amount.as_tuple().digits) > _PRECISION:
        raise InvalidAmount(f"amount {value!r} given; expected at most {_PRECISION} significant digits")
    return amount.copy_abs() if amount.is_zero() else amount  # -0.00 is 0.00: never "not negative" yet shown with a minus


def canonical_amount(amount: Decimal, currency: str) -> Decimal:
    """The amount with exactly the currency's decimals when that is exact (1299.000000 -> 1299.00,
    49 -> 49.00), more only where they carry value (0.005), and never a negative zero: equal amounts
    serialise alike, so they give the same fingerprint and decision id."""
    if amount.is_zero():
        amount = amount.copy_abs()
    if currency in _NO_MINOR_UNIT:
        return amount
    places = minor_unit(currency)
    have = _places(amount)
    if have == places:  # the usual case: already written with the currency's decimals
        return amount
    step = _minor_step(currency)
    if have < places:
        return amount.quantize(step, context=_CANONICAL)
    try:  # more decimals than the currency's: drop the zeros, keep what carries value
        return amount.quantize(step, context=_CANONICAL)
    except (Inexact, InvalidOperation):
        return amount.normalize(_NORMALIZING)


def _amount_text(amount: Decimal, currency: str) -> str:
    """``canonical_amount`` as text; an amount already written with the currency's decimals (nearly
    every one: a claim's and the policy's) as it is, without taking the number apart."""
    text = format(amount, "f")
    places = _UNITS.get(currency)  # known once any amount in the currency was read or written
    if places is not None and amount:  # not zero: a zero is written without its sign
        dot = text.find(".")
        if (0 <= dot == len(text) - places - 1) if places else dot < 0:
            return text
    return format(canonical_amount(amount, currency), "f")


def _split_text(text: str) -> tuple[str, str]:
    """Split "USD 49.50" into its currency and amount parts."""
    match = _MONEY_TEXT_RE.fullmatch(text.strip())
    if match is None:
        raise InvalidMoney(f"{text!r} given; expected '<currency> <amount>' such as 'USD 49.50'")
    return match.group(1), match.group(2)


def _places(amount: Decimal) -> int:
    exponent = amount.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


class Money(BaseModel):
    """An exact amount in one currency, e.g. USD 49.00."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: Decimal
    currency: str

    @model_validator(mode="before")
    @classmethod
    def _read_text(cls, data: Any) -> Any:
        if isinstance(data, str):
            currency, amount = _split_text(data)
            return {"amount": amount, "currency": currency}
        return data

    @field_validator("amount", mode="before")
    @classmethod
    def _check_amount(cls, value: object) -> Decimal:
        return _to_amount(value)

    @field_validator("currency", mode="before")
    @classmethod
    def _check_currency(cls, value: object) -> str:
        return validate_currency(value)  # type: ignore[arg-type]

    @field_serializer("amount", when_used="json")
    def _amount_as_text(self, amount: Decimal) -> str:
        """Exact text with the currency's decimals, so USD 49, USD 49.00 and USD 49.000 read alike."""
        return _amount_text(amount, self.currency)

    @classmethod
    def parse(cls, text: str) -> Money:
        """Read "USD 49" or "USD 49.50"."""
        if not isinstance(text, str):
            raise InvalidMoney(f"{text!r} given; expected text such as 'USD 49.50'")
        currency, amount = _split_text(text)
        return cls(amount=_to_amount(amount), currency=validate_currency(currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        """No money in ``currency``."""
        return cls(amount=Decimal(0), currency=validate_currency(currency))

    def is_zero(self) -> bool:
        """Whether the amount is zero."""
        return self.amount.is_zero()

    def quantized(self) -> Money:
        """Rounded half-up to the currency's minor unit (USD 0.005 -> USD 0.01)."""
        # Valid by construction (a valid amount, rounded; this currency): not validated again, as
        # a refund or fee is rounded on most decisions (issue #15).
        return self._combine(_HALF_UP.quantize(self.amount, _minor_step(self.currency)))

    def _same_currency(self, other: Money, operation: str) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"cannot {operation} {self.currency} and {other.currency}; expected the same currency"
            )

    def _combine(self, amount: Decimal) -> Money:
        """``amount`` in this currency: the result of an exact operation on valid amounts, which is
        valid by construction (finite and within ``_PRECISION`` digits: the context traps Overflow
        and Inexact), so it is not validated again; a zero loses its sign, as ``_to_amount`` does."""
        return unvalidated(Money, {"amount": amount.copy_abs() if amount.is_zero() else amount, "currency": self.currency},
                           {"amount", "currency"})

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "add")
        return self._combine(_arith(_EXACT.add, self.amount, other.amount))

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other, "subtract")
        return self._combine(_arith(_EXACT.subtract, self.amount, other.amount))

    def __mul__(self, factor: object) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, (int, Decimal)):
            return NotImplemented
        if isinstance(factor, Decimal) and not factor.is_finite():
            raise InvalidAmount(f"factor {factor!r} given; expected a finite number")
        return self._combine(_arith(_EXACT.multiply, self.amount, Decimal(factor)))

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return self._combine(_EXACT.minus(self.amount))

    def _compare(self, other: object, operation: str) -> tuple[Decimal, Decimal] | None:
        if not isinstance(other, Money):
            return None
        self._same_currency(other, operation)
        return self.amount, other.amount

    def __lt__(self, other: object) -> bool:
        pair = self._compare(other, "compare")
        return NotImplemented if pair is None else pair[0] < pair[1]

    def __le__(self, other: object) -> bool:
        pair = self._compare(other, "compare")
        return NotImplemented if pair is None else pair[0] <= pair[1]

    def __gt__(self, other: object) -> bool:
        pair = self._compare(other, "compare")
        return NotImplemented if pair is None else pair[0] > pair[1]

    def __ge__(self, other: object) -> bool:
        pair = self._compare(other, "compare")
        return NotImplemented if pair is None else pair[0] >= pair[1]

    def __str__(self) -> str:
        """ "USD 49.00": at least the minor unit's decimals, never rounded."""
        return f"{self.currency} {_amount_text(self.amount, self.currency)}"


def _arith(operation: Any, left: Decimal, right: Decimal) -> Decimal:
    """Apply an exact decimal operation, refusing results that would need rounding."""
    try:
        result: Decimal = operation(left, right)
        return result
    except (Inexact, Overflow, InvalidOperation) as exc:
        raise InvalidAmount(
            f"{left} and {right} give a result that cannot be held exactly in {_PRECISION} digits"
        ) from exc
