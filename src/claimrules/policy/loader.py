"""Policy text to policy model: safe YAML, exact file:line errors, validation of every reference.

A policy set is a folder with ``policy-set.yaml`` naming its document files (which must stay inside
the folder), its parties and how documents combine. YAML is read with ``yaml.SafeLoader`` and with
aliases refused: a policy is data, never code.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from claimrules.errors import PolicyError, did_you_mean
from claimrules.facts import FACT_PATHS, FACT_ROOTS, ITEM_FIELDS, LIST_FACTS
from claimrules.policy import expr as ast
from claimrules.policy.model import (
    DISCLOSURE_ITEMS,
    AmountCase,
    Clause,
    Definition,
    Document,
    EarlierVersion,
    Effect,
    EscalationStep,
    Party,
    PolicySet,
    Source,
)
from claimrules.policy.parser import parse_condition
from claimrules.territory import NAMED_SETS, validate_country, validate_subdivision

MANIFEST = "policy-set.yaml"
MAX_FILE_BYTES = 2_000_000
MAX_CLAUSES = 2000
MAX_NESTING = 64  # [ and { levels: PyYAML's scanner is quadratic in them (50,000 '[' take minutes)


class _Mapping(dict[str, Any]):
    """A YAML mapping that remembers the line and column of each key."""

    line: int = 0
    column: int = 0
    positions: dict[str, tuple[int, int]]


class _Loader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> _Mapping:  # type: ignore[override]
        mapping = _Mapping()
        mapping.line = node.start_mark.line + 1
        mapping.column = node.start_mark.column + 1
        mapping.positions = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise PolicyError(
                    f"mapping key {key!r} is not text", line=key_node.start_mark.line + 1,
                    column=key_node.start_mark.column + 1, expected="a text key",
                )
            if key in mapping:
                raise PolicyError(
                    f"key '{key}' appears twice", line=key_node.start_mark.line + 1,
                    column=key_node.start_mark.column + 1, expected="each key once",
                )
            try:
                mapping[key] = self.construct_object(value_node, deep=True)
            except (ValueError, OverflowError) as problem:  # e.g. the date 2024-02-30
                raise PolicyError(
                    f"'{key}': {value_node.value!r} is not a valid value: {problem}", line=value_node.start_mark.line + 1,
                    column=value_node.start_mark.column + 1, expected="a real date YYYY-MM-DD, or text in quotes",
                ) from None
            mapping.positions[key] = (value_node.start_mark.line + 1, value_node.start_mark.column + 1)
        return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)

# libyaml's parser where PyYAML was built with it (about 15x faster): the same safe constructor and
# the same checks; a file it rejects is read again by the pure-Python loader so errors read the same.
_CSafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _FastLoader(_CSafeLoader):  # type: ignore[valid-type,misc]
    construct_mapping = _Loader.construct_mapping


_FastLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _FastLoader.construct_mapping)


def _parse(text: str, display: str, *, fast: bool) -> Any:
    for event in yaml.parse(text, Loader=_CSafeLoader if fast else yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            raise PolicyError(
                "YAML aliases are not allowed in policies", file=display, line=mark.line + 1 if mark else None,
                column=mark.column + 1 if mark else None, expected="plain values",
            )
    return yaml.load(text, Loader=_FastLoader if fast else _Loader)


def read_yaml(path: Path, display: str) -> Any:
    """Read one YAML file safely; PolicyError names the file, line and column of any problem."""
    try:
        raw = path.read_bytes()
    except OSError as problem:
        raise PolicyError(f"cannot read policy file: {problem.strerror}", file=display) from None
    if len(raw) > MAX_FILE_BYTES:
        raise PolicyError(f"policy file is {len(raw)} bytes", file=display, expected=f"at most {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as problem:
        line = raw[: problem.start].count(b"\n") + 1
        raise PolicyError(f"not UTF-8 text (byte {problem.start})", file=display, line=line, expected="UTF-8") from None
    _check_nesting(text, display)
    try:
        try:
            return _parse(text, display, fast=True)
        except (yaml.YAMLError, PolicyError, ValueError, OverflowError, RecursionError):
            if _CSafeLoader is yaml.SafeLoader:
                raise
            return _parse(text, display, fast=False)  # the pure-Python loader's own error
    except PolicyError as problem:
        if problem.file is None:
            problem = PolicyError(problem.message, file=display, line=problem.line, column=problem.column,
                                  expected=problem.expected, help=problem.help)
        raise problem from None
    except yaml.YAMLError as problem:
        mark = getattr(problem, "problem_mark", None)
        reason = getattr(problem, "problem", None) or str(problem)
        raise PolicyError(
            f"YAML syntax error: {reason}", file=display, line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None, expected="valid YAML",
        ) from None
    except RecursionError:
        raise PolicyError("YAML nested too deeply", file=display, expected="a policy document") from None
    except (ValueError, OverflowError) as problem:  # a bad timestamp outside any mapping
        raise PolicyError(f"invalid YAML value: {problem}", file=display, expected="valid YAML") from None


def _check_nesting(text: str, display: str) -> None:
    """Refuse flow collections nested deeper than MAX_NESTING before PyYAML sees them (brackets in
    quoted text count too: no real policy comes near the limit)."""
    depth = 0
    for match in _BRACKETS.finditer(text):
        depth = depth + 1 if match.group() in "[{" else max(0, depth - 1)
        if depth > MAX_NESTING:
            line = text.count("\n", 0, match.start()) + 1
            raise PolicyError(f"YAML nested more than {MAX_NESTING} levels deep", file=display, line=line,
                              expected=f"at most {MAX_NESTING} levels of [ and {{")


_BRACKETS = re.compile(r"[\[\]{}]")


class _Reader:
    """Reads one file's mappings, checking keys and types, with file:line in every error."""

    def __init__(self, display: str) -> None:
        self.display = display

    def where(self, mapping: Any, key: str | None = None) -> tuple[int | None, int | None]:
        if isinstance(mapping, _Mapping):
            if key is not None and key in mapping.positions:
                return mapping.positions[key]
            return mapping.line, mapping.column
        return None, None

    def error(self, message: str, mapping: Any = None, key: str | None = None, *, clause: str | None = None,
              expected: str | None = None, help: str | None = None) -> PolicyError:
        line, column = self.where(mapping, key)
        return PolicyError(message, file=self.display, line=line, column=column, clause=clause, expected=expected, help=help)

    def mapping(self, value: Any, what: str, parent: Any = None, key: str | None = None, clause: str | None = None) -> _Mapping:
        if not isinstance(value, dict):
            raise self.error(f"{what} must be a mapping, not {_kind(value)}", parent, key, clause=clause, expected="a mapping")
        return value  # type: ignore[return-value]

    def keys(self, mapping: _Mapping, allowed: set[str], required: set[str], what: str, clause: str | None = None) -> None:
        for key in mapping:
            if key not in allowed:
                raise self.error(f"unknown key '{key}' in {what}", mapping, key, clause=clause,
                                 expected="one of " + ", ".join(sorted(allowed)), help=did_you_mean(key, allowed))
        for key in sorted(required):
            if key not in mapping:
                raise self.error(f"{what} has no '{key}'", mapping, clause=clause, expected=f"a '{key}' key")

    def text(self, mapping: _Mapping, key: str, what: str, clause: str | None = None, default: str | None = None) -> str:
        value = mapping.get(key, default)
        if value is None:
            raise self.error(f"{what} has no '{key}'", mapping, clause=clause, expected=f"a '{key}' key")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise self.error(f"'{key}' must be text, not {_kind(value)}", mapping, key, clause=clause, expected="text")
        return value

    def strings(self, mapping: _Mapping, key: str, clause: str | None = None) -> tuple[str, ...]:
        value = mapping.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.error(f"'{key}' must be a list of text", mapping, key, clause=clause, expected="a list of text")
        return tuple(value)

    def condition(self, value: Any, parent: _Mapping, key: str, clause: str | None) -> ast.Expr:
        """A ``when`` in any of its forms: text, {all: [...]}, {any: [...]}, {not: x}, {label, test}."""
        line, column = self.where(parent, key)
        if isinstance(value, str):
            try:
                return parse_condition(value, FACT_ROOTS)
            except PolicyError as problem:
                raise PolicyError(problem.message, file=self.display, line=line,
                                  column=(column or 1) + (problem.column or 1) - 1 if line else None,
                                  clause=clause, expected=problem.expected, help=problem.help) from None
        if isinstance(value, bool):
            return ast.Const(value, text=str(value).lower())
        if isinstance(value, list):
            items = tuple(self.condition(item, parent, key, clause) for item in value)
            if not items:
                raise self.error("an empty list of conditions", parent, key, clause=clause, expected="at least one condition")
            return ast.All(items, text=" and ".join(f"({item.text})" for item in items))
        if isinstance(value, dict):
            node = self.mapping(value, "a condition", parent, key, clause)
            if set(node) == {"label", "test"}:
                label = self.text(node, "label", "a labelled condition", clause)
                inner = self.condition(node["test"], node, "test", clause)
                return ast.Labelled(label, inner, text=inner.text)
            if len(node) == 1:
                (kind, inner_value), = node.items()
                if kind in ("all", "any"):
                    if not isinstance(inner_value, list) or not inner_value:
                        raise self.error(f"'{kind}' takes a non-empty list", node, kind, clause=clause, expected="a list of conditions")
                    items = tuple(self.condition(item, node, kind, clause) for item in inner_value)
                    joiner = " and " if kind == "all" else " or "
                    text = joiner.join(f"({item.text})" for item in items)
                    return ast.All(items, text=text) if kind == "all" else ast.AnyOf(items, text=text)
                if kind == "not":
                    inner = self.condition(inner_value, node, kind, clause)
                    return ast.Not(inner, text=f"not ({inner.text})")
            raise self.error("a condition mapping must be {all: [...]}, {any: [...]}, {not: ...} or {label: ..., test: ...}",
                             node, clause=clause, expected="one of all, any, not, or label with test",
                             help=did_you_mean(next(iter(node), ""), ["all", "any", "not", "label", "test"]))
        raise self.error(f"a condition must be text or a mapping, not {_kind(value)}", parent, key, clause=clause,
                         expected="a condition")

    def duration(self, mapping: _Mapping, key: str, clause: str | None) -> ast.Duration | None:
        value = mapping.get(key)
        if value is None:
            return None
        text = str(value)
        if not isinstance(value, str) or not _DURATION.fullmatch(text):
            raise self.error(f"'{key}' must be a duration like '60 days' or '10 business days'", mapping, key,
                             clause=clause, expected="a duration")
        try:
            node = self.condition(f"2000-01-01 + {text}", mapping, key, clause) if isinstance(value, str) else None
        except PolicyError as problem:  # report it against the duration as written, not the test expression
            raise self.error(problem.message, mapping, key, clause=clause, expected=problem.expected) from None
        if not isinstance(node, ast.Shift):
            raise self.error(f"'{key}' must be a duration like '60 days' or '10 business days'", mapping, key,
                             clause=clause, expected="a duration")
        return node.duration


