"""The claim vocabulary a policy set declares (its ``facts.yaml``), read into a ``Vocabulary``.

A vocabulary names every fact a claim may give, its type and constraints; claimrules builds the
strict pydantic claim model and its JSON Schema from it (``claimrules.facts``). Nothing here knows
any policy's facts: each policy set's vocabulary lives in its own ``facts.yaml``.

    facts:
      claim:                                  # a group (it has 'fields'); required unless 'required: false'
        fields:
          type: {type: enum, values: [return, repair], required: true}
          reported_on: {type: date, required: true, not_before: {first_known: [delivery.delivered_on], label: the delivery}}
      plan:
        required: false
        fields:
          code:                               # named groups of a pattern become derived facts
            type: text
            pattern: '^(?P<product>[A-Z]+)-(?P<years>[1-9])Y$'
            derive: {term_years: {type: integer, from: '{years}'}}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from claimrules.errors import PolicyError, did_you_mean

MAX_FACTS = 5000          # declared facts (every field of every group and list item)
MAX_TEXT = 4000           # characters of any text fact unless it declares fewer
MAX_ITEMS = 200           # items of any list unless it declares fewer
MAX_DEPTH = 6             # nesting of groups and lists

TYPES = ("date", "money", "decimal", "integer", "bool", "enum", "text", "country", "subdivision", "list", "group")
DERIVED_TYPES = ("integer", "text", "set")
# The policy language's type of each fact type (what conditions may compare it with).
# What the engine itself needs to know about a claim, and the fact types that can play each part:
# the date a claim is decided on by default, the place whose public holidays count business days,
# and the service the customer asked for (an approval's service clause decides when one was asked);
# and what the renderers need: the kind of request, which names it in letters ("your exchange").
ROLES = {"decision_date": ("date",), "country": ("country",), "subdivision": ("subdivision",),
         "military_address": ("bool",), "requested_service": ("enum", "text"), "claim_type": ("enum", "text")}
LANGUAGE_TYPE = {"date": "date", "money": "money", "decimal": "number", "integer": "number", "bool": "bool",
                 "enum": "text", "text": "text", "country": "text", "subdivision": "text", "list": "list",
                 "group": "other", "set": "list"}

_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_FIELD_KEYS = {"type", "required", "default", "description", "label", "values", "min", "max", "places", "min_length",
               "max_length", "pattern", "pattern_hint", "derive", "max_items", "item", "fields", "within",
               "not_before", "role"}
_KEYS_OF = {
    "date": {"not_before"}, "money": set(), "decimal": {"min", "max", "places"}, "integer": {"min", "max"},
    "bool": set(), "enum": {"values"}, "text": {"min_length", "max_length", "pattern", "pattern_hint", "derive"},
    "country": set(), "subdivision": {"within"}, "list": {"max_items", "item"}, "group": {"fields"},
}
_COMMON_KEYS = {"type", "required", "default", "description", "label", "role"}


@dataclass(frozen=True)
class NotBefore:
    """A date that may not lie before another: a sibling field, or the first known of several facts."""

    sibling: str | None = None
    first_known: tuple[str, ...] = ()
    label: str = ""


@dataclass(frozen=True)
class Derived:
    """A fact computed from a text fact's pattern: ``from`` is a template over its named groups."""

    name: str
    type: str
    template: str
    split: str | None = None
    description: str = ""


@dataclass(frozen=True)
class FactSpec:
    """One declared fact: a leaf value, a group of facts or a list of records."""

    name: str
    path: str
    type: str
    required: bool = False
    default: Any = None
    has_default: bool = False
    description: str = ""
    label: str = ""
    values: tuple[str, ...] = ()
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    places: int | None = None
    min_length: int | None = None
    max_length: int = MAX_TEXT
    pattern: str | None = None
    pattern_hint: str | None = None
    derive: tuple[Derived, ...] = ()
    max_items: int = MAX_ITEMS
    fields: tuple[FactSpec, ...] = ()
    within: str | None = None
    not_before: NotBefore | None = None
    role: str | None = None

    @property
    def is_record(self) -> bool:
        return self.type in ("group", "list")


