from __future__ import annotations

import json
import re
from decimal import Decimal, getcontext, localcontext

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from claimrules.money import (
    CurrencyMismatch,
    InvalidAmount,
    InvalidMoney,
    Money,
    NoMinorUnit,
    UnknownCurrency,
    minor_unit,
    validate_currency,
)


def usd(text: str) -> Money:
    return Money(amount=text, currency="USD")


# --- currency codes -------------------------------------------------------------


def test_validate_currency_accepts_iso_codes() -> None:
    assert validate_currency("USD") == "USD"
    assert validate_currency("JPY") == "JPY"
    assert validate_currency("EUR") == "EUR"


def test_validate_currency_names_the_unknown_code() -> None:
    with pytest.raises(UnknownCurrency, match=r"^'USX' is not an ISO 4217 currency code$"):
        validate_currency("USX")


@pytest.mark.parametrize("code", ["usd", "Usd", "US", "USDD", "", " USD", "US1"])
def test_validate_currency_requires_three_uppercase_letters(code: str) -> None:
    with pytest.raises(UnknownCurrency, match=rf"^{re.escape(repr(code))} is not an ISO 4217 currency code"):
        validate_currency(code)


def test_validate_currency_rejects_non_text() -> None:
    with pytest.raises(UnknownCurrency, match="840"):
        validate_currency(840)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("currency", "places"),
    [("USD", 2), ("EUR", 2), ("GBP", 2), ("JPY", 0), ("KRW", 0), ("CLP", 0), ("VND", 0), ("ISK", 0),
     ("BHD", 3), ("KWD", 3), ("OMR", 3), ("TND", 3), ("JOD", 3), ("IQD", 3), ("LYD", 3), ("CLF", 4)],
)  # fmt: skip
def test_minor_unit(currency: str, places: int) -> None:
    assert minor_unit(currency) == places


def test_minor_unit_absent_for_gold() -> None:
    with pytest.raises(NoMinorUnit, match="'XAU'"):
        minor_unit("XAU")


# --- construction ---------------------------------------------------------------


def test_construct_from_mapping_with_string_amount_keeps_exact_digits() -> None:
    m = Money.model_validate({"amount": "49.00", "currency": "USD"})
    assert m.amount == Decimal("49.00")
    assert m.amount.as_tuple().exponent == -2
    assert m.currency == "USD"


def test_construct_from_int_amount() -> None:
    assert Money(amount=49, currency="USD").amount == Decimal(49)


def test_float_amount_is_read_through_its_repr() -> None:
    m = Money(amount=499.99, currency="USD")
    assert m.amount == Decimal("499.99")
    assert m.amount != Decimal(499.99)  # noqa: RUF032 - not the binary expansion
    assert Money(amount=0.1, currency="USD").amount == Decimal("0.1")


@pytest.mark.parametrize("amount", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_float_rejected(amount: float) -> None:
    with pytest.raises(ValidationError, match="expected a finite number"):
        Money(amount=amount, currency="USD")


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-inf", "sNaN", "1e3", "1,000.00", " 49", "49.", ".5", "+5", "", "١٢"])
def test_malformed_amount_text_rejected(amount: str) -> None:
    with pytest.raises(ValidationError, match="expected a plain decimal number"):
        Money(amount=amount, currency="USD")


@pytest.mark.parametrize("amount", [Decimal("NaN"), Decimal("Infinity")])
def test_non_finite_decimal_rejected(amount: Decimal) -> None:
    with pytest.raises(ValidationError, match="expected a finite number"):
        Money(amount=amount, currency="USD")


@pytest.mark.parametrize("amount", [True, None, [49], b"49"])
def test_amount_of_wrong_type_rejected(amount: object) -> None:
    with pytest.raises(ValidationError, match="amount"):
        Money(amount=amount, currency="USD")  # type: ignore[arg-type]


def test_unknown_currency_rejected_on_construction() -> None:
    with pytest.raises(ValidationError, match="'USX' is not an ISO 4217 currency code"):
        Money(amount="1", currency="USX")
    with pytest.raises(ValidationError, match="'usd' is not an ISO 4217 currency code"):
        Money(amount="1", currency="usd")


def test_extra_fields_rejected() -> None:
    with pytest.raises(ValidationError, match="note"):
        Money.model_validate({"amount": "1", "currency": "USD", "note": "x"})


def test_construction_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        Money(amount="abc", currency="USD")


# --- parsing text ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [("USD 49", "49", "USD"), ("USD 49.50", "49.50", "USD"), ("JPY 5000", "5000", "JPY"),
     ("EUR -12.5", "-12.5", "EUR"), ("  USD   7  ", "7", "USD")],
)  # fmt: skip
def test_parse(text: str, amount: str, currency: str) -> None:
    m = Money.parse(text)
    assert m.amount == Decimal(amount)
    assert str(m.amount) == amount
    assert m.currency == currency