_DURATION = re.compile(r"\s*\d+\s+(business\s+)?(day|days|month|months|year|years)\s*")


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number", float: "a number"}.get(
        type(value) if not isinstance(value, dict) else dict, type(value).__name__
    )


CLAUSE_KEYS = {
    "id", "title", "text", "effect", "when", "overrides", "remedy", "priority", "refund", "refer_to", "party",
    "over", "requires", "fee", "amount", "notice", "if_outcome", "applies", "otherwise", "reason",
}
DOCUMENT_KEYS = {
    "id", "title", "issuer", "responsible", "version", "effective_from", "jurisdiction", "regional", "applies_when",
    "escalation", "clauses", "definitions", "summary", "earlier_versions", "disclosures", "version_date",
}
REMEDIES = {"refund", "depot_repair", "depot_repair_customer_ships", "on_site_repair", "repair_or_replacement",
            "replacement", "repair", "refund_or_replacement", "price_reduction_or_refund"}
FEE_KINDS = {"service_fee", "restocking_fee", "accessory_deduction", "shipping"}
OUTCOMES = {"approve", "deny", "refer", "needs_information"}


def _clause(reader: _Reader, raw: Any, document_id: str, parent: Any, version: str | None = None) -> Clause:
    node = reader.mapping(raw, "a clause", parent)
    clause_id = reader.text(node, "id", "a clause") if "id" in node else None
    reader.keys(node, CLAUSE_KEYS, {"id", "title", "text", "effect"}, "a clause", clause_id)
    assert clause_id is not None
    effect_text = reader.text(node, "effect", "a clause", clause_id)
    try:
        effect = Effect(effect_text)
    except ValueError:
        raise reader.error(f"unknown effect '{effect_text}'", node, "effect", clause=clause_id,
                           expected="one of " + ", ".join(effect.value for effect in Effect),
                           help=did_you_mean(effect_text, [effect.value for effect in Effect])) from None
    when = reader.condition(node["when"], node, "when", clause_id) if "when" in node else None
    applies = reader.condition(node["applies"], node, "applies", clause_id) if "applies" in node else None
    otherwise: Effect | None = None
    if "otherwise" in node:
        otherwise_text = reader.text(node, "otherwise", "a clause", clause_id)
        if otherwise_text not in ("excludes", "voids", "limits", "refers"):
            raise reader.error(f"'otherwise' must be excludes, voids, limits or refers, not '{otherwise_text}'", node,
                               "otherwise", clause=clause_id, expected="excludes, voids, limits or refers")
        otherwise = Effect(otherwise_text)
        if when is None:
            raise reader.error("a clause with 'otherwise' needs 'when'", node, clause=clause_id, expected="a 'when' condition")
    amount: list[AmountCase] = []
    if "amount" in node:
        rows = node["amount"]
        if isinstance(rows, str):
            rows = [{"otherwise": rows}]
        if not isinstance(rows, list):
            raise reader.error("'amount' must be an amount or a list of {when, amount} rows", node, "amount", clause=clause_id,
                               expected="an amount table")
        for row in rows:
            row_node = reader.mapping(row, "an amount row", node, "amount", clause_id)
            reader.keys(row_node, {"when", "amount", "otherwise"}, set(), "an amount row", clause_id)
            if "otherwise" in row_node:
                amount.append(AmountCase(None, reader.condition(str(row_node["otherwise"]), row_node, "otherwise", clause_id)))
            else:
                if "when" not in row_node or "amount" not in row_node:
                    raise reader.error("an amount row needs 'when' and 'amount' (or 'otherwise')", row_node, clause=clause_id,
                                       expected="when and amount")
                amount.append(AmountCase(
                    reader.condition(row_node["when"], row_node, "when", clause_id),
                    reader.condition(str(row_node["amount"]), row_node, "amount", clause_id),
                ))
    remedy = node.get("remedy")
    if remedy is not None and (not isinstance(remedy, str) or remedy not in REMEDIES):
        raise reader.error(f"unknown remedy '{remedy}'", node, "remedy", clause=clause_id,
                           expected="one of " + ", ".join(sorted(REMEDIES)), help=did_you_mean(str(remedy), REMEDIES))
    fee = node.get("fee")
    if fee is not None and (not isinstance(fee, str) or fee not in FEE_KINDS):
        raise reader.error(f"unknown fee kind '{fee}'", node, "fee", clause=clause_id,
                           expected="one of " + ", ".join(sorted(FEE_KINDS)), help=did_you_mean(str(fee), FEE_KINDS))
    if_outcome = reader.strings(node, "if_outcome", clause_id)
    for outcome in if_outcome:
        if outcome not in OUTCOMES:
            raise reader.error(f"unknown outcome '{outcome}'", node, "if_outcome", clause=clause_id,
                               expected="one of " + ", ".join(sorted(OUTCOMES)))
    priority = node.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise reader.error("'priority' must be a whole number", node, "priority", clause=clause_id, expected="a whole number")
    reason, reason_otherwise = _reason_templates(reader, node, clause_id)
    clause = Clause(
        id=clause_id,
        document=document_id,
        title=reader.text(node, "title", "a clause", clause_id),
        text=" ".join(reader.text(node, "text", "a clause", clause_id).split()),
        effect=effect,
        when=when,
        source=Source(reader.display, node.line),
        version=version,
        applies=applies,
        otherwise=otherwise,
        overrides=reader.strings(node, "overrides", clause_id),
        remedy=remedy,
        priority=priority,
        refund=reader.condition(str(node["refund"]), node, "refund", clause_id) if "refund" in node else None,
        refer_to=reader.text(node, "refer_to", "a clause", clause_id) if "refer_to" in node else None,
        party=reader.text(node, "party", "a clause", clause_id) if "party" in node else None,
        over=reader.strings(node, "over", clause_id),
        requires=reader.strings(node, "requires", clause_id),
        fee_kind=fee,
        amount=tuple(amount),
        notice=" ".join(str(node["notice"]).split()) if "notice" in node else None,
        if_outcome=if_outcome,
        reason=reason,
        reason_otherwise=reason_otherwise,
    )
    _check_clause_shape(reader, clause, node)
    return clause


