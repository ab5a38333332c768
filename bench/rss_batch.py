"""Peak resident memory of ``claimrules batch`` over many distinct generated claims.

    python bench/rss_batch.py --claims 1000000 [--workers 2] [--json]

Streams ``--claims`` distinct claims (bench/claims_mix.py, one seed) into ``claimrules batch
/dev/stdin -o /dev/null`` and samples the resident set (``VmRSS``) of the command and of each of
its worker processes every ``--every`` seconds. Reports the peak of their sum, each process's own
peak (``VmHWM``), and the sum at each tenth of the run, so growth after warm-up shows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from claims_mix import iter_claims  # noqa: E402


def _status(pid: int, key: str) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as stream:
            for line in stream:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as stream:
                found += [int(child) for child in stream.read().split()]
    except OSError:
        pass
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=1_000_003)
    parser.add_argument("--every", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("--policy", default=str(HERE.parent / "policies" / "northwind"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--log-every", type=float, default=0, help="also print a sample every N seconds (0: never)")
    args = parser.parse_args()

    command = [sys.executable, "-m", "claimrules.cli", "batch", "/dev/stdin", "-o", "/dev/null", "-q",
               "-j", str(args.workers), "--policy", args.policy]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    written = 0

    def feed() -> None:
        nonlocal written
        assert process.stdin is not None
        try:
            for claim in iter_claims(args.claims, args.seed):
                process.stdin.write(json.dumps(claim) + "\n")
                written += 1
        finally:
            process.stdin.close()

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    samples: list[tuple[int, float]] = []
    peak_total, peaks = 0.0, {}
    logged = started
    while process.poll() is None:
        pids = [process.pid, *_children(process.pid)]
        total = 0.0
        for pid in pids:
            rss = _status(pid, "VmRSS")
            hwm = _status(pid, "VmHWM")
            if rss is not None:
                total += rss
            if hwm is not None:
                peaks[pid] = max(peaks.get(pid, 0.0), hwm)
        peak_total = max(peak_total, total)
        if len(pids) > 1 or args.workers == 1:  # not the last moments, when the workers have exited
            samples.append((written, total))
        if args.log_every and time.perf_counter() - logged >= args.log_every:
            logged = time.perf_counter()
            print(f"sample: {round(logged - started)} s, {written} claims sent, RSS sum {total:.1f} MB, "
                  f"peaks {sorted(round(value, 1) for value in peaks.values())}", flush=True)
        time.sleep(args.every)
    feeder.join()
    assert process.stderr is not None
    err = process.stderr.read()
    elapsed = time.perf_counter() - started
    tenths = []
    for tenth in range(1, 11):
        mark = args.claims * tenth // 10
        at = [total for count, total in samples if count <= mark]
        tenths.append(round(at[-1], 1) if at else None)
    figures = {
        "claims": args.claims, "workers": args.workers, "returncode": process.returncode, "seconds": round(elapsed, 1),
        "claims_per_second": round(args.claims / elapsed), "peak_rss_sum_mb": round(peak_total, 1),
        "peak_rss_per_process_mb": sorted(round(value, 1) for value in peaks.values()),
        "rss_sum_mb_at_each_tenth": tenths, "batch_summary": err.strip().splitlines()[-1:] if err else [],
    }
    print(json.dumps(figures, indent=2) if args.json else "\n".join(f"{key}: {value}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
