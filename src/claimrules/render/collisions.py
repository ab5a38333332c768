"""The coverage site's file names and HTML ids, checked before anything is written.

Page names and anchors are slugs (``document_page``, ``clause_anchor``): lower case, punctuation
folded to ``-``. Two different ids can therefore share one (``W`` and ``w``, ``W 2.1`` and ``W-2.1``,
example files ``a b.json`` and ``A_B.json``), and a document id can take a page the site needs
(``Index``). Each would silently overwrite another page or make a link land on the wrong clause, so
each is a PolicyError naming both.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from claimrules.errors import PolicyError
from claimrules.policy.model import PolicySet
from claimrules.render.anchors import clause_anchor, document_page

#: Pages the site writes itself (without extension).
RESERVED_PAGES = frozenset({"index", "glossary", "examples", "style", "letters"})


def _claim(seen: dict[str, str], key: str, owner: str, what: str, file: str | None) -> None:
    other = seen.get(key)
    if other is not None and other != owner:
        raise PolicyError(f"{owner} and {other} would share the {what} '{key}' in the coverage site", file=file,
                          expected="ids that differ in more than letter case and punctuation")
    seen[key] = owner


def check_site_names(policy: PolicySet, examples: Iterable[Path] = ()) -> None:
    """Refuse a policy set (or example folder) whose pages or anchors would collide."""
    pages: dict[str, str] = {f"{name}.html".casefold(): f"the site's own page '{name}'" for name in RESERVED_PAGES}
    for document in policy.documents:
        file = document.source.file
        _claim(pages, document_page(document.id).casefold(), f"document '{document.id}'", "page", file)
        anchors: dict[str, str] = {}
        for clause in document.clauses:
            owner = f"clause '{clause.id}'" + (f" (version {clause.version})" if clause.version else "")
            _claim(anchors, clause_anchor(clause.id, clause.version), owner, "anchor", clause.source.file)
    letters: dict[str, str] = {}
    for path in examples:
        _claim(letters, clause_anchor(path.stem).casefold(), f"example '{path.name}'", "letter page and anchor", str(path))


class NameRegister:
    """File names written in one build: a second file whose name differs only in case is refused
    (on a case-insensitive file system it would replace the first)."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def add(self, relative: str) -> None:
        key = relative.casefold()
        other = self._names.get(key)
        if other is not None:
            raise PolicyError(f"the coverage site would write '{relative}' and '{other}' to one file",
                              expected="page names that differ in more than letter case")
        self._names[key] = relative
