"""claimrules' speed in one run, as ratios measured in the same process (issue #15).

    python bench/suite.py [--claims 3000] [--rounds 3] [--batch-claims 20000] [--batch-rounds 4] [--check-runs 5] [--json]

1. Per-claim CPU time, in interleaved rounds over the same distinct generated claims
   (bench/claims_mix.py): claimrules' full decision (generated hot path, the default), the same
   with the reference closures (``Program(fast=False)``), raw durable_rules asserting the same
   projected facts into the same compiled rulesets (bench/raw_durable.py) as claimrules drives
   the engine (one live state per ruleset, each fact retracted, asserted into the rulesets of
   the documents that may apply only: the floor the ratio is taken against) and as it did until
   2026-11-27 (every ruleset, a fresh state per fact: the issue's baseline), a hand-written Python
   function of the return-window + accidental-damage logic, and zen-engine evaluating the same
   logic as a decision table (bench/floor.py; skipped if zen-engine is not installed).
2. ``claimrules batch`` of the same distinct claims as whole commands, ``-j 1`` (in-process) and
   ``-j <cores>``, interleaved: wall time (parallelism is wall time), start-up included; the two
   outputs must be the same bytes.
3. ``claimrules check`` of one example: the split of a fresh process's CPU time into import, policy
   load, compile and decide, and the command's wall time (median of ``--check-runs``); then the same
   command as the console script runs it, cold in-process (``CLAIMRULES_RESIDENT=off``) and answered
   by a started resident process (warm: after a first request), the runs interleaved, same bytes.

Peak memory over many claims is bench/rss_batch.py (long: run it on its own).
CPU time (``time.process_time``) is used wherever one process does the work, so other load on a
shared machine inflates the figures less than wall time would; ratios within one run are the
figures to compare.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

from claims_mix import claims_mix  # noqa: E402
from floor import ZEN_TABLE, flat_row, python_floor  # noqa: E402
from raw_durable import asked_groups, raw_throughput  # noqa: E402

import claimrules  # noqa: E402
from claimrules.decide import Adjudicator  # noqa: E402
from claimrules.engine.program import Program  # noqa: E402
from claimrules.facts import fact_values, parse_claim  # noqa: E402

SPLIT = r"""
import json, resource, sys, time
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
w0, c0 = time.perf_counter(), cpu()
import claimrules.cli
from claimrules.api import CompiledPolicy
from claimrules.facts import load_claim
from claimrules.policy import loader
w1, c1 = time.perf_counter(), cpu()
policy = loader.load_policy(sys.argv[1])
w2, c2 = time.perf_counter(), cpu()
compiled = CompiledPolicy(policy)
w3, c3 = time.perf_counter(), cpu()
compiled.adjudicate(load_claim(sys.argv[2], compiled))
w4, c4 = time.perf_counter(), cpu()
print(json.dumps({"cpu": [c1 - c0, c2 - c1, c3 - c2, c4 - c3], "wall": [w1 - w0, w2 - w1, w3 - w2, w4 - w3]}))
"""
# What the `claimrules` console script runs (pyproject.toml [project.scripts]), on this checkout's code.
CONSOLE_SCRIPT = "import sys; sys.argv[0] = 'claimrules'; from claimrules.launch import main; main()"


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as stream:
            model = next((line.split(":", 1)[1].strip() for line in stream if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}", "load_average": [round(x, 2) for x in os.getloadavg()]}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def per_claim(rounds: int, contenders: dict[str, Any]) -> dict[str, float]:
    """Microseconds of CPU per item for each contender, its rounds interleaved with the others'.

    Each contender's items are one list per round: every round decides claims no earlier round saw
    (a repeated claim would find its pieces in the caches and hide the real cost)."""
    spent = {name: 0.0 for name in contenders}
    counts = {name: 0 for name in contenders}
    # The claims of every round, the compiled policy and the warm-up's caches are the benchmark's own
    # heap: moved out of the collector's sight, as `batch` does once its policy is compiled, so that a
    # full collection scanning them does not land in whichever contender happens to run.
    gc.collect()
    gc.freeze()
    for round_ in range(rounds):
        for name, (run, per_round) in contenders.items():
            items = per_round[round_]
            gc.collect()  # each contender starts with no garbage of the one before
            began = time.process_time()
            result = run(items)
            # A contender that times its own loop returns its seconds (raw durable_rules: creating
            # and priming the rulesets and encoding the facts are not the engine's work per fact).
            spent[name] += result if isinstance(result, float) else time.process_time() - began
            counts[name] += len(items)
    return {name: spent[name] / counts[name] * 1e6 for name in contenders}


def resident_check(example: str, policy: str, runs: int, env: dict[str, str]) -> dict[str, Any]:
    """``claimrules check`` as whole commands through the console script: cold in-process and answered by
    a resident process started in a private temporary folder (warm), interleaved; wall ms, median."""
    import tempfile
    command = [sys.executable, "-c", CONSOLE_SCRIPT, "check", example, "--policy", policy]
    walls: dict[str, list[float]] = {"cold_in_process": [], "resident_warm": []}
    with tempfile.TemporaryDirectory(prefix="cr-bench-") as scratch:
        resident_env = dict(env, CLAIMRULES_RESIDENT_DIR=str(Path(scratch) / "r"))
        cold_env = dict(env, CLAIMRULES_RESIDENT="off")
        subprocess.run([sys.executable, "-m", "claimrules.cli", "resident", "start", "--idle-minutes", "10"],
                       env=resident_env, check=True, capture_output=True)
        try:
            first = subprocess.run(command, env=resident_env, capture_output=True, check=True).stdout  # warm-up
            for _ in range(runs):
                for name, run_env in (("cold_in_process", cold_env), ("resident_warm", resident_env)):
                    began = time.perf_counter()
                    out = subprocess.run(command, env=run_env, capture_output=True, check=True).stdout
                    walls[name].append(time.perf_counter() - began)
                    assert out == first, "the resident process must print what the in-process command prints"
            status = subprocess.run([sys.executable, "-m", "claimrules.cli", "resident", "status", "--json"],
                                    env=resident_env, capture_output=True, text=True, check=True)
            answered = json.loads(status.stdout)["checks"]
        finally:
            subprocess.run([sys.executable, "-m", "claimrules.cli", "resident", "stop"], env=resident_env,
                           capture_output=True)
    assert answered == runs + 1, f"the resident process answered {answered} of {runs + 1} checks"
    return {f"console_script_{name}_wall_ms": {"median": round(statistics.median(values) * 1000),
                                                "all": sorted(round(value * 1000) for value in values)}
            for name, values in walls.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-claims", type=int, default=20000)
    parser.add_argument("--batch-rounds", type=int, default=4)
    parser.add_argument("--check-runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--policy", default=str(ROOT / "policies" / "northwind"))
    parser.add_argument("--example", default=str(ROOT / "examples" / "claims" / "gulf-onsite-request.json"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", choices=["decisions", "batch", "check"], help="run one part only")
    args = parser.parse_args()
    figures: dict[str, Any] = {"machine": machine(), "claims": args.claims, "rounds": args.rounds}

    policy = claimrules.load_policy(args.policy)
    # 1. one process ---------------------------------------------------------------------------
    if args.only in (None, "decisions"):
        reference = Adjudicator(Program(policy.policy, fast=False))
        # Distinct claims: a warm-up set, then one set per round shared by the contenders.
        raw = claims_mix(args.claims * (args.rounds + 1), args.seed)
        facts = [parse_claim(item, policy) for item in raw]
        assert len({claim.model_dump_json() for claim in facts}) == len(facts), "claims must be distinct"
        program = policy.program
        projected = []
        for item in facts:  # the fact durable_rules sees, with the groups claimrules asks for it
            evaluation = program.evaluate(fact_values(item))
            projected.append((program.project(evaluation.context), asked_groups(program, evaluation)))
        rows = [flat_row(item) for item in raw]

        def rounds_of(items: list[Any]) -> list[list[Any]]:
            return [items[args.claims * (index + 1):args.claims * (index + 2)] for index in range(args.rounds)]

        contenders: dict[str, Any] = {
            "claimrules": (lambda items: [policy.adjudicate(item) for item in items], rounds_of(facts)),
            "claimrules_explained_json": (lambda items: [policy.adjudicate(item).model_dump_json() for item in items],
                                          rounds_of(facts)),
            "claimrules_reference_path": (lambda items: [reference.decide(item).model_dump_json() for item in items],
                                          rounds_of(facts)),
            "raw_durable_rules": (
                lambda items: len(items) / raw_throughput(
                    program.engine_rules, [fact for fact, _ in items], clock=time.process_time,
                    groups=program.engine_groups, asked=[asked for _, asked in items]),
                rounds_of(projected)),
            "raw_durable_rules_fresh_states": (
                lambda items: len(items) / raw_throughput(
                    program.engine_rules, [fact for fact, _ in items], clock=time.process_time, fresh_states=True),
                rounds_of(projected)),
            "python_floor": (lambda items: [python_floor(row) for row in items], rounds_of(rows)),
        }
        try:
            import zen

            table = zen.ZenEngine().create_decision(ZEN_TABLE)
            assert all(table.evaluate(row)["result"]["outcome"] == python_floor(row)["outcome"] for row in rows[:500])
            contenders["zen_engine_table"] = (lambda items: [table.evaluate(row) for row in items], rounds_of(rows))
        except ImportError:
            figures["zen_engine_table"] = "skipped: zen-engine is not installed (pip install zen-engine)"
        for item in facts[:args.claims]:  # warm-up set, not timed
            policy.adjudicate(item).model_dump_json()
            reference.decide(item).model_dump_json()
        micros = per_claim(args.rounds, contenders)
        raw_us = micros["raw_durable_rules"]
        figures["cpu_us_per_claim"] = {name: round(value, 1) for name, value in micros.items()}
        figures["per_second_cpu"] = {name: round(1e6 / value) for name, value in micros.items()}
        figures["cost_ratio_to_raw_durable_rules"] = {name: round(value / raw_us, 2) for name, value in micros.items()}
        figures["throughput_ratio_claimrules_to_raw"] = round(raw_us / micros["claimrules"], 3)
        # Against the engine driven as claimrules drove it until 2026-11-27 (the baseline).
        figures["throughput_ratio_claimrules_to_raw_fresh_states"] = round(
            micros["raw_durable_rules_fresh_states"] / micros["claimrules"], 3)
        figures["throughput_ratio_explained_json_to_raw"] = round(raw_us / micros["claimrules_explained_json"], 3)
        figures["hot_path_speedup_vs_reference"] = round(
            micros["claimrules_reference_path"] / micros["claimrules_explained_json"], 3)

    # 2. batch ----------------------------------------------------------------------------------
    if args.only in (None, "batch"):
        # `claimrules batch` as a user runs it: a fresh command per run (each loads and compiles
        # the policy set, every worker too), on 1 worker (in-process) and on every core, the runs
        # interleaved; wall time is what parallelism buys, the CPU split says what each side spent.
        import tempfile
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        walls: dict[int, list[float]] = {1: [], cores: []}
        cpu: dict[int, list[float]] = {1: [], cores: []}
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        with tempfile.TemporaryDirectory() as scratch:
            claims_file = Path(scratch) / "claims.jsonl"
            claims_file.write_text("".join(json.dumps(item) + "\n" for item in claims_mix(args.batch_claims, args.seed + 1)),
                                   encoding="utf-8")
            outputs: dict[int, bytes] = {}
            for round_ in range(args.batch_rounds):
                for workers in (1, cores) if round_ % 2 == 0 else (cores, 1):
                    out = Path(scratch) / f"out-{workers}.jsonl"
                    out.unlink(missing_ok=True)
                    began, children = time.perf_counter(), _children_cpu()
                    subprocess.run([sys.executable, "-m", "claimrules.cli", "batch", str(claims_file), "-o", str(out),
                                    "-j", str(workers), "-q", "--policy", args.policy], env=env, check=True)
                    walls[workers].append(time.perf_counter() - began)
                    cpu[workers].append(_children_cpu() - children)
                    outputs[workers] = out.read_bytes()
            assert outputs[1] == outputs[cores], "batch on every core must write the bytes one worker writes"
            assert outputs[1].count(b"\n") == args.batch_claims
        figures["batch"] = {"claims": args.batch_claims, "cores": cores, "rounds": args.batch_rounds,
                            "wall_seconds": {str(key): [round(x, 2) for x in value] for key, value in walls.items()},
                            "per_second_1_worker": round(args.batch_claims / statistics.median(walls[1])),
                            f"per_second_{cores}_workers": round(args.batch_claims / statistics.median(walls[cores])),
                            "speedup_median_wall": round(statistics.median(walls[1]) / statistics.median(walls[cores]), 2),
                            "speedup_best_wall": round(min(walls[1]) / min(walls[cores]), 2),
                            "cpu_seconds_median": {str(key): round(statistics.median(value), 2) for key, value in cpu.items()}}

    # 3. the check command ------------------------------------------------------------------------
    if args.only in (None, "check"):
        splits, walls_check = [], []
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        # An installed package has its bytecode compiled (pip does it); a checkout run with
        # PYTHONDONTWRITEBYTECODE would compile every module from source on every start instead.
        import compileall
        compileall.compile_dir(str(ROOT / "src" / "claimrules"), quiet=1)
        for _ in range(args.check_runs):
            done = subprocess.run([sys.executable, "-c", SPLIT, args.policy, args.example], capture_output=True, text=True,
                                  env=env, check=True)
            splits.append(json.loads(done.stdout))
            began = time.perf_counter()
            subprocess.run([sys.executable, "-m", "claimrules.cli", "check", args.example, "--policy", args.policy],
                           capture_output=True, env=env, check=True)
            walls_check.append(time.perf_counter() - began)
        stages = ("import", "load", "compile", "decide")
        figures["check"] = {
            "cpu_ms_median": {stage: round(statistics.median(split["cpu"][i] for split in splits) * 1000) for i, stage in enumerate(stages)},
            "wall_ms_median": {stage: round(statistics.median(split["wall"][i] for split in splits) * 1000) for i, stage in enumerate(stages)},
            "command_wall_ms": sorted(round(wall * 1000) for wall in walls_check),
            **resident_check(args.example, args.policy, args.check_runs, env),
        }
    figures["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    policy.close()
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    main()