@dataclass(frozen=True)
class Vocabulary:
    """The facts a policy set reads, and everything the loader, validator and engine need from them."""

    groups: tuple[FactSpec, ...]
    source: str = ""
    paths: dict[str, str] = field(default_factory=dict)          # fact path -> language type
    specs: dict[str, FactSpec] = field(default_factory=dict)      # fact path -> its declaration
    list_facts: tuple[str, ...] = ()
    item_fields: dict[str, frozenset[str]] = field(default_factory=dict)
    collections: frozenset[str] = frozenset()                      # lists and derived sets: 'x in path'
    derived_from: dict[str, str] = field(default_factory=dict)    # derived fact -> the fact it is read from
    roles: dict[str, str] = field(default_factory=dict)           # engine role -> the fact path playing it

    @property
    def roots(self) -> frozenset[str]:
        return frozenset(spec.name for spec in self.groups)

    def fact_type(self, path: str) -> str:
        """The policy language's type of a fact path: date, number, text, bool, money, list or other."""
        return self.paths.get(path, "other")

    @property
    def model(self) -> Any:
        """The strict pydantic model of a claim under this vocabulary (built once, on first use)."""
        from claimrules.facts import model_of

        return model_of(self)


# -- reading facts.yaml ------------------------------------------------------------------------------

class _Reader:
    def __init__(self, display: str) -> None:
        self.display = display

    def error(self, message: str, node: Any = None, key: str | None = None, *, expected: str | None = None,
              help: str | None = None) -> PolicyError:
        line = column = None
        positions = getattr(node, "positions", None)
        if key is not None and positions and key in positions:
            line, column = positions[key]
        elif node is not None and getattr(node, "line", None):
            line, column = node.line, node.column
        return PolicyError(message, file=self.display, line=line, column=column, expected=expected, help=help)


def read_vocabulary(raw: Any, display: str) -> Vocabulary:
    """A vocabulary from the parsed YAML of a facts file; PolicyError names the file, line and fact."""
    reader = _Reader(display)
    if not isinstance(raw, dict) or set(raw) != {"facts"}:
        keys = ", ".join(sorted(map(str, raw))) if isinstance(raw, dict) else type(raw).__name__
        raise reader.error(f"a facts file must hold one key 'facts', not {keys}", raw, expected="facts: {group: {fields: ...}}")
    top = raw["facts"]
    if not isinstance(top, dict) or not top:
        raise reader.error("'facts' must be a non-empty mapping of groups and facts", raw, "facts", expected="a mapping")
    counter = [0]
    groups = tuple(_spec(reader, name, top[name], top, "", counter, depth=0, top_level=True) for name in top)
    vocabulary = Vocabulary(groups=groups, source=display)
    _index(vocabulary, reader)
    return vocabulary


