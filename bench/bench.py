"""Benchmark: full decisions per second against raw durable_rules throughput, in one process.

    python bench/bench.py                       # 10k claims, Northwind policies
    python bench/bench.py --claims 2000 --memory 20000

Measures, on the same generated mix of claims (bench/claims_mix.py):
  * claimrules: ``CompiledPolicy.adjudicate`` on parsed facts — the full decision with trace;
  * raw durable_rules: the same claims' facts, as claimrules projects them, asserted straight into
    the same compiled rulesets through the C module (bench/raw_durable.py), each into the rulesets
    claimrules asks for it — the floor our layer adds to;
  * their ratio, claim parsing on its own, and resident memory growth over many more claims.
Figures are as measured on the machine that runs it; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from claims_mix import claims_mix  # noqa: E402
from raw_durable import asked_groups, raw_throughput  # noqa: E402

import claimrules  # noqa: E402
from claimrules.engine.compiler import fact_for  # noqa: E402
from claimrules.facts import fact_values, parse_claim  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--memory", type=int, default=100_000, help="claims to run for the memory check (0 to skip)")
    parser.add_argument("--policy", default=str(HERE.parent / "policies" / "northwind"))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    started = time.perf_counter()
    policy = claimrules.load_policy(args.policy)
    compile_seconds = time.perf_counter() - started

    raw = claims_mix(args.claims, args.seed)
    started = time.perf_counter()
    facts = [parse_claim(item, policy) for item in raw]
    parse_rate = len(facts) / (time.perf_counter() - started)

    for item in facts[:200]:
        policy.adjudicate(item)
    outcomes: collections.Counter[str] = collections.Counter()
    started = time.perf_counter()
    for item in facts:
        outcomes[policy.adjudicate(item).outcome] += 1
    ours = len(facts) / (time.perf_counter() - started)

    program = policy.program
    evaluations = [program.evaluate(fact_values(item)) for item in facts]
    projected = [fact_for(program.durable.fields, evaluation.context) for evaluation in evaluations]
    floor = raw_throughput(program.engine_rules, projected, groups=program.engine_groups,
                           asked=[asked_groups(program, evaluation) for evaluation in evaluations])

    growth = None
    if args.memory:
        before = rss_mb()
        for index in range(args.memory):
            policy.adjudicate(facts[index % len(facts)])
        growth = rss_mb() - before

    figures = {
        "claims": len(facts),
        "rules": len(program.rules),
        "rulesets": program.network.ruleset_count,
        "compile_seconds": round(compile_seconds, 3),
        "decisions_per_second": round(ours),
        "raw_durable_rules_per_second": round(floor),
        "ratio_to_raw": round(ours / floor, 3),
        "claim_parses_per_second": round(parse_rate),
        "memory_claims": args.memory,
        "rss_growth_mb": None if growth is None else round(growth, 2),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "outcomes": dict(sorted(outcomes.items())),
        "python": sys.version.split()[0],
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"claims                      {figures['claims']}  ({figures['rules']} rules in {figures['rulesets']} rulesets,"
          f" compiled in {figures['compile_seconds']} s)")
    print(f"claimrules decisions/s      {figures['decisions_per_second']}  (full decision with trace)")
    print(f"raw durable_rules facts/s   {figures['raw_durable_rules_per_second']}  (same facts, same rulesets)")
    print(f"ratio                       {figures['ratio_to_raw']}")
    print(f"claim parses/s              {figures['claim_parses_per_second']}")
    if growth is not None:
        print(f"RSS growth over {args.memory} claims: {figures['rss_growth_mb']} MB (max RSS {figures['max_rss_mb']} MB)")
    print(f"outcomes                    {figures['outcomes']}")


if __name__ == "__main__":
    main()
