"""From a solver model to a claim the engine can decide: witnesses built on seed claims.

A witness starts from a *seed* (a valid claim, e.g. one of the policy's example claims): the facts
the formulas read take the model's values, every other fact keeps the seed's, optional groups the
seed leaves out stay out, and dates keep the order the seed gives them. So a model is turned into a
claim that passes validation whenever the seed's shape allows it; the engine then confirms (or not)
what the solver found.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import z3

from claimrules.analysis.solver import (
    MAX_ITEMS,
    Claims,
    FactSpec,
    constant,
    day_number,
    from_day_number,
    kind_of_constant,
)

_KEEP = object()   # a free-text fact that is none of the constants the policies name: the seed's value


@dataclass(frozen=True)
class Seed:
    name: str
    claim: dict[str, Any]
    derived: Mapping[str, Any]     # facts the engine derives (not in the schema), as the seed gives them


def _get(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def seed_constraints(claims: Claims, seed: Seed, cells: list[tuple[str, str | None]] | None,
                     *, lists_as_seed: bool = False) -> list[z3.BoolRef]:
    """Tie the symbolic claim to a seed's shape: which optional groups exist, the order of its dates
    (and, with ``lists_as_seed``, as many list items as the seed gives: the smallest witnesses)."""
    out: list[z3.BoolRef] = []
    if lists_as_seed:
        for path, slots in sorted(claims.items.items()):
            given = _get(seed.claim, path)
            length = len(given) if isinstance(given, list) else 0
            out.extend(exists == (index < length) for index, (exists, _) in enumerate(slots))
    for path, (value, known) in sorted(claims.derived_vars.items()):
        given = seed.derived.get(path)
        out.append(known == (given is not None))
        if given is not None:
            out.append(value == constant(claims, given))
    for (path, item), (inside, known) in sorted(claims.derived_members.items(), key=lambda pair: str(pair[0])):
        given = seed.derived.get(path)
        out.append(known == (given is not None))
        out.append(inside == (given is not None and item in given))
    for path, (_, known) in sorted(claims.vars.items()):
        if _get(seed.claim, path) is not None:
            out.append(known)   # a fact the seed gives stays given (missing facts are LW 6.3's analysis)
    groups = {path for path, spec in claims.facts.items() if spec.kind == "group" and not spec.required}
    for group in sorted(groups):
        out.append(claims.group_known(group) == (isinstance(_get(seed.claim, group), Mapping)))
    dated: list[tuple[Any, z3.BoolRef, int]] = []
    for path, (value, known) in sorted(claims.vars.items()):
        spec = claims.facts[path]
        if spec.kind != "date":
            continue
        raw = _get(seed.claim, path)
        if isinstance(raw, str):
            from datetime import date

            dated.append((value, known, day_number(date.fromisoformat(raw))))
    for (a, ka, da), (b, kb, db) in ((x, y) for x in dated for y in dated if x is not y):
        if da <= db:
            out.append(z3.Implies(z3.And(ka, kb), a <= b))
    if cells is not None and claims.place is not None and claims.place.country in claims.facts:
        out.append(z3.And(z3.Int("location-cell") >= 0, z3.Int("location-cell") < len(cells)))
    return out


def _python(model: z3.ModelRef, term: Any, spec: FactSpec, texts: Mapping[int, str]) -> Any:
    raw = model.evaluate(term, model_completion=True)
    if spec.kind == "bool":
        return z3.is_true(raw)
    if spec.kind == "date":
        return from_day_number(raw.as_long()).isoformat()
    if spec.kind in ("money", "number"):
        fraction = raw.as_fraction() if hasattr(raw, "as_fraction") else raw.as_long()
        amount = Decimal(fraction.numerator) / Decimal(fraction.denominator) if hasattr(fraction, "numerator") else Decimal(fraction)
        return amount.quantize(Decimal("0.01")) if spec.kind == "money" else amount
    if spec.kind == "integer":
        return raw.as_long()
    index = raw.as_long()
    if index in texts:
        return texts[index]
    if spec.values:
        return spec.values[0]
    if index < -1:   # another value no policy names, different from the one -1 stands for
        return f"zz-other-value-{-index}"
    return _KEEP


def build_claim(claims: Claims, model: z3.ModelRef, seed: Seed, cells: list[tuple[str, str | None]] | None,
                default_item: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The seed with the model's values for every fact the formulas read."""
    texts = {index: text for text, index in claims.texts.items()}
    claim = copy.deepcopy(seed.claim)
    currency = (_get(claim, "product.price") or {}).get("currency", "USD") if isinstance(_get(claim, "product.price"), Mapping) else "USD"
    for path, (value, known) in sorted(claims.vars.items()):
        spec = claims.facts[path]
        parent_path, _, name = path.rpartition(".")
        parent = _get(claim, parent_path) if parent_path else claim
        if not isinstance(parent, dict):
            continue
        if not z3.is_true(model.evaluate(known, model_completion=True)):
            if not spec.required:
                parent.pop(name, None)
            continue
        chosen = _python(model, value, spec, texts)
        if chosen is _KEEP:
            if name not in parent:
                parent[name] = "zz-none-of-the-policy-values"
            continue
        parent[name] = _json(chosen, spec, currency)
    for path, slots in sorted(claims.items.items()):
        parent_path, _, name = path.rpartition(".")
        parent = _get(claim, parent_path) if parent_path else claim
        if not isinstance(parent, dict):
            continue
        existing = parent.get(name) or []
        items: list[dict[str, Any]] = []
        for index, (exists, fields) in enumerate(slots):
            if not z3.is_true(model.evaluate(exists, model_completion=True)):
                break
            item = copy.deepcopy(existing[index]) if index < len(existing) else default_item(path)
            for field_name, (value, known) in sorted(fields.items()):
                spec = claims.facts[path].items[f"item.{field_name}"]
                if z3.is_true(model.evaluate(known, model_completion=True)):
                    chosen = _python(model, value, spec, texts)
                    if chosen is not _KEEP or field_name not in item:
                        item[field_name] = _json("zz-none-of-the-policy-values" if chosen is _KEEP else chosen,
                                                 spec, currency)
                elif not spec.required:
                    item.pop(field_name, None)
            items.append(item)
        parent[name] = items
    place = claims.place
    group = _get(claim, place.group) if place is not None else None
    if cells is not None and place is not None and isinstance(group, dict):
        cell = model.evaluate(z3.Int("location-cell"), model_completion=True).as_long()
        if 0 <= cell < len(cells):
            country, subdivision = cells[cell]
            group[place.country.rsplit(".", 1)[-1]] = country
            if place.subdivision is not None:
                key = place.subdivision.rsplit(".", 1)[-1]
                if subdivision is None:
                    group.pop(key, None)
                else:
                    group[key] = subdivision
    return claim