def _spec(reader: _Reader, name: Any, node: Any, parent: Any, prefix: str, counter: list[int], *, depth: int,
          top_level: bool = False) -> FactSpec:
    path = prefix + str(name)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise reader.error(f"fact name {name!r} is not a lowercase name", parent, str(name),
                           expected="a name of lowercase letters, digits and _ (at most 64)")
    if name == "item":
        raise reader.error(f"fact '{path}': 'item' is reserved for list items in conditions", parent, name,
                           expected="another name")
    counter[0] += 1
    if counter[0] > MAX_FACTS:
        raise reader.error(f"more than {MAX_FACTS} facts", parent, name, expected=f"at most {MAX_FACTS} facts")
    if depth > MAX_DEPTH:
        raise reader.error(f"fact '{path}' is nested {depth} levels deep", parent, name, expected=f"at most {MAX_DEPTH}")
    if not isinstance(node, dict):
        raise reader.error(f"fact '{path}' must be a mapping such as {{type: text}}", parent, name,
                           expected="a mapping with 'type' (or 'fields' for a group)")
    kind = node.get("type", "group" if "fields" in node else None)
    if kind not in TYPES:
        raise reader.error(f"fact '{path}' has type {kind!r}", node, "type" if "type" in node else None,
                           expected="one of " + ", ".join(TYPES), help=did_you_mean(str(kind), TYPES))
    allowed = _COMMON_KEYS | _KEYS_OF[kind]
    for key in node:
        if key not in allowed:
            raise reader.error(f"fact '{path}': key '{key}' does not apply to a {kind}", node, key,
                               expected="one of " + ", ".join(sorted(allowed)), help=did_you_mean(str(key), allowed))
    required = node.get("required", kind == "group")
    if not isinstance(required, bool):
        raise reader.error(f"fact '{path}': 'required' must be true or false", node, "required", expected="true or false")
    description = node.get("description", "")
    if not isinstance(description, str):
        raise reader.error(f"fact '{path}': 'description' must be text", node, "description", expected="text")
    label = node.get("label", "")
    if not isinstance(label, str) or len(label) > 80 or "\n" in label:
        raise reader.error(f"fact '{path}': 'label' must be one line of text, at most 80 characters", node, "label",
                           expected="the fact's name as a customer reads it, e.g. 'the day you received the Product'")
    values: dict[str, Any] = {"name": name, "path": path, "type": kind, "required": required,
                              "description": description.strip(), "label": label.strip()}
    if "role" in node:
        role = node["role"]
        if role not in ROLES or kind not in ROLES[role]:
            raise reader.error(f"fact '{path}': role {role!r} is not a role a {kind} can play", node, "role",
                               expected="one of " + ", ".join(name for name, kinds in ROLES.items() if kind in kinds)
                               if any(kind in kinds for kinds in ROLES.values()) else "no role for this type",
                               help=did_you_mean(str(role), ROLES))
        values["role"] = role
    if kind == "enum":
        items = node.get("values")
        if not isinstance(items, list) or not items or not all(isinstance(item, str) and item for item in items):
            raise reader.error(f"fact '{path}': 'values' must be a non-empty list of text", node, "values",
                               expected="values: [a, b, ...]")
        if len(set(items)) != len(items):
            raise reader.error(f"fact '{path}': a value is listed twice", node, "values", expected="each value once")
        values["values"] = tuple(items)
    if kind in ("decimal", "integer"):
        for key, attribute in (("min", "minimum"), ("max", "maximum")):
            if key in node:
                values[attribute] = _number(reader, node, key, path, integer=kind == "integer")
        if "places" in node:
            places = node["places"]
            if not isinstance(places, int) or isinstance(places, bool) or not 0 <= places <= 20:
                raise reader.error(f"fact '{path}': 'places' must be a whole number from 0 to 20", node, "places",
                                   expected="0 to 20")
            values["places"] = places
    if kind == "text":
        for key in ("min_length", "max_length"):
            if key in node:
                number = node[key]
                if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= MAX_TEXT:
                    raise reader.error(f"fact '{path}': '{key}' must be a whole number from 0 to {MAX_TEXT}", node, key,
                                       expected=f"0 to {MAX_TEXT}")
                values[key] = number
        if "pattern" in node:
            values["pattern"] = _pattern(reader, node, path)
            hint = node.get("pattern_hint")
            if hint is not None and not isinstance(hint, str):
                raise reader.error(f"fact '{path}': 'pattern_hint' must be text", node, "pattern_hint", expected="text")
            values["pattern_hint"] = hint
        elif "derive" in node or "pattern_hint" in node:
            raise reader.error(f"fact '{path}': 'derive' and 'pattern_hint' need a 'pattern'", node, expected="a pattern")
        if "derive" in node:
            values["derive"] = _derived(reader, node, path, re.compile(values["pattern"]))
    if kind == "subdivision" and "within" in node:
        within = node["within"]
        if not isinstance(within, str):
            raise reader.error(f"fact '{path}': 'within' must name a sibling country fact", node, "within",
                               expected="a fact name")
        values["within"] = within
    if kind == "date" and "not_before" in node:
        values["not_before"] = _not_before(reader, node, path)
    if kind == "list":
        if "max_items" in node:
            number = node["max_items"]
            if not isinstance(number, int) or isinstance(number, bool) or not 0 < number <= MAX_ITEMS:
                raise reader.error(f"fact '{path}': 'max_items' must be a whole number from 1 to {MAX_ITEMS}", node,
                                   "max_items", expected=f"1 to {MAX_ITEMS}")
            values["max_items"] = number
        item = node.get("item")
        if not isinstance(item, dict) or not item:
            raise reader.error(f"list '{path}' has no 'item' fields", node, "item" if "item" in node else None,
                               expected="item: {field: {type: ...}, ...}")
        values["fields"] = tuple(_spec(reader, key, item[key], item, path + ".", counter, depth=depth + 1) for key in item)
    if kind == "group":
        fields = node.get("fields")
        if not isinstance(fields, dict) or not fields:
            raise reader.error(f"group '{path}' has no 'fields'", node, "fields" if "fields" in node else None,
                               expected="fields: {name: {type: ...}, ...}")
        values["fields"] = tuple(_spec(reader, key, fields[key], fields, path + ".", counter, depth=depth + 1)
                                 for key in fields)
    if "default" in node:
        if required:
            raise reader.error(f"fact '{path}' is required and has a default", node, "default",
                               expected="either required: true or a default")
        if kind in ("list", "group"):
            raise reader.error(f"fact '{path}': a {kind} cannot have a default", node, "default", expected="no default")
        values["default"] = node["default"]
        values["has_default"] = True
    spec = FactSpec(**values)
    if spec.has_default:
        _check_default(reader, node, spec)
    return spec


