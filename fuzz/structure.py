"""A fuzz target that edits a policy's *structure*, not its bytes (issue #13).

The input is read as a program of edits (``atheris.FuzzedDataProvider`` where atheris is installed,
the same byte-driven choices otherwise) applied to the catalogue's valid policy set
(``tests/bad_input/valid-policy``) as Python data: ids set to values that spell rule keys, collide,
are blank, numbers, escapes or surrogates; references (``overrides``, ``holds()``, escalation steps,
``tie_order``, the set's named clauses) pointed at other or missing clauses; clauses and documents
duplicated; ``holds()`` chains, diamonds and ``any:`` lists of fuzzer-chosen sizes; definitions
named like facts; conditions rebuilt from a pool of tests (text ordering on non-ASCII text, money,
dates, item quantifiers). The set is written out as YAML, loaded, compiled and used to decide a
few claims.

The only exceptions allowed: ``PolicyError`` while loading or compiling; ``ClaimError`` for a
claim the policy cannot price. An ``EvaluationError`` (durable_rules and the trace disagree), any
other exception or a hang is a crash.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from claimrules.errors import ClaimError, PolicyError

ROOT = Path(__file__).resolve().parent.parent
BASE = ROOT / "tests" / "bad_input" / "valid-policy"
BASE_CLAIM = ROOT / "tests" / "bad_input" / "valid-claim.json"

IDS: list[Any] = [
    "doc:W", "W 2.1!", "x@v", "version:W:1", "", " ", " W 2.1", "W 2.1 ", 2.10, 2.1, 7, True, None, "W", "w", "Index",
    "index", "W-2.1", "W 2_1", "W 2.1", "W 3.1", "W 9.1", "W\x00", "W\ud800", "W\x1b[2J", "W\u202e1", "é", "x" * 250,
    ["W 2.1"], {"id": "W"},
]
TESTS = [
    "product.price > USD 1", "product.price <= USD 1299.000000", "product.price == USD -0.00",
    "incident.part < 'm'", "incident.part >= 'é'", "incident.part > '\"'", "incident.part < 'Z'",
    "claim.reported_on within 1 year after delivery.delivered_on", "claim.reported_on <= delivery.invoice_date + 30 days",
    "claim.reported_on <= delivery.invoice_date + 2 months", "location in {US, CA}", "product.condition == 'new'",
    "product.serial_intact", "not product.serial_intact", "incident.cause in {defect, drop}",
    "incident.battery_capacity_pct < 80", "incident.occurred_on is known", "plan.code is missing",
    "count(prior_incidents where item.covered) >= 2", "product.price * 2 > USD 100", "true", "false",
    "month_day(delivery.delivered_on) >= '11-15'", "incident.part == 'x'",
]
PARTS = ["é", "m", "a", "Z", "\"", "\\", "\u00e9\u00e9", "\U0001f600", "", "x" * 300]


class Choices:
    """Byte-driven choices: atheris' FuzzedDataProvider, or a plain reader of the same bytes."""

    def __init__(self, data: bytes) -> None:
        try:
            import atheris

            self._provider: Any = atheris.FuzzedDataProvider(data)
        except ImportError:
            self._provider = None
            self._data, self._at = data, 0

    def int(self, low: int, high: int) -> int:
        if self._provider is not None:
            return int(self._provider.ConsumeIntInRange(low, high))
        if self._at >= len(self._data):
            return low
        value = self._data[self._at] | (self._data[self._at + 1] << 8 if self._at + 1 < len(self._data) else 0)
        self._at += 2
        return low + value % (high - low + 1)

    def pick(self, items: list[Any]) -> Any:
        return items[self.int(0, len(items) - 1)]

    def remaining(self) -> bool:
        if self._provider is not None:
            return bool(self._provider.remaining_bytes())
        return self._at < len(self._data)


