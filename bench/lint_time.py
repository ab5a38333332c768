"""Time ``claimrules lint`` and ``claimrules diff`` of the reference policy set (issue #16: lint < 10 s).

    python bench/lint_time.py [--rounds 3]

Prints the wall time of each round (structural + semantic lint with witnesses built on
examples/claims; the semantic diff of the reference set against a copy whose LW 2.3 gives every
battery 6 months) and the median.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import claimrules
from claimrules.analysis import cases, diff, lint
from claimrules.analysis.solver import vocabulary
from claimrules.analysis.witness import seeds_from
from claimrules.facts import claim_json_schema

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    claim_vocabulary = claimrules.load_vocabulary(ROOT / "policies" / "northwind")
    schema = claim_json_schema(claim_vocabulary)
    examples = [(c.name, c.claim) for c in cases.load_cases([ROOT / "examples" / "claims"])]
    seeds = seeds_from(examples, vocabulary(schema), claim_vocabulary)
    evidence = [claim for _, claim in examples]   # as `claimrules lint --examples examples/claims` does
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "northwind"
        shutil.copytree(ROOT / "policies" / "northwind", copy)
        target = copy / "limited-warranty.yaml"
        target.write_text(target.read_text(encoding="utf-8").replace(
            '        when: "claim.reported_on <= delivery_date + 1 year"\n        otherwise: excludes\n      - id: LW 2.4',
            '        when: "claim.reported_on <= delivery_date + 6 months"\n        otherwise: excludes\n      - id: LW 2.4', 1),
            encoding="utf-8")
        lint_times, diff_times = [], []
        with claimrules.load_policy(ROOT / "policies" / "northwind") as reference, claimrules.load_policy(copy) as battery:
            for number in range(1, args.rounds + 1):   # interleaved: lint, diff, lint, diff, ...
                started = time.perf_counter()
                report = lint.lint(reference, seeds, schema, evidence=evidence)
                lint_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                changed = diff.semantic_diff(reference, battery, seeds, schema)
                diff_times.append(time.perf_counter() - started)
                print(f"round {number}: lint {lint_times[-1]:.2f} s ({len(report.findings)} finding(s)), "
                      f"diff {diff_times[-1]:.2f} s ({len(changed.changes)} change group(s))")
    print(f"median: lint {statistics.median(lint_times):.2f} s, diff {statistics.median(diff_times):.2f} s "
          f"({len(seeds)} seed claims)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