def _check_clause_shape(reader: _Reader, clause: Clause, node: _Mapping) -> None:
    needs = {
        Effect.REMEDY: ("remedy", clause.remedy),
        Effect.FEE: ("fee", clause.fee_kind),
        Effect.REFERS: ("refer_to", clause.refer_to),
        Effect.RESPONSIBLE: ("party", clause.party),
        Effect.NOTICE: ("notice", clause.notice),
        Effect.REQUIRES: ("requires", clause.requires or None),
    }
    if clause.effect in needs:
        key, value = needs[clause.effect]
        if value is None:
            raise reader.error(f"a '{clause.effect}' clause needs '{key}'", node, clause=clause.id, expected=f"a '{key}' key")
    if clause.effect == Effect.FEE and not clause.amount:
        raise reader.error("a 'fee' clause needs 'amount'", node, clause=clause.id, expected="an 'amount' key")
    if clause.effect in (Effect.EXCLUDES, Effect.VOIDS, Effect.LIMITS, Effect.REFERS, Effect.EXTENDS,
                         Effect.NOTICE) and clause.when is None:
        raise reader.error(f"a '{clause.effect}' clause needs 'when'", node, clause=clause.id,
                           expected="a 'when' condition", help="without a condition it would hold for every claim")


def _definitions(reader: _Reader, raw: Any, parent: _Mapping) -> list[Definition]:
    node = reader.mapping(raw, "'definitions'", parent, "definitions")
    found: list[Definition] = []
    for name in node:
        body = reader.mapping(node[name], f"definition '{name}'", node, name)
        reader.keys(body, {"clause", "value", "codes", "sets", "constants", "description", "table", "exceptions"}, set(),
                    f"definition '{name}'")
        source = Source(reader.display, body.line)
        clause = body.get("clause")
        description = str(body.get("description", ""))
        if "table" in body:
            found.append(Definition(name, clause, source, value=_table(reader, body, clause), description=description))
        elif "exceptions" in body:
            found.append(Definition(name, clause, source, value=_exceptions(reader, body, clause), description=description))
        elif "value" in body:
            found.append(Definition(name, clause, source, value=reader.condition(str(body["value"]), body, "value", clause),
                                    description=description))
        elif "codes" in body or "sets" in body:
            codes: set[str] = set()
            for code in reader.strings(body, "codes"):
                try:
                    codes.add(validate_subdivision(code) if "-" in code else validate_country(code))
                except ValueError as problem:
                    raise reader.error(str(problem), body, "codes", clause=clause, expected="ISO 3166 codes") from None
            for set_name in reader.strings(body, "sets"):
                if set_name not in NAMED_SETS:
                    raise reader.error(f"unknown territory set '{set_name}'", body, "sets", clause=clause,
                                       expected="one of " + ", ".join(sorted(NAMED_SETS)),
                                       help=did_you_mean(set_name, NAMED_SETS))
                codes |= NAMED_SETS[set_name]
            found.append(Definition(name, clause, source, codes=frozenset(codes), description=description))
        elif "constants" in body:
            values = body["constants"]
            if not isinstance(values, list) or not values or not all(
                    isinstance(value, (str, int, bool)) for value in values):
                raise reader.error("'constants' must be a non-empty list of text or whole numbers", body, "constants",
                                   clause=clause, expected="a list")
            found.append(Definition(name, clause, source, constants=frozenset(values), description=description))
        else:
            raise reader.error(f"definition '{name}' needs 'value', 'codes'/'sets' or 'constants'", body, clause=clause,
                               expected="value, codes, sets or constants")
    return found