def claim_constraints(claims: Claims, values: Mapping[str, Any], cells: list[tuple[str, str | None]] | None,
                      located: Callable[[tuple[str, str | None]], Any] | None = None) -> list[z3.BoolRef] | None:
    """The symbolic claim pinned to one concrete claim (its facts as ``claimrules.facts.fact_values``
    gives them, derived facts included): the reverse of ``build_claim``. None when the claim cannot
    be represented (a list longer than ``MAX_ITEMS``). ``located`` maps a location cell to what
    decides membership, to find the claim's own cell (default: the cell equal to its location).

    With every fact pinned, the formulas' values are determined, so comparing them with the engine's
    trace on real claims checks the encoding itself.
    """
    domains, groups = claims.free_text_domains(), claims.free_text_groups()
    others: dict[frozenset[str], dict[str, int]] = {}   # per group, each value no policy names: -1, -2, ...

    def pinned(term: Any, known: z3.BoolRef, value: Any, spec_kind: str, path: str) -> list[z3.BoolRef]:
        if value is None:
            return [z3.Not(known)]
        if spec_kind == "text" or isinstance(value, str):
            allowed = domains.get(path)
            if allowed is None or value in allowed:
                index = claims.texts.get(value, -1)
            else:
                numbered = others.setdefault(groups[path], {})
                index = numbered.setdefault(value, -1 - len(numbered))
            return [known, term == index]
        return [known, term == constant(claims, value)]

    out: list[z3.BoolRef] = []
    for path, (term, known) in sorted(claims.vars.items()):
        out += pinned(term, known, values.get(path), claims.facts[path].kind, path)
    for path, (term, known) in sorted(claims.derived_vars.items()):
        out += pinned(term, known, values.get(path), claims.derived.get(path, "text"), path)
    for (path, item), (inside, known) in sorted(claims.derived_members.items(), key=lambda pair: str(pair[0])):
        listed = values.get(path)
        out += [known == (listed is not None), inside == (listed is not None and item in listed)]
    for path, spec in sorted(claims.facts.items()):
        if spec.kind == "group" and not spec.required:
            out.append(claims.group_known(path) == (values.get(path) is not None))
    for path, slots in sorted(claims.items.items()):
        items = values.get(path) or ()
        if len(items) > MAX_ITEMS:
            return None
        for index, (exists, fields) in enumerate(slots):
            out.append(exists == (index < len(items)))
            for name, (term, known) in sorted(fields.items()):
                value = items[index].get(name) if index < len(items) else None
                out += pinned(term, known, value, claims.facts[path].items[f"item.{name}"].kind, f"{path}[{index}].{name}")
    place = claims.place
    if cells is not None and place is not None and place.country in claims.facts:
        here = (values.get(place.country), values.get(place.subdivision) if place.subdivision is not None else None)
        key = located or (lambda cell: cell)
        matches = [index for index, cell in enumerate(cells) if key(cell) == key(here)]  # type: ignore[arg-type]
        if not matches:
            return None
        out.append(z3.Int("location-cell") == matches[0])
    return out