@cache
def _base() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    manifest = yaml.safe_load((BASE / "policy-set.yaml").read_text(encoding="utf-8"))
    documents = yaml.safe_load((BASE / "warranty.yaml").read_text(encoding="utf-8"))
    claim = json.loads(BASE_CLAIM.read_text(encoding="utf-8"))
    return manifest, documents, claim


def _clauses(documents: dict[str, Any]) -> list[dict[str, Any]]:
    return [clause for document in documents["documents"] for clause in document.get("clauses", [])
            if isinstance(clause, dict)]


def _condition(choices: Choices, ids: list[Any]) -> Any:
    kind = choices.int(0, 5)
    if kind == 0:
        return choices.pick(TESTS)
    if kind == 1:
        return f"holds('{choices.pick(ids)}')"
    if kind == 2:
        size = choices.pick([1, 2, 3, 30, 199, 200, 201, 400])
        return {choices.pick(["any", "all"]): [choices.pick(TESTS) for _ in range(size)]}
    if kind == 3:
        return {"not": choices.pick(TESTS)}
    joiner = choices.pick([" and ", " or "])
    return joiner.join(f"({choices.pick(TESTS)})" for _ in range(choices.int(2, 40)))


def edit(choices: Choices) -> tuple[dict[str, Any], dict[str, Any]]:
    """The base policy set with the edits the input spells."""
    manifest_base, documents_base, _ = _base()
    manifest = copy.deepcopy(manifest_base)
    documents = copy.deepcopy(documents_base)
    body = manifest["policy_set"]
    for _ in range(choices.int(1, 6)):
        if not choices.remaining():
            break
        clauses = _clauses(documents)
        ids = [clause.get("id") for clause in clauses] + ["W 99.9", "doc:W"]
        operation = choices.int(0, 11)
        if operation == 0 and clauses:  # an id
            choices.pick(clauses)["id"] = choices.pick(IDS + ids)
        elif operation == 1:  # a document id, or a second document with the same or a colliding id
            if choices.int(0, 1):
                documents["documents"][0]["id"] = choices.pick(IDS)
            else:
                twin = copy.deepcopy(documents["documents"][0])
                twin["id"] = choices.pick(["W", "w", "Index", "W2", "doc:W"])
                documents["documents"].append(twin)
        elif operation == 2 and clauses:  # a reference
            target = choices.pick(ids)
            where = choices.int(0, 4)
            if where == 0:
                choices.pick(clauses)["overrides"] = [target]
            elif where == 1:
                body["precedence"]["clause"] = target
            elif where == 2:
                body["precedence"]["tie_order"] = choices.pick([["W"], ["W", "W"], [], ["W", "X"], [target]])
            elif where == 3:
                documents["documents"][0]["escalation"] = [{"clause": target, "who": "Review", "ask_within": "60 days"}]
            else:
                body[choices.pick(["otherwise", "needs_information"])] = {"clause": target}
        elif operation == 3 and clauses:  # sizes: copies of a clause, with fresh or repeated ids
            source = choices.pick(clauses)
            count = choices.pick([1, 2, 10, 63, 64, 65, 250, 252])
            fresh = choices.int(0, 1)
            for n in range(count):
                twin = copy.deepcopy(source)
                if fresh:
                    twin["id"] = f"W 50.{n}"
                documents["documents"][0]["clauses"].append(twin)
        elif operation == 4:  # a holds() chain or diamond of fuzzer-chosen length
            length = choices.pick([2, 8, 24, 31, 32, 33, 34, 60])
            diamond = choices.int(0, 1)
            chain = [{"id": "H 0", "title": "H", "text": "H.", "effect": "states", "when": choices.pick(TESTS)}]
            for n in range(1, length):
                when = f"holds('H {n - 1}')" + (f" and holds('H {n - 2}')" if diamond and n > 1 else "")
                chain.append({"id": f"H {n}", "title": "H", "text": "H.", "effect": choices.pick(["states", "excludes"]),
                              "when": when})
            documents["documents"][0]["clauses"].extend(chain)
        elif operation == 5 and clauses:  # a condition
            target = choices.pick(clauses)
            target["when"] = _condition(choices, ids)
            if target.get("effect") in ("precedence", "escalation"):
                target["effect"] = choices.pick(["excludes", "covers", "states"])
                if target["effect"] == "covers":
                    target["remedy"] = "repair"
        elif operation == 6:  # a definition, maybe named like a fact
            definitions = documents["documents"][0].setdefault("definitions", {})
            name = choices.pick(["product", "claim", "incident", "d1", "d2", "delivery_date", "territory", "holds"])
            definitions[name] = {"value": choices.pick(["delivery.invoice_date", "d1 + 1 day", "d2", "product.price",
                                                        "holds('W 2.1')", "true"])}
        elif operation == 7 and clauses:  # a key removed or given the wrong type
            target = choices.pick(clauses)
            key = choices.pick(sorted(target))
            if choices.int(0, 1):
                del target[key]
            else:
                target[key] = choices.pick([None, 2.10, [], {}, True, "x", ["x"]])
        elif operation == 8:  # text with characters that cannot be stored
            choices.pick(clauses or [documents["documents"][0]])["title"] = choices.pick(
                ["T\ud800", "T\x00", "T\x1b]8;;x\x07", "T\u202e", "Ŧ"])
        elif operation == 9:
            documents["documents"][0]["effective_from"] = choices.pick(["2024-01-01", "2024-01-01T00:00:00+14:00",
                                                                         "20240101", 20240101, "٢٠٢٤-٠١-٠١"])
        elif operation == 10:  # an earlier version with a fuzzer-chosen name
            documents["documents"][0]["earlier_versions"] = [{
                "version": choices.pick(["2019-07", "2019!", "v@1", "", " ", 2019, "x:y"]),
                "applies_when": "delivery.invoice_date < 2024-01-01",
                "clauses": [{"id": choices.pick(ids), "title": "Old", "text": "Old.", "effect": "states"}]}]
        elif operation == 11:
            body["id"] = choices.pick(["bad", "bad\x00", "", "b@d", "b\ud800", "x" * 300])
    return manifest, documents