HIT_POLICIES = ("first", "unique", "collect")
AGGREGATES = ("max", "min", "sum", "count")


def _table(reader: _Reader, body: _Mapping, clause: str | None) -> ast.Table:
    """A decision table: ``{hit: first|unique|collect, aggregate: max|min|sum|count, rows: [...]}``.

    Each row is ``{when: condition, value: expression, clause: id}``; a first/unique table ends
    with ``{otherwise: expression}``, the value when no other row holds.
    """
    node = reader.mapping(body["table"], "a table", body, "table", clause)
    reader.keys(node, {"hit", "aggregate", "rows"}, {"hit", "rows"}, "a table", clause)
    hit = node["hit"]
    if hit not in HIT_POLICIES:
        raise reader.error(f"unknown hit policy {hit!r}", node, "hit", clause=clause, expected="first, unique or collect",
                           help=did_you_mean(str(hit), HIT_POLICIES))
    aggregate = node.get("aggregate")
    if (hit == "collect") != (aggregate is not None) or (aggregate is not None and aggregate not in AGGREGATES):
        raise reader.error("a 'collect' table needs 'aggregate' (max, min, sum or count); other tables take none", node,
                           "aggregate" if "aggregate" in node else "hit", clause=clause, expected="max, min, sum or count")
    raw_rows = node["rows"]
    if not isinstance(raw_rows, list) or not raw_rows:
        raise reader.error("'rows' must be a non-empty list", node, "rows", clause=clause, expected="a list of rows")
    rows: list[ast.Row] = []
    for index, raw in enumerate(raw_rows):
        row = reader.mapping(raw, "a table row", node, "rows", clause)
        reader.keys(row, {"when", "value", "otherwise", "clause"}, set(), "a table row", clause)
        row_clause = str(row["clause"]) if "clause" in row else None
        if "otherwise" in row:
            if "when" in row or "value" in row:
                raise reader.error("an 'otherwise' row takes no 'when' or 'value'", row, clause=clause,
                                   expected="{otherwise: value}")
            if hit == "collect":
                raise reader.error("a 'collect' table has no 'otherwise' row", row, "otherwise", clause=clause,
                                   expected="rows with 'when'")
            if index != len(raw_rows) - 1:
                raise reader.error("the 'otherwise' row must be the last", row, "otherwise", clause=clause,
                                   expected="otherwise as the last row")
            value = reader.condition(str(row["otherwise"]), row, "otherwise", clause)
            rows.append(ast.Row(None, value, row_clause, text=f"otherwise {value.text}"))
            continue
        if "when" not in row or "value" not in row:
            raise reader.error("a table row needs 'when' and 'value' (or is the 'otherwise' row)", row, clause=clause,
                               expected="when and value")
        when = reader.condition(row["when"], row, "when", clause)
        value = reader.condition(str(row["value"]), row, "value", clause)
        rows.append(ast.Row(when, value, row_clause, text=f"{value.text} when {when.text}"))
    if hit != "collect" and rows[-1].when is not None:
        raise reader.error(f"a '{hit}' table must end with an 'otherwise' row", node, "rows", clause=clause,
                           expected="{otherwise: value} as the last row", help="say what the value is when no row holds")
    text = f"{hit} of: " + "; ".join(row.text for row in rows)
    return ast.Table(hit, tuple(rows), aggregate, text=text)


