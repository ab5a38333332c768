"""The hot path against the reference, on many distinct generated claims (issue #15).

    python bench/differential.py [--claims 100000] [--seed 77] [--policy policies/northwind]

Decides every claim twice: with the default program (generated code, durable_rules' answer for
every rule whose values the claim gives, explanation built on first use) and with the reference
(``Program(policy, fast=False)``: every traced closure at once, checked against durable_rules at
once, no generated code), and compares the two decisions' full JSON, trace included. Prints the
count, the outcomes seen and every claim whose decisions differ (exit 1 if any). CI runs the same
comparison on 2,000 claims (tests/test_generated.py).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from claims_mix import iter_claims  # noqa: E402

import claimrules  # noqa: E402
from claimrules.decide import Adjudicator  # noqa: E402
from claimrules.engine.program import Program  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=77)
    parser.add_argument("--policy", default=str(HERE.parent / "policies" / "northwind"))
    args = parser.parse_args()
    policy = claimrules.load_policy(args.policy)
    reference = Adjudicator(Program(policy.policy, fast=False))
    outcomes: collections.Counter[str] = collections.Counter()
    differ: list[str] = []
    began = last = time.monotonic()
    for index, document in enumerate(iter_claims(args.claims, args.seed), start=1):
        facts = policy.parse_claim(document)
        fast = policy.adjudicate(facts).model_dump_json()
        expected = reference.decide(facts).model_dump_json()
        if fast != expected:
            differ.append(json.dumps(document))
        outcomes[json.loads(expected)["outcome"]] += 1
        if time.monotonic() - last > 30:
            last = time.monotonic()
            print(f"{index:,} claims, {len(differ)} differ, {index / (last - began):.0f} per second", file=sys.stderr)
    print(json.dumps({"claims": args.claims, "seed": args.seed, "differ": len(differ), "outcomes": dict(sorted(outcomes.items())),
                      "seconds": round(time.monotonic() - began, 1)}))
    for line in differ[:20]:
        print("differs:", line)
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