def _claims(choices: Choices) -> list[dict[str, Any]]:
    _, _, base = _base()
    claims = []
    for _ in range(2):
        claim = copy.deepcopy(base)
        claim["incident"]["part"] = choices.pick(PARTS) or "x"
        claim["product"]["price"] = choices.pick(["USD 1299.00", "USD 1299.000000", "USD -0.00", "USD 0", "USD 1"])
        claims.append(claim)
    return claims


@cache
def _workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="claimrules-structure-"))


def _dump(value: Any) -> str | None:
    try:
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: the pure-Python emitter was most of a run
        return yaml.dump(value, Dumper=dumper, allow_unicode=True, sort_keys=False, width=1000)
    except (yaml.YAMLError, UnicodeEncodeError):
        return None


def fuzz_structure(data: bytes) -> None:
    import claimrules
    from claimrules.facts import parse_claim

    choices = Choices(data)
    manifest, documents = edit(choices)
    claims = _claims(choices)
    manifest_text, documents_text = _dump(manifest), _dump(documents)
    if manifest_text is None or documents_text is None:
        return
    folder = _workdir() / "set"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    try:
        (folder / "policy-set.yaml").write_text(manifest_text, encoding="utf-8", errors="surrogateescape")
        (folder / "warranty.yaml").write_text(documents_text, encoding="utf-8", errors="surrogateescape")
        (folder / "facts.yaml").write_bytes((BASE / "facts.yaml").read_bytes())  # the claim vocabulary, unmutated
    except UnicodeEncodeError:
        return
    try:
        compiled = claimrules.load_policy(folder)
    except PolicyError:
        return
    with compiled:
        for claim in claims:
            try:
                facts = parse_claim(claim, compiled)
            except ClaimError:
                continue
            try:
                decision = compiled.adjudicate(facts)
            except ClaimError:
                continue
            assert decision.outcome in ("approve", "deny", "refer", "needs_information"), decision.outcome