def _number(reader: _Reader, node: Any, key: str, path: str, *, integer: bool) -> Decimal:
    value = node[key]
    if isinstance(value, bool) or not isinstance(value, (int, float, str)) or (integer and not isinstance(value, int)):
        raise reader.error(f"fact '{path}': '{key}' must be a number", node, key,
                           expected="a whole number" if integer else "a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise reader.error(f"fact '{path}': '{key}' must be a number", node, key, expected="a number") from None
    if not number.is_finite() or abs(number) >= Decimal(10) ** 15:
        raise reader.error(f"fact '{path}': '{key}' is out of range", node, key, expected="a number below 10^15")
    return number


def _pattern(reader: _Reader, node: Any, path: str) -> str:
    pattern = node["pattern"]
    if not isinstance(pattern, str) or not pattern or len(pattern) > 500:
        raise reader.error(f"fact '{path}': 'pattern' must be a regular expression of at most 500 characters", node,
                           "pattern", expected="a regular expression")
    try:
        re.compile(pattern)
    except re.error as problem:
        raise reader.error(f"fact '{path}': 'pattern' is not a regular expression: {problem}", node, "pattern",
                           expected="a Python regular expression") from None
    return pattern


def _derived(reader: _Reader, node: Any, path: str, pattern: re.Pattern[str]) -> tuple[Derived, ...]:
    derive = node["derive"]
    if not isinstance(derive, dict) or not derive:
        raise reader.error(f"fact '{path}': 'derive' must map names to {{type, from}}", node, "derive",
                           expected="derive: {name: {type: integer, from: '{group}'}}")
    found = []
    for name, body in derive.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name) or not isinstance(body, dict):
            raise reader.error(f"fact '{path}': derived fact {name!r} must be a name with {{type, from}}", derive,
                               str(name), expected="name: {type: integer|text|set, from: '{group}'}")
        for key in body:
            if key not in ("type", "from", "split", "description"):
                raise reader.error(f"fact '{path}': derived fact '{name}' has unknown key '{key}'", body, key,
                                   expected="type, from, split, description")
        kind, template, split = body.get("type"), body.get("from"), body.get("split")
        if kind not in DERIVED_TYPES:
            raise reader.error(f"fact '{path}': derived fact '{name}' has type {kind!r}", body, "type",
                               expected="one of " + ", ".join(DERIVED_TYPES))
        if not isinstance(template, str):
            raise reader.error(f"fact '{path}': derived fact '{name}' needs 'from', a template like '{{group}}'", body,
                               expected="from: '{group}'")
        for group in re.findall(r"\{([^{}]*)\}", template):
            if group not in pattern.groupindex:
                raise reader.error(f"fact '{path}': derived fact '{name}' uses '{{{group}}}', which the pattern does not name",
                                   body, "from", expected="one of " + ", ".join(sorted(pattern.groupindex)))
        if (kind == "set") != (split is not None) or (split is not None and (not isinstance(split, str) or not split)):
            raise reader.error(f"fact '{path}': derived fact '{name}': a set needs 'split' (its separator), nothing else does",
                               body, expected="split: '+' with type: set")
        found.append(Derived(name, kind, template, split, str(body.get("description", ""))))
    return tuple(found)


def _not_before(reader: _Reader, node: Any, path: str) -> NotBefore:
    value = node["not_before"]
    if isinstance(value, str):
        return NotBefore(sibling=value)
    if isinstance(value, dict) and set(value) <= {"first_known", "label"} and "first_known" in value:
        paths = value["first_known"]
        label = value.get("label", "")
        if isinstance(paths, list) and paths and all(isinstance(item, str) for item in paths) and isinstance(label, str):
            return NotBefore(first_known=tuple(paths), label=label)
    raise reader.error(f"fact '{path}': 'not_before' must name a sibling date or be {{first_known: [paths], label: text}}",
                       node, "not_before", expected="a sibling date field, or first_known with label")