def _exceptions(reader: _Reader, body: _Mapping, clause: str | None) -> ast.Exceptions:
    """Authority-capped exceptions (docs/policy-language.md, "Exceptions")."""
    node = reader.mapping(body["exceptions"], "'exceptions'", body, "exceptions", clause)
    reader.keys(node, {"window_end", "recorded", "authority", "void", "events"}, {"window_end", "authority"},
                "'exceptions'", clause)
    window_end = reader.condition(str(node["window_end"]), node, "window_end", clause)
    authority = reader.mapping(node["authority"], "'authority'", node, "authority", clause)
    reader.keys(authority, {"clause", "caps"}, {"caps"}, "'authority'", clause)
    caps = reader.mapping(authority["caps"], "'caps'", authority, "caps", clause)
    if not caps:
        raise reader.error("'caps' names no role", authority, "caps", clause=clause, expected="role: duration, e.g. manager: 60 days")
    grantors = []
    for role in caps:
        duration = reader.duration(caps, role, clause)
        if duration is None:
            raise reader.error(f"role '{role}' has no cap", caps, role, clause=clause, expected="a duration like '60 days'")
        grantors.append(ast.Grantor(role, duration, text=f"{role}: {duration.text}"))
    recorded = recorded_clause = None
    fields = {"role": "role", "granted_on": "granted_on", "new_end": "new_end"}
    listed: ast.Fact | None = None
    if "recorded" in node:
        record = reader.mapping(node["recorded"], "'recorded'", node, "recorded", clause)
        reader.keys(record, {"list", "clause", "role", "granted_on", "new_end"}, {"list"}, "'recorded'", clause)
        recorded = reader.text(record, "list", "'recorded'", clause)
        recorded_clause = str(record["clause"]) if "clause" in record else clause
        for key in fields:
            fields[key] = reader.text(record, key, "'recorded'", clause, default=key)
        listed = ast.Fact(recorded, text=recorded)
    events = []
    for raw in _list(reader, node, "events"):
        event = reader.mapping(raw, "an event", node, "events", clause)
        reader.keys(event, {"name", "clause", "when", "role", "granted_on", "new_end"},
                    {"name", "when", "role", "granted_on", "new_end"}, "an event", clause)
        role = reader.text(event, "role", "an event", clause)
        if role not in caps:
            raise reader.error(f"event role '{role}' has no cap under 'authority'", event, "role", clause=clause,
                               expected="one of " + ", ".join(caps), help=did_you_mean(role, caps))
        events.append(ast.GrantEvent(
            reader.text(event, "name", "an event", clause), str(event.get("clause", clause or "")),
            reader.condition(event["when"], event, "when", clause), role,
            reader.condition(str(event["granted_on"]), event, "granted_on", clause),
            reader.condition(str(event["new_end"]), event, "new_end", clause),
            text=f"event {event['name']}",
        ))
    void = reader.mapping(node.get("void", {}), "'void'", node, "void", clause)
    reader.keys(void, {"clause"}, set(), "'void'", clause)
    text = f"{window_end.text} as extended by " + ", ".join([recorded or "", *(event.name for event in events)]).strip(", ")
    return ast.Exceptions(
        window_end, recorded, recorded_clause, fields["role"], fields["granted_on"], fields["new_end"], tuple(grantors),
        str(authority["clause"]) if "clause" in authority else clause, str(void["clause"]) if "clause" in void else clause,
        tuple(events), listed, text=text,
    )


