"""The reason in words: for each ground of a decision, one sentence a customer understands.

A sentence is built from the clause and the values the engine used for this claim: dates in words
("17 June 2024"), amounts with their currency, places by name ("Alabama, United States"), counts
("2"). A clause may carry its author's sentence (``reason:`` in the policy, with named values such
as ``{claim.reported_on}``); without one, a sentence is generated from the clause's condition: the
tests that decided it (the false ones of a condition that failed, the true ones of a condition
that held), each stated with its values.

Core module: called once where the Decision is assembled; imports no renderer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from claimrules.decision import Reason, ValueKind, ValueUsed
from claimrules.engine.evaluate import Context
from claimrules.errors import EvaluationError
from claimrules.money import Money
from claimrules.policy import expr as ast
from claimrules.policy.model import REFUSING_EFFECTS, Clause, Definition, Effect, PolicySet
from claimrules.words import (
    fact_label,
    humanise,
    location_words,
    long_date,
    money_words,
    name_in_words,
    ordinal,
    value_words,
    written_words,
)

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")
"""A named value in a clause's ``reason:`` template: a fact path, a definition name, or a computed name."""

COMPUTED_NAMES = ("end", "count", "nth")
"""Names a template may use besides facts and definitions: the last day of the condition's first
``within`` period, the first ``count(...)`` and the ordinal of one more than it ("third")."""

_DATE_OPS = {"<": "before", "<=": "on or before", ">": "after", ">=": "on or after", "==": "on", "!=": "not on"}
_NUMBER_OPS = {"<": "less than", "<=": "at most", ">": "more than", ">=": "at least", "==": "equal to",
               "!=": "different from"}
_COMPLEMENT = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_UNITS = {"days": "day", "months": "month", "years": "year", "business_days": "business-day"}


class Evaluator:
    """Values of any sub-expression of a condition for one claim (compiled on demand, untraced)."""

    def __init__(self, program: Any, ctx: Context, compiled: dict[int, tuple[ast.Expr, Any]] | None = None) -> None:
        self.program = program
        self.ctx = ctx
        self.compiled = compiled if compiled is not None else {}

    def value(self, node: ast.Expr) -> Any:
        if isinstance(node, ast.Fact) and node.path.startswith("item."):
            return None
        # By identity, never by equality: Const(True) == Const(1) (and a condition's text is not
        # compared), so an equality-keyed cache would hand one node another's closure.
        entry = self.compiled.get(id(node))
        if entry is None or entry[0] is not node:
            if len(self.compiled) > 50_000:
                self.compiled.clear()
            entry = self.compiled[id(node)] = (node, self.program.conditions.compile(node, record=False))
        fn = entry[1]
        try:
            return fn(self.ctx)
        except EvaluationError:
            return None

    def truth(self, node: ast.Expr) -> bool | None:
        value = self.value(node)
        return value if isinstance(value, bool) else None


def deciding_leaves(node: ast.Expr, value: bool | None, evaluator: Evaluator) -> list[tuple[ast.Expr, bool | None]]:
    """The tests that decided a condition's value: of a failed ``and`` its false parts, of a held
    ``or`` its true parts, of an unknown its unknown parts; every part otherwise."""
    if isinstance(node, ast.Labelled):
        return [(node, value)]  # the contract names this test: it is stated by its name
    if isinstance(node, ast.Not):
        return deciding_leaves(node.item, None if value is None else not value, evaluator)
    if isinstance(node, (ast.All, ast.AnyOf)):
        parts = [(item, evaluator.truth(item)) for item in node.items]
        decisive: bool | None = False if isinstance(node, ast.All) else True
        if value is None:
            chosen = [part for part in parts if part[1] is None]
        elif value is decisive:
            chosen = [part for part in parts if part[1] is decisive]
        else:
            chosen = parts
        return [leaf for item, item_value in chosen for leaf in deciding_leaves(item, item_value, evaluator)]
    return [(node, value)]


@dataclass
class _Phrase:
    text: str
    values: list[ValueUsed]


