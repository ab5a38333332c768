"""A decision as a letter to the customer: HTML, Markdown or plain text.

The letter is a function of the decision and the policy set it came from (for the wording of the
clauses the decision names by id) and, optionally, the claim (for the customer's own words). It
states the outcome and remedy, every ground with its quoted wording and a link to that clause in
the coverage documentation, the amounts, who decides and why, what else is open to the customer,
and how and by when to ask for review. Nothing here decides anything: every statement comes from
a field of the decision or a clause of the policy.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Literal

import jinja2
from markupsafe import Markup

from claimrules.decide import clause_order
from claimrules.decision import Citation, Decision, ExceptionOutcome
from claimrules.facts import ClaimFacts
from claimrules.policy.model import Clause, Effect, PolicySet
from claimrules.reasons import definition_label
from claimrules.render.anchors import clause_href
from claimrules.render.claimfacts import capitalised, claim_word, letter_facts
from claimrules.render.escape import clean_text, markdown_inline
from claimrules.render.text import REMEDY_WORDS
from claimrules.vocabulary import Vocabulary
from claimrules.words import fact_label, long_date, place_name

Format = Literal["html", "md", "txt"]
FORMATS: tuple[str, ...] = ("html", "md", "txt")
TEMPLATES = Path(__file__).parent / "templates"

AMOUNT_WORDS = {
    "refund": "Refund to you",
    "service_fee": "Service fee, payable by you",
    "restocking_fee": "Restocking fee, deducted from the refund",
    "accessory_deduction": "Deducted from the refund",   # what for: the clause's title (missing accessories, a bundle)
    "shipping": "Shipping, at your cost",
}
# The favicon is inline, so a browser opening the letter or a page asks the server for nothing else.
FAVICON = ("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
           "%3Crect width='16' height='16' rx='3' fill='%231d3f73'/%3E%3Cpath d='M4 8.5l2.5 2.5L12 5' "
           "stroke='white' stroke-width='2' fill='none'/%3E%3C/svg%3E")


def fact_words(path: str, vocabulary: Vocabulary | None = None) -> str:
    """A fact as the customer reads it: its label from the policy set's vocabulary (the fact's
    ``description``), e.g. ``'product.serial_number'`` -> ``"serial number"``."""
    return fact_label(path, vocabulary)


def _is_place(name: str, vocabulary: Vocabulary) -> bool:
    """A fact that holds an ISO 3166 code, or the group of the ``country`` role (what ``in <territory>`` reads)."""
    spec = vocabulary.specs.get(name)
    if spec is not None and spec.type in ("country", "subdivision"):
        return True
    place = vocabulary.roles.get("country", "").rpartition(".")[0]
    return bool(place) and name == place


def used_words(name: str, shown: str | None, policy: PolicySet) -> str:
    """A value the trace read, for a customer: its label and the value in words (dates as "3 June 2024")."""
    if name in policy.definitions:
        clause = policy.clauses_by_key.get(policy.definitions[name].clause or "")
        label = definition_label(policy.definitions[name], name, clause.text if clause is not None else "")
    else:
        label = fact_label(name, policy.vocabulary)
    value = shown or "not given"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        value = long_date(date.fromisoformat(value))
    elif _is_place(name, policy.vocabulary) and re.fullmatch(r"[A-Z]{2}(-[A-Z0-9]{1,3})?( .*)?", value):
        value = place_name(value.split(" ")[0])
    elif value in ("yes", "no", "unknown"):
        value = {"unknown": "not given"}.get(value, value)
    else:
        value = value.replace("_", " ")
    return f"{label}: {value}"


@dataclass(frozen=True)
class Cited:
    """A clause as a letter or page cites it: id, title, wording, and a link into the documentation."""

    clause: str
    title: str
    text: str
    document: str
    document_title: str
    href: str
    version: str | None = None


@dataclass(frozen=True)
class Reason:
    """One failed condition of a service that was not given (CP 6.2: which of CP 6.1 (a)-(c) failed)."""

    label: str
    facts: str


@dataclass(frozen=True)
class ServiceNotGiven:
    cited: Cited
    service: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class AmountLine:
    kind: str
    words: str
    money: str
    cited: Cited | None


@dataclass(frozen=True)
class Step:
    who: str
    contact: str
    ask_by: date | None
    ask_by_words: str | None
    answer_within: str | None
    cited: Cited | None


@dataclass(frozen=True)
class ExceptionLine:
    """A recorded exception (an extension, or an event that counts as one) and what became of it: in
    words, with the clause it was granted under and the clause that capped or voided it (RT 3.1-3.4)."""

    status: str
    status_words: str
    text: str
    clauses: tuple[Cited, ...]      # the clause it was granted under, then the one that capped or voided it


@dataclass(frozen=True)
class Letter:
    """Everything a letter says, in the order it says it; the templates only lay it out."""

    decision_id: str
    outcome: str
    decided_on: date
    decided_on_words: str
    claim_word: str
    headline: str
    sender: str
    sender_contact: str
    remedy: str | None
    remedy_cited: Cited | None
    services_not_given: tuple[ServiceNotGiven, ...]
    amounts: tuple[AmountLine, ...]
    missing_facts: tuple[str, ...]
    referred_to: str | None
    grounds: tuple[Cited, ...]
    under_addendum: str | None
    displaced: tuple[Cited, ...]
    responsible: str
    responsible_contact: str
    responsible_cited: Cited | None
    parties_involved: tuple[str, ...]
    documents_involved: tuple[str, ...]
    notes: tuple[tuple[str, Cited | None], ...]
    other_options: tuple[tuple[str, Cited | None], ...]
    next_step: Step | None
    later_steps: tuple[Step, ...]
    documents_used: tuple[str, ...]
    policy_id: str
    policy_fingerprint: str
    claim_details: tuple[tuple[str, str], ...]
    docs_base: str
    reasons: tuple[tuple[str, Cited | None], ...] = ()
    send_to: str = ""
    send_by: str = ""
    exceptions: tuple[ExceptionLine, ...] = ()


class _Citer:
    def __init__(self, policy: PolicySet, docs_base: str) -> None:
        self.policy = policy
        self.base = docs_base

    def document_title(self, document_id: str) -> str:
        try:
            return self.policy.document(document_id).title
        except KeyError:
            return document_id

    def citation(self, citation: Citation) -> Cited:
        return Cited(
            clause=citation.clause, title=citation.title, text=citation.text, document=citation.document,
            document_title=self.document_title(citation.document), version=citation.version,
            href=clause_href(citation.document, citation.clause, citation.version, self.base),
        )

    def clause(self, clause: Clause) -> Cited:
        return Cited(
            clause=clause.id, title=clause.title, text=clause.text, document=clause.document,
            document_title=self.document_title(clause.document), version=clause.version,
            href=clause_href(clause.document, clause.id, clause.version, self.base),
        )

    def by_id(self, clause_id: str | None) -> Cited | None:
        if not clause_id:
            return None
        clause = self.policy.clauses_by_key.get(clause_id)
        return self.clause(clause) if clause is not None else None


def services_not_given(decision: Decision, policy: PolicySet) -> list[tuple[Clause, list[Reason]]]:
    """The services ranked above the one given whose conditions failed, and which conditions (CP 6.2).

    Read from the decision's trace: a ``remedy`` clause of an answering document that did not hold,
    with a higher priority than the remedy given, and its failed conditions that carry a label (the
    contract's own words, e.g. "(a) in the United States or Canada"); a service whose failed
    conditions have no label is not listed.
    """
    if decision.outcome != "approve" or not decision.remedy_clause:
        return []
    given = policy.clauses_by_key.get(decision.remedy_clause)
    documents = {citation.document for citation in decision.grounds}
    if given is not None:
        documents.add(given.document)
    found: list[tuple[Clause, list[Reason]]] = []
    for trace in decision.trace:
        if trace.effect != "remedy" or trace.result != "false" or trace.clause == decision.remedy_clause:
            continue
        clause = policy.clauses_by_key.get(trace.clause if trace.version is None else f"{trace.clause}@{trace.version}")
        if clause is None or clause.document not in documents:
            continue
        if given is not None and clause.priority <= given.priority:
            continue
        # Only conditions the policy words for a customer (a ``label``, e.g. CP 6.1 (a)); a bare
        # condition ("claim.type == 'exchange'") is the policy's code, not a reason a customer reads.
        labelled = [condition for condition in trace.conditions if condition.result == "false" and condition.label]
        reasons = [Reason(label=condition.label or "",
                          facts="; ".join(used_words(name, decision.fact(name), policy) for name in condition.reads))
                   for condition in labelled]
        if reasons:
            found.append((clause, reasons))
    return found


EXCEPTION_STATUS_WORDS = {"counted": "Granted", "capped": "Granted in part", "void": "Not valid"}
_ISO_DAY = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")


def _article(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


def _in_words(text: str) -> str:
    """ISO dates in a sentence written as dates in words ('2024-05-01' -> '1 May 2024')."""
    def day(match: re.Match[str]) -> str:
        try:
            return long_date(date.fromisoformat(match.group(1)))
        except ValueError:
            return match.group(1)
    return _ISO_DAY.sub(day, text)


def exception_words(item: ExceptionOutcome, vocabulary: Vocabulary | None) -> str:
    """One recorded exception and what became of it, in a sentence a customer reads.

    Its subject is named by the vocabulary's label of the fact that records it (``extensions[1]`` ->
    "one of the return-window extensions recorded in the order system (granted by an agent on ...)").
    """
    path, _, index = item.source.partition("[")
    label = fact_label(path, vocabulary)
    role = item.role.replace("_", " ")
    if index:  # one item of a list (``extensions[1]``), told apart by who granted it and when, not by its place
        granted = f"One of the {label} (granted by {_article(role)} on {long_date(item.granted_on)})"
    else:  # an event that counts as a grant (RT 3.4: a documented deployment counts as a manager's extension)
        granted = f"{capitalised(label)} (which counts as {_article(role)}'s extension from {long_date(item.granted_on)})"
    if item.reason:  # the engine's account of it (engine/grants.py), its dates in words
        return f"{granted}: {_in_words(item.reason)}."
    if item.status == "void":
        return f"{granted} does not count."
    return f"{granted} counts up to {long_date(item.counted_end)}."


def _headline(decision: Decision, claim_word: str) -> str:
    if decision.outcome == "approve":
        return f"Your {claim_word} is approved."
    if decision.outcome == "deny":
        return f"Your {claim_word} is refused."
    if decision.outcome == "refer":
        who = decision.referred_to or "a person"
        return f"Your {claim_word} has been referred to {who}, who will decide it."
    return f"Your {claim_word} is on hold: we need more information before we can decide it."


def _responsible_clause(decision: Decision, policy: PolicySet) -> Clause | None:
    """The clause that says who decides: the decision's own, or (where the decision names none) the
    ``responsible`` clause of the deciding party that takes over a document the grounds come from."""
    if decision.responsible_clause:
        return policy.clauses_by_key.get(decision.responsible_clause)
    documents = {citation.document for citation in decision.grounds}
    candidates = [clause for document in policy.documents for clause in document.clauses
                  if clause.effect == Effect.RESPONSIBLE and clause.party == decision.responsible.id
                  and (set(clause.over) & documents or (not clause.over and clause.document in documents))]
    candidates.sort(key=lambda clause: clause_order(clause.id))
    return candidates[0] if candidates else None


def build_letter(decision: Decision, policy: PolicySet, *, claim: ClaimFacts | None = None,
                 docs_base: str = "site/") -> Letter:
    """The content of the letter for ``decision``, independent of its format."""
    if docs_base and not docs_base.endswith("/"):
        docs_base += "/"
    cite = _Citer(policy, docs_base)
    word = claim_word(claim)
    parties: list[str] = []
    for citation in decision.grounds:
        try:
            party = policy.parties.get(policy.document(citation.document).responsible)
        except KeyError:
            party = None
        if party is not None and party.name not in parties:
            parties.append(party.name)
    documents_involved = tuple(dict.fromkeys(cite.document_title(citation.document) for citation in decision.grounds))
    responsible_clause = _responsible_clause(decision, policy)

    def step(raw: Any) -> Step:
        return Step(who=raw.who, contact=raw.contact, ask_by=raw.ask_by,
                    ask_by_words=long_date(raw.ask_by) if raw.ask_by else None,
                    answer_within=raw.answer_within, cited=cite.by_id(raw.clause))

    steps = [step(raw) for raw in decision.escalation]
    # A notice from a clause the decision rests on explains the decision (CP 6.2: why not on-site);
    # any other notice tells the customer what else is open to them (RT 5.3: a warranty claim).
    deciding = {citation.clause for citation in decision.grounds} | {decision.remedy_clause}
    notes = tuple((notice.text, cite.by_id(notice.clause)) for notice in decision.notices if notice.clause in deciding)
    options = tuple((notice.text, cite.by_id(notice.clause)) for notice in decision.notices if notice.clause not in deciding)
    not_given = tuple(
        ServiceNotGiven(cited=cite.clause(clause), service=REMEDY_WORDS.get(clause.remedy or "", clause.remedy or ""),
                        reasons=tuple(reasons))
        for clause, reasons in services_not_given(decision, policy))
    return Letter(
        decision_id=decision.decision_id,
        outcome=decision.outcome,
        decided_on=decision.decided_on,
        decided_on_words=long_date(decision.decided_on),
        claim_word=word,
        headline=_headline(decision, word),
        sender=decision.responsible.name,
        sender_contact=decision.responsible.contact,
        remedy=REMEDY_WORDS.get(decision.remedy, decision.remedy) if decision.remedy else None,
        remedy_cited=cite.by_id(decision.remedy_clause),
        services_not_given=not_given,
        amounts=tuple(_amount_line(amount.kind, str(amount.money), cite.by_id(amount.clause)) for amount in decision.amounts),
        missing_facts=tuple(fact_words(path, policy.vocabulary) for path in decision.missing_facts),
        referred_to=decision.referred_to,
        grounds=tuple(cite.citation(citation) for citation in decision.grounds),
        under_addendum=cite.document_title(decision.under_addendum) if decision.under_addendum else None,
        displaced=tuple(cite.citation(citation) for citation in decision.displaced),
        responsible=decision.responsible.name,
        responsible_contact=decision.responsible.contact,
        responsible_cited=cite.clause(responsible_clause) if responsible_clause is not None else None,
        parties_involved=tuple(parties),
        documents_involved=documents_involved,
        notes=notes,
        other_options=options,
        next_step=steps[0] if steps else None,
        later_steps=tuple(steps[1:]),
        documents_used=decision.policy.documents,
        policy_id=decision.policy.id,
        policy_fingerprint=decision.policy.fingerprint[:12],
        claim_details=letter_facts(claim),
        docs_base=docs_base,
        reasons=tuple((reason.text, cite.by_id(reason.clause)) for reason in decision.reasons),
        send_to=_send_to(decision),
        send_by=_send_by(decision, claim),
        exceptions=tuple(ExceptionLine(status=item.status, status_words=EXCEPTION_STATUS_WORDS[item.status],
                                       text=exception_words(item, policy.vocabulary),
                                       clauses=tuple(cited for cited in (cite.by_id(clause) for clause in dict.fromkeys(
                                           (item.clause, item.status_clause)) if clause) if cited is not None))
                         for item in decision.exceptions),
    )


def _amount_line(kind: str, money: str, cited: Cited | None) -> AmountLine:
    """An amount in words: its kind, and for a deduction what it is for, by the clause's title (one kind,
    ``accessory_deduction``, serves every deduction: missing accessories, promotional items, a bundle)."""
    words = AMOUNT_WORDS.get(kind, capitalised(kind.replace("_", " ")))
    if kind == "accessory_deduction" and cited is not None and cited.title:
        words = f"{words} ({cited.title})"
    return AmountLine(kind=kind, words=words, money=money, cited=cited)


def _send_to(decision: Decision) -> str:
    """Whom a held claim's missing facts go to (LW 6.3): the party deciding the claim."""
    if decision.outcome != "needs_information":
        return ""
    contact = f" ({decision.responsible.contact})" if decision.responsible.contact else ""
    return f"{decision.responsible.name}{contact}, quoting decision {decision.decision_id}"