def test_model_validate_accepts_text() -> None:
    assert Money.model_validate("USD 49.50") == Money(amount="49.50", currency="USD")


def test_text_accepted_as_a_field_of_another_model() -> None:
    class Product(BaseModel):
        price: Money

    assert Product.model_validate({"price": "USD 49"}).price == usd("49")
    assert Product.model_validate({"price": {"amount": "49", "currency": "USD"}}).price == usd("49")


@pytest.mark.parametrize("text", ["49 USD", "USD", "USD49", "$49", "USD 49 50", "", "US 49"])
def test_parse_rejects_malformed_text(text: str) -> None:
    with pytest.raises(InvalidMoney, match=rf"^{re.escape(repr(text))} given; expected '<currency> <amount>'"):
        Money.parse(text)


def test_parse_rejects_lowercase_currency_with_currency_error() -> None:
    with pytest.raises(UnknownCurrency, match="'usd'"):
        Money.parse("usd 49")


def test_parse_rejects_bad_amount_with_amount_error() -> None:
    with pytest.raises(InvalidAmount, match="'NaN'"):
        Money.parse("USD NaN")
    with pytest.raises(InvalidAmount, match="'1e3'"):
        Money.parse("USD 1e3")


def test_parse_rejects_non_text() -> None:
    with pytest.raises(InvalidMoney):
        Money.parse(49)  # type: ignore[arg-type]


# --- arithmetic -----------------------------------------------------------------


def test_add_and_subtract_are_exact() -> None:
    assert usd("0.10") + usd("0.20") == usd("0.30")
    assert usd("49.00") - usd("49.99") == usd("-0.99")
    assert (usd("0.1") + usd("0.2")).amount == Decimal("0.3")


def test_arithmetic_ignores_callers_decimal_context() -> None:
    big = usd("12345678901234567890123456789.01")
    with localcontext() as ctx:
        ctx.prec = 5
        total = big + usd("0.01")
        doubled = big * 2
        negated = -big
    assert total.amount == Decimal("12345678901234567890123456789.02")
    assert doubled.amount == Decimal("24691357802469135780246913578.02")
    assert negated.amount == Decimal("-12345678901234567890123456789.01")
    assert getcontext().prec == 28


def test_currency_mismatch_names_both_currencies() -> None:
    with pytest.raises(CurrencyMismatch, match="USD and EUR"):
        usd("1") + Money.parse("EUR 1")
    with pytest.raises(CurrencyMismatch, match="JPY and USD"):
        Money.parse("JPY 1") - usd("1")
    with pytest.raises(CurrencyMismatch, match="USD and GBP"):
        _ = usd("1") < Money.parse("GBP 2")


def test_currency_mismatch_is_value_error() -> None:
    assert issubclass(CurrencyMismatch, ValueError)


def test_multiply_by_int_and_decimal() -> None:
    assert usd("49.99") * 3 == usd("149.97")
    assert 3 * usd("49.99") == usd("149.97")
    assert usd("100") * Decimal("0.15") == usd("15")
    assert (usd("100.00") * Decimal("0.15")).amount == Decimal("15.0000")


@pytest.mark.parametrize("factor", [1.5, True, "2", None])
def test_multiply_rejects_other_factors(factor: object) -> None:
    with pytest.raises(TypeError):
        _ = usd("1") * factor  # type: ignore[operator]


def test_multiply_rejects_non_finite_decimal() -> None:
    with pytest.raises(InvalidAmount, match="finite"):
        _ = usd("1") * Decimal("Infinity")


def test_add_non_money_is_type_error() -> None:
    with pytest.raises(TypeError):
        _ = usd("1") + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = usd("1") + Decimal(1)  # type: ignore[operator]


def test_comparisons() -> None:
    assert usd("49.99") < usd("50")
    assert usd("50") <= usd("50.00")
    assert usd("50.01") > usd("50")
    assert usd("50") >= usd("50")
    assert not usd("50") < usd("50")
    assert max(usd("1"), usd("3"), usd("2")) == usd("3")


def test_compare_with_non_money_is_type_error() -> None:
    with pytest.raises(TypeError):
        _ = usd("1") < 2  # type: ignore[operator]


def test_equality_is_by_value_and_currency() -> None:
    assert usd("49") == usd("49.00")
    assert usd("0") != Money.zero("EUR")
    assert usd("1") != Decimal(1)