class Reasons:
    """Builds the sentences for one policy set; ``for_grounds`` is called once per decision."""

    def __init__(self, program: Any) -> None:
        self.program = program
        self.policy: PolicySet = program.policy
        self._compiled: dict[int, tuple[ast.Expr, Any]] = {}  # policy sub-expressions, compiled once
        self._derived: dict[tuple[int, str], tuple[ast.Expr, ast.Expr]] = {}
        self._targets: dict[str, ast.Expr] = {}
        self._labels: dict[int, tuple[ast.Expr, str]] = {}
        self._definition_labels: dict[str, str] = {}
        self._template_names: dict[str, tuple[str, ...]] = {}  # clause key -> the names its templates use
        self._computed_parts: dict[int, tuple[ast.Expr, tuple[ast.Expr, ...]]] = {}  # periods and counts in a condition

    def derived(self, base: ast.Expr, kind: str, make: Any) -> ast.Expr:
        """A node built from a policy node (a period's end, a clause's whole condition), built once
        so that its compiled closure is reused."""
        entry = self._derived.get((id(base), kind))
        if entry is None or entry[0] is not base:
            entry = self._derived[(id(base), kind)] = (base, make())
        return entry[1]

    def end_of(self, within: ast.Within) -> ast.Expr:
        return self.derived(within, "end", lambda: ast.Shift(within.anchor, 1, within.duration,
                                                             text=f"{within.anchor.text} + {within.duration.text}"))

    # -- labels ----------------------------------------------------------------------------------
    def label(self, node: ast.Expr) -> str:
        """A policy node in words; the same for every claim, so worked out once per node."""
        entry = self._labels.get(id(node))
        if entry is None or entry[0] is not node:  # by identity, as Evaluator.value
            if len(self._labels) > 50_000:
                self._labels.clear()
            entry = self._labels[id(node)] = (node, self._label(node))
        return entry[1]

    def _label(self, node: ast.Expr) -> str:
        if isinstance(node, ast.Fact):
            return fact_label(node.path, self.policy.vocabulary)
        if isinstance(node, ast.Ref):
            return self.definition(node.name)
        if isinstance(node, ast.Shift):
            return f"the day {_duration(node.duration)} {'after' if node.sign > 0 else 'before'} {self.label(node.base)}"
        if isinstance(node, ast.Quantified):
            what = fact_label(node.collection, self.policy.vocabulary)
            return f"the number of {what} that count here" if node.where is not None else f"the number of {what}"
        if isinstance(node, ast.Call):
            args = [self.label(arg) for arg in node.args if not isinstance(arg, (ast.Const, ast.Duration))]
            if node.name == "min" and len(args) == 2:
                return f"the earlier of {args[0]} and {args[1]}"
            if node.name == "max" and len(args) == 2:
                return f"the later of {args[0]} and {args[1]}"
            if node.name == "coalesce" and args:
                return args[0]
            if node.name == "month_day" and args:
                return f"the month and day of {args[0]}"
            return humanise(node.name) + (f" of {args[0]}" if args else "")
        if isinstance(node, ast.Arith):
            return f"{self.label(node.left)} {node.op} {self.label(node.right)}"
        if isinstance(node, ast.Const):
            return value_words(node.value)
        return node.text

    def definition(self, name: str) -> str:
        """A definition in words: the same for every claim, so worked out once per name (its
        last-resort form reads the defining clause's words)."""
        label = self._definition_labels.get(name)
        if label is None:
            definition = self.policy.definitions.get(name)
            clause = self.policy.clauses_by_key.get(definition.clause) if definition is not None and definition.clause else None
            label = definition_label(definition, name, clause.text if clause is not None else "")
            if len(self._definition_labels) < 50_000:  # a policy's definitions, and names it does not define
                self._definition_labels[name] = label
        return label

    def place(self, ev: Evaluator) -> ValueUsed:
        """Where the claim places the product (the facts with the roles country, subdivision and
        military_address), as one value: the group that holds them is what territories test."""
        roles, values = self.policy.vocabulary.roles, ev.ctx.values
        country = values.get(roles["country"]) if "country" in roles else None
        subdivision = values.get(roles["subdivision"]) if "subdivision" in roles else None
        military = bool(values.get(roles["military_address"])) if "military_address" in roles else False
        return ValueUsed.trusted(name=self.place_group or "place", label=fact_label(self.place_group or "place", self.policy.vocabulary),
                                 kind="place", value=str(subdivision or country or ""),
                                 words=location_words(country, subdivision, military))

    @property
    def place_group(self) -> str | None:
        """The group holding the fact with the role ``country`` ('location' for 'location.country')."""
        path = self.policy.vocabulary.roles.get("country")
        return path.rsplit(".", 1)[0] if path and "." in path else path

    def used(self, node: ast.Expr, value: Any) -> ValueUsed:
        name = node.path if isinstance(node, ast.Fact) else node.name if isinstance(node, ast.Ref) else node.text
        return ValueUsed.trusted(name=name, label=self.label(node), kind=_kind(value), value=_canonical(value),
                                 words=value_words(value))

    def operand(self, node: ast.Expr, evaluator: Evaluator, values: list[ValueUsed]) -> tuple[str, Any]:
        """An operand in words: a constant as its value, anything else as 'label (value)'."""
        if isinstance(node, ast.Const):
            return value_words(node.value), node.value
        value = evaluator.value(node)
        values.append(self.used(node, value))
        return f"{self.label(node)} ({value_words(value)})", value

    # -- one test --------------------------------------------------------------------------------
    def phrase(self, node: ast.Expr, value: bool | None, evaluator: Evaluator, depth: int = 0) -> _Phrase:
        values: list[ValueUsed] = []
        text = self._phrase(node, value, evaluator, values, depth)
        return _Phrase(text, values)

    def _inner(self, node: ast.Expr, value: bool | None, ev: Evaluator, values: list[ValueUsed], depth: int) -> str:
        """The tests under a named test or a referenced clause, as a parenthesis (two levels at most)."""
        if depth >= 3:
            return ""
        phrases = [self.phrase(leaf, leaf_value, ev, depth + 1) for leaf, leaf_value in deciding_leaves(node, value, ev)]
        values.extend(value for phrase in phrases for value in phrase.values)
        return "; ".join(phrase.text for phrase in phrases if phrase.text)

    def _phrase(self, node: ast.Expr, value: bool | None, ev: Evaluator, values: list[ValueUsed], depth: int = 0) -> str:
        if isinstance(node, ast.Labelled):
            inner = self._inner(node.item, value, ev, values, depth)
            if value:
                return node.label + (f" ({inner})" if inner else "")
            verdict = "not met" if value is False else "not known yet"
            return f"{node.label}: {verdict}" + (f" ({inner})" if inner else "")
        if isinstance(node, ast.Within):
            return self._within(node, value, ev, values)
        if isinstance(node, ast.Compare):
            return self._compare(node, value, ev, values)
        if isinstance(node, ast.Member):
            return self._member(node, value, ev, values)
        if isinstance(node, ast.Known):
            label = self.label(node.operand)
            given = ev.value(node.operand)
            if given is None:
                return f"{label} is not given"
            if isinstance(given, (str, int, Decimal, date, Money)):
                values.append(self.used(node.operand, given))
                return f"{label} is {value_words(given)}"
            return f"{label} is given"
        if isinstance(node, ast.Holds):
            clause = self.policy.clauses_by_key.get(node.clause)
            title = f" ({clause.title})" if clause is not None else ""
            said = f"section {node.clause}{title} {'applies' if value else 'does not apply' if value is False else 'may apply'}"
            condition = None
            base = (clause.when or clause.applies) if clause is not None and value is False else None
            if clause is not None and base is not None:
                condition = self.derived(base, "holding", lambda: _holding(clause) or base)
            inner = self._inner(condition, value, ev, values, depth) if condition is not None else ""
            return f"{said}: {inner}" if inner else said
        if isinstance(node, ast.Quantified):
            what = fact_label(node.collection, self.policy.vocabulary)
            return f"{what} include one that counts here" if value else f"none of {what} counts here"
        if isinstance(node, ast.Fact):
            fact = ev.value(node)
            values.append(self.used(node, fact))
            return f"{self.label(node)}: {value_words(fact)}"
        if isinstance(node, ast.Const):
            return "this always applies"
        return ""  # a test the customer's words cannot state: its label or the clause's wording says it

    def _within(self, node: ast.Within, value: bool | None, ev: Evaluator, values: list[ValueUsed]) -> str:
        event_words, event = self.operand(node.event, ev, values)
        anchor_words, anchor = self.operand(node.anchor, ev, values)
        period = f"the {node.duration.amount}-{_UNITS[node.duration.unit]} period after {anchor_words}"
        end = ev.value(self.end_of(node))
        if isinstance(end, date):
            values.append(ValueUsed(name=f"{node.anchor.text} + {node.duration.text}", label="the last day of the period",
                                    kind="date", value=end.isoformat(), words=long_date(end)))
        if value is None or not isinstance(end, date):
            return f"{event_words} may or may not be within {period}"
        if value:
            return f"{event_words} is within {period}, which ends on {long_date(end)}"
        if isinstance(event, date) and isinstance(anchor, date) and event < anchor:
            return f"{event_words} is before {anchor_words}"
        return f"{event_words} is after {period}, which ended on {long_date(end)}"

    def _compare(self, node: ast.Compare, value: bool | None, ev: Evaluator, values: list[ValueUsed]) -> str:
        left_words, left = self.operand(node.left, ev, values)
        right_words, right = self.operand(node.right, ev, values)
        op = node.op if value is not False else _COMPLEMENT[node.op]
        if value is None:
            return f"{left_words} compared with {right_words} cannot be decided yet"
        if isinstance(left, date) or isinstance(right, date):
            return f"{left_words} is {_DATE_OPS[op]} {right_words}"
        if isinstance(left, (int, Decimal, Money)) and not isinstance(left, bool):
            if isinstance(node.left, ast.Quantified) and node.left.kind == "count" and isinstance(left, int):
                noun = fact_label(node.left.collection, self.policy.vocabulary)
                left_words = f"{left} of {noun} count here" if left != 1 else f"1 of {noun} counts here"
                return f"{left_words}, {_NUMBER_OPS[op]} {right_words}" if op != "==" else f"{left_words}, exactly {right_words}"
            return f"{left_words} is {_NUMBER_OPS[op]} {right_words}"
        if isinstance(node.right, ast.Const) and not isinstance(node.left, ast.Const):
            label = self.label(node.left)
            if isinstance(node.right.value, bool) or left == node.right.value:
                return f"{label}: {value_words(left)}" if isinstance(left, bool) else f"{label} is {value_words(left)}"
            return f"{label} is {value_words(left)}, not {right_words}"
        return f"{left_words} is {right_words}" if op == "==" else f"{left_words} is not {right_words}"

    def _member(self, node: ast.Member, value: bool | None, ev: Evaluator, values: list[ValueUsed]) -> str:
        inside = None if value is None else value != node.negated
        container = node.container
        if isinstance(container, ast.Ref):
            definition = self.policy.definitions.get(container.name)
            if definition is not None and definition.codes is not None:
                values.append(self.place(ev))
                place = values[-1].words
                where = self.definition(container.name)
                if inside is None:
                    return f"whether the Product's location ({place}) is in {where} is not known"
                return f"the Product's location ({place}) is {'in' if inside else 'not in'} {where}"
            item_words, _ = self.operand(node.item, ev, values)
            group = self.definition(container.name)
            if inside is None:
                return f"{item_words} may or may not be among {group}"
            return f"{item_words} is {'among' if inside else 'not among'} {group}"
        if isinstance(container, ast.SetOf):
            _, item = self.operand(node.item, ev, values)
            label = self.label(node.item)
            choices = " or ".join(value_words(const.value) for const in container.items)
            if inside is None:
                return f"{label} is not known"
            return f"{label} is {value_words(item)}" if inside else f"{label} is {value_words(item)}, not {choices}"
        collection = self.label(container)
        collection_value = ev.value(container)
        values.append(self.used(container, collection_value))
        item = node.item.value if isinstance(node.item, ast.Const) else ev.value(node.item)
        if inside is None:
            return f"whether {collection} include {value_words(item)} is not known"
        return f"{collection} {'include' if inside else 'do not include'} {value_words(item)}"

    # -- one ground ------------------------------------------------------------------------------
    def for_clause(self, clause: Clause, branch: str, evaluator: Evaluator) -> Reason:
        """The sentence for one ground: its ``holds`` branch, its ``otherwise`` branch (the ``when``
        failed) or, for a clause without a condition, its contract wording."""
        if branch == "otherwise" and clause.when is not None:
            node: ast.Expr | None = clause.when
            value = evaluator.truth(clause.when)
        else:
            # The clause's own test decides; 'applies' only says the clause speaks to this claim.
            node = clause.when if clause.when is not None else clause.applies
            value = evaluator.truth(node) if node is not None else True
        leaves = deciding_leaves(node, value, evaluator) if node is not None else []
        phrases = [phrase for phrase in (self.phrase(leaf, leaf_value, evaluator) for leaf, leaf_value in leaves)
                   if phrase.text]
        values = _unique(value for phrase in phrases for value in phrase.values)
        template = clause.reason_otherwise if branch == "otherwise" else clause.reason
        if template:
            named = self._named(clause, node, evaluator, values)
            text = PLACEHOLDER.sub(lambda match: named[match.group(1)].words if match.group(1) in named else match.group(0),
                                   template)
            values = _unique([*values, *(named[name] for name in PLACEHOLDER.findall(template) if name in named)])
        elif not phrases:
            text = clause.text
        else:
            joined = "; ".join(phrase.text for phrase in phrases)
            if branch == "otherwise" or value is False:
                lead = f"{clause.title}: not met, because"
            elif value is None:
                lead = f"{clause.title}: not known yet"
            elif clause.effect in REFUSING_EFFECTS:
                lead = f"{clause.title} applies"
            elif clause.effect in (Effect.COVERS, Effect.EXTENDS):
                lead = f"{clause.title}"
            else:
                lead = f"{clause.title}"
            text = f"{lead} {joined}." if lead.endswith("because") else f"{lead}: {joined}."
        return Reason.trusted(clause=clause.id, branch="otherwise" if branch == "otherwise" else "holds",
                              text=_sentence(text), values=tuple(values))

    def _named(self, clause: Clause, node: ast.Expr | None, ev: Evaluator, found: list[ValueUsed]) -> dict[str, ValueUsed]:
        """The values a template may name, for this claim."""
        named: dict[str, ValueUsed] = {}
        names = self._template_names.get(clause.key)
        if names is None:
            names = self._template_names[clause.key] = tuple(
                name for name in PLACEHOLDER.findall(" ".join(filter(None, (clause.reason, clause.reason_otherwise))))
                if name not in COMPUTED_NAMES)
        for name in names:
            target = self._targets.get(name)
            if target is None:
                target = self._targets[name] = ast.Ref(name) if name in self.policy.definitions else ast.Fact(name)
            if name == self.place_group:
                named[name] = self.place(ev)
                continue
            named[name] = self.used(target, ev.value(target))
        if node is not None:
            entry = self._computed_parts.get(id(node))
            if entry is None or entry[0] is not node:  # by identity, as Evaluator.value
                parts = [sub for sub in ast.walk(node) if isinstance(sub, ast.Within)
                         or (isinstance(sub, ast.Quantified) and sub.kind == "count")]
                entry = self._computed_parts[id(node)] = (node, tuple(parts))
            for sub in entry[1]:
                if isinstance(sub, ast.Within) and "end" not in named:
                    end = ev.value(self.end_of(sub))
                    if isinstance(end, date):
                        named["end"] = ValueUsed.trusted(name="end", label="the last day of the period", kind="date",
                                                         value=end.isoformat(), words=long_date(end))
                if isinstance(sub, ast.Quantified) and "count" not in named:
                    count = ev.value(sub)
                    if isinstance(count, int):
                        named["count"] = ValueUsed.trusted(name="count", label=self.label(sub), kind="count",
                                                           value=str(count), words=str(count))
                        named["nth"] = ValueUsed.trusted(name="nth", label=self.label(sub), kind="count",
                                                         value=str(count + 1), words=ordinal(count + 1))
        return named

    def _asked(self, path: str) -> str:
        """A missing fact as what we need to know: a yes/no fact's label is a statement, asked with 'whether'."""
        spec = self.policy.vocabulary.specs.get(path)
        label = fact_label(path, self.policy.vocabulary)
        return f"whether {label}" if spec is not None and spec.type == "bool" else label

    def for_grounds(self, grounds: Iterable[Clause], truth: dict[str, bool | None], ctx: Context, outcome: str,
                    missing: Iterable[str]) -> tuple[Reason, ...]:
        """One reason per ground, in the grounds' order."""
        evaluator = Evaluator(self.program, ctx, self._compiled)
        missing = tuple(missing)
        reasons = []
        for clause in grounds:
            if outcome == "needs_information" and clause.id == self.policy.information_clause:
                labels = [self._asked(path) for path in missing]
                text = ("We cannot decide yet: we need to know " + _and(labels) + ", which could change the decision."
                        if labels else clause.text)
                reasons.append(Reason(clause=clause.id, branch="missing", text=_sentence(text)))
                continue
            branch = "otherwise" if (clause.otherwise is not None and truth.get(clause.otherwise_key) is True
                                     and outcome == "deny") else "holds"
            reasons.append(self.for_clause(clause, branch, evaluator))
        return tuple(reasons)