def _document(reader: _Reader, raw: Any, parent: Any, definitions: dict[str, Definition]) -> Document:
    node = reader.mapping(raw, "a document", parent)
    reader.keys(node, DOCUMENT_KEYS, {"id", "title", "issuer", "responsible", "version", "clauses"}, "a document")
    document_id = reader.text(node, "id", "a document")
    effective = node.get("effective_from")
    if effective is not None and not isinstance(effective, date):
        raise reader.error("'effective_from' must be a date YYYY-MM-DD", node, "effective_from", expected="a date")
    raw_clauses = node["clauses"]
    if not isinstance(raw_clauses, list) or not raw_clauses:
        raise reader.error("'clauses' must be a non-empty list", node, "clauses", expected="a list of clauses")
    if len(raw_clauses) > MAX_CLAUSES:
        raise reader.error(f"{len(raw_clauses)} clauses in one document", node, "clauses", expected=f"at most {MAX_CLAUSES}")
    clauses = [_clause(reader, item, document_id, node) for item in raw_clauses]
    for definition in _definitions(reader, node["definitions"], node) if "definitions" in node else []:
        if definition.name in definitions:
            raise reader.error(f"definition '{definition.name}' is defined twice (also {definitions[definition.name].source})",
                               node, "definitions", expected="each definition once")
        definitions[definition.name] = definition
    versions: list[EarlierVersion] = []
    version_date = reader.condition(node["version_date"], node, "version_date", None) if "version_date" in node else None
    dated_guards = _dated_versions(reader, node, version_date, effective)
    for raw_version in _list(reader, node, "earlier_versions"):
        version_node = reader.mapping(raw_version, "an earlier version", node, "earlier_versions")
        reader.keys(version_node, {"version", "applies_when", "effective_from", "clauses"}, {"version", "clauses"},
                    "an earlier version")
        version = reader.text(version_node, "version", "an earlier version")
        if ("applies_when" in version_node) == ("effective_from" in version_node):
            raise reader.error(f"earlier version {version} needs either 'applies_when' or 'effective_from'", version_node,
                               expected="one of applies_when, effective_from",
                               help="effective_from chooses the version by the document's version_date")
        guard = (dated_guards[id(version_node)] if "effective_from" in version_node
                 else reader.condition(version_node["applies_when"], version_node, "applies_when", None))
        versions.append(EarlierVersion(version, guard))
        replaced = version_node["clauses"]
        if not isinstance(replaced, list):
            raise reader.error("'clauses' of an earlier version must be a list", version_node, "clauses", expected="a list")
        for item in replaced:
            old = _clause(reader, item, document_id, version_node, version=version)
            current = next((clause for clause in clauses if clause.id == old.id and clause.version is None), None)
            if current is None:
                raise reader.error(f"earlier version {version} changes clause {old.id}, which the document does not have",
                                   version_node, clause=old.id, expected="a clause id of this document")
            clauses.remove(current)
            not_guard = ast.Not(guard, text=f"not ({guard.text})")
            clauses.append(_guarded(current, not_guard))
            clauses.append(_guarded(old, guard))
    escalation: list[EscalationStep] = []
    for raw_step in _list(reader, node, "escalation"):
        step = reader.mapping(raw_step, "an escalation step", node, "escalation")
        reader.keys(step, {"clause", "who", "contact", "ask_within", "answer_within"}, {"clause", "who"}, "an escalation step")
        escalation.append(EscalationStep(
            clause=reader.text(step, "clause", "an escalation step"),
            who=reader.text(step, "who", "an escalation step"),
            contact=str(step.get("contact", "")),
            ask_within=reader.duration(step, "ask_within", None),
            answer_within=reader.duration(step, "answer_within", None),
        ))
    disclosures: dict[str, tuple[str, ...]] = {}
    if "disclosures" in node:
        raw_disclosures = reader.mapping(node["disclosures"], "'disclosures'", node, "disclosures")
        for item in raw_disclosures:
            if item not in DISCLOSURE_ITEMS:
                raise reader.error(f"unknown disclosure item '{item}'", raw_disclosures, item,
                                   expected="one of " + ", ".join(DISCLOSURE_ITEMS), help=did_you_mean(item, DISCLOSURE_ITEMS))
            disclosures[item] = reader.strings(raw_disclosures, item)
    regional = node.get("regional", False)
    if not isinstance(regional, bool):
        raise reader.error("'regional' must be true or false", node, "regional", expected="true or false")
    return Document(
        id=document_id,
        title=reader.text(node, "title", "a document"),
        issuer=reader.text(node, "issuer", "a document"),
        responsible=reader.text(node, "responsible", "a document"),
        version=reader.text(node, "version", "a document"),
        effective_from=effective,
        jurisdiction=str(node.get("jurisdiction", "")),
        regional=regional,
        applies_when=reader.condition(node["applies_when"], node, "applies_when", None) if "applies_when" in node else None,
        escalation=tuple(escalation),
        clauses=tuple(clauses),
        source=Source(reader.display, node.line),
        summary=" ".join(str(node.get("summary", "")).split()),
        earlier_versions=tuple(versions),
        disclosures=disclosures,
        version_date=version_date,
    )