def test_hashable_and_consistent_with_equality() -> None:
    assert hash(usd("49")) == hash(usd("49.00"))
    assert len({usd("49"), usd("49.00"), usd("50")}) == 2


def test_frozen() -> None:
    with pytest.raises(ValidationError):
        usd("1").amount = Decimal(2)  # type: ignore[misc]


def test_zero() -> None:
    z = Money.zero("JPY")
    assert z.is_zero()
    assert z.currency == "JPY"
    assert usd("0.00").is_zero()
    assert usd("-0").is_zero()
    assert not usd("0.01").is_zero()
    with pytest.raises(UnknownCurrency):
        Money.zero("XYZ")


def test_negation() -> None:
    assert -usd("5") == usd("-5")


# --- rounding and display -------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "amount", "expected"),
    [("USD", "0.005", "0.01"), ("USD", "0.004", "0.00"), ("USD", "-0.005", "-0.01"), ("USD", "2.675", "2.68"),
     ("USD", "49", "49.00"), ("JPY", "1234.5", "1235"), ("JPY", "1234.4", "1234"), ("KRW", "999.5", "1000"),
     ("KWD", "1.2345", "1.235"), ("BHD", "0.0005", "0.001"), ("EUR", "10.125", "10.13")],
)  # fmt: skip
def test_quantized_rounds_half_up_to_minor_unit(currency: str, amount: str, expected: str) -> None:
    q = Money(amount=amount, currency=currency).quantized()
    assert str(q.amount) == expected
    assert q.currency == currency


@pytest.mark.parametrize("amount", ["-0.004", "0.004", "-0.005", "12.345", "49"])
def test_quantized_money_is_the_money_validation_would_make(amount: str) -> None:
    """quantized() builds its result without validating it again: it must be what validating gives
    (no negative zero, the same fields set, equal, hashed and serialised alike)."""
    q = usd(amount).quantized()
    validated = Money(amount=q.amount, currency="USD")
    assert (q, hash(q), q.model_dump_json(), q.model_fields_set) == (
        validated, hash(validated), validated.model_dump_json(), validated.model_fields_set)
    assert not q.amount.is_signed() or not q.amount.is_zero()


_amounts = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=3, allow_nan=False,
                       allow_infinity=False)


@given(_amounts, _amounts, st.integers(-1000, 1000))
@example(Decimal("0.00"), Decimal("-0.00"), 0)
@example(Decimal("-1.50"), Decimal("1.5"), -1)
def test_arithmetic_gives_the_money_validation_would_make(left: Decimal, right: Decimal, factor: int) -> None:
    """Sums, differences, products and negations are built without validating them again: each
    must be what validating its amount gives (no negative zero, the same fields set, equal, hashed
    and serialised alike)."""
    a, b = Money(amount=left, currency="USD"), Money(amount=right, currency="USD")
    for result in (a + b, a - b, a * factor, a * Decimal(factor), -a):
        validated = Money(amount=result.amount, currency="USD")
        assert (result, hash(result), result.model_dump_json(), result.model_fields_set) == (
            validated, hash(validated), validated.model_dump_json(), validated.model_fields_set)
        assert not (result.amount.is_zero() and result.amount.is_signed())


def test_a_refused_operation_does_not_change_the_next() -> None:
    """Money is computed in contexts built once and shared: an amount that cannot be held exactly
    is refused, and the operations after it (in any thread) are exact and succeed as before."""
    import threading

    wide = usd("9" * 58 + ".99")  # 60 digits: the most an amount holds
    with pytest.raises(InvalidAmount, match="cannot be held exactly"):
        wide * 11
    with pytest.raises(InvalidAmount, match="cannot be held exactly"):
        wide + usd("0.001")
    assert usd("0.10") + usd("0.20") == usd("0.30") and usd("0.125").quantized() == usd("0.13")
    results: list[Money] = []

    def work() -> None:
        for _ in range(2000):
            try:
                wide * 11
            except InvalidAmount:
                results.append((usd("0.10") + usd("0.20")) * 3 - usd("0.005").quantized())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8000 and set(results) == {usd("0.89")}


def test_quantized_is_independent_of_callers_rounding() -> None:
    with localcontext() as ctx:
        ctx.rounding = "ROUND_HALF_EVEN"
        assert str(usd("0.125").quantized().amount) == "0.13"


def test_quantized_refuses_currency_without_minor_unit() -> None:
    with pytest.raises(NoMinorUnit, match="'XAU'"):
        Money(amount="1.5", currency="XAU").quantized()


