"""Condition text to AST: a hand-written recursive-descent parser with exact error positions.

The language (see docs/policy-language.md)::

    product.condition in {'refurbished', 'open_box'}
      and not (claim.reported_on within 14 days after delivery_date)
    incident.occurred_on - 12 months <= item.occurred_on
    count(prior_incidents where item.covered and item.kind == 'accidental') >= 2
    holds('LW 5.1') and plan is missing

No ``eval``: text is only ever turned into the nodes of ``claimrules.policy.expr``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from claimrules.errors import PolicyError
from claimrules.money import Money
from claimrules.policy import expr as ast

MAX_LENGTH = 4000
MIN_DATE = date(1900, 1, 1)   # the years a claim's dates may fall in (claimrules.facts)
MAX_DATE = date(2199, 12, 31)
MAX_DEPTH = 32
MAX_DIGITS = 15  # a number the engine holds exactly (64-bit integers, doubles)
MAX_DURATION = {"days": 366_000, "business_days": 261_000, "months": 12_000, "years": 1_000}  # 1,000 years

FUNCTIONS = frozenset(
    {"coalesce", "max", "min", "month_day", "next_on", "count", "any", "sum", "holds"}
)
UNITS = {
    "day": "days", "days": "days", "month": "months", "months": "months",
    "year": "years", "years": "years",
}
KEYWORDS = frozenset({"and", "or", "not", "in", "within", "after", "is", "known", "missing", "true", "false", "where", "business",
                      "if", "then", "else", "up", "to"})

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\d-]))
  | (?P<number>\d+(?:\.\d+)?%?)
  | (?P<string>'[^'\n]*'|"[^"\n]*")
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|\(|\)|\{|\}|,)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    start: int


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if match is None:
            raise _error(source, position, f"unexpected character {source[position]!r}", "a condition")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


def _error(source: str, offset: int, message: str, expected: str | None = None) -> PolicyError:
    caret = source + "\n" + " " * offset + "^"
    return PolicyError(message, column=offset + 1, expected=expected, help=f"in condition:\n    {caret.replace(chr(10), chr(10) + '    ')}")


class Parser:
    def __init__(self, source: str, fact_roots: frozenset[str]) -> None:
        if len(source) > MAX_LENGTH:
            raise PolicyError(f"condition is {len(source)} characters long", expected=f"at most {MAX_LENGTH}")
        self.source = source
        self.fact_roots = fact_roots
        self.tokens = tokenize(source)
        self.index = 0
        self.depth = 0

    # -- token helpers -------------------------------------------------------------------------
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def accept(self, text: str) -> Token | None:
        token = self.current
        if token.text == text and token.kind in ("op", "name"):
            self.index += 1
            return token
        return None

    def expect(self, text: str, what: str | None = None) -> Token:
        token = self.accept(text)
        if token is None:
            raise self.fail(f"expected {what or repr(text)}", what or repr(text))
        return token

    def fail(self, message: str, expected: str | None = None) -> PolicyError:
        token = self.current
        found = "end of condition" if token.kind == "end" else repr(token.text)
        return _error(self.source, token.start, f"{message}, found {found}", expected)

    def span(self, start: int) -> str:
        end = self.tokens[self.index - 1]
        return self.source[start : end.start + len(end.text)].strip()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"condition nested more than {MAX_DEPTH} levels deep", f"at most {MAX_DEPTH} levels")

    def leave(self) -> None:
        self.depth -= 1

    # -- grammar -------------------------------------------------------------------------------
    def parse(self) -> ast.Expr:
        node = self.disjunction()
        if self.current.kind != "end":
            raise self.fail("unexpected text after the condition", "'and', 'or' or the end of the condition")
        return node

    def disjunction(self) -> ast.Expr:
        start = self.current.start
        items = [self.conjunction()]
        while self.accept("or"):
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else ast.AnyOf(tuple(items), text=self.span(start))

    def conjunction(self) -> ast.Expr:
        start = self.current.start
        items = [self.negation()]
        while self.accept("and"):
            items.append(self.negation())
        return items[0] if len(items) == 1 else ast.All(tuple(items), text=self.span(start))

    def negation(self) -> ast.Expr:
        start = self.current.start
        if self.accept("not"):
            self.enter()
            inner = self.negation()
            self.leave()
            return ast.Not(inner, text=self.span(start))
        return self.predicate()

    def predicate(self) -> ast.Expr:
        start = self.current.start
        left = self.ceiling()
        token = self.current
        if token.kind == "op" and token.text in ("==", "!=", "<", "<=", ">", ">="):
            self.index += 1
            right = self.ceiling()
            return ast.Compare(token.text, left, right, text=self.span(start))  # type: ignore[arg-type]
        if self.accept("in"):
            return ast.Member(left, self.container(), text=self.span(start))
        if token.text == "not" and self.peek().text == "in":
            self.index += 2
            return ast.Member(left, self.container(), negated=True, text=self.span(start))
        if self.accept("within"):
            duration = self.duration()
            self.expect("after", "'after' (as in 'within 30 days after delivery_date')")
            anchor = self.additive()
            return ast.Within(left, anchor, duration, text=self.span(start))
        if self.accept("is"):
            negated = bool(self.accept("not"))
            if self.accept("known"):
                return ast.Known(left, negated=negated, text=self.span(start))
            if self.accept("missing"):
                return ast.Known(left, negated=not negated, text=self.span(start))
            raise self.fail("expected 'known' or 'missing' after 'is'", "'known' or 'missing'")
        return left

    def container(self) -> ast.SetOf | ast.Ref | ast.Fact:
        start = self.current.start
        if self.accept("{"):
            items: list[ast.Const] = []
            while True:
                value = self.primary()
                if not isinstance(value, ast.Const):
                    raise _error(self.source, start, "a set may hold only constants", "constants like 'new' or 3")
                items.append(value)
                if self.accept("}"):
                    break
                self.expect(",", "',' or '}'")
            return ast.SetOf(tuple(items), text=self.span(start))
        token = self.current
        if token.kind == "name" and token.text not in KEYWORDS:
            self.index += 1
            if token.text.split(".", 1)[0] in self.fact_roots:
                return ast.Fact(token.text, text=token.text)
            if "." in token.text:
                raise _error(self.source, token.start, f"unknown fact '{token.text}'", "a claim fact")
            return ast.Ref(token.text, text=token.text)
        raise self.fail("expected a set like {'a', 'b'} or the name of a defined set", "a set")

    def duration(self) -> ast.Duration:
        start = self.current.start
        token = self.current
        if token.kind != "number" or not token.text.isdigit():
            raise self.fail("expected a whole number of days, months or years", "a duration like '30 days'")
        self.index += 1
        amount = int(self.number(token))
        if self.accept("business"):
            unit = self.current.text
            if unit not in ("day", "days"):
                raise self.fail("expected 'days' after 'business'", "'business days'")
            unit = "business_days"
        else:
            known = UNITS.get(self.current.text)
            if known is None:
                raise self.fail("expected a unit", "'days', 'months', 'years' or 'business days'")
            unit = known
        self.index += 1
        if amount > MAX_DURATION[unit]:
            raise _error(self.source, token.start, f"a duration of {amount} {unit.replace('_', ' ')} is too long",
                         f"at most {MAX_DURATION[unit]} {unit.replace('_', ' ')}")
        return ast.Duration(amount, unit, text=self.span(start))  # type: ignore[arg-type]

    def ceiling(self) -> ast.Expr:
        """``amount up to ceiling``: the amount, but never more than the ceiling (the lower of the two)."""
        start = self.current.start
        node = self.additive()
        while self.current.text == "up" and self.current.kind == "name" and self.peek().text == "to":
            self.index += 2
            limit = self.additive()
            node = ast.Call("min", (node, limit), text=self.span(start))
        return node

    def conditional(self, start: int) -> ast.Expr:
        """``if condition then value else value``: a two-row decision table with the 'first' hit policy."""
        self.enter()
        try:
            condition = self.disjunction()
            self.expect("then", "'then' (as in 'if product.condition == 'new' then 30 else 14')")
            chosen = self.disjunction()
            self.expect("else", "'else': a conditional value needs a value for every case")
            other = self.disjunction()
        finally:
            self.leave()
        return ast.Table("first", (ast.Row(condition, chosen, text=chosen.text), ast.Row(None, other, text=other.text)),
                         text=self.span(start))

    def additive(self) -> ast.Expr:
        start = self.current.start
        node = self.multiplicative()
        while self.current.kind == "op" and self.current.text in ("+", "-"):
            sign_token = self.current
            self.index += 1
            is_duration = self.current.kind == "number" and (
                self.peek().text in UNITS or self.peek().text == "business"
            )
            if is_duration:
                duration = self.duration()
                node = ast.Shift(node, 1 if sign_token.text == "+" else -1, duration, text=self.span(start))
            else:
                right = self.multiplicative()
                node = ast.Arith(sign_token.text, node, right, text=self.span(start))  # type: ignore[arg-type]
        return node

    def multiplicative(self) -> ast.Expr:
        start = self.current.start
        node = self.primary()
        while self.accept("*"):
            right = self.primary()
            node = ast.Arith("*", node, right, text=self.span(start))
        return node

    def primary(self) -> ast.Expr:
        token = self.current
        start = token.start
        if token.kind == "op" and token.text == "(":
            self.index += 1
            self.enter()
            inner = self.disjunction()
            self.leave()
            self.expect(")", "')'")
            return inner
        if token.kind == "op" and token.text == "-" and self.peek().kind == "number":
            self.index += 1
            number = self.number(self.current)
            self.index += 1
            return ast.Const(-number, text=self.span(start))
        if token.kind == "number":
            self.index += 1
            return ast.Const(self.number(token), text=token.text)
        if token.kind == "string":
            self.index += 1
            return ast.Const(token.text[1:-1], text=token.text)
        if token.kind == "date":
            self.index += 1
            try:
                day = date.fromisoformat(token.text)
            except ValueError:
                raise _error(self.source, start, f"{token.text} is not a real date", "a date YYYY-MM-DD") from None
            if not MIN_DATE <= day <= MAX_DATE:
                raise _error(self.source, start, f"{token.text} is outside the years {MIN_DATE.year}-{MAX_DATE.year}",
                             f"a date from {MIN_DATE.year} to {MAX_DATE.year}")
            return ast.Const(day, text=token.text)
        if token.kind == "name":
            return self.name()
        raise self.fail("expected a value, a fact or a definition", "a value")

    def number(self, token: Token) -> int | Decimal:
        text = token.text
        if sum(character.isdigit() for character in text) > MAX_DIGITS:
            raise _error(self.source, token.start, f"the number {text} has more than {MAX_DIGITS} digits",
                         f"at most {MAX_DIGITS} digits")
        if text.endswith("%"):
            return Decimal(text[:-1]) / 100
        if "." in text:
            return Decimal(text)
        return int(text)

    def name(self) -> ast.Expr:
        token = self.current
        start = token.start
        text = token.text
        if text == "true" or text == "false":
            self.index += 1
            return ast.Const(text == "true", text=text)
        if text == "if":
            self.index += 1
            return self.conditional(start)
        if text in KEYWORDS:
            raise self.fail(f"'{text}' cannot start a value", "a value, a fact or a definition")
        if re.fullmatch(r"[A-Z]{3}", text) and self.peek().kind == "number":
            self.number(self.peek())  # the digit limit
            self.index += 2
            try:
                return ast.Const(Money.parse(f"{text} {self.peek(-1).text}"), text=self.span(start))
            except (ValueError, InvalidOperation) as problem:
                raise _error(self.source, start, str(problem), "an amount like USD 49") from None
        self.index += 1
        if self.current.kind == "op" and self.current.text == "(":
            return self.call(text, start)
        root = text.split(".", 1)[0]
        if root in self.fact_roots or root == "item":
            return ast.Fact(text, text=text)
        if "." in text:
            raise _error(self.source, start, f"unknown fact '{text}'", "a claim fact such as 'product.condition'")
        return ast.Ref(text, text=text)

    def call(self, name: str, start: int) -> ast.Expr:
        if name not in FUNCTIONS:
            raise _error(self.source, start, f"unknown function '{name}'", "one of " + ", ".join(sorted(FUNCTIONS)))
        self.expect("(")
        self.enter()
        try:
            if name in ("count", "any", "sum"):
                token = self.current
                if (name in ("count", "any") and token.kind == "name" and "." not in token.text
                        and token.text not in self.fact_roots and token.text not in KEYWORDS):
                    # the grants of an exceptions declaration, by its name
                    self.index += 1
                    grants_where = self.disjunction() if self.accept("where") else None
                    self.expect(")", "')'")
                    return ast.GrantQuery(name, ast.Ref(token.text, text=token.text), grants_where,  # type: ignore[arg-type]
                                          text=self.span(start))
                if token.kind != "name" or token.text.split(".", 1)[0] not in self.fact_roots:
                    raise self.fail(f"{name}() takes a list-valued claim fact", "a list such as 'prior_incidents'")
                self.index += 1
                value = None
                if name == "sum":
                    self.expect(",", "',' and the value to add up, as in sum(product.missing_accessories, item.list_price)")
                    value = self.additive()
                where = self.disjunction() if self.accept("where") else None
                self.expect(")", "')'")
                return ast.Quantified(name, token.text, where, value, text=self.span(start))  # type: ignore[arg-type]
            if name == "holds":
                token = self.current
                if token.kind != "string":
                    raise self.fail("holds() takes a clause id in quotes", "a clause id like 'LW 5.1'")
                self.index += 1
                self.expect(")", "')'")
                return ast.Holds(token.text[1:-1], text=self.span(start))
            args: list[ast.Expr] = []
            if not self.accept(")"):
                while True:
                    args.append(self.disjunction())
                    if self.accept(")"):
                        break
                    self.expect(",", "',' or ')'")
            return ast.Call(name, tuple(args), text=self.span(start))
        finally:
            self.leave()


def parse_condition(source: str, fact_roots: frozenset[str]) -> ast.Expr:
    """Parse one condition; raises PolicyError with the column and a caret under the problem."""
    if not isinstance(source, str) or not source.strip():
        raise PolicyError("empty condition", expected="a condition such as \"product.condition == 'new'\"")
    return Parser(source, fact_roots).parse()
