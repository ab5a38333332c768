"""Instructions a decision, counted by callgrind: a figure that repeats, where CPU time on this VM
moves by a third from run to run (issue #15).

    python bench/instructions.py [--claims 400] [--warm-up 1000] [--seed 2026] [--src DIR]

Runs this script twice under ``valgrind --tool=callgrind``: once deciding ``--warm-up`` generated
claims and then ``--claims`` more distinct ones, once deciding the warm-up claims only (both
generate and read all the claims, so that only deciding them differs). The difference divided by
``--claims`` is the cost of one decision with warm caches, setup and compilation excluded. ``--src`` points at another checkout's ``src`` (e.g. a ``git worktree`` of
the commit before a change) so the two are counted the same way.

durable_rules seeds its PRNG with ``srand(time(NULL))`` when it creates a ruleset, and the
counts of the same code then move by tens of thousands of instructions a decision with the
second a run started in. Where a C compiler is found, ``time()`` is pinned for both runs by a
two-line ``LD_PRELOAD`` shim built in a temporary folder (docs/durable-rules.md, "Counting
instructions"); two runs of the same code then agree to a few hundred instructions in billions.
Two versions compare only to about ±1.5%: any edit moves where objects land in memory and how
the generated module's globals hash (a change that did nothing moved the count by +1.5%,
bench/RESULTS.md 1-28d).
Address-space randomisation is turned off (``setarch -R``) and ``PYTHONHASHSEED`` fixed.

Needs ``valgrind`` (and ``gcc`` or ``cc`` for the shim, ``setarch`` where present); a developer's
tool, not part of CI.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHIM = "#include <time.h>\ntime_t time(time_t *t) { if (t) *t = 1700000000; return 1700000000; }\n"


def decide(src: str, policy_dir: str, seed: int, warm_up: int, claims: int, counted: int) -> None:
    """The work run under callgrind: ``warm_up + claims`` claims generated and read (in both runs,
    so that preparing them cancels out), ``warm_up`` decided, then ``counted`` more."""
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, src)
    from claims_mix import claims_mix

    import claimrules
    from claimrules.facts import parse_claim

    policy = claimrules.load_policy(policy_dir)
    facts = [parse_claim(item, policy) for item in claims_mix(warm_up + claims, seed)]
    for item in facts[:warm_up]:
        policy.adjudicate(item)
    gc.freeze()
    gc.disable()
    for item in facts[warm_up:warm_up + counted]:
        policy.adjudicate(item)


def _shim(folder: str) -> str | None:
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        return None
    source, library = Path(folder) / "pin_time.c", Path(folder) / "pin_time.so"
    source.write_text(SHIM, encoding="utf-8")
    subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(source)], check=True)
    return str(library)


def _count(args: argparse.Namespace, counted: int, shim: str | None) -> int:
    env = dict(os.environ, PYTHONHASHSEED="0")
    if shim is not None:
        env["LD_PRELOAD"] = shim
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__, "--run", str(counted),
               "--claims", str(args.claims), "--warm-up", str(args.warm_up), "--seed", str(args.seed), "--src", args.src,
               "--policy", args.policy]
    if shutil.which("setarch"):
        command = ["setarch", "-R", *command]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"callgrind run failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=400)
    parser.add_argument("--warm-up", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--src", default=str(HERE.parent / "src"))
    parser.add_argument("--policy", default=str(HERE.parent / "policies" / "northwind"))
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)  # the child: how many claims it decides after the warm-up
    args = parser.parse_args()
    if args.run is not None:
        decide(args.src, args.policy, args.seed, args.warm_up, args.claims, args.run)
        return 0
    if args.claims < 1 or args.warm_up < 0:
        parser.error("need --claims >= 1 and --warm-up >= 0")
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed")
    with tempfile.TemporaryDirectory() as folder:
        shim = _shim(folder)
        total = _count(args, args.claims, shim)
        baseline = _count(args, 0, shim)
    print(f"{(total - baseline) / args.claims:,.0f} instructions a decision ({args.claims} distinct claims after "
          f"{args.warm_up} decided first; src {args.src}; time() {'pinned' if shim else 'NOT pinned: no C compiler'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
