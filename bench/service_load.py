"""A bounded load test of ``claimrules serve`` on 127.0.0.1 (issue #17).

Starts the service (a real process, a fresh SQLite ledger, an API key), then N client threads, each
with its own keep-alive connection, send requests for a fixed time and stop by themselves: 70% decide
without recording (varied return claims), 20% decide and record (a write, with the key), 10% history.
Any non-2xx answer or failed request is an error. Prints the figures, and with --write records them in
bench/RESULTS.md (section service-load). Exit 1 if any request failed.

    python bench/service_load.py --clients 20 --seconds 30 --workers 2 --write
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from audit_support import generate  # noqa: E402
from results_section import write_section  # noqa: E402
from service_support import running_service  # noqa: E402

KEY = "load-test-key"


def client(port: int, claims: list[dict[str, object]], until: float, seed: int, latencies: list[float],
           errors: list[str]) -> None:
    rng = random.Random(seed)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    recorded: list[str] = []
    while time.monotonic() < until:
        pick = rng.random()
        facts = claims[rng.randrange(len(claims))]
        if pick < 0.7:
            method, path, body = "POST", "/decide", {"facts": facts}
        elif pick < 0.9 or not recorded:
            claim_id = f"L-{seed}-{rng.randrange(50)}"
            recorded.append(claim_id)
            method, path, body = "POST", "/decide", {"facts": facts, "claim_id": claim_id, "actor": f"load-{seed}"}
        else:
            method, path, body = "GET", f"/claims/{rng.choice(recorded)}/history", None
        data = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        try:
            connection.request(method, path, body=data, headers={"content-type": "application/json", "x-api-key": KEY})
            response = connection.getresponse()
            response.read()
            if response.status >= 300:
                errors.append(f"{method} {path}: HTTP {response.status}")
        except (OSError, http.client.HTTPException) as problem:
            errors.append(f"{method} {path}: {type(problem).__name__}: {problem}")
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        latencies.append(time.perf_counter() - started)
    connection.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="record the figures in bench/RESULTS.md")
    options = parser.parse_args()
    lines, _, _ = generate(2000, seed=5, inject_every=10**9)
    claims = [json.loads(line)["facts"] for line in lines]
    with tempfile.TemporaryDirectory() as scratch, \
            running_service(str(Path(scratch) / "load.sqlite"), api_key=KEY, workers=options.workers) as base:
        port = int(base.rsplit(":", 1)[1])
        latencies: list[float] = []
        errors: list[str] = []
        started = time.monotonic()
        until = started + options.seconds
        threads = [threading.Thread(target=client, args=(port, claims, until, seed, latencies, errors))
                   for seed in range(options.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=options.seconds + 120)
        elapsed = time.monotonic() - started
    done = len(latencies)
    figures = {
        "clients": options.clients, "seconds": round(elapsed, 1), "workers": options.workers,
        "requests": done, "errors": len(errors), "throughput_per_s": round(done / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1), "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1), "max_ms": round(max(latencies, default=0) * 1000, 1),
    }
    print(json.dumps(figures, indent=2))
    for error in errors[:10]:
        print("error:", error, file=sys.stderr)
    if options.write:
        load = os.getloadavg()[0]
        write_section("service-load", f"""## HTTP service under load (issue #17; `python bench/service_load.py --write`)

`claimrules serve` with {options.workers} worker process(es) and a fresh SQLite ledger on 127.0.0.1;
{options.clients} client threads (keep-alive connections, in one Python process on the same machine)
for {figures['seconds']} s: 70% decide without recording, 20% decide and record (a ledger write),
10% claim history. Measured {time.strftime('%Y-%m-%d')} on this project's 2-core machine
({platform.python_implementation()} {platform.python_version()}; 1-minute load average at the end {load:.1f},
the machine being shared with other work).

| figure | value |
|---|---|
| requests | {figures['requests']:,} |
| errors | {figures['errors']} |
| throughput | {figures['throughput_per_s']} requests/s |
| latency p50 / p95 / p99 | {figures['p50_ms']} / {figures['p95_ms']} / {figures['p99_ms']} ms |
| slowest | {figures['max_ms']} ms |
""")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