def _dated_versions(reader: _Reader, node: _Mapping, version_date: ast.Expr | None,
                    effective: date | None) -> dict[int, ast.Expr]:
    """Guards for the earlier versions dated by ``effective_from``: the version that governs a claim is
    the one with the latest ``effective_from`` on or before the claim's ``version_date``; the earliest
    version also governs anything dated before it (nothing older is encoded)."""
    dated = [version for version in _list(reader, node, "earlier_versions")
             if isinstance(version, dict) and "effective_from" in version]
    if not dated:
        return {}
    if version_date is None or effective is None:
        raise reader.error("earlier versions with 'effective_from' need the document's 'version_date' and 'effective_from'",
                           node, "earlier_versions", expected="version_date: a date fact or definition, e.g. delivery_date")
    starts: list[tuple[date, Any]] = []
    for version in dated:
        start = version["effective_from"]
        if not isinstance(start, date):
            raise reader.error("'effective_from' must be a date YYYY-MM-DD", version, "effective_from", expected="a date")
        if start >= effective:
            raise reader.error(f"earlier version takes effect on {start}, not before the document's {effective}", version,
                               "effective_from", expected=f"a date before {effective}")
        starts.append((start, version))
    starts.sort(key=lambda pair: pair[0])
    for (first, _), (second, version) in itertools.pairwise(starts):
        if first == second:
            raise reader.error(f"two versions take effect on {first}", version, "effective_from", expected="one version per date")
    guards: dict[int, ast.Expr] = {}
    for index, (start, version) in enumerate(starts):
        until = starts[index + 1][0] if index + 1 < len(starts) else effective
        before = ast.Compare("<", version_date, ast.Const(until, text=until.isoformat()),
                             text=f"{version_date.text} < {until.isoformat()}")
        if index == 0:
            guards[id(version)] = before
            continue
        since = ast.Compare(">=", version_date, ast.Const(start, text=start.isoformat()),
                            text=f"{version_date.text} >= {start.isoformat()}")
        guards[id(version)] = ast.All((since, before), text=f"{since.text} and {before.text}")
    return guards


def _list(reader: _Reader, node: _Mapping, key: str) -> list[Any]:
    value = node.get(key) or []
    if not isinstance(value, list):
        raise reader.error(f"'{key}' must be a list, not {_kind(value)}", node, key, expected="a list")
    return value


def _guarded(clause: Clause, guard: ast.Expr) -> Clause:
    """The clause as one version's wording: it applies only where that version governs the claim
    (so neither its condition nor its 'otherwise' branch speaks for another version)."""
    from dataclasses import replace

    if clause.when is None and clause.applies is None:
        return replace(clause, when=guard)
    applies = guard if clause.applies is None else ast.All((guard, clause.applies), text=f"({guard.text}) and ({clause.applies.text})")
    return replace(clause, applies=applies)


def _reason_templates(reader: _Reader, node: _Mapping, clause_id: str) -> tuple[str | None, str | None]:
    """A clause's ``reason:``: one sentence, or ``{holds: ..., otherwise: ...}`` (docs/policy-language.md)."""
    if "reason" not in node:
        return None, None
    raw = node["reason"]
    if isinstance(raw, str):
        texts: dict[str, Any] = {"holds": raw}
    else:
        mapping = reader.mapping(raw, "'reason'", node, "reason", clause_id)
        reader.keys(mapping, {"holds", "otherwise"}, set(), "'reason'", clause_id)
        texts = dict(mapping)
    found: dict[str, str | None] = {"holds": None, "otherwise": None}
    for branch, text in texts.items():
        if not isinstance(text, str) or not text.strip():
            raise reader.error("a reason must be a sentence", node, "reason", clause=clause_id,
                               expected="text with {named} values, e.g. 'you asked on {claim.reported_on}'")
        found[branch] = " ".join(text.split())
    return found["holds"], found["otherwise"]


