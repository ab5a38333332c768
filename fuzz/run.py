"""Run one fuzz target for a while: ``python fuzz/run.py TARGET --seconds 60``.

With atheris (libFuzzer, coverage-guided) when it is installed; otherwise with hypothesis' fuzzing
entry point (``fuzz_one_input``) over mutated seeds. Crashing inputs are written to
``--crashes`` (default ``fuzz/crashes/TARGET``); copy each into ``fuzz/regressions/TARGET/`` so that
``tests/test_fuzz_regressions.py`` replays it forever. The last line printed is a summary:
``fuzz TARGET: N executions in S s, C crash(es) (engine)``.

See docs/security.md for the longer documented run.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))


def seeds(target: str) -> list[bytes]:
    """The committed seed corpus, plus packed policy folders and example claims when they exist."""
    from harnesses import pack

    found = [path.read_bytes() for path in sorted((HERE / "seeds" / target).glob("*")) if path.is_file()]
    found += [path.read_bytes() for path in sorted((HERE / "regressions" / target).glob("*")) if path.is_file()]
    if target == "policy":
        found.append(pack(HERE / "mini-policy"))
        bad = HERE.parent / "tests" / "bad_input"  # small, and each one change away from a valid set
        found += [pack(folder) for folder in sorted((bad / "policies").glob("*")) + [bad / "valid-policy"]
                  if folder.is_dir() and any(folder.glob("*.yaml"))]
        northwind = HERE.parent / "policies" / "northwind"
        if (northwind / "policy-set.yaml").exists():
            found.append(pack(northwind))
    if target == "structure":  # programs of edits: long enough for several of them from the start
        found += [random.Random(index).randbytes(96) for index in range(16)]
    if target == "claim":
        found += [path.read_bytes() for path in sorted((HERE.parent / "examples" / "claims").glob("*.json"))]
        found += [path.read_bytes() for path in sorted((HERE.parent / "tests" / "bad_input" / "claims").glob("*"))]
    return found or [b""]


def run_atheris(target: str, seconds: int, crashes: Path, extra: list[str]) -> int:
    import atheris

    # The structure target writes and reads YAML on every run: instrumenting PyYAML there costs 5x the
    # executions and finds nothing in claimrules.
    with atheris.instrument_imports(include=["claimrules"] if target == "structure" else ["claimrules", "yaml"]):
        import harnesses  # noqa: F401  (imports claimrules under instrumentation)
        import structure  # noqa: F401

        import claimrules
        import claimrules.policy.loader  # noqa: F401
    from harnesses import TARGETS, compiled_policy, mutate_claim

    function = TARGETS[target]
    if target == "claim":
        compiled_policy()  # compile once, before the clock starts
    corpus = Path(crashes.parent.parent / "corpus" / target)
    corpus.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(seeds(target)):
        (corpus / f"seed-{index:04d}").write_bytes(seed)
    crashes.mkdir(parents=True, exist_ok=True)
    args = [sys.argv[0], str(corpus), f"-max_total_time={seconds}", f"-artifact_prefix={crashes}/",
            "-timeout=20", "-rss_limit_mb=3072", "-max_len=300000", "-print_final_stats=1", *extra]
    kwargs = {"custom_mutator": mutate_claim} if target == "claim" else {}
    atheris.Setup(args, function, **kwargs)
    atheris.Fuzz()  # exits the process; libFuzzer prints the execution count
    return 0


def run_hypothesis(target: str, seconds: int, crashes: Path) -> int:
    from harnesses import TARGETS, compiled_policy
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    function = TARGETS[target]
    if target == "claim":
        compiled_policy()
    corpus = seeds(target)
    edits = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 64), st.binary(max_size=16)), max_size=6)
    found: list[bytes] = []

    @settings(database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(st.binary(max_size=512), st.tuples(st.sampled_from(corpus), edits)))
    def one(value: object) -> None:
        if isinstance(value, tuple):
            data, changes = value
            for position, cut, insert in changes:
                position %= len(data) + 1
                data = data[:position] + insert + data[position + cut:]
        else:
            data = value
        try:
            function(data)
        except Exception:
            found.append(data)
            traceback.print_exc()

    runs = 0
    started = time.monotonic()
    rng = random.Random(0)
    while time.monotonic() - started < seconds:
        one.hypothesis.fuzz_one_input(rng.randbytes(256))
        runs += 1
    crashes.mkdir(parents=True, exist_ok=True)
    for data in found:
        (crashes / f"crash-{hashlib.sha1(data).hexdigest()}").write_bytes(data)
    print(f"fuzz {target}: {runs} executions in {time.monotonic() - started:.0f} s, {len(found)} crash(es) (hypothesis)")
    return 1 if found else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=["expression", "policy", "claim", "structure"])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--crashes", type=Path, default=None)
    parser.add_argument("--engine", choices=["auto", "atheris", "hypothesis"], default="auto")
    options, extra = parser.parse_known_args()
    crashes = options.crashes or HERE / "crashes" / options.target
    engine = options.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401

            engine = "atheris"
        except ImportError:
            engine = "hypothesis"
    if engine == "atheris":
        return run_atheris(options.target, options.seconds, crashes, extra)
    return run_hypothesis(options.target, options.seconds, crashes)


if __name__ == "__main__":
    sys.exit(main())