def _send_by(decision: Decision, claim: ClaimFacts | None) -> str:
    """By when: the terms set no deadline for missing facts (LW 6.3); the claim keeps its date."""
    if decision.outcome != "needs_information":
        return ""
    reported_on = claim.decision_date if claim is not None else None
    reported = f" and your claim keeps the date you first reported it, {long_date(reported_on)}" if reported_on else ""
    return (f"As soon as you can. The terms set no deadline for this ({decision.deciding.clause}): we decide as soon "
            f"as it arrives{reported}.")


_PHONE = re.compile(r"\+?[\d(][\d\s().-]{5,}")


def reach_words(contact: str) -> str:
    """How to ask the reviewer: "call 1-888-237-8289" for a telephone number, else "write to <contact>"."""
    return f"call {contact}" if _PHONE.fullmatch(contact.strip()) else f"write to {contact}"


def _md_escape(value: Any) -> str:
    """Text safe inside Markdown: no raw HTML, no accidental emphasis, links, tables or headings.

    CommonMark backslash escapes keep the raw text readable: ``<script>`` becomes ``\\<script\\>``.
    A newline in the value cannot start a heading, rule, list or quote (``render.escape``).
    """
    return markdown_inline(value)


def _finalize(value: Any) -> Any:
    """Every value a template writes: no terminal escape sequences, control or bidi characters."""
    if isinstance(value, Markup):
        return Markup(clean_text(value))
    return clean_text(value) if isinstance(value, str) else value