def _check_reason_names(reader: _Reader, policy: PolicySet) -> None:
    """Every {name} in a reason template is a claim fact, a definition or a computed name."""
    from claimrules.reasons import COMPUTED_NAMES, template_names

    known = set(FACT_PATHS) | set(policy.definitions) | set(COMPUTED_NAMES) | {"location"}
    for clause in policy.clauses_by_key.values():
        for template in (clause.reason, clause.reason_otherwise):
            for name in template_names(template or ""):
                if name not in known:
                    raise PolicyError(f"reason names unknown value '{{{name}}}'",
                                      file=clause.source.file, line=clause.source.line, clause=clause.id,
                                      field="reason", expected="a claim fact, a definition, or end, count, nth",
                                      help=did_you_mean(name, sorted(known)))


def load_policy(path: str | Path) -> PolicySet:
    """Load a policy set: a folder holding policy-set.yaml, or that file itself."""
    given = Path(path)
    manifest_path = given / MANIFEST if given.is_dir() else given
    folder = manifest_path.parent
    display = str(manifest_path)
    if not manifest_path.exists():
        raise PolicyError("no policy set here", file=display, expected=f"a folder with {MANIFEST} or that file")
    reader = _Reader(display)
    raw = read_yaml(manifest_path, display)
    root = reader.mapping(raw, "the policy set file")
    reader.keys(root, {"policy_set"}, {"policy_set"}, "the policy set file")
    body = reader.mapping(root["policy_set"], "'policy_set'", root, "policy_set")
    reader.keys(body, {"id", "title", "documents", "parties", "precedence", "otherwise", "needs_information", "site_url"},
                {"id", "title", "documents", "parties", "precedence", "otherwise", "needs_information"}, "'policy_set'")
    parties: dict[str, Party] = {}
    parties_node = reader.mapping(body["parties"], "'parties'", body, "parties")
    for party_id in parties_node:
        party = reader.mapping(parties_node[party_id], f"party '{party_id}'", parties_node, party_id)
        reader.keys(party, {"name", "contact"}, {"name"}, f"party '{party_id}'")
        parties[party_id] = Party(party_id, reader.text(party, "name", "a party"), str(party.get("contact", "")))
    documents: list[Document] = []
    definitions: dict[str, Definition] = {}
    raw_documents: list[Any] = []
    for file_name in reader.strings(body, "documents"):
        try:
            file_path = (folder / file_name).resolve()
        except (OSError, ValueError):  # a NUL byte, a symlink loop
            raise reader.error(f"document file {file_name!r} is not a usable file name", body, "documents",
                               expected="a file inside " + str(folder)) from None
        if not file_path.is_relative_to(folder.resolve()):
            raise reader.error(f"document file '{file_name}' is outside the policy folder", body, "documents",
                               expected="a file inside " + str(folder))
        file_display = str(folder / file_name)
        file_reader = _Reader(file_display)
        content = file_reader.mapping(read_yaml(file_path, file_display), "a policy file")
        file_reader.keys(content, {"documents"}, {"documents"}, "a policy file")
        if not isinstance(content["documents"], list):
            raise file_reader.error("'documents' must be a list", content, "documents", expected="a list of documents")
        for raw_document in content["documents"]:
            documents.append(_document(file_reader, raw_document, content, definitions))
            raw_documents.append(raw_document)
    precedence = reader.mapping(body.get("precedence", {}), "'precedence'", body, "precedence")
    reader.keys(precedence, {"rule", "clause", "tie_order"}, {"clause", "tie_order"}, "'precedence'")
    otherwise = reader.mapping(body.get("otherwise", {}), "'otherwise'", body, "otherwise")
    reader.keys(otherwise, {"clause"}, {"clause"}, "'otherwise'")
    information = reader.mapping(body.get("needs_information", {}), "'needs_information'", body, "needs_information")
    reader.keys(information, {"clause"}, {"clause"}, "'needs_information'")
    policy = PolicySet(
        id=reader.text(body, "id", "'policy_set'"),
        title=reader.text(body, "title", "'policy_set'"),
        documents=tuple(sorted(documents, key=lambda document: document.id)),
        definitions=dict(sorted(definitions.items())),
        parties=parties,
        tie_order=reader.strings(precedence, "tie_order"),
        precedence_clause=reader.text(precedence, "clause", "'precedence'"),
        otherwise_clause=reader.text(otherwise, "clause", "'otherwise'"),
        information_clause=reader.text(information, "clause", "'needs_information'"),
        fingerprint=_fingerprint(body, raw_documents),
        source=Source(display),
        site_url=reader.text(body, "site_url", "'policy_set'") if "site_url" in body else "",
    )
    from claimrules.policy.validate import validate_policy

    validate_policy(policy, reader)
    _check_reason_names(reader, policy)
    return policy


def _fingerprint(body: Mapping[str, Any], raw_documents: list[Any]) -> str:
    """A hash of the policy's meaning: independent of file order, clause order and key order."""

    def canonical(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: canonical(value[key]) for key in sorted(value)}
        if isinstance(value, list):
            items = [canonical(item) for item in value]
            if all(isinstance(item, dict) and "id" in item for item in items):
                items.sort(key=lambda item: str(item["id"]))
            return items
        if isinstance(value, date):
            return value.isoformat()
        return value

    manifest = {key: value for key, value in body.items() if key != "documents"}
    payload = {"set": canonical(manifest), "documents": canonical(list(raw_documents))}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


__all__ = ["FACT_PATHS", "ITEM_FIELDS", "LIST_FACTS", "load_policy", "read_yaml"]