@pytest.mark.parametrize(
    ("money", "text"),
    [(Money(amount=49, currency="USD"), "USD 49.00"), (Money(amount="49.5", currency="USD"), "USD 49.50"),
     (Money(amount="49.005", currency="USD"), "USD 49.005"), (Money(amount="5000", currency="JPY"), "JPY 5000"),
     (Money(amount="1.5", currency="KWD"), "KWD 1.500"), (Money(amount="-3", currency="EUR"), "EUR -3.00"),
     (Money(amount=Decimal("1E+3"), currency="USD"), "USD 1000.00"), (Money(amount="1.5", currency="XAU"), "XAU 1.5")],
)  # fmt: skip
def test_str_pads_to_minor_unit_without_rounding(money: Money, text: str) -> None:
    assert str(money) == text


# --- serialization --------------------------------------------------------------


def test_json_amount_is_exact_string() -> None:
    assert json.loads(usd("49.00").model_dump_json()) == {"amount": "49.00", "currency": "USD"}
    assert json.loads(Money(amount=Decimal("1E+3"), currency="USD").model_dump_json())["amount"] == "1000.00"


def test_json_amount_has_the_currencys_decimals_so_equal_amounts_serialise_alike() -> None:
    assert usd("49").model_dump_json() == usd("49.00").model_dump_json()
    assert json.loads(usd("49.5").model_dump_json())["amount"] == "49.50"
    assert json.loads(Money(amount="100", currency="JPY").model_dump_json())["amount"] == "100"
    assert json.loads(usd("49.005").model_dump_json())["amount"] == "49.005"  # never rounded
    assert usd("49.00").model_dump(mode="json") == {"amount": "49.00", "currency": "USD"}


def test_python_dump_keeps_decimal() -> None:
    assert usd("49.00").model_dump() == {"amount": Decimal("49.00"), "currency": "USD"}


def test_json_round_trip() -> None:
    m = Money(amount="12345678901234567890.123456789", currency="EUR")
    back = Money.model_validate_json(m.model_dump_json())
    assert back == m
    assert str(back.amount) == "12345678901234567890.123456789"


def test_json_number_amount_accepted_via_repr() -> None:
    assert Money.model_validate_json('{"amount": 499.99, "currency": "USD"}').amount == Decimal("499.99")


# --- properties -----------------------------------------------------------------

amounts = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=4, allow_nan=False)


@given(a=amounts, b=amounts)
def test_add_then_subtract_round_trips(a: Decimal, b: Decimal) -> None:
    x, y = Money(amount=a, currency="USD"), Money(amount=b, currency="USD")
    assert (x + y) - y == x
    assert x + y == y + x


@given(a=amounts)
def test_quantized_is_within_half_a_cent_and_idempotent(a: Decimal) -> None:
    m = Money(amount=a, currency="USD")
    q = m.quantized()
    assert abs(q.amount - m.amount) <= Decimal("0.005")
    assert q.quantized() == q
    assert q.amount.as_tuple().exponent == -2


@given(a=amounts)
def test_json_round_trip_property(a: Decimal) -> None:
    m = Money(amount=a, currency="USD")
    assert Money.model_validate_json(m.model_dump_json()) == m
    assert Money.parse(f"USD {format(a, 'f')}") == m


@given(st.one_of(st.integers(-999, 999).map(Decimal),
                 st.decimals(allow_nan=False, allow_infinity=False, places=None, min_value=-10**9, max_value=10**9)),
       st.integers(-6, 2), st.sampled_from(["USD", "JPY", "KWD", "CLF", "XAU", "EUR"]))
@example(Decimal(49), 0, "USD")  # as many characters as decimals: "49" is not "49.00"
@example(Decimal(-3), 0, "EUR")
@example(Decimal(0), -2, "USD")  # "-0.00"
@example(Decimal(100), -1, "JPY")
def test_the_written_amount_is_the_canonical_amount_whatever_its_exponent(
        amount: Decimal, exponent: int, currency: str) -> None:
    # The shortcut for an amount already written with the currency's decimals gives what
    # canonical_amount gives, for every exponent: 49, 49.0, 49.00, 49.000, 4.9E+1, -0.00...
    from claimrules.money import _amount_text, canonical_amount

    if not currency.startswith("X"):
        minor_unit(currency)  # known to the shortcut from here on
    written = amount.quantize(Decimal(1).scaleb(exponent)) if abs(amount) < 10**20 else amount
    if not amount:
        written = -written
    assert _amount_text(written, currency) == format(canonical_amount(written, currency), "f")
