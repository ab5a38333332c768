"""A claim read with another policy set's vocabulary (issue #15).

The same facts.yaml loaded twice gives two vocabularies that are equal but not the same object: a
claim read with one is decided by the other as it is (compared once, not on every claim: comparing
two vocabularies takes about as long as a decision). A claim read with a different vocabulary is
read again with the deciding policy set's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import claimrules
from claimrules import api
from claimrules.vocabulary import Vocabulary

ROOT = Path(__file__).resolve().parents[1]
GULF = ROOT / "examples" / "claims" / "gulf-onsite-request.json"


def test_a_claim_read_with_an_equal_vocabulary_is_decided_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    first = claimrules.load_policy(ROOT / "policies" / "northwind")
    second = claimrules.load_policy(ROOT / "policies" / "northwind")
    assert first.vocabulary is not second.vocabulary and first.vocabulary == second.vocabulary
    claim = first.load_claim(GULF)
    expected = first.adjudicate(claim).model_dump_json()
    comparisons: list[int] = []
    compare = Vocabulary.__eq__
    monkeypatch.setattr(Vocabulary, "__eq__", lambda self, other: comparisons.append(1) or compare(self, other))
    monkeypatch.setattr(api, "parse_claim", lambda *args, **kwargs: pytest.fail("read again"))
    for _ in range(5):
        assert second.adjudicate(claim).model_dump_json() == expected  # CP 6.2, whichever copy decides
    assert comparisons == [1]


def test_a_claim_read_with_another_vocabulary_is_read_again() -> None:
    northwind = claimrules.load_policy(ROOT / "policies" / "northwind")
    bestbuy = claimrules.load_policy(ROOT / "policies" / "bestbuy")
    claim = northwind.load_claim(GULF)
    assert claim.vocabulary != bestbuy.vocabulary
    with pytest.raises(claimrules.ClaimError):  # the Gulf claim's facts are not Best Buy's
        bestbuy.adjudicate(claim)
    with pytest.raises(claimrules.ClaimError):  # and again: the answer is remembered, not the claim
        bestbuy.adjudicate(claim)