def _check_default(reader: _Reader, node: Any, spec: FactSpec) -> None:
    value = spec.default
    ok = {
        "bool": isinstance(value, bool),
        "enum": value in spec.values,
        "text": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "decimal": isinstance(value, (int, float)) and not isinstance(value, bool),
    }.get(spec.type, False)
    if not ok:
        raise reader.error(f"fact '{spec.path}': default {value!r} is not a valid {spec.type}", node, "default",
                           expected=f"a {spec.type}" + (": one of " + ", ".join(spec.values) if spec.values else ""))


def _index(vocabulary: Vocabulary, reader: _Reader) -> None:
    """Fill the lookup tables; check cross-references (within, not_before, derived names)."""
    paths, specs = vocabulary.paths, vocabulary.specs
    lists: list[str] = []
    collections: set[str] = set()

    def walk(spec: FactSpec, prefix: str, in_list: bool) -> None:
        path = prefix + spec.name
        if not in_list:
            paths[path] = LANGUAGE_TYPE[spec.type]
            specs[path] = spec
        if spec.role is not None:
            if in_list:
                raise reader.error(f"fact '{spec.path}': a list item cannot play role '{spec.role}'", expected="no role")
            if spec.role in vocabulary.roles:
                raise reader.error(f"facts '{vocabulary.roles[spec.role]}' and '{path}' both play role '{spec.role}'",
                                   expected="one fact per role")
            vocabulary.roles[spec.role] = path
        if spec.type == "list":
            if in_list:
                raise reader.error(f"list '{spec.path}' inside a list", expected="lists of records of plain facts")
            lists.append(path)
            collections.add(path)
            vocabulary.item_fields[path] = frozenset(field.name for field in spec.fields)
            for item in spec.fields:
                specs[f"{path}[].{item.name}"] = item
                walk(item, path + ".", True)
            return
        siblings = {field.name: field for field in spec.fields}
        for child in spec.fields:
            walk(child, path + ".", in_list)
            if child.type == "subdivision" and child.within is not None:
                other = siblings.get(child.within)
                if other is None or other.type != "country":
                    raise reader.error(f"fact '{child.path}': 'within: {child.within}' is not a country fact beside it",
                                       expected="the name of a sibling fact of type country")
            if child.not_before is not None and child.not_before.sibling is not None:
                other = siblings.get(child.not_before.sibling)
                if other is None or other.type != "date":
                    raise reader.error(f"fact '{child.path}': 'not_before: {child.not_before.sibling}' is not a date "
                                       "beside it", expected="the name of a sibling date")
            for derived in child.derive:
                derived_path = f"{path}.{derived.name}"
                if derived.name in siblings or derived_path in paths:
                    raise reader.error(f"derived fact '{derived_path}' is also declared", expected="a new name")
                if not in_list:
                    paths[derived_path] = LANGUAGE_TYPE["integer" if derived.type == "integer" else derived.type]
                    vocabulary.derived_from[derived_path] = child.path
                    if derived.type == "set":
                        collections.add(derived_path)

    for group in vocabulary.groups:
        walk(group, "", False)
    from claimrules.facts import ClaimFacts

    for group in vocabulary.groups:
        if hasattr(ClaimFacts, group.name):
            raise reader.error(f"'{group.name}' cannot name a top-level fact (the claim model uses that name)",
                               expected="another name")
    for group in vocabulary.groups:
        if group.not_before is not None and group.not_before.sibling is not None:
            raise reader.error(f"fact '{group.path}': a top-level date can only be 'not_before' first_known paths",
                               expected="not_before: {first_known: [...]}")
    for spec in list(specs.values()):
        if spec.not_before is not None:
            for target in spec.not_before.first_known:
                if paths.get(target) != "date":
                    raise reader.error(f"fact '{spec.path}': not_before names '{target}', which is not a date fact",
                                       expected="a declared date fact", help=did_you_mean(target, paths))
    object.__setattr__(vocabulary, "list_facts", tuple(sorted(lists, key=lambda path: path.count("."))))
    object.__setattr__(vocabulary, "collections", frozenset(collections))


def load_vocabulary_file(path: Path, display: str) -> Vocabulary:
    """Read and check one facts file (safe YAML, bounded size: the policy loader's reader)."""
    from claimrules.policy.loader import read_yaml

    return read_vocabulary(read_yaml(path, display), display)


def spec_items(spec: FactSpec) -> Mapping[str, FactSpec]:
    return {field.name: field for field in spec.fields}
