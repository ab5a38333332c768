"""The audit at scale (issue #17): N generated past decisions (default 100,000), labelled from the
Store Returns terms, with disagreements injected every 40th record; the audit must find exactly those.
Prints the time taken and, with --write, records it in bench/RESULTS.md (section audit-scale).

    python bench/audit_100k.py --records 100000 --workers 2 --write
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from audit_support import generate  # noqa: E402
from results_section import write_section  # noqa: E402

import claimrules  # noqa: E402
from claimrules.audit import audit  # noqa: E402
from claimrules.audit.history import HistoryRecord  # noqa: E402

POLICY = ROOT / "policies" / "northwind"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write", action="store_true")
    options = parser.parse_args()
    started = time.perf_counter()
    lines, injected, _ = generate(options.records)
    generated = time.perf_counter()
    rows = [(number, HistoryRecord.model_validate_json(line)) for number, line in enumerate(lines, start=1)]
    with claimrules.load_policy(POLICY) as policy:
        parsed = time.perf_counter()
        report = audit(policy, rows, workers=options.workers, policy_dir=POLICY)
    finished = time.perf_counter()
    found = {entry["claim_id"] for entry in report.disagreements}
    exact = found == injected and not report.invalid
    figures = {"records": options.records, "injected": len(injected), "found": len(found), "exact": exact,
               "distinct_facts": report.distinct_facts, "workers": options.workers,
               "generate_s": round(generated - started, 1), "parse_s": round(parsed - generated, 1),
               "audit_s": round(finished - parsed, 1),
               "records_per_s": round(options.records / (finished - parsed), 1)}
    print(json.dumps(figures, indent=2))
    if options.write:
        write_section("audit-scale", f"""## Audit at scale (issue #17; `python bench/audit_100k.py --write`)

{options.records:,} generated past return decisions (labelled from the Store Returns terms), a
disagreement injected every 40th ({len(injected):,}); the audit decided {report.distinct_facts:,}
distinct claims in {options.workers} process(es). Measured {time.strftime('%Y-%m-%d')} on this
project's 2-core machine (1-minute load average at the end {os.getloadavg()[0]:.1f}: shared with other work).

| figure | value |
|---|---|
| disagreements found / injected | {len(found):,} / {len(injected):,} ({'exactly those' if exact else 'NOT the same set'}) |
| audit time (decide and compare) | {figures['audit_s']} s ({figures['records_per_s']:,} records/s) |
| generating / parsing the history | {figures['generate_s']} s / {figures['parse_s']} s |

CI runs the same check on 4,000 records (tests/test_audit.py; `CLAIMRULES_AUDIT_SIZE` to change it).
""")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