def _json(value: Any, spec: FactSpec, currency: str) -> Any:
    if spec.kind == "money":
        return {"amount": format(value, "f"), "currency": currency}
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if spec.kind == "number" else value
    return value


def defaults_for(facts: Mapping[str, FactSpec], seeds: list[Seed]) -> Callable[[str], dict[str, Any]]:
    """A new list item for a collection: a seed's first item of that list if any seed has one."""
    found: dict[str, dict[str, Any]] = {}
    for seed in seeds:
        for path, spec in facts.items():
            if spec.kind == "list" and path not in found:
                items = _get(seed.claim, path)
                if isinstance(items, list) and items and isinstance(items[0], dict):
                    found[path] = items[0]

    def make(path: str) -> dict[str, Any]:
        return copy.deepcopy(found.get(path, {}))

    return make


def derived_facts(claim: Mapping[str, Any], schema_paths: Mapping[str, FactSpec], claim_vocabulary: Any) -> dict[str, Any]:
    """The facts the engine derives from a claim (not given in it), e.g. a plan code's options."""
    from claimrules.facts import fact_values, parse_claim

    values = fact_values(parse_claim(claim, claim_vocabulary))
    return {path: value for path, value in values.items() if path not in schema_paths}


def shape(claim: Mapping[str, Any], facts: Mapping[str, FactSpec]) -> tuple[str, ...]:
    """Which optional groups and lists a claim gives: what a witness built on it can vary."""
    present = []
    for path, spec in sorted(facts.items()):
        if spec.kind in ("group", "list") and not spec.required:
            value = _get(claim, path)
            if value:
                present.append(path)
    return tuple(present)


def seeds_from(cases: list[tuple[str, dict[str, Any]]], facts: Mapping[str, FactSpec], claim_vocabulary: Any) -> list[Seed]:
    """One seed per shape of claim among the examples (name, claim), the first by name of each shape.

    Skips examples the vocabulary rejects. Facts a formula reads are the solver's to choose, so two
    seeds of one shape would only differ in facts no changed rule reads.
    """
    from claimrules.errors import ClaimrulesError

    seeds: dict[tuple[str, ...], Seed] = {}
    for name, claim in sorted(cases, key=lambda pair: pair[0]):
        key = shape(claim, facts)
        if key in seeds:
            continue
        try:
            seeds[key] = Seed(name, claim, derived_facts(claim, facts, claim_vocabulary))
        except ClaimrulesError:
            continue
    return [seeds[key] for key in sorted(seeds)]


def derived_kinds(seeds: list[Seed]) -> dict[str, str]:
    """The kind of each derived fact, from the first seed that gives it."""
    kinds: dict[str, str] = {}
    for seed in seeds:
        for path, value in sorted(seed.derived.items()):
            if value is not None and path not in kinds:
                kinds[path] = kind_of_constant(value)
    return kinds