def _holding(clause: Clause) -> ast.Expr | None:
    parts = tuple(part for part in (clause.applies, clause.when) if part is not None)
    return None if not parts else parts[0] if len(parts) == 1 else ast.All(parts)


def definition_label(definition: Definition | None, name: str, defining_text: str = "") -> str:
    """A definition as words: the contract's own capitalised term where its clause uses one
    ("the Delivery Date"), else its description's first sentence where short, else its name."""
    term = name.replace("_", " ").title()
    if term in defining_text:
        return f"the {term}"
    if definition is not None and definition.description:
        first = re.split(r"(?<=[a-z)])\. |; |: ", definition.description.strip())[0].rstrip(".")
        first = re.sub(r"\s*\([^)]*(?:\b[A-Z]{2}[ -]\d|the same codes)[^)]*\)", "", first)
        if len(first) <= 140:
            return first[0].lower() + first[1:] if first[:1].isupper() and not first[1:2].isupper() else first
    # The name's words as the defining clause and the description write them ('the US territories').
    return "the " + name_in_words(name, written_words([defining_text, definition.description if definition else ""]))


def template_names(template: str) -> list[str]:
    """The named values a ``reason:`` template uses (for the loader to check)."""
    return PLACEHOLDER.findall(template)


def _duration(duration: ast.Duration) -> str:
    unit = duration.unit.replace("_", " ")
    return f"{duration.amount} {unit[:-1] if duration.amount == 1 else unit}"


def _kind(value: Any) -> ValueKind:
    if isinstance(value, bool):
        return "yes_no"
    if isinstance(value, date):
        return "date"
    if isinstance(value, Money):
        return "money"
    if isinstance(value, int):
        return "count"
    if isinstance(value, Decimal):
        return "number"
    if isinstance(value, (tuple, list, frozenset)):
        return "list"
    return "text"


def _canonical(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Money):
        return money_words(value)
    return value_words(value) if not isinstance(value, str) else value


def _unique(values: Iterable[ValueUsed]) -> list[ValueUsed]:
    return list(dict.fromkeys(values))


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text[:1].upper() + text[1:] if text else text
