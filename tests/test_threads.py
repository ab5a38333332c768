"""A compiled policy may be shared between threads: every decision equals the one made alone."""

from __future__ import annotations

import threading
from pathlib import Path

import claimrules

ROOT = Path(__file__).resolve().parents[1]


def test_threads_share_a_compiled_policy() -> None:
    vocabulary = claimrules.load_vocabulary(ROOT / "policies" / "northwind")
    claims = [claimrules.load_claim(path, vocabulary) for path in sorted((ROOT / "examples" / "claims").glob("*.json"))]
    with claimrules.load_policy(ROOT / "policies" / "northwind") as policy:
        alone = [policy.adjudicate(facts) for facts in claims]
        results: dict[int, list[claimrules.Decision]] = {}
        problems: list[BaseException] = []

        def work(worker: int) -> None:
            try:
                order = claims[worker:] + claims[:worker]  # each thread starts elsewhere
                decided = [policy.adjudicate(facts) for facts in order * 3]
                results[worker] = decided[: len(claims)]
            except BaseException as problem:  # reported below, never swallowed
                problems.append(problem)

        threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not problems
        for worker, decided in results.items():
            assert decided == alone[worker:] + alone[:worker]