def _wrap(value: Any, indent: str = "", first: str | None = None, width: int = 78) -> str:
    """Plain text wrapped for a terminal or an e-mail."""
    return textwrap.fill(" ".join(str(value).split()), width=width, initial_indent=indent if first is None else first,
                         subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)


def _autoescape(name: str | None) -> bool:
    return name is not None and ".html" in name


@cache
def environment() -> jinja2.Environment:
    """The template environment: HTML templates are autoescaped, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters["md"] = _md_escape
    env.filters["wrap"] = _wrap
    env.filters["reach"] = reach_words
    env.filters["long_date"] = long_date
    env.globals["favicon"] = Markup(FAVICON)
    return env


def render_letter(decision: Decision, policy_set: PolicySet, *, format: str = "html", claim: ClaimFacts | None = None,
                  docs_base: str = "site/") -> str:
    """The decision as a letter to the customer, in ``format`` (``html``, ``md`` or ``txt``).

    ``docs_base`` is where the coverage documentation (``claimrules docs``) is, relative to the
    letter or as a URL: each cited clause links to ``{docs_base}{page}#{anchor}``.
    """
    if format not in FORMATS:
        raise ValueError(f"letter format '{format}' is not one of {', '.join(FORMATS)}")
    letter = build_letter(decision, policy_set, claim=claim, docs_base=docs_base)
    text = environment().get_template(f"letter.{format}.j2").render(letter=letter)
    if format != "html":
        text = re.sub(r"\n{3,}", "\n\n", text)
    return text


__all__ = ["FORMATS", "Letter", "build_letter", "fact_words", "long_date", "render_letter", "services_not_given"]
