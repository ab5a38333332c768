"""Scale-out on Dask (issue #15): a LocalCluster of two worker processes writes byte for byte the
records a single-process batch writes, bad lines included, in input order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import claims_mix

import claimrules
from claimrules.batch import decide_jsonl

distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed (pip install 'claimrules[dask]')")

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "policies" / "northwind"



def test_local_cluster_of_two_workers_writes_the_single_process_bytes(tmp_path: Path) -> None:
    from claimrules.scaleout import decide_jsonl_on_dask

    source = tmp_path / "claims.jsonl"
    with source.open("w", encoding="utf-8") as stream:
        for index, claim in enumerate(claims_mix(240, seed=77)):
            stream.write(("{\"claim\": 3}" if index == 100 else json.dumps(claim)) + "\n")
    policy = claimrules.load_policy(POLICY)
    single = tmp_path / "single.jsonl"
    with single.open("w", encoding="utf-8") as sink:
        assert decide_jsonl(policy, source, sink, workers=1) == (240, 1)

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        on_dask = tmp_path / "dask.jsonl"
        with on_dask.open("w", encoding="utf-8") as sink:
            counts = decide_jsonl_on_dask(client, policy, source, sink, partition=32, window=3)
        workers_used = client.run(lambda: 1)
        from_cli = tmp_path / "cli.jsonl"
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
        done = subprocess.run([sys.executable, "-m", "claimrules.cli", "batch", str(source), "-o", str(from_cli),
                               "--policy", str(POLICY), "--dask", cluster.scheduler_address],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "240 records written" in done.stderr and "1 bad line(s)" in done.stderr
        assert from_cli.read_bytes() == single.read_bytes()
    assert counts == (240, 1)
    assert len(workers_used) == 2
    assert on_dask.read_bytes() == single.read_bytes()
    assert json.loads(on_dask.read_text(encoding="utf-8").splitlines()[100])["line"] == 101
