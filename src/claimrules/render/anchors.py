"""Where a clause lives in the coverage documentation: one rule, used by letters and the site alike.

A letter links ``CP 6.2`` to ``cp.html#cp-6-2``; the site gives that clause ``id="cp-6-2"``. Both
call these functions, so the link and the anchor cannot disagree.
"""

from __future__ import annotations

import hashlib
import re

_NOT_NAME = re.compile(r"[^a-z0-9]+")


def _slug(text: str) -> str:
    slug = _NOT_NAME.sub("-", text.strip().lower()).strip("-")
    if not slug:
        # An id with no Latin letters or digits: a stable hash instead of an empty anchor.
        slug = "x" + hashlib.sha256(text.encode()).hexdigest()[:10]
    if not slug[0].isalpha():
        slug = "c-" + slug
    return slug


def clause_anchor(clause_id: str, version: str | None = None) -> str:
    """The HTML id of a clause: ``'LW 7.2'`` -> ``'lw-7-2'``, ``'RG EU.1'`` -> ``'rg-eu-1'``.

    An earlier version's wording (``LW 2.3`` of version ``2019-07``) gets its own anchor,
    ``'lw-2-3--v2019-07'``, next to the current wording's.
    """
    anchor = _slug(clause_id)
    if version:
        anchor += "--v" + _NOT_NAME.sub("-", version.lower()).strip("-")
    return anchor


def document_page(document_id: str) -> str:
    """The page of a document in the site: ``'LW'`` -> ``'lw.html'``, ``'RG-EU'`` -> ``'rg-eu.html'``."""
    return _slug(document_id) + ".html"


def clause_href(document_id: str, clause_id: str, version: str | None = None, base: str = "") -> str:
    """A link to a clause from a page whose path to the site root is ``base`` (``''``, ``'../'``, ``'site/'``)."""
    return f"{base}{document_page(document_id)}#{clause_anchor(clause_id, version)}"


__all__ = ["clause_anchor", "clause_href", "document_page"]
